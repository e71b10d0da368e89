/* relay/ without servers or media: what the API reports before anything
 * runs, operator errors, start/stop with nothing to send. Fast; also run
 * under ASan. */
#include "tests/lib/testlib.h"

#include <gst/gst.h>
#include <string.h>

#include "relay/relay.h"
#include "tests/relay/feeder.h"

static void
test_reports_before_start (void **state)
{
  char *tmp = sc_test_tmpdir ();
  char *hls = g_build_filename (tmp, "hls", NULL);
  char *rec = g_build_filename (tmp, "rec", NULL);
  ScOutputConfig oc[] = {
    { .id = "cdn", .type = SC_OUTPUT_RTMP, .url = "rtmp://127.0.0.1:1/live/secret-key" },
    { .id = "srt", .type = SC_OUTPUT_SRT, .url = "srt://127.0.0.1:1?passphrase=0123456789ab" },
    { .id = "hls", .type = SC_OUTPUT_HLS, .dir = hls, .segment_s = 2 },
    { .id = "archive", .type = SC_OUTPUT_RECORD, .dir = rec, .split_min = 30 },
  };
  ScConfig *config = config_with_outputs (oc, G_N_ELEMENTS (oc));
  ScRelay *relay = sc_relay_new (config, NULL, NULL);

  char *json = sc_relay_outputs_json (relay);
  assert_string_equal (
      json,
      "[{\"id\":\"cdn\",\"type\":\"rtmp\",\"state\":\"stopped\",\"bytes\":0,\"reconnects\":0,"
      "\"last_error\":null},{\"id\":\"srt\",\"type\":\"srt\",\"state\":\"stopped\",\"bytes\":0,"
      "\"reconnects\":0,\"last_error\":null},{\"id\":\"hls\",\"type\":\"hls\",\"state\":"
      "\"stopped\",\"bytes\":0,\"reconnects\":0,\"last_error\":null},{\"id\":\"archive\","
      "\"type\":\"record\",\"state\":\"stopped\",\"bytes\":0,\"reconnects\":0,\"last_error\":"
      "null}]");
  g_free (json);

  GString *m = g_string_new (NULL);
  sc_relay_metrics (relay, m);
  assert_non_null (strstr (m->str, "# HELP skillcast_output_up "));
  assert_non_null (strstr (m->str, "# TYPE skillcast_output_reconnects_total counter\n"));
  assert_non_null (strstr (m->str, "# TYPE skillcast_output_bytes_total counter\n"));
  assert_non_null (strstr (m->str, "skillcast_output_up{output=\"archive\"} 0\n"));
  assert_non_null (strstr (m->str, "skillcast_output_bytes_total{output=\"srt\"} 0\n"));
  assert_null (strstr (m->str, "secret"));
  g_string_free (m, TRUE);

  assert_string_equal (sc_relay_hls_dir (relay, "hls"), hls);
  assert_null (sc_relay_hls_dir (relay, "cdn"));
  assert_null (sc_relay_hls_dir (relay, "zzz"));

  GError *error = NULL;
  assert_false (sc_relay_output_action (relay, "zzz", "stop", &error));
  assert_true (g_error_matches (error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID));
  assert_string_equal (error->message, "unknown output zzz");
  g_clear_error (&error);
  assert_false (sc_relay_output_action (relay, "cdn", "restart", &error));
  assert_non_null (strstr (error->message, "restart"));
  g_clear_error (&error);
  /* Stopping what never ran is fine and writes nothing. */
  assert_true (sc_relay_output_action (relay, "hls", "stop", &error));
  sc_relay_stop (relay);
  assert_false (g_file_test (hls, G_FILE_TEST_EXISTS));
  assert_false (g_file_test (rec, G_FILE_TEST_EXISTS));

  assert_string_equal (sc_output_state_to_string (SC_OUTPUT_RECONNECTING), "reconnecting");
  assert_string_equal (sc_output_state_to_string (SC_OUTPUT_ERROR), "error");

  sc_relay_free (relay);
  config_free (config);
  sc_test_rmrf (tmp);
  g_free (tmp);
  g_free (hls);
  g_free (rec);
}

/* Started without caps (no mixer yet): nothing is built, nothing blocks,
 * and it stops and frees cleanly. */
static void
test_start_without_caps (void **state)
{
  char *tmp = sc_test_tmpdir ();
  char *hls = g_build_filename (tmp, "hls", NULL);
  ScOutputConfig oc[] = { { .id = "hls", .type = SC_OUTPUT_HLS, .dir = hls, .segment_s = 2 } };
  ScConfig *config = config_with_outputs (oc, 1);
  ScRelay *relay = sc_relay_new (config, NULL, NULL);
  sc_relay_start (relay);
  loop_for (700);
  assert_int_equal (output_bytes_of (relay, "hls"), 0);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 100, NULL);
  GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = GST_SECOND;
  sc_relay_push (relay, buf, TRUE); /* no pipeline yet: dropped */
  sc_relay_push (relay, buf, FALSE);
  gst_buffer_unref (buf);
  sc_relay_stop (relay);
  char *st = output_state (relay, "hls");
  assert_string_equal (st, "stopped");
  g_free (st);
  sc_relay_free (relay);
  config_free (config);
  sc_test_rmrf (tmp);
  g_free (tmp);
  g_free (hls);
}

int
main (void)
{
  gst_init (NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_reports_before_start),
    cmocka_unit_test (test_start_without_caps),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
