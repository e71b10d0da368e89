/* server — everything people and programs reach over HTTP and WebSocket:
 * pages (web/), /api/..., /healthz, /metrics, /hls/{id}/, and the /scores,
 * /commentary, /control and /live/program WebSocket endpoints
 * (CONTRACTS.md §4–5). libwebsockets on the GLib main loop, HTTP/1.1 only.
 *
 * Fan-out the lws way: each message is serialized once into a shared ring;
 * every client has a tail; writes happen only on WRITEABLE; a client whose
 * backlog passes 1 MiB is closed (1013) and counted.
 *
 * The server knows nothing of video: what it serves about stations,
 * outputs and the program comes through ScServerCallbacks (all optional,
 * absent on relay nodes, where those paths answer 404).
 *
 * Threads: main loop only, except sc_server_push_live_ts (any thread).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "config/config.h"
#include "scoreboard/scoreboard.h"

G_BEGIN_DECLS

#define SC_SERVER_ERROR (sc_server_error_quark ())
GQuark sc_server_error_quark (void);

typedef enum {
  SC_SERVER_ERROR_LISTEN,  /* cannot bind/listen */
  SC_SERVER_ERROR_REQUEST, /* a /control request that is not one */
} ScServerErrorCode;

/* Body/frame limits of CONTRACTS.md §4–5. */
#define SC_SERVER_MAX_BODY (64 * 1024)
#define SC_SERVER_MAX_CLIENT_BACKLOG (1024 * 1024)

typedef struct {
  /* JSON for /api/stations, /api/outputs, /api/program; caller frees. */
  char *(*stations_json) (gpointer user_data);
  char *(*outputs_json) (gpointer user_data);
  char *(*program_json) (gpointer user_data);
  /* An operator command (already checked to be a well-formed request).
   * Returns TRUE if applied; else FALSE with *ERROR_MESSAGE (caller frees)
   * for the ack. */
  gboolean (*control) (const char *cmd, JsonObject *args, char **error_message,
                       gpointer user_data);
  /* Appends module metrics (stations, outputs, program) to OUT. */
  void (*metrics) (GString *out, gpointer user_data);
  /* Directory of the hls output OUTPUT_ID, or NULL. */
  const char *(*hls_dir) (const char *output_id, gpointer user_data);
  gpointer user_data;
} ScServerCallbacks;

typedef struct ScServer ScServer;

/* Binds CONFIG->server.listen and serves SCOREBOARD's contest (not owned).
 * CALLBACKS is copied. Fails with SC_SERVER_ERROR_LISTEN. */
ScServer *sc_server_new (const ScConfig *config, ScScoreboard *scoreboard,
                         const ScServerCallbacks *callbacks, GError **error);
void sc_server_free (ScServer *server);

/* The port actually bound (useful with port 0). */
int sc_server_port (ScServer *server);

/* A scoreboard entry was applied: fan the delta out to /scores and
 * /commentary clients, and the event to /commentary clients. */
void sc_server_publish (ScServer *server, const char *entry_id, const char *delta_json,
                        const char *event_json);

/* MPEG-TS for /live/program clients. Any thread (it is handed to the main
 * loop). KEYFRAME as in ScRelayCallbacks.live_ts. */
void sc_server_push_live_ts (ScServer *server, GBytes *data, gboolean keyframe);

/* Closes every WebSocket with 1001 (going away) and stops accepting.
 * Returns after the close frames were written or a short timeout. */
void sc_server_shutdown (ScServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScServer, sc_server_free)

/* ---- /control requests (pure; used by /control and POST /api/control) ---- */

/* Deepest nesting of arrays/objects accepted in a request. */
#define SC_SERVER_MAX_JSON_DEPTH 64

typedef struct {
  char *id;         /* the request's "id" (a string), or NULL */
  char *cmd;        /* "cmd", non-empty */
  JsonObject *args; /* "args" (a reference); an empty object when absent */
} ScServerControlRequest;

/* Parses DATA (LEN bytes, not necessarily NUL-terminated) as a request
 * {"id":"c1","cmd":NAME,"args":{...}}. On failure returns FALSE with
 * SC_SERVER_ERROR_REQUEST and a short message for the ack; REQUEST->id is
 * still set when the id could be read, so the ack can name it. Clear
 * REQUEST with sc_server_control_request_clear() either way. */
gboolean sc_server_parse_control (const char *data, gsize len, ScServerControlRequest *request,
                                  GError **error);
void sc_server_control_request_clear (ScServerControlRequest *request);

/* {"type":"ack","id":ID|null,"ok":OK[,"error":ERROR]}. Caller frees. */
char *sc_server_control_ack (const char *id, gboolean ok, const char *error_message);

G_END_DECLS
