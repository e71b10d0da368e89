/* Giving freed memory back to the system, for a node that runs all day.
 *
 * A contest node allocates from many threads: every station's streaming
 * and decoder threads, the encoders, the outputs. glibc gives threads
 * their own malloc arenas, and an arena only returns memory to the kernel
 * from its top. When a feed, the CDN or Redis goes away and comes back,
 * pipelines are torn down and rebuilt: their memory is freed, but freed
 * in the middle of arenas, and the next pipeline's threads may be served
 * from other arenas. The node's resident size then climbs in steps at
 * every fault, with no leak (LeakSanitizer finds none) — what a 2-hour
 * soak showed (docs/reliability.md).
 *
 * Two things keep it flat:
 *  - fewer arenas (`M_ARENA_MAX`), so freed memory is found again by the
 *    next pipeline's threads; set before any thread starts;
 *  - `malloc_trim(0)` once a minute on a thread of its own, which hands
 *    whole free pages inside every arena back to the kernel
 *    (madvise(MADV_DONTNEED)); it costs milliseconds and only locks one
 *    arena at a time.
 *
 * MALLOC_ARENA_MAX in the environment still wins over our default, for
 * an operator who wants to measure otherwise.
 */
#include "app/app.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SC_MEMORY_ARENAS 4
#define SC_MEMORY_TRIM_INTERVAL_S 60

static struct {
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stop;
  guint interval_s;
  /* Figures for /metrics (under lock). */
  guint64 trims;
  guint64 released_bytes;
  guint64 trim_us;
} keeper;

void
sc_memory_init (void)
{
  if (!g_getenv ("MALLOC_ARENA_MAX"))
    mallopt (M_ARENA_MAX, SC_MEMORY_ARENAS);
}

static gint64
resident_bytes (void)
{
  long pages = 0, resident = 0;
  FILE *f = fopen ("/proc/self/statm", "r");
  if (!f)
    return 0;
  if (fscanf (f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  fclose (f);
  return (gint64) resident * sysconf (_SC_PAGESIZE);
}

/* One trim, measured. Returns the bytes the resident size went down by. */
static guint64
trim_once (void)
{
  gint64 before = resident_bytes ();
  gint64 t0 = g_get_monotonic_time ();
  malloc_trim (0);
  gint64 took = g_get_monotonic_time () - t0;
  gint64 after = resident_bytes ();
  guint64 released = before > after ? (guint64) (before - after) : 0;
  g_mutex_lock (&keeper.lock);
  keeper.trims++;
  keeper.released_bytes += released;
  keeper.trim_us += (guint64) took;
  g_mutex_unlock (&keeper.lock);
  GST_DEBUG ("malloc_trim: %" G_GINT64_FORMAT " us, %" G_GUINT64_FORMAT " KiB released", took,
             released / 1024);
  return released;
}

static gpointer
keeper_main (gpointer data)
{
  (void) data;
  g_mutex_lock (&keeper.lock);
  while (!keeper.stop) {
    gint64 until = g_get_monotonic_time () + (gint64) keeper.interval_s * G_USEC_PER_SEC;
    while (!keeper.stop && g_cond_wait_until (&keeper.cond, &keeper.lock, until))
      ;
    if (keeper.stop)
      break;
    g_mutex_unlock (&keeper.lock);
    trim_once ();
    g_mutex_lock (&keeper.lock);
  }
  g_mutex_unlock (&keeper.lock);
  return NULL;
}

void
sc_memory_keeper_start (void)
{
  if (keeper.thread)
    return;
  const char *env = g_getenv ("SKILLCAST_TRIM_INTERVAL_S");
  keeper.interval_s = env && atoi (env) > 0 ? (guint) atoi (env) : SC_MEMORY_TRIM_INTERVAL_S;
  if (env && !strcmp (env, "0"))
    return; /* switched off, to measure without it */
  keeper.stop = FALSE;
  keeper.thread = g_thread_new ("sc-memory", keeper_main, NULL);
}

void
sc_memory_keeper_stop (void)
{
  if (!keeper.thread)
    return;
  g_mutex_lock (&keeper.lock);
  keeper.stop = TRUE;
  g_cond_signal (&keeper.cond);
  g_mutex_unlock (&keeper.lock);
  g_thread_join (keeper.thread);
  keeper.thread = NULL;
}

void
sc_memory_metrics (GString *out)
{
  g_mutex_lock (&keeper.lock);
  guint64 trims = keeper.trims, released = keeper.released_bytes, us = keeper.trim_us;
  g_mutex_unlock (&keeper.lock);
  g_string_append_printf (out,
                          "# HELP skillcast_malloc_trims_total Times freed memory was handed "
                          "back to the system (malloc_trim).\n"
                          "# TYPE skillcast_malloc_trims_total counter\n"
                          "skillcast_malloc_trims_total %" G_GUINT64_FORMAT "\n"
                          "# HELP skillcast_malloc_trim_released_bytes_total Resident bytes "
                          "those trims gave back.\n"
                          "# TYPE skillcast_malloc_trim_released_bytes_total counter\n"
                          "skillcast_malloc_trim_released_bytes_total %" G_GUINT64_FORMAT "\n"
                          "# HELP skillcast_malloc_trim_seconds_total Time spent trimming.\n"
                          "# TYPE skillcast_malloc_trim_seconds_total counter\n"
                          "skillcast_malloc_trim_seconds_total %.6f\n",
                          trims, released, us / 1e6);
}
