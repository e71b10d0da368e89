/* ingest — one GstPipeline per station: source → decode → I420 → appsink,
 * whose callback scales the frame to the tile size into a one-slot "latest
 * frame" holder, plus an audio branch into a small ring. A GLib timer on the main loop runs the
 * health state machine; each pipeline has its own bus watch.
 *
 * Scaling to the tile is done with libswscale in the video appsink's
 * callback rather than with videoconvertscale: on this machine swscale
 * scales 720p to 640x360 about 3x cheaper than GStreamer's ORC scaler, and
 * it is the largest cost of a station after the decoder (bench/ingest).
 * It also makes a tile size change take effect on the very next frame.
 *
 * Locking: ScIngest.lock guards the frame slot, the audio ring, the tile
 * size and the stats strings. It is only ever held for a pointer swap, a
 * memcpy or a few field reads: streaming threads never wait on the main
 * loop, and the main loop never holds it across a state change.
 * The lock is uncontended in practice (one frame per 33 ms), so the
 * counters live under it too rather than in 64-bit atomics.
 */
#include "ingest/ingest.h"

#include "ingest/ingest-srt.h"

#include <gio/gio.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/audio/audio.h>
#include <gst/video/video.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <string.h>

/* Shared with ingest-srt.c. */
GST_DEBUG_CATEGORY (sc_ingest_debug);
#define GST_CAT_DEFAULT sc_ingest_debug

G_DEFINE_QUARK (sc-ingest-error-quark, sc_ingest_error)

#define DEFAULT_TILE_WIDTH 640
#define DEFAULT_TILE_HEIGHT 360
#define TEST_SOURCE_WIDTH 1280
#define TEST_SOURCE_HEIGHT 720

#define HEALTH_PERIOD_MS 100
#define STALL_US (500 * G_TIME_SPAN_MILLISECOND)
/* Pull sources (caller, rtmp, rtsp, file) that deliver no frame this long
 * after a (re)build are torn down and retried. Listeners wait forever. */
#define CONNECT_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)
#define BACKOFF_MIN_S 0.5
#define BACKOFF_MAX_S 10.0
/* Listener sources (udp, srt listener) hammer nobody when rebuilt, and a
 * pusher that comes back must be seen at once: short backoff. */
#define LISTENER_BACKOFF_MIN_S 0.1
#define LISTENER_BACKOFF_MAX_S 2.0
#define BACKOFF_RESET_LIVE_US (5 * G_TIME_SPAN_SECOND)

#define SRT_POLL_MS 100

#define AUDIO_BPF (SC_AUDIO_CHANNELS * (int) sizeof (gint16)) /* bytes per frame */
#define AUDIO_RING_FRAMES SC_AUDIO_RATE                        /* 1 s */
#define MS_FRAMES(ms) ((guint) (SC_AUDIO_RATE * (ms) / 1000))
/* The jitter cushion audio waits for before it plays (after a connect or
 * an underrun): the longest gap seen between audio arrivals plus a
 * margin, within these bounds. Audio does not always arrive smoothly:
 * FFmpeg's MPEG-TS muxer (OBS, ffmpeg pushers) packs ~350 ms of AAC into
 * one PES packet, so it arrives in bursts 350 ms apart. */
#define AUDIO_PRIME_MIN_FRAMES MS_FRAMES (60)
#define AUDIO_PRIME_MAX_FRAMES MS_FRAMES (600)
#define AUDIO_PRIME_MARGIN_US (40 * G_TIME_SPAN_MILLISECOND)
#define AUDIO_GAP_WINDOW_US (3 * G_TIME_SPAN_SECOND)
/* Latency/drift control: over each window the lowest fill after a pull is
 * the cushion that was never needed. When it is more than SPARE + SLACK
 * the oldest audio is dropped down to SPARE (a feed whose clock runs ahead
 * of the program's, or a cushion a burst left behind). */
#define AUDIO_TRIM_WINDOW_US (3 * G_TIME_SPAN_SECOND)
#define AUDIO_SPARE_FRAMES MS_FRAMES (50)
#define AUDIO_SLACK_FRAMES MS_FRAMES (50)
/* Audio whose timestamp jumps by more than this is a new stream (a pusher
 * restarted into a kept UDP socket, a file looping): the ring restarts. */
#define AUDIO_DISCONT_NS (200 * GST_MSECOND)

/* A/V sync: decoded tiles wait in a queue and pull_video hands out the one
 * whose timestamp matches the audio the program is pulling (see
 * audio_clock). At most this many, and none older than VIDEO_QUEUE_NS
 * behind the newest. */
#define VIDEO_QUEUE_MAX 40
#define VIDEO_QUEUE_NS (GST_SECOND)
/* The program stopped pulling this station's audio this long ago: its
 * audio no longer paces the video (the newest frame is shown). */
#define AUDIO_PULL_STALE_US (250 * G_TIME_SPAN_MILLISECOND)
#define AUDIO_FLOW_STALE_US (1 * G_TIME_SPAN_SECOND)

typedef struct {
  /* test:// */
  char *pattern;
  double tone_hz; /* 0: silence */
  /* file:// */
  char *path;
  gboolean loop;
  /* udp:// srt:// */
  char *host; /* NULL or "" = any */
  int port;
  gboolean rtp;
  /* srt:// */
  gboolean listener;
  char *passphrase;
  int pbkeylen;
  char *streamid;
  int latency_ms; /* -1 = element default */
  /* rtmp:// rtsp:// */
  char *location;
  gboolean rtsp_udp;
  /* v4l2:// */
  char *device;
} ScSourceSpec;

typedef struct ScIngest ScIngest;

/* A scaled tile waiting in the video queue. */
typedef struct {
  GstBuffer *buf;
  GstClockTime ts; /* running time in its pipeline, NONE when unknown */
  int w, h;
} ScTile;

/* One build of a station's pipeline. Streaming-thread callbacks get the run,
 * not the station, so that a pipeline being torn down on the reaper thread
 * can never write into the station once it is marked dead. */
typedef struct {
  ScIngest *ingest; /* outlives the run: sc_ingest_free waits for the reaper */
  GstElement *pipeline;
  /* ingest->lock: */
  gboolean dead;
  gboolean have_video, have_audio;
  /* video streaming thread only (freed by the reaper after it stopped): */
  GstCaps *in_caps;          /* caps IN_INFO was read from */
  GstVideoInfo in_info;      /* the decoded feed, I420 */
  GstBufferPool *pool;       /* tiles of OUT_INFO's size */
  GstVideoInfo out_info;
  struct SwsContext *sws;
} ScRun;

struct ScIngest {
  char *id;
  char *source_redacted;
  ScSourceKind kind;
  ScSourceSpec spec;
  int fps;
  /* An audio-only feed (sc_ingest_new_audio): no video branch, the health
   * state machine runs on audio buffers. */
  gboolean audio_only;
  /* SRT listener: the station's place on its port's listener
   * (ingest-srt.c), which pushes its caller's bytes into the appsrc. */
  ScSrtStation *srt;
  ScIngestCallbacks callbacks;
  GMainContext *context;

  /* Main loop only. */
  ScRun *run; /* the current pipeline, or NULL */
  gboolean kept; /* LOST but the listener pipeline was kept up */
  GSource *health_timer;
  GSource *rebuild_timer;
  gboolean running;
  double backoff_s;
  gint64 built_us;     /* when the current pipeline was built */
  gint64 live_since_us;
  gint64 window_start_us;
  guint64 window_frames;
  guint64 window_bytes;
  gboolean ended; /* file without loop reached its end: stays lost */

  /* Written by the main loop, read anywhere. */
  gint state; /* ScIngestState, atomic */

  gint rejected; /* atomic: libsrt's thread */

  GMutex lock;
  /* lock: */
  /* Video queue, oldest first (circular): see VIDEO_QUEUE_MAX. */
  ScTile tiles[VIDEO_QUEUE_MAX];
  guint tiles_head, tiles_n;
  guint64 frames;       /* total frames into the queue */
  guint64 bytes;        /* compressed bytes from the source */
  gint64 last_video_us; /* monotonic time of the newest frame (audio buffer when audio-only) */
  int tile_w, tile_h;
  guint reaping; /* pipelines still being torn down on reaper threads */
  GCond reaped;
  int feed_w, feed_h;
  double stat_fps;
  int stat_kbps;
  guint reconnects;
  char last_error[256];
  /* Audio ring, timestamped: the sample at ring_read has running time
   * ring_end_ts - ring_fill samples. */
  gint16 *ring;
  guint ring_read;  /* index in frames */
  guint ring_fill;  /* frames */
  gboolean ring_primed;
  GstClockTime ring_end_ts; /* just after the newest sample; NONE: unknown */
  gint64 audio_write_us;    /* arrival of the newest audio buffer, 0: none yet */
  gint64 gap_max_us[2];     /* longest gap between arrivals: this window, last one */
  gint64 gap_window_us;
  guint fill_min;           /* lowest fill after a pull in this trim window */
  gint64 trim_window_us;    /* 0: no clean window running (underrun, priming) */
  gint64 pulled_us; /* when the program last pulled audio */
};

static void ingest_build (ScIngest *ingest);
static void ingest_teardown (ScIngest *ingest);
static void ingest_lost (ScIngest *ingest, const char *why, gboolean rebuild);

/* ---------- helpers ---------- */

static void
spec_clear (ScSourceSpec *s)
{
  g_free (s->pattern);
  g_free (s->path);
  g_free (s->host);
  g_free (s->passphrase);
  g_free (s->streamid);
  g_free (s->location);
  g_free (s->device);
  memset (s, 0, sizeof *s);
}

static void
set_last_error (ScIngest *ingest, const char *msg)
{
  g_mutex_lock (&ingest->lock);
  g_strlcpy (ingest->last_error, msg ? msg : "", sizeof ingest->last_error);
  g_mutex_unlock (&ingest->lock);
}

static gboolean
parse_bool (const char *v, gboolean *out)
{
  if (!g_ascii_strcasecmp (v, "true") || !strcmp (v, "1") || !g_ascii_strcasecmp (v, "yes")) {
    *out = TRUE;
    return TRUE;
  }
  if (!g_ascii_strcasecmp (v, "false") || !strcmp (v, "0") || !g_ascii_strcasecmp (v, "no")) {
    *out = FALSE;
    return TRUE;
  }
  return FALSE;
}

static gboolean
parse_int (const char *v, int min, int max, int *out)
{
  gint64 n;
  if (!g_ascii_string_to_signed (v, 10, min, max, &n, NULL))
    return FALSE;
  *out = (int) n;
  return TRUE;
}

static gboolean
test_pattern_valid (const char *nick)
{
  GstElement *src = gst_element_factory_make ("videotestsrc", NULL);
  gboolean ok = FALSE;
  if (!src)
    return FALSE;
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
  if (ps && G_IS_PARAM_SPEC_ENUM (ps))
    ok = g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (ps)->enum_class, nick) != NULL;
  gst_object_unref (src);
  return ok;
}

/* Turns a station's source URL into a spec. Only options we know are
 * accepted, so a typo ("pasphrase") is an error rather than a silently
 * unencrypted feed. */
static gboolean
parse_source (const char *url, ScSourceKind *kind, ScSourceSpec *spec, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GHashTable) params = NULL;
  const char *scheme, *query;

  memset (spec, 0, sizeof *spec);
  if (!url || !*url) {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "empty source URL");
    return FALSE;
  }
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED_QUERY | G_URI_FLAGS_NON_DNS, &err);
  if (!uri) {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "bad source URL: %s",
                 err->message);
    return FALSE;
  }
  scheme = g_uri_get_scheme (uri);
  query = g_uri_get_query (uri);
  if (query) {
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, &err);
    if (!params) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "bad query in source URL: %s",
                   err->message);
      return FALSE;
    }
  } else {
    params = g_hash_table_new (g_str_hash, g_str_equal);
  }
  const char *host = g_uri_get_host (uri);
  int port = g_uri_get_port (uri);
  GHashTableIter it;
  const char *k, *v;

#define BAD_OPTION()                                                                          \
  do {                                                                                        \
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,                              \
                 "%s source: bad option %s=%s", scheme, k, v);                                \
    return FALSE;                                                                             \
  } while (0)

  spec->latency_ms = -1;
  g_hash_table_iter_init (&it, params);

  if (!g_ascii_strcasecmp (scheme, "test")) {
    *kind = SC_SOURCE_TEST;
    spec->pattern = g_strdup (host && *host ? host : "smpte");
    if (!test_pattern_valid (spec->pattern)) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                   "test source: unknown pattern \"%s\" (a videotestsrc pattern: smpte, ball, "
                   "snow, colors, ...)",
                   spec->pattern);
      return FALSE;
    }
    while (g_hash_table_iter_next (&it, (gpointer *) &k, (gpointer *) &v)) {
      if (!strcmp (k, "tone")) {
        int hz;
        if (!parse_int (v, 1, 20000, &hz))
          BAD_OPTION ();
        spec->tone_hz = hz;
      } else
        BAD_OPTION ();
    }
  } else if (!g_ascii_strcasecmp (scheme, "file")) {
    *kind = SC_SOURCE_FILE;
    const char *path = g_uri_get_path (uri);
    if (!path || !*path) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "file source: no path");
      return FALSE;
    }
    spec->path = g_strdup (path);
    while (g_hash_table_iter_next (&it, (gpointer *) &k, (gpointer *) &v)) {
      if (!strcmp (k, "loop")) {
        if (!parse_bool (v, &spec->loop))
          BAD_OPTION ();
      } else
        BAD_OPTION ();
    }
  } else if (!g_ascii_strcasecmp (scheme, "udp")) {
    *kind = SC_SOURCE_UDP;
    if (port <= 0 || port > 65535) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "udp source: no port");
      return FALSE;
    }
    spec->host = g_strdup (host && *host ? host : "0.0.0.0");
    spec->port = port;
    while (g_hash_table_iter_next (&it, (gpointer *) &k, (gpointer *) &v)) {
      if (!strcmp (k, "rtp")) {
        if (!parse_bool (v, &spec->rtp))
          BAD_OPTION ();
      } else
        BAD_OPTION ();
    }
  } else if (!g_ascii_strcasecmp (scheme, "srt")) {
    *kind = SC_SOURCE_SRT;
    if (port <= 0 || port > 65535) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "srt source: no port");
      return FALSE;
    }
    spec->host = g_strdup (host ? host : "");
    spec->port = port;
    spec->listener = !*spec->host;
    while (g_hash_table_iter_next (&it, (gpointer *) &k, (gpointer *) &v)) {
      if (!strcmp (k, "mode")) {
        if (!strcmp (v, "listener"))
          spec->listener = TRUE;
        else if (!strcmp (v, "caller"))
          spec->listener = FALSE;
        else
          BAD_OPTION ();
      } else if (!strcmp (k, "passphrase")) {
        if (strlen (v) < 10 || strlen (v) > 79) {
          g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                       "srt source: passphrase must be 10 to 79 characters");
          return FALSE;
        }
        g_free (spec->passphrase);
        spec->passphrase = g_strdup (v);
      } else if (!strcmp (k, "pbkeylen")) {
        if (!parse_int (v, 0, 32, &spec->pbkeylen) ||
            (spec->pbkeylen != 0 && spec->pbkeylen != 16 && spec->pbkeylen != 24 &&
             spec->pbkeylen != 32))
          BAD_OPTION ();
      } else if (!strcmp (k, "streamid")) {
        g_free (spec->streamid);
        spec->streamid = g_strdup (v);
      } else if (!strcmp (k, "latency")) {
        if (!parse_int (v, 0, 60000, &spec->latency_ms))
          BAD_OPTION ();
      } else
        BAD_OPTION ();
    }
    if (!spec->listener && !*spec->host) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                   "srt source: caller mode needs a host");
      return FALSE;
    }
  } else if (!g_ascii_strcasecmp (scheme, "rtmp") || !g_ascii_strcasecmp (scheme, "rtmps")) {
    *kind = SC_SOURCE_RTMP;
    if (!host || !*host || !g_uri_get_path (uri) || strlen (g_uri_get_path (uri)) < 2) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                   "rtmp source: expected rtmp://host[:port]/app/stream");
      return FALSE;
    }
    spec->location = g_strdup (url);
  } else if (!g_ascii_strcasecmp (scheme, "rtsp") || !g_ascii_strcasecmp (scheme, "rtsps")) {
    *kind = SC_SOURCE_RTSP;
    if (!host || !*host) {
      g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "rtsp source: no host");
      return FALSE;
    }
    /* Our own options are taken out; anything else in the query belongs to
     * the camera's URL and is passed on. */
    GString *q = g_string_new (NULL);
    while (g_hash_table_iter_next (&it, (gpointer *) &k, (gpointer *) &v)) {
      if (!strcmp (k, "transport")) {
        if (!strcmp (v, "udp"))
          spec->rtsp_udp = TRUE;
        else if (!strcmp (v, "tcp"))
          spec->rtsp_udp = FALSE;
        else {
          g_string_free (q, TRUE);
          BAD_OPTION ();
        }
      } else if (!strcmp (k, "latency")) {
        if (!parse_int (v, 0, 60000, &spec->latency_ms)) {
          g_string_free (q, TRUE);
          BAD_OPTION ();
        }
      } else {
        g_string_append_printf (q, "%s%s=%s", q->len ? "&" : "", k, v);
      }
    }
    g_autoptr (GUri) clean = g_uri_build (g_uri_get_flags (uri), g_uri_get_scheme (uri),
                                          g_uri_get_userinfo (uri), host, port,
                                          g_uri_get_path (uri), q->len ? q->str : NULL, NULL);
    g_string_free (q, TRUE);
    spec->location = g_uri_to_string (clean);
  } else if (!g_ascii_strcasecmp (scheme, "v4l2")) {
    *kind = SC_SOURCE_V4L2;
    const char *path = g_uri_get_path (uri);
    spec->device = g_strdup (path && *path ? path : "/dev/video0");
    while (g_hash_table_iter_next (&it, (gpointer *) &k, (gpointer *) &v))
      BAD_OPTION ();
  } else {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                 "unknown scheme \"%s\" (expected srt, rtmp, rtsp, udp, file, v4l2, test)", scheme);
    return FALSE;
  }
#undef BAD_OPTION
  return TRUE;
}

static gboolean
is_listener (ScIngest *ingest)
{
  return ingest->kind == SC_SOURCE_UDP || (ingest->kind == SC_SOURCE_SRT && ingest->spec.listener);
}

/* UDP has no connection: the socket a pusher comes back to is the one we
 * have, so a quiet UDP station keeps its pipeline (and catches the returning
 * stream's first keyframe). An SRT listener station is rebuilt (its
 * returning caller is a new connection and a new stream; the port's
 * listener stays open, so the rebuild costs only the decoder). */
static gboolean
keeps_pipeline_when_quiet (ScIngest *ingest)
{
  return ingest->kind == SC_SOURCE_UDP;
}

static void
set_state (ScIngest *ingest, ScIngestState state)
{
  if ((ScIngestState) g_atomic_int_get (&ingest->state) == state)
    return;
  GST_INFO ("station %s: %s -> %s", ingest->id,
            sc_ingest_state_to_string (g_atomic_int_get (&ingest->state)),
            sc_ingest_state_to_string (state));
  g_atomic_int_set (&ingest->state, state);
  if (ingest->callbacks.state_changed)
    ingest->callbacks.state_changed (ingest, state, ingest->callbacks.user_data);
}

static GstCaps *
tile_caps (int w, int h)
{
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                              w, "height", G_TYPE_INT, h, "pixel-aspect-ratio", GST_TYPE_FRACTION,
                              1, 1, "framerate", GST_TYPE_FRACTION, 0, 1, NULL);
}

/* ---------- streaming-thread side ---------- */

/* A pool of tiles of W x H, made again when the tile size changes. */
static gboolean
ensure_pool (ScRun *run, int w, int h)
{
  if (run->pool && GST_VIDEO_INFO_WIDTH (&run->out_info) == w &&
      GST_VIDEO_INFO_HEIGHT (&run->out_info) == h)
    return TRUE;
  if (run->pool) {
    gst_buffer_pool_set_active (run->pool, FALSE);
    gst_clear_object (&run->pool);
  }
  GstCaps *caps = tile_caps (w, h);
  gst_video_info_from_caps (&run->out_info, caps);
  run->pool = gst_video_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (run->pool);
  /* No maximum: the mixer may hold a few tiles, and a streaming thread
   * must never wait for it. */
  gst_buffer_pool_config_set_params (config, caps, GST_VIDEO_INFO_SIZE (&run->out_info), 2, 0);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_caps_unref (caps);
  if (!gst_buffer_pool_set_config (run->pool, config) ||
      !gst_buffer_pool_set_active (run->pool, TRUE)) {
    gst_clear_object (&run->pool);
    return FALSE;
  }
  return TRUE;
}

/* Fills a rectangle of an I420 frame with black. */
static void
fill_black (GstVideoFrame *f, int x, int y, int w, int h)
{
  for (int p = 0; p < 3; p++) {
    int px = p ? x / 2 : x, py = p ? y / 2 : y, pw = p ? w / 2 : w, ph = p ? h / 2 : h;
    guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (f, p);
    int stride = GST_VIDEO_FRAME_PLANE_STRIDE (f, p);
    for (int row = py; row < py + ph; row++)
      memset (d + (gsize) row * stride + px, p ? 128 : 16, pw);
  }
}

/* The decoded frame IN scaled into a new tile of W x H, the picture's
 * aspect ratio kept with black borders. NULL on failure. */
static GstBuffer *
scale_to_tile (ScRun *run, GstBuffer *in, int w, int h)
{
  GstVideoInfo *ii = &run->in_info;
  int sw = GST_VIDEO_INFO_WIDTH (ii), sh = GST_VIDEO_INFO_HEIGHT (ii);
  if (!ensure_pool (run, w, h))
    return NULL;

  /* Where the picture goes: the largest even-sized rectangle with the
   * feed's display aspect ratio, centred. */
  double dar = (double) sw * GST_VIDEO_INFO_PAR_N (ii) / ((double) sh * GST_VIDEO_INFO_PAR_D (ii));
  int dw = w, dh = h;
  if (dar > (double) w / h)
    dh = MIN (h, ((int) (w / dar + 0.5) + 1) & ~1);
  else
    dw = MIN (w, ((int) (h * dar + 0.5) + 1) & ~1);
  dw = MAX (dw, 2);
  dh = MAX (dh, 2);
  int dx = ((w - dw) / 2) & ~1, dy = ((h - dh) / 2) & ~1;

  run->sws = sws_getCachedContext (run->sws, sw, sh, AV_PIX_FMT_YUV420P, dw, dh,
                                   AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
  if (!run->sws)
    return NULL;

  GstBuffer *out = NULL;
  if (gst_buffer_pool_acquire_buffer (run->pool, &out, NULL) != GST_FLOW_OK)
    return NULL;
  GstVideoFrame fi, fo;
  if (!gst_video_frame_map (&fi, ii, in, GST_MAP_READ)) {
    gst_buffer_unref (out);
    return NULL;
  }
  if (!gst_video_frame_map (&fo, &run->out_info, out, GST_MAP_WRITE)) {
    gst_video_frame_unmap (&fi);
    gst_buffer_unref (out);
    return NULL;
  }
  const guint8 *src[4] = { 0 };
  int src_stride[4] = { 0 };
  guint8 *dst[4] = { 0 };
  int dst_stride[4] = { 0 };
  for (int p = 0; p < 3; p++) {
    src[p] = GST_VIDEO_FRAME_PLANE_DATA (&fi, p);
    src_stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&fi, p);
    dst_stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&fo, p);
    int px = p ? dx / 2 : dx, py = p ? dy / 2 : dy;
    dst[p] = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&fo, p) + (gsize) py * dst_stride[p] + px;
  }
  if (dy > 0) {
    fill_black (&fo, 0, 0, w, dy);
    fill_black (&fo, 0, dy + dh, w, h - dy - dh);
  }
  if (dx > 0) {
    fill_black (&fo, 0, dy, dx, dh);
    fill_black (&fo, dx + dw, dy, w - dx - dw, dh);
  }
  sws_scale (run->sws, src, src_stride, 0, sh, dst, dst_stride);
  gst_video_frame_unmap (&fo);
  gst_video_frame_unmap (&fi);
  GST_BUFFER_PTS (out) = GST_BUFFER_PTS (in);
  GST_BUFFER_DURATION (out) = GST_BUFFER_DURATION (in);
  return out;
}

static void
ring_put (ScIngest *ingest, const gint16 *data, guint n)
{
  /* Only the newest AUDIO_RING_FRAMES matter. */
  if (n > AUDIO_RING_FRAMES) {
    if (data)
      data += (gsize) (n - AUDIO_RING_FRAMES) * SC_AUDIO_CHANNELS;
    n = AUDIO_RING_FRAMES;
  }
  if (ingest->ring_fill + n > AUDIO_RING_FRAMES) {
    guint drop = ingest->ring_fill + n - AUDIO_RING_FRAMES;
    ingest->ring_read = (ingest->ring_read + drop) % AUDIO_RING_FRAMES;
    ingest->ring_fill -= drop;
  }
  guint w = (ingest->ring_read + ingest->ring_fill) % AUDIO_RING_FRAMES;
  guint first = MIN (n, AUDIO_RING_FRAMES - w);
  gint16 *dst = ingest->ring + (gsize) w * SC_AUDIO_CHANNELS;
  /* DATA NULL: silence (a gap in the feed's timestamps). */
  if (data)
    memcpy (dst, data, (gsize) first * AUDIO_BPF);
  else
    memset (dst, 0, (gsize) first * AUDIO_BPF);
  if (n > first) {
    if (data)
      memcpy (ingest->ring, data + (gsize) first * SC_AUDIO_CHANNELS,
              (gsize) (n - first) * AUDIO_BPF);
    else
      memset (ingest->ring, 0, (gsize) (n - first) * AUDIO_BPF);
  }
  ingest->ring_fill += n;
}

static void
ring_reset (ScIngest *ingest)
{
  ingest->ring_fill = ingest->ring_read = 0;
  ingest->ring_primed = FALSE;
  ingest->ring_end_ts = GST_CLOCK_TIME_NONE;
  ingest->trim_window_us = 0;
}

/* N frames of audio with running time TS (NONE: unknown) arrived at NOW.
 * Lock held. */
static void
ring_write (ScIngest *ingest, const gint16 *data, guint n, GstClockTime ts, gint64 now)
{
  /* The longest gap between arrivals sets the jitter cushion. */
  if (ingest->audio_write_us) {
    gint64 gap = now - ingest->audio_write_us;
    ingest->gap_max_us[0] = MAX (ingest->gap_max_us[0], gap);
  }
  if (now - ingest->gap_window_us >= AUDIO_GAP_WINDOW_US) {
    ingest->gap_max_us[1] = ingest->gap_max_us[0];
    ingest->gap_max_us[0] = 0;
    ingest->gap_window_us = now;
  }
  ingest->audio_write_us = now;

  if (GST_CLOCK_TIME_IS_VALID (ts) && GST_CLOCK_TIME_IS_VALID (ingest->ring_end_ts)) {
    GstClockTimeDiff d = GST_CLOCK_DIFF (ingest->ring_end_ts, ts);
    if (d > AUDIO_DISCONT_NS || d < -AUDIO_DISCONT_NS) {
      GST_DEBUG ("station %s: audio timestamps jump by %" G_GINT64_FORMAT " ms: ring restarted",
                 ingest->id, d / GST_MSECOND);
      ring_reset (ingest);
    } else if (d > 2 * GST_MSECOND) {
      /* Audio missing from the feed: silence in its place keeps the
       * ring's timestamps (and so the lip sync) right. */
      ring_put (ingest, NULL, (guint) gst_util_uint64_scale (d, SC_AUDIO_RATE, GST_SECOND));
    } else if (d < -2 * GST_MSECOND) {
      /* Overlaps what we have: keep only the new part. */
      guint skip = (guint) gst_util_uint64_scale (-d, SC_AUDIO_RATE, GST_SECOND);
      if (skip >= n)
        return;
      data += (gsize) skip * SC_AUDIO_CHANNELS;
      n -= skip;
      ts = ingest->ring_end_ts;
    }
  }
  ring_put (ingest, data, n);
  if (GST_CLOCK_TIME_IS_VALID (ts))
    ingest->ring_end_ts = ts + gst_util_uint64_scale (n, GST_SECOND, SC_AUDIO_RATE);
  else if (GST_CLOCK_TIME_IS_VALID (ingest->ring_end_ts))
    ingest->ring_end_ts += gst_util_uint64_scale (n, GST_SECOND, SC_AUDIO_RATE);
}

/* Running time of the sample at the ring's read position. Lock held. */
static GstClockTime
ring_read_ts (ScIngest *ingest)
{
  GstClockTime fill = gst_util_uint64_scale (ingest->ring_fill, GST_SECOND, SC_AUDIO_RATE);
  if (!GST_CLOCK_TIME_IS_VALID (ingest->ring_end_ts) || ingest->ring_end_ts < fill)
    return GST_CLOCK_TIME_NONE;
  return ingest->ring_end_ts - fill;
}

/* The running time of the audio the program plays now for this station,
 * or NONE when its audio does not pace the video (no audio in the feed,
 * or the program is not pulling it). Lock held. */
static GstClockTime
audio_clock (ScIngest *ingest, gint64 now)
{
  if (!ingest->audio_write_us || now - ingest->audio_write_us > AUDIO_FLOW_STALE_US)
    return GST_CLOCK_TIME_NONE;
  if (!ingest->pulled_us || now - ingest->pulled_us > AUDIO_PULL_STALE_US)
    return GST_CLOCK_TIME_NONE;
  /* The next sample the program will play; with the ring empty (audio
   * ran dry), the one that comes next: the picture waits with the sound
   * rather than run ahead of it. Before the cushion is full the oldest
   * buffered sample, so the picture starts with the sound. */
  return ring_read_ts (ingest);
}

static void
tiles_drop_oldest (ScIngest *ingest)
{
  ScTile *t = &ingest->tiles[ingest->tiles_head];
  gst_buffer_unref (t->buf);
  t->buf = NULL;
  ingest->tiles_head = (ingest->tiles_head + 1) % VIDEO_QUEUE_MAX;
  ingest->tiles_n--;
}

static ScTile *
tile_at (ScIngest *ingest, guint i)
{
  return &ingest->tiles[(ingest->tiles_head + i) % VIDEO_QUEUE_MAX];
}

static void
tiles_clear (ScIngest *ingest)
{
  while (ingest->tiles_n)
    tiles_drop_oldest (ingest);
}

/* Index of the tile to show at audio clock CLOCK: the newest one not later
 * than it (by half a program frame); the newest of all without a clock
 * or when the clocks do not meet. Lock held, queue not empty. */
static guint
tiles_pick (ScIngest *ingest, GstClockTime clock)
{
  guint newest = ingest->tiles_n - 1;
  if (!GST_CLOCK_TIME_IS_VALID (clock))
    return newest;
  GstClockTime half = GST_SECOND / (2 * ingest->fps);
  for (guint i = ingest->tiles_n; i-- > 0;) {
    GstClockTime ts = tile_at (ingest, i)->ts;
    if (!GST_CLOCK_TIME_IS_VALID (ts))
      return newest;
    if (ts <= clock + half)
      return i;
  }
  /* Every tile is later than the audio: show the oldest (the video waits
   * for the audio), unless they are so far apart that they are not the
   * same stream. */
  if (tile_at (ingest, 0)->ts > clock + VIDEO_QUEUE_NS)
    return newest;
  return 0;
}

/* A new tile into the queue. Frames the program has passed are dropped
 * (the audio clock only moves on), so the queue holds about the audio's
 * delay. Lock held. */
static void
tiles_push (ScIngest *ingest, GstBuffer *buf, GstClockTime ts, int w, int h, gint64 now)
{
  if (ingest->tiles_n > 0) {
    GstClockTime last = tile_at (ingest, ingest->tiles_n - 1)->ts;
    /* Timestamps went back (a file looped, a pusher restarted): the
     * queued frames belong to another timeline. */
    if (GST_CLOCK_TIME_IS_VALID (ts) && GST_CLOCK_TIME_IS_VALID (last) &&
        ts + 100 * GST_MSECOND < last)
      tiles_clear (ingest);
  }
  if (ingest->tiles_n == VIDEO_QUEUE_MAX)
    tiles_drop_oldest (ingest);
  ScTile *t = tile_at (ingest, ingest->tiles_n);
  t->buf = buf;
  t->ts = ts;
  t->w = w;
  t->h = h;
  ingest->tiles_n++;

  GstClockTime clock = audio_clock (ingest, now);
  guint keep = tiles_pick (ingest, clock);
  while (keep-- > 0)
    tiles_drop_oldest (ingest);
  while (ingest->tiles_n > 1 && GST_CLOCK_TIME_IS_VALID (ts) &&
         GST_CLOCK_TIME_IS_VALID (tile_at (ingest, 0)->ts) &&
         tile_at (ingest, 0)->ts + VIDEO_QUEUE_NS < ts)
    tiles_drop_oldest (ingest);
}

/* The running time of a sample's buffer (what A/V sync compares). */
static GstClockTime
sample_running_time (GstSample *sample, GstBuffer *buf)
{
  const GstSegment *seg = gst_sample_get_segment (sample);
  if (!buf || !GST_BUFFER_PTS_IS_VALID (buf) || !seg || seg->format != GST_FORMAT_TIME)
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
}

static GstFlowReturn
on_video_sample (GstAppSink *sink, gpointer user_data)
{
  ScRun *run = user_data;
  ScIngest *ingest = run->ingest;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstCaps *caps = gst_sample_get_caps (sample);
  if (caps && caps != run->in_caps) {
    if (gst_video_info_from_caps (&run->in_info, caps))
      gst_caps_replace (&run->in_caps, caps);
  }
  if (buf && run->in_caps) {
    int w, h;
    g_mutex_lock (&ingest->lock);
    w = ingest->tile_w;
    h = ingest->tile_h;
    g_mutex_unlock (&ingest->lock);
    GstBuffer *tile;
    /* Already the tile, in the plain I420 layout (no padded planes
     * described by a video meta): handed on without a copy. */
    if (GST_VIDEO_INFO_WIDTH (&run->in_info) == w && GST_VIDEO_INFO_HEIGHT (&run->in_info) == h &&
        GST_VIDEO_INFO_PAR_N (&run->in_info) == GST_VIDEO_INFO_PAR_D (&run->in_info) &&
        !gst_buffer_get_video_meta (buf) &&
        gst_buffer_get_size (buf) == GST_VIDEO_INFO_SIZE (&run->in_info))
      tile = gst_buffer_ref (buf);
    else
      tile = scale_to_tile (run, buf, w, h);
    if (tile) {
      gint64 now = g_get_monotonic_time ();
      GstClockTime ts = sample_running_time (sample, buf);
      g_mutex_lock (&ingest->lock);
      if (!run->dead) {
        tiles_push (ingest, tile, ts, w, h, now);
        tile = NULL;
        ingest->frames++;
        ingest->last_video_us = now;
      }
      g_mutex_unlock (&ingest->lock);
      if (tile)
        gst_buffer_unref (tile);
    } else {
      GST_WARNING ("station %s: could not scale a frame", ingest->id);
    }
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static GstFlowReturn
on_audio_sample (GstAppSink *sink, gpointer user_data)
{
  ScRun *run = user_data;
  ScIngest *ingest = run->ingest;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstMapInfo map;
  if (buf && gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gint64 now = g_get_monotonic_time ();
    GstClockTime ts = sample_running_time (sample, buf);
    g_mutex_lock (&ingest->lock);
    /* While lost (listener kept up) audio is not wanted either. */
    if (!run->dead && g_atomic_int_get (&ingest->state) != SC_INGEST_LOST)
      ring_write (ingest, (const gint16 *) map.data, map.size / AUDIO_BPF, ts, now);
    GST_LOG ("station %s: audio %" G_GSIZE_FORMAT " frames at %" GST_TIME_FORMAT ", ring %u",
             ingest->id, map.size / AUDIO_BPF, GST_TIME_ARGS (ts), ingest->ring_fill);
    /* An audio-only feed is alive as long as audio comes: its buffers are
     * what the health timer and the fps/frames stats count. */
    if (!run->dead && ingest->audio_only) {
      ingest->frames++;
      ingest->last_video_us = now;
    }
    g_mutex_unlock (&ingest->lock);
    gst_buffer_unmap (buf, &map);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static GstPadProbeReturn
count_bytes_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  ScRun *run = user_data;
  gsize n = 0;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    n = gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    n = gst_buffer_list_calculate_size (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  g_mutex_lock (&run->ingest->lock);
  if (!run->dead)
    run->ingest->bytes += n;
  g_mutex_unlock (&run->ingest->lock);
  return GST_PAD_PROBE_OK;
}

/* The size of the feed as decoded, before the scaler. */
static GstPadProbeReturn
feed_caps_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  ScRun *run = user_data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
    GstCaps *caps;
    int w = 0, h = 0;
    gst_event_parse_caps (ev, &caps);
    GstStructure *s = gst_caps_get_structure (caps, 0);
    gst_structure_get_int (s, "width", &w);
    gst_structure_get_int (s, "height", &h);
    GST_INFO ("station %s: feed is %dx%d", run->ingest->id, w, h);
    g_mutex_lock (&run->ingest->lock);
    if (!run->dead) {
      run->ingest->feed_w = w;
      run->ingest->feed_h = h;
    }
    g_mutex_unlock (&run->ingest->lock);
  }
  return GST_PAD_PROBE_OK;
}

static GstElement *
make (const char *factory, const char *name)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e)
    GST_ERROR ("element %s is missing (GStreamer plugin not installed?)", factory);
  return e;
}

/* Adds convert (to I420, a passthrough for most H.264) → appsink to the
 * pipeline and returns the sink pad to link the decoded video to; the
 * appsink's callback scales to the tile. Any thread. */
static GstPad *
add_video_branch (ScRun *run)
{
  ScIngest *ingest = run->ingest;
  GstElement *conv = make ("videoconvert", NULL);
  GstElement *caps = make ("capsfilter", NULL);
  GstElement *sink = make ("appsink", "video-sink");
  if (!conv || !caps || !sink) {
    g_clear_object (&conv);
    g_clear_object (&caps);
    g_clear_object (&sink);
    return NULL;
  }
  GstCaps *c = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", NULL);
  g_object_set (caps, "caps", c, NULL);
  gst_caps_unref (c);

  GstAppSinkCallbacks cbs = { .new_sample = on_video_sample };
  g_object_set (sink, "sync", ingest->kind == SC_SOURCE_FILE, "max-buffers", 1, "drop", TRUE,
                "emit-signals", FALSE, "qos", FALSE, NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cbs, run, NULL);

  gst_bin_add_many (GST_BIN (run->pipeline), conv, caps, sink, NULL);
  gst_element_link_many (conv, caps, sink, NULL);
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (caps);
  gst_element_sync_state_with_parent (conv);

  GstPad *pad = gst_element_get_static_pad (conv, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, feed_caps_probe, run, NULL);
  return pad;
}

static GstPad *
add_audio_branch (ScRun *run)
{
  ScIngest *ingest = run->ingest;
  GstElement *conv = make ("audioconvert", NULL);
  GstElement *res = make ("audioresample", NULL);
  GstElement *caps = make ("capsfilter", NULL);
  GstElement *sink = make ("appsink", "audio-sink");
  if (!conv || !res || !caps || !sink) {
    g_clear_object (&conv);
    g_clear_object (&res);
    g_clear_object (&caps);
    g_clear_object (&sink);
    return NULL;
  }
  GstCaps *c = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate",
                                    G_TYPE_INT, SC_AUDIO_RATE, "channels", G_TYPE_INT,
                                    SC_AUDIO_CHANNELS, "layout", G_TYPE_STRING, "interleaved",
                                    NULL);
  g_object_set (caps, "caps", c, NULL);
  gst_caps_unref (c);
  GstAppSinkCallbacks cbs = { .new_sample = on_audio_sample };
  g_object_set (sink, "sync", ingest->kind == SC_SOURCE_FILE, "emit-signals", FALSE, "qos", FALSE,
                NULL);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cbs, run, NULL);

  gst_bin_add_many (GST_BIN (run->pipeline), conv, res, caps, sink, NULL);
  gst_element_link_many (conv, res, caps, sink, NULL);
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (caps);
  gst_element_sync_state_with_parent (res);
  gst_element_sync_state_with_parent (conv);
  return gst_element_get_static_pad (conv, "sink");
}

/* Extra streams (a second video or audio track, subtitles) go nowhere
 * quietly, so they neither stall nor fail the demuxer. */
static GstPad *
add_discard_branch (ScRun *run)
{
  GstElement *sink = make ("fakesink", NULL);
  if (!sink)
    return NULL;
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (run->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  return gst_element_get_static_pad (sink, "sink");
}

static void
on_decoded_pad (GstElement *decodebin, GstPad *pad, gpointer user_data)
{
  ScRun *run = user_data;
  ScIngest *ingest = run->ingest;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, NULL);
  const char *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  GstPad *sinkpad = NULL;
  gboolean video = g_str_has_prefix (name, "video/x-raw") && !ingest->audio_only;
  gboolean audio = g_str_has_prefix (name, "audio/x-raw");

  g_mutex_lock (&ingest->lock);
  gboolean take = (video && !run->have_video) || (audio && !run->have_audio);
  if (video && take)
    run->have_video = TRUE;
  if (audio && take)
    run->have_audio = TRUE;
  g_mutex_unlock (&ingest->lock);

  GST_INFO ("station %s: decoded pad %s (%s)", ingest->id, name, take ? "used" : "discarded");
  if (take && video)
    sinkpad = add_video_branch (run);
  else if (take && audio)
    sinkpad = add_audio_branch (run);
  else
    sinkpad = add_discard_branch (run);
  if (sinkpad) {
    if (GST_PAD_LINK_FAILED (gst_pad_link (pad, sinkpad)))
      GST_WARNING ("station %s: could not link decoded %s", ingest->id, name);
    gst_object_unref (sinkpad);
  }
  gst_caps_unref (caps);
}

/* The shared SRT listener refused a caller for this station, or an
 * unknown one on its port. libsrt's or the listener's thread. */
static void
on_srt_rejected (const char *msg, gpointer user_data)
{
  ScIngest *ingest = user_data;
  set_last_error (ingest, msg);
  g_atomic_int_inc (&ingest->rejected);
}

/* decodebin's GstAutoplugSelectResult (not in a public header). */
enum { AUTOPLUG_TRY = 0, AUTOPLUG_EXPOSE = 1 };

/* An audio-only feed does not parse or decode its video: decodebin exposes
 * the encoded video instead of plugging a video parser or decoder, and
 * on_decoded_pad sends it to a fakesink. Containers are still demuxed. */
static int
on_autoplug_select (GstElement *decodebin, GstPad *pad, GstCaps *caps, GstElementFactory *factory,
                    gpointer user_data)
{
  const char *klass = gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_KLASS);
  if (klass && strstr (klass, "Video") && (strstr (klass, "Decoder") || strstr (klass, "Parser")))
    return AUTOPLUG_EXPOSE;
  return AUTOPLUG_TRY;
}

/* source pad → (bytes counted) → decodebin. Any thread. */
static gboolean
attach_decoder (ScRun *run, GstPad *srcpad)
{
  GstElement *dec = make ("decodebin", NULL);
  if (!dec)
    return FALSE;
  g_signal_connect (dec, "pad-added", G_CALLBACK (on_decoded_pad), run);
  if (run->ingest->audio_only)
    g_signal_connect (dec, "autoplug-select", G_CALLBACK (on_autoplug_select), run);
  gst_bin_add (GST_BIN (run->pipeline), dec);
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     count_bytes_probe, run, NULL);
  GstPad *sink = gst_element_get_static_pad (dec, "sink");
  GstPadLinkReturn r = gst_pad_link (srcpad, sink);
  gst_object_unref (sink);
  gst_element_sync_state_with_parent (dec);
  if (GST_PAD_LINK_FAILED (r)) {
    GST_WARNING ("station %s: cannot link source to decoder (%d)", run->ingest->id, r);
    return FALSE;
  }
  return TRUE;
}

/* rtspsrc: one pad per stream (RTP), each with its own decodebin. */
static void
on_rtsp_pad (GstElement *src, GstPad *pad, gpointer user_data)
{
  ScRun *run = user_data;
  if (run->ingest->audio_only) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    if (!caps)
      caps = gst_pad_query_caps (pad, NULL);
    const char *media =
      gst_caps_get_size (caps) ? gst_structure_get_string (gst_caps_get_structure (caps, 0), "media")
                               : NULL;
    gboolean video = media && strcmp (media, "audio") != 0;
    gst_caps_unref (caps);
    if (video) {
      /* The camera's picture is not wanted: not even depayloaded. */
      GstPad *sink = add_discard_branch (run);
      if (sink) {
        gst_pad_link (pad, sink);
        gst_object_unref (sink);
      }
      return;
    }
  }
  attach_decoder (run, pad);
}


/* ---------- main-loop side ---------- */

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  ScIngest *ingest = user_data;
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    g_autoptr (GError) err = NULL;
    g_autofree char *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    GST_WARNING ("station %s: error from %s: %s (%s)", ingest->id, GST_OBJECT_NAME (msg->src),
                 err->message, dbg ? dbg : "");
    ingest_lost (ingest, err->message, TRUE);
    break;
  }
  case GST_MESSAGE_WARNING: {
    g_autoptr (GError) err = NULL;
    g_autofree char *dbg = NULL;
    gst_message_parse_warning (msg, &err, &dbg);
    GST_INFO ("station %s: warning from %s: %s", ingest->id, GST_OBJECT_NAME (msg->src),
              err->message);
    break;
  }
  case GST_MESSAGE_EOS:
    if (ingest->kind == SC_SOURCE_FILE && ingest->spec.loop && ingest->run) {
      GST_INFO ("station %s: end of file, looping", ingest->id);
      if (!gst_element_seek_simple (ingest->run->pipeline, GST_FORMAT_TIME,
                                    GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 0))
        ingest_lost (ingest, "end of stream (loop seek failed)", TRUE);
    } else {
      if (ingest->kind == SC_SOURCE_FILE)
        ingest->ended = TRUE;
      ingest_lost (ingest, "end of stream", TRUE);
    }
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_rebuild (gpointer user_data)
{
  ScIngest *ingest = user_data;
  g_source_unref (ingest->rebuild_timer);
  ingest->rebuild_timer = NULL;
  if (!ingest->running)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&ingest->lock);
  ingest->reconnects++;
  g_mutex_unlock (&ingest->lock);
  if (ingest->kept && ingest->run) {
    /* The listener stayed up: just wait for the next frame. */
    ingest->kept = FALSE;
    ingest->built_us = g_get_monotonic_time ();
    set_state (ingest, SC_INGEST_CONNECTING);
  } else {
    ingest_build (ingest);
  }
  return G_SOURCE_REMOVE;
}

/* Forgets the frame and the audio of the feed that just went away. */
static void
clear_media (ScIngest *ingest)
{
  g_mutex_lock (&ingest->lock);
  tiles_clear (ingest);
  ring_reset (ingest);
  ingest->audio_write_us = 0;
  ingest->gap_max_us[0] = ingest->gap_max_us[1] = 0;
  g_mutex_unlock (&ingest->lock);
}

/* → LOST, then a rebuild after the backoff. A UDP station that merely went
 * quiet (REBUILD false) keeps its pipeline; errors and EOS always rebuild.
 * Main loop. */
static void
ingest_lost (ScIngest *ingest, const char *why, gboolean rebuild)
{
  if (why)
    set_last_error (ingest, why);
  if (rebuild || !keeps_pipeline_when_quiet (ingest)) {
    ingest_teardown (ingest);
    ingest->kept = FALSE;
  } else {
    clear_media (ingest);
    ingest->kept = TRUE;
  }
  set_state (ingest, SC_INGEST_LOST);
  if (!ingest->running)
    return;
  if (ingest->ended) {
    GST_INFO ("station %s: file ended, stays lost", ingest->id);
    return;
  }
  if (ingest->rebuild_timer) {
    /* An error while waiting to rebuild a kept listener: rebuild it then. */
    return;
  }
  gint64 now = g_get_monotonic_time ();
  double min = is_listener (ingest) ? LISTENER_BACKOFF_MIN_S : BACKOFF_MIN_S;
  double max = is_listener (ingest) ? LISTENER_BACKOFF_MAX_S : BACKOFF_MAX_S;
  if (ingest->live_since_us &&
      (is_listener (ingest) || now - ingest->live_since_us >= BACKOFF_RESET_LIVE_US))
    ingest->backoff_s = min;
  ingest->live_since_us = 0;
  double wait = CLAMP (ingest->backoff_s, min, max) * g_random_double_range (0.8, 1.2);
  ingest->backoff_s = MIN (MAX (ingest->backoff_s, min) * 2, max);
  GST_INFO ("station %s: lost (%s), %s in %.2f s", ingest->id, ingest->last_error,
            ingest->kept ? "listening again" : "rebuilding", wait);
  ingest->rebuild_timer = g_timeout_source_new ((guint) (wait * 1000));
  g_source_set_callback (ingest->rebuild_timer, on_rebuild, ingest, NULL);
  g_source_attach (ingest->rebuild_timer, ingest->context);
}

static gboolean
on_health (gpointer user_data)
{
  ScIngest *ingest = user_data;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&ingest->lock);
  guint64 frames = ingest->frames, bytes = ingest->bytes;
  gint64 last = ingest->last_video_us;
  g_mutex_unlock (&ingest->lock);

  if (now - ingest->window_start_us >= G_TIME_SPAN_SECOND) {
    double secs = (now - ingest->window_start_us) / 1e6;
    g_mutex_lock (&ingest->lock);
    ingest->stat_fps = (frames - ingest->window_frames) / secs;
    ingest->stat_kbps = (int) ((bytes - ingest->window_bytes) * 8 / 1000.0 / secs + 0.5);
    g_mutex_unlock (&ingest->lock);
    ingest->window_frames = frames;
    ingest->window_bytes = bytes;
    ingest->window_start_us = now;
  }

  if (!ingest->run)
    return G_SOURCE_CONTINUE;
  ScIngestState state = g_atomic_int_get (&ingest->state);
  if (state == SC_INGEST_CONNECTING) {
    if (last > ingest->built_us) {
      ingest->live_since_us = now;
      if (is_listener (ingest))
        ingest->backoff_s = 0;
      set_state (ingest, SC_INGEST_LIVE);
    } else if (!is_listener (ingest) && ingest->kind != SC_SOURCE_V4L2 &&
               now - ingest->built_us > CONNECT_TIMEOUT_US) {
      ingest_lost (ingest, "no frame within 10 s of connecting", TRUE);
    }
  } else if (state == SC_INGEST_LIVE && now - last > STALL_US) {
    ingest_lost (ingest, "no data for 500 ms", FALSE);
  }
  return G_SOURCE_CONTINUE;
}

/* Reaper thread: stopping a pipeline can block for seconds (srtsrc waits
 * for libsrt's peer timeout, rtspsrc sends TEARDOWN to a dead camera), and
 * the main loop serves everyone else, so it is done here. The run is dead
 * already: nothing it does reaches the station any more. */
static gpointer
reap_run (gpointer data)
{
  ScRun *run = data;
  ScIngest *ingest = run->ingest;
  gint64 t0 = g_get_monotonic_time ();
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_object_unref (run->pipeline);
  gst_caps_replace (&run->in_caps, NULL);
  if (run->pool) {
    gst_buffer_pool_set_active (run->pool, FALSE);
    gst_object_unref (run->pool);
  }
  sws_freeContext (run->sws);
  GST_DEBUG ("station %s: old pipeline stopped in %.0f ms", ingest->id,
             (g_get_monotonic_time () - t0) / 1000.0);
  g_free (run);
  g_mutex_lock (&ingest->lock);
  ingest->reaping--;
  g_cond_broadcast (&ingest->reaped);
  g_mutex_unlock (&ingest->lock);
  return NULL;
}

static void
ingest_teardown (ScIngest *ingest)
{
  ScRun *run = ingest->run;
  if (!run)
    return;
  GST_DEBUG ("station %s: tearing down", ingest->id);
  /* The shared SRT listener stops pushing into this pipeline. */
  sc_srt_station_detach (ingest->srt);
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (run->pipeline));
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  ingest->run = NULL;
  ingest->kept = FALSE;
  g_mutex_lock (&ingest->lock);
  run->dead = TRUE;
  ingest->reaping++;
  ingest->stat_fps = 0;
  ingest->stat_kbps = 0;
  g_mutex_unlock (&ingest->lock);
  clear_media (ingest);
  g_autofree char *name = g_strdup_printf ("reap-%s", ingest->id);
  g_thread_unref (g_thread_new (name, reap_run, run));
}


/* test://: videotestsrc (unless audio-only) and audiotestsrc, both live,
 * straight into the branches (nothing to decode). Returns the element that
 * names the source, or NULL when a plugin is missing. */
static GstElement *
build_test_source (ScRun *run)
{
  ScIngest *ingest = run->ingest;
  ScSourceSpec *s = &ingest->spec;
  GstElement *vsrc = NULL, *vcaps = NULL;
  GstElement *asrc = make ("audiotestsrc", ingest->audio_only ? "source" : "audio-source");
  GstElement *acaps = make ("capsfilter", NULL);
  if (!ingest->audio_only) {
    vsrc = make ("videotestsrc", "source");
    vcaps = make ("capsfilter", NULL);
  }
  if (!asrc || !acaps || (!ingest->audio_only && (!vsrc || !vcaps))) {
    g_clear_object (&vsrc);
    g_clear_object (&vcaps);
    g_clear_object (&asrc);
    g_clear_object (&acaps);
    return NULL;
  }
  g_object_set (asrc, "is-live", TRUE, "samplesperbuffer", SC_AUDIO_RATE / 100, NULL);
  if (s->tone_hz > 0)
    g_object_set (asrc, "freq", s->tone_hz, "volume", 0.1, NULL);
  else
    gst_util_set_object_arg (G_OBJECT (asrc), "wave", "silence");
  GstCaps *c = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate",
                                    G_TYPE_INT, SC_AUDIO_RATE, "channels", G_TYPE_INT,
                                    SC_AUDIO_CHANNELS, "layout", G_TYPE_STRING, "interleaved",
                                    NULL);
  g_object_set (acaps, "caps", c, NULL);
  gst_caps_unref (c);
  gst_bin_add_many (GST_BIN (run->pipeline), asrc, acaps, NULL);
  gst_element_link (asrc, acaps);
  run->have_audio = TRUE;
  GstPad *apad = add_audio_branch (run);
  GstPad *asrcpad = gst_element_get_static_pad (acaps, "src");
  gboolean ok = apad && GST_PAD_LINK_SUCCESSFUL (gst_pad_link (asrcpad, apad));
  gst_clear_object (&apad);
  gst_object_unref (asrcpad);
  if (!ok)
    return NULL;
  if (ingest->audio_only)
    return asrc;

  gst_util_set_object_arg (G_OBJECT (vsrc), "pattern", s->pattern);
  g_object_set (vsrc, "is-live", TRUE, NULL);
  c = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                           TEST_SOURCE_WIDTH, "height", G_TYPE_INT, TEST_SOURCE_HEIGHT,
                           "framerate", GST_TYPE_FRACTION, ingest->fps, 1, "pixel-aspect-ratio",
                           GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set (vcaps, "caps", c, NULL);
  gst_caps_unref (c);
  gst_bin_add_many (GST_BIN (run->pipeline), vsrc, vcaps, NULL);
  gst_element_link (vsrc, vcaps);
  run->have_video = TRUE;
  GstPad *vpad = add_video_branch (run);
  GstPad *vsrcpad = gst_element_get_static_pad (vcaps, "src");
  ok = vpad && GST_PAD_LINK_SUCCESSFUL (gst_pad_link (vsrcpad, vpad));
  gst_clear_object (&vpad);
  gst_object_unref (vsrcpad);
  return ok ? vsrc : NULL;
}

/* SRT listener: the port's libsrt listener (ingest-srt.c) pushes this
 * station's caller's bytes into an appsrc, which feeds the same decodebin
 * path as every other network source. */
static GstElement *
build_srt_listener_source (ScRun *run, GError **error)
{
  ScIngest *ingest = run->ingest;
  GstElement *src = make ("appsrc", "source");
  if (!src) {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                 "cannot build the source pipeline (a GStreamer plugin is missing)");
    return NULL;
  }
  /* Live bytes stamped on arrival, like srtsrc's. The queue is bounded and
   * drops the oldest data: the listener's thread never waits on a station
   * whose decoder is behind. */
  g_object_set (src, "is-live", TRUE, "format", GST_FORMAT_BYTES, "do-timestamp", TRUE,
                "stream-type", GST_APP_STREAM_TYPE_STREAM, "block", FALSE, "max-bytes",
                (guint64) 4 * 1024 * 1024, NULL);
  gst_util_set_object_arg (G_OBJECT (src), "leaky-type", "downstream");
  gst_bin_add (GST_BIN (run->pipeline), src);
  GstPad *pad = gst_element_get_static_pad (src, "src");
  gboolean ok = attach_decoder (run, pad);
  gst_object_unref (pad);
  if (!ok) {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                 "cannot build the source pipeline (a GStreamer plugin is missing)");
    return NULL;
  }
  if (!sc_srt_station_attach (ingest->srt, src, error))
    return NULL;
  return src;
}

static GstElement *
build_source (ScRun *run, GError **error)
{
  ScIngest *ingest = run->ingest;
  ScSourceSpec *s = &ingest->spec;
  GstElement *src = NULL;

  switch (ingest->kind) {
  case SC_SOURCE_TEST:
    src = build_test_source (run);
    if (!src)
      goto missing;
    return src;
  case SC_SOURCE_FILE:
    src = make ("filesrc", "source");
    if (!src)
      goto missing;
    g_object_set (src, "location", s->path, NULL);
    break;
  case SC_SOURCE_UDP:
    src = make ("udpsrc", "source");
    if (!src)
      goto missing;
    g_object_set (src, "address", s->host, "port", s->port, "buffer-size", 4 * 1024 * 1024, NULL);
    if (s->rtp) {
      GstCaps *c = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "video",
                                        "encoding-name", G_TYPE_STRING, "MP2T", "clock-rate",
                                        G_TYPE_INT, 90000, NULL);
      g_object_set (src, "caps", c, NULL);
      gst_caps_unref (c);
      GstElement *jb = make ("rtpjitterbuffer", NULL);
      GstElement *depay = make ("rtpmp2tdepay", NULL);
      if (!jb || !depay) {
        g_clear_object (&jb);
        g_clear_object (&depay);
        gst_object_unref (src);
        goto missing;
      }
      g_object_set (jb, "latency", 50, NULL);
      gst_bin_add_many (GST_BIN (run->pipeline), src, jb, depay, NULL);
      gst_element_link_many (src, jb, depay, NULL);
      GstPad *pad = gst_element_get_static_pad (depay, "src");
      attach_decoder (run, pad);
      gst_object_unref (pad);
      return src;
    }
    break;
  case SC_SOURCE_SRT:
    /* Listener: the port's libsrt listener (ingest-srt.c), which lets
     * several stations share a port by streamid. */
    if (s->listener)
      return build_srt_listener_source (run, error);
    src = make ("srtsrc", "source");
    if (!src)
      goto missing;
    {
      g_autofree char *uri = g_strdup_printf ("srt://%s:%d?mode=caller", s->host, s->port);
      /* poll-timeout: srtsrc waits on its socket with it, and only a
       * timeout lets it see it is being stopped; with the default
       * (forever) stopping a station whose peer vanished blocks until
       * libsrt drops the peer (~5 s). */
      g_object_set (src, "uri", uri, "poll-timeout", SRT_POLL_MS, NULL);
      /* A failed caller is an ERROR on our bus and a rebuild with
       * backoff, not a silent retry loop inside the element. */
      g_object_set (src, "auto-reconnect", FALSE, NULL);
      if (s->streamid)
        g_object_set (src, "streamid", s->streamid, NULL);
      if (s->passphrase) {
        g_object_set (src, "passphrase", s->passphrase, NULL);
        if (s->pbkeylen)
          g_object_set (src, "pbkeylen", s->pbkeylen, NULL);
      }
      if (s->latency_ms >= 0)
        g_object_set (src, "latency", s->latency_ms, NULL);
    }
    break;
  case SC_SOURCE_RTMP:
    src = make ("rtmp2src", "source");
    if (!src)
      goto missing;
    g_object_set (src, "location", s->location, "timeout", 5, NULL);
    break;
  case SC_SOURCE_RTSP:
    src = make ("rtspsrc", "source");
    if (!src)
      goto missing;
    /* protocols: GstRTSPLowerTrans flags, TCP = 0x4, UDP = 0x1 */
    gst_util_set_object_arg (G_OBJECT (src), "protocols", s->rtsp_udp ? "udp" : "tcp");
    g_object_set (src, "location", s->location, "latency",
                  s->latency_ms >= 0 ? s->latency_ms : 200, NULL);
    g_signal_connect (src, "pad-added", G_CALLBACK (on_rtsp_pad), run);
    gst_bin_add (GST_BIN (run->pipeline), src);
    return src;
  case SC_SOURCE_V4L2:
    src = make ("v4l2src", "source");
    if (!src)
      goto missing;
    g_object_set (src, "device", s->device, NULL);
    break;
  }

  gst_bin_add (GST_BIN (run->pipeline), src);
  {
    GstPad *pad = gst_element_get_static_pad (src, "src");
    gboolean ok = attach_decoder (run, pad);
    gst_object_unref (pad);
    if (!ok)
      goto missing;
  }
  return src;

missing:
  g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
               "cannot build the source pipeline (a GStreamer plugin is missing)");
  return NULL;
}

/* (Re)builds the pipeline and starts it: → CONNECTING. Main loop. */
static void
ingest_build (ScIngest *ingest)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *name = g_strdup_printf ("station-%s", ingest->id);

  ingest_teardown (ingest);
  ScRun *run = g_new0 (ScRun, 1);
  run->ingest = ingest;
  run->pipeline = gst_pipeline_new (name);
  ingest->run = run;
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (run->pipeline));
  gst_bus_add_watch (bus, on_bus_message, ingest);
  gst_object_unref (bus);

  ingest->built_us = g_get_monotonic_time ();
  set_state (ingest, SC_INGEST_CONNECTING);
  if (!build_source (run, &err)) {
    ingest_lost (ingest, err->message, TRUE);
    return;
  }
  GST_INFO ("station %s: starting %s", ingest->id, ingest->source_redacted);
  if (gst_element_set_state (run->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The ERROR message on the bus carries the reason; it arrives next. */
    GST_WARNING ("station %s: pipeline failed to start", ingest->id);
  }
}

/* ---------- public ---------- */

const char *
sc_ingest_state_to_string (ScIngestState state)
{
  switch (state) {
  case SC_INGEST_CONNECTING:
    return "connecting";
  case SC_INGEST_LIVE:
    return "live";
  case SC_INGEST_LOST:
    return "lost";
  }
  return "unknown";
}

static ScIngest *
ingest_new (const ScStationConfig *station, int fps, gboolean audio_only,
            const ScIngestCallbacks *callbacks, GError **error)
{
  static gsize once = 0;
  g_return_val_if_fail (station != NULL, NULL);

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (sc_ingest_debug, "sc-ingest", 0, "skillcast station ingest");
    g_once_init_leave (&once, 1);
  }

  ScSourceKind kind;
  ScSourceSpec spec = { 0 };
  if (!parse_source (station->source, &kind, &spec, error)) {
    spec_clear (&spec);
    g_prefix_error (error, "station %s: ", station->id ? station->id : "?");
    return NULL;
  }
  if (kind != station->kind)
    GST_DEBUG ("station %s: kind %d in config, %d from the URL; using the URL", station->id,
               station->kind, kind);

  ScIngest *ingest = g_new0 (ScIngest, 1);
  ingest->id = g_strdup (station->id ? station->id : "?");
  ingest->source_redacted =
    g_strdup (station->source_redacted ? station->source_redacted : "(source)");
  ingest->kind = kind;
  ingest->spec = spec;
  ingest->fps = fps > 0 ? fps : 30;
  ingest->audio_only = audio_only;
  if (callbacks)
    ingest->callbacks = *callbacks;
  ingest->context = g_main_context_ref_thread_default ();
  ingest->state = SC_INGEST_CONNECTING;
  ingest->tile_w = DEFAULT_TILE_WIDTH;
  ingest->tile_h = DEFAULT_TILE_HEIGHT;
  ingest->ring = g_new0 (gint16, (gsize) AUDIO_RING_FRAMES * SC_AUDIO_CHANNELS);
  ingest->ring_end_ts = GST_CLOCK_TIME_NONE;
  g_mutex_init (&ingest->lock);
  g_cond_init (&ingest->reaped);
  if (kind == SC_SOURCE_SRT && ingest->spec.listener) {
    /* Every SRT listener takes its place on its port now, so that two
     * stations on one port without distinct streamids fail here. */
    ingest->srt = sc_srt_station_register (
      ingest->id, ingest->spec.host, ingest->spec.port, ingest->spec.streamid,
      ingest->spec.passphrase, ingest->spec.latency_ms, on_srt_rejected, ingest, error);
    if (!ingest->srt) {
      g_prefix_error (error, "station %s: ", ingest->id);
      sc_ingest_free (ingest);
      return NULL;
    }
  }
  return ingest;
}

ScIngest *
sc_ingest_new (const ScStationConfig *station, int fps, const ScIngestCallbacks *callbacks,
               GError **error)
{
  return ingest_new (station, fps, FALSE, callbacks, error);
}

ScIngest *
sc_ingest_new_audio (const ScStationConfig *station, const ScIngestCallbacks *callbacks,
                     GError **error)
{
  return ingest_new (station, 30, TRUE, callbacks, error);
}

void
sc_ingest_start (ScIngest *ingest)
{
  g_return_if_fail (ingest != NULL);
  if (ingest->running)
    return;
  ingest->running = TRUE;
  ingest->ended = FALSE;
  ingest->backoff_s = 0;
  ingest->window_start_us = g_get_monotonic_time ();
  /* So that start always reports "connecting", even the first time. */
  g_atomic_int_set (&ingest->state, SC_INGEST_LOST);
  ingest->health_timer = g_timeout_source_new (HEALTH_PERIOD_MS);
  g_source_set_callback (ingest->health_timer, on_health, ingest, NULL);
  g_source_attach (ingest->health_timer, ingest->context);
  ingest_build (ingest);
}

void
sc_ingest_stop (ScIngest *ingest)
{
  g_return_if_fail (ingest != NULL);
  if (!ingest->running)
    return;
  ingest->running = FALSE;
  if (ingest->health_timer) {
    g_source_destroy (ingest->health_timer);
    g_source_unref (ingest->health_timer);
    ingest->health_timer = NULL;
  }
  if (ingest->rebuild_timer) {
    g_source_destroy (ingest->rebuild_timer);
    g_source_unref (ingest->rebuild_timer);
    ingest->rebuild_timer = NULL;
  }
  ingest_teardown (ingest);
  /* The last station of a shared SRT port closes its listener. */
  sc_srt_station_stop (ingest->srt);
  /* No callback: whoever stops a station knows it stopped. */
  g_atomic_int_set (&ingest->state, SC_INGEST_LOST);
}

void
sc_ingest_free (ScIngest *ingest)
{
  if (!ingest)
    return;
  sc_ingest_stop (ingest);
  /* Old pipelines still stopping on reaper threads point at us. */
  gboolean reaped = TRUE;
  gint64 until = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&ingest->lock);
  while (ingest->reaping > 0 && reaped)
    reaped = g_cond_wait_until (&ingest->reaped, &ingest->lock, until);
  g_mutex_unlock (&ingest->lock);
  if (!reaped) {
    /* A pipeline that will not stop: leaking the station is safer than
     * freeing memory its threads still use. */
    GST_ERROR ("station %s: a pipeline did not stop in 15 s; leaking it", ingest->id);
    return;
  }
  sc_srt_station_unregister (ingest->srt);
  g_free (ingest->id);
  g_free (ingest->source_redacted);
  spec_clear (&ingest->spec);
  g_main_context_unref (ingest->context);
  g_free (ingest->ring);
  g_mutex_clear (&ingest->lock);
  g_cond_clear (&ingest->reaped);
  g_free (ingest);
}

const char *
sc_ingest_station_id (ScIngest *ingest)
{
  g_return_val_if_fail (ingest != NULL, NULL);
  return ingest->id;
}

void
sc_ingest_set_tile_size (ScIngest *ingest, int width, int height)
{
  g_return_if_fail (ingest != NULL);
  g_return_if_fail (width > 0 && height > 0);
  /* I420 needs even sizes. */
  width = (width + 1) & ~1;
  height = (height + 1) & ~1;
  /* The scaler reads it for every frame: the next frame has the new size. */
  g_mutex_lock (&ingest->lock);
  ingest->tile_w = width;
  ingest->tile_h = height;
  g_mutex_unlock (&ingest->lock);
  GST_INFO ("station %s: tile size %dx%d", ingest->id, width, height);
}

GstBuffer *
sc_ingest_pull_video (ScIngest *ingest, int *width, int *height)
{
  GstBuffer *buf = NULL;
  g_return_val_if_fail (ingest != NULL, NULL);
  if (ingest->audio_only || g_atomic_int_get (&ingest->state) != SC_INGEST_LIVE)
    return NULL;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&ingest->lock);
  if (ingest->tiles_n > 0) {
    /* The frame that goes with the audio the program is pulling; the
     * ones before it are never needed again. */
    guint pick = tiles_pick (ingest, audio_clock (ingest, now));
    while (pick-- > 0)
      tiles_drop_oldest (ingest);
    ScTile *t = tile_at (ingest, 0);
    buf = gst_buffer_ref (t->buf);
    if (width)
      *width = t->w;
    if (height)
      *height = t->h;
  }
  g_mutex_unlock (&ingest->lock);
  return buf;
}

/* The cushion audio waits for before it plays. Lock held. */
static guint
prime_frames (ScIngest *ingest)
{
  gint64 gap = MAX (ingest->gap_max_us[0], ingest->gap_max_us[1]) + AUDIO_PRIME_MARGIN_US;
  guint frames = (guint) gst_util_uint64_scale (gap, SC_AUDIO_RATE, G_USEC_PER_SEC);
  return CLAMP (frames, AUDIO_PRIME_MIN_FRAMES, AUDIO_PRIME_MAX_FRAMES);
}

guint
sc_ingest_pull_audio (ScIngest *ingest, gint16 *out, guint n_frames)
{
  guint got = 0;
  g_return_val_if_fail (ingest != NULL, 0);
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&ingest->lock);
  guint prime = prime_frames (ingest);
  if (!ingest->ring_primed && ingest->ring_fill >= prime) {
    /* A burst (or a stall of the program) may have brought more than the
     * cushion: start from the cushion, not later than needed. */
    guint drop = ingest->ring_fill - prime;
    ingest->ring_read = (ingest->ring_read + drop) % AUDIO_RING_FRAMES;
    ingest->ring_fill -= drop;
    GST_DEBUG ("station %s: audio plays, %u ms buffered (%u ms dropped)", ingest->id,
               ingest->ring_fill * 1000 / SC_AUDIO_RATE, drop * 1000 / SC_AUDIO_RATE);
    ingest->ring_primed = TRUE;
    ingest->trim_window_us = now;
    ingest->fill_min = G_MAXUINT;
  }
  if (ingest->ring_primed) {
    got = MIN (n_frames, ingest->ring_fill);
    guint first = MIN (got, AUDIO_RING_FRAMES - ingest->ring_read);
    memcpy (out, ingest->ring + (gsize) ingest->ring_read * SC_AUDIO_CHANNELS,
            (gsize) first * AUDIO_BPF);
    if (got > first)
      memcpy (out + (gsize) first * SC_AUDIO_CHANNELS, ingest->ring, (gsize) (got - first) * AUDIO_BPF);
    ingest->ring_read = (ingest->ring_read + got) % AUDIO_RING_FRAMES;
    ingest->ring_fill -= got;
    if (got < n_frames) {
      /* Ran dry: wait for a new cushion (sized by the gaps seen, which
       * now include this one) rather than play crackles. */
      GST_DEBUG ("station %s: audio ran dry, waiting for %u ms", ingest->id,
                 prime_frames (ingest) * 1000 / SC_AUDIO_RATE);
      ingest->ring_primed = FALSE;
      ingest->trim_window_us = 0;
    } else if (ingest->trim_window_us) {
      ingest->fill_min = MIN (ingest->fill_min, ingest->ring_fill);
      if (now - ingest->trim_window_us >= AUDIO_TRIM_WINDOW_US) {
        if (ingest->fill_min > AUDIO_SPARE_FRAMES + AUDIO_SLACK_FRAMES) {
          guint drop = ingest->fill_min - AUDIO_SPARE_FRAMES;
          GST_DEBUG ("station %s: audio %u ms more behind than needed: dropped", ingest->id,
                     drop * 1000 / SC_AUDIO_RATE);
          ingest->ring_read = (ingest->ring_read + drop) % AUDIO_RING_FRAMES;
          ingest->ring_fill -= drop;
        }
        ingest->trim_window_us = now;
        ingest->fill_min = G_MAXUINT;
      }
    }
  }
  /* The program pulls this station's audio: it paces the video. */
  ingest->pulled_us = now;
  g_mutex_unlock (&ingest->lock);
  if (got < n_frames)
    memset (out + (gsize) got * SC_AUDIO_CHANNELS, 0, (gsize) (n_frames - got) * AUDIO_BPF);
  return got;
}

void
sc_ingest_get_stats (ScIngest *ingest, ScIngestStats *out)
{
  g_return_if_fail (ingest != NULL && out != NULL);
  memset (out, 0, sizeof *out);
  out->state = g_atomic_int_get (&ingest->state);
  out->rejected = (guint) g_atomic_int_get (&ingest->rejected);
  g_mutex_lock (&ingest->lock);
  /* What an operator sees: a station that has failed stays "lost" (its
   * slate is on air) through every retry until its picture is back;
   * "connecting" is only the first connection. The state machine itself
   * (and state_changed) still goes lost -> connecting -> live. */
  if (out->state == SC_INGEST_CONNECTING && ingest->reconnects > 0)
    out->state = SC_INGEST_LOST;
  out->fps = out->state == SC_INGEST_LOST ? 0 : ingest->stat_fps;
  out->bitrate_kbps = out->state == SC_INGEST_LOST ? 0 : ingest->stat_kbps;
  out->width = ingest->feed_w;
  out->height = ingest->feed_h;
  out->reconnects = ingest->reconnects;
  out->frames = ingest->frames;
  g_strlcpy (out->last_error, ingest->last_error, sizeof out->last_error);
  g_mutex_unlock (&ingest->lock);
}
