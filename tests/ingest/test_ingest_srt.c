/* Several SRT listener stations on one port, told apart by streamid (the
 * shared libsrt listener of ingest-srt.c), with real ffmpeg callers on
 * loopback: each station shows its own caller's picture (a red and a blue
 * feed, checked in the pulled tile), a wrong passphrase, an unknown
 * streamid and a second caller for a busy station are refused, logged and
 * counted while the others play on, and one caller killed makes only its
 * own station lost, live again within 2 s of the caller's return. */
#include "tests/ingest/ingest_testutil.h"

#include <gio/gio.h>
#include <gst/video/video.h>
#include <string.h>

#define PASS_A "station-a01-secret"
#define PASS_B "station-a02-secret"
#define TILE_W 320
#define TILE_H 180


/* ffmpeg calling the listener on PORT as STREAMID with PASSPHRASE (either
 * may be NULL: not sent), sending
 * a plain COLOUR picture (H.264) and a tone (AAC) in MPEG-TS. */
static GPid
push_colour (const char *colour, int port, const char *streamid, const char *passphrase,
             const char *log)
{
  g_autofree char *src = g_strdup_printf ("color=c=%s:size=640x360:rate=30", colour);
  g_autofree char *url = g_strdup_printf (
    "srt://127.0.0.1:%d?mode=caller&latency=120000%s%s%s%s", port, streamid ? "&streamid=" : "",
    streamid ? streamid : "", passphrase ? "&passphrase=" : "", passphrase ? passphrase : "");
  g_autofree char *lp = logpath (log);
  const char *argv[] = { "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re",
                         "-f", "lavfi", "-i", src, "-f", "lavfi", "-i",
                         "sine=frequency=440:sample_rate=48000", "-c:v", "libx264", "-preset",
                         "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p",
                         "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", url, NULL };
  return push_argv (argv, lp);
}

/* Spins the main loop for MS while both stations are watched: returns the
 * number of times B's state changed meanwhile. */
static guint
spin_watching (StationUnderTest *b, int ms)
{
  guint before = b->changes;
  spin_ms (ms);
  return b->changes - before;
}

typedef enum { RED, BLUE, OTHER } Colour;

/* The colour at the centre of the station's current tile (BT.601: red has
 * V well above U, blue U well above V). OTHER when there is no tile. */
static Colour
tile_colour (StationUnderTest *s)
{
  int w = 0, h = 0;
  GstBuffer *buf = sc_ingest_pull_video (s->ingest, &w, &h);
  if (!buf)
    return OTHER;
  GstVideoInfo info;
  GstVideoFrame f;
  Colour c = OTHER;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, w, h);
  if (gst_video_frame_map (&f, &info, buf, GST_MAP_READ)) {
    const guint8 *u = GST_VIDEO_FRAME_PLANE_DATA (&f, 1);
    const guint8 *v = GST_VIDEO_FRAME_PLANE_DATA (&f, 2);
    int su = GST_VIDEO_FRAME_PLANE_STRIDE (&f, 1), sv = GST_VIDEO_FRAME_PLANE_STRIDE (&f, 2);
    int cu = u[(h / 4) * su + w / 4], cv = v[(h / 4) * sv + w / 4];
    if (cv > 200 && cu < 128)
      c = RED;
    else if (cu > 200 && cv < 140)
      c = BLUE;
    g_print ("  station %s: tile %dx%d, centre U %d V %d\n", sc_ingest_station_id (s->ingest), w,
             h, cu, cv);
    gst_video_frame_unmap (&f);
  }
  gst_buffer_unref (buf);
  return c;
}

static guint64
frames_of (StationUnderTest *s)
{
  ScIngestStats st;
  sc_ingest_get_stats (s->ingest, &st);
  return st.frames;
}

static ScIngestStats
stats_of (StationUnderTest *s)
{
  ScIngestStats st;
  sc_ingest_get_stats (s->ingest, &st);
  return st;
}

/* Waits until ST's rejected count is above N (or TIMEOUT_MS). */
static gboolean
wait_rejected (StationUnderTest *s, guint64 n, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (g_get_monotonic_time () < end) {
    if (stats_of (s).rejected > n)
      return TRUE;
    spin_ms (20);
  }
  return FALSE;
}

/* Creation refuses stations that could not be told apart on one port. */
static void
test_shared_port_validation (void **state)
{
  StationUnderTest a, b;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url_a = g_strdup_printf ("srt://:%d?streamid=a01", port);
  g_autofree char *url_same = g_strdup_printf ("srt://:%d?streamid=a01&passphrase=" PASS_B, port);
  g_autofree char *url_none = g_strdup_printf ("srt://:%d", port);
  g_autofree char *url_b = g_strdup_printf ("srt://:%d?streamid=a02", port);

  assert_true (sut_new (&a, "A01", url_a, 30, &error));
  /* Same streamid on the same port. */
  assert_false (sut_new (&b, "A02", url_same, 30, &error));
  g_print ("  %s\n", error->message);
  assert_true (g_error_matches (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE));
  assert_non_null (strstr (error->message, "A02"));
  assert_non_null (strstr (error->message, "A01"));
  assert_non_null (strstr (error->message, "streamid"));
  sut_free (&b);
  g_clear_error (&error);
  /* No streamid at all: it would take every caller of the port. */
  assert_false (sut_new (&b, "A02", url_none, 30, &error));
  g_print ("  %s\n", error->message);
  assert_non_null (strstr (error->message, "distinct streamids"));
  sut_free (&b);
  g_clear_error (&error);
  /* A distinct streamid is fine, and once A01 is gone its streamid is free. */
  assert_true (sut_new (&b, "A02", url_b, 30, &error));
  sut_free (&a);
  assert_true (sut_new (&a, "A03", url_same, 30, &error));
  sut_free (&a);
  sut_free (&b);
}

static void
test_shared_port (void **state)
{
  StationUnderTest a, b;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url_a =
    g_strdup_printf ("srt://:%d?streamid=a01&passphrase=" PASS_A "&latency=120", port);
  g_autofree char *url_b =
    g_strdup_printf ("srt://:%d?streamid=a02&passphrase=" PASS_B "&latency=120", port);

  assert_true (sut_new (&a, "A01", url_a, 30, &error));
  assert_true (sut_new (&b, "A02", url_b, 30, &error));
  sc_ingest_set_tile_size (a.ingest, TILE_W, TILE_H);
  sc_ingest_set_tile_size (b.ingest, TILE_W, TILE_H);
  sc_ingest_start (a.ingest);
  sc_ingest_start (b.ingest);
  spin_ms (300);

  /* A01's streamid with A02's passphrase: libsrt refuses it in the
   * handshake; reported on A01 only, which stays not live. */
  {
    GPid p = push_colour ("green", port, "a01", PASS_B, "wrong-pass.log");
    assert_true (wait_rejected (&a, 0, 4000));
    ScIngestStats st = stats_of (&a);
    g_print ("  wrong passphrase: A01 %s, rejected %" G_GUINT64_FORMAT ", last_error \"%s\"\n",
             sc_ingest_state_to_string (st.state), st.rejected, st.last_error);
    assert_int_not_equal (st.state, SC_INGEST_LIVE);
    assert_non_null (strstr (st.last_error, "handshake"));
    assert_int_equal (stats_of (&b).rejected, 0);
    stop_feed (p);
  }

  /* Both callers: each station live with its own picture. */
  GPid pa = push_colour ("red", port, "a01", PASS_A, "a01.log");
  GPid pb = push_colour ("blue", port, "a02", PASS_B, "a02.log");
  int ms_a = wait_state (&a, SC_INGEST_LIVE, 8000);
  int ms_b = wait_state (&b, SC_INGEST_LIVE, 8000);
  g_print ("  A01 live after %d ms, A02 %d ms later\n", ms_a, ms_b);
  if (ms_a < 0)
    dump_log ("a01.log");
  if (ms_b < 0)
    dump_log ("a02.log");
  assert_true (ms_a >= 0 && ms_b >= 0);
  assert_true (wait_tile (&a, TILE_W, TILE_H, 2000));
  assert_true (wait_tile (&b, TILE_W, TILE_H, 2000));
  spin_ms (300);
  assert_int_equal (tile_colour (&a), RED);
  assert_int_equal (tile_colour (&b), BLUE);

  /* An unknown streamid: refused, counted on the port's stations, named
   * in their last_error; both keep playing. */
  {
    ScIngestStats a0 = stats_of (&a), b0 = stats_of (&b);
    GPid p = push_colour ("green", port, "intruder", PASS_A, "intruder.log");
    assert_true (wait_rejected (&a, a0.rejected, 4000));
    assert_true (wait_rejected (&b, b0.rejected, 1000));
    ScIngestStats st = stats_of (&b);
    g_print ("  unknown streamid: A02 %s, rejected %" G_GUINT64_FORMAT ", last_error \"%s\"\n",
             sc_ingest_state_to_string (st.state), st.rejected, st.last_error);
    assert_non_null (strstr (st.last_error, "intruder"));
    assert_non_null (strstr (stats_of (&a).last_error, "intruder"));
    stop_feed (p);
    assert_int_equal (stats_of (&a).state, SC_INGEST_LIVE);
    assert_int_equal (stats_of (&b).state, SC_INGEST_LIVE);
    assert_true (stats_of (&a).frames > a0.frames);
    assert_true (stats_of (&b).frames > b0.frames);
  }

  /* A second caller for a station whose caller is sending: refused, the
   * picture stays the first caller's. */
  {
    ScIngestStats b0 = stats_of (&b);
    GPid p = push_colour ("green", port, "a02", PASS_B, "second.log");
    assert_true (wait_rejected (&b, b0.rejected, 4000));
    ScIngestStats st = stats_of (&b);
    g_print ("  second caller: A02 %s, rejected %" G_GUINT64_FORMAT ", last_error \"%s\"\n",
             sc_ingest_state_to_string (st.state), st.rejected, st.last_error);
    assert_non_null (strstr (st.last_error, "already has a caller"));
    spin_ms (500);
    stop_feed (p);
    assert_int_equal (stats_of (&b).state, SC_INGEST_LIVE);
    assert_int_equal (tile_colour (&b), BLUE);
  }

  /* A01's caller killed: A01 lost, A02 untouched and still delivering. */
  guint64 b_frames = frames_of (&b);
  guint b_changes = b.changes;
  stop_feed (pa);
  int ms = wait_state (&a, SC_INGEST_LOST, 3000);
  g_print ("  A01's caller killed: lost after %d ms\n", ms);
  assert_true (ms >= 0 && ms <= 1500);
  assert_null (sc_ingest_pull_video (a.ingest, NULL, NULL));
  assert_int_equal (spin_watching (&b, 700), 0);
  assert_int_equal (tile_colour (&b), BLUE);
  pa = push_colour ("red", port, "a01", PASS_A, "a01.log");
  ms = wait_state (&a, SC_INGEST_LIVE, 5000);
  g_print ("  A01's caller back: live after %d ms\n", ms);
  if (ms < 0)
    dump_log ("a01.log");
  assert_true (ms >= 0 && ms <= 2000);
  assert_true (wait_tile (&a, TILE_W, TILE_H, 1000));
  assert_int_equal (tile_colour (&a), RED);
  guint64 b_during = frames_of (&b) - b_frames;
  g_print ("  A02 meanwhile: %" G_GUINT64_FORMAT " frames, %u state changes\n", b_during,
           b.changes - b_changes);
  assert_int_equal (b.changes, b_changes);
  assert_true (b_during > 30);
  assert_int_equal (stats_of (&b).state, SC_INGEST_LIVE);

  /* Stopping every station of the port closes the listener: the port can
   * be bound again. */
  stop_feed (pa);
  stop_feed (pb);
  sc_ingest_stop (a.ingest);
  assert_int_equal (stats_of (&b).state, SC_INGEST_LIVE);
  sc_ingest_stop (b.ingest);
  {
    g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                             G_SOCKET_PROTOCOL_UDP, NULL);
    g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (any, port);
    g_autoptr (GError) berr = NULL;
    gboolean bound = g_socket_bind (sock, addr, FALSE, &berr);
    g_print ("  port %d after both stopped: %s\n", port, bound ? "free" : berr->message);
    assert_true (bound);
  }
  sut_free (&a);
  sut_free (&b);
}

/* One station without streamid or passphrase: it takes a caller with any
 * streamid, unencrypted only. */
static void
test_single_open_station (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("srt://:%d", port);

  assert_true (sut_new (&s, "B01", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, TILE_W, TILE_H);
  sc_ingest_start (s.ingest);
  spin_ms (200);
  /* An encrypted caller: libsrt refuses it (enforced encryption). */
  GPid p = push_colour ("blue", port, "cam-1", PASS_A, "encrypted.log");
  assert_true (wait_rejected (&s, 0, 4000));
  ScIngestStats st = stats_of (&s);
  g_print ("  encrypted caller: %s, rejected %" G_GUINT64_FORMAT ", last_error \"%s\"\n",
           sc_ingest_state_to_string (st.state), st.rejected, st.last_error);
  assert_int_not_equal (st.state, SC_INGEST_LIVE);
  stop_feed (p);
  /* A plain caller, no streamid: live with its picture. */
  p = push_colour ("red", port, NULL, NULL, "plain.log");
  int ms = wait_state (&s, SC_INGEST_LIVE, 8000);
  g_print ("  plain caller: live after %d ms\n", ms);
  if (ms < 0)
    dump_log ("plain.log");
  assert_true (ms >= 0);
  assert_true (wait_tile (&s, TILE_W, TILE_H, 2000));
  spin_ms (300);
  assert_int_equal (tile_colour (&s), RED);
  stop_feed (p);
  sut_free (&s);
}

/* The port is taken by someone else: the station says why and retries;
 * once the port is free, a caller gets in. */
static void
test_port_taken (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("srt://:%d?streamid=c01", port);
  GSocket *sock =
    g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (any, port);
  assert_true (g_socket_bind (sock, addr, FALSE, NULL));

  assert_true (sut_new (&s, "C01", url, 30, &error));
  sc_ingest_start (s.ingest);
  spin_ms (500);
  ScIngestStats st = stats_of (&s);
  g_print ("  port taken: %s, last_error \"%s\"\n", sc_ingest_state_to_string (st.state),
           st.last_error);
  assert_int_equal (st.state, SC_INGEST_LOST);
  assert_non_null (strstr (st.last_error, "SRT listener"));
  g_object_unref (sock);
  GPid p = push_colour ("red", port, "c01", NULL, "taken.log");
  int ms = wait_state (&s, SC_INGEST_LIVE, 8000);
  g_print ("  port freed, caller started: live after %d ms\n", ms);
  if (ms < 0)
    dump_log ("taken.log");
  assert_true (ms >= 0);
  stop_feed (p);
  sut_free (&s);
}

int
main (void)
{
  gst_init (NULL, NULL);
  if (g_getenv ("SC_TEST_FILTER"))
    cmocka_set_test_filter (g_getenv ("SC_TEST_FILTER"));
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_shared_port_validation),
    cmocka_unit_test_teardown (test_shared_port, stop_all_feeds),
    cmocka_unit_test_teardown (test_single_open_station, stop_all_feeds),
    cmocka_unit_test_teardown (test_port_taken, stop_all_feeds),
  };
  return cmocka_run_group_tests (tests, ingest_tmpdir_setup, ingest_tmpdir_teardown);
}
