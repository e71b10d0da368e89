/* bench_config — how long loading a config takes: the contest-day example
 * (8 stations, 4 outputs) and a generated file with 1000 stations and 100
 * outputs. Loading happens once at start-up, so the bar is low (well under
 * a millisecond for a real file); this is here to catch a quadratic
 * surprise, not to tune.
 *
 *   bench_config CONTEST_DAY_YAML [ROUNDS]
 */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

static double
time_loads(const char *name, const char *yaml, int rounds)
{
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < rounds; i++) {
    GError *error = NULL;
    ScConfig *c = sc_config_load_string(name, yaml, -1, SC_CONFIG_FOR_RUN, &error);
    if (!c) {
      fprintf(stderr, "bench_config: %s\n", error->message);
      exit(1);
    }
    sc_config_free(c);
  }
  return (double)(g_get_monotonic_time() - t0) / rounds;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: bench_config CONTEST_DAY_YAML [ROUNDS]\n");
    return 2;
  }
  int rounds = argc > 2 ? atoi(argv[2]) : 2000;
  if (rounds < 1)
    rounds = 1;

  /* The example reads its secrets from the environment. */
  const char *vars[] = { "REDIS_PASSWORD", "CDN_KEY", "CDN_SRT_ID", "SKILLCAST_OPERATOR_TOKEN",
                         "SKILLCAST_COMMENTATOR_TOKEN" };
  for (guint i = 0; i < G_N_ELEMENTS(vars); i++)
    g_setenv(vars[i], "bench-secret-value", TRUE);
  for (int i = 1; i <= 8; i++) {
    g_autofree char *name = g_strdup_printf("SRT_A%02d_PASS", i);
    g_setenv(name, "bench-passphrase", TRUE);
  }

  g_autofree char *day = NULL;
  if (!g_file_get_contents(argv[1], &day, NULL, NULL)) {
    fprintf(stderr, "bench_config: cannot read %s\n", argv[1]);
    return 1;
  }

  GString *big = g_string_new("contest: {id: big, title: \"大\"}\n"
                              "redis: {url: \"redis://127.0.0.1:6379/0\"}\nstations:\n");
  for (int i = 0; i < 1000; i++)
    g_string_append_printf(big,
                           "  - { id: S%04d, name: \"选手%d\", org: \"单位\", trade: \"数控车工\", "
                           "source: \"srt://:%d?passphrase=${SRT_A01_PASS}\" }\n",
                           i, i, 10000 + i);
  g_string_append(big, "outputs:\n");
  for (int i = 0; i < 100; i++)
    g_string_append_printf(big, "  - { id: rec%d, type: record, dir: /tmp/r%d }\n", i, i);

  double small_us = time_loads("contest-day.yaml", day, rounds);
  double big_us = time_loads("big.yaml", big->str, rounds / 20 + 1);
  printf("%-34s %10s\n", "config", "us/load");
  printf("%-34s %10.1f\n", "contest-day.yaml (8 st, 4 out)", small_us);
  printf("%-34s %10.1f\n", "generated (1000 st, 100 out)", big_us);
  g_string_free(big, TRUE);
  return 0;
}
