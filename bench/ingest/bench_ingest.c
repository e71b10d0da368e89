/* bench_ingest — CPU of one station: a file decoded and scaled to a tile
 * by sc-ingest, as the program would get it.
 *
 *   bench_ingest FILE SECONDS [WIDTH HEIGHT]
 *
 * Plays FILE (file://, at its own rate, as on air) for SECONDS of video or
 * until it ends, pulling a tile every 1/30 s like the mixer, and prints the
 * process CPU time (user + system, from getrusage) with the frame count:
 *   frames=N video_s=S cpu_s=C wall_s=W
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

int
main (int argc, char **argv)
{
  if (argc < 3) {
    fprintf (stderr, "usage: %s FILE SECONDS [WIDTH HEIGHT]\n", argv[0]);
    return 2;
  }
  gst_init (&argc, &argv);
  double secs = atof (argv[2]);
  int w = argc > 4 ? atoi (argv[3]) : 640, h = argc > 4 ? atoi (argv[4]) : 360;
  g_autofree char *abs = g_canonicalize_filename (argv[1], NULL);
  g_autofree char *url = g_strdup_printf ("file://%s", abs);
  ScStationConfig st = { .id = "B1", .source = url, .source_redacted = url,
                         .kind = SC_SOURCE_FILE };
  g_autoptr (GError) error = NULL;
  double cpu0 = cpu_seconds ();
  ScIngest *ingest = sc_ingest_new (&st, 30, NULL, &error);
  if (!ingest) {
    fprintf (stderr, "bench_ingest: %s\n", error->message);
    return 1;
  }
  sc_ingest_set_tile_size (ingest, w, h);
  sc_ingest_start (ingest);

  gint64 t0 = g_get_monotonic_time (), live_at = 0;
  ScIngestStats stats;
  gint16 pcm[1600 * 2];
  for (;;) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    sc_ingest_get_stats (ingest, &stats);
    gint64 now = g_get_monotonic_time ();
    if (stats.state == SC_INGEST_LIVE && !live_at)
      live_at = now;
    if (live_at && (stats.state == SC_INGEST_LOST || now - live_at >= secs * 1e6))
      break;
    if (now - t0 > (secs + 30) * 1e6) {
      fprintf (stderr, "bench_ingest: never went live (%s)\n", stats.last_error);
      return 1;
    }
    GstBuffer *b = sc_ingest_pull_video (ingest, NULL, NULL);
    if (b)
      gst_buffer_unref (b);
    sc_ingest_pull_audio (ingest, pcm, 1600);
    g_usleep (G_USEC_PER_SEC / 30);
  }
  sc_ingest_get_stats (ingest, &stats);
  double wall = (g_get_monotonic_time () - t0) / 1e6;
  sc_ingest_free (ingest);
  double cpu = cpu_seconds () - cpu0;
  printf ("frames=%" G_GUINT64_FORMAT " video_s=%.2f cpu_s=%.2f wall_s=%.2f\n", stats.frames,
          stats.frames / 30.0, cpu, wall);
  return 0;
}
