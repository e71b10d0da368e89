/* server_harness — a scoreboard + server on a free port, driven from
 * stdin, for the WebSocket tests (node) and the fan-out benchmark.
 *
 *   server_harness [--redis URL] [--max-clients N] [--web DIR] [--port N]
 *                  [--operator-token T] [--commentator-token T]
 *
 * Prints "PORT n" once listening. Commands, one a line:
 *   append FIELD VALUE ...     an entry (sc_scoreboard_append)
 *   bulk N BYTES [PER_TICK]    N announce entries of BYTES, PER_TICK per loop turn
 *   live N BYTES [EVERY]       N live TS chunks; keyframes: the first, or every EVERY-th
 *   shutdown                   sc_server_shutdown, prints "SHUTDOWN", exits
 * Each command answers "OK" or "ERR message" on stdout. */
#include <gio/gio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/server.h"

typedef struct {
  GMainLoop *loop;
  ScScoreboard *scoreboard;
  ScServer *server;
  GIOChannel *in;
} Harness;

static void
on_applied (const char *id, const char *delta, const char *event, gpointer user_data)
{
  Harness *h = user_data;
  if (h->server)
    sc_server_publish (h->server, id, delta, event);
}

static gboolean
control_cb (const char *cmd, JsonObject *args, char **error_message, gpointer user_data)
{
  if (!strcmp (cmd, "layout"))
    return TRUE;
  *error_message = g_strdup_printf ("unknown command %s", cmd);
  return FALSE;
}

static void
reply (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

typedef struct {
  Harness *h;
  int left, bytes, per_tick, n;
} Bulk;

static gboolean
bulk_step (gpointer data)
{
  Bulk *b = data;
  g_autofree char *text = g_malloc (b->bytes + 1);
  for (int i = 0; i < b->per_tick && b->left > 0; i++, b->left--, b->n++) {
    memset (text, 'a' + b->n % 26, b->bytes);
    text[b->bytes] = '\0';
    char *fields[] = { "type", "announce", "text", text, NULL };
    g_autoptr (GError) error = NULL;
    if (!sc_scoreboard_append (b->h->scoreboard, fields, 4, &error)) {
      reply ("ERR %s", error->message);
      g_free (b);
      return G_SOURCE_REMOVE;
    }
  }
  if (b->left > 0)
    return G_SOURCE_CONTINUE;
  reply ("OK");
  g_free (b);
  return G_SOURCE_REMOVE;
}

static void
run_command (Harness *h, char *line)
{
  g_strstrip (line);
  if (!*line)
    return;
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) error = NULL;
  int argc = 0;
  if (!g_shell_parse_argv (line, &argc, &argv, &error)) {
    reply ("ERR %s", error->message);
    return;
  }
  if (!strcmp (argv[0], "append")) {
    if (!sc_scoreboard_append (h->scoreboard, argv + 1, (guint)argc - 1, &error))
      reply ("ERR %s", error->message);
    else
      reply ("OK");
  } else if (!strcmp (argv[0], "bulk") && argc >= 3) {
    /* Spread over main-loop iterations, as events arrive in real life:
     * a burst of megabytes in one iteration would put every client over
     * the backlog limit before any of them could write. */
    Bulk *b = g_new0 (Bulk, 1);
    b->h = h;
    b->left = atoi (argv[1]);
    b->bytes = atoi (argv[2]);
    b->per_tick = argc >= 4 ? atoi (argv[3]) : 4;
    g_idle_add (bulk_step, b);
  } else if (!strcmp (argv[0], "live") && argc >= 3) {
    int n = atoi (argv[1]);
    int bytes = MAX (atoi (argv[2]), 4);
    int every = argc >= 4 ? MAX (atoi (argv[3]), 1) : n + 1;
    for (int i = 0; i < n; i++) {
      /* 0x47, then the chunk's index (little-endian, 24 bits) */
      guint8 *data = g_malloc (bytes);
      memset (data, i & 0xff, bytes);
      data[0] = 0x47;
      data[2] = (guint8)(i >> 8);
      data[3] = (guint8)(i >> 16);
      GBytes *b = g_bytes_new_take (data, bytes);
      sc_server_push_live_ts (h->server, b, i % every == 0);
      g_bytes_unref (b);
    }
    reply ("OK");
  } else if (!strcmp (argv[0], "shutdown")) {
    sc_server_shutdown (h->server);
    reply ("SHUTDOWN");
    g_main_loop_quit (h->loop);
  } else {
    reply ("ERR unknown command %s", argv[0]);
  }
}

static gboolean
on_stdin (GIOChannel *ch, GIOCondition cond, gpointer user_data)
{
  Harness *h = user_data;
  char *line = NULL;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line (ch, &line, &len, NULL, NULL);
  if (st == G_IO_STATUS_NORMAL && line) {
    run_command (h, line);
    g_free (line);
    return G_SOURCE_CONTINUE;
  }
  g_free (line);
  if (st == G_IO_STATUS_AGAIN)
    return G_SOURCE_CONTINUE;
  /* stdin closed: the test is gone. */
  g_main_loop_quit (h->loop);
  return G_SOURCE_CONTINUE; /* removed by main() */
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  const char *redis = NULL, *web = NULL, *op = "op-secret", *com = "com-secret";
  int max_clients = 0, port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp (argv[i], "--redis"))
      redis = argv[i + 1];
    else if (!strcmp (argv[i], "--max-clients"))
      max_clients = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--web"))
      web = argv[i + 1];
    else if (!strcmp (argv[i], "--port"))
      port = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--operator-token"))
      op = argv[i + 1];
    else if (!strcmp (argv[i], "--commentator-token"))
      com = argv[i + 1];
  }

  g_autoptr (ScConfig) config = sc_config_new_defaults ();
  g_free (config->contest.id);
  config->contest.id = g_strdup ("harness");
  if (redis) {
    /* redis://127.0.0.1:PORT[/DB] or unix:///path */
    config->redis.url = g_strdup (redis);
    if (g_str_has_prefix (redis, "unix://")) {
      config->redis.unix_path = g_strdup (redis + strlen ("unix://"));
    } else {
      const char *hp = redis + strlen ("redis://");
      g_auto (GStrv) parts = g_strsplit_set (hp, ":/", 3);
      config->redis.host = g_strdup (parts[0]);
      config->redis.port = parts[1] ? atoi (parts[1]) : 6379;
      config->redis.db = parts[1] && parts[2] ? atoi (parts[2]) : 0;
    }
  }
  g_free (config->server.host);
  g_free (config->server.listen);
  g_free (config->server.web_dir);
  config->server.web_dir = NULL;
  config->server.host = g_strdup ("127.0.0.1");
  config->server.port = port;
  config->server.listen = g_strdup_printf ("127.0.0.1:%d", port);
  config->server.operator_token = *op ? g_strdup (op) : NULL;
  config->server.commentator_token = *com ? g_strdup (com) : NULL;
  config->server.max_clients = max_clients;
  if (web)
    config->server.web_dir = g_strdup (web);

  Harness h = { 0 };
  h.loop = g_main_loop_new (NULL, FALSE);
  ScScoreboardCallbacks sbcb = { .applied = on_applied, .user_data = &h };
  h.scoreboard = sc_scoreboard_new (config, &sbcb);
  ScServerCallbacks cb = { .control = control_cb, .user_data = &h };
  g_autoptr (GError) error = NULL;
  h.server = sc_server_new (config, h.scoreboard, &cb, &error);
  if (!h.server) {
    fprintf (stderr, "server_harness: %s\n", error->message);
    return 1;
  }
  sc_scoreboard_start (h.scoreboard);
  reply ("PORT %d", sc_server_port (h.server));

  h.in = g_io_channel_unix_new (0);
  guint watch = g_io_add_watch (h.in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &h);
  g_main_loop_run (h.loop);

  g_source_remove (watch);
  g_io_channel_unref (h.in);
  sc_server_free (h.server);
  sc_scoreboard_free (h.scoreboard);
  g_main_loop_unref (h.loop);
  return 0;
}
