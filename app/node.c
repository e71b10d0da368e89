/* A skillcast node: the modules wired together on one GMainLoop.
 *
 * Contest node (`run`, `demo`):
 *   scoreboard --applied--> server (fan-out), overlay (re-render), mixer (auto-director)
 *   ingest[i] --tiles--> mixer --packets--> relay (outputs, live TS) --live_ts--> server
 * Relay node: scoreboard --> server only.
 *
 * Everything here runs on the main loop; the only cross-thread path is the
 * live TS feed, which the server hands to its own loop.
 */
#include "app/app.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"
#include "mixer/mixer.h"
#include "overlay/overlay.h"
#include "relay/relay.h"
#include "server/server.h"

struct ScNode {
  ScNodeKind kind;
  ScConfig *config; /* owned */
  GMainLoop *loop;

  ScScoreboard *scoreboard;
  ScServer *server;
  /* Contest nodes only: */
  ScOverlay *overlay;
  ScIngest **stations; /* config->n_stations */
  ScMixer *mixer;
  ScRelay *relay;

  ScNodeReadyFunc ready;
  gpointer ready_data;
  gboolean stopping;
  int exit_code;
};

/* ---- callbacks from the modules ---- */

static void
on_applied (const char *entry_id, const char *delta_json, const char *event_json,
            gpointer user_data)
{
  ScNode *node = user_data;
  if (node->server)
    sc_server_publish (node->server, entry_id, delta_json, event_json);
  if (node->overlay)
    sc_overlay_invalidate (node->overlay);
  if (node->mixer && event_json && strstr (event_json, "\"score\"")) {
    /* The auto-director wants the station of a score event. */
    g_autoptr (JsonParser) parser = json_parser_new ();
    if (json_parser_load_from_data (parser, event_json, -1, NULL)) {
      JsonObject *msg = json_node_get_object (json_parser_get_root (parser));
      JsonObject *ev = json_object_get_object_member (msg, "event");
      if (ev && !g_strcmp0 (json_object_get_string_member_with_default (ev, "type", ""), "score"))
        sc_mixer_score_event (node->mixer,
                              json_object_get_string_member_with_default (ev, "station", ""));
    }
  }
}

static void
on_redis_state (gboolean up, gpointer user_data)
{
  ScNode *node = user_data;
  if (up)
    GST_INFO ("redis: connected to %s", node->config->redis.url_redacted);
  else
    GST_WARNING ("redis: not reachable (%s); retrying, the picture keeps the last scoreboard",
                 node->config->redis.url_redacted ? node->config->redis.url_redacted : "?");
}

static void
on_station_state (ScIngest *ingest, ScIngestState state, gpointer user_data)
{
  GST_INFO ("station %s: %s", sc_ingest_station_id (ingest), sc_ingest_state_to_string (state));
}

static void
on_program_changed (ScMixer *mixer, gpointer user_data)
{
  g_autofree char *json = sc_mixer_program_json (mixer);
  GST_INFO ("program: %s", json);
}

static void
on_live_ts (GBytes *data, gboolean keyframe, gpointer user_data)
{
  ScNode *node = user_data;
  /* Streaming thread: the server marshals to its loop. */
  if (node->server)
    sc_server_push_live_ts (node->server, data, keyframe);
}

/* ---- server callbacks ---- */

/* Appends S as a JSON string (quoted, escaped). */
static void
append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

/* GET /api/stations. Written by hand so rates print as people read them
 * (29.7, not 29.699999999999999). */
static char *
stations_json (gpointer user_data)
{
  ScNode *node = user_data;
  GString *out = g_string_new ("[");
  for (guint i = 0; i < node->config->n_stations; i++) {
    ScIngestStats st;
    char fps[G_ASCII_DTOSTR_BUF_SIZE];
    sc_ingest_get_stats (node->stations[i], &st);
    g_ascii_formatd (fps, sizeof fps, "%.1f", st.fps);
    g_string_append (out, i ? ",{\"id\":" : "{\"id\":");
    append_json_string (out, node->config->stations[i].id);
    g_string_append_printf (out,
                            ",\"state\":\"%s\",\"fps\":%s,\"bitrate_kbps\":%d,\"width\":%d,"
                            "\"height\":%d,\"reconnects\":%u,\"last_error\":",
                            sc_ingest_state_to_string (st.state), fps, st.bitrate_kbps, st.width,
                            st.height, st.reconnects);
    if (st.last_error[0])
      append_json_string (out, st.last_error);
    else
      g_string_append (out, "null");
    g_string_append_c (out, '}');
  }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static char *
outputs_json (gpointer user_data)
{
  ScNode *node = user_data;
  return sc_relay_outputs_json (node->relay);
}

static char *
program_json (gpointer user_data)
{
  ScNode *node = user_data;
  return sc_mixer_program_json (node->mixer);
}

static gboolean
control (const char *cmd, JsonObject *args, char **error_message, gpointer user_data)
{
  return sc_node_control (user_data, cmd, args, error_message);
}

static const char *
hls_dir (const char *output_id, gpointer user_data)
{
  ScNode *node = user_data;
  return node->relay ? sc_relay_hls_dir (node->relay, output_id) : NULL;
}

static void
metrics (GString *out, gpointer user_data)
{
  ScNode *node = user_data;
  g_string_append (out, "# HELP skillcast_station_up 1 while the station's feed is live.\n"
                        "# TYPE skillcast_station_up gauge\n");
  for (guint i = 0; i < node->config->n_stations; i++) {
    ScIngestStats st;
    sc_ingest_get_stats (node->stations[i], &st);
    g_string_append_printf (out, "skillcast_station_up{station=\"%s\"} %d\n",
                            node->config->stations[i].id, st.state == SC_INGEST_LIVE);
  }
  g_string_append (out, "# HELP skillcast_station_reconnects_total Times a station's feed was "
                        "lost and reconnected.\n"
                        "# TYPE skillcast_station_reconnects_total counter\n");
  for (guint i = 0; i < node->config->n_stations; i++) {
    ScIngestStats st;
    sc_ingest_get_stats (node->stations[i], &st);
    g_string_append_printf (out, "skillcast_station_reconnects_total{station=\"%s\"} %u\n",
                            node->config->stations[i].id, st.reconnects);
  }
  g_string_append_printf (out,
                          "# HELP skillcast_program_frames_total Program frames produced.\n"
                          "# TYPE skillcast_program_frames_total counter\n"
                          "skillcast_program_frames_total %" G_GUINT64_FORMAT "\n"
                          "# HELP skillcast_program_late_frames_total Program ticks that ran "
                          "late.\n"
                          "# TYPE skillcast_program_late_frames_total counter\n"
                          "skillcast_program_late_frames_total %" G_GUINT64_FORMAT "\n",
                          sc_mixer_frames (node->mixer), sc_mixer_late_frames (node->mixer));
  sc_relay_metrics (node->relay, out);
  sc_memory_metrics (out);
}

/* ---- life cycle ---- */

ScNode *
sc_node_new (ScConfig *config, ScNodeKind kind, GError **error)
{
  ScNode *node = g_new0 (ScNode, 1);
  node->kind = kind;
  node->config = config;
  node->loop = g_main_loop_new (NULL, FALSE);

  ScScoreboardCallbacks sbcb = {
    .applied = on_applied, .redis_state = on_redis_state, .user_data = node
  };
  node->scoreboard = sc_scoreboard_new (config, &sbcb);

  ScServerCallbacks srvcb = { .user_data = node };
  if (kind == SC_NODE_CONTEST) {
    node->overlay = sc_overlay_new (&config->overlay, config->program.width,
                                    config->program.height,
                                    sc_scoreboard_contest (node->scoreboard));
    node->stations = g_new0 (ScIngest *, config->n_stations + 1);
    ScIngestCallbacks incb = { .state_changed = on_station_state, .user_data = node };
    for (guint i = 0; i < config->n_stations; i++) {
      node->stations[i]
        = sc_ingest_new (&config->stations[i], config->program.fps, &incb, error);
      if (!node->stations[i]) {
        g_prefix_error (error, "stations[%u] (%s): ", i, config->stations[i].id);
        goto fail;
      }
    }
    ScMixerCallbacks mxcb = { .program_changed = on_program_changed, .user_data = node };
    node->mixer = sc_mixer_new (config, node->stations, node->overlay, &mxcb, error);
    if (!node->mixer)
      goto fail;
    ScRelayCallbacks rlcb = { .live_ts = on_live_ts, .user_data = node };
    node->relay = sc_relay_new (config, node->mixer, &rlcb);

    srvcb.stations_json = stations_json;
    srvcb.outputs_json = outputs_json;
    srvcb.program_json = program_json;
    srvcb.control = control;
    srvcb.metrics = metrics;
    srvcb.hls_dir = hls_dir;
  }
  node->server = sc_server_new (config, node->scoreboard, &srvcb, error);
  if (!node->server)
    goto fail;
  return node;

fail:
  sc_node_free (node);
  return NULL;
}

void
sc_node_set_ready_func (ScNode *node, ScNodeReadyFunc func, gpointer user_data)
{
  node->ready = func;
  node->ready_data = user_data;
}

int
sc_node_port (ScNode *node)
{
  return node->server ? sc_server_port (node->server) : 0;
}

const ScConfig *
sc_node_config (ScNode *node)
{
  return node->config;
}

ScScoreboard *
sc_node_scoreboard (ScNode *node)
{
  return node->scoreboard;
}

ScMixer *
sc_node_mixer (ScNode *node)
{
  return node->mixer;
}

ScOverlay *
sc_node_overlay (ScNode *node)
{
  return node->overlay;
}

ScRelay *
sc_node_relay (ScNode *node)
{
  return node->relay;
}

static gboolean
on_signal (gpointer user_data)
{
  ScNode *node = user_data;
  if (node->stopping) {
    /* A second Ctrl-C while finalizing: the operator means it. */
    g_printerr ("skillcast: stopping now\n");
    node->exit_code = SC_EXIT_RUNTIME;
  }
  node->stopping = TRUE;
  g_main_loop_quit (node->loop);
  return G_SOURCE_CONTINUE;
}

int
sc_node_run (ScNode *node)
{
  guint sigint = g_unix_signal_add (SIGINT, on_signal, node);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, node);
  g_autoptr (GError) error = NULL;

  sc_scoreboard_start (node->scoreboard);
  if (node->kind == SC_NODE_CONTEST) {
    for (guint i = 0; i < node->config->n_stations; i++)
      sc_ingest_start (node->stations[i]);
    if (!sc_mixer_start (node->mixer, &error)) {
      g_printerr ("skillcast: program cannot start: %s\n", error->message);
      node->exit_code = SC_EXIT_RUNTIME;
      goto stop;
    }
    sc_relay_start (node->relay);
  }
  sc_memory_keeper_start ();
  GST_INFO ("node up on port %d", sc_node_port (node));
  if (node->ready)
    node->ready (node, node->ready_data);
  else {
    printf ("skillcast %s: %s (%s), listening on http://%s:%d/\n",
            node->kind == SC_NODE_RELAY ? "relay" : "run", node->config->contest.title,
            node->config->contest.id, node->config->server.host, sc_node_port (node));
    fflush (stdout);
  }

  g_main_loop_run (node->loop);

stop:
  GST_INFO ("stopping");
  /* Order matters: the encoders drain into the outputs, the outputs
   * finalize (recordings, #EXT-X-ENDLIST), then clients get 1001. */
  if (node->kind == SC_NODE_CONTEST) {
    sc_mixer_stop (node->mixer);
    sc_relay_stop (node->relay);
    for (guint i = 0; i < node->config->n_stations; i++)
      sc_ingest_stop (node->stations[i]);
  }
  sc_server_shutdown (node->server);
  sc_memory_keeper_stop ();
  g_source_remove (sigint);
  g_source_remove (sigterm);
  return node->exit_code;
}

void
sc_node_free (ScNode *node)
{
  if (!node)
    return;
  g_clear_pointer (&node->server, sc_server_free);
  g_clear_pointer (&node->relay, sc_relay_free);
  g_clear_pointer (&node->mixer, sc_mixer_free);
  if (node->stations) {
    for (guint i = 0; i < node->config->n_stations; i++)
      g_clear_pointer (&node->stations[i], sc_ingest_free);
    g_free (node->stations);
  }
  g_clear_pointer (&node->overlay, sc_overlay_free);
  g_clear_pointer (&node->scoreboard, sc_scoreboard_free);
  g_clear_pointer (&node->loop, g_main_loop_unref);
  g_clear_pointer (&node->config, sc_config_free);
  g_free (node);
}
