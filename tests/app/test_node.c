/* A contest node and a relay node as an operator runs them: real
 * redis-server, `skillcast run` with test stations and an HLS output,
 * `skillcast score` from the judges' side, `skillcast relay` following the
 * same stream. Checked from the outside: ffprobe on the HLS, the HTTP API,
 * clean exit on SIGTERM with #EXT-X-ENDLIST. */
#include "tests/lib/testlib.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static JsonNode *
get_json (int port, const char *path)
{
  char *body = NULL;
  int status = sc_test_http_get (port, path, &body);
  JsonNode *root = NULL;
  if (status == 200 && body)
    root = json_from_string (body, NULL);
  g_free (body);
  return root;
}

/* The `score` of station ID in /api/state, or NAN. */
static double
state_score (int port, const char *id, char **snapshot_id)
{
  double v = NAN;
  JsonNode *root = get_json (port, "/api/state");
  if (!root)
    return v;
  JsonObject *o = json_node_get_object (root);
  if (snapshot_id)
    *snapshot_id = g_strdup (json_object_get_string_member_with_default (o, "id", ""));
  JsonArray *st = json_object_get_array_member (o, "stations");
  for (guint i = 0; st && i < json_array_get_length (st); i++) {
    JsonObject *row = json_array_get_object_element (st, i);
    if (!g_strcmp0 (json_object_get_string_member (row, "id"), id)
        && !json_object_get_null_member (row, "score"))
      v = json_object_get_double_member (row, "score");
  }
  json_node_unref (root);
  return v;
}

static int
count_segments (const char *playlist)
{
  char *text = NULL;
  int n = 0;
  if (g_file_get_contents (playlist, &text, NULL, NULL))
    for (const char *p = text; (p = strstr (p, ".ts")); p++)
      n++;
  g_free (text);
  return n;
}

static void
test_run_and_relay (void **state)
{
  ScTestRedis redis;
  assert_true (sc_test_redis_start (&redis, FALSE));
  char *dir = sc_test_tmpdir ();
  int port = sc_test_free_port (), relay_port = sc_test_free_port ();

  g_autofree char *cfg = g_build_filename (dir, "contest.yaml", NULL);
  g_autofree char *yaml = g_strdup_printf (
    "contest:\n  id: t-node\n  title: \"技能天下 · 测试\"\n"
    "redis:\n  url: %s\n"
    "stations:\n"
    "  - { id: A01, name: \"张伟\", org: \"株洲中车\", trade: \"数控车工\", source: \"test://smpte\" }\n"
    "  - { id: A02, name: \"李娜\", source: \"test://ball\" }\n"
    "program:\n  width: 1280\n  height: 720\n  fps: 30\n"
    "  video: { bitrate_kbps: 2000, preset: ultrafast, keyint_s: 1 }\n"
    "outputs:\n  - { id: hls, type: hls, dir: \"%s/hls\", segment_s: 1 }\n"
    "server:\n  listen: \"127.0.0.1:%d\"\n  operator_token: op-secret\n"
    "  commentator_token: com-secret\n",
    redis.url, dir, port);
  g_file_set_contents (cfg, yaml, -1, NULL);
  g_autofree char *relay_cfg = g_build_filename (dir, "relay.yaml", NULL);
  g_autofree char *relay_yaml = g_strdup_printf (
    "contest:\n  id: t-node\n  title: \"技能天下 · 测试\"\nredis:\n  url: %s\n"
    "server:\n  listen: \"127.0.0.1:%d\"\n",
    redis.url, relay_port);
  g_file_set_contents (relay_cfg, relay_yaml, -1, NULL);

  g_autofree char *log = g_build_filename (dir, "run.log", NULL);
  char *run_argv[] = { (char *) sc_test_skillcast_bin (), "run", cfg, NULL };
  /* The memory keeper (app/memory.c) every second instead of every minute. */
  g_setenv ("SKILLCAST_TRIM_INTERVAL_S", "1", TRUE);
  GPid run = sc_test_spawn (run_argv, log);
  g_unsetenv ("SKILLCAST_TRIM_INTERVAL_S");
  assert_true (run > 0);

  /* Up: /healthz answers 200 once Redis is reachable. */
  char *body = NULL;
  int status = 0;
  for (int i = 0; i < 150 && status != 200; i++) {
    g_free (body);
    status = sc_test_http_get (port, "/healthz", &body);
    if (status != 200)
      g_usleep (100 * 1000);
  }
  assert_int_equal (status, 200);
  g_free (body);

  /* The program reaches the HLS output: 1280x720 H.264 + AAC. */
  g_autofree char *playlist = g_build_filename (dir, "hls", "index.m3u8", NULL);
  gint64 t0 = g_get_monotonic_time ();
  while (count_segments (playlist) < 2 && g_get_monotonic_time () - t0 < 25 * G_USEC_PER_SEC)
    g_usleep (200 * 1000);
  assert_true (count_segments (playlist) >= 2);
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%d/hls/hls/index.m3u8", port);
  char *probe_argv[] = { "ffprobe", "-v", "error", "-show_entries",
                         "stream=codec_type,codec_name,width,height,sample_rate", "-of",
                         "compact", url, NULL };
  char *out = NULL;
  assert_int_equal (sc_test_run (probe_argv, 20000, &out, NULL), 0);
  assert_non_null (strstr (out, "codec_name=h264"));
  assert_non_null (strstr (out, "width=1280|height=720"));
  assert_non_null (strstr (out, "codec_name=aac"));
  assert_non_null (strstr (out, "sample_rate=48000"));
  g_free (out);

  /* A judge's score reaches /api/state. */
  char *score_argv[] = { (char *) sc_test_skillcast_bin (), "score", "--config", cfg, "A01",
                         "87.5", "--judge", "J2", NULL };
  assert_int_equal (sc_test_run (score_argv, 10000, NULL, NULL), 0);
  double v = NAN;
  for (int i = 0; i < 100 && isnan (v); i++) {
    v = state_score (port, "A01", NULL);
    if (isnan (v))
      g_usleep (20 * 1000);
  }
  assert_true (v == 87.5);

  /* A relay node following the same stream has the same state and id. */
  g_autofree char *relay_log = g_build_filename (dir, "relay.log", NULL);
  char *relay_argv[] = { (char *) sc_test_skillcast_bin (), "relay", relay_cfg, NULL };
  GPid relay = sc_test_spawn (relay_argv, relay_log);
  char *rid = NULL, *cid = NULL;
  v = NAN;
  for (int i = 0; i < 100 && isnan (v); i++) {
    g_free (rid);
    rid = NULL;
    v = state_score (relay_port, "A01", &rid);
    if (isnan (v))
      g_usleep (100 * 1000);
  }
  assert_true (v == 87.5);
  state_score (port, "A01", &cid);
  assert_string_equal (rid, cid);
  g_free (rid), g_free (cid);
  /* Relay nodes have no program. */
  assert_int_equal (sc_test_http_get (relay_port, "/api/program", NULL), 404);

  /* Stations are live; the operator changes the layout. */
  JsonNode *stations = get_json (port, "/api/stations");
  assert_non_null (stations);
  g_autofree char *stations_text = json_to_string (stations, FALSE);
  json_node_unref (stations);
  assert_non_null (strstr (stations_text, "\"A02\""));
  assert_non_null (strstr (stations_text, "\"live\""));
  const char *auth[] = { "Authorization: Bearer op-secret", "Content-Type: application/json",
                         NULL };
  const char *req = "{\"id\":\"c1\",\"cmd\":\"layout\",\"args\":{\"name\":\"single\",\"station\":\"A02\"}}";
  char *ack = NULL;
  assert_int_equal (sc_test_http (port, "POST", "/api/control", auth, req, strlen (req), 5000, &ack),
                    200);
  assert_non_null (strstr (ack, "\"ok\":true"));
  g_free (ack);
  JsonNode *program = get_json (port, "/api/program");
  assert_non_null (program);
  assert_string_equal (json_object_get_string_member (json_node_get_object (program), "layout"),
                       "single");
  json_node_unref (program);
  const char *bad_auth[] = { "Authorization: Bearer wrong", NULL };
  assert_int_equal (sc_test_http (port, "POST", "/api/control", bad_auth, req, strlen (req), 5000,
                                  NULL),
                    401);

  /* The node hands freed memory back while it runs, and says so. */
  char *metrics = NULL;
  assert_int_equal (sc_test_http_get (port, "/metrics", &metrics), 200);
  const char *trims = strstr (metrics, "\nskillcast_malloc_trims_total ");
  assert_non_null (trims);
  assert_true (g_ascii_strtoull (trims + strlen ("\nskillcast_malloc_trims_total "), NULL, 10) >= 1);
  assert_non_null (strstr (metrics, "\nskillcast_malloc_trim_released_bytes_total "));
  g_free (metrics);

  /* SIGTERM: clean exit, the playlist is finalized. */
  int st = sc_test_kill (run, SIGTERM, 15000);
  assert_true (WIFEXITED (st));
  assert_int_equal (WEXITSTATUS (st), 0);
  char *text = NULL;
  assert_true (g_file_get_contents (playlist, &text, NULL, NULL));
  assert_non_null (strstr (text, "#EXT-X-ENDLIST"));
  g_free (text);
  st = sc_test_kill (relay, SIGTERM, 10000);
  assert_true (WIFEXITED (st) && WEXITSTATUS (st) == 0);

  sc_test_redis_stop (&redis);
  sc_test_rmrf (dir);
  g_free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_run_and_relay),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
