/* mixer — the program: stations composed into one picture on the program's
 * own clock, the overlay blended on top, audio mixed, encoded once (x264 +
 * AAC) and handed to every output.
 *
 * A program thread ticks at the configured rate. Each tick it pulls the
 * latest tile of every station on screen from ingest/ (or draws the slate
 * for a station that is not live), copies the tiles into the program frame,
 * blends the current overlay image, mixes one frame's worth of audio, and
 * pushes both into the encode pipeline (appsrc -> x264enc / AAC ->
 * parsers). A late or missing input never stalls the tick; a tick that
 * itself runs late is counted in late_frames.
 *
 * Encoded access units go to subscribers (ScProgramSink) on the encoder's
 * streaming thread; relay/ and the /live/program feed subscribe. A
 * subscriber never blocks: each output owns its own pipeline and queue.
 *
 * Threads: all functions on the main loop unless said otherwise.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include "config/config.h"
#include "ingest/ingest.h"
#include "overlay/overlay.h"

G_BEGIN_DECLS

#define SC_MIXER_ERROR (sc_mixer_error_quark ())
GQuark sc_mixer_error_quark (void);

typedef enum {
  SC_MIXER_ERROR_PIPELINE, /* an element is missing or the pipeline failed */
  SC_MIXER_ERROR_INVALID,  /* a control command with bad arguments */
} ScMixerErrorCode;

typedef enum {
  SC_TRANSITION_CUT,
  SC_TRANSITION_FADE,
} ScTransition;

/* Receives the encoded program. Called on a streaming thread; must not
 * block or take locks held by the main loop. BUFFER is borrowed (ref it to
 * keep it). VIDEO: one H.264 access unit, byte-stream, SPS/PPS repeated on
 * every keyframe (keyframes lack GST_BUFFER_FLAG_DELTA_UNIT). Otherwise one
 * raw AAC-LC frame (48 kHz stereo). PTS/DTS are program running time. */
typedef struct {
  void (*packet) (GstBuffer *buffer, gboolean video, gpointer user_data);
  gpointer user_data;
} ScProgramSink;

typedef struct ScMixer ScMixer;

typedef struct {
  /* Layout, focus or on-screen stations changed (so overlay labels and the
   * operator status follow). Main loop. */
  void (*program_changed) (ScMixer *mixer, gpointer user_data);
  gpointer user_data;
} ScMixerCallbacks;

/* The program for CONFIG (program section), composing STATIONS
 * (config->n_stations of them, not owned, in config order) and blending
 * OVERLAY (not owned; may be NULL). Sets the tile sizes of the stations and
 * the tiles of the overlay for the configured layout. With
 * program.audio.commentary set, also creates that audio-only feed
 * (sc_ingest_new_audio), which the mixer owns and starts and stops with
 * the program; fails (SC_INGEST_ERROR) if its URL cannot be built. */
ScMixer *sc_mixer_new (const ScConfig *config, ScIngest **stations, ScOverlay *overlay,
                       const ScMixerCallbacks *callbacks, GError **error);
void sc_mixer_free (ScMixer *mixer);

gboolean sc_mixer_start (ScMixer *mixer, GError **error);

/* Ends the program: EOS through the encoders so every subscriber gets its
 * last packets, then stops. Returns when the encoders drained (bounded). */
void sc_mixer_stop (ScMixer *mixer);

/* Subscribers. Adding and removing is thread-safe; after remove returns,
 * the callback is not running and will not be called again. */
guint sc_mixer_add_sink (ScMixer *mixer, const ScProgramSink *sink);
void sc_mixer_remove_sink (ScMixer *mixer, guint sink_id);

/* Caps of the encoded streams (video/x-h264 byte-stream au; audio/mpeg
 * mpegversion=4 stream-format=raw with codec_data). Any thread. New refs;
 * NULL until the encoders negotiated. */
GstCaps *sc_mixer_video_caps (ScMixer *mixer);
GstCaps *sc_mixer_audio_caps (ScMixer *mixer);

/* Ask the encoder for a keyframe soon (an output that just joined). Any thread. */
void sc_mixer_request_keyframe (ScMixer *mixer);

/* Operator control. Each validates its arguments and returns FALSE with
 * SC_MIXER_ERROR_INVALID and a message a person can act on ("unknown
 * station A09"). STATIONS is NULL-terminated (sbs: 2). */
gboolean sc_mixer_set_layout (ScMixer *mixer, const char *layout, const char *station,
                              const char *const *stations, GError **error);
gboolean sc_mixer_set_transition (ScMixer *mixer, const char *type, int ms, GError **error);
/* TARGET is a station id, "program", or "commentary" (the commentary
 * input: its own gain, never ducked). */
gboolean sc_mixer_set_audio (ScMixer *mixer, const char *target, double gain_db,
                             gboolean set_gain, gboolean mute, gboolean set_mute,
                             GError **error);

/* A score event for STATION arrived (the auto-director may focus it). */
void sc_mixer_score_event (ScMixer *mixer, const char *station);

/* GET /api/program as JSON (caller frees), with an added "commentary"
 * field: null, or {"state","gain_db","mute","reconnects"}. */
char *sc_mixer_program_json (ScMixer *mixer);

/* Ids of the stations on screen now, in tile order (NULL-terminated, caller
 * frees with g_strfreev). */
char **sc_mixer_on_screen (ScMixer *mixer);

/* Counters. Any thread. */
guint64 sc_mixer_frames (ScMixer *mixer);
guint64 sc_mixer_late_frames (ScMixer *mixer);
double sc_mixer_fps (ScMixer *mixer); /* measured over the last second */

/* Tests and benchmarks: PROBE sees every program frame (I420, the program
 * size, overlay blended; read only) with its frame number, on the program
 * thread just before it goes to the encoder. It must be quick. NULL
 * removes it; after this returns the old probe is not running. Any thread. */
typedef void (*ScMixerFrameProbe) (GstBuffer *frame, guint64 n, gpointer user_data);
void sc_mixer_set_frame_probe (ScMixer *mixer, ScMixerFrameProbe probe, gpointer user_data);

/* Tests and benchmarks: the program ticks on CLOCK's time instead of
 * CLOCK_MONOTONIC (a new ref is taken; NULL goes back to the monotonic
 * clock). Set it before sc_mixer_start. bench/mixer runs the whole node on
 * a clock S times faster than real time (ingest's file sources follow
 * GStreamer's default clock, the program this one) to show that the
 * program keeps up at S x real time. */
void sc_mixer_set_clock (ScMixer *mixer, GstClock *clock);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScMixer, sc_mixer_free)

G_END_DECLS
