/* RTSP ingest against a real RTSP server (gst-rtsp-server in this
 * process, on the same main loop): H.264 + AAC from a "camera", pulled
 * over TCP (the default) and UDP; the camera going away makes the station
 * lost, and it comes back when the camera does. */
#include "tests/ingest/ingest_testutil.h"

#include <gst/rtsp-server/rtsp-server.h>

typedef struct {
  GstRTSPServer *server;
  guint source_id;
  int port;
} Camera;

static void
camera_start (Camera *cam, int port)
{
  cam->port = port;
  cam->server = gst_rtsp_server_new ();
  g_autofree char *service = g_strdup_printf ("%d", port);
  gst_rtsp_server_set_address (cam->server, "127.0.0.1");
  gst_rtsp_server_set_service (cam->server, service);
  GstRTSPMediaFactory *f = gst_rtsp_media_factory_new ();
  /* Test-only launch line: fixed text, no user input. */
  gst_rtsp_media_factory_set_launch (
    f, "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 "
       "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 "
       "pt=96 audiotestsrc is-live=true freq=440 ! audioconvert ! avenc_aac ! rtpmp4apay "
       "name=pay1 pt=97 )");
  gst_rtsp_media_factory_set_shared (f, TRUE);
  gst_rtsp_media_factory_set_protocols (f, GST_RTSP_LOWER_TRANS_TCP | GST_RTSP_LOWER_TRANS_UDP);
  GstRTSPMountPoints *m = gst_rtsp_server_get_mount_points (cam->server);
  gst_rtsp_mount_points_add_factory (m, "/cam", f);
  g_object_unref (m);
  cam->source_id = gst_rtsp_server_attach (cam->server, NULL);
  assert_true (cam->source_id > 0);
}

static GstRTSPFilterResult
drop_client (GstRTSPServer *server, GstRTSPClient *client, gpointer user_data)
{
  return GST_RTSP_FILTER_REMOVE;
}

/* The camera is unplugged: its socket closes, its clients are cut. */
static void
camera_stop (Camera *cam)
{
  g_source_remove (cam->source_id);
  gst_rtsp_server_client_filter (cam->server, drop_client, NULL);
  g_clear_object (&cam->server);
}

static void
pull_from_camera (const char *transport)
{
  Camera cam;
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_port ();
  camera_start (&cam, port);
  g_autofree char *url =
    g_strdup_printf ("rtsp://127.0.0.1:%d/cam%s%s", port, transport ? "?transport=" : "",
                     transport ? transport : "");
  assert_true (sut_new (&s, "C4", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  int ms = wait_state (&s, SC_INGEST_LIVE, 8000);
  g_print ("  rtsp (%s): live after %d ms\n", transport ? transport : "tcp", ms);
  assert_true (ms >= 0);
  assert_true (wait_tile (&s, 320, 180, 1000));
  spin_ms (2100); /* a full stats window after the start-up ramp */
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  gint16 pcm[960 * 2];
  guint got = sc_ingest_pull_audio (s.ingest, pcm, 960);
  g_print ("  stats: fps %.1f, %d kbit/s, feed %dx%d, audio %u/960\n", st.fps, st.bitrate_kbps,
           st.width, st.height, got);
  assert_int_equal (st.state, SC_INGEST_LIVE);
  assert_int_equal (st.width, 640);
  assert_int_equal (st.height, 360);
  assert_true (st.fps > 20);
  assert_true (st.bitrate_kbps > 0);
  assert_true (got > 0);

  camera_stop (&cam);
  ms = wait_state (&s, SC_INGEST_LOST, 3000);
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  camera gone: lost after %d ms (%s)\n", ms, st.last_error);
  assert_true (ms >= 0 && ms <= 1000);
  camera_start (&cam, port);
  ms = wait_state (&s, SC_INGEST_LIVE, 8000);
  g_print ("  camera back: live after %d ms\n", ms);
  assert_true (ms >= 0);
  sut_free (&s);
  camera_stop (&cam);
}

static void
test_rtsp_tcp (void **state)
{
  pull_from_camera (NULL);
}

static void
test_rtsp_udp (void **state)
{
  pull_from_camera ("udp");
}

int
main (void)
{
  gst_init (NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rtsp_tcp),
    cmocka_unit_test (test_rtsp_udp),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
