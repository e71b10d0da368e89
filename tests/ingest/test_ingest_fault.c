/* Fault test: one UDP station, its pusher killed and restarted 50 times
 * with fast timing (up ~1.5 s, down ~0.7 s). Every cycle must go lost and
 * come back live (never stuck), memory must stay flat, and the whole run
 * must finish (no deadlock) well inside the ctest timeout. */
#include "tests/ingest/ingest_testutil.h"

#include <signal.h>
#include <unistd.h>

#define CYCLES 50

static void
test_udp_kill_restart (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = sc_test_tmpdir ();
  g_autofree char *log = g_build_filename (dir, "push.log", NULL);
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  int cycles = CYCLES;
  if (g_getenv ("SC_FAULT_CYCLES"))
    cycles = atoi (g_getenv ("SC_FAULT_CYCLES"));

  assert_true (sut_new (&s, "F1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);

  long rss5 = 0, rss_end = 0;
  int worst_live = 0, worst_lost = 0, total_live = 0, total_lost = 0;
  int stuck = 0;
  gint64 t_start = g_get_monotonic_time ();
  for (int c = 1; c <= cycles; c++) {
    GPid pusher = push_feed ("320x180", "mpegts", push, NULL, log);
    int live_ms = wait_state (&s, SC_INGEST_LIVE, 3000);
    if (live_ms < 0) {
      stuck++;
      g_print ("  cycle %d: NOT live within 3 s\n", c);
    } else {
      worst_live = MAX (worst_live, live_ms);
      total_live += live_ms;
      /* Stay up for the rest of ~1.5 s, pulling like the mixer does. */
      gint64 up_until = g_get_monotonic_time () + (1500 - MIN (live_ms, 1400)) * 1000;
      while (g_get_monotonic_time () < up_until) {
        GstBuffer *b = sc_ingest_pull_video (s.ingest, NULL, NULL);
        if (b)
          gst_buffer_unref (b);
        gint16 pcm[1600 * 2];
        sc_ingest_pull_audio (s.ingest, pcm, 1600);
        spin_ms (33);
      }
    }
    stop_feed (pusher);
    int lost_ms = wait_state (&s, SC_INGEST_LOST, 2000);
    if (lost_ms < 0) {
      stuck++;
      g_print ("  cycle %d: NOT lost within 2 s\n", c);
    } else {
      worst_lost = MAX (worst_lost, lost_ms);
      total_lost += lost_ms;
    }
    /* Down for ~0.7 s in all. */
    spin_ms (MAX (0, 700 - MAX (lost_ms, 0)));
    if (c == 5)
      rss5 = sc_test_rss_kib (getpid ());
  }
  rss_end = sc_test_rss_kib (getpid ());
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  %d cycles in %.1f s: live after %d ms avg / %d ms worst, lost after %d ms avg / %d "
           "ms worst, reconnects %u\n",
           cycles, (g_get_monotonic_time () - t_start) / 1e6, total_live / MAX (cycles, 1),
           worst_live, total_lost / MAX (cycles, 1), worst_lost, st.reconnects);
  g_print ("  RSS after cycle 5: %ld KiB, after cycle %d: %ld KiB (%+ld KiB)\n", rss5, cycles,
           rss_end, rss_end - rss5);
  assert_int_equal (stuck, 0);
  assert_true (worst_lost <= 1000);
  if (cycles >= 5 && !sc_test_sanitized ()) /* ASan's quarantine grows the RSS by design */
    assert_true (rss_end - rss5 < 20 * 1024);
  assert_true (st.reconnects >= (guint) cycles - 1);

  gint64 t0 = g_get_monotonic_time ();
  sut_free (&s);
  g_print ("  free took %.0f ms\n", (g_get_monotonic_time () - t0) / 1000.0);
  sc_test_rmrf (dir);
}

int
main (void)
{
  gst_init (NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (test_udp_kill_restart, stop_all_feeds),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
