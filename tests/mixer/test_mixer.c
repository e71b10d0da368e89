/* test_mixer — the program as a viewer sees it: real test:// stations
 * through ingest, the real program thread and the real x264/AAC encoders.
 * Program frames are looked at through the frame probe (what goes into
 * the encoder), encoded packets through a subscriber. */
#include <signal.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <math.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include "tests/lib/testlib.h"
#include "mixer/mixer.h"
#include "mixer/mixer-private.h"

#define W 640
#define H 360
#define FPS 30
#define MAX_POINTS 4
#define HISTORY 512

typedef struct {
  guint8 y, u, v;
} Yuv;

static const Yuv RED = { 81, 90, 240 }, GREEN = { 145, 54, 34 }, BLUE = { 41, 240, 110 },
                 WHITE = { 235, 128, 128 }, BLACK = { 16, 128, 128 };

typedef struct {
  ScConfig config;
  ScStationConfig stations[4];
  ScIngest *ingest[4];
  ScMixer *mixer;
  guint changed;

  GMutex lock; /* guards everything below (probe and sink threads) */
  GstVideoInfo info;
  guint8 *frame; /* copy of the last program frame */
  guint64 frame_n;
  guint64 probed;
  /* Points sampled in every frame, for the fade. */
  int px[MAX_POINTS], py[MAX_POINTS];
  guint n_points;
  Yuv history[HISTORY][MAX_POINTS];
  guint64 history_n[HISTORY];
  guint n_history;
  /* Encoded output. */
  guint video_packets, audio_packets, keyframes;
  GstClockTime keyframe_pts[256];
  guint keyframe_packet[256];
  gboolean bytestream_ok;
  /* Stalls the program thread once (ms), and what it did about it. */
  gint stall_ms;
  guint64 max_jump;
  GstClockTime audio_end;
  guint audio_gaps;
  /* The encoded audio, decoded again, and its loudness. */
  GstElement *adec, *adec_src;
  gboolean adec_caps;
  double mean_square[8];
  guint n_mean_square;
} Fixture;

static Fixture *fx;

static void
on_changed (ScMixer *mixer, gpointer data)
{
  ((Fixture *)data)->changed++;
}

static void
probe (GstBuffer *buffer, guint64 n, gpointer data)
{
  Fixture *f = data;
  GstMapInfo map;
  int stall = g_atomic_int_and (&f->stall_ms, 0);

  if (stall)
    g_usleep (stall * 1000);
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return;
  g_mutex_lock (&f->lock);
  memcpy (f->frame, map.data, MIN (map.size, f->info.size));
  if (f->probed && n - f->frame_n > f->max_jump)
    f->max_jump = n - f->frame_n;
  f->frame_n = n;
  f->probed++;
  if (f->n_points && f->n_history < HISTORY) {
    for (guint i = 0; i < f->n_points; i++) {
      int x = f->px[i], y = f->py[i];
      f->history[f->n_history][i] = (Yuv){
        map.data[f->info.offset[0] + y * f->info.stride[0] + x],
        map.data[f->info.offset[1] + (y / 2) * f->info.stride[1] + x / 2],
        map.data[f->info.offset[2] + (y / 2) * f->info.stride[2] + x / 2],
      };
    }
    f->history_n[f->n_history] = n;
    f->n_history++;
  }
  g_mutex_unlock (&f->lock);
  gst_buffer_unmap (buffer, &map);
}

static void
packet (GstBuffer *buffer, gboolean video, gpointer data)
{
  Fixture *f = data;
  g_mutex_lock (&f->lock);
  if (video) {
    GstMapInfo map;
    if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      /* byte-stream: every access unit starts with a start code */
      if (map.size >= 4 && map.data[0] == 0 && map.data[1] == 0
          && (map.data[2] == 1 || (map.data[2] == 0 && map.data[3] == 1)))
        f->bytestream_ok = TRUE;
      gst_buffer_unmap (buffer, &map);
    }
    if (!GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT) && f->keyframes < 256) {
      f->keyframe_pts[f->keyframes] = GST_BUFFER_PTS (buffer);
      f->keyframe_packet[f->keyframes] = f->video_packets;
      f->keyframes++;
    }
    f->video_packets++;
  } else {
    f->audio_packets++;
    /* AAC frames follow each other exactly; a gap is lost audio. */
    if (f->audio_end != GST_CLOCK_TIME_NONE && f->audio_end != 0
        && GST_BUFFER_PTS (buffer) > f->audio_end + GST_MSECOND)
      f->audio_gaps++;
    f->audio_end = GST_BUFFER_PTS (buffer) + GST_BUFFER_DURATION (buffer);
  }
  g_mutex_unlock (&f->lock);

  if (!video && f->adec_src) {
    if (!f->adec_caps) {
      GstCaps *caps = sc_mixer_audio_caps (f->mixer);
      if (!caps)
        return;
      gst_app_src_set_caps (GST_APP_SRC (f->adec_src), caps);
      gst_caps_unref (caps);
      f->adec_caps = TRUE;
    }
    gst_app_src_push_buffer (GST_APP_SRC (f->adec_src), gst_buffer_ref (buffer));
  }
}

static GstFlowReturn
on_decoded_audio (GstAppSink *sink, gpointer data)
{
  Fixture *f = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstMapInfo map;
  double sum = 0;

  if (!sample)
    return GST_FLOW_OK;
  if (gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ)) {
    const gint16 *pcm = (const gint16 *)map.data;
    gsize n = map.size / 2;
    for (gsize i = 0; i < n; i++)
      sum += (double)pcm[i] * pcm[i];
    g_mutex_lock (&f->lock);
    f->mean_square[f->n_mean_square++ % 8] = n ? sum / n : 0;
    g_mutex_unlock (&f->lock);
    gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

/* RMS of the program audio over the last ~170 ms (8 AAC frames). */
static double
audio_rms (Fixture *f)
{
  double sum = 0;
  g_mutex_lock (&f->lock);
  for (int i = 0; i < 8; i++)
    sum += f->mean_square[i];
  g_mutex_unlock (&f->lock);
  return sqrt (sum / 8);
}

/* appsrc (AAC raw) -> aacparse -> avdec_aac -> S16LE -> appsink. */
static void
start_audio_decoder (Fixture *f)
{
  GstElement *parse, *dec, *conv, *caps, *sink;
  GstAppSinkCallbacks cbs = { .new_sample = on_decoded_audio };
  GstCaps *c = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", NULL);

  f->adec = gst_pipeline_new ("test-audio-decode");
  f->adec_src = gst_element_factory_make ("appsrc", NULL);
  parse = gst_element_factory_make ("aacparse", NULL);
  dec = gst_element_factory_make ("avdec_aac", NULL);
  conv = gst_element_factory_make ("audioconvert", NULL);
  caps = gst_element_factory_make ("capsfilter", NULL);
  sink = gst_element_factory_make ("appsink", NULL);
  g_object_set (f->adec_src, "format", GST_FORMAT_TIME, NULL);
  g_object_set (caps, "caps", c, NULL);
  gst_caps_unref (c);
  g_object_set (sink, "sync", FALSE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cbs, f, NULL);
  gst_bin_add_many (GST_BIN (f->adec), f->adec_src, parse, dec, conv, caps, sink, NULL);
  gst_element_link_many (f->adec_src, parse, dec, conv, caps, sink, NULL);
  gst_element_set_state (f->adec, GST_STATE_PLAYING);
}

static Yuv
pixel (Fixture *f, int x, int y)
{
  Yuv c;
  g_mutex_lock (&f->lock);
  c.y = f->frame[f->info.offset[0] + y * f->info.stride[0] + x];
  c.u = f->frame[f->info.offset[1] + (y / 2) * f->info.stride[1] + x / 2];
  c.v = f->frame[f->info.offset[2] + (y / 2) * f->info.stride[2] + x / 2];
  g_mutex_unlock (&f->lock);
  return c;
}

static int
distance2 (Yuv a, Yuv b)
{
  return (a.y - b.y) * (a.y - b.y) + (a.u - b.u) * (a.u - b.u) + (a.v - b.v) * (a.v - b.v);
}

/* A is the colour B: B is the closest of the test colours and close. The
 * references are BT.601; ingest may convert with BT.709 (red 63/102/240),
 * which is still nearest to the same colour and within the margin. */
static gboolean
near (Yuv a, Yuv b)
{
  const Yuv palette[] = { RED, GREEN, BLUE, WHITE, BLACK };
  int d = distance2 (a, b);
  for (guint i = 0; i < G_N_ELEMENTS (palette); i++)
    if (distance2 (a, palette[i]) < d)
      return FALSE;
  return d < 40 * 40;
}

static gboolean
same (Yuv a, Yuv b)
{
  return ABS (a.y - b.y) <= 2 && ABS (a.u - b.u) <= 2 && ABS (a.v - b.v) <= 2;
}

/* Runs the main loop for MS milliseconds. */
static void
spin (int ms)
{
  gint64 until = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < until) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (2000);
  }
}

/* Runs the main loop until the program's loudness is within LO..HI (at
 * most TIMEOUT_MS; at least 400 ms, so the last level has left the
 * measuring window) and returns it. On a loaded machine a feed can drop
 * out for a moment: waiting for the level rather than sampling it once
 * tells a real fault (the level never comes) from a hiccup. */
static double
wait_rms (Fixture *f, double lo, double hi, int timeout_ms)
{
  gint64 until = g_get_monotonic_time () + timeout_ms * 1000;
  double rms;
  spin (400);
  do {
    rms = audio_rms (f);
    if (rms >= lo && rms <= hi)
      break;
    spin (50);
  } while (g_get_monotonic_time () < until);
  return rms;
}

typedef struct {
  int x, y;
  Yuv colour;
} Expect;

/* Waits (running the main loop) until every point shows its colour. */
static gboolean
wait_colours (Fixture *f, const Expect *expect, guint n, int timeout_ms)
{
  gint64 until = g_get_monotonic_time () + timeout_ms * 1000;
  while (g_get_monotonic_time () < until) {
    gboolean all = TRUE;
    spin (20);
    for (guint i = 0; i < n && all; i++)
      all = near (pixel (f, expect[i].x, expect[i].y), expect[i].colour);
    if (all)
      return TRUE;
  }
  for (guint i = 0; i < n; i++) {
    Yuv c = pixel (f, expect[i].x, expect[i].y);
    print_message ("  (%d,%d) = %d/%d/%d, expected %d/%d/%d\n", expect[i].x, expect[i].y, c.y, c.u,
                   c.v, expect[i].colour.y, expect[i].colour.u, expect[i].colour.v);
  }
  return FALSE;
}

static void
fill_config (ScConfig *config, ScStationConfig *stations, guint n, const char *const *ids,
             const char *const *sources)
{
  memset (config, 0, sizeof *config);
  config->path = (char *)"<test>";
  config->stations = stations;
  config->n_stations = n;
  for (guint i = 0; i < n; i++) {
    stations[i] = (ScStationConfig){ 0 };
    stations[i].id = (char *)ids[i];
    stations[i].source = stations[i].source_redacted = (char *)sources[i];
    stations[i].kind = g_str_has_prefix (sources[i], "udp:") ? SC_SOURCE_UDP : SC_SOURCE_TEST;
  }
  config->program = (ScProgramConfig){
    .width = W,
    .height = H,
    .fps = FPS,
    .layout = SC_LAYOUT_GRID,
    .video_bitrate_kbps = 1500,
    .video_preset = (char *)"ultrafast",
    .keyint_s = 1,
    .audio_bitrate_kbps = 96,
    .director_auto = TRUE,
    .director_hold_s = 1,
  };
  config->overlay.font = (char *)"Noto Sans CJK SC";
}

static int
group_setup (void **state)
{
  static const char *const ids[] = { "A01", "A02", "A03", "A04" };
  /* A01 has a 440 Hz tone (amplitude 0.1), the others are silent. */
  static const char *const sources[]
      = { "test://red?tone=440", "test://green", "test://blue", "test://white" };
  ScMixerCallbacks callbacks = { on_changed, NULL };
  ScProgramSink sink;
  GError *error = NULL;

  fx = g_new0 (Fixture, 1);
  g_mutex_init (&fx->lock);
  fill_config (&fx->config, fx->stations, 4, ids, sources);
  gst_video_info_set_format (&fx->info, GST_VIDEO_FORMAT_I420, W, H);
  fx->frame = g_malloc0 (fx->info.size);

  for (guint i = 0; i < 4; i++) {
    fx->ingest[i] = sc_ingest_new (&fx->stations[i], FPS, NULL, &error);
    if (!fx->ingest[i]) {
      print_error ("ingest: %s\n", error->message);
      return -1;
    }
  }
  callbacks.user_data = fx;
  fx->mixer = sc_mixer_new (&fx->config, fx->ingest, NULL, &callbacks, &error);
  if (!fx->mixer) {
    print_error ("mixer: %s\n", error->message);
    return -1;
  }
  sc_mixer_set_frame_probe (fx->mixer, probe, fx);
  start_audio_decoder (fx);
  sink = (ScProgramSink){ packet, fx };
  sc_mixer_add_sink (fx->mixer, &sink);
  for (guint i = 0; i < 4; i++)
    sc_ingest_start (fx->ingest[i]);
  if (!sc_mixer_start (fx->mixer, &error)) {
    print_error ("start: %s\n", error->message);
    return -1;
  }
  *state = fx;
  return 0;
}

static int
group_teardown (void **state)
{
  if (!fx)
    return 0;
  if (fx->mixer) {
    sc_mixer_stop (fx->mixer);
    sc_mixer_free (fx->mixer);
  }
  if (fx->adec) {
    gst_element_set_state (fx->adec, GST_STATE_NULL);
    gst_object_unref (fx->adec);
  }
  for (guint i = 0; i < 4; i++) {
    if (fx->ingest[i]) {
      sc_ingest_stop (fx->ingest[i]);
      sc_ingest_free (fx->ingest[i]);
    }
  }
  g_free (fx->frame);
  g_mutex_clear (&fx->lock);
  g_free (fx);
  return 0;
}

static void
set_layout (const char *layout, const char *station, const char *const *pair)
{
  GError *error = NULL;
  gboolean ok = sc_mixer_set_layout (fx->mixer, layout, station, pair, &error);
  if (!ok)
    print_error ("set_layout: %s\n", error->message);
  assert_true (ok);
}

static void
test_grid_shows_every_station (void **state)
{
  const Expect grid[] = {
    { W / 4, H / 4, RED },
    { 3 * W / 4, H / 4, GREEN },
    { W / 4, 3 * H / 4, BLUE },
    { 3 * W / 4, 3 * H / 4, WHITE },
  };
  assert_true (wait_colours (fx, grid, 4, 8000));
}

static void
test_layouts (void **state)
{
  /* single: one station full frame */
  set_layout ("single", "A02", NULL);
  {
    const Expect e[] = { { W / 2, H / 2, GREEN }, { 10, 10, GREEN }, { W - 10, H - 10, GREEN } };
    assert_true (wait_colours (fx, e, 3, 5000));
  }
  /* focus: the big tile top left, the others down the right edge */
  set_layout ("focus", "A03", NULL);
  {
    const Expect e[] = { { W * 3 / 8, H * 3 / 8, BLUE },
                         { W * 7 / 8, H / 8, RED },
                         { W * 7 / 8, H * 3 / 8, GREEN },
                         { W * 7 / 8, H * 5 / 8, WHITE },
                         { W * 3 / 8, H * 7 / 8, BLACK } };
    assert_true (wait_colours (fx, e, 5, 5000));
  }
  /* pip: A01 full frame, the next station (A02) inset bottom right */
  set_layout ("pip", "A01", NULL);
  {
    const Expect e[] = { { W / 4, H / 4, RED }, { W - 32 - 80, H - 18 - 45, GREEN } };
    assert_true (wait_colours (fx, e, 2, 5000));
  }
  /* sbs: two halves, black above and below */
  {
    const char *const pair[] = { "A03", "A04", NULL };
    const Expect e[] = { { W / 4, H / 2, BLUE },
                         { 3 * W / 4, H / 2, WHITE },
                         { W / 2, 20, BLACK },
                         { W / 2, H - 20, BLACK } };
    set_layout ("sbs", NULL, pair);
    assert_true (wait_colours (fx, e, 4, 5000));
  }
  {
    g_auto (GStrv) ids = sc_mixer_on_screen (fx->mixer);
    assert_int_equal (g_strv_length (ids), 2);
    assert_string_equal (ids[0], "A03");
    assert_string_equal (ids[1], "A04");
  }
  set_layout ("grid", NULL, NULL);
  test_grid_shows_every_station (state);
}

static void
test_fade (void **state)
{
  GError *error = NULL;
  guint first = 0, last = 0, between = 0, n_history;
  int prev = -1;
  static Yuv history[HISTORY][MAX_POINTS];
  static guint64 history_n[HISTORY];

  assert_true (sc_mixer_set_transition (fx->mixer, "fade", 500, &error));
  /* Watch the top right quadrant: green (A02) in the grid, red (A01) after. */
  g_mutex_lock (&fx->lock);
  fx->px[0] = 3 * W / 4;
  fx->py[0] = H / 4;
  fx->n_points = 1;
  fx->n_history = 0;
  g_mutex_unlock (&fx->lock);
  spin (200);
  set_layout ("single", "A01", NULL);
  spin (1200);

  /* Copy the samples out: no assertion may fire with the lock held (the
   * probe on the program thread would wait for it forever). */
  g_mutex_lock (&fx->lock);
  fx->n_points = 0;
  n_history = fx->n_history;
  memcpy (history, fx->history, sizeof history);
  memcpy (history_n, fx->history_n, sizeof history_n);
  g_mutex_unlock (&fx->lock);

  /* The picture starts green and ends red (whatever ingest's colour
   * matrix makes of them); FIRST is the last plain green frame, LAST the
   * first plain red one. */
  assert_true (n_history > 30);
  assert_true (near (history[0][0], GREEN) && near (history[n_history - 1][0], RED));
  for (guint i = 0; i < n_history; i++) {
    if (same (history[i][0], history[0][0]))
      first = i;
    if (same (history[i][0], history[n_history - 1][0]) && !last)
      last = i;
  }
  print_message ("  fade: green until frame %" G_GUINT64_FORMAT ", red from %" G_GUINT64_FORMAT
                 "\n",
                 history_n[first], history_n[last]);
  assert_true (first > 0 && last > first);
  /* Every frame in between is a blend, V moving monotonically up. */
  for (guint i = first + 1; i < last; i++) {
    Yuv c = history[i][0];
    assert_true (c.v > history[first][0].v && c.v < history[last][0].v);
    assert_true ((int)c.v >= prev - 2);
    prev = c.v;
    between++;
  }
  /* 500 ms at 30 fps: 15 blended frames, then fully red. Counted in frame
   * numbers from the first blend, so a tick skipped on a starved machine
   * does not change the length of the fade. */
  print_message ("  fade: %u blended frames over %" G_GUINT64_FORMAT " frame times\n", between,
                 history_n[last] - history_n[first + 1]);
  assert_in_range (history_n[last] - history_n[first + 1], 15, 16);
  assert_true (between >= 8);

  assert_true (sc_mixer_set_transition (fx->mixer, "cut", 0, &error));
  set_layout ("grid", NULL, NULL);
  test_grid_shows_every_station (state);
}

static void
test_encoded_output (void **state)
{
  g_autoptr (GstCaps) vcaps = sc_mixer_video_caps (fx->mixer);
  g_autoptr (GstCaps) acaps = sc_mixer_audio_caps (fx->mixer);
  GstStructure *s;
  guint k0, v0, a0, k1, v1, a1, requested_at, keyframe_at;
  guint max_gap = 0;
  gboolean bytestream_ok;
  int rate = 0, channels = 0;

  assert_non_null (vcaps);
  assert_non_null (acaps);
  s = gst_caps_get_structure (vcaps, 0);
  assert_string_equal (gst_structure_get_name (s), "video/x-h264");
  assert_string_equal (gst_structure_get_string (s, "stream-format"), "byte-stream");
  assert_string_equal (gst_structure_get_string (s, "alignment"), "au");
  s = gst_caps_get_structure (acaps, 0);
  assert_string_equal (gst_structure_get_name (s), "audio/mpeg");
  assert_string_equal (gst_structure_get_string (s, "stream-format"), "raw");
  assert_true (gst_structure_get_int (s, "rate", &rate) && rate == 48000);
  assert_true (gst_structure_get_int (s, "channels", &channels) && channels == 2);
  assert_true (gst_structure_has_field (s, "codec_data"));

  /* 2.5 s without changes: a keyframe every second (keyint_s: 1). */
  g_mutex_lock (&fx->lock);
  k0 = fx->keyframes;
  v0 = fx->video_packets;
  a0 = fx->audio_packets;
  g_mutex_unlock (&fx->lock);
  spin (2500);
  /* Read under the lock, assert outside it (a failed assertion jumps out
   * and would leave the packet callback waiting for the lock forever). */
  g_mutex_lock (&fx->lock);
  bytestream_ok = fx->bytestream_ok;
  k1 = fx->keyframes;
  v1 = fx->video_packets;
  a1 = fx->audio_packets;
  /* Counted in frames: x264's key-int-max is a frame count, so a skipped
   * tick on a starved machine stretches the gap in time, not in frames. */
  for (guint i = k0 + 1; i < k1 && i < 256; i++)
    max_gap = MAX (max_gap, fx->keyframe_packet[i] - fx->keyframe_packet[i - 1]);
  g_mutex_unlock (&fx->lock);
  /* ~75 video packets, ~117 AAC frames (48000 / 1024 per second) */
  print_message ("  2.5 s: %u video, %u audio packets, %u keyframes, longest gap %u frames\n",
                 v1 - v0, a1 - a0, k1 - k0, max_gap);
  assert_true (bytestream_ok);
  assert_true (k1 - k0 >= 2);
  assert_true (max_gap <= FPS); /* keyint_s: 1 */
  assert_in_range (v1 - v0, 55, 80);
  assert_in_range (a1 - a0, 95, 130);

  /* An output that just joined asks for a keyframe: it comes at once. */
  spin (400);
  g_mutex_lock (&fx->lock);
  requested_at = fx->video_packets;
  k0 = fx->keyframes;
  g_mutex_unlock (&fx->lock);
  sc_mixer_request_keyframe (fx->mixer);
  spin (300);
  g_mutex_lock (&fx->lock);
  k1 = fx->keyframes;
  keyframe_at = k1 > k0 && k0 < 256 ? fx->keyframe_packet[k0] : G_MAXUINT;
  g_mutex_unlock (&fx->lock);
  assert_true (k1 > k0);
  assert_true (keyframe_at - requested_at <= 5);
}

/* Per-station gain and mute, program mute, and ducking under a focused
 * station, heard in the encoded program audio. */
static void
test_audio (void **state)
{
  GError *error = NULL;
  double full, half, muted, ducked, back;

  /* 0.1 full scale sine: RMS 3277 / sqrt 2 = 2317. Each level is waited
   * for (wait_rms): A01 may drop out for a moment on a loaded machine. */
  full = wait_rms (fx, 2100, 2550, 3000);
  assert_true (full > 2100 && full < 2550);

  assert_true (sc_mixer_set_audio (fx->mixer, "A01", -6, TRUE, FALSE, FALSE, &error));
  half = wait_rms (fx, 0.45 * full, 0.56 * full, 3000);

  assert_true (sc_mixer_set_audio (fx->mixer, "A01", 0, TRUE, TRUE, TRUE, &error));
  muted = wait_rms (fx, 0, 30, 3000);
  assert_true (sc_mixer_set_audio (fx->mixer, "A01", 0, FALSE, FALSE, TRUE, &error));
  wait_rms (fx, 0.9 * full, 1.1 * full, 3000);

  assert_true (sc_mixer_set_audio (fx->mixer, "program", 0, FALSE, TRUE, TRUE, &error));
  assert_true (wait_rms (fx, 0, 30, 3000) < 30);
  assert_true (sc_mixer_set_audio (fx->mixer, "program", 0, FALSE, FALSE, TRUE, &error));

  set_layout ("focus", "A02", NULL);
  ducked = wait_rms (fx, 0.2 * full, 0.3 * full, 3000);
  set_layout ("grid", NULL, NULL);
  back = wait_rms (fx, 0.9 * full, 1.1 * full, 3000);

  print_message ("  audio RMS: full %.0f, -6 dB %.0f, muted %.0f, ducked %.0f, back %.0f\n", full,
                 half, muted, ducked, back);
  assert_true (half / full > 0.45 && half / full < 0.56);
  assert_true (muted < 30);
  assert_true (ducked / full > 0.2 && ducked / full < 0.3); /* -12 dB = 0.25 */
  assert_true (back / full > 0.9 && back / full < 1.1);
  test_grid_shows_every_station (state);
}

/* A tick that runs late (the program thread held up for 150 ms) is
 * counted, the frames already due are skipped rather than burst out, and
 * the audio goes on without a gap. */
static void
test_late_tick_skips (void **state)
{
  guint64 late = 0, f0 = 0, f1 = 0, jump = 0;
  guint gaps = 0;

  /* On a machine busy with other work the program thread can also be
   * starved on its own, which adds late frames of its own to the stall's:
   * up to 3 tries, every one checked the same way. A mixer that bursts or
   * loses audio fails all of them. */
  for (int attempt = 0; attempt < 3; attempt++) {
    guint64 late0 = sc_mixer_late_frames (fx->mixer);
    guint gaps0;

    spin (300);
    g_mutex_lock (&fx->lock);
    fx->max_jump = 0;
    gaps0 = fx->audio_gaps;
    g_mutex_unlock (&fx->lock);
    g_atomic_int_set (&fx->stall_ms, 150);
    spin (300);
    f0 = sc_mixer_frames (fx->mixer);
    spin (1000);
    f1 = sc_mixer_frames (fx->mixer);
    late = sc_mixer_late_frames (fx->mixer) - late0;
    g_mutex_lock (&fx->lock);
    jump = fx->max_jump;
    gaps = fx->audio_gaps - gaps0;
    g_mutex_unlock (&fx->lock);
    print_message ("  150 ms stall: %" G_GUINT64_FORMAT
                   " late, frame numbers jumped by %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                   " frames in the next second, %u audio gaps\n",
                   late, jump, f1 - f0, gaps);
    if (jump >= 4 && jump <= 6 && late >= jump - 1 && late <= jump + 2 && f1 - f0 >= 27
        && f1 - f0 <= 31 && gaps == 0)
      break;
  }
  /* 150 ms = 4.5 frames: the tick after it is 3-4 frames behind, so the
   * frame numbers jump by 4-5 (6 if the machine added a frame), and every
   * skipped frame is counted late (a starved machine may add a few). */
  assert_in_range (jump, 4, 6);
  assert_in_range (late, jump - 1, jump + 2);
  assert_in_range (f1 - f0, 27, 31); /* no burst to catch up */
  assert_int_equal (gaps, 0);
}

static void
test_status_and_director (void **state)
{
  g_autofree char *json = NULL;
  guint changed = fx->changed;

  json = sc_mixer_program_json (fx->mixer);
  print_message ("  %s\n", json);
  assert_non_null (strstr (json, "\"layout\":\"grid\""));
  assert_non_null (strstr (json, "\"stations\":[\"A01\",\"A02\",\"A03\",\"A04\"]"));
  assert_non_null (strstr (json, "\"transition\":{\"type\":\"cut\",\"ms\":0}"));
  assert_non_null (strstr (json, "\"scoreboard\":false"));
  assert_non_null (strstr (json, "\"late_frames\":"));
  assert_true (sc_mixer_fps (fx->mixer) > 25 && sc_mixer_fps (fx->mixer) < 35);

  /* A score for A03: the auto-director focuses it, then goes back. */
  gint64 scored = g_get_monotonic_time (), back = 0;
  sc_mixer_score_event (fx->mixer, "A03");
  g_clear_pointer (&json, g_free);
  json = sc_mixer_program_json (fx->mixer);
  assert_non_null (strstr (json, "\"layout\":\"focus\",\"focus\":\"A03\""));
  assert_true (fx->changed > changed);
  {
    const Expect e[] = { { W * 3 / 8, H * 3 / 8, BLUE } };
    assert_true (wait_colours (fx, e, 1, 3000));
  }
  while (g_get_monotonic_time () - scored < 3 * G_USEC_PER_SEC) {
    spin (20);
    g_clear_pointer (&json, g_free);
    json = sc_mixer_program_json (fx->mixer);
    if (strstr (json, "\"layout\":\"grid\"")) {
      back = g_get_monotonic_time ();
      break;
    }
  }
  /* director_hold_s: 1 */
  assert_true (back > 0);
  assert_in_range ((back - scored) / 1000, 950, 1300);
  test_grid_shows_every_station (state);

  /* An unknown station's score changes nothing. */
  sc_mixer_score_event (fx->mixer, "Z99");
  g_clear_pointer (&json, g_free);
  json = sc_mixer_program_json (fx->mixer);
  assert_non_null (strstr (json, "\"layout\":\"grid\""));

  assert_true (sc_mixer_frames (fx->mixer) > 100);
  print_message ("  %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " late\n",
                 sc_mixer_frames (fx->mixer), sc_mixer_late_frames (fx->mixer));
}

static void
expect_error (gboolean ok, GError **error, const char *message)
{
  assert_false (ok);
  assert_non_null (*error);
  assert_true (g_error_matches (*error, SC_MIXER_ERROR, SC_MIXER_ERROR_INVALID));
  if (g_strcmp0 ((*error)->message, message) != 0)
    print_error ("got \"%s\", expected \"%s\"\n", (*error)->message, message);
  assert_string_equal ((*error)->message, message);
  g_clear_error (error);
}

static void
test_bad_arguments (void **state)
{
  GError *error = NULL;
  ScMixer *m = fx->mixer;
  const char *const three[] = { "A01", "A02", "A03", NULL };
  const char *const twice[] = { "A01", "A01", NULL };
  const char *const unknown[] = { "A01", "A09", NULL };
  g_autofree char *before = sc_mixer_program_json (m);
  g_autofree char *after = NULL;

  expect_error (sc_mixer_set_layout (m, "mosaic", NULL, NULL, &error), &error,
                "unknown layout \"mosaic\" (expected grid, focus, pip, sbs, single)");
  expect_error (sc_mixer_set_layout (m, "focus", "A09", NULL, &error), &error,
                "unknown station A09");
  expect_error (sc_mixer_set_layout (m, "sbs", NULL, three, &error), &error,
                "sbs needs exactly 2 stations, got 3");
  expect_error (sc_mixer_set_layout (m, "sbs", NULL, twice, &error), &error,
                "sbs needs 2 different stations, got A01 twice");
  expect_error (sc_mixer_set_layout (m, "sbs", NULL, unknown, &error), &error,
                "unknown station A09");
  expect_error (sc_mixer_set_transition (m, "wipe", 100, &error), &error,
                "unknown transition \"wipe\" (expected cut, fade)");
  expect_error (sc_mixer_set_transition (m, "fade", 2500, &error), &error,
                "transition ms 2500 out of range (0 to 2000)");
  expect_error (sc_mixer_set_transition (m, "fade", -1, &error), &error,
                "transition ms -1 out of range (0 to 2000)");
  expect_error (sc_mixer_set_audio (m, "A09", 0, TRUE, FALSE, FALSE, &error), &error,
                "unknown station A09");
  expect_error (sc_mixer_set_audio (m, "program", 20, TRUE, FALSE, FALSE, &error), &error,
                "gain_db 20.0 out of range (-60 to 12)");
  expect_error (sc_mixer_set_audio (m, "A01", -61, TRUE, FALSE, FALSE, &error), &error,
                "gain_db -61.0 out of range (-60 to 12)");
  expect_error (sc_mixer_set_audio (m, "commentary", 0, FALSE, TRUE, TRUE, &error), &error,
                "the program has no commentary input (program.audio.commentary)");

  /* Nothing changed by the rejected commands. */
  after = sc_mixer_program_json (m);
  assert_non_null (strstr (after, "\"layout\":\"grid\""));
  assert_non_null (strstr (after, "\"transition\":{\"type\":\"cut\",\"ms\":0}"));
  assert_non_null (strstr (after, "\"commentary\":null}"));

  /* The good ones. */
  assert_true (sc_mixer_set_audio (m, "A02", -6, TRUE, TRUE, TRUE, &error));
  assert_true (sc_mixer_set_audio (m, "program", 3, TRUE, FALSE, TRUE, &error));
  assert_true (sc_mixer_set_audio (m, "A02", 0, TRUE, FALSE, TRUE, &error));
  assert_true (sc_mixer_set_audio (m, "program", 0, TRUE, FALSE, FALSE, &error));
}

/* Pure geometry: tiles are even, inside the picture, and as documented. */
static void
test_layout_geometry (void **state)
{
  ScMixerRect r[SC_MIXER_MAX_TILES];
  const int pair[2] = { 2, 5 };
  guint n;

  n = sc_mixer_layout_tiles (SC_LAYOUT_GRID, 1280, 720, 4, 0, pair, r);
  assert_int_equal (n, 4);
  assert_true (r[3].x == 640 && r[3].y == 360 && r[3].width == 640 && r[3].height == 360);
  n = sc_mixer_layout_tiles (SC_LAYOUT_GRID, 1280, 720, 7, 0, pair, r);
  assert_int_equal (n, 7);
  assert_true (r[0].width == 426 && r[0].height == 240);
  n = sc_mixer_layout_tiles (SC_LAYOUT_GRID, 1280, 720, 20, 0, pair, r);
  assert_int_equal (n, 16);
  assert_true (r[15].width == 320 && r[15].x == 960 && r[15].y == 540);
  n = sc_mixer_layout_tiles (SC_LAYOUT_FOCUS, 1280, 720, 10, 3, pair, r);
  assert_int_equal (n, 8);
  assert_true (r[0].station == 3 && r[0].width == 960 && r[0].height == 540);
  assert_true (r[1].station == 0 && r[1].x == 960 && r[1].y == 0 && r[1].width == 320);
  assert_true (r[5].station == 5 && r[5].x == 0 && r[5].y == 540 && r[5].height == 180);
  n = sc_mixer_layout_tiles (SC_LAYOUT_PIP, 1280, 720, 4, 3, pair, r);
  assert_int_equal (n, 2);
  assert_true (r[1].station == 0 && r[1].x == 1280 - 320 - 64 && r[1].y == 720 - 180 - 36);
  n = sc_mixer_layout_tiles (SC_LAYOUT_SBS, 1280, 720, 6, 0, pair, r);
  assert_true (n == 2 && r[0].station == 2 && r[1].station == 5 && r[1].x == 640 && r[1].y == 180);
  n = sc_mixer_layout_tiles (SC_LAYOUT_SINGLE, 1920, 1080, 3, 1, pair, r);
  assert_true (n == 1 && r[0].station == 1 && r[0].width == 1920);
  for (int layout = 0; layout <= SC_LAYOUT_SINGLE; layout++) {
    n = sc_mixer_layout_tiles ((ScLayout)layout, 1366, 766, 9, 2, pair, r);
    for (guint i = 0; i < n; i++) {
      assert_true (r[i].x % 2 == 0 && r[i].y % 2 == 0 && r[i].width % 2 == 0
                   && r[i].height % 2 == 0);
      assert_true (r[i].x + r[i].width <= 1366 && r[i].y + r[i].height <= 766);
    }
  }
}

static void
test_audio_mix (void **state)
{
  gint16 a[4] = { 10000, -10000, 30000, -30000 };
  gint32 acc[4] = { 0 };
  gint16 out[4];

  assert_int_equal (sc_mixer_gain_q12 (0), 4096);
  assert_in_range (sc_mixer_gain_q12 (-6.0206), 2047, 2049);
  sc_mixer_audio_accumulate (acc, a, 4, 4096);
  sc_mixer_audio_accumulate (acc, a, 4, sc_mixer_gain_q12 (-12));
  sc_mixer_audio_finish (out, acc, 4, 4096);
  assert_in_range (out[0], 12500, 12520);
  assert_int_equal (out[2], 32767); /* saturates instead of wrapping */
  assert_int_equal (out[3], -32768);
}

/* A station with no feed (udp, nothing sent) shows its slate and the
 * program keeps its rate. */
static void
test_no_feed_keeps_rate (void **state)
{
  static const char *ids[] = { "B01", "B02" };
  g_autofree char *udp = g_strdup_printf ("udp://127.0.0.1:%d", sc_test_free_udp_port ());
  const char *sources[] = { "test://blue", udp };
  ScConfig config;
  ScStationConfig stations[2];
  ScIngest *ingest[2] = { NULL, NULL };
  ScMixer *mixer;
  GError *error = NULL;
  guint64 f0, f1, late;
  double fps;
  Fixture *f = g_new0 (Fixture, 1);

  g_mutex_init (&f->lock);
  gst_video_info_set_format (&f->info, GST_VIDEO_FORMAT_I420, 320, 180);
  f->frame = g_malloc0 (f->info.size);

  fill_config (&config, stations, 2, ids, sources);
  config.program.width = 320;
  config.program.height = 180;
  for (int i = 0; i < 2; i++) {
    ingest[i] = sc_ingest_new (&stations[i], FPS, NULL, &error);
    assert_non_null (ingest[i]);
    sc_ingest_start (ingest[i]);
  }
  mixer = sc_mixer_new (&config, ingest, NULL, NULL, &error);
  assert_non_null (mixer);
  sc_mixer_set_frame_probe (mixer, probe, f);
  assert_true (sc_mixer_start (mixer, &error));
  spin (1200);
  /* Up to 3 windows: on a machine busy with other work the program thread
   * can be starved for a moment on its own; a program that waits for the
   * missing feed fails all of them. */
  for (int attempt = 0; attempt < 3; attempt++) {
    guint64 late0 = sc_mixer_late_frames (mixer);
    f0 = sc_mixer_frames (mixer);
    spin (2000);
    f1 = sc_mixer_frames (mixer);
    fps = sc_mixer_fps (mixer);
    late = sc_mixer_late_frames (mixer) - late0;
    print_message ("  no feed: %" G_GUINT64_FORMAT " frames in 2 s, %.1f fps, %" G_GUINT64_FORMAT
                   " late\n",
                   f1 - f0, fps, late);
    if (f1 - f0 >= 52 && f1 - f0 <= 63 && fps > 26 && fps < 33 && late <= 6)
      break;
  }
  assert_in_range (f1 - f0, 52, 63);
  assert_true (fps > 26 && fps < 33);
  assert_true (late <= 6);

  /* B01 live (blue), B02 shows exactly its NO SIGNAL slate. */
  assert_true (near (pixel (f, 80, 45), BLUE));
  {
    g_autoptr (GstBuffer) slate
        = sc_overlay_render_slate (160, 90, config.overlay.font, "B02", "B02");
    GstVideoInfo si;
    GstMapInfo map;
    guint differ = 0;
    assert_non_null (slate);
    gst_video_info_set_format (&si, GST_VIDEO_FORMAT_I420, 160, 90);
    assert_true (gst_buffer_map (slate, &map, GST_MAP_READ));
    g_mutex_lock (&f->lock);
    for (int y = 0; y < 90; y++)
      for (int x = 0; x < 160; x++)
        differ += f->frame[f->info.offset[0] + y * f->info.stride[0] + 160 + x]
                  != map.data[si.offset[0] + y * si.stride[0] + x];
    g_mutex_unlock (&f->lock);
    gst_buffer_unmap (slate, &map);
    assert_int_equal (differ, 0);
  }
  sc_mixer_set_frame_probe (mixer, NULL, NULL);
  sc_mixer_stop (mixer);
  sc_mixer_free (mixer);
  for (int i = 0; i < 2; i++) {
    sc_ingest_stop (ingest[i]);
    sc_ingest_free (ingest[i]);
  }
  g_free (f->frame);
  g_mutex_clear (&f->lock);
  g_free (f);
}

/* Overlay -> program latency: a newly published overlay image is in the
 * first or second program frame after it was published. The stations are
 * solid colours and the clock is hidden, so the program picture changes
 * only when the overlay does. */
typedef struct {
  GMutex lock;
  guint n;
  guint64 frame[256];
  gint64 at[256];
  guint32 hash[256];
} Timeline;

static void
timeline_probe (GstBuffer *buffer, guint64 n, gpointer data)
{
  Timeline *t = data;
  GstMapInfo map;
  guint32 h = 2166136261u;

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return;
  for (gsize i = 0; i < map.size; i += 7)
    h = (h ^ map.data[i]) * 16777619u;
  gst_buffer_unmap (buffer, &map);
  g_mutex_lock (&t->lock);
  if (t->n < 256) {
    t->frame[t->n] = n;
    t->at[t->n] = g_get_monotonic_time ();
    t->hash[t->n] = h;
    t->n++;
  }
  g_mutex_unlock (&t->lock);
}

static void
test_overlay_latency (void **state)
{
  static const char *ids[] = { "C01" };
  const char *sources[] = { "test://red" };
  ScConfig config;
  ScStationConfig stations[1];
  ScIngest *ingest[1];
  ScContest *contest;
  ScOverlay *overlay;
  ScMixer *mixer;
  GError *error = NULL;
  Timeline *t = g_new0 (Timeline, 1);
  g_autofree char *json = NULL;
  gint64 published;
  guint before = 0, changed_at = 0;

  fill_config (&config, stations, 1, ids, sources);
  config.overlay = (ScOverlayConfig){ .font = (char *)"Noto Sans CJK SC",
                                      .scoreboard_visible = TRUE,
                                      .scoreboard_top = 5 };
  contest = sc_contest_new ("latency", "Latency", stations, 1);
  overlay = sc_overlay_new (&config.overlay, W, H, contest);
  ingest[0] = sc_ingest_new (&stations[0], FPS, NULL, &error);
  assert_non_null (ingest[0]);
  sc_ingest_start (ingest[0]);
  mixer = sc_mixer_new (&config, ingest, overlay, NULL, &error);
  assert_non_null (mixer);
  sc_overlay_set_visible (overlay, SC_OVERLAY_CLOCK, FALSE);
  sc_overlay_set_visible (overlay, SC_OVERLAY_LIVE, FALSE);
  sc_overlay_render_now (overlay);
  g_mutex_init (&t->lock);
  assert_true (sc_mixer_start (mixer, &error));
  spin (1500); /* live, settled */

  json = sc_mixer_program_json (mixer);
  assert_non_null (strstr (json, "\"overlays\":{\"scoreboard\":true,\"clock\":false"));

  sc_mixer_set_frame_probe (mixer, timeline_probe, t);
  spin (300);
  sc_overlay_set_visible (overlay, SC_OVERLAY_LIVE, TRUE);
  sc_overlay_render_now (overlay);
  published = sc_overlay_published_at (overlay);
  spin (400);
  sc_mixer_set_frame_probe (mixer, NULL, NULL);

  for (guint i = 0; i < t->n; i++) {
    if (t->at[i] < published)
      before = i;
    else if (t->hash[i] != t->hash[before] && !changed_at)
      changed_at = i;
  }
  assert_true (before > 2 && changed_at > before);
  /* The picture before the change was stable... */
  assert_true (t->hash[before] == t->hash[before - 1]);
  print_message ("  overlay -> program: frame %u after publishing, %.1f ms\n", changed_at - before,
                 (t->at[changed_at] - published) / 1000.0);
  /* ...and the new overlay is in the 1st or 2nd frame after publishing. */
  assert_in_range (changed_at - before, 1, 2);

  /* A fade under the overlay: the overlay is drawn once, on top, never
   * faded or doubled. The scene does not change picture (one station), so
   * every frame through the fade must be the same. */
  assert_true (sc_mixer_set_transition (mixer, "fade", 300, &error));
  spin (200);
  g_mutex_lock (&t->lock);
  t->n = 0;
  g_mutex_unlock (&t->lock);
  sc_mixer_set_frame_probe (mixer, timeline_probe, t);
  spin (100);
  assert_true (sc_mixer_set_layout (mixer, "single", "C01", NULL, &error));
  spin (500);
  sc_mixer_set_frame_probe (mixer, NULL, NULL);
  {
    guint differ = 0, n;
    g_mutex_lock (&t->lock);
    n = t->n;
    for (guint i = 1; i < n; i++)
      differ += t->hash[i] != t->hash[0];
    g_mutex_unlock (&t->lock);
    assert_true (n > 15);
    assert_int_equal (differ, 0);
  }

  sc_mixer_stop (mixer);
  sc_mixer_free (mixer);
  sc_ingest_stop (ingest[0]);
  sc_ingest_free (ingest[0]);
  sc_overlay_free (overlay);
  sc_contest_free (contest);
  g_mutex_clear (&t->lock);
  g_free (t);
}

/* Waits (running the main loop) until the program status says the
 * commentary is STATE. */
static gboolean
wait_commentary (ScMixer *mixer, const char *state, int timeout_ms)
{
  g_autofree char *want = g_strdup_printf ("\"commentary\":{\"state\":\"%s\"", state);
  gint64 until = g_get_monotonic_time () + timeout_ms * 1000;
  while (g_get_monotonic_time () < until) {
    g_autofree char *json = sc_mixer_program_json (mixer);
    if (strstr (json, want))
      return TRUE;
    spin (50);
  }
  return FALSE;
}

/* A program with a commentary input on SOURCE at GAIN_DB: two silent
 * stations (A01 focused, so the other is ducked), the program AAC decoded
 * again for its loudness. */
static Fixture *
commentary_program (const char *source, double gain_db)
{
  static const char *ids[] = { "A01", "A02" };
  static const char *sources[] = { "test://red", "test://green" };
  ScMixerCallbacks callbacks = { on_changed, NULL };
  ScProgramSink sink;
  GError *error = NULL;
  Fixture *f = g_new0 (Fixture, 1);

  g_mutex_init (&f->lock);
  gst_video_info_set_format (&f->info, GST_VIDEO_FORMAT_I420, 320, 180);
  f->frame = g_malloc0 (f->info.size);
  fill_config (&f->config, f->stations, 2, ids, sources);
  f->config.program.width = 320;
  f->config.program.height = 180;
  f->config.program.layout = SC_LAYOUT_FOCUS;
  f->config.program.focus = (char *)"A01";
  f->config.program.commentary
      = (ScStationConfig){ .id = (char *)"commentary",
                           .name = (char *)"commentary",
                           .source = (char *)source,
                           .source_redacted = (char *)source,
                           .kind
                           = g_str_has_prefix (source, "udp:") ? SC_SOURCE_UDP : SC_SOURCE_TEST };
  f->config.program.commentary_gain_db = gain_db;
  for (int i = 0; i < 2; i++) {
    f->ingest[i] = sc_ingest_new (&f->stations[i], FPS, NULL, &error);
    assert_non_null (f->ingest[i]);
    sc_ingest_start (f->ingest[i]);
  }
  callbacks.user_data = f;
  f->mixer = sc_mixer_new (&f->config, f->ingest, NULL, &callbacks, &error);
  if (!f->mixer)
    fail_msg ("mixer: %s", error->message);
  start_audio_decoder (f);
  sink = (ScProgramSink){ packet, f };
  sc_mixer_add_sink (f->mixer, &sink);
  assert_true (sc_mixer_start (f->mixer, &error));
  return f;
}

static void
commentary_program_free (Fixture *f)
{
  sc_mixer_stop (f->mixer);
  sc_mixer_free (f->mixer);
  gst_element_set_state (f->adec, GST_STATE_NULL);
  gst_object_unref (f->adec);
  for (int i = 0; i < 2; i++) {
    sc_ingest_stop (f->ingest[i]);
    sc_ingest_free (f->ingest[i]);
  }
  g_free (f->frame);
  g_mutex_clear (&f->lock);
  g_free (f);
}

static void
set_commentary (Fixture *f, double gain_db, gboolean set_gain, gboolean mute, gboolean set_mute)
{
  GError *error = NULL;
  if (!sc_mixer_set_audio (f->mixer, "commentary", gain_db, set_gain, mute, set_mute, &error))
    fail_msg ("audio commentary: %s", error->message);
}

/* The commentary input (program.audio.commentary, a test:// tone): it is
 * in the encoded program, at its configured gain, never ducked; the
 * `audio` control changes its gain and mutes it; the program status shows
 * its state and settings. */
static void
test_commentary (void **state)
{
  Fixture *f = commentary_program ("test://?tone=880", -6);
  GError *error = NULL;
  double configured, full, half, muted, grid;
  guint changed;

  assert_true (wait_commentary (f->mixer, "live", 5000));
  /* 0.1 full scale sine: RMS 3277 / sqrt 2 = 2317; -6 dB from the config,
   * the stations silent. */
  configured = wait_rms (f, 1050, 1270, 3000);
  {
    g_autofree char *json = sc_mixer_program_json (f->mixer);
    assert_non_null (
        strstr (json, "\"commentary\":{\"state\":\"live\",\"gain_db\":-6.0,\"mute\":false,"));
  }

  changed = f->changed;
  set_commentary (f, 0, TRUE, FALSE, FALSE);
  assert_true (f->changed > changed); /* the status follows */
  full = wait_rms (f, 2100, 2550, 3000);

  set_commentary (f, -6, TRUE, FALSE, FALSE);
  half = wait_rms (f, 1050, 1270, 3000);

  set_commentary (f, 0, FALSE, TRUE, TRUE);
  muted = wait_rms (f, 0, 30, 3000);
  {
    g_autofree char *json = sc_mixer_program_json (f->mixer);
    assert_non_null (strstr (json, "\"gain_db\":-6.0,\"mute\":true"));
  }

  /* Unmuted at 0 dB, in grid: the same level as under the focus layout
   * (where a station that is not focused is ducked by 12 dB). */
  set_commentary (f, 0, TRUE, FALSE, TRUE);
  assert_true (sc_mixer_set_layout (f->mixer, "grid", NULL, NULL, &error));
  grid = wait_rms (f, 2100, 2550, 3000);

  print_message ("  commentary RMS: configured -6 dB %.0f, 0 dB %.0f, -6 dB %.0f, muted %.0f, "
                 "grid %.0f\n",
                 configured, full, half, muted, grid);
  assert_true (full > 2100 && full < 2550);
  assert_true (configured / full > 0.45 && configured / full < 0.56);
  assert_true (half / full > 0.45 && half / full < 0.56);
  assert_true (muted < 30);
  assert_true (grid / full > 0.9 && grid / full < 1.1);

  assert_false (sc_mixer_set_audio (f->mixer, "commentary", 20, TRUE, FALSE, FALSE, &error));
  assert_string_equal (error->message, "gain_db 20.0 out of range (-60 to 12)");
  g_clear_error (&error);
  commentary_program_free (f);
}

/* The commentary from any source a station takes: an AAC-only MPEG-TS
 * over UDP pushed by ffmpeg (30 s at most, so a failed test leaves no
 * pusher behind). Lost when the pusher goes, in the status. */
static void
test_commentary_udp (void **state)
{
  int port = sc_test_free_udp_port ();
  g_autofree char *source = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *dest = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  char *argv[] = { (char *)"ffmpeg",
                   (char *)"-v",
                   (char *)"error",
                   (char *)"-re",
                   (char *)"-f",
                   (char *)"lavfi",
                   (char *)"-i",
                   (char *)"sine=frequency=660:sample_rate=48000:duration=30",
                   (char *)"-c:a",
                   (char *)"aac",
                   (char *)"-b:a",
                   (char *)"128k",
                   (char *)"-f",
                   (char *)"mpegts",
                   dest,
                   NULL };
  GPid pid = 0;
  GError *error = NULL;
  Fixture *f;
  double on, muted;

  if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                      NULL, &pid, &error))
    fail_msg ("ffmpeg: %s", error->message);
  f = commentary_program (source, 0);
  if (!wait_commentary (f->mixer, "live", 8000)) {
    g_autofree char *json = sc_mixer_program_json (f->mixer);
    sc_test_kill (pid, SIGTERM, 2000);
    fail_msg ("commentary not live: %s", json);
  }
  /* ffmpeg's sine is 1/8 full scale: RMS 2896 (per channel after upmix). */
  on = wait_rms (f, 2300, 3500, 4000); /* UDP under load may lose a little */
  set_commentary (f, 0, FALSE, TRUE, TRUE);
  muted = wait_rms (f, 0, 30, 3000);
  print_message ("  udp commentary RMS: %.0f, muted %.0f\n", on, muted);
  assert_true (on > 1800 && on < 3500);
  assert_true (muted < 30);

  sc_test_kill (pid, SIGTERM, 2000);
  assert_true (wait_commentary (f->mixer, "lost", 3000));
  commentary_program_free (f);
}

int
main (void)
{
  const struct CMUnitTest program[] = {
    cmocka_unit_test (test_grid_shows_every_station),
    cmocka_unit_test (test_bad_arguments),
    cmocka_unit_test (test_layouts),
    cmocka_unit_test (test_fade),
    cmocka_unit_test (test_encoded_output),
    cmocka_unit_test (test_audio),
    cmocka_unit_test (test_late_tick_skips),
    cmocka_unit_test (test_status_and_director),
  };
  const struct CMUnitTest pure[] = {
    cmocka_unit_test (test_layout_geometry),    cmocka_unit_test (test_audio_mix),
    cmocka_unit_test (test_no_feed_keeps_rate), cmocka_unit_test (test_overlay_latency),
    cmocka_unit_test (test_commentary),         cmocka_unit_test (test_commentary_udp),
  };
  int failed;

  gst_init (NULL, NULL);
  failed = cmocka_run_group_tests_name ("mixer-pure", pure, NULL, NULL);
  failed += cmocka_run_group_tests_name ("mixer-program", program, group_setup, group_teardown);
  return failed;
}
