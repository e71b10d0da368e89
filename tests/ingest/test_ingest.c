/* Unit tests of ingest with test:// stations (videotestsrc/audiotestsrc):
 * no outside servers. */
#include "tests/ingest/ingest_testutil.h"

#include <gst/video/video.h>
#include <string.h>

/* A frame's bytes, to compare two frames. */
static guint32
frame_hash (GstBuffer *b)
{
  GstMapInfo map;
  guint32 h = 2166136261u;
  g_assert_true (gst_buffer_map (b, &map, GST_MAP_READ));
  for (gsize i = 0; i < map.size; i += 7)
    h = (h ^ map.data[i]) * 16777619u;
  gst_buffer_unmap (b, &map);
  return h;
}

static void
test_live_tiles (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  assert_true (sut_new (&s, "T1", "test://ball", 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  sc_ingest_start (s.ingest);

  int ms = wait_state (&s, SC_INGEST_LIVE, 2000);
  g_print ("  test:// live after %d ms\n", ms);
  assert_true (ms >= 0);
  assert_int_equal (s.last_state, SC_INGEST_LIVE);
  assert_true (s.changes >= 2); /* connecting, live */

  /* The tile has the requested size and is I420. */
  int w = 0, h = 0;
  GstBuffer *b = sc_ingest_pull_video (s.ingest, &w, &h);
  assert_non_null (b);
  assert_int_equal (w, 320);
  assert_int_equal (h, 180);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 320, 180);
  assert_true (gst_buffer_get_size (b) >= GST_VIDEO_INFO_SIZE (&info));
  guint32 h1 = frame_hash (b);
  gst_buffer_unref (b);

  /* `ball` moves: a later frame differs (a freeze would be visible). */
  spin_ms (200);
  b = sc_ingest_pull_video (s.ingest, &w, &h);
  assert_non_null (b);
  assert_int_not_equal (h1, frame_hash (b));
  gst_buffer_unref (b);

  /* A new tile size reaches the frames quickly. */
  gint64 t0 = g_get_monotonic_time ();
  sc_ingest_set_tile_size (s.ingest, 480, 270);
  assert_true (wait_tile (&s, 480, 270, 1000));
  g_print ("  tile resized in %.0f ms\n", (g_get_monotonic_time () - t0) / 1000.0);
  assert_int_equal (s.last_state, SC_INGEST_LIVE);

  /* fps over the last second is about the program rate. */
  spin_ms (1200);
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  stats: fps %.1f, %dx%d, frames %" G_GUINT64_FORMAT ", reconnects %u\n", st.fps,
           st.width, st.height, st.frames, st.reconnects);
  /* About the program rate (30): the window allows for a machine slowed by
   * sanitizers or load; a broken rate (0, 60, a total count) is far out. */
  assert_true (st.fps > 20 && st.fps < 35);
  assert_int_equal (st.width, 1280);
  assert_int_equal (st.height, 720);
  assert_int_equal (st.reconnects, 0);
  assert_true (st.frames > 30);
  assert_string_equal (sc_ingest_station_id (s.ingest), "T1");

  sc_ingest_stop (s.ingest);
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  sut_free (&s);
}

/* A 16:9 feed in a 4:3 tile keeps its shape: black bars above and below,
 * the picture in the middle. */
static void
test_letterbox (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  assert_true (sut_new (&s, "L1", "test://smpte", 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 240);
  sc_ingest_start (s.ingest);
  assert_true (wait_state (&s, SC_INGEST_LIVE, 2000) >= 0);
  assert_true (wait_tile (&s, 320, 240, 1000));
  int w, h;
  GstBuffer *b = sc_ingest_pull_video (s.ingest, &w, &h);
  assert_non_null (b);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, w, h);
  GstVideoFrame f;
  assert_true (gst_video_frame_map (&f, &info, b, GST_MAP_READ));
  const guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (&f, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
  /* 320 / (16/9) = 180 rows of picture, 30 rows of black each side. */
  int top_black = 0, mid_bright = 0;
  for (int x = 0; x < w; x++) {
    top_black += y[5 * stride + x] <= 20;
    mid_bright += y[60 * stride + x] > 40;
  }
  g_print ("  letterbox: %d/%d black pixels in row 5, %d bright in row 60\n", top_black, w,
           mid_bright);
  assert_int_equal (top_black, w);
  assert_true (mid_bright > w / 2);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (b);
  /* Odd sizes are rounded up to even (I420). */
  sc_ingest_set_tile_size (s.ingest, 161, 91);
  assert_true (wait_tile (&s, 162, 92, 1000));
  sut_free (&s);
}

static void
test_audio (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  gint16 pcm[480 * 2];

  /* Default: silence, but audio flows. */
  assert_true (sut_new (&s, "T2", "test://smpte?tone=440", 25, &error));
  sc_ingest_start (s.ingest);
  assert_true (wait_state (&s, SC_INGEST_LIVE, 2000) >= 0);
  /* The jitter cushion grows with the gaps seen between audio buffers
   * (up to 600 ms on a machine so loaded that the source thread stalls). */
  spin_ms (700);
  guint total = 0;
  int peak = 0;
  for (int i = 0; i < 20; i++) {
    guint got = sc_ingest_pull_audio (s.ingest, pcm, 480);
    total += got;
    for (int j = 0; j < 480 * 2; j++)
      peak = MAX (peak, ABS (pcm[j]));
    spin_ms (10);
  }
  g_print ("  audio: %u of %u frames from the feed, peak %d\n", total, 20 * 480, peak);
  assert_true (total >= 480 * 15);
  /* volume 0.1 of full scale */
  assert_true (peak > 2000 && peak < 5000);
  sc_ingest_stop (s.ingest);
  /* Stopped: silence, nothing from the feed. */
  assert_int_equal (sc_ingest_pull_audio (s.ingest, pcm, 480), 0);
  assert_int_equal (pcm[100], 0);
  sut_free (&s);

  assert_true (sut_new (&s, "T3", "test://snow", 30, &error));
  sc_ingest_start (s.ingest);
  assert_true (wait_state (&s, SC_INGEST_LIVE, 2000) >= 0);
  spin_ms (200);
  guint got = sc_ingest_pull_audio (s.ingest, pcm, 480);
  assert_int_equal (got, 480);
  for (int j = 0; j < 480 * 2; j++)
    assert_int_equal (pcm[j], 0);
  sut_free (&s); /* free while running */
}

static void
test_bad_sources (void **state)
{
  static const char *bad[] = {
    "test://nosuchpattern",
    "test://ball?tone=abc",
    "test://ball?colour=red",
    "foo://x",
    "",
    "udp://127.0.0.1",
    "srt://:9000?mode=sideways",
    "srt://:9000?passphrase=short",
    "srt://:9000?pbkeylen=7",
    "srt://:9000?mode=caller",
    "file:///tmp/x.mp4?loop=maybe",
    "rtmp://host",
    "rtsp://:554/x",
    "rtsp://cam/x?transport=sctp",
  };
  static const char *good[] = {
    "test://smpte", "test://ball?tone=440", "test://colors",
    "file:///tmp/x.mp4?loop=true", "udp://:5004", "udp://239.1.1.1:5004?rtp=1",
    "srt://:9001?passphrase=0123456789abc&streamid=a01", "srt://10.0.0.5:9000?mode=caller&streamid=a02&latency=200",
    "rtmp://127.0.0.1/live/a03", "rtsp://camera-4.local/stream1?transport=udp&x=1",
    "v4l2:///dev/video0",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    StationUnderTest s;
    g_autoptr (GError) error = NULL;
    assert_false (sut_new (&s, "B1", bad[i], 30, &error));
    assert_non_null (error);
    assert_true (g_error_matches (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE));
    g_print ("  %-32s -> %s\n", bad[i], error->message);
    sut_free (&s);
  }
  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    StationUnderTest s;
    g_autoptr (GError) error = NULL;
    if (!sut_new (&s, "G1", good[i], 30, &error))
      fail_msg ("%s: %s", good[i], error->message);
    sut_free (&s);
  }
}

/* A file that does not exist: the station goes lost with the reason, then
 * keeps retrying with backoff (the file may appear). Stop is clean. */
/* An audio-only feed (the commentary input): live on audio alone, real
 * samples out, no picture ever, and stats that show the audio flowing. */
static void
test_audio_only (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  assert_true (sut_new_audio (&s, "COMM", "test://?tone=880", &error));
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  sc_ingest_start (s.ingest);
  int ms = wait_state (&s, SC_INGEST_LIVE, 2000);
  g_print ("  audio-only test:// live after %d ms\n", ms);
  assert_true (ms >= 0);
  /* The jitter cushion grows with the gaps seen between audio buffers
   * (up to 600 ms on a machine so loaded that the source thread stalls). */
  spin_ms (700);
  guint total = 0, got;
  int peak = 0;
  for (int i = 0; i < 20; i++) {
    int pk = audio_peak (&s, 480, &got); /* not inside MAX: it pulls */
    peak = MAX (peak, pk);
    total += got;
    spin_ms (10);
  }
  g_print ("  audio-only: %u of %u frames from the feed, peak %d\n", total, 20 * 480, peak);
  assert_true (total >= 480 * 15);
  assert_true (peak > 2000 && peak < 5000); /* volume 0.1 */
  /* Never a picture, even live. */
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  spin_ms (1100);
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  audio-only stats: %s, %.1f buffers/s, %" G_GUINT64_FORMAT " buffers, %dx%d\n",
           sc_ingest_state_to_string (st.state), st.fps, st.frames, st.width, st.height);
  assert_int_equal (st.state, SC_INGEST_LIVE);
  assert_true (st.fps > 50); /* audiotestsrc: 10 ms buffers */
  assert_int_equal (st.width, 0);
  assert_int_equal (st.reconnects, 0);
  sc_ingest_stop (s.ingest);
  assert_int_equal (sc_ingest_pull_audio (s.ingest, (gint16[960]){ 0 }, 480), 0);
  sut_free (&s);

  /* A bad URL is refused just as for a station. */
  assert_false (sut_new_audio (&s, "COMM", "srt://:1234?pasphrase=xxxxxxxxxxxx", &error));
  assert_non_null (error);
  sut_free (&s);
}

static void
test_missing_file (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  assert_true (sut_new (&s, "M1", "file:///nonexistent/skillcast.mp4", 30, &error));
  sc_ingest_start (s.ingest);
  assert_true (wait_state (&s, SC_INGEST_LOST, 2000) >= 0);
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  missing file: %s\n", st.last_error);
  assert_true (strlen (st.last_error) > 0);
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  /* It comes back as connecting after ~0.5 s backoff, and fails again. */
  guint changes = s.changes;
  spin_ms (1000);
  sc_ingest_get_stats (s.ingest, &st);
  assert_true (st.reconnects >= 1);
  assert_true (s.changes >= changes + 2);
  sc_ingest_stop (s.ingest);
  sut_free (&s);
}

/* Several stations at once, started and stopped repeatedly. */
static void
test_start_stop_cycles (void **state)
{
  StationUnderTest s[3];
  g_autoptr (GError) error = NULL;
  const char *urls[] = { "test://ball", "test://smpte?tone=1000", "test://colors" };
  for (int i = 0; i < 3; i++)
    assert_true (sut_new (&s[i], "C", urls[i], 30, &error));
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 3; i++)
      sc_ingest_start (s[i].ingest);
    for (int i = 0; i < 3; i++)
      assert_true (wait_state (&s[i], SC_INGEST_LIVE, 2000) >= 0);
    for (int i = 0; i < 3; i++)
      sc_ingest_stop (s[i].ingest);
  }
  for (int i = 0; i < 3; i++)
    sut_free (&s[i]);
}

int
main (void)
{
  gst_init (NULL, NULL);
  if (g_getenv ("SC_TEST_FILTER"))
    cmocka_set_test_filter (g_getenv ("SC_TEST_FILTER"));
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_bad_sources),
    cmocka_unit_test (test_live_tiles),
    cmocka_unit_test (test_letterbox),
    cmocka_unit_test (test_audio),
    cmocka_unit_test (test_audio_only),
    cmocka_unit_test (test_missing_file),
    cmocka_unit_test (test_start_stop_cycles),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
