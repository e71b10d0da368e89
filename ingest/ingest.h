/* ingest — one camera feed per station, decoded, converted and scaled once
 * to the size of its tile, with a health state machine and reconnects.
 *
 * Each station runs in its own GstPipeline, so a feed that fails, lies or
 * stalls is torn down and rebuilt without touching the program or any
 * other station. Frames leave through an appsink into a one-slot "latest
 * frame" holder; audio leaves into a small ring. The mixer's program thread
 * pulls from both on its own clock, so a station never stalls the program.
 *
 *   connecting --first frame--> live --no buffer 500 ms / EOS / error--> lost
 *   lost --backoff (0.5 s doubling to 10 s, jitter)--> connecting
 *
 * Threads: create, start, stop, set_tile_size and free on the main loop.
 * pull_video, pull_audio and get_stats from any thread.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include "config/config.h"

G_BEGIN_DECLS

#define SC_INGEST_ERROR (sc_ingest_error_quark ())
GQuark sc_ingest_error_quark (void);

typedef enum {
  SC_INGEST_ERROR_SOURCE, /* URL cannot be turned into a source */
} ScIngestErrorCode;

typedef enum {
  SC_INGEST_CONNECTING,
  SC_INGEST_LIVE,
  SC_INGEST_LOST,
} ScIngestState;

/* Program audio format every station is converted to. */
#define SC_AUDIO_RATE 48000
#define SC_AUDIO_CHANNELS 2

/* For an audio-only feed (sc_ingest_new_audio) fps and frames count audio
 * buffers (they show that audio flows) and width/height stay 0. */
typedef struct {
  ScIngestState state; /* as operators see it: lost from the first failure until live again */
  double fps;         /* frames/s arriving from the feed, last second */
  int bitrate_kbps;   /* compressed bytes/s arriving, last second (0 for raw sources) */
  int width, height;  /* of the feed as sent (before scaling) */
  guint reconnects;   /* times it went lost -> connecting */
  guint64 frames;     /* frames delivered to the program */
  guint64 rejected;   /* SRT callers refused: for this station (passphrase, a second
                       * caller) or unknown streamids on its listener port */
  char last_error[256];
} ScIngestStats;

typedef struct ScIngest ScIngest;

typedef struct {
  /* The station changed state. Main loop. */
  void (*state_changed) (ScIngest *ingest, ScIngestState state, gpointer user_data);
  gpointer user_data;
} ScIngestCallbacks;

/* A station's feed, not yet started. FPS is the program rate (tiles are
 * delivered at it, repeated or dropped as needed). Fails only on a source
 * URL that cannot be built (bad scheme or options), with SC_INGEST_ERROR. */
ScIngest *sc_ingest_new (const ScStationConfig *station, int fps,
                         const ScIngestCallbacks *callbacks, GError **error);

/* An audio-only feed (the program's commentary input): any source URL a
 * station takes; no video branch, the state machine runs on audio buffers
 * (live on the first audio buffer, lost after 500 ms without one), same
 * reconnects and stats. pull_video always returns NULL. */
ScIngest *sc_ingest_new_audio (const ScStationConfig *station,
                               const ScIngestCallbacks *callbacks, GError **error);

void sc_ingest_free (ScIngest *ingest);

void sc_ingest_start (ScIngest *ingest);
void sc_ingest_stop (ScIngest *ingest);

const char *sc_ingest_station_id (ScIngest *ingest);

/* The tile size the program needs now. Frames after the change come at
 * the new size; until then pull_video may still return the old size. */
void sc_ingest_set_tile_size (ScIngest *ingest, int width, int height);

/* The latest I420 tile frame (a new reference) with its size, or NULL when
 * the station is not live (the mixer shows the slate). */
GstBuffer *sc_ingest_pull_video (ScIngest *ingest, int *width, int *height);

/* Fills OUT with N_FRAMES of S16LE interleaved stereo at 48 kHz; where the
 * feed has no audio (or not enough yet) fills silence. Returns the number
 * of frames that came from the feed. */
guint sc_ingest_pull_audio (ScIngest *ingest, gint16 *out, guint n_frames);

void sc_ingest_get_stats (ScIngest *ingest, ScIngestStats *out);

const char *sc_ingest_state_to_string (ScIngestState state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScIngest, sc_ingest_free)

G_END_DECLS
