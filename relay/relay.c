/* relay — see relay.h.
 *
 * Data path. The mixer (or sc_relay_push) hands every encoded packet to
 * every output under one short lock: each output has its own two appsrcs
 * (is-live, block=false, leaky downstream, bounded in time and bytes), so a
 * push costs a buffer copy of the metadata and never waits. Each output is
 * its own GstPipeline: its failure, stall or rebuild touches nothing else.
 *
 * Joining. After a (re)build an output drops everything until a video
 * keyframe, then rebases timestamps so that keyframe lands at the
 * pipeline's current running time (the program's running time means
 * nothing to a pipeline built a minute later).
 *
 * Control. A 500 ms tick on the main loop watches each output: bytes
 * leaving (a pad probe adds buffer sizes atomically) promote a fresh build
 * to `running`; no bytes for STALL_S while packets come in is a stall.
 * Errors from the output's own bus tear it down and schedule a rebuild with
 * backoff. State changes to PLAYING and NULL of a live network pipeline run
 * in GStreamer's thread pool (gst_element_call_async): an SRT or RTMP
 * connect may block, the main loop must not.
 */
#include "relay/relay.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "relay/relay-upload.h"

GST_DEBUG_CATEGORY (sc_relay_debug);
#define GST_CAT_DEFAULT sc_relay_debug

/* Without a mixer linked in (module tests, benchmarks) these stay NULL;
 * relay/ only calls them when it was given a mixer. Weak references also
 * keep the linker from pulling the mixer into binaries that do not use it. */
#pragma weak sc_mixer_add_sink
#pragma weak sc_mixer_remove_sink
#pragma weak sc_mixer_video_caps
#pragma weak sc_mixer_audio_caps
#pragma weak sc_mixer_request_keyframe

#define TICK_MS 500
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_S 30 /* running this long resets the backoff */
#define STALL_S 10         /* fed but nothing left the output this long */
#define JOIN_MAX_S 30      /* fed but no keyframe to join at this long */
#define PROMOTE_MS 1000    /* a build counts as running after bytes flowed this long */
#define PROBE_MS 500       /* rtmp: TCP reachability probe while waiting */
#define DRAIN_MS 5000      /* EOS on operator stop / sc_relay_stop */
#define QUEUE_MAX_TIME (3 * GST_SECOND)
#define QUEUE_MAX_BYTES (16 * 1024 * 1024)
#define HLS_PLAYLIST_LENGTH 6
#define HLS_MAX_FILES 10
#define RECORD_FRAGMENT_MS 1000
/* How long flvmux / mpegtsmux wait for the other stream before muxing
 * without it: AAC comes out of its encoder later than the video of the
 * same instant, and interleaving by timestamp needs both. */
#define MUX_LATENCY (300 * GST_MSECOND)

G_DEFINE_QUARK (sc - relay - error - quark, sc_relay_error)

typedef enum {
  KIND_RTMP,
  KIND_SRT,
  KIND_HLS,
  KIND_RECORD,
  KIND_LIVE, /* the /live/program MPEG-TS feed; not listed in outputs */
} OutputKind;

static const char *const kind_names[] = { "rtmp", "srt", "hls", "record", "live" };

/* Bytes that left an output. Shared with pad probes that may outlive the
 * output (a pipeline torn down in the thread pool), hence refcounted. */
typedef struct {
  gint64 bytes; /* atomic */
} ByteCounter;

typedef struct {
  char *name;
  double duration;
  guint64 seq;
  gboolean discont;
} HlsSegment;

typedef struct ScRelayOutput ScRelayOutput;

struct ScRelayOutput {
  ScRelay *relay;
  char *id;
  OutputKind kind;
  const ScOutputConfig *cfg; /* NULL for the live feed */

  /* Main loop only. */
  gboolean wanted; /* started and not stopped by the operator */
  ScOutputState state;
  GstElement *pipeline;
  GSource *bus_watch;
  GSource *retry_timer;
  guint backoff_ms;
  gint64 built_at, running_since, last_progress_at;
  gint64 last_bytes_seen;
  gboolean promoted; /* bytes flowed since this build */
  guint64 reconnects;
  char *last_error;
  gboolean draining; /* EOS sent on operator stop, waiting for it */
  GSource *drain_timer;
  ByteCounter *counter;

  /* rtmp, srt: where we connect to (for messages, never the full URL with
   * its secrets). rtmp: while waiting to rebuild, a TCP probe of that
   * server cuts the wait short once it saw it go from unreachable to
   * reachable. */
  char *dest;
  char *probe_host;
  guint16 probe_port;
  GSource *probe_timer;
  GCancellable *probe_cancel;
  gboolean probe_seen_down;

  /* hls (own playlist, so numbering survives rebuilds). */
  GQueue hls_live; /* HlsSegment*, the playlist window */
  GQueue hls_old;  /* char* paths of files out of the window, still on disk */
  guint64 hls_next_seq;
  guint64 hls_disc_seq;
  gboolean hls_next_discont;
  gboolean hls_ended;
  GstClockTime hls_open_rt;
  ScUploadQueue *upload;

  /* Feed: guarded by relay->lock. */
  GstAppSrc *vsrc, *asrc;
  gboolean need_key;
  gint64 ts_offset;
  GstClockTime key_ts;
  gboolean audio_mapped;
  gint64 audio_offset;
  gboolean warned_timeline;

  /* live TS: appsink streaming thread only. */
  guint8 pat[188], pmt[188];
  gboolean have_pat, have_pmt;
  int pmt_pid;
  GByteArray *chunk;
  gboolean chunk_key;
  gboolean live_started;
};

struct ScRelay {
  const ScConfig *config;
  ScMixer *mixer;
  ScRelayCallbacks callbacks;
  GMainContext *context;

  GMutex lock; /* guards the caps and every output's feed fields; held only
                  for pointer swaps and non-blocking appsrc pushes */
  GstCaps *video_caps, *audio_caps;
  GPtrArray *outputs; /* ScRelayOutput*, config order */
  ScRelayOutput *live;
  gint64 last_push_us; /* atomic */

  GSource *tick;
  guint mixer_sink;
  gboolean started;
  ScUploader *uploader;
};

static void output_build (ScRelayOutput *o);
static void output_schedule_retry (ScRelayOutput *o);
static void hls_write_playlist (ScRelayOutput *o, gboolean publish, const char *segment_path,
                                const char *segment_name);

const char *
sc_output_state_to_string (ScOutputState state)
{
  switch (state) {
  case SC_OUTPUT_RUNNING:
    return "running";
  case SC_OUTPUT_RECONNECTING:
    return "reconnecting";
  case SC_OUTPUT_STOPPED:
    return "stopped";
  case SC_OUTPUT_ERROR:
    return "error";
  }
  return "unknown";
}

static gint64
now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

static void
counter_unref (gpointer c)
{
  g_atomic_rc_box_release (c);
}

static GstPadProbeReturn
count_bytes_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  ByteCounter *c = user_data;
  gsize n = 0;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    n = gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *l = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    n = gst_buffer_list_calculate_size (l);
  }
  __atomic_fetch_add (&c->bytes, (gint64)n, __ATOMIC_RELAXED);
  return GST_PAD_PROBE_OK;
}

static void
count_pad (ScRelayOutput *o, GstPad *pad)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     count_bytes_probe, g_atomic_rc_box_acquire (o->counter), counter_unref);
}

static gint64
output_bytes (ScRelayOutput *o)
{
  return __atomic_load_n (&o->counter->bytes, __ATOMIC_RELAXED);
}

static void
set_last_error (ScRelayOutput *o, const char *msg)
{
  g_free (o->last_error);
  o->last_error = g_strdup (msg);
}

static void
destroy_source (GSource **s)
{
  if (*s) {
    g_source_destroy (*s);
    g_source_unref (*s);
    *s = NULL;
  }
}

/* ---- feeding (any thread) ---- */

static void
feed_output (ScRelayOutput *o, GstBuffer *buf, gboolean video)
{
  GstAppSrc *src = video ? o->vsrc : o->asrc;
  if (!src)
    return;
  GstClockTime ts = GST_BUFFER_DTS_OR_PTS (buf);
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return;
  if (o->need_key) {
    if (!video || GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
      return;
    /* The clock is distributed when the pipeline reaches PLAYING: until
     * then there is no running time to map onto, and nobody to send to. */
    GstClock *clock = gst_element_get_clock (GST_ELEMENT (src));
    if (!clock)
      return;
    GstClockTime now = gst_clock_get_time (clock);
    GstClockTime base = gst_element_get_base_time (GST_ELEMENT (src));
    gst_object_unref (clock);
    o->ts_offset = (gint64)(now > base ? now - base : 0) - (gint64)ts;
    o->key_ts = ts;
    o->need_key = FALSE;
    GST_INFO ("output %s: joined at a keyframe (offset %" G_GINT64_FORMAT " ns)", o->id,
              o->ts_offset);
  }
  gint64 offset = o->ts_offset;
  if (!video) {
    if (!o->audio_mapped) {
      gint64 apart = (gint64)ts - (gint64)o->key_ts;
      if (apart < -10 * (gint64)GST_SECOND || apart > 10 * (gint64)GST_SECOND) {
        /* Not one timeline (buffer times of two encoders whose segments
         * differ, e.g. x264enc's 1000 h offset, instead of running
         * times): map audio by its arrival instead, which keeps A/V
         * sync within the encoders' latencies. */
        GstClock *clock = gst_element_get_clock (GST_ELEMENT (src));
        if (!clock)
          return;
        GstClockTime now = gst_clock_get_time (clock);
        GstClockTime base = gst_element_get_base_time (GST_ELEMENT (src));
        gst_object_unref (clock);
        o->audio_offset = (gint64)(now > base ? now - base : 0) - (gint64)ts;
        if (!o->warned_timeline) {
          o->warned_timeline = TRUE;
          GST_WARNING ("output %s: audio and video timestamps are %" G_GINT64_FORMAT
                       " s apart (not program running time); syncing audio by arrival",
                       o->id, apart / (gint64)GST_SECOND);
        }
      } else if (ts < o->key_ts) {
        return; /* audio from before the join point */
      } else {
        o->audio_offset = o->ts_offset;
      }
      o->audio_mapped = TRUE;
    }
    offset = o->audio_offset;
  }

  GstBuffer *copy = gst_buffer_copy (buf); /* metadata only; memory is shared */
  if (GST_BUFFER_PTS_IS_VALID (copy))
    GST_BUFFER_PTS (copy) = (GstClockTime)MAX (0, (gint64)GST_BUFFER_PTS (copy) + offset);
  if (GST_BUFFER_DTS_IS_VALID (copy))
    GST_BUFFER_DTS (copy) = (GstClockTime)MAX (0, (gint64)GST_BUFFER_DTS (copy) + offset);
  gst_app_src_push_buffer (src, copy);
}

void
sc_relay_push (ScRelay *relay, GstBuffer *buffer, gboolean video)
{
  __atomic_store_n (&relay->last_push_us, g_get_monotonic_time (), __ATOMIC_RELAXED);
  g_mutex_lock (&relay->lock);
  for (guint i = 0; i < relay->outputs->len; i++)
    feed_output (g_ptr_array_index (relay->outputs, i), buffer, video);
  if (relay->live)
    feed_output (relay->live, buffer, video);
  g_mutex_unlock (&relay->lock);
}

static void
on_program_packet (GstBuffer *buffer, gboolean video, gpointer user_data)
{
  sc_relay_push (user_data, buffer, video);
}

void
sc_relay_set_caps (ScRelay *relay, GstCaps *video_caps, GstCaps *audio_caps)
{
  g_mutex_lock (&relay->lock);
  gst_caps_replace (&relay->video_caps, video_caps);
  gst_caps_replace (&relay->audio_caps, audio_caps);
  g_mutex_unlock (&relay->lock);
}

/* ---- live TS feed (appsink streaming thread) ---- */

static void
live_flush (ScRelayOutput *o)
{
  if (!o->chunk || o->chunk->len == 0)
    return;
  GBytes *bytes = g_byte_array_free_to_bytes (o->chunk);
  o->chunk = g_byte_array_sized_new (64 * 1024);
  ScRelay *relay = o->relay;
  relay->callbacks.live_ts (bytes, o->chunk_key, relay->callbacks.user_data);
  g_bytes_unref (bytes);
}

/* Cuts the muxer's output into one chunk per video access unit: a chunk
 * ends where the next video PES starts. A chunk whose video PES carries
 * the random-access indicator (mpegtsmux sets it on keyframes) starts with
 * copies of the latest PAT and PMT, so a client can join right there. */
static void
live_packet (ScRelayOutput *o, const guint8 *p)
{
  int pid = ((p[1] & 0x1f) << 8) | p[2];
  gboolean pusi = (p[1] & 0x40) != 0;
  int afc = (p[3] >> 4) & 3;
  int off = 4;
  gboolean rai = FALSE;
  if (afc & 2) {
    if (p[4] > 0)
      rai = (p[5] & 0x40) != 0;
    off += 1 + p[4];
  }
  if (off > 188 - 4 || !(afc & 1))
    pusi = FALSE;

  if (pusi && pid == 0) {
    memcpy (o->pat, p, 188);
    o->have_pat = TRUE;
    int ptr = p[off];
    const guint8 *sec = p + off + 1 + ptr;
    if (sec + 12 <= p + 188 && sec[0] == 0x00) {
      /* First program (number != 0) of the PAT names the PMT PID. */
      int len = ((sec[1] & 0x0f) << 8) | sec[2];
      for (const guint8 *e = sec + 8; e + 4 <= sec + 3 + len - 4 && e + 4 <= p + 188; e += 4) {
        if (((e[0] << 8) | e[1]) != 0) {
          o->pmt_pid = ((e[2] & 0x1f) << 8) | e[3];
          break;
        }
      }
    }
  } else if (pusi && pid == o->pmt_pid) {
    memcpy (o->pmt, p, 188);
    o->have_pmt = TRUE;
  } else if (pusi && p[off] == 0 && p[off + 1] == 0 && p[off + 2] == 1
             && (p[off + 3] & 0xf0) == 0xe0) {
    /* A video PES starts: the previous access unit is complete. */
    live_flush (o);
    o->chunk_key = rai;
    if (rai) {
      o->live_started = TRUE;
      if (o->have_pat && o->have_pmt) {
        g_byte_array_append (o->chunk, o->pat, 188);
        g_byte_array_append (o->chunk, o->pmt, 188);
      }
    }
  }
  if (o->live_started)
    g_byte_array_append (o->chunk, p, 188);
}

static GstFlowReturn
on_live_sample (GstAppSink *sink, gpointer user_data)
{
  ScRelayOutput *o = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstMapInfo map;
  if (buf && gst_buffer_map (buf, &map, GST_MAP_READ)) {
    for (gsize i = 0; i + 188 <= map.size; i += 188)
      if (map.data[i] == 0x47)
        live_packet (o, map.data + i);
    __atomic_fetch_add (&o->counter->bytes, (gint64)map.size, __ATOMIC_RELAXED);
    gst_buffer_unmap (buf, &map);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

/* ---- pipelines (main loop) ---- */

static GstElement *
make (const char *factory, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  if (!e && error && !*error)
    g_set_error (error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID,
                 "GStreamer element \"%s\" is missing (install its plugin)", factory);
  return e;
}

static GstElement *
make_appsrc (GstCaps *caps)
{
  GstElement *src = gst_element_factory_make ("appsrc", NULL);
  g_object_set (src, "caps", caps, "format", GST_FORMAT_TIME, "is-live", TRUE, "block", FALSE,
                "max-bytes", (guint64)QUEUE_MAX_BYTES, "max-time", (guint64)QUEUE_MAX_TIME,
                "max-buffers", (guint64)0, NULL);
  gst_util_set_object_arg (G_OBJECT (src), "leaky-type", "downstream");
  return src;
}

static gboolean
link_to_request_pad (GstElement *from, GstElement *to, const char *templ)
{
  GstPad *sink = gst_element_request_pad_simple (to, templ);
  if (!sink)
    return FALSE;
  GstPad *src = gst_element_get_static_pad (from, "src");
  gboolean ok = gst_pad_link (src, sink) == GST_PAD_LINK_OK;
  gst_object_unref (src);
  gst_object_unref (sink);
  return ok;
}

static char *
hls_segment_pattern (ScRelayOutput *o)
{
  return g_build_filename (o->cfg->dir, "segment%05d.ts", NULL);
}

static char *
escape_percent (const char *s)
{
  GString *out = g_string_new (NULL);
  for (; *s; s++) {
    if (*s == '%')
      g_string_append_c (out, '%');
    g_string_append_c (out, *s);
  }
  return g_string_free (out, FALSE);
}

/* Builds the pipeline of O; NULL and ERROR on failure. Sets o->vsrc and
 * o->asrc (refs, not yet published to the feed). */
static GstElement *
build_pipeline (ScRelayOutput *o, GstCaps *vcaps, GstCaps *acaps, GstAppSrc **vsrc_out,
                GstAppSrc **asrc_out, GError **error)
{
  GError *err = NULL;
  char *name = g_strdup_printf ("sc-relay-%s", o->id);
  GstElement *pipeline = gst_pipeline_new (name);
  g_free (name);
  GstElement *vsrc = make_appsrc (vcaps);
  GstElement *asrc = make_appsrc (acaps);
  GstElement *vparse = make ("h264parse", &err);
  GstElement *aparse = make ("aacparse", &err);
  GstElement *mux = NULL, *sink = NULL;
  gboolean ok = TRUE;

  if (vparse)
    g_object_set (vparse, "config-interval", -1, NULL);

  switch (o->kind) {
  case KIND_RTMP:
    mux = make ("flvmux", &err);
    sink = make ("rtmp2sink", &err);
    if (mux && sink) {
      g_object_set (mux, "streamable", TRUE, "latency", (guint64)MUX_LATENCY, NULL);
      g_object_set (sink, "location", o->cfg->url, "sync", FALSE, NULL);
    }
    break;
  case KIND_SRT:
  case KIND_LIVE:
    mux = make ("mpegtsmux", &err);
    sink = make (o->kind == KIND_SRT ? "srtsink" : "appsink", &err);
    if (mux && sink) {
      g_object_set (mux, "alignment", 7, "latency", (guint64)MUX_LATENCY, NULL);
      if (o->kind == KIND_SRT) {
        /* Query parameters of the URL (mode, passphrase, streamid,
         * latency...) are read by srtsink itself. */
        g_object_set (sink, "uri", o->cfg->url, "wait-for-connection", FALSE, "sync", FALSE, NULL);
      } else {
        GstAppSinkCallbacks cb = { .new_sample = on_live_sample };
        g_object_set (sink, "sync", FALSE, "max-buffers", 64, "drop", TRUE, NULL);
        gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, o, NULL);
      }
    }
    break;
  case KIND_HLS:
  case KIND_RECORD: {
    sink = make ("splitmuxsink", &err);
    GstElement *inner_mux = make (o->kind == KIND_HLS ? "mpegtsmux" : "mp4mux", &err);
    GstElement *file = make ("filesink", &err);
    if (sink && inner_mux && file) {
      char *location;
      guint64 max_time;
      g_object_set (file, "sync", FALSE, "async", FALSE, NULL);
      if (o->kind == KIND_HLS) {
        location = hls_segment_pattern (o);
        max_time = (guint64)MAX (1, o->cfg->segment_s) * GST_SECOND;
        g_object_set (sink, "start-index", (guint)o->hls_next_seq, NULL);
      } else {
        /* A timestamp per build: a restarted recording never overwrites. */
        GDateTime *dt = g_date_time_new_now_local ();
        char *stamp = g_date_time_format (dt, "%Y%m%d-%H%M%S");
        char *dir = escape_percent (o->cfg->dir);
        char *base = g_strdup_printf ("%s-%s-%%05d.mp4", o->id, stamp);
        location = g_build_filename (dir, base, NULL);
        max_time = (guint64)MAX (1, o->cfg->split_min) * 60 * GST_SECOND;
        /* Fragmented MP4: a moof every second, so a crash loses at most
         * the last second and the file stays playable. */
        g_object_set (inner_mux, "fragment-duration", (guint)RECORD_FRAGMENT_MS, NULL);
        /* Each fragment goes to the kernel as written, not into a stdio
         * buffer a SIGKILL would lose. */
        gst_util_set_object_arg (G_OBJECT (file), "buffer-mode", "unbuffered");
        g_free (base);
        g_free (dir);
        g_free (stamp);
        g_date_time_unref (dt);
      }
      g_object_set (sink, "location", location, "max-size-time", max_time, "muxer", inner_mux,
                    "sink", file, "send-keyframe-requests", FALSE, NULL);
      g_free (location);
    } else {
      g_clear_object (&inner_mux);
      g_clear_object (&file);
    }
    break;
  }
  }

  if (!vparse || !aparse || !sink || ((o->kind != KIND_HLS && o->kind != KIND_RECORD) && !mux)) {
    gst_clear_object (&vparse);
    gst_clear_object (&aparse);
    gst_clear_object (&mux);
    gst_clear_object (&sink);
    gst_object_unref (vsrc);
    gst_object_unref (asrc);
    gst_object_unref (pipeline);
    g_propagate_error (error, err);
    return NULL;
  }

  gst_bin_add_many (GST_BIN (pipeline), vsrc, asrc, vparse, aparse, sink, NULL);
  ok = gst_element_link (vsrc, vparse) && gst_element_link (asrc, aparse);
  if (mux) {
    gst_bin_add (GST_BIN (pipeline), mux);
    if (o->kind == KIND_RTMP)
      ok = ok && link_to_request_pad (vparse, mux, "video")
           && link_to_request_pad (aparse, mux, "audio");
    else
      ok = ok && link_to_request_pad (vparse, mux, "sink_%d")
           && link_to_request_pad (aparse, mux, "sink_%d");
    ok = ok && gst_element_link (mux, sink);
    if (ok && o->kind != KIND_LIVE) {
      GstPad *pad = gst_element_get_static_pad (sink, "sink");
      count_pad (o, pad);
      gst_object_unref (pad);
    }
  } else {
    ok = ok && link_to_request_pad (vparse, sink, "video")
         && link_to_request_pad (aparse, sink, "audio_%u");
    if (ok) {
      /* splitmuxsink writes files itself: count what enters it. */
      GstPad *pad = gst_element_get_static_pad (vparse, "src");
      count_pad (o, pad);
      gst_object_unref (pad);
      pad = gst_element_get_static_pad (aparse, "src");
      count_pad (o, pad);
      gst_object_unref (pad);
    }
  }
  if (!ok) {
    gst_object_unref (pipeline);
    g_set_error (error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID,
                 "could not link the %s pipeline (caps not accepted?)", kind_names[o->kind]);
    return NULL;
  }
  *vsrc_out = GST_APP_SRC (gst_object_ref (vsrc));
  *asrc_out = GST_APP_SRC (gst_object_ref (asrc));
  return pipeline;
}

/* State changes of a pipeline run in GStreamer's thread pool. The "dead"
 * flag, checked under the state lock, keeps a late PLAYING job from
 * reviving a pipeline whose NULL job already ran. */
static void
job_set_playing (GstElement *pipeline, gpointer user_data)
{
  gint *dead = g_object_get_data (G_OBJECT (pipeline), "sc-dead");
  GST_STATE_LOCK (pipeline);
  if (!g_atomic_int_get (dead))
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GST_STATE_UNLOCK (pipeline);
}

static void
job_set_null (GstElement *pipeline, gpointer user_data)
{
  GST_STATE_LOCK (pipeline);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  GST_STATE_UNLOCK (pipeline);
}

/* Detaches O from its pipeline: no more feeding, no more bus messages.
 * SYNC: set it to NULL here (after EOS, or when the caller must know the
 * files are closed); else in the thread pool. */
static void
output_teardown (ScRelayOutput *o, gboolean sync)
{
  ScRelay *relay = o->relay;
  g_mutex_lock (&relay->lock);
  GstAppSrc *vsrc = o->vsrc, *asrc = o->asrc;
  o->vsrc = o->asrc = NULL;
  g_mutex_unlock (&relay->lock);
  gst_clear_object (&vsrc);
  gst_clear_object (&asrc);
  destroy_source (&o->bus_watch);
  destroy_source (&o->drain_timer);
  o->draining = FALSE;
  if (!o->pipeline)
    return;
  /* The live feed's appsink thread shares o->chunk with us: stop it here. */
  if (o->kind == KIND_LIVE)
    sync = TRUE;
  GstElement *pipeline = o->pipeline;
  o->pipeline = NULL;
  g_atomic_int_set ((gint *)g_object_get_data (G_OBJECT (pipeline), "sc-dead"), 1);
  if (sync) {
    job_set_null (pipeline, NULL);
  } else {
    gst_element_call_async (pipeline, job_set_null, NULL, NULL);
  }
  if (o->kind == KIND_LIVE) {
    /* A partial access unit is useless to a client; and live_ts is only
     * ever called from the streaming thread. */
    if (o->chunk)
      g_byte_array_set_size (o->chunk, 0);
    o->live_started = FALSE;
  }
  gst_object_unref (pipeline);
}

/* ---- rtmp reachability probe ---- */

static void probe_stop (ScRelayOutput *o);

static void
on_probe_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ScRelayOutput *o = user_data;
  GError *error = NULL;
  GSocketConnection *conn
      = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free (error);
    return; /* O may be gone */
  }
  g_clear_object (&o->probe_cancel);
  if (!conn) {
    o->probe_seen_down = TRUE;
    g_error_free (error);
    return;
  }
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_object_unref (conn);
  if (o->probe_seen_down && o->retry_timer) {
    GST_INFO ("output %s: server %s:%u reachable again, rebuilding now", o->id, o->probe_host,
              o->probe_port);
    destroy_source (&o->retry_timer);
    probe_stop (o);
    o->reconnects++;
    output_build (o);
  }
}

static gboolean
on_probe_tick (gpointer user_data)
{
  ScRelayOutput *o = user_data;
  if (o->probe_cancel)
    return G_SOURCE_CONTINUE; /* the previous probe is still connecting */
  GSocketClient *client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 1);
  o->probe_cancel = g_cancellable_new ();
  g_socket_client_connect_to_host_async (client, o->probe_host, o->probe_port, o->probe_cancel,
                                         on_probe_connected, o);
  g_object_unref (client);
  return G_SOURCE_CONTINUE;
}

static void
probe_start (ScRelayOutput *o)
{
  if (!o->probe_host || o->probe_timer)
    return;
  o->probe_seen_down = FALSE;
  o->probe_timer = g_timeout_source_new (PROBE_MS);
  g_source_set_callback (o->probe_timer, on_probe_tick, o, NULL);
  g_source_attach (o->probe_timer, o->relay->context);
  /* Probe right away: a server that refuses now and accepts later was
   * down; one that accepts now rejected us for another reason (stream
   * key...), and then only the backoff applies. */
  on_probe_tick (o);
}

static void
probe_stop (ScRelayOutput *o)
{
  destroy_source (&o->probe_timer);
  if (o->probe_cancel) {
    g_cancellable_cancel (o->probe_cancel);
    g_clear_object (&o->probe_cancel);
  }
}

/* ---- state machine (main loop) ---- */

/* O failed for WHY. BUS_ERROR: an element said so (for an output that
 * never got going, that means the destination refused or was unreachable). */
static void
output_failed (ScRelayOutput *o, const char *why, gboolean bus_error)
{
  if (!o->wanted)
    return;
  char *msg = NULL;
  if (bus_error && !o->promoted && o->dest)
    msg = g_strdup_printf (
        "could not send to %s (refused, unreachable or rejected: check the "
        "address%s): %s",
        o->dest, o->kind == KIND_SRT ? ", passphrase and streamid" : " and stream key", why);
  GST_WARNING ("output %s (%s): %s", o->id, kind_names[o->kind], msg ? msg : why);
  set_last_error (o, msg ? msg : why);
  g_free (msg);
  /* It was sending since this build: the connection was lost. It never got
   * going: the destination refuses us (or is down) — an operator should look. */
  o->state = o->promoted ? SC_OUTPUT_RECONNECTING : SC_OUTPUT_ERROR;
  if (o->kind == KIND_HLS)
    o->hls_next_discont = TRUE;
  output_teardown (o, FALSE);
  output_schedule_retry (o);
}

static gboolean
on_retry (gpointer user_data)
{
  ScRelayOutput *o = user_data;
  g_source_unref (o->retry_timer);
  o->retry_timer = NULL;
  probe_stop (o);
  o->reconnects++;
  output_build (o);
  return G_SOURCE_REMOVE;
}

static void
output_schedule_retry (ScRelayOutput *o)
{
  destroy_source (&o->retry_timer);
  double jitter = g_random_double_range (0.8, 1.2);
  guint delay = (guint)(o->backoff_ms * jitter);
  o->backoff_ms = MIN (o->backoff_ms * 2, BACKOFF_MAX_MS);
  GST_INFO ("output %s: rebuilding in %u ms", o->id, delay);
  o->retry_timer = g_timeout_source_new (delay);
  g_source_set_callback (o->retry_timer, on_retry, o, NULL);
  g_source_attach (o->retry_timer, o->relay->context);
  probe_start (o);
}

static void
hls_segment_free (HlsSegment *s)
{
  g_free (s->name);
  g_free (s);
}

static void
hls_fragment_closed (ScRelayOutput *o, const GstStructure *s)
{
  const char *location = gst_structure_get_string (s, "location");
  GstClockTime rt = GST_CLOCK_TIME_NONE;
  gst_structure_get_clock_time (s, "running-time", &rt);
  if (!location)
    return;
  HlsSegment *seg = g_new0 (HlsSegment, 1);
  seg->name = g_path_get_basename (location);
  if (GST_CLOCK_TIME_IS_VALID (rt) && GST_CLOCK_TIME_IS_VALID (o->hls_open_rt)
      && rt > o->hls_open_rt)
    seg->duration = (double)(rt - o->hls_open_rt) / GST_SECOND;
  else
    seg->duration = o->cfg->segment_s;
  seg->seq = o->hls_next_seq++;
  seg->discont = o->hls_next_discont;
  o->hls_next_discont = FALSE;
  g_queue_push_tail (&o->hls_live, seg);
  while (g_queue_get_length (&o->hls_live) > HLS_PLAYLIST_LENGTH) {
    HlsSegment *old = g_queue_pop_head (&o->hls_live);
    if (old->discont)
      o->hls_disc_seq++;
    g_queue_push_tail (&o->hls_old, g_build_filename (o->cfg->dir, old->name, NULL));
    hls_segment_free (old);
  }
  /* Keep a few files past the window for players that are behind. */
  while (g_queue_get_length (&o->hls_old) > HLS_MAX_FILES - HLS_PLAYLIST_LENGTH) {
    char *path = g_queue_pop_head (&o->hls_old);
    g_unlink (path);
    g_free (path);
  }
  GST_DEBUG ("output %s: segment %s (%.3f s)", o->id, seg->name, seg->duration);
  hls_write_playlist (o, TRUE, location, seg->name);
}

static void
hls_write_playlist (ScRelayOutput *o, gboolean publish, const char *segment_path,
                    const char *segment_name)
{
  double max_dur = o->cfg->segment_s;
  for (GList *l = o->hls_live.head; l; l = l->next)
    max_dur = MAX (max_dur, ((HlsSegment *)l->data)->duration);
  HlsSegment *first = g_queue_peek_head (&o->hls_live);
  GString *m = g_string_new ("#EXTM3U\n#EXT-X-VERSION:3\n");
  g_string_append_printf (m, "#EXT-X-TARGETDURATION:%d\n", (int)ceil (max_dur - 0.001));
  g_string_append_printf (m, "#EXT-X-MEDIA-SEQUENCE:%" G_GUINT64_FORMAT "\n",
                          first ? first->seq : o->hls_next_seq);
  if (o->hls_disc_seq)
    g_string_append_printf (m, "#EXT-X-DISCONTINUITY-SEQUENCE:%" G_GUINT64_FORMAT "\n",
                            o->hls_disc_seq);
  GPtrArray *live = g_ptr_array_new ();
  for (GList *l = o->hls_live.head; l; l = l->next) {
    HlsSegment *s = l->data;
    char num[G_ASCII_DTOSTR_BUF_SIZE];
    if (s->discont)
      g_string_append (m, "#EXT-X-DISCONTINUITY\n");
    g_string_append_printf (m, "#EXTINF:%s,\n%s\n",
                            g_ascii_formatd (num, sizeof num, "%.3f", s->duration), s->name);
    g_ptr_array_add (live, s->name);
  }
  g_ptr_array_add (live, NULL);
  if (o->hls_ended)
    g_string_append (m, "#EXT-X-ENDLIST\n");

  char *path = g_build_filename (o->cfg->dir, "index.m3u8", NULL);
  GError *error = NULL;
  /* g_file_set_contents writes a temp file and renames it: a server
   * reading the playlist never sees half of it. */
  if (!g_file_set_contents (path, m->str, m->len, &error)) {
    GST_WARNING ("output %s: %s", o->id, error->message);
    set_last_error (o, error->message);
    g_clear_error (&error);
  }
  g_free (path);

  if (publish && o->upload) {
    GBytes *segment = NULL;
    if (segment_path) {
      char *data = NULL;
      gsize len = 0;
      if (g_file_get_contents (segment_path, &data, &len, NULL))
        segment = g_bytes_new_take (data, len);
    }
    GBytes *playlist = g_bytes_new (m->str, m->len);
    sc_upload_queue_publish (o->upload, segment ? segment_name : NULL, segment, playlist,
                             (const char *const *)live->pdata);
    if (segment)
      g_bytes_unref (segment);
    g_bytes_unref (playlist);
  }
  g_ptr_array_unref (live);
  g_string_free (m, TRUE);
}

/* An output that was draining (EOS) reached its end: close it for good. */
static void
output_finish_drain (ScRelayOutput *o)
{
  output_teardown (o, TRUE);
  if (o->kind == KIND_HLS && !o->hls_ended && o->hls_next_seq > 0) {
    o->hls_ended = TRUE;
    hls_write_playlist (o, TRUE, NULL, NULL);
  }
}

static void
output_handle_message (ScRelayOutput *o, GstMessage *msg)
{
  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    GError *err = NULL;
    char *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    char *why = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
    GST_DEBUG ("output %s: error details: %s", o->id, dbg ? dbg : "-");
    if (o->draining) {
      GST_WARNING ("output %s: error while stopping: %s", o->id, why);
      output_finish_drain (o);
    } else {
      output_failed (o, why, TRUE);
    }
    g_free (why);
    g_free (dbg);
    g_error_free (err);
    break;
  }
  case GST_MESSAGE_EOS:
    if (o->draining)
      output_finish_drain (o);
    else
      output_failed (o, "the output ended unexpectedly (EOS)", FALSE);
    break;
  case GST_MESSAGE_WARNING: {
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    GST_INFO ("output %s: warning from %s: %s", o->id, GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
              err->message);
    g_error_free (err);
    break;
  }
  case GST_MESSAGE_ELEMENT: {
    const GstStructure *s = gst_message_get_structure (msg);
    if (o->kind != KIND_HLS || !s)
      break;
    if (gst_structure_has_name (s, "splitmuxsink-fragment-opened"))
      gst_structure_get_clock_time (s, "running-time", &o->hls_open_rt);
    else if (gst_structure_has_name (s, "splitmuxsink-fragment-closed"))
      hls_fragment_closed (o, s);
    break;
  }
  default:
    break;
  }
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  output_handle_message (user_data, msg);
  return G_SOURCE_CONTINUE;
}

static void
output_build (ScRelayOutput *o)
{
  ScRelay *relay = o->relay;
  GError *error = NULL;

  g_mutex_lock (&relay->lock);
  GstCaps *vcaps = relay->video_caps ? gst_caps_ref (relay->video_caps) : NULL;
  GstCaps *acaps = relay->audio_caps ? gst_caps_ref (relay->audio_caps) : NULL;
  g_mutex_unlock (&relay->lock);
  if (!vcaps || !acaps) {
    /* The tick builds it once the encoders negotiated. */
    gst_clear_caps (&vcaps);
    gst_clear_caps (&acaps);
    return;
  }

  if ((o->kind == KIND_HLS || o->kind == KIND_RECORD)
      && g_mkdir_with_parents (o->cfg->dir, 0755) < 0) {
    g_set_error (&error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID, "cannot create %s: %s",
                 o->cfg->dir, g_strerror (errno));
  }

  GstAppSrc *vsrc = NULL, *asrc = NULL;
  GstElement *pipeline = error ? NULL : build_pipeline (o, vcaps, acaps, &vsrc, &asrc, &error);
  gst_caps_unref (vcaps);
  gst_caps_unref (acaps);
  if (!pipeline) {
    GST_WARNING ("output %s: %s", o->id, error->message);
    set_last_error (o, error->message);
    g_error_free (error);
    o->state = SC_OUTPUT_ERROR;
    output_schedule_retry (o);
    return;
  }

  g_object_set_data_full (G_OBJECT (pipeline), "sc-dead", g_new0 (gint, 1), g_free);
  o->pipeline = pipeline;
  o->promoted = FALSE;
  o->built_at = now_ms ();
  o->last_progress_at = o->built_at;
  o->last_bytes_seen = output_bytes (o);
  o->hls_open_rt = GST_CLOCK_TIME_NONE;
  if (o->kind == KIND_LIVE && !o->chunk)
    o->chunk = g_byte_array_sized_new (64 * 1024);

  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline));
  o->bus_watch = gst_bus_create_watch (bus);
  g_source_set_callback (o->bus_watch, (GSourceFunc)(void (*) (void))on_bus_message, o, NULL);
  g_source_attach (o->bus_watch, relay->context);
  gst_object_unref (bus);

  g_mutex_lock (&relay->lock);
  o->vsrc = vsrc;
  o->asrc = asrc;
  o->need_key = TRUE;
  o->audio_mapped = FALSE;
  g_mutex_unlock (&relay->lock);

  GST_INFO ("output %s (%s): built, starting", o->id, kind_names[o->kind]);
  gst_element_call_async (pipeline, job_set_playing, NULL, NULL);
  if (relay->mixer && sc_mixer_request_keyframe)
    sc_mixer_request_keyframe (relay->mixer);
}

/* Operator or relay start: a fresh build with a fresh backoff. */
static void
output_start (ScRelayOutput *o)
{
  if (o->draining)
    output_teardown (o, TRUE);
  if (o->wanted && o->pipeline)
    return;
  /* Waiting to retry after failures: the operator asks for a try now. Its
   * state stays error/reconnecting until bytes flow. */
  gboolean failing = o->wanted && o->retry_timer;
  destroy_source (&o->retry_timer);
  probe_stop (o);
  o->wanted = TRUE;
  o->backoff_ms = BACKOFF_MIN_MS;
  if (!failing)
    o->state = SC_OUTPUT_RUNNING;
  if (o->kind == KIND_HLS && (o->hls_ended || o->hls_next_seq > 0)) {
    o->hls_ended = FALSE;
    o->hls_next_discont = TRUE;
  }
  output_build (o);
}

static gboolean
on_drain_timeout (gpointer user_data)
{
  ScRelayOutput *o = user_data;
  GST_WARNING ("output %s: no EOS within %d ms, closing anyway", o->id, DRAIN_MS);
  g_source_unref (o->drain_timer);
  o->drain_timer = NULL;
  output_finish_drain (o);
  return G_SOURCE_REMOVE;
}

/* Sends EOS into O's pipeline and stops feeding it. Returns FALSE if
 * there was nothing to drain. */
static gboolean
output_send_eos (ScRelayOutput *o)
{
  ScRelay *relay = o->relay;
  g_mutex_lock (&relay->lock);
  GstAppSrc *vsrc = o->vsrc, *asrc = o->asrc;
  o->vsrc = o->asrc = NULL;
  g_mutex_unlock (&relay->lock);
  if (!o->pipeline || !vsrc) {
    gst_clear_object (&vsrc);
    gst_clear_object (&asrc);
    return FALSE;
  }
  gst_app_src_end_of_stream (vsrc);
  gst_app_src_end_of_stream (asrc);
  gst_object_unref (vsrc);
  gst_object_unref (asrc);
  o->draining = TRUE;
  return TRUE;
}

static void
output_stop (ScRelayOutput *o)
{
  o->wanted = FALSE;
  o->state = SC_OUTPUT_STOPPED;
  destroy_source (&o->retry_timer);
  probe_stop (o);
  if (o->draining)
    return;
  if (output_send_eos (o)) {
    o->drain_timer = g_timeout_source_new (DRAIN_MS);
    g_source_set_callback (o->drain_timer, on_drain_timeout, o, NULL);
    g_source_attach (o->drain_timer, o->relay->context);
  } else {
    output_finish_drain (o);
  }
}

static gboolean
on_tick (gpointer user_data)
{
  ScRelay *relay = user_data;
  gint64 now = now_ms ();

  if (relay->mixer && (!relay->video_caps || !relay->audio_caps) && sc_mixer_video_caps
      && sc_mixer_audio_caps) {
    GstCaps *v = sc_mixer_video_caps (relay->mixer);
    GstCaps *a = sc_mixer_audio_caps (relay->mixer);
    if (v && a)
      sc_relay_set_caps (relay, v, a);
    gst_clear_caps (&v);
    gst_clear_caps (&a);
  }
  gint64 last_push = __atomic_load_n (&relay->last_push_us, __ATOMIC_RELAXED) / 1000;
  gboolean fed = last_push > 0 && now - last_push < 2000;

  for (guint i = 0; i <= relay->outputs->len; i++) {
    ScRelayOutput *o
        = i < relay->outputs->len ? g_ptr_array_index (relay->outputs, i) : relay->live;
    if (!o || !o->wanted)
      continue;
    if (!o->pipeline && !o->retry_timer) {
      output_build (o); /* waiting for caps */
      continue;
    }
    if (!o->pipeline || o->draining)
      continue;
    gint64 bytes = output_bytes (o);
    gboolean moved = bytes != o->last_bytes_seen;
    o->last_bytes_seen = bytes;
    if (moved)
      o->last_progress_at = now;
    if (moved && !o->promoted && now - o->built_at >= PROMOTE_MS) {
      o->promoted = TRUE;
      o->running_since = now;
      if (o->state != SC_OUTPUT_RUNNING)
        GST_INFO ("output %s: running again", o->id);
      o->state = SC_OUTPUT_RUNNING;
    }
    if (o->promoted && o->backoff_ms > BACKOFF_MIN_MS
        && now - o->running_since >= BACKOFF_RESET_S * 1000)
      o->backoff_ms = BACKOFF_MIN_MS;
    /* Waiting for the first keyframe is not a stall (a long GOP, a slow
     * encoder), unless it lasts far longer than any GOP should. */
    g_mutex_lock (&relay->lock);
    gboolean joining = o->need_key;
    g_mutex_unlock (&relay->lock);
    int stall_s = joining ? JOIN_MAX_S : STALL_S;
    if (fed && now - o->last_progress_at > stall_s * 1000) {
      char *why = joining ? g_strdup_printf ("no keyframe to start from in %d s", JOIN_MAX_S)
                          : g_strdup_printf ("stalled: nothing sent for %d s", STALL_S);
      output_failed (o, why, FALSE);
      g_free (why);
    }
  }
  return G_SOURCE_CONTINUE;
}

/* ---- public API ---- */

/* A node restarted on the same directory carries on where the last one
 * stopped: the previous playlist's segments stay in the window, numbering
 * continues after them (segment files are never overwritten, and players
 * never see the media sequence go backwards), and the first new segment is
 * marked #EXT-X-DISCONTINUITY. */
static void
hls_resume (ScRelayOutput *o)
{
  char *path = g_build_filename (o->cfg->dir, "index.m3u8", NULL);
  char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL)) {
    g_free (path);
    return;
  }
  guint64 seq = 0, disc_seq = 0;
  double duration = o->cfg->segment_s;
  gboolean discont = FALSE, any = FALSE;
  char **lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    const char *l = g_strstrip (lines[i]);
    if (g_str_has_prefix (l, "#EXT-X-MEDIA-SEQUENCE:"))
      seq = g_ascii_strtoull (l + 22, NULL, 10);
    else if (g_str_has_prefix (l, "#EXT-X-DISCONTINUITY-SEQUENCE:"))
      disc_seq = g_ascii_strtoull (l + 30, NULL, 10);
    else if (g_str_equal (l, "#EXT-X-DISCONTINUITY"))
      discont = TRUE;
    else if (g_str_has_prefix (l, "#EXTINF:"))
      duration = g_ascii_strtod (l + 8, NULL);
    else if (*l && *l != '#' && !strchr (l, '/')) {
      HlsSegment *seg = g_new0 (HlsSegment, 1);
      seg->name = g_strdup (l);
      seg->duration = duration > 0 ? duration : o->cfg->segment_s;
      seg->seq = seq++;
      seg->discont = discont;
      discont = FALSE;
      any = TRUE;
      g_queue_push_tail (&o->hls_live, seg);
    }
  }
  g_strfreev (lines);
  g_free (text);
  g_free (path);
  o->hls_next_seq = seq;
  o->hls_disc_seq = disc_seq;
  o->hls_next_discont = any;
  if (any)
    GST_INFO ("output %s: resuming the playlist at segment %" G_GUINT64_FORMAT, o->id, seq);
}

static ScRelayOutput *
output_new (ScRelay *relay, const ScOutputConfig *cfg, OutputKind kind, const char *id)
{
  ScRelayOutput *o = g_new0 (ScRelayOutput, 1);
  o->relay = relay;
  o->cfg = cfg;
  o->kind = kind;
  o->id = g_strdup (id);
  o->state = SC_OUTPUT_STOPPED;
  o->backoff_ms = BACKOFF_MIN_MS;
  o->counter = g_atomic_rc_box_new0 (ByteCounter);
  o->pmt_pid = -1;
  o->hls_open_rt = GST_CLOCK_TIME_NONE;
  g_queue_init (&o->hls_live);
  g_queue_init (&o->hls_old);
  if ((kind == KIND_RTMP || kind == KIND_SRT) && cfg->url) {
    GUri *uri = g_uri_parse (cfg->url, G_URI_FLAGS_NONE, NULL);
    if (uri) {
      const char *host = g_uri_get_host (uri);
      int port = g_uri_get_port (uri);
      if (kind == KIND_RTMP && port <= 0)
        port = g_str_equal (g_uri_get_scheme (uri), "rtmps") ? 443 : 1935;
      o->dest
          = g_strdup_printf ("%s://%s:%d", g_uri_get_scheme (uri), host && *host ? host : "", port);
      if (kind == KIND_RTMP && host && *host) {
        o->probe_host = g_strdup (host);
        o->probe_port = port;
      }
      g_uri_unref (uri);
    }
  }
  if (kind == KIND_HLS && cfg->upload && *cfg->upload)
    o->upload = sc_upload_queue_new (relay->uploader, cfg->upload, id);
  if (kind == KIND_HLS)
    hls_resume (o);
  return o;
}

static void
output_free (ScRelayOutput *o)
{
  o->wanted = FALSE;
  destroy_source (&o->retry_timer);
  probe_stop (o);
  output_teardown (o, TRUE);
  if (o->upload)
    sc_upload_queue_free (o->upload);
  g_queue_clear_full (&o->hls_live, (GDestroyNotify)hls_segment_free);
  g_queue_clear_full (&o->hls_old, g_free);
  if (o->chunk)
    g_byte_array_unref (o->chunk);
  g_atomic_rc_box_release (o->counter);
  g_free (o->probe_host);
  g_free (o->dest);
  g_free (o->last_error);
  g_free (o->id);
  g_free (o);
}

ScRelay *
sc_relay_new (const ScConfig *config, ScMixer *mixer, const ScRelayCallbacks *callbacks)
{
  if (!sc_relay_debug)
    GST_DEBUG_CATEGORY_INIT (sc_relay_debug, "sc-relay", 0, "skillcast outputs");
  ScRelay *relay = g_new0 (ScRelay, 1);
  relay->config = config;
  relay->mixer = mixer;
  if (callbacks)
    relay->callbacks = *callbacks;
  relay->context = g_main_context_ref_thread_default ();
  g_mutex_init (&relay->lock);
  relay->uploader = sc_uploader_new (relay->context);
  relay->outputs = g_ptr_array_new ();
  for (guint i = 0; config && i < config->n_outputs; i++) {
    const ScOutputConfig *cfg = &config->outputs[i];
    g_ptr_array_add (relay->outputs, output_new (relay, cfg, (OutputKind)cfg->type, cfg->id));
  }
  if (relay->callbacks.live_ts)
    relay->live = output_new (relay, NULL, KIND_LIVE, "live");
  return relay;
}

void
sc_relay_free (ScRelay *relay)
{
  if (!relay)
    return;
  if (relay->mixer_sink && sc_mixer_remove_sink)
    sc_mixer_remove_sink (relay->mixer, relay->mixer_sink);
  relay->mixer_sink = 0;
  destroy_source (&relay->tick);
  for (guint i = 0; i < relay->outputs->len; i++)
    output_free (g_ptr_array_index (relay->outputs, i));
  g_ptr_array_unref (relay->outputs);
  if (relay->live)
    output_free (relay->live);
  sc_uploader_free (relay->uploader);
  gst_clear_caps (&relay->video_caps);
  gst_clear_caps (&relay->audio_caps);
  g_mutex_clear (&relay->lock);
  g_main_context_unref (relay->context);
  g_free (relay);
}

/* The tick and the mixer subscription, once per start. */
static void
relay_ensure_running (ScRelay *relay)
{
  if (relay->started)
    return;
  relay->started = TRUE;
  if (relay->mixer && sc_mixer_add_sink && !relay->mixer_sink) {
    ScProgramSink sink = { .packet = on_program_packet, .user_data = relay };
    relay->mixer_sink = sc_mixer_add_sink (relay->mixer, &sink);
  }
  relay->tick = g_timeout_source_new (TICK_MS);
  g_source_set_callback (relay->tick, on_tick, relay, NULL);
  g_source_attach (relay->tick, relay->context);
}

void
sc_relay_start (ScRelay *relay)
{
  relay_ensure_running (relay);
  for (guint i = 0; i < relay->outputs->len; i++)
    output_start (g_ptr_array_index (relay->outputs, i));
  if (relay->live)
    output_start (relay->live);
}

void
sc_relay_stop (ScRelay *relay)
{
  if (relay->mixer_sink && sc_mixer_remove_sink)
    sc_mixer_remove_sink (relay->mixer, relay->mixer_sink);
  relay->mixer_sink = 0;
  relay->started = FALSE;
  destroy_source (&relay->tick);

  /* EOS into everything at once, then wait for each, sharing one deadline.
   * Messages are popped here directly (the main loop is not running us
   * re-entrantly), and HLS segment messages still update the playlist. */
  GPtrArray *draining = g_ptr_array_new ();
  for (guint i = 0; i <= relay->outputs->len; i++) {
    ScRelayOutput *o
        = i < relay->outputs->len ? g_ptr_array_index (relay->outputs, i) : relay->live;
    if (!o)
      continue;
    gboolean was_draining = o->draining;
    o->wanted = FALSE;
    o->state = SC_OUTPUT_STOPPED;
    destroy_source (&o->retry_timer);
    probe_stop (o);
    destroy_source (&o->drain_timer);
    if (was_draining || output_send_eos (o)) {
      o->draining = TRUE;
      g_ptr_array_add (draining, o);
    } else {
      output_finish_drain (o);
    }
  }
  gint64 deadline = g_get_monotonic_time () + DRAIN_MS * 1000;
  for (guint i = 0; i < draining->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (draining, i);
    GstBus *bus = o->pipeline ? gst_pipeline_get_bus (GST_PIPELINE (o->pipeline)) : NULL;
    while (bus && o->draining) {
      gint64 left = deadline - g_get_monotonic_time ();
      GstMessage *msg = left > 0 ? gst_bus_timed_pop_filtered (
                            bus, (GstClockTime)left * GST_USECOND,
                            GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT)
                                 : NULL;
      if (!msg) {
        GST_WARNING ("output %s: no EOS before the stop deadline, closing anyway", o->id);
        break;
      }
      output_handle_message (o, msg); /* EOS/ERROR finish the drain */
      gst_message_unref (msg);
    }
    if (bus)
      gst_object_unref (bus);
    if (o->draining || o->pipeline)
      output_finish_drain (o);
  }
  g_ptr_array_unref (draining);

  /* Give the last playlist (#EXT-X-ENDLIST) a short, bounded chance to
   * reach the origin. */
  gboolean pending = FALSE;
  for (guint i = 0; i < relay->outputs->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
    pending |= o->upload && sc_upload_queue_pending (o->upload) > 0;
  }
  if (pending && g_main_context_acquire (relay->context)) {
    gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
    while (pending && g_get_monotonic_time () < end) {
      if (!g_main_context_iteration (relay->context, FALSE))
        g_usleep (5000);
      pending = FALSE;
      for (guint i = 0; i < relay->outputs->len; i++) {
        ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
        pending |= o->upload && sc_upload_queue_pending (o->upload) > 0;
      }
    }
    g_main_context_release (relay->context);
  }
}

static ScRelayOutput *
find_output (ScRelay *relay, const char *id)
{
  for (guint i = 0; id && i < relay->outputs->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
    if (g_str_equal (o->id, id))
      return o;
  }
  return NULL;
}

gboolean
sc_relay_output_action (ScRelay *relay, const char *output_id, const char *action, GError **error)
{
  ScRelayOutput *o = find_output (relay, output_id);
  if (!o) {
    g_set_error (error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID, "unknown output %s",
                 output_id ? output_id : "(none)");
    return FALSE;
  }
  if (g_strcmp0 (action, "start") == 0) {
    relay_ensure_running (relay);
    GST_INFO ("output %s: started by the operator", o->id);
    output_start (o);
    return TRUE;
  }
  if (g_strcmp0 (action, "stop") == 0) {
    GST_INFO ("output %s: stopped by the operator", o->id);
    if (o->wanted || o->pipeline)
      output_stop (o);
    return TRUE;
  }
  g_set_error (error, SC_RELAY_ERROR, SC_RELAY_ERROR_INVALID,
               "unknown action \"%s\" for output %s (expected start or stop)", action ? action : "",
               o->id);
  return FALSE;
}

const char *
sc_relay_hls_dir (ScRelay *relay, const char *output_id)
{
  ScRelayOutput *o = find_output (relay, output_id);
  return o && o->kind == KIND_HLS ? o->cfg->dir : NULL;
}

char *
sc_relay_outputs_json (ScRelay *relay)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < relay->outputs->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, o->id);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, kind_names[o->kind]);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, sc_output_state_to_string (o->state));
    json_builder_set_member_name (b, "bytes");
    json_builder_add_int_value (b, output_bytes (o));
    json_builder_set_member_name (b, "reconnects");
    json_builder_add_int_value (b, (gint64)o->reconnects);
    json_builder_set_member_name (b, "last_error");
    if (o->last_error)
      json_builder_add_string_value (b, o->last_error);
    else
      json_builder_add_null_value (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  JsonNode *root = json_builder_get_root (b);
  char *out = json_to_string (root, FALSE);
  json_node_unref (root);
  g_object_unref (b);
  return out;
}

void
sc_relay_metrics (ScRelay *relay, GString *out)
{
  g_string_append (out, "# HELP skillcast_output_up Whether the output is sending (1) or not (0).\n"
                        "# TYPE skillcast_output_up gauge\n");
  for (guint i = 0; i < relay->outputs->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
    g_string_append_printf (out, "skillcast_output_up{output=\"%s\"} %d\n", o->id,
                            o->state == SC_OUTPUT_RUNNING && o->pipeline ? 1 : 0);
  }
  g_string_append (
      out, "# HELP skillcast_output_reconnects_total Rebuilds of the output after a failure.\n"
           "# TYPE skillcast_output_reconnects_total counter\n");
  for (guint i = 0; i < relay->outputs->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
    g_string_append_printf (
        out, "skillcast_output_reconnects_total{output=\"%s\"} %" G_GUINT64_FORMAT "\n", o->id,
        o->reconnects);
  }
  g_string_append (out, "# HELP skillcast_output_bytes_total Bytes handed to the output's sink.\n"
                        "# TYPE skillcast_output_bytes_total counter\n");
  for (guint i = 0; i < relay->outputs->len; i++) {
    ScRelayOutput *o = g_ptr_array_index (relay->outputs, i);
    g_string_append_printf (out,
                            "skillcast_output_bytes_total{output=\"%s\"} %" G_GINT64_FORMAT "\n",
                            o->id, output_bytes (o));
  }
}
