/* `skillcast score`: publish one event to the contest's Redis Stream, the way
 * the judges' scoring system does (CONTRACTS.md §3). A score by default;
 * one flag picks another event type. */
#include "app/app.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *score_help =
  "Usage:\n"
  "  skillcast score --config CONFIG.yaml STATION TOTAL [--judge J] [--item NAME] [--detail JSON]\n"
  "  skillcast score --config CONFIG.yaml --penalty STATION POINTS [--reason TEXT]\n"
  "  skillcast score --config CONFIG.yaml --status STATION STATE\n"
  "                  (STATE: ready, working, finished, paused, disqualified)\n"
  "  skillcast score --config CONFIG.yaml --clock STATE REMAINING_MS\n"
  "                  (STATE: running, paused, stopped)\n"
  "  skillcast score --config CONFIG.yaml --announce TEXT [--ttl-ms MS]\n"
  "  skillcast score --config CONFIG.yaml --competitor STATION --name NAME [--org ORG] [--trade TRADE]\n"
  "\n"
  "Publishes one event to skillcast:{contest.id}:events with XADD and prints its id.\n"
  "TOTAL is the station's new absolute total; penalties add up.\n"
  "Exit 0 published, 1 Redis unreachable or refused, 2 bad usage or bad config.\n";

static gboolean
is_number (const char *s)
{
  char *end = NULL;
  if (!s || !*s)
    return FALSE;
  double v = g_ascii_strtod (s, &end);
  return end && *end == '\0' && isfinite (v);
}

static ScConfig *
load_any (const char *path, GError **error)
{
  /* A contest node's config or a relay node's: either names the stream. */
  GError *run_error = NULL;
  ScConfig *c = sc_config_load (path, SC_CONFIG_FOR_RUN, &run_error);
  if (c)
    return c;
  c = sc_config_load (path, SC_CONFIG_FOR_RELAY, NULL);
  if (c) {
    g_error_free (run_error);
    return c;
  }
  g_propagate_error (error, run_error);
  return NULL;
}

int
sc_cmd_score (int argc, char **argv)
{
  const char *config_path = NULL, *judge = NULL, *item = NULL, *detail = NULL;
  const char *reason = NULL, *ttl = NULL, *name = NULL, *org = NULL, *trade = NULL;
  const char *kind = "score";
  GPtrArray *pos = g_ptr_array_new ();
  int code = SC_EXIT_USAGE;
  /* Declared before the first goto: cleanups run on every path. */
  g_autoptr (GError) error = NULL;
  g_autoptr (ScConfig) config = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **target = NULL;
    if (!strcmp (a, "--help") || !strcmp (a, "-h")) {
      fputs (score_help, stdout);
      code = SC_EXIT_OK;
      goto out;
    } else if (!strcmp (a, "--penalty") || !strcmp (a, "--status") || !strcmp (a, "--clock")
               || !strcmp (a, "--announce") || !strcmp (a, "--competitor")) {
      if (strcmp (kind, "score")) {
        g_printerr ("skillcast score: %s and --%s cannot be combined\n", a, kind);
        goto out;
      }
      kind = a + 2;
      continue;
    } else if (!strcmp (a, "--config"))
      target = &config_path;
    else if (!strcmp (a, "--judge"))
      target = &judge;
    else if (!strcmp (a, "--item"))
      target = &item;
    else if (!strcmp (a, "--detail"))
      target = &detail;
    else if (!strcmp (a, "--reason"))
      target = &reason;
    else if (!strcmp (a, "--ttl-ms"))
      target = &ttl;
    else if (!strcmp (a, "--name"))
      target = &name;
    else if (!strcmp (a, "--org"))
      target = &org;
    else if (!strcmp (a, "--trade"))
      target = &trade;
    else if (a[0] == '-' && a[1] == '-') {
      g_printerr ("skillcast score: unknown option %s (see skillcast score --help)\n", a);
      goto out;
    } else {
      g_ptr_array_add (pos, (gpointer) a);
      continue;
    }
    if (i + 1 >= argc) {
      g_printerr ("skillcast score: %s needs a value\n", a);
      goto out;
    }
    *target = argv[++i];
  }

  if (!config_path) {
    g_printerr ("skillcast score: --config CONFIG.yaml is required\n");
    goto out;
  }

  GPtrArray *f = g_ptr_array_new ();
#define FIELD(k, v)                                                                                \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_ptr_array_add (f, (gpointer) (k));                                                           \
    g_ptr_array_add (f, (gpointer) (v));                                                           \
  }                                                                                                \
  G_STMT_END
  guint want = !strcmp (kind, "announce") || !strcmp (kind, "competitor") ? 1 : 2;
  if (pos->len != want) {
    g_printerr ("skillcast score: wrong number of arguments for a %s event (see skillcast score "
                "--help)\n",
                kind);
    g_ptr_array_unref (f);
    goto out;
  }
  const char *a0 = g_ptr_array_index (pos, 0);
  const char *a1 = pos->len > 1 ? g_ptr_array_index (pos, 1) : NULL;
  const char *bad = NULL;
  FIELD ("type", kind);
  if (!strcmp (kind, "score")) {
    FIELD ("station", a0);
    FIELD ("total", a1);
    if (!is_number (a1))
      bad = "TOTAL must be a decimal number";
    if (judge)
      FIELD ("judge", judge);
    if (item)
      FIELD ("item", item);
    if (detail)
      FIELD ("detail", detail);
  } else if (!strcmp (kind, "penalty")) {
    FIELD ("station", a0);
    FIELD ("points", a1);
    if (!is_number (a1) || g_ascii_strtod (a1, NULL) < 0)
      bad = "POINTS must be a decimal number >= 0";
    FIELD ("reason", reason ? reason : "");
  } else if (!strcmp (kind, "status")) {
    FIELD ("station", a0);
    FIELD ("state", a1);
  } else if (!strcmp (kind, "clock")) {
    FIELD ("state", a0);
    FIELD ("remaining_ms", a1);
    if (!is_number (a1))
      bad = "REMAINING_MS must be a number";
  } else if (!strcmp (kind, "announce")) {
    FIELD ("text", a0);
    if (ttl)
      FIELD ("ttl_ms", ttl);
    if (ttl && !is_number (ttl))
      bad = "--ttl-ms must be a number";
  } else if (!strcmp (kind, "competitor")) {
    FIELD ("station", a0);
    if (!name)
      bad = "--name is required for a competitor event";
    FIELD ("name", name ? name : "");
    FIELD ("org", org ? org : "");
    FIELD ("trade", trade ? trade : "");
  }
#undef FIELD
  if (bad) {
    g_printerr ("skillcast score: %s\n", bad);
    g_ptr_array_unref (f);
    goto out;
  }

  config = load_any (config_path, &error);
  if (!config) {
    g_printerr ("%s\n", error->message);
    g_ptr_array_unref (f);
    goto out;
  }
  if (!config->redis.url) {
    g_printerr ("skillcast score: %s has no redis.url\n", config_path);
    g_ptr_array_unref (f);
    goto out;
  }
  char *id = sc_scoreboard_publish (config, (char *const *) f->pdata, f->len, &error);
  g_ptr_array_unref (f);
  if (!id) {
    g_printerr ("skillcast score: %s\n", error->message);
    code = SC_EXIT_RUNTIME;
    goto out;
  }
  printf ("%s\n", id);
  g_free (id);
  code = SC_EXIT_OK;
out:
  g_ptr_array_unref (pos);
  return code;
}
