/* app — the skillcast binary: subcommands and the wiring of the modules
 * into one node on one GMainLoop. Private to app/. */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include "config/config.h"
#include "scoreboard/scoreboard.h"
#include "mixer/mixer.h"
#include "overlay/overlay.h"
#include "relay/relay.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (sc_app_debug);
#define GST_CAT_DEFAULT sc_app_debug

/* Exit codes of CONTRACTS.md §1. */
enum {
  SC_EXIT_OK = 0,
  SC_EXIT_RUNTIME = 1,
  SC_EXIT_USAGE = 2,
};

typedef enum {
  SC_NODE_CONTEST, /* `run` and `demo`: video, overlay, outputs, server */
  SC_NODE_RELAY,   /* `relay`: scoreboard fan-out only */
} ScNodeKind;

typedef struct ScNode ScNode;

/* Builds a node from CONFIG (ownership taken). Binds the server port, so a
 * port in use fails here with ERROR. */
ScNode *sc_node_new (ScConfig *config, ScNodeKind kind, GError **error);
/* Starts everything, runs the main loop until SIGINT/SIGTERM, then stops
 * cleanly (recordings finalized, HLS ENDLIST, WS close 1001). */
int sc_node_run (ScNode *node);
void sc_node_free (ScNode *node);

/* Called once the node is up (server listening, pipelines started): the demo
 * uses it to start the judges and print the URLs. */
typedef void (*ScNodeReadyFunc) (ScNode *node, gpointer user_data);
void sc_node_set_ready_func (ScNode *node, ScNodeReadyFunc func, gpointer user_data);

int sc_node_port (ScNode *node);
const ScConfig *sc_node_config (ScNode *node);
ScScoreboard *sc_node_scoreboard (ScNode *node);
/* NULL on relay nodes. */
ScMixer *sc_node_mixer (ScNode *node);
ScOverlay *sc_node_overlay (ScNode *node);
ScRelay *sc_node_relay (ScNode *node);

/* Operator commands (POST /api/control and /control). Returns TRUE if the
 * command was applied; else FALSE with *ERROR_MESSAGE. app/control.c */
gboolean sc_node_control (ScNode *node, const char *cmd, JsonObject *args,
                          char **error_message);

/* Memory kept flat over a contest day (app/memory.c): sc_memory_init()
 * before any thread starts (caps malloc arenas), the keeper hands freed
 * memory back to the system once a minute while a node runs. */
void sc_memory_init (void);
void sc_memory_keeper_start (void);
void sc_memory_keeper_stop (void);
void sc_memory_metrics (GString *out);

/* Subcommands. Each returns an exit code. */
int sc_cmd_check (int argc, char **argv);
int sc_cmd_score (int argc, char **argv);
int sc_cmd_demo (int argc, char **argv);

/* The demo's judges' panel: writes competitor, score, penalty, status,
 * clock and announce events to NODE's stream at a contest-like pace. */
typedef struct ScJudges ScJudges;
ScJudges *sc_judges_start (ScNode *node, guint32 seed);
void sc_judges_stop (ScJudges *judges);

G_END_DECLS
