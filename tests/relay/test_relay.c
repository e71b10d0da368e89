/* relay/ against real servers: nginx-rtmp as the CDN, nginx WebDAV as the
 * HLS origin, an SRT listener with another passphrase, ffprobe/ffmpeg to
 * judge what came out. The relay is fed without a mixer, as the mixer
 * would feed it (feeder.c). */
#include "tests/lib/testlib.h"

#include <glib/gstdio.h>
#include <gst/gst.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "relay/relay.h"
#include "tests/relay/feeder.h"

/* What a test started; teardown ends it even when an assertion failed. */
static struct {
  ScRelay *relay;
  RelayFeeder *feeder;
  ScConfig *config;
  ScTestNginx nginx;
  char *tmp;
  GPid child;
} F;

static int
teardown (void **state)
{
  feeder_stop (F.feeder);
  if (F.relay)
    sc_relay_free (F.relay);
  if (F.config)
    config_free (F.config);
  if (F.nginx.dir)
    sc_test_nginx_stop (&F.nginx);
  if (F.child > 0)
    sc_test_kill (F.child, SIGKILL, 2000);
  if (F.tmp) {
    sc_test_rmrf (F.tmp);
    g_free (F.tmp);
  }
  memset (&F, 0, sizeof F);
  return 0;
}

/* A relay with OUTPUTS fed at WIDTHxHEIGHT, caps set, started. */
static ScRelay *
start_relay (const ScOutputConfig *outputs, guint n, int width, int height)
{
  F.config = config_with_outputs (outputs, n);
  F.relay = sc_relay_new (F.config, NULL, NULL);
  F.feeder = feeder_start (F.relay, width, height);
  assert_true (feeder_wait_caps (F.feeder, 10000));
  sc_relay_start (F.relay);
  return F.relay;
}

typedef struct {
  ScRelay *relay;
  const char *id;
  const char *state;
  gint64 min_bytes;
} StateWait;

static gboolean
state_is (gpointer data)
{
  StateWait *w = data;
  char *s = output_state (w->relay, w->id);
  gboolean ok = g_strcmp0 (s, w->state) == 0 && output_bytes_of (w->relay, w->id) >= w->min_bytes;
  g_free (s);
  return ok;
}

static gboolean
wait_state (ScRelay *relay, const char *id, const char *state, int timeout_ms)
{
  StateWait w = { relay, id, state, 0 };
  return loop_until (state_is, &w, timeout_ms);
}

static gboolean
wait_running_bytes (ScRelay *relay, const char *id, gint64 min_bytes, int timeout_ms)
{
  StateWait w = { relay, id, "running", min_bytes };
  return loop_until (state_is, &w, timeout_ms);
}

static gboolean
file_has_segment (gpointer path)
{
  char *s = NULL;
  gboolean ok = g_file_get_contents (path, &s, NULL, NULL) && strstr (s, ".ts\n");
  g_free (s);
  return ok;
}

static char *
read_file (const char *path)
{
  char *s = NULL;
  g_file_get_contents (path, &s, NULL, NULL);
  return s;
}

/* Segment names listed in a playlist. */
static char **
playlist_segments (const char *m3u8)
{
  GPtrArray *a = g_ptr_array_new ();
  char **lines = g_strsplit (m3u8 ? m3u8 : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && **l != '#')
      g_ptr_array_add (a, g_strdup (*l));
  g_strfreev (lines);
  g_ptr_array_add (a, NULL);
  return (char **)g_ptr_array_free (a, FALSE);
}

/* (1) rtmp to nginx-rtmp: the CDN gets h264 + aac. */
static void
test_rtmp (void **state)
{
  assert_true (sc_test_nginx_start (&F.nginx, "application live { live on; }", NULL));
  char *url = g_strdup_printf ("rtmp://127.0.0.1:%d/live/key", F.nginx.rtmp_port);
  ScOutputConfig oc[] = { { .id = "cdn", .type = SC_OUTPUT_RTMP, .url = url } };
  ScRelay *relay = start_relay (oc, 1, 640, 360);
  assert_true (wait_running_bytes (relay, "cdn", 50000, 20000));
  loop_for (1000);

  int w = 0, h = 0;
  char *report = NULL;
  gboolean ok = probe_h264_aac (url, &w, &h, &report);
  if (!ok)
    print_message ("%s\n", report);
  assert_true (ok);
  assert_int_equal (w, 640);
  assert_int_equal (h, 360);
  g_free (report);

  char *st = output_state (relay, "cdn");
  assert_string_equal (st, "running");
  g_free (st);
  assert_true (output_bytes_of (relay, "cdn") > 100000);

  char *json = sc_relay_outputs_json (relay);
  assert_non_null (strstr (json, "\"id\":\"cdn\""));
  assert_non_null (strstr (json, "\"type\":\"rtmp\""));
  assert_non_null (strstr (json, "\"last_error\":null"));
  g_free (json);
  GString *m = g_string_new (NULL);
  sc_relay_metrics (relay, m);
  assert_non_null (strstr (m->str, "# TYPE skillcast_output_up gauge"));
  assert_non_null (strstr (m->str, "skillcast_output_up{output=\"cdn\"} 1\n"));
  assert_non_null (strstr (m->str, "skillcast_output_reconnects_total{output=\"cdn\"} 0\n"));
  assert_non_null (strstr (m->str, "skillcast_output_bytes_total{output=\"cdn\"} "));
  g_string_free (m, TRUE);

  gint64 t0 = g_get_monotonic_time ();
  sc_relay_stop (relay);
  assert_true (g_get_monotonic_time () - t0 < 6 * G_USEC_PER_SEC);
  st = output_state (relay, "cdn");
  assert_string_equal (st, "stopped");
  g_free (st);
  assert_true (feeder_slow_pushes (F.feeder) * 200 <= feeder_pushes (F.feeder));
  g_free (url);
}

/* (2) hls with upload to a WebDAV origin. */
static void
test_hls_upload (void **state)
{
  assert_true (sc_test_nginx_start (&F.nginx, NULL,
                                    "location / { root @DIR@/www; dav_methods PUT DELETE; "
                                    "create_full_put_path on; client_max_body_size 100m; }"));
  char *www = g_build_filename (F.nginx.dir, "www", NULL);
  g_mkdir_with_parents (www, 0755);
  F.tmp = sc_test_tmpdir ();
  char *dir = g_build_filename (F.tmp, "hls", NULL);
  char *upload = g_strdup_printf ("http://127.0.0.1:%d/live/prog/", F.nginx.http_port);
  ScOutputConfig oc[]
      = { { .id = "hls", .type = SC_OUTPUT_HLS, .dir = dir, .segment_s = 2, .upload = upload } };
  /* 720p at 15 fps (still a keyframe every 2 s): half the encoding work
   * of the feeder on a shared 2-core machine. */
  F.config = config_with_outputs (oc, 1);
  ScRelay *relay = F.relay = sc_relay_new (F.config, NULL, NULL);
  F.feeder = feeder_start_full (relay, 1280, 720, 15, FALSE);
  assert_true (feeder_wait_caps (F.feeder, 10000));
  sc_relay_start (relay);
  assert_string_equal (sc_relay_hls_dir (relay, "hls"), dir);
  assert_null (sc_relay_hls_dir (relay, "nope"));

  /* The origin has the playlist and every segment it lists. */
  char *origin_dir = g_build_filename (www, "live", "prog", NULL);
  char *origin_pl = g_build_filename (origin_dir, "index.m3u8", NULL);
  assert_true (loop_until (file_has_segment, origin_pl, 30000));
  loop_for (2500);
  char *pl = read_file (origin_pl);
  assert_non_null (strstr (pl, "#EXTM3U"));
  char **segs = playlist_segments (pl);
  assert_true (g_strv_length (segs) >= 1);
  for (char **s = segs; *s; s++) {
    char *p = g_build_filename (origin_dir, *s, NULL);
    if (!g_file_test (p, G_FILE_TEST_EXISTS))
      print_message ("missing on origin: %s\n", *s);
    assert_true (g_file_test (p, G_FILE_TEST_EXISTS));
    g_free (p);
  }
  g_strfreev (segs);
  g_free (pl);

  char *pl_url = g_strdup_printf ("http://127.0.0.1:%d/live/prog/index.m3u8", F.nginx.http_port);
  int w = 0, h = 0;
  char *report = NULL;
  gboolean ok = probe_h264_aac (pl_url, &w, &h, &report);
  if (!ok)
    print_message ("%s\n", report);
  assert_true (ok);
  assert_int_equal (w, 1280);
  assert_int_equal (h, 720);
  g_free (report);
  g_free (pl_url);

  sc_relay_stop (relay);
  char *local_pl = g_build_filename (dir, "index.m3u8", NULL);
  pl = read_file (local_pl);
  assert_non_null (pl);
  assert_true (g_str_has_suffix (pl, "#EXT-X-ENDLIST\n"));
  g_free (pl);
  /* ... and the origin got the final playlist too. */
  pl = read_file (origin_pl);
  assert_true (pl && g_str_has_suffix (pl, "#EXT-X-ENDLIST\n"));
  g_free (pl);

  g_free (local_pl);
  g_free (origin_pl);
  g_free (origin_dir);
  g_free (upload);
  g_free (dir);
  g_free (www);
}

static char *
find_mp4 (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  char *found = NULL;
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    if (g_str_has_suffix (name, ".mp4") && !found)
      found = g_build_filename (dir, name, NULL);
  if (d)
    g_dir_close (d);
  return found;
}

static void
assert_mp4_plays (const char *path)
{
  const char *argv[] = { "ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-", NULL };
  char *err = NULL;
  int code = run_looping (argv, 30000, NULL, &err);
  if (code != 0 || (err && *err))
    print_message ("ffmpeg %s: exit %d: %s\n", path, code, err ? err : "");
  assert_int_equal (code, 0);
  assert_true (!err || !*err);
  g_free (err);
  /* And it has both streams. */
  const char *pargv[] = { "ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of",
                          "csv=p=0", path, NULL };
  char *out = NULL;
  run_looping (pargv, 20000, &out, NULL);
  assert_non_null (out);
  assert_non_null (strstr (out, "h264"));
  assert_non_null (strstr (out, "aac"));
  g_free (out);
}

/* Child mode: record into DIR until killed. */
static int
record_child (const char *dir)
{
  gst_init (NULL, NULL);
  ScOutputConfig oc[]
      = { { .id = "rec", .type = SC_OUTPUT_RECORD, .dir = (char *)dir, .split_min = 30 } };
  ScConfig *config = config_with_outputs (oc, 1);
  ScRelay *relay = sc_relay_new (config, NULL, NULL);
  RelayFeeder *feeder = feeder_start (relay, 640, 360);
  feeder_wait_caps (feeder, 10000);
  sc_relay_start (relay);
  for (;;)
    loop_for (1000);
  return 0;
}

static gboolean
mp4_big_enough (gpointer dir)
{
  char *mp4 = find_mp4 (dir);
  GStatBuf st;
  gboolean ok = mp4 && g_stat (mp4, &st) == 0 && st.st_size > 100 * 1024;
  g_free (mp4);
  return ok;
}

/* (3) record: a stopped recording plays; so does a SIGKILLed one. */
static void
test_record (void **state)
{
  F.tmp = sc_test_tmpdir ();
  char *dir = g_build_filename (F.tmp, "rec", NULL);
  ScOutputConfig oc[] = { { .id = "rec", .type = SC_OUTPUT_RECORD, .dir = dir, .split_min = 30 } };
  ScRelay *relay = start_relay (oc, 1, 640, 360);
  assert_true (loop_until (mp4_big_enough, dir, 30000));
  assert_true (output_bytes_of (relay, "rec") > 0);
  sc_relay_stop (relay);
  char *mp4 = find_mp4 (dir);
  assert_non_null (mp4);
  assert_true (g_str_has_prefix (strrchr (mp4, '/') + 1, "rec-"));
  assert_mp4_plays (mp4);
  g_free (mp4);

  /* The same in a child process that is killed with SIGKILL. */
  char *kdir = g_build_filename (F.tmp, "killed", NULL);
  char self[4096];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
  assert_true (n > 0);
  self[n] = 0;
  char *argv[] = { self, "--record-child", kdir, NULL };
  char *log = g_build_filename (F.tmp, "child.log", NULL);
  F.child = sc_test_spawn (argv, log);
  assert_true (F.child > 0);
  assert_true (loop_until (mp4_big_enough, kdir, 30000));
  loop_for (700);
  assert_true (sc_test_alive (F.child));
  sc_test_kill (F.child, SIGKILL, 2000);
  F.child = 0;
  mp4 = find_mp4 (kdir);
  assert_non_null (mp4);
  assert_mp4_plays (mp4);
  g_free (mp4);

  g_free (log);
  g_free (kdir);
  g_free (dir);
}

/* (4) srt with the wrong passphrase: error, with a reason. */
static void
test_srt_wrong_passphrase (void **state)
{
  int port = sc_test_free_udp_port ();
  int sink_port = sc_test_free_udp_port ();
  char *listen = g_strdup_printf ("srt://:%d?mode=listener&passphrase=the-right-secret-1", port);
  char *out = g_strdup_printf ("udp://127.0.0.1:%d", sink_port);
  char *argv[] = { "srt-live-transmit", listen, out, NULL };
  F.tmp = sc_test_tmpdir ();
  char *log = g_build_filename (F.tmp, "slt.log", NULL);
  F.child = sc_test_spawn (argv, log);
  assert_true (F.child > 0);
  loop_for (500);

  char *url = g_strdup_printf ("srt://127.0.0.1:%d?mode=caller&passphrase=a-wrong-secret-22", port);
  ScOutputConfig oc[] = { { .id = "srt", .type = SC_OUTPUT_SRT, .url = url } };
  ScRelay *relay = start_relay (oc, 1, 640, 360);
  assert_true (wait_state (relay, "srt", "error", 20000));
  char *err = output_last_error (relay, "srt");
  assert_non_null (err);
  print_message ("srt last_error: %s\n", err);
  assert_non_null (strstr (err, "passphrase"));
  assert_null (strstr (err, "a-wrong-secret")); /* secrets stay out of messages */
  g_free (err);
  /* It keeps trying (and keeps failing) without blocking anybody. */
  loop_for (3000);
  assert_true (output_reconnects_of (relay, "srt") >= 1);
  char *st = output_state (relay, "srt");
  assert_true (g_str_equal (st, "error") || g_str_equal (st, "reconnecting"));
  g_free (st);
  /* The operator's start on a failing output: a try now, still an error. */
  assert_true (sc_relay_output_action (relay, "srt", "start", NULL));
  loop_for (2500);
  st = output_state (relay, "srt");
  assert_string_equal (st, "error");
  g_free (st);
  assert_true (feeder_slow_pushes (F.feeder) * 200 <= feeder_pushes (F.feeder));
  sc_relay_stop (relay);
  g_free (url);
  g_free (listen);
  g_free (out);
  g_free (log);
}

/* (5) operator stop / start; unknown ids and actions. */
static void
test_operator (void **state)
{
  F.tmp = sc_test_tmpdir ();
  char *dir = g_build_filename (F.tmp, "hls", NULL);
  ScOutputConfig oc[] = { { .id = "hls", .type = SC_OUTPUT_HLS, .dir = dir, .segment_s = 1 } };
  F.config = config_with_outputs (oc, 1);
  ScRelay *relay = F.relay = sc_relay_new (F.config, NULL, NULL);
  F.feeder = feeder_start (relay, 320, 240);
  assert_true (feeder_wait_caps (F.feeder, 10000));
  GError *error = NULL;

  assert_false (sc_relay_output_action (relay, "nope", "start", &error));
  assert_true (g_error_matches (error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID));
  assert_non_null (strstr (error->message, "nope"));
  g_clear_error (&error);
  assert_false (sc_relay_output_action (relay, "hls", "explode", &error));
  assert_non_null (strstr (error->message, "explode"));
  g_clear_error (&error);
  char *st = output_state (relay, "hls");
  assert_string_equal (st, "stopped"); /* nothing runs before start */
  g_free (st);

  sc_relay_start (relay);
  char *pl_path = g_build_filename (dir, "index.m3u8", NULL);
  assert_true (loop_until (file_has_segment, pl_path, 30000));
  char *pl = read_file (pl_path);
  assert_null (strstr (pl, "#EXT-X-ENDLIST"));
  g_free (pl);

  assert_true (sc_relay_output_action (relay, "hls", "stop", &error));
  st = output_state (relay, "hls");
  assert_string_equal (st, "stopped");
  g_free (st);
  loop_for (1500);
  pl = read_file (pl_path);
  assert_true (g_str_has_suffix (pl, "#EXT-X-ENDLIST\n"));
  g_free (pl);
  gint64 bytes = output_bytes_of (relay, "hls");
  loop_for (1000);
  assert_true (output_bytes_of (relay, "hls") == bytes); /* really stopped */
  GString *m = g_string_new (NULL);
  sc_relay_metrics (relay, m);
  assert_non_null (strstr (m->str, "skillcast_output_up{output=\"hls\"} 0\n"));
  g_string_free (m, TRUE);

  assert_true (sc_relay_output_action (relay, "hls", "start", &error));
  assert_true (wait_running_bytes (relay, "hls", bytes + 1, 8000));
  /* Numbering goes on after a restart, marked as a discontinuity. */
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  do {
    loop_for (200);
    pl = read_file (pl_path);
    if (!strstr (pl, "#EXT-X-ENDLIST") && strstr (pl, "#EXT-X-DISCONTINUITY"))
      break;
    g_clear_pointer (&pl, g_free);
  } while (g_get_monotonic_time () < end);
  assert_non_null (pl);
  g_free (pl);
  assert_int_equal (output_reconnects_of (relay, "hls"), 0);

  sc_relay_stop (relay);
  pl = read_file (pl_path);
  assert_true (g_str_has_suffix (pl, "#EXT-X-ENDLIST\n"));
  g_free (pl);
  g_free (pl_path);
  g_free (dir);
}

typedef struct {
  GMutex lock;
  GByteArray *data;
  guint chunks, keyframes, bad_keyframes;
  gboolean first_was_key;
} LiveSink;

static void
on_live_ts (GBytes *data, gboolean keyframe, gpointer user_data)
{
  LiveSink *s = user_data;
  gsize len = 0;
  const guint8 *p = g_bytes_get_data (data, &len);
  g_mutex_lock (&s->lock);
  if (s->chunks == 0)
    s->first_was_key = keyframe;
  s->chunks++;
  if (keyframe) {
    s->keyframes++;
    /* A join point starts with a PAT (PID 0, payload unit start). */
    if (len < 188 || p[0] != 0x47 || p[1] != 0x40 || p[2] != 0x00)
      s->bad_keyframes++;
  }
  if (len % 188 != 0)
    s->bad_keyframes++;
  g_byte_array_append (s->data, p, len);
  g_mutex_unlock (&s->lock);
}

/* (6) the live MPEG-TS feed behind /live/program. */
static void
test_live_ts (void **state)
{
  static LiveSink sink;
  g_mutex_init (&sink.lock);
  sink.data = g_byte_array_new ();
  ScRelayCallbacks cb = { .live_ts = on_live_ts, .user_data = &sink };
  F.config = config_with_outputs (NULL, 0);
  ScRelay *relay = F.relay = sc_relay_new (F.config, NULL, &cb);
  F.feeder = feeder_start (relay, 640, 360);
  assert_true (feeder_wait_caps (F.feeder, 10000));
  sc_relay_start (relay);
  loop_for (6500);
  sc_relay_stop (relay);

  g_mutex_lock (&sink.lock);
  print_message ("live ts: %u chunks, %u keyframes, %u bytes\n", sink.chunks, sink.keyframes,
                 sink.data->len);
  assert_true (sink.first_was_key);
  assert_true (sink.keyframes >= 2);
  assert_int_equal (sink.bad_keyframes, 0);
  assert_true (sink.chunks > 60); /* about one per video frame */
  F.tmp = sc_test_tmpdir ();
  char *path = g_build_filename (F.tmp, "live.ts", NULL);
  assert_true (g_file_set_contents (path, (const char *)sink.data->data, sink.data->len, NULL));
  g_mutex_unlock (&sink.lock);
  int w = 0, h = 0;
  char *report = NULL;
  gboolean ok = probe_h264_aac (path, &w, &h, &report);
  if (!ok)
    print_message ("%s\n", report);
  assert_true (ok);
  assert_int_equal (w, 640);
  g_free (report);
  g_free (path);
  g_byte_array_unref (sink.data);
}

/* (7) fed buffer times that are not one timeline (video 1000 h ahead, as
 * x264enc's segment puts them): audio is mapped by arrival, the output
 * still has both streams in step. */
static void
test_foreign_timestamps (void **state)
{
  F.tmp = sc_test_tmpdir ();
  char *dir = g_build_filename (F.tmp, "hls", NULL);
  ScOutputConfig oc[] = { { .id = "hls", .type = SC_OUTPUT_HLS, .dir = dir, .segment_s = 2 } };
  F.config = config_with_outputs (oc, 1);
  F.relay = sc_relay_new (F.config, NULL, NULL);
  F.feeder = feeder_start_full (F.relay, 320, 240, 30, TRUE);
  assert_true (feeder_wait_caps (F.feeder, 10000));
  sc_relay_start (F.relay);
  char *pl_path = g_build_filename (dir, "index.m3u8", NULL);
  assert_true (loop_until (file_has_segment, pl_path, 30000));
  sc_relay_stop (F.relay);
  char *pl = read_file (pl_path);
  char **segs = playlist_segments (pl);
  assert_true (segs[0] != NULL);
  assert_non_null (strstr (pl, "#EXTINF:2.000,"));
  char *seg = g_build_filename (dir, segs[0], NULL);
  const char *argv[]
      = { "ffprobe", "-v", "error", "-show_entries", "stream=codec_name,start_time", "-of",
          "csv=p=0", seg,  NULL };
  char *out = NULL;
  run_looping (argv, 20000, &out, NULL);
  print_message ("%s", out ? out : "(no output)\n");
  /* Both streams, starting close together (arrival times: loose on a
   * loaded machine). */
  double v = -1, a = -1;
  char **lines = g_strsplit (out ? out : "", "\n", -1);
  for (char **l = lines; *l; l++) {
    if (g_str_has_prefix (*l, "h264,"))
      v = g_ascii_strtod (*l + 5, NULL);
    else if (g_str_has_prefix (*l, "aac,"))
      a = g_ascii_strtod (*l + 4, NULL);
  }
  g_strfreev (lines);
  assert_true (v >= 0 && a >= 0);
  assert_true (ABS (v - a) < 0.5);
  g_free (out);
  g_free (seg);
  g_strfreev (segs);
  g_free (pl);
  g_free (pl_path);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  if (argc == 3 && g_str_equal (argv[1], "--record-child"))
    return record_child (argv[2]);
  gst_init (NULL, NULL);
  const struct CMUnitTest all[] = {
    cmocka_unit_test_teardown (test_rtmp, teardown),
    cmocka_unit_test_teardown (test_hls_upload, teardown),
    cmocka_unit_test_teardown (test_record, teardown),
    cmocka_unit_test_teardown (test_srt_wrong_passphrase, teardown),
    cmocka_unit_test_teardown (test_operator, teardown),
    cmocka_unit_test_teardown (test_live_ts, teardown),
    cmocka_unit_test_teardown (test_foreign_timestamps, teardown),
  };
  /* SC_TEST_FILTER=rtmp,hls runs only the tests whose name contains one
   * of the words (ctest runs the file as two halves, in parallel). */
  struct CMUnitTest tests[G_N_ELEMENTS (all)];
  size_t n = 0;
  char **words
      = g_strsplit (g_getenv ("SC_TEST_FILTER") ? g_getenv ("SC_TEST_FILTER") : "", ",", -1);
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++) {
    gboolean match = !words[0];
    for (char **w = words; *w && !match; w++)
      match = strstr (all[i].name, *w) != NULL;
    if (match)
      tests[n++] = all[i];
  }
  g_strfreev (words);
  return _cmocka_run_group_tests ("test_relay", tests, n, NULL, NULL);
}
