/* `skillcast demo` as a new user meets it: nothing running beforehand, the
 * three URLs printed, a playable HLS stream within 20 s, the judges' events
 * moving the scoreboard, Ctrl-C ending it cleanly. */
#include "tests/lib/testlib.h"

#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static char *
snapshot_id (int port, int *n_stations)
{
  char *body = NULL;
  char *id = NULL;
  if (sc_test_http_get (port, "/api/state", &body) == 200) {
    JsonNode *root = json_from_string (body, NULL);
    if (root) {
      JsonObject *o = json_node_get_object (root);
      id = g_strdup (json_object_get_string_member_with_default (o, "id", ""));
      if (n_stations)
        *n_stations = json_array_get_length (json_object_get_array_member (o, "stations"));
      json_node_unref (root);
    }
  }
  g_free (body);
  return id;
}

static void
test_demo (void **state)
{
  char *dir = sc_test_tmpdir ();
  int port = sc_test_free_port ();
  g_autofree char *log = g_build_filename (dir, "demo.log", NULL);
  g_autofree char *port_s = g_strdup_printf ("%d", port);
  char *argv[] = { (char *) sc_test_skillcast_bin (), "demo", "--port", port_s, NULL };
  gint64 t0 = g_get_monotonic_time ();
  GPid demo = sc_test_spawn (argv, log);
  assert_true (demo > 0);

  /* Playable HLS within 20 s of starting. */
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%d/hls/hls/index.m3u8", port);
  char *probe_argv[] = { "ffprobe", "-v", "error", "-show_entries",
                         "stream=codec_name,width,height", "-of", "compact", url, NULL };
  gboolean playable = FALSE;
  while (!playable && g_get_monotonic_time () - t0 < 20 * G_USEC_PER_SEC) {
    char *body = NULL;
    if (sc_test_http_get (port, "/hls/hls/index.m3u8", &body) == 200 && strstr (body, ".ts")) {
      char *out = NULL;
      playable = sc_test_run (probe_argv, 10000, &out, NULL) == 0 && out
                 && strstr (out, "codec_name=h264") && strstr (out, "width=1280");
      g_free (out);
    }
    g_free (body);
    if (!playable)
      g_usleep (250 * 1000);
  }
  print_message ("demo: playable HLS after %.1f s\n",
                 (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
  assert_true (playable);

  /* The URLs with their tokens were printed. */
  char *text = NULL;
  g_file_get_contents (log, &text, NULL, NULL);
  g_autofree char *viewer = g_strdup_printf ("http://127.0.0.1:%d/", port);
  assert_non_null (strstr (text, viewer));
  assert_non_null (strstr (text, "/commentator?token="));
  assert_non_null (strstr (text, "/operator?token="));
  g_free (text);

  /* Four stations, and the judges keep writing. */
  int n = 0;
  char *id1 = snapshot_id (port, &n);
  assert_int_equal (n, 4);
  char *id2 = NULL;
  for (int i = 0; i < 100; i++) {
    g_free (id2);
    id2 = snapshot_id (port, NULL);
    if (id2 && g_strcmp0 (id1, id2))
      break;
    g_usleep (100 * 1000);
  }
  assert_string_not_equal (id1, id2);
  g_free (id1), g_free (id2);

  int st = sc_test_kill (demo, SIGINT, 15000);
  assert_true (WIFEXITED (st));
  assert_int_equal (WEXITSTATUS (st), 0);
  sc_test_rmrf (dir);
  g_free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_demo),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
