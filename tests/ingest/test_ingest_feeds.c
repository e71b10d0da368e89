/* Integration tests of ingest with real network feeds: ffmpeg pushing
 * MPEG-TS over UDP and SRT, RTMP through a real nginx-rtmp, files, a
 * resolution change mid-stream. Times to live/lost are printed. */
#include "tests/ingest/ingest_testutil.h"

#include <gio/gio.h>
#include <signal.h>
#include <string.h>


static void
assert_tile_and_audio (StationUnderTest *s, int w, int h, int feed_w, int feed_h)
{
  int bw = 0, bh = 0;
  GstBuffer *b = sc_ingest_pull_video (s->ingest, &bw, &bh);
  assert_non_null (b);
  assert_int_equal (bw, w);
  assert_int_equal (bh, h);
  gst_buffer_unref (b);
  /* A full stats window after the first two seconds (ffmpeg, nginx and
   * the decoder ramp up in them; 30 fps steady after that). */
  spin_ms (2100);
  ScIngestStats st;
  sc_ingest_get_stats (s->ingest, &st);

  g_print ("  stats: %s fps %.1f, %d kbit/s, feed %dx%d, reconnects %u\n",
           sc_ingest_state_to_string (st.state), st.fps, st.bitrate_kbps, st.width, st.height,
           st.reconnects);
  assert_int_equal (st.width, feed_w);
  assert_int_equal (st.height, feed_h);
  assert_true (st.fps > 20);
  assert_true (st.bitrate_kbps > 0);
  gint16 pcm[960 * 2];
  guint got = sc_ingest_pull_audio (s->ingest, pcm, 960);
  int peak = 0;
  for (guint i = 0; i < got * 2; i++)
    peak = MAX (peak, ABS (pcm[i]));
  g_print ("  audio: %u/960 frames from the feed, peak %d\n", got, peak);
  assert_true (got > 0);
  assert_true (peak > 1000);
}

/* Live, pusher killed → lost within 1 s, pusher back → live within 2 s. */
static void
kill_and_return (StationUnderTest *s, GPid *pusher, const char *size, const char *format,
                 const char *url, const char *const *extra, const char *log)
{
  g_autofree char *lp = logpath (log);
  stop_feed (*pusher);
  gint64 t0 = g_get_monotonic_time ();
  int ms = wait_state (s, SC_INGEST_LOST, 3000);
  g_print ("  pusher killed: lost after %d ms\n", ms);
  assert_true (ms >= 0 && ms <= 1000);
  assert_null (sc_ingest_pull_video (s->ingest, NULL, NULL));
  ScIngestStats st;
  sc_ingest_get_stats (s->ingest, &st);
  g_print ("  last_error: %s\n", st.last_error);
  assert_true (strlen (st.last_error) > 0);
  spin_ms (300);
  *pusher = push_feed (size, format, url, extra, lp);
  t0 = g_get_monotonic_time ();
  ms = wait_state (s, SC_INGEST_LIVE, 5000);
  g_print ("  pusher back: live after %d ms\n", ms);
  if (ms < 0)
    dump_log (log);
  assert_true (ms >= 0 && ms <= 2000);
  (void) t0;
}

static void
test_udp (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  g_autofree char *log = logpath ("udp.log");

  assert_true (sut_new (&s, "U1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  spin_ms (200);
  /* Nobody sends yet: a listener waits as connecting. */
  assert_int_equal (s.last_state, SC_INGEST_CONNECTING);
  GPid pusher = push_feed ("640x360", "mpegts", push, NULL, log);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  udp: live %d ms after the pusher started\n", ms);
  if (ms < 0)
    dump_log ("udp.log");
  assert_true (ms >= 0);
  assert_tile_and_audio (&s, 320, 180, 640, 360);

  kill_and_return (&s, &pusher, "640x360", "mpegts", push, NULL, "udp.log");
  assert_tile_and_audio (&s, 320, 180, 640, 360);
  stop_feed (pusher);
  sc_ingest_stop (s.ingest);
  sut_free (&s);
}

/* An audio-only feed (commentary): ffmpeg pushing AAC-only MPEG-TS over
 * UDP. Live on audio alone, real samples out, pusher killed → lost, back
 * → live. Then a camera feed (video + audio) into an audio-only input:
 * only its audio is used, the video is not even decoded. */
static GPid
push_aac (const char *url, const char *log)
{
  const char *argv[] = { "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re",
                         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a",
                         "aac", "-b:a", "64k", "-f", "mpegts", url, NULL };
  return push_argv (argv, log);
}

static void
test_udp_audio_only (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  g_autofree char *log = logpath ("aac.log");

  assert_true (sut_new_audio (&s, "COMM", url, &error));
  sc_ingest_start (s.ingest);
  spin_ms (200);
  assert_int_equal (s.last_state, SC_INGEST_CONNECTING);
  GPid pusher = push_aac (push, log);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  udp audio-only: live %d ms after the pusher started\n", ms);
  if (ms < 0)
    dump_log ("aac.log");
  assert_true (ms >= 0);
  /* A second of program audio, pulled in 20 ms chunks at about real time. */
  guint total = 0, got;
  int peak = 0;
  spin_ms (400);
  for (int i = 0; i < 50; i++) {
    int pk = audio_peak (&s, 960, &got); /* not inside MAX: it pulls */
    peak = MAX (peak, pk);
    total += got;
    spin_ms (20);
  }
  g_print ("  udp audio-only: %u of %u frames from the feed, peak %d\n", total, 50 * 960, peak);
  assert_true (total > 50 * 960 / 2);
  assert_true (peak > 1000);
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  stats: %s, %.1f buffers/s, %d kbit/s\n", sc_ingest_state_to_string (st.state),
           st.fps, st.bitrate_kbps);
  assert_int_equal (st.state, SC_INGEST_LIVE);
  assert_true (st.bitrate_kbps > 0);

  stop_feed (pusher);
  ms = wait_state (&s, SC_INGEST_LOST, 3000);
  g_print ("  audio pusher killed: lost after %d ms\n", ms);
  assert_true (ms >= 0 && ms <= 1000);
  assert_int_equal (audio_peak (&s, 960, &got), 0);

  /* Back: live again, audio flows again. */
  spin_ms (300);
  pusher = push_aac (push, log);
  ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  audio pusher back: live after %d ms\n", ms);
  assert_true (ms >= 0 && ms <= 2500);
  spin_ms (800);
  peak = audio_peak (&s, 960, &got);
  assert_true (got > 0);
  assert_true (peak > 1000);
  stop_feed (pusher);
  sut_free (&s);

  /* A camera feed (video + audio) into an audio-only input: its audio
   * only; the video is not even decoded (no feed size seen). */
  port = sc_test_free_udp_port ();
  g_free (url);
  g_free (push);
  url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  assert_true (sut_new_audio (&s, "COMM2", url, &error));
  sc_ingest_start (s.ingest);
  pusher = push_feed ("640x360", "mpegts", push, NULL, log);
  ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  camera feed into an audio-only input: live after %d ms\n", ms);
  assert_true (ms >= 0);
  spin_ms (800);
  total = 0;
  peak = 0;
  for (int i = 0; i < 25; i++) {
    int pk = audio_peak (&s, 960, &got); /* not inside MAX: it pulls */
    peak = MAX (peak, pk);
    total += got;
    spin_ms (20);
  }
  g_print ("  camera feed audio: %u frames, peak %d\n", total, peak);
  assert_true (total > 0);
  assert_true (peak > 1000);
  assert_null (sc_ingest_pull_video (s.ingest, NULL, NULL));
  sc_ingest_get_stats (s.ingest, &st);
  assert_int_equal (st.state, SC_INGEST_LIVE);
  assert_int_equal (st.width, 0); /* never decoded */
  stop_feed (pusher);
  sut_free (&s);
}

/* Two ffmpeg runs of different sizes back to back into the same port:
 * the station stays (or comes back) live with the same tile size. */
static void
test_resolution_change (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  g_autofree char *log = logpath ("res.log");

  assert_true (sut_new (&s, "R1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  GPid pusher = push_feed ("640x360", "mpegts", push, NULL, log);
  assert_true (wait_state (&s, SC_INGEST_LIVE, 5000) >= 0);
  spin_ms (1000);
  stop_feed (pusher);
  pusher = push_feed ("480x480", "mpegts", push, NULL, log);
  gint64 t0 = g_get_monotonic_time ();
  /* Whatever happened in between, frames come at the tile size from the new feed. */
  gboolean ok = FALSE;
  ScIngestStats st;
  while (g_get_monotonic_time () - t0 < 4 * G_TIME_SPAN_SECOND) {
    spin_ms (50);
    sc_ingest_get_stats (s.ingest, &st);
    if (st.state == SC_INGEST_LIVE && st.width == 480 && st.height == 480) {
      ok = TRUE;
      break;
    }
  }
  g_print ("  resolution change: live at 480x480 after %.0f ms (reconnects %u)\n",
           (g_get_monotonic_time () - t0) / 1000.0, st.reconnects);
  assert_true (ok);
  assert_true (wait_tile (&s, 320, 180, 1000));
  spin_ms (500);
  assert_tile_and_audio (&s, 320, 180, 480, 480);
  stop_feed (pusher);
  sut_free (&s);
}

/* RTP-wrapped MPEG-TS (udp://...?rtp=1). */
static void
test_udp_rtp (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d?rtp=1", port);
  g_autofree char *push = g_strdup_printf ("rtp://127.0.0.1:%d?pkt_size=1328", port);
  g_autofree char *log = logpath ("rtp.log");
  assert_true (sut_new (&s, "P1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  GPid pusher = push_feed ("640x360", "rtp_mpegts", push, NULL, log);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  udp rtp: live %d ms after the pusher started\n", ms);
  if (ms < 0)
    dump_log ("rtp.log");
  assert_true (ms >= 0);
  assert_tile_and_audio (&s, 320, 180, 640, 360);
  stop_feed (pusher);
  sut_free (&s);
}

/* H.265 video and Opus audio in MPEG-TS. */
static void
test_udp_hevc_opus (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  g_autofree char *log = logpath ("hevc.log");
  const char *extra[] = { "-c:v", "libx265", "-x265-params", "log-level=error:keyint=15",
                          "-c:a", "libopus", NULL };
  assert_true (sut_new (&s, "H1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  /* Small, so x265 keeps up on a loaded machine; the tile is the feed
   * size, so the frame is handed on without scaling. */
  GPid pusher = push_feed ("320x180", "mpegts", push, extra, log);
  int ms = wait_state (&s, SC_INGEST_LIVE, 6000);
  g_print ("  udp h265+opus: live %d ms after the pusher started\n", ms);
  if (ms < 0)
    dump_log ("hevc.log");
  assert_true (ms >= 0);
  assert_tile_and_audio (&s, 320, 180, 320, 180);
  stop_feed (pusher);
  sut_free (&s);
}

/* Garbage on the station's port never makes it live and never kills it:
 * the real feed that follows goes live. */
static void
test_udp_garbage (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url = g_strdup_printf ("udp://127.0.0.1:%d", port);
  g_autofree char *push = g_strdup_printf ("udp://127.0.0.1:%d?pkt_size=1316", port);
  g_autofree char *log = logpath ("garbage.log");
  assert_true (sut_new (&s, "G1", url, 30, &error));
  sc_ingest_start (s.ingest);

  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                G_SOCKET_PROTOCOL_UDP, &error);
  assert_non_null (sock);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (lo, port);
  guint8 junk[1316];
  GRand *rand = g_rand_new_with_seed (42);
  gint64 until = g_get_monotonic_time () + 2 * G_TIME_SPAN_SECOND;
  guint sent = 0;
  while (g_get_monotonic_time () < until) {
    for (gsize i = 0; i < sizeof junk; i++)
      junk[i] = g_rand_int (rand);
    /* Every few packets a TS sync byte, so it looks almost like TS. */
    if (sent % 3 == 0)
      junk[0] = 0x47;
    g_socket_send_to (sock, to, (const char *) junk, sizeof junk, NULL, NULL);
    sent++;
    if (sent % 20 == 0)
      spin_ms (10);
  }
  g_rand_free (rand);
  g_object_unref (sock);
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  garbage: %u packets sent, state %s, reconnects %u, last_error \"%s\"\n", sent,
           sc_ingest_state_to_string (st.state), st.reconnects, st.last_error);
  assert_int_not_equal (st.state, SC_INGEST_LIVE);

  GPid pusher = push_feed ("640x360", "mpegts", push, NULL, log);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  garbage then a real feed: live after %d ms\n", ms);
  assert_true (ms >= 0);
  assert_true (ms <= 4000);
  stop_feed (pusher);
  sut_free (&s);
}

#define SRT_PASS "skillcast-secret-1"

static void
test_srt (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url =
    g_strdup_printf ("srt://:%d?passphrase=" SRT_PASS "&streamid=a01&latency=120", port);
  g_autofree char *push = g_strdup_printf (
    "srt://127.0.0.1:%d?mode=caller&passphrase=" SRT_PASS "&streamid=a01&latency=120000", port);
  g_autofree char *log = logpath ("srt.log");

  assert_true (sut_new (&s, "S1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  spin_ms (300);

  /* A caller with the wrong passphrase never gets the station live. */
  {
    g_autofree char *bad = g_strdup_printf (
      "srt://127.0.0.1:%d?mode=caller&passphrase=wrong-secret-99&streamid=a01", port);
    GPid p = push_feed ("640x360", "mpegts", bad, NULL, log);
    int ms = wait_state (&s, SC_INGEST_LIVE, 3000);
    ScIngestStats st;
    sc_ingest_get_stats (s.ingest, &st);
    g_print ("  srt wrong passphrase: state %s, rejected %" G_GUINT64_FORMAT ", last_error \"%s\"\n",
             sc_ingest_state_to_string (st.state), st.rejected, st.last_error);
    assert_int_equal (ms, -1);
    assert_true (strlen (st.last_error) > 0);
    stop_feed (p);
  }
  /* An unknown streamid is refused and counted. */
  {
    g_autofree char *bad = g_strdup_printf (
      "srt://127.0.0.1:%d?mode=caller&passphrase=" SRT_PASS "&streamid=intruder", port);
    ScIngestStats st0, st;
    sc_ingest_get_stats (s.ingest, &st0);
    GPid p = push_feed ("640x360", "mpegts", bad, NULL, log);
    int ms = wait_state (&s, SC_INGEST_LIVE, 2500);
    sc_ingest_get_stats (s.ingest, &st);
    g_print ("  srt unknown streamid: state %s, rejected %" G_GUINT64_FORMAT ", last_error \"%s\"\n",
             sc_ingest_state_to_string (st.state), st.rejected, st.last_error);
    assert_int_equal (ms, -1);
    assert_true (st.rejected > st0.rejected);
    assert_non_null (strstr (st.last_error, "intruder"));
    stop_feed (p);
  }
  /* The right caller goes live. */
  GPid pusher = push_feed ("640x360", "mpegts", push, NULL, log);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  srt: live %d ms after the pusher started\n", ms);
  if (ms < 0)
    dump_log ("srt.log");
  assert_true (ms >= 0);
  assert_tile_and_audio (&s, 320, 180, 640, 360);
  kill_and_return (&s, &pusher, "640x360", "mpegts", push, NULL, "srt.log");
  stop_feed (pusher);
  sut_free (&s);
}

/* The station calls an SRT listener (here ffmpeg listening); the listener
 * going away makes it lost, and it calls again with backoff. */
static void
test_srt_caller (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  int port = sc_test_free_udp_port ();
  g_autofree char *url =
    g_strdup_printf ("srt://127.0.0.1:%d?mode=caller&passphrase=" SRT_PASS "&streamid=a02", port);
  g_autofree char *listen =
    g_strdup_printf ("srt://127.0.0.1:%d?mode=listener&passphrase=" SRT_PASS, port);
  g_autofree char *log = logpath ("srt-caller.log");

  GPid pusher = push_feed ("640x360", "mpegts", listen, NULL, log);
  spin_ms (500);
  assert_true (sut_new (&s, "A02", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  srt caller: live after %d ms\n", ms);
  if (ms < 0)
    dump_log ("srt-caller.log");
  assert_true (ms >= 0);
  assert_true (wait_tile (&s, 320, 180, 1000));

  stop_feed (pusher);
  ms = wait_state (&s, SC_INGEST_LOST, 3000);
  g_print ("  srt listener killed: lost after %d ms\n", ms);
  assert_true (ms >= 0 && ms <= 1000);
  /* Nobody listens for a while: the caller keeps failing, with backoff. */
  spin_ms (1500);
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  while nobody listens: %s, reconnects %u, last_error \"%s\"\n",
           sc_ingest_state_to_string (st.state), st.reconnects, st.last_error);
  assert_int_not_equal (st.state, SC_INGEST_LIVE);
  pusher = push_feed ("640x360", "mpegts", listen, NULL, log);
  ms = wait_state (&s, SC_INGEST_LIVE, 8000);
  g_print ("  srt listener back: live after %d ms\n", ms);
  assert_true (ms >= 0);
  stop_feed (pusher);
  sut_free (&s);
}

static ScTestNginx nginx; /* stopped by after_test even when a test fails */

static void
test_rtmp (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  if (!sc_test_nginx_start (&nginx, "application live { live on; }", NULL))
    fail_msg ("nginx-rtmp did not start");
  g_autofree char *url = g_strdup_printf ("rtmp://127.0.0.1:%d/live/a03", nginx.rtmp_port);
  g_autofree char *log = logpath ("rtmp.log");

  GPid pusher = push_feed ("640x360", "flv", url, NULL, log);
  spin_ms (500);
  assert_true (sut_new (&s, "A03", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  int ms = wait_state (&s, SC_INGEST_LIVE, 5000);
  g_print ("  rtmp: live after %d ms\n", ms);
  if (ms < 0)
    dump_log ("rtmp.log");
  assert_true (ms >= 0);
  assert_tile_and_audio (&s, 320, 180, 640, 360);

  /* The pusher goes away: lost; it comes back: the station pulls again
   * (backoff 0.5 s first). */
  stop_feed (pusher);
  ms = wait_state (&s, SC_INGEST_LOST, 3000);
  g_print ("  rtmp pusher killed: lost after %d ms\n", ms);
  assert_true (ms >= 0 && ms <= 1000);
  pusher = push_feed ("640x360", "flv", url, NULL, log);
  ms = wait_state (&s, SC_INGEST_LIVE, 8000);
  g_print ("  rtmp pusher back: live after %d ms\n", ms);
  assert_true (ms >= 0);
  stop_feed (pusher);
  sut_free (&s);
}

static char *
make_file (const char *name, int seconds)
{
  char *path = logpath (name);
  g_autofree char *dur = g_strdup_printf ("%d", seconds);
  char *argv[] = { "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                   "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i",
                   "sine=frequency=440:sample_rate=48000", "-t", dur, "-c:v", "libx264",
                   "-preset", "ultrafast", "-g", "30", "-c:a", "aac", path, NULL };
  assert_int_equal (sc_test_run (argv, 30000, NULL, NULL), 0);
  return path;
}

static void
test_file_loop (void **state)
{
  StationUnderTest s;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = make_file ("clip.mp4", 2);
  g_autofree char *url = g_strdup_printf ("file://%s?loop=true", path);

  assert_true (sut_new (&s, "F1", url, 30, &error));
  sc_ingest_set_tile_size (s.ingest, 320, 180);
  sc_ingest_start (s.ingest);
  int ms = wait_state (&s, SC_INGEST_LIVE, 3000);
  g_print ("  file: live after %d ms\n", ms);
  assert_true (ms >= 0);
  guint changes = s.changes;
  /* 5 s of a 2 s clip: loops twice and never leaves live. */
  spin_ms (5000);
  ScIngestStats st;
  sc_ingest_get_stats (s.ingest, &st);
  g_print ("  file loop: %s after 5 s, frames %" G_GUINT64_FORMAT ", fps %.1f\n",
           sc_ingest_state_to_string (st.state), st.frames, st.fps);
  assert_int_equal (st.state, SC_INGEST_LIVE);
  assert_int_equal (s.changes, changes);
  assert_true (st.frames >= 130); /* plays at its rate: ~5 s x 30 */
  assert_true (st.frames <= 190);
  assert_int_equal (st.width, 640);
  sut_free (&s);

  /* Without loop: plays once, then lost for good ("end of stream"). */
  g_autofree char *once = g_strdup_printf ("file://%s", path);
  assert_true (sut_new (&s, "F2", once, 30, &error));
  sc_ingest_start (s.ingest);
  assert_true (wait_state (&s, SC_INGEST_LIVE, 3000) >= 0);
  ms = wait_state (&s, SC_INGEST_LOST, 4000);
  g_print ("  file without loop: lost after %d ms of live\n", ms);
  assert_true (ms >= 1500);
  sc_ingest_get_stats (s.ingest, &st);
  assert_string_equal (st.last_error, "end of stream");
  spin_ms (1500);
  sc_ingest_get_stats (s.ingest, &st);
  assert_int_equal (st.state, SC_INGEST_LOST);
  assert_int_equal (st.reconnects, 0);
  sut_free (&s);
}

static int
after_test (void **state)
{
  stop_all_feeds (state);
  if (nginx.dir)
    sc_test_nginx_stop (&nginx);
  return 0;
}

int
main (void)
{
  gst_init (NULL, NULL);
  if (g_getenv ("SC_TEST_FILTER"))
    cmocka_set_test_filter (g_getenv ("SC_TEST_FILTER"));
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (test_udp, after_test),
    cmocka_unit_test_teardown (test_udp_audio_only, after_test),
    cmocka_unit_test_teardown (test_resolution_change, after_test),
    cmocka_unit_test_teardown (test_udp_rtp, after_test),
    cmocka_unit_test_teardown (test_udp_hevc_opus, after_test),
    cmocka_unit_test_teardown (test_udp_garbage, after_test),
    cmocka_unit_test_teardown (test_srt, after_test),
    cmocka_unit_test_teardown (test_srt_caller, after_test),
    cmocka_unit_test_teardown (test_rtmp, after_test),
    cmocka_unit_test_teardown (test_file_loop, after_test),
  };
  return cmocka_run_group_tests (tests, ingest_tmpdir_setup, ingest_tmpdir_teardown);
}
