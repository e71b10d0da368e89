/* mixer.c — the program: scenes (layouts) built on the main loop, the
 * program thread that composes and mixes on its own clock, and the encode
 * pipeline that hands access units to subscribers.
 *
 * Who touches what:
 *  - main loop: layout/focus/transition state, the slate cache, the
 *    auto-director, building scenes and swapping them in (under LOCK);
 *  - program thread: takes a reference to the current scene under LOCK
 *    once per tick and does everything else without locks (audio settings
 *    are atomics);
 *  - encoder streaming threads (one per appsink): read the subscriber list
 *    under SINKS_LOCK (a reader lock, so video and audio run in parallel
 *    and sc_mixer_remove_sink can wait for a callback to finish).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include "mixer/mixer-private.h"

GST_DEBUG_CATEGORY (sc_mixer_debug);

G_DEFINE_QUARK (sc - mixer - error - quark, sc_mixer_error)

#define DEFAULT_PRESET "veryfast"
#define DUCK_DB (-12.0)  /* others under a focused station */
#define AUDIO_CHUNK 4800 /* frames mixed at a time (100 ms) */
#define EOS_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define VIDEO_QUEUE_FRAMES 8 /* raw frames the video appsrc may hold */
#define MAX_TRANSITION_MS 2000
#define PROGRAM_NICE (-10) /* the program thread's priority, best effort */

/* Black in limited-range BT.601 YUV. */
#define BG_Y 16
#define BG_U 128
#define BG_V 128

typedef struct {
  int station;
  int x, y, width, height;
  GstBuffer *slate; /* I420 width x height, shown when the station is not live */
} SceneTile;

/* An immutable picture plan: built on the main loop, read by the program
 * thread. Refcounted so a scene being drawn survives a swap. */
typedef struct {
  gint ref;
  guint serial;
  ScLayout layout;
  int focus;               /* station index, or -1 when the layout has no focus */
  ScTransition transition; /* how to enter this scene */
  int transition_ms;
  gboolean clear; /* tiles do not cover the picture: paint the background */
  guint n_tiles;
  SceneTile tiles[SC_MIXER_MAX_TILES];
} Scene;

typedef struct {
  guint id;
  ScProgramSink sink;
} Sink;

struct ScMixer {
  const ScConfig *config;
  ScIngest **stations; /* not owned */
  guint n_stations;
  ScOverlay *overlay; /* not owned, may be NULL */
  /* program.audio.commentary: an audio-only feed the mixer owns, started
   * and stopped with the program; NULL when the config has none. */
  ScIngest *commentary;
  ScMixerCallbacks callbacks;
  int width, height, fps;
  GMainContext *context;

  /* Main loop only. */
  ScLayout layout;
  int focus; /* station index, always valid when n_stations > 0 */
  int pair[2];
  ScTransition transition;
  int transition_ms;
  guint serial;
  GHashTable *slates; /* "index/WxH" -> GstBuffer */
  GSource *director;  /* auto-director hold timer, NULL when not holding */
  ScLayout held_layout;
  int held_focus;
  int held_pair[2];
  gboolean running;

  /* LOCK guards SCENE (the pointer; the scene itself is immutable) and
   * WAIT_ID (the program thread's wait on CLOCK, so stop can cut it short). */
  GMutex lock;
  Scene *scene;
  GstClockID wait_id;

  /* PROBE_LOCK guards PROBE and PROBE_DATA, and is held while it runs. */
  GMutex probe_lock;
  ScMixerFrameProbe probe;
  gpointer probe_data;

  /* Audio settings, atomics (Q12 gains); written on the main loop. */
  gint *gain_q12;
  gint *mute;
  gint program_gain_q12;
  gint program_mute;
  gint commentary_gain_q12;
  gint commentary_mute;
  double commentary_gain_db; /* main loop: as set, for the status */
  gint fade_armed;           /* atomic: the transition is a fade, keep clean frames */

  /* Program thread only (after start). */
  GstClock *clock; /* NULL: CLOCK_MONOTONIC (sc_mixer_set_clock, before start) */
  GThread *thread;
  gint stop; /* atomic */
  GstBufferPool *pool;
  GstVideoInfo vinfo;
  GstBuffer *last_comp; /* last composition, before the overlay */
  guint shown_serial;
  GstBuffer *fade_from;
  guint64 fade_start;
  guint fade_frames;
  guint64 audio_frames; /* samples (per channel) pushed so far */
  gint16 *audio_in;
  gint32 *audio_acc;
  gint16 *audio_out;

  /* Encode pipeline. */
  GstElement *pipeline, *vsrc, *asrc, *vsink, *asink;
  guint bus_watch;

  GRWLock sinks_lock; /* guards SINKS (reader: dispatching; writer: add/remove) */
  GArray *sinks;
  guint next_sink_id; /* under the writer lock */

  GMutex caps_lock; /* guards VCAPS, ACAPS */
  GstCaps *vcaps, *acaps;

  GMutex eos_lock; /* guards VEOS, AEOS */
  GCond eos_cond;
  gboolean veos, aeos;

  _Atomic guint64 frames;
  _Atomic guint64 late_frames;
  _Atomic guint64 fps_milli;
};

static void
ensure_debug (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (sc_mixer_debug, "sc-mixer", 0, "skillcast program mixer");
    g_once_init_leave (&once, 1);
  }
}

/* ---------------------------------------------------------------- scenes */

static Scene *
scene_ref (Scene *scene)
{
  g_atomic_int_inc (&scene->ref);
  return scene;
}

static void
scene_unref (Scene *scene)
{
  if (!scene || !g_atomic_int_dec_and_test (&scene->ref))
    return;
  for (guint i = 0; i < scene->n_tiles; i++)
    gst_clear_buffer (&scene->tiles[i].slate);
  g_free (scene);
}

static Scene *
current_scene (ScMixer *mixer)
{
  Scene *scene = NULL;
  g_mutex_lock (&mixer->lock);
  if (mixer->scene)
    scene = scene_ref (mixer->scene);
  g_mutex_unlock (&mixer->lock);
  return scene;
}

static const char *
station_id (ScMixer *mixer, int index)
{
  return mixer->config->stations[index].id;
}

static int
station_index (ScMixer *mixer, const char *id)
{
  for (guint i = 0; id && i < mixer->n_stations; i++)
    if (g_str_equal (mixer->config->stations[i].id, id))
      return (int)i;
  return -1;
}

/* A slate of WIDTH x HEIGHT for STATION: rendered once per size (pango, so
 * main loop only) and kept. */
static GstBuffer *
slate_for (ScMixer *mixer, int station, int width, int height)
{
  g_autofree char *key = g_strdup_printf ("%d/%dx%d", station, width, height);
  GstBuffer *slate = g_hash_table_lookup (mixer->slates, key);

  if (!slate) {
    const ScStationConfig *sc = &mixer->config->stations[station];
    slate = sc_overlay_render_slate (width, height, mixer->config->overlay.font, sc->id,
                                     sc->name ? sc->name : sc->id);
    if (!slate) {
      /* No slate renderer: a dark grey tile still says "nothing here". */
      GstVideoInfo info;
      GstVideoFrame frame;
      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, width, height);
      slate = gst_buffer_new_allocate (NULL, info.size, NULL);
      if (gst_video_frame_map (&frame, &info, slate, GST_MAP_WRITE)) {
        sc_mixer_fill_rect (&frame, 0, 0, width, height, 40, 128, 128);
        gst_video_frame_unmap (&frame);
      }
    }
    g_hash_table_insert (mixer->slates, g_steal_pointer (&key), slate);
  }
  return gst_buffer_ref (slate);
}

static gboolean
layout_has_focus (ScLayout layout)
{
  return layout == SC_LAYOUT_FOCUS || layout == SC_LAYOUT_PIP || layout == SC_LAYOUT_SINGLE;
}

/* Builds the scene for the current layout state, resizes the stations and
 * relabels the overlay, then swaps the scene in. Main loop. */
static void
apply_layout (ScMixer *mixer, gboolean notify)
{
  ScMixerRect rects[SC_MIXER_MAX_TILES];
  ScOverlayTile labels[SC_MIXER_MAX_TILES];
  gboolean *on_screen = g_newa (gboolean, MAX (1, mixer->n_stations));
  guint n = sc_mixer_layout_tiles (mixer->layout, mixer->width, mixer->height, mixer->n_stations,
                                   mixer->focus, mixer->pair, rects);
  Scene *scene = g_new0 (Scene, 1);
  gint64 covered = 0;
  int ow, oh;

  memset (on_screen, 0, sizeof (gboolean) * MAX (1, mixer->n_stations));
  scene->ref = 1;
  scene->serial = ++mixer->serial;
  scene->layout = mixer->layout;
  scene->focus = layout_has_focus (mixer->layout) && mixer->n_stations ? mixer->focus : -1;
  scene->transition = mixer->transition;
  scene->transition_ms = mixer->transition_ms;
  scene->n_tiles = n;

  for (guint i = 0; i < n; i++) {
    const ScMixerRect *r = &rects[i];
    const ScStationConfig *sc = &mixer->config->stations[r->station];

    scene->tiles[i].station = r->station;
    scene->tiles[i].x = r->x;
    scene->tiles[i].y = r->y;
    scene->tiles[i].width = r->width;
    scene->tiles[i].height = r->height;
    scene->tiles[i].slate = slate_for (mixer, r->station, r->width, r->height);
    covered += (gint64)r->width * r->height;
    on_screen[r->station] = TRUE;
    sc_ingest_set_tile_size (mixer->stations[r->station], r->width, r->height);
    labels[i] = (ScOverlayTile){ sc->id, sc->name, r->x, r->y, r->width, r->height };
  }
  /* pip overlaps, so its area sum exceeds the picture and it needs no
   * background; the others cover the picture exactly or leave bands. */
  scene->clear = mixer->layout != SC_LAYOUT_PIP && covered < (gint64)mixer->width * mixer->height;

  sc_mixer_offscreen_size (mixer->width, mixer->height, &ow, &oh);
  for (guint i = 0; i < mixer->n_stations; i++)
    if (!on_screen[i])
      sc_ingest_set_tile_size (mixer->stations[i], ow, oh);

  if (mixer->overlay) {
    sc_overlay_set_tiles (mixer->overlay, labels, n);
    sc_overlay_set_focus (mixer->overlay,
                          scene->focus >= 0 ? station_id (mixer, scene->focus) : NULL);
  }

  g_mutex_lock (&mixer->lock);
  Scene *old = mixer->scene;
  mixer->scene = scene;
  g_mutex_unlock (&mixer->lock);
  scene_unref (old);

  GST_INFO ("program: %s, focus %s, %u tiles, %s %d ms", sc_mixer_layout_name (mixer->layout),
            scene->focus >= 0 ? station_id (mixer, scene->focus) : "none", n,
            mixer->transition == SC_TRANSITION_FADE ? "fade" : "cut", mixer->transition_ms);

  if (notify && mixer->callbacks.program_changed)
    mixer->callbacks.program_changed (mixer, mixer->callbacks.user_data);
}

/* ------------------------------------------------------- program thread */

/* The program clock: CLOCK_MONOTONIC, or the clock a benchmark set. */
static gint64
now_ns (ScMixer *mixer)
{
  struct timespec ts;
  if (mixer->clock)
    return (gint64)gst_clock_get_time (mixer->clock);
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_until_ns (ScMixer *mixer, gint64 deadline)
{
  struct timespec ts = { .tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000 };
  if (mixer->clock) {
    GstClockID id = gst_clock_new_single_shot_id (mixer->clock, (GstClockTime)deadline);
    gboolean stopping;
    g_mutex_lock (&mixer->lock);
    stopping = g_atomic_int_get (&mixer->stop);
    if (!stopping)
      mixer->wait_id = id;
    g_mutex_unlock (&mixer->lock);
    if (!stopping)
      gst_clock_id_wait (id, NULL);
    g_mutex_lock (&mixer->lock);
    mixer->wait_id = NULL;
    g_mutex_unlock (&mixer->lock);
    gst_clock_id_unref (id);
    return;
  }
  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

/* Draws SCENE into a fresh frame from the pool. */
static GstBuffer *
compose (ScMixer *mixer, Scene *scene, guint64 n)
{
  GstBuffer *buffer = NULL;
  GstVideoFrame frame;

  if (gst_buffer_pool_acquire_buffer (mixer->pool, &buffer, NULL) != GST_FLOW_OK)
    return NULL;
  if (!gst_video_frame_map (&frame, &mixer->vinfo, buffer, GST_MAP_WRITE)) {
    gst_buffer_unref (buffer);
    return NULL;
  }
  if (scene->clear)
    sc_mixer_fill_rect (&frame, 0, 0, mixer->width, mixer->height, BG_Y, BG_U, BG_V);

  for (guint i = 0; i < scene->n_tiles; i++) {
    const SceneTile *t = &scene->tiles[i];
    int w = 0, h = 0;
    GstBuffer *tile = sc_ingest_pull_video (mixer->stations[t->station], &w, &h);
    GstVideoInfo info;
    GstVideoFrame src;
    gboolean drawn = FALSE;

    if (tile && w > 0 && h > 0) {
      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, w, h);
      if (gst_video_frame_map (&src, &info, tile, GST_MAP_READ)) {
        sc_mixer_copy_tile (&frame, t->x, t->y, t->width, t->height, &src);
        gst_video_frame_unmap (&src);
        drawn = TRUE;
      }
    }
    if (!drawn) {
      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, t->width, t->height);
      if (gst_video_frame_map (&src, &info, t->slate, GST_MAP_READ)) {
        sc_mixer_copy_tile (&frame, t->x, t->y, t->width, t->height, &src);
        gst_video_frame_unmap (&src);
      } else {
        sc_mixer_fill_rect (&frame, t->x, t->y, t->width, t->height, BG_Y, BG_U, BG_V);
      }
    }
    if (tile)
      gst_buffer_unref (tile);
  }

  /* Fading in: mix the frozen last picture of the old scene over it. */
  if (mixer->fade_from) {
    GstVideoFrame from;
    guint64 k = n - mixer->fade_start;
    if (k < mixer->fade_frames
        && gst_video_frame_map (&from, &mixer->vinfo, mixer->fade_from, GST_MAP_READ)) {
      sc_mixer_blend_frames (&frame, &from, (guint)((k + 1) * 256 / (mixer->fade_frames + 1)));
      gst_video_frame_unmap (&from);
    } else {
      gst_clear_buffer (&mixer->fade_from);
    }
  }
  gst_video_frame_unmap (&frame);
  return buffer;
}

/* The composition plus the overlay. With KEEP_CLEAN (a fade may come) the
 * overlay goes into a copy, so the composition stays clean to fade from;
 * otherwise (cut, the default) it is blended in place and saves a
 * full-frame copy per tick. */
static GstBuffer *
add_overlay (ScMixer *mixer, GstBuffer *comp, gboolean keep_clean)
{
  ScOverlayImage *image = mixer->overlay ? sc_overlay_get_image (mixer->overlay) : NULL;
  GstBuffer *out = NULL;
  GstMapInfo in_map, out_map;
  GstVideoFrame frame;

  if (!image)
    return gst_buffer_ref (comp);
  if (!keep_clean) {
    if (gst_video_frame_map (&frame, &mixer->vinfo, comp, GST_MAP_WRITE)) {
      sc_overlay_image_blend (image, &frame, 0, 0);
      gst_video_frame_unmap (&frame);
    }
    sc_overlay_image_unref (image);
    return gst_buffer_ref (comp);
  }
  if (gst_buffer_pool_acquire_buffer (mixer->pool, &out, NULL) != GST_FLOW_OK) {
    sc_overlay_image_unref (image);
    return gst_buffer_ref (comp);
  }
  if (gst_buffer_map (comp, &in_map, GST_MAP_READ)) {
    if (gst_buffer_map (out, &out_map, GST_MAP_WRITE)) {
      memcpy (out_map.data, in_map.data, MIN (in_map.size, out_map.size));
      gst_buffer_unmap (out, &out_map);
    }
    gst_buffer_unmap (comp, &in_map);
  }
  if (gst_video_frame_map (&frame, &mixer->vinfo, out, GST_MAP_WRITE)) {
    sc_overlay_image_blend (image, &frame, 0, 0);
    gst_video_frame_unmap (&frame);
  }
  sc_overlay_image_unref (image);
  return out;
}

/* Mixes and pushes the audio up to sample END (per channel). */
static void
mix_audio (ScMixer *mixer, Scene *scene, guint64 end)
{
  int duck_q12 = sc_mixer_gain_q12 (DUCK_DB);

  while (mixer->audio_frames < end) {
    guint n = (guint)MIN (end - mixer->audio_frames, AUDIO_CHUNK);
    gsize samples = (gsize)n * SC_AUDIO_CHANNELS;
    GstBuffer *buffer;

    memset (mixer->audio_acc, 0, samples * sizeof (gint32));
    for (guint i = 0; i < mixer->n_stations; i++) {
      /* Pull even when muted: the station's ring must keep draining in
       * step with the program, or unmuting would replay stale audio. */
      guint got = sc_ingest_pull_audio (mixer->stations[i], mixer->audio_in, n);
      int gain = g_atomic_int_get (&mixer->gain_q12[i]);
      if (got == 0 || g_atomic_int_get (&mixer->mute[i]))
        continue;
      if (scene && scene->focus >= 0 && scene->focus != (int)i)
        gain = (int)(((gint64)gain * duck_q12) >> 12);
      sc_mixer_audio_accumulate (mixer->audio_acc, mixer->audio_in, samples, gain);
    }
    if (mixer->commentary) {
      /* The commentary is never ducked: it talks over every layout. Pulled
       * while muted too, for the same reason as the stations. */
      guint got = sc_ingest_pull_audio (mixer->commentary, mixer->audio_in, n);
      if (got > 0 && !g_atomic_int_get (&mixer->commentary_mute))
        sc_mixer_audio_accumulate (mixer->audio_acc, mixer->audio_in, samples,
                                   g_atomic_int_get (&mixer->commentary_gain_q12));
    }
    if (g_atomic_int_get (&mixer->program_mute))
      memset (mixer->audio_out, 0, samples * sizeof (gint16));
    else
      sc_mixer_audio_finish (mixer->audio_out, mixer->audio_acc, samples,
                             g_atomic_int_get (&mixer->program_gain_q12));

    buffer = gst_buffer_new_memdup (mixer->audio_out, samples * sizeof (gint16));
    GST_BUFFER_PTS (buffer)
        = gst_util_uint64_scale (mixer->audio_frames, GST_SECOND, SC_AUDIO_RATE);
    GST_BUFFER_DURATION (buffer) = gst_util_uint64_scale (n, GST_SECOND, SC_AUDIO_RATE);
    mixer->audio_frames += n;
    gst_app_src_push_buffer (GST_APP_SRC (mixer->asrc), buffer);
  }
}

/* One program frame: frame number N. */
static void
tick (ScMixer *mixer, guint64 n)
{
  Scene *scene = current_scene (mixer);
  GstBuffer *comp, *out;

  if (scene && scene->serial != mixer->shown_serial) {
    /* A new scene: a fade starts from the last picture of the old one. */
    gst_clear_buffer (&mixer->fade_from);
    if (scene->transition == SC_TRANSITION_FADE && scene->transition_ms > 0 && mixer->last_comp) {
      mixer->fade_from = gst_buffer_ref (mixer->last_comp);
      mixer->fade_start = n;
      mixer->fade_frames = MAX (1, (guint)((gint64)scene->transition_ms * mixer->fps / 1000));
    }
    mixer->shown_serial = scene->serial;
  }
  comp = scene ? compose (mixer, scene, n) : NULL;
  if (comp) {
    /* LAST_COMP is what a fade starts from: clean while a fade is armed;
     * if the operator arms one and changes the layout within the same
     * tick, the fade starts from a frame with the overlay in it (which
     * only deepens its translucent parts for the length of the fade). */
    out = add_overlay (mixer, comp, g_atomic_int_get (&mixer->fade_armed));
    gst_clear_buffer (&mixer->last_comp);
    mixer->last_comp = comp;

    GST_BUFFER_PTS (out) = gst_util_uint64_scale (n, GST_SECOND, mixer->fps);
    GST_BUFFER_DURATION (out) = gst_util_uint64_scale (1, GST_SECOND, mixer->fps);

    g_mutex_lock (&mixer->probe_lock);
    if (mixer->probe)
      mixer->probe (out, n, mixer->probe_data);
    g_mutex_unlock (&mixer->probe_lock);

    gst_app_src_push_buffer (GST_APP_SRC (mixer->vsrc), out);
    atomic_fetch_add (&mixer->frames, 1);
  }

  /* Audio up to the end of this frame, in step with the video; after a
   * skip this covers the skipped frames too, so audio has no gap. */
  mix_audio (mixer, scene, gst_util_uint64_scale (n + 1, SC_AUDIO_RATE, mixer->fps));

  if (scene)
    scene_unref (scene);
}

static gpointer
program_thread (gpointer data)
{
  ScMixer *mixer = data;
  gint64 start = now_ns (mixer);
  gint64 frame_ns = 1000000000 / mixer->fps;
  gint64 window_start = start;
  guint64 window_frames = 0;
  guint64 n = 0;

  /* The program clock is the one thing that must not wait behind others:
   * ask for a higher priority for this (light) thread. Needs CAP_SYS_NICE
   * (or an RLIMIT_NICE allowance); without it we run at normal priority. */
  if (setpriority (PRIO_PROCESS, (id_t)syscall (SYS_gettid), PROGRAM_NICE) != 0)
    GST_INFO ("program thread stays at normal priority (%s)", g_strerror (errno));

  while (!g_atomic_int_get (&mixer->stop)) {
    /* Absolute deadlines: no drift however long each tick takes. */
    gint64 deadline = start + (gint64)gst_util_uint64_scale (n, GST_SECOND, mixer->fps);
    gint64 now = now_ns (mixer);

    if (now < deadline) {
      sleep_until_ns (mixer, deadline);
      now = now_ns (mixer);
    } else if (now - deadline > frame_ns) {
      /* Behind by more than a frame: skip the frames that are already due
       * rather than bursting them out, and say so. */
      guint64 skip = (guint64)((now - deadline) / frame_ns);
      atomic_fetch_add (&mixer->late_frames, skip);
      n += skip;
      GST_DEBUG ("program late by %" G_GINT64_FORMAT " us, skipped %" G_GUINT64_FORMAT " frames",
                 (now - deadline) / 1000, skip);
    }

    tick (mixer, n);
    n++;
    {
      /* Tell a slow tick (our work) from a late wake-up (a busy machine). */
      gint64 took = now_ns (mixer) - now;
      if (took > frame_ns)
        GST_INFO ("program tick %" G_GUINT64_FORMAT " took %" G_GINT64_FORMAT " ms", n - 1,
                  took / 1000000);
    }

    if (now - window_start >= 1000000000) {
      guint64 frames = atomic_load (&mixer->frames);
      atomic_store (&mixer->fps_milli,
                    (guint64)((frames - window_frames) * 1e12 / (double)(now - window_start)));
      window_start = now;
      window_frames = frames;
    }
  }
  return NULL;
}

/* ------------------------------------------------------- encode pipeline */

/* TS in SEG as running time; NONE stays NONE, and a time before the
 * segment's start (a DTS ahead of the first PTS) clamps to 0. */
static GstClockTime
running_time (const GstSegment *seg, GstClockTime ts)
{
  guint64 rt;
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  if (gst_segment_to_running_time_full (seg, GST_FORMAT_TIME, ts, &rt) < 0)
    return 0;
  return rt;
}

static GstFlowReturn
on_new_sample (GstAppSink *appsink, gpointer data)
{
  ScMixer *mixer = data;
  gboolean video = GST_ELEMENT (appsink) == mixer->vsink;
  GstSample *sample = gst_app_sink_pull_sample (appsink);
  GstBuffer *buffer;
  GstCaps *caps;

  if (!sample)
    return GST_FLOW_OK;
  buffer = gst_sample_get_buffer (sample);
  caps = gst_sample_get_caps (sample);

  if (caps) {
    GstCaps **slot = video ? &mixer->vcaps : &mixer->acaps;
    g_mutex_lock (&mixer->caps_lock);
    if (*slot != caps) {
      gst_caps_replace (slot, caps);
      GST_INFO ("program %s caps: %" GST_PTR_FORMAT, video ? "video" : "audio", caps);
    }
    g_mutex_unlock (&mixer->caps_lock);
  }

  if (buffer) {
    /* Subscribers get program running time on both streams. The encoders'
     * own segments differ (x264enc's output starts 1000 hours in, so no DTS
     * is ever negative), so raw timestamps would not line up. A shallow
     * copy: the memory is shared, only the metadata changes. */
    const GstSegment *seg = gst_sample_get_segment (sample);
    if (seg && seg->format == GST_FORMAT_TIME) {
      buffer = gst_buffer_copy (buffer);
      GST_BUFFER_PTS (buffer) = running_time (seg, GST_BUFFER_PTS (buffer));
      GST_BUFFER_DTS (buffer) = running_time (seg, GST_BUFFER_DTS (buffer));
    } else {
      gst_buffer_ref (buffer);
    }
    g_rw_lock_reader_lock (&mixer->sinks_lock);
    for (guint i = 0; i < mixer->sinks->len; i++) {
      Sink *s = &g_array_index (mixer->sinks, Sink, i);
      s->sink.packet (buffer, video, s->sink.user_data);
    }
    g_rw_lock_reader_unlock (&mixer->sinks_lock);
    gst_buffer_unref (buffer);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
on_eos (GstAppSink *appsink, gpointer data)
{
  ScMixer *mixer = data;
  g_mutex_lock (&mixer->eos_lock);
  if (GST_ELEMENT (appsink) == mixer->vsink)
    mixer->veos = TRUE;
  else
    mixer->aeos = TRUE;
  g_cond_broadcast (&mixer->eos_cond);
  g_mutex_unlock (&mixer->eos_lock);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer data)
{
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    g_autofree char *debug = NULL;
    gst_message_parse_error (message, &err, &debug);
    GST_ERROR ("program encoder: %s (%s)", err->message, debug ? debug : "");
  } else if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_WARNING) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_warning (message, &err, NULL);
    GST_WARNING ("program encoder: %s", err->message);
  }
  return G_SOURCE_CONTINUE;
}

static GstElement *
make (const char *factory, const char *name, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e)
    g_set_error (error, SC_MIXER_ERROR, SC_MIXER_ERROR_PIPELINE,
                 "GStreamer element \"%s\" is missing (install the plugin that has it)", factory);
  return e;
}

/* Sets an enum property by nick, checking the nick exists. */
static gboolean
set_enum_nick (GstElement *element, const char *property, const char *nick)
{
  GParamSpec *spec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), property);
  if (!spec || !G_IS_PARAM_SPEC_ENUM (spec))
    return FALSE;
  if (!g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (spec)->enum_class, nick))
    return FALSE;
  gst_util_set_object_arg (G_OBJECT (element), property, nick);
  return TRUE;
}

/* x264's threads for the program: one where one is plenty. With tune
 * zerolatency x264 threads by slices, and on a 720p30 program at the
 * fast presets the slices cost more than they give: bench/mixer, 20 s of
 * 720p30 ultrafast, encoder CPU 1.4-1.8 s with one thread against
 * 2.1-2.2 s with sliced threads (auto or 2), and the whole job ran no
 * slower. Larger or slower programs keep sliced threads (0 = x264's
 * automatic count), so one core never has to carry the whole encode. */
static guint
encoder_threads (const char *preset, int width, int height, int fps)
{
  static const char *const fast[] = { "ultrafast", "superfast", "veryfast" };
  gboolean is_fast = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (fast); i++)
    is_fast |= g_str_equal (preset, fast[i]);
  return is_fast && (gint64)width * height * fps <= (gint64)1280 * 720 * 30 ? 1 : 0;
}

static gboolean
build_pipeline (ScMixer *mixer, GError **error)
{
  const ScProgramConfig *pc = &mixer->config->program;
  const char *preset = pc->video_preset && *pc->video_preset ? pc->video_preset : DEFAULT_PRESET;
  GstElement *venc, *vcaps1, *vparse, *vcaps2, *aconv, *aenc, *aparse, *acaps;
  GstAppSinkCallbacks callbacks = { .eos = on_eos, .new_sample = on_new_sample };
  g_autoptr (GstCaps) raw_video = NULL, raw_audio = NULL, h264 = NULL, h264_out = NULL, aac = NULL;
  GstBus *bus;

  mixer->pipeline = gst_pipeline_new ("program");
  if (!(mixer->vsrc = make ("appsrc", "program-video", error))
      || !(venc = make ("x264enc", "program-x264", error))
      || !(vcaps1 = make ("capsfilter", NULL, error)) || !(vparse = make ("h264parse", NULL, error))
      || !(vcaps2 = make ("capsfilter", NULL, error))
      || !(mixer->vsink = make ("appsink", "program-video-out", error))
      || !(mixer->asrc = make ("appsrc", "program-audio", error))
      || !(aconv = make ("audioconvert", NULL, error)))
    return FALSE;
  /* voaacenc is light and made for this; avenc_aac where it is missing. */
  aenc = gst_element_factory_make ("voaacenc", "program-aac");
  if (!aenc && !(aenc = make ("avenc_aac", "program-aac", error)))
    return FALSE;
  if (!(aparse = make ("aacparse", NULL, error)) || !(acaps = make ("capsfilter", NULL, error))
      || !(mixer->asink = make ("appsink", "program-audio-out", error)))
    return FALSE;

  gst_bin_add_many (GST_BIN (mixer->pipeline), mixer->vsrc, venc, vcaps1, vparse, vcaps2,
                    mixer->vsink, mixer->asrc, aconv, aenc, aparse, acaps, mixer->asink, NULL);

  /* Video in: raw frames from the program thread. block=false and a leaky
   * bounded queue: if the encoder cannot keep up, the oldest frames are
   * dropped here and the program clock never waits. */
  raw_video = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                   G_TYPE_INT, mixer->width, "height", G_TYPE_INT, mixer->height,
                                   "framerate", GST_TYPE_FRACTION, mixer->fps, 1,
                                   "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  g_object_set (mixer->vsrc, "caps", raw_video, "is-live", TRUE, "format", GST_FORMAT_TIME, "block",
                FALSE, "max-bytes", (guint64)mixer->vinfo.size * VIDEO_QUEUE_FRAMES, NULL);
  set_enum_nick (mixer->vsrc, "leaky-type", "downstream");

  if (!set_enum_nick (venc, "speed-preset", preset)) {
    GST_WARNING ("unknown x264 preset \"%s\", using %s", preset, DEFAULT_PRESET);
    set_enum_nick (venc, "speed-preset", DEFAULT_PRESET);
    preset = DEFAULT_PRESET;
  }
  /* zerolatency: no lookahead, no B-frames, sliced threads: a frame leaves
   * the encoder as soon as it is coded, which the low-latency outputs
   * (SRT, /live/program) need to stay under ~500 ms glass to glass. */
  gst_util_set_object_arg (G_OBJECT (venc), "tune", "zerolatency");
  g_object_set (venc, "bitrate", (guint)MAX (pc->video_bitrate_kbps, 100), "key-int-max",
                (guint)MAX (1, mixer->fps * MAX (pc->keyint_s, 1)), "threads",
                encoder_threads (preset, mixer->vinfo.width, mixer->vinfo.height, mixer->fps),
                NULL);

  /* High profile (CONTRACTS §6) except with ultrafast, whose settings only
   * fit Constrained Baseline: there the encoder's own profile stands. */
  h264 = gst_caps_new_simple ("video/x-h264", "stream-format", G_TYPE_STRING, "byte-stream", NULL);
  if (!g_str_equal (preset, "ultrafast"))
    gst_caps_set_simple (h264, "profile", G_TYPE_STRING, "high", NULL);
  g_object_set (vcaps1, "caps", h264, NULL);
  /* SPS/PPS in front of every keyframe, so an output can join at any one. */
  g_object_set (vparse, "config-interval", -1, NULL);
  h264_out = gst_caps_new_simple ("video/x-h264", "stream-format", G_TYPE_STRING, "byte-stream",
                                  "alignment", G_TYPE_STRING, "au", NULL);
  g_object_set (vcaps2, "caps", h264_out, NULL);

  raw_audio = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "layout",
                                   G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, SC_AUDIO_RATE,
                                   "channels", G_TYPE_INT, SC_AUDIO_CHANNELS, "channel-mask",
                                   GST_TYPE_BITMASK, (guint64)0x3, NULL);
  g_object_set (mixer->asrc, "caps", raw_audio, "is-live", TRUE, "format", GST_FORMAT_TIME, "block",
                FALSE, NULL);
  g_object_set (aenc, "bitrate", MAX (pc->audio_bitrate_kbps, 16) * 1000, NULL);
  aac = gst_caps_new_simple ("audio/mpeg", "mpegversion", G_TYPE_INT, 4, "stream-format",
                             G_TYPE_STRING, "raw", NULL);
  g_object_set (acaps, "caps", aac, NULL);

  /* The subscribers take the packets as they come: no clock sync. */
  for (int i = 0; i < 2; i++) {
    GstElement *sink = i ? mixer->asink : mixer->vsink;
    g_object_set (sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, NULL);
    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, mixer, NULL);
  }

  if (!gst_element_link_many (mixer->vsrc, venc, vcaps1, vparse, vcaps2, mixer->vsink, NULL)
      || !gst_element_link_many (mixer->asrc, aconv, aenc, aparse, acaps, mixer->asink, NULL)) {
    g_set_error (error, SC_MIXER_ERROR, SC_MIXER_ERROR_PIPELINE,
                 "cannot link the program encoders (x264enc / AAC caps)");
    return FALSE;
  }

  bus = gst_pipeline_get_bus (GST_PIPELINE (mixer->pipeline));
  {
    GSource *source = gst_bus_create_watch (bus);
    g_source_set_callback (source, (GSourceFunc)(void (*) (void))on_bus_message, mixer, NULL);
    mixer->bus_watch = g_source_attach (source, mixer->context);
    g_source_unref (source);
  }
  gst_object_unref (bus);
  return TRUE;
}

/* ------------------------------------------------------------ lifecycle */

/* The commentary feed went live or was lost: the program status shows it. */
static void
on_commentary_state (ScIngest *ingest, ScIngestState state, gpointer user_data)
{
  ScMixer *mixer = user_data;
  GST_INFO ("commentary: %s", sc_ingest_state_to_string (state));
  if (mixer->callbacks.program_changed)
    mixer->callbacks.program_changed (mixer, mixer->callbacks.user_data);
}

ScMixer *
sc_mixer_new (const ScConfig *config, ScIngest **stations, ScOverlay *overlay,
              const ScMixerCallbacks *callbacks, GError **error)
{
  const ScProgramConfig *pc = &config->program;
  ScMixer *mixer;
  GstStructure *pool_config;
  g_autoptr (GstCaps) caps = NULL;
  gsize max_samples = (gsize)AUDIO_CHUNK * SC_AUDIO_CHANNELS;

  ensure_debug ();
  g_return_val_if_fail (config != NULL, NULL);

  if (pc->width < 16 || pc->height < 16 || pc->fps < 1 || pc->fps > 120) {
    g_set_error (error, SC_MIXER_ERROR, SC_MIXER_ERROR_INVALID,
                 "program size %dx%d at %d fps is not usable", pc->width, pc->height, pc->fps);
    return NULL;
  }

  mixer = g_new0 (ScMixer, 1);
  mixer->config = config;
  mixer->n_stations = config->n_stations;
  mixer->stations = g_new0 (ScIngest *, MAX (1, mixer->n_stations));
  for (guint i = 0; i < mixer->n_stations; i++)
    mixer->stations[i] = stations[i];
  mixer->overlay = overlay;
  if (callbacks)
    mixer->callbacks = *callbacks;
  mixer->width = pc->width & ~1;
  mixer->height = pc->height & ~1;
  mixer->fps = pc->fps;
  mixer->context = g_main_context_ref_thread_default ();
  g_mutex_init (&mixer->lock);
  g_mutex_init (&mixer->probe_lock);
  g_mutex_init (&mixer->caps_lock);
  g_mutex_init (&mixer->eos_lock);
  g_cond_init (&mixer->eos_cond);
  g_rw_lock_init (&mixer->sinks_lock);
  mixer->sinks = g_array_new (FALSE, FALSE, sizeof (Sink));
  mixer->slates
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)gst_buffer_unref);

  mixer->gain_q12 = g_new0 (gint, MAX (1, mixer->n_stations));
  mixer->mute = g_new0 (gint, MAX (1, mixer->n_stations));
  for (guint i = 0; i < mixer->n_stations; i++)
    mixer->gain_q12[i] = 4096;
  mixer->program_gain_q12 = 4096;
  mixer->commentary_gain_db = pc->commentary_gain_db;
  mixer->commentary_gain_q12 = sc_mixer_gain_q12 (pc->commentary_gain_db);
  mixer->audio_in = g_new0 (gint16, max_samples);
  mixer->audio_acc = g_new0 (gint32, max_samples);
  mixer->audio_out = g_new0 (gint16, max_samples);

  mixer->layout = pc->layout;
  mixer->focus = MAX (0, station_index (mixer, pc->focus));
  mixer->pair[0] = 0;
  mixer->pair[1] = mixer->n_stations > 1 ? 1 : 0;
  mixer->transition = SC_TRANSITION_CUT;
  mixer->transition_ms = 0;

  gst_video_info_set_format (&mixer->vinfo, GST_VIDEO_FORMAT_I420, mixer->width, mixer->height);
  mixer->vinfo.fps_n = mixer->fps;
  mixer->vinfo.fps_d = 1;
  caps = gst_video_info_to_caps (&mixer->vinfo);
  mixer->pool = gst_video_buffer_pool_new ();
  pool_config = gst_buffer_pool_get_config (mixer->pool);
  /* No maximum: frames held by the encoder or a fade are simply more. */
  gst_buffer_pool_config_set_params (pool_config, caps, (guint)mixer->vinfo.size, 4, 0);
  if (!gst_buffer_pool_set_config (mixer->pool, pool_config)
      || !gst_buffer_pool_set_active (mixer->pool, TRUE)) {
    g_set_error (error, SC_MIXER_ERROR, SC_MIXER_ERROR_PIPELINE,
                 "cannot allocate program frames of %dx%d", mixer->width, mixer->height);
    sc_mixer_free (mixer);
    return NULL;
  }

  if (!build_pipeline (mixer, error)) {
    sc_mixer_free (mixer);
    return NULL;
  }

  if (pc->commentary.source) {
    ScIngestCallbacks icb = { .state_changed = on_commentary_state, .user_data = mixer };
    mixer->commentary = sc_ingest_new_audio (&pc->commentary, &icb, error);
    if (!mixer->commentary) {
      sc_mixer_free (mixer);
      return NULL;
    }
  }

  apply_layout (mixer, FALSE); /* the initial program: not a change */
  return mixer;
}

gboolean
sc_mixer_start (ScMixer *mixer, GError **error)
{
  g_return_val_if_fail (mixer != NULL, FALSE);
  if (mixer->running)
    return TRUE;
  if (gst_element_set_state (mixer->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, SC_MIXER_ERROR, SC_MIXER_ERROR_PIPELINE,
                 "the program encoder pipeline failed to start");
    gst_element_set_state (mixer->pipeline, GST_STATE_NULL);
    return FALSE;
  }
  g_atomic_int_set (&mixer->stop, 0);
  mixer->running = TRUE;
  if (mixer->commentary)
    sc_ingest_start (mixer->commentary);
  mixer->thread = g_thread_new ("sc-program", program_thread, mixer);
  GST_INFO ("program started: %dx%d @ %d fps", mixer->width, mixer->height, mixer->fps);
  return TRUE;
}

void
sc_mixer_stop (ScMixer *mixer)
{
  gint64 until;

  g_return_if_fail (mixer != NULL);
  if (!mixer->running)
    return;
  mixer->running = FALSE;
  g_atomic_int_set (&mixer->stop, 1);
  g_mutex_lock (&mixer->lock);
  if (mixer->wait_id) /* a benchmark's clock may never reach the deadline */
    gst_clock_id_unschedule (mixer->wait_id);
  g_mutex_unlock (&mixer->lock);
  g_thread_join (mixer->thread);
  mixer->thread = NULL;
  if (mixer->commentary)
    sc_ingest_stop (mixer->commentary);

  gst_app_src_end_of_stream (GST_APP_SRC (mixer->vsrc));
  gst_app_src_end_of_stream (GST_APP_SRC (mixer->asrc));
  until = g_get_monotonic_time () + EOS_TIMEOUT_US;
  g_mutex_lock (&mixer->eos_lock);
  while (!(mixer->veos && mixer->aeos))
    if (!g_cond_wait_until (&mixer->eos_cond, &mixer->eos_lock, until))
      break;
  if (!(mixer->veos && mixer->aeos))
    GST_WARNING ("program encoders did not drain within 5 s");
  g_mutex_unlock (&mixer->eos_lock);

  gst_element_set_state (mixer->pipeline, GST_STATE_NULL);
  GST_INFO ("program stopped after %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " late)",
            (guint64)atomic_load (&mixer->frames), (guint64)atomic_load (&mixer->late_frames));
}

void
sc_mixer_free (ScMixer *mixer)
{
  if (!mixer)
    return;
  sc_mixer_stop (mixer);
  g_clear_pointer (&mixer->commentary, sc_ingest_free);
  if (mixer->director) {
    g_source_destroy (mixer->director);
    g_source_unref (mixer->director);
  }
  if (mixer->pipeline) {
    gst_element_set_state (mixer->pipeline, GST_STATE_NULL);
    gst_object_unref (mixer->pipeline);
  }
  if (mixer->bus_watch) {
    GSource *source = g_main_context_find_source_by_id (mixer->context, mixer->bus_watch);
    if (source)
      g_source_destroy (source);
  }
  if (mixer->pool) {
    gst_buffer_pool_set_active (mixer->pool, FALSE);
    gst_object_unref (mixer->pool);
  }
  gst_clear_buffer (&mixer->last_comp);
  gst_clear_buffer (&mixer->fade_from);
  gst_clear_object (&mixer->clock);
  scene_unref (mixer->scene);
  g_hash_table_unref (mixer->slates);
  g_array_unref (mixer->sinks);
  gst_clear_caps (&mixer->vcaps);
  gst_clear_caps (&mixer->acaps);
  g_mutex_clear (&mixer->lock);
  g_mutex_clear (&mixer->probe_lock);
  g_mutex_clear (&mixer->caps_lock);
  g_mutex_clear (&mixer->eos_lock);
  g_cond_clear (&mixer->eos_cond);
  g_rw_lock_clear (&mixer->sinks_lock);
  g_main_context_unref (mixer->context);
  g_free (mixer->gain_q12);
  g_free (mixer->mute);
  g_free (mixer->audio_in);
  g_free (mixer->audio_acc);
  g_free (mixer->audio_out);
  g_free (mixer->stations);
  g_free (mixer);
}

/* ----------------------------------------------------------- subscribers */

guint
sc_mixer_add_sink (ScMixer *mixer, const ScProgramSink *sink)
{
  Sink s = { 0, *sink };
  g_return_val_if_fail (mixer != NULL && sink != NULL && sink->packet != NULL, 0);
  g_rw_lock_writer_lock (&mixer->sinks_lock);
  s.id = ++mixer->next_sink_id;
  g_array_append_val (mixer->sinks, s);
  g_rw_lock_writer_unlock (&mixer->sinks_lock);
  return s.id;
}

void
sc_mixer_remove_sink (ScMixer *mixer, guint sink_id)
{
  g_return_if_fail (mixer != NULL);
  /* The writer lock waits for any callback in flight to return. */
  g_rw_lock_writer_lock (&mixer->sinks_lock);
  for (guint i = 0; i < mixer->sinks->len; i++) {
    if (g_array_index (mixer->sinks, Sink, i).id == sink_id) {
      g_array_remove_index (mixer->sinks, i);
      break;
    }
  }
  g_rw_lock_writer_unlock (&mixer->sinks_lock);
}

static GstCaps *
get_caps (ScMixer *mixer, GstCaps **slot)
{
  GstCaps *caps;
  g_mutex_lock (&mixer->caps_lock);
  caps = *slot ? gst_caps_ref (*slot) : NULL;
  g_mutex_unlock (&mixer->caps_lock);
  return caps;
}

GstCaps *
sc_mixer_video_caps (ScMixer *mixer)
{
  return get_caps (mixer, &mixer->vcaps);
}

GstCaps *
sc_mixer_audio_caps (ScMixer *mixer)
{
  return get_caps (mixer, &mixer->acaps);
}

void
sc_mixer_request_keyframe (ScMixer *mixer)
{
  /* Sent upstream from the appsink: h264parse passes it to x264enc, which
   * codes the next frame as an IDR. */
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0);
  gst_element_send_event (mixer->vsink, event);
}

void
sc_mixer_set_clock (ScMixer *mixer, GstClock *clock)
{
  g_return_if_fail (mixer != NULL && !mixer->running);
  gst_object_replace ((GstObject **)&mixer->clock, (GstObject *)clock);
}

void
sc_mixer_set_frame_probe (ScMixer *mixer, ScMixerFrameProbe probe, gpointer user_data)
{
  g_mutex_lock (&mixer->probe_lock);
  mixer->probe = probe;
  mixer->probe_data = user_data;
  g_mutex_unlock (&mixer->probe_lock);
}

/* --------------------------------------------------------------- control */

static gboolean invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  if (error)
    *error = g_error_new_valist (SC_MIXER_ERROR, SC_MIXER_ERROR_INVALID, format, args);
  va_end (args);
  return FALSE;
}

static void
director_cancel (ScMixer *mixer)
{
  if (mixer->director) {
    g_source_destroy (mixer->director);
    g_source_unref (mixer->director);
    mixer->director = NULL;
  }
}

gboolean
sc_mixer_set_layout (ScMixer *mixer, const char *layout, const char *station,
                     const char *const *stations, GError **error)
{
  ScLayout l;
  int focus = mixer->focus;
  int pair[2] = { mixer->pair[0], mixer->pair[1] };

  if (!layout || !sc_mixer_layout_parse (layout, &l))
    return invalid (error, "unknown layout \"%s\" (expected grid, focus, pip, sbs, single)",
                    layout ? layout : "");

  if (station && *station) {
    focus = station_index (mixer, station);
    if (focus < 0)
      return invalid (error, "unknown station %s", station);
  }

  if (l == SC_LAYOUT_SBS) {
    guint n = stations ? g_strv_length ((char **)stations) : 0;
    if (n > 0) {
      if (n != 2)
        return invalid (error, "sbs needs exactly 2 stations, got %u", n);
      for (guint i = 0; i < 2; i++) {
        pair[i] = station_index (mixer, stations[i]);
        if (pair[i] < 0)
          return invalid (error, "unknown station %s", stations[i]);
      }
    } else if (mixer->pair[0] == mixer->pair[1]) {
      /* No pair given: keep the last one, or the focus and the next. */
      pair[0] = focus;
      pair[1] = mixer->n_stations ? (focus + 1) % (int)mixer->n_stations : 0;
    }
    if (mixer->n_stations < 2)
      return invalid (error, "sbs needs 2 stations, the program has %u", mixer->n_stations);
    if (pair[0] == pair[1])
      return invalid (error, "sbs needs 2 different stations, got %s twice",
                      station_id (mixer, pair[0]));
  } else if (layout_has_focus (l) && mixer->n_stations == 0) {
    return invalid (error, "%s needs a station, the program has none", layout);
  }

  director_cancel (mixer); /* the operator overrides the auto-director */
  mixer->layout = l;
  mixer->focus = focus;
  mixer->pair[0] = pair[0];
  mixer->pair[1] = pair[1];
  apply_layout (mixer, TRUE);
  return TRUE;
}

gboolean
sc_mixer_set_transition (ScMixer *mixer, const char *type, int ms, GError **error)
{
  ScTransition t;

  if (g_strcmp0 (type, "cut") == 0)
    t = SC_TRANSITION_CUT;
  else if (g_strcmp0 (type, "fade") == 0)
    t = SC_TRANSITION_FADE;
  else
    return invalid (error, "unknown transition \"%s\" (expected cut, fade)", type ? type : "");
  if (ms < 0 || ms > MAX_TRANSITION_MS)
    return invalid (error, "transition ms %d out of range (0 to %d)", ms, MAX_TRANSITION_MS);
  mixer->transition = t;
  mixer->transition_ms = ms;
  g_atomic_int_set (&mixer->fade_armed, t == SC_TRANSITION_FADE && ms > 0);
  /* Shown in the program status, so say it changed. */
  if (mixer->callbacks.program_changed)
    mixer->callbacks.program_changed (mixer, mixer->callbacks.user_data);
  return TRUE;
}

gboolean
sc_mixer_set_audio (ScMixer *mixer, const char *target, double gain_db, gboolean set_gain,
                    gboolean mute, gboolean set_mute, GError **error)
{
  gboolean program = g_strcmp0 (target, "program") == 0;
  /* The config refuses a station called "commentary" when there is a
   * commentary feed, so the name is never ambiguous. */
  gboolean commentary
      = !program && mixer->commentary && g_strcmp0 (target, SC_CONFIG_COMMENTARY_ID) == 0;
  int index = program || commentary ? -1 : station_index (mixer, target);
  gint *gain_slot, *mute_slot;

  if (!program && !commentary && index < 0) {
    if (g_strcmp0 (target, SC_CONFIG_COMMENTARY_ID) == 0)
      return invalid (error, "the program has no commentary input (program.audio.commentary)");
    return invalid (error, "unknown station %s", target ? target : "(none)");
  }
  if (set_gain && !(gain_db >= -60.0 && gain_db <= 12.0))
    return invalid (error, "gain_db %.1f out of range (-60 to 12)", gain_db);

  gain_slot = program      ? &mixer->program_gain_q12
              : commentary ? &mixer->commentary_gain_q12
                           : &mixer->gain_q12[index];
  mute_slot = program      ? &mixer->program_mute
              : commentary ? &mixer->commentary_mute
                           : &mixer->mute[index];
  if (set_gain) {
    g_atomic_int_set (gain_slot, sc_mixer_gain_q12 (gain_db));
    if (commentary)
      mixer->commentary_gain_db = gain_db;
  }
  if (set_mute)
    g_atomic_int_set (mute_slot, mute ? 1 : 0);
  /* The commentary's settings are in the program status. */
  if (commentary && mixer->callbacks.program_changed)
    mixer->callbacks.program_changed (mixer, mixer->callbacks.user_data);
  GST_INFO ("audio %s: gain %.1f dB%s%s", program ? "program" : target, set_gain ? gain_db : 0.0,
            set_gain ? "" : " (unchanged)", set_mute ? (mute ? ", muted" : ", unmuted") : "");
  return TRUE;
}

static gboolean
director_release (gpointer data)
{
  ScMixer *mixer = data;

  GST_INFO ("auto-director: hold over, back to %s", sc_mixer_layout_name (mixer->held_layout));
  g_source_unref (mixer->director);
  mixer->director = NULL;
  mixer->layout = mixer->held_layout;
  mixer->focus = mixer->held_focus;
  mixer->pair[0] = mixer->held_pair[0];
  mixer->pair[1] = mixer->held_pair[1];
  apply_layout (mixer, TRUE);
  return G_SOURCE_REMOVE;
}

void
sc_mixer_score_event (ScMixer *mixer, const char *station)
{
  int index;
  const ScProgramConfig *pc = &mixer->config->program;

  if (!pc->director_auto)
    return;
  index = station_index (mixer, station);
  if (index < 0)
    return;

  if (mixer->director) {
    /* Already holding: a new score restarts the hold (and may move it). */
    director_cancel (mixer);
  } else {
    mixer->held_layout = mixer->layout;
    mixer->held_focus = mixer->focus;
    mixer->held_pair[0] = mixer->pair[0];
    mixer->held_pair[1] = mixer->pair[1];
  }
  if (mixer->layout != SC_LAYOUT_FOCUS || mixer->focus != index) {
    mixer->layout = SC_LAYOUT_FOCUS;
    mixer->focus = index;
    apply_layout (mixer, TRUE);
  }
  GST_INFO ("auto-director: focus %s for %d s", station, MAX (1, pc->director_hold_s));
  mixer->director = g_timeout_source_new ((guint)MAX (1, pc->director_hold_s) * 1000);
  g_source_set_callback (mixer->director, director_release, mixer, NULL);
  g_source_attach (mixer->director, mixer->context);
}

/* ---------------------------------------------------------------- status */

char **
sc_mixer_on_screen (ScMixer *mixer)
{
  Scene *scene = current_scene (mixer);
  GPtrArray *ids = g_ptr_array_new ();

  for (guint i = 0; scene && i < scene->n_tiles; i++)
    g_ptr_array_add (ids, g_strdup (station_id (mixer, scene->tiles[i].station)));
  g_ptr_array_add (ids, NULL);
  if (scene)
    scene_unref (scene);
  return (char **)g_ptr_array_free (ids, FALSE);
}

char *
sc_mixer_program_json (ScMixer *mixer)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_auto (GStrv) ids = sc_mixer_on_screen (mixer);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "layout");
  json_builder_add_string_value (b, sc_mixer_layout_name (mixer->layout));
  json_builder_set_member_name (b, "focus");
  if (layout_has_focus (mixer->layout) && mixer->n_stations)
    json_builder_add_string_value (b, station_id (mixer, mixer->focus));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "stations");
  json_builder_begin_array (b);
  for (guint i = 0; ids[i]; i++)
    json_builder_add_string_value (b, ids[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "transition");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, mixer->transition == SC_TRANSITION_FADE ? "fade" : "cut");
  json_builder_set_member_name (b, "ms");
  json_builder_add_int_value (b, mixer->transition_ms);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "overlays");
  json_builder_begin_object (b);
  for (int p = 0; p < SC_OVERLAY_N_PARTS; p++) {
    json_builder_set_member_name (b, sc_overlay_part_to_string ((ScOverlayPart)p));
    json_builder_add_boolean_value (
        b, mixer->overlay ? sc_overlay_get_visible (mixer->overlay, (ScOverlayPart)p) : FALSE);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  /* fps, late_frames and the commentary's gain appended by hand: json-glib
   * prints doubles with 17 digits (29.969999999999999), and people read
   * this. */
  g_autofree char *head = json_generator_to_data (gen, NULL);
  char fps[G_ASCII_DTOSTR_BUF_SIZE];
  GString *out = g_string_new (head);
  g_ascii_formatd (fps, sizeof fps, "%.2f", sc_mixer_fps (mixer));
  g_string_truncate (out, out->len - 1); /* the closing brace */
  g_string_append_printf (out, ",\"fps\":%s,\"late_frames\":%" G_GUINT64_FORMAT, fps,
                          sc_mixer_late_frames (mixer));
  /* Added to the contract's PROGRAM: the commentary input (null without
   * one): its feed's state, and its audio settings. */
  g_string_append (out, ",\"commentary\":");
  if (mixer->commentary) {
    ScIngestStats st;
    char gain[G_ASCII_DTOSTR_BUF_SIZE];
    sc_ingest_get_stats (mixer->commentary, &st);
    g_ascii_formatd (gain, sizeof gain, "%.1f", mixer->commentary_gain_db);
    g_string_append_printf (out, "{\"state\":\"%s\",\"gain_db\":%s,\"mute\":%s,\"reconnects\":%u}",
                            sc_ingest_state_to_string (st.state), gain,
                            g_atomic_int_get (&mixer->commentary_mute) ? "true" : "false",
                            st.reconnects);
  } else {
    g_string_append (out, "null");
  }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

guint64
sc_mixer_frames (ScMixer *mixer)
{
  return atomic_load (&mixer->frames);
}

guint64
sc_mixer_late_frames (ScMixer *mixer)
{
  return atomic_load (&mixer->late_frames);
}

double
sc_mixer_fps (ScMixer *mixer)
{
  return (double)atomic_load (&mixer->fps_milli) / 1000.0;
}
