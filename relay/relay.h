/* relay — the program to the world: rtmp, srt, hls (+ origin upload with
 * libcurl multi), record; and the MPEG-TS feed behind /live/program.
 *
 * Each output is its own GstPipeline fed from the mixer's encoded packets
 * (appsrc with a leaky, time-bounded queue), so a CDN that drops, stalls or
 * refuses only loses its own data and is rebuilt on its own: backoff 1 s
 * doubling to 30 s with jitter, joining at the next keyframe.
 *
 * Threads: everything on the main loop, except that the live TS callback
 * runs on a streaming thread.
 */
#pragma once

#include <glib.h>
#include "config/config.h"
#include "mixer/mixer.h"

G_BEGIN_DECLS

#define SC_RELAY_ERROR (sc_relay_error_quark ())
GQuark sc_relay_error_quark (void);

typedef enum {
  SC_RELAY_ERROR_INVALID, /* unknown output id, bad action */
} ScRelayErrorCode;

typedef enum {
  SC_OUTPUT_RUNNING,
  SC_OUTPUT_RECONNECTING,
  SC_OUTPUT_STOPPED,
  SC_OUTPUT_ERROR,
} ScOutputState;

typedef struct ScRelay ScRelay;

typedef struct {
  /* MPEG-TS bytes of the program for /live/program. KEYFRAME is TRUE when
   * DATA starts with a keyframe (a PAT/PMT precedes it), where a new or
   * lagging client may join. Streaming thread; must not block. */
  void (*live_ts) (GBytes *data, gboolean keyframe, gpointer user_data);
  gpointer user_data;
} ScRelayCallbacks;

/* Outputs of CONFIG, fed by MIXER (not owned). Nothing runs until start. */
ScRelay *sc_relay_new (const ScConfig *config, ScMixer *mixer, const ScRelayCallbacks *callbacks);
void sc_relay_free (ScRelay *relay);

/* Feeding without a mixer (tests, benchmarks): create with MIXER NULL, set
 * the encoded caps once, then push packets as an ScProgramSink would
 * receive them (any thread; BUFFER is borrowed). */
void sc_relay_set_caps (ScRelay *relay, GstCaps *video_caps, GstCaps *audio_caps);
void sc_relay_push (ScRelay *relay, GstBuffer *buffer, gboolean video);

/* Starts every configured output and the live TS feed (if live_ts is set). */
void sc_relay_start (ScRelay *relay);

/* Stops everything cleanly: EOS through each output so recordings are
 * finalized and HLS playlists get #EXT-X-ENDLIST. Bounded in time. */
void sc_relay_stop (ScRelay *relay);

/* Operator `output` command: ACTION is "start" or "stop". */
gboolean sc_relay_output_action (ScRelay *relay, const char *output_id, const char *action,
                                 GError **error);

/* Directory served at /hls/{output_id}/, or NULL if OUTPUT_ID is not hls. */
const char *sc_relay_hls_dir (ScRelay *relay, const char *output_id);

/* GET /api/outputs as JSON (caller frees). */
char *sc_relay_outputs_json (ScRelay *relay);

/* Appends the output metrics (skillcast_output_up, ..._reconnects_total,
 * bytes) in Prometheus text format. */
void sc_relay_metrics (ScRelay *relay, GString *out);

const char *sc_output_state_to_string (ScOutputState state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScRelay, sc_relay_free)

G_END_DECLS
