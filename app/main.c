/* skillcast — the command line of CONTRACTS.md §1.
 *
 *   skillcast run CONFIG.yaml | relay CONFIG.yaml | demo [--port N]
 *   skillcast check CONFIG.yaml | score --config CONFIG.yaml STATION TOTAL ...
 *
 * Exit codes: 0 done, 1 runtime failure, 2 bad usage or bad config.
 */
#include "app/app.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY (sc_app_debug);

static const char *usage_text =
  "Usage: skillcast COMMAND [ARGS]\n"
  "\n"
  "The broadcast backend for live vocational-skills contests.\n"
  "\n"
  "Commands:\n"
  "  run CONFIG.yaml       the contest node: ingest, mixer, overlay, outputs, web/WS server\n"
  "  relay CONFIG.yaml     a scoreboard fan-out node: Redis -> WebSocket, no video\n"
  "  demo [--port N]       everything on built-in defaults, no config, no outside services\n"
  "  check CONFIG.yaml     validate a config and print what would run (no secrets)\n"
  "  score --config CONFIG.yaml STATION TOTAL [--judge J] [--item NAME]\n"
  "                        publish one score event (see `skillcast score --help` for\n"
  "                        penalty, status, clock, announce and competitor events)\n"
  "\n"
  "Options:\n"
  "  -h, --help            this text (also `skillcast COMMAND --help`)\n"
  "  -V, --version         print the version\n"
  "\n"
  "Exit codes: 0 done, 1 runtime failure, 2 bad usage or bad config.\n"
  "Logs: GST_DEBUG=sc-*:5 shows the whole story of a contest day.\n";

static gboolean
wants_help (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (!strcmp (argv[i], "--help") || !strcmp (argv[i], "-h"))
      return TRUE;
  return FALSE;
}

/* `run` and `relay`: one positional CONFIG. */
static int
cmd_node (int argc, char **argv, ScNodeKind kind)
{
  const char *name = kind == SC_NODE_RELAY ? "relay" : "run";
  if (wants_help (argc, argv)) {
    if (kind == SC_NODE_RELAY)
      printf ("Usage: skillcast relay CONFIG.yaml\n\n"
              "A scoreboard fan-out node: follows the contest's Redis Stream and serves\n"
              "/scores, /commentary, /api/state, /healthz and /metrics to viewers. No video.\n"
              "Needs the contest, redis and server sections; other sections are ignored\n"
              "(stations, when present, give the roster).\n");
    else
      printf ("Usage: skillcast run CONFIG.yaml\n\n"
              "The contest node: ingests every station, mixes the program, burns in the\n"
              "overlay, relays to the outputs and serves the pages, API and WebSockets.\n"
              "SIGINT/SIGTERM stop it cleanly.\n");
    return SC_EXIT_OK;
  }
  if (argc != 2) {
    g_printerr ("skillcast %s: expected one CONFIG.yaml (see skillcast %s --help)\n", name, name);
    return SC_EXIT_USAGE;
  }
  g_autoptr (GError) error = NULL;
  ScConfig *config = sc_config_load (argv[1], kind == SC_NODE_RELAY ? SC_CONFIG_FOR_RELAY
                                                                    : SC_CONFIG_FOR_RUN,
                                     &error);
  if (!config) {
    g_printerr ("%s\n", error->message);
    return SC_EXIT_USAGE;
  }
  ScNode *node = sc_node_new (config, kind, &error);
  if (!node) {
    g_printerr ("skillcast %s: %s\n", name, error->message);
    return SC_EXIT_RUNTIME;
  }
  int code = sc_node_run (node);
  sc_node_free (node);
  return code;
}

int
sc_cmd_check (int argc, char **argv)
{
  gboolean relay = FALSE;
  const char *path = NULL;
  if (wants_help (argc, argv)) {
    printf ("Usage: skillcast check [--relay] CONFIG.yaml\n\n"
            "Validates CONFIG.yaml and prints what would run, without secrets.\n"
            "--relay checks it as `skillcast relay` would read it.\n"
            "Exit 0 when valid, 2 when not (the error names file:line:column and key).\n");
    return SC_EXIT_OK;
  }
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--relay"))
      relay = TRUE;
    else if (!path && argv[i][0] != '-')
      path = argv[i];
    else {
      g_printerr ("skillcast check: unexpected argument \"%s\"\n", argv[i]);
      return SC_EXIT_USAGE;
    }
  }
  if (!path) {
    g_printerr ("skillcast check: expected CONFIG.yaml (see skillcast check --help)\n");
    return SC_EXIT_USAGE;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConfig) config
    = sc_config_load (path, relay ? SC_CONFIG_FOR_RELAY : SC_CONFIG_FOR_RUN, &error);
  if (!config) {
    g_printerr ("%s\n", error->message);
    return SC_EXIT_USAGE;
  }
  g_autofree char *text = sc_config_describe (config);
  printf ("%s: valid\n%s", path, text);
  return SC_EXIT_OK;
}

int
main (int argc, char **argv)
{
  sc_memory_init ();
  setlocale (LC_ALL, "");
  /* GStreamer's own option parsing is not wanted: our argv is ours. */
  gst_init (NULL, NULL);
  GST_DEBUG_CATEGORY_INIT (sc_app_debug, "sc-app", 0, "skillcast node wiring");

  if (argc < 2) {
    fputs (usage_text, stderr);
    return SC_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp (cmd, "--help") || !strcmp (cmd, "-h") || !strcmp (cmd, "help")) {
    fputs (usage_text, stdout);
    return SC_EXIT_OK;
  }
  if (!strcmp (cmd, "--version") || !strcmp (cmd, "-V")) {
    printf ("skillcast %s (%s)\n", SC_VERSION, gst_version_string ());
    return SC_EXIT_OK;
  }
  if (!strcmp (cmd, "run"))
    return cmd_node (argc - 1, argv + 1, SC_NODE_CONTEST);
  if (!strcmp (cmd, "relay"))
    return cmd_node (argc - 1, argv + 1, SC_NODE_RELAY);
  if (!strcmp (cmd, "demo"))
    return sc_cmd_demo (argc - 1, argv + 1);
  if (!strcmp (cmd, "check"))
    return sc_cmd_check (argc - 1, argv + 1);
  if (!strcmp (cmd, "score"))
    return sc_cmd_score (argc - 1, argv + 1);

  g_printerr ("skillcast: unknown command \"%s\"\n\n%s", cmd, usage_text);
  return SC_EXIT_USAGE;
}
