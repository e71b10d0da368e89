/* bench_scoreboard — fold throughput and XADD->applied latency of the
 * scoreboard follower against a real redis-server.
 *
 *   bench_scoreboard PORT [ENTRIES] [LATENCY_EVENTS]
 *
 * Fills skillcast:bench:events with ENTRIES entries (pipelined), times a
 * fresh ScScoreboard folding them from 0-0, times the same fold in memory
 * (sc_contest_apply only), then XADDs LATENCY_EVENTS entries one at a time
 * and measures until each is applied. Prints a table. */
#include "scoreboard/scoreboard.h"

#include <gst/gst.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_STATIONS 20

typedef struct {
  guint applied;
  gint64 last_us;
} Count;

static void
on_applied(const char *id, const char *delta, const char *event, gpointer data)
{
  Count *c = data;
  c->applied++;
  c->last_us = g_get_monotonic_time();
}

/* Entry I of the synthetic contest, as argv (static storage per call). */
static int
entry(guint i, const char **argv, char *b1, char *b2, char *b3)
{
  int n = 0;
  g_snprintf(b1, 16, "S%02u", i % N_STATIONS);
  switch (i % 20) {
  case 0:
    g_snprintf(b2, 32, "%u", (i / 20) % 100);
    argv[n++] = "type";
    argv[n++] = "penalty";
    argv[n++] = "station";
    argv[n++] = b1;
    argv[n++] = "points";
    argv[n++] = "0.5";
    argv[n++] = "reason";
    argv[n++] = "安全防护";
    break;
  case 1:
    argv[n++] = "type";
    argv[n++] = "status";
    argv[n++] = "station";
    argv[n++] = b1;
    argv[n++] = "state";
    argv[n++] = "working";
    break;
  case 2:
    g_snprintf(b2, 32, "%u", 3600000 - i);
    argv[n++] = "type";
    argv[n++] = "clock";
    argv[n++] = "state";
    argv[n++] = "running";
    argv[n++] = "remaining_ms";
    argv[n++] = b2;
    break;
  default:
    g_snprintf(b2, 32, "%u.%u", (i * 7) % 100, i % 10);
    g_snprintf(b3, 64, "{\"item\":%u,\"parts\":[1,2,3]}", i % 9);
    argv[n++] = "type";
    argv[n++] = "score";
    argv[n++] = "station";
    argv[n++] = b1;
    argv[n++] = "total";
    argv[n++] = b2;
    argv[n++] = "judge";
    argv[n++] = "J3";
    argv[n++] = "detail";
    argv[n++] = b3;
    break;
  }
  return n;
}

static gint64
cpu_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp_i64(const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

static gboolean
wake(gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
run_until(const guint *count, guint n, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint t = g_timeout_add(timeout_ms, wake, &timed_out);
  while (*count < n && !timed_out)
    g_main_context_iteration(NULL, TRUE);
  if (!timed_out)
    g_source_remove(t);
  return *count >= n;
}

int
main(int argc, char **argv)
{
  gst_init(NULL, NULL);
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT [ENTRIES] [LATENCY_EVENTS]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  guint n = argc > 2 ? (guint)atoi(argv[2]) : 100000;
  guint n_lat = argc > 3 ? (guint)atoi(argv[3]) : 1000;
  const char *key = "skillcast:bench:events";

  redisContext *rc = redisConnect("127.0.0.1", port);
  if (rc == NULL || rc->err) {
    fprintf(stderr, "cannot connect to redis on %d\n", port);
    return 1;
  }
  freeReplyObject(redisCommand(rc, "DEL %s", key));

  /* Fill, pipelined in batches. */
  gint64 t0 = g_get_monotonic_time();
  char b1[16], b2[32], b3[64];
  for (guint i = 0; i < n;) {
    guint batch = MIN(1000u, n - i);
    for (guint j = 0; j < batch; j++) {
      const char *f[16];
      int nf = entry(i + j, f, b1, b2, b3);
      const char *a[19] = { "XADD", key, "*" };
      memcpy(a + 3, f, sizeof(char *) * (gsize)nf);
      redisAppendCommandArgv(rc, nf + 3, a, NULL);
    }
    for (guint j = 0; j < batch; j++) {
      void *r = NULL;
      if (redisGetReply(rc, &r) != REDIS_OK) {
        fprintf(stderr, "XADD failed\n");
        return 1;
      }
      freeReplyObject(r);
    }
    i += batch;
  }
  double fill_s = (g_get_monotonic_time() - t0) / 1e6;

  /* Fold through the follower (XREAD COUNT 1000 batches). */
  ScConfig cfg = { 0 };
  cfg.contest.id = "bench";
  cfg.contest.title = "bench";
  cfg.redis.url = "redis://127.0.0.1";
  cfg.redis.host = "127.0.0.1";
  cfg.redis.port = port;
  Count count = { 0 };
  ScScoreboardCallbacks cb = { on_applied, NULL, &count };
  ScScoreboard *sb = sc_scoreboard_new(&cfg, &cb);
  t0 = g_get_monotonic_time();
  gint64 c0 = cpu_us();
  sc_scoreboard_start(sb);
  if (!run_until(&count.applied, n, 120000)) {
    fprintf(stderr, "fold did not finish: %u of %u\n", count.applied, n);
    return 1;
  }
  double fold_s = (count.last_us - t0) / 1e6;
  double fold_cpu_s = (cpu_us() - c0) / 1e6;

  /* The same fold in memory: parse, rank, JSON, history. */
  ScContest *c = sc_contest_new("bench", "bench", NULL, 0);
  /* CPU time: on a shared machine wall time mostly measures the others. */
  t0 = cpu_us();
  for (guint i = 0; i < n; i++) {
    const char *f[16];
    int nf = entry(i, f, b1, b2, b3);
    char id[32];
    g_snprintf(id, sizeof id, "1-%u", i + 1);
    char *d = NULL, *e = NULL;
    sc_contest_apply(c, id, (char *const *)f, (guint)nf, 0, &d, &e, NULL);
    g_free(d);
    g_free(e);
  }
  double mem_s = (cpu_us() - t0) / 1e6;
  sc_contest_free(c);

  /* Latency: one XADD at a time until applied. */
  gint64 *lat = g_new(gint64, n_lat);
  for (guint i = 0; i < n_lat; i++) {
    guint before = count.applied;
    gint64 s = g_get_monotonic_time();
    redisReply *r = redisCommand(rc, "XADD %s * type score station S01 total %u", key, i);
    freeReplyObject(r);
    if (!run_until(&count.applied, before + 1, 5000)) {
      fprintf(stderr, "event %u not applied\n", i);
      return 1;
    }
    lat[i] = count.last_us - s;
  }
  qsort(lat, n_lat, sizeof *lat, cmp_i64);
  double p50 = lat[n_lat / 2] / 1000.0;
  double p99 = lat[(n_lat * 99) / 100 - (n_lat >= 100 ? 1 : 0)] / 1000.0;
  double pmax = lat[n_lat - 1] / 1000.0;

  printf("%-40s %14s\n", "scoreboard", "value");
  printf("%-40s %14u\n", "stream entries", n);
  printf("%-40s %14.0f\n", "fill, pipelined XADD (entries/s)", n / fill_s);
  printf("%-40s %14.0f\n", "fold via redis XREAD (events/s)", n / fold_s);
  printf("%-40s %14.3f\n", "fold via redis, total (s)", fold_s);
  printf("%-40s %14.0f\n", "fold via redis (events/CPU-s of node)", n / fold_cpu_s);
  printf("%-40s %14.0f\n", "fold in memory (events/CPU-s)", n / mem_s);
  printf("%-40s %14.3f\n", "XADD->applied p50 (ms)", p50);
  printf("%-40s %14.3f\n", "XADD->applied p99 (ms)", p99);
  printf("%-40s %14.3f\n", "XADD->applied max (ms)", pmax);
  printf("%-40s %14u\n", "latency samples", n_lat);

  g_free(lat);
  sc_scoreboard_free(sb);
  freeReplyObject(redisCommand(rc, "DEL %s", key));
  redisFree(rc);
  return 0;
}
