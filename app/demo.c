/* `skillcast demo`: a whole contest day on built-in defaults, with nothing
 * running beforehand (CONTRACTS.md §1).
 *
 * It starts a private redis-server on a unix socket in a temp dir (or, when
 * the binary is missing, keeps the contest state in-process with a warning),
 * four test:// stations with Chinese names, a simulated judges' panel, an
 * HLS output, and prints the page URLs with their demo tokens. */
#include "app/app.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  const char *id, *name, *org, *pattern;
} DemoStation;

/* A 数控车工 (CNC turning) final, as in the Zhuzhou contests. */
static const DemoStation demo_stations[] = {
  { "A01", "张伟", "株洲中车时代电气", "test://smpte" },
  { "A02", "李娜", "湖南铁道职业技术学院", "test://ball" },
  { "A03", "王强", "中联重科", "test://pinwheel" },
  { "A04", "刘洋", "株洲硬质合金集团", "test://colors" },
};

typedef struct {
  char *dir;
  GPid redis_pid;
  ScJudges *judges;
} Demo;

static void
child_setup (gpointer data)
{
  /* The private redis-server dies with the demo, even on SIGKILL. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
unix_socket_answers (const char *path)
{
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  g_strlcpy (a.sun_path, path, sizeof a.sun_path);
  gboolean ok = fd >= 0 && connect (fd, (struct sockaddr *) &a, sizeof a) == 0;
  if (fd >= 0)
    close (fd);
  return ok;
}

/* Starts redis-server on DIR/redis.sock. Returns its pid or 0. */
static GPid
start_private_redis (const char *dir, const char *sock)
{
  g_autofree char *exe = g_find_program_in_path ("redis-server");
  if (!exe)
    return 0;
  g_autofree char *log = g_build_filename (dir, "redis.log", NULL);
  char *argv[] = { exe,          "--port",       "0",       "--unixsocket", (char *) sock,
                   "--unixsocketperm", "700",   "--save",  "",             "--appendonly",
                   "no",         "--dir",        (char *) dir, "--logfile", log,
                   NULL };
  GPid pid = 0;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                      child_setup, NULL, &pid, &error)) {
    g_printerr ("skillcast demo: cannot start redis-server: %s\n", error->message);
    return 0;
  }
  for (int i = 0; i < 250; i++) { /* 5 s */
    if (unix_socket_answers (sock))
      return pid;
    if (waitpid (pid, NULL, WNOHANG) == pid)
      return 0;
    g_usleep (20 * 1000);
  }
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  return 0;
}

static void
on_ready (ScNode *node, gpointer user_data)
{
  Demo *demo = user_data;
  const ScConfig *c = sc_node_config (node);
  int port = sc_node_port (node);
  demo->judges = sc_judges_start (node, (guint32) g_get_real_time ());
  printf ("\nskillcast demo: %s\n"
          "  viewer       http://127.0.0.1:%d/\n"
          "  commentator  http://127.0.0.1:%d/commentator?token=%s\n"
          "  operator     http://127.0.0.1:%d/operator?token=%s\n"
          "  hls          http://127.0.0.1:%d/hls/hls/index.m3u8\n"
          "  redis        %s\n"
          "Ctrl-C stops it.\n\n",
          c->contest.title, port, port, c->server.commentator_token, port,
          c->server.operator_token, port, c->redis.url ? c->redis.url : "(in-process)");
  fflush (stdout);
}

static void
remove_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d) {
    const char *name;
    while ((name = g_dir_read_name (d))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        unlink (child);
    }
    g_dir_close (d);
  }
  rmdir (path);
}

static char *
random_token (void)
{
  GString *s = g_string_new ("demo-");
  for (int i = 0; i < 12; i++)
    g_string_append_c (s, "abcdefghjkmnpqrstuvwxyz23456789"[g_random_int_range (0, 31)]);
  return g_string_free (s, FALSE);
}

int
sc_cmd_demo (int argc, char **argv)
{
  int port = 8080;
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--help") || !strcmp (argv[i], "-h")) {
      printf ("Usage: skillcast demo [--port N]\n\n"
              "Runs a whole contest on built-in defaults: a private redis-server, 4 test\n"
              "stations, a simulated judges' panel, an HLS output, and the viewer,\n"
              "commentator and operator pages on http://127.0.0.1:N/ (default 8080).\n");
      return SC_EXIT_OK;
    }
    if (!strcmp (argv[i], "--port") && i + 1 < argc) {
      char *end;
      long p = strtol (argv[++i], &end, 10);
      if (*end || p < 0 || p > 65535) {
        g_printerr ("skillcast demo: --port takes a port number, not \"%s\"\n", argv[i]);
        return SC_EXIT_USAGE;
      }
      port = (int) p;
    } else {
      g_printerr ("skillcast demo: unexpected argument \"%s\" (see skillcast demo --help)\n",
                  argv[i]);
      return SC_EXIT_USAGE;
    }
  }

  Demo demo = { 0 };
  g_autoptr (GError) error = NULL;
  demo.dir = g_dir_make_tmp ("skillcast-demo-XXXXXX", &error);
  if (!demo.dir) {
    g_printerr ("skillcast demo: %s\n", error->message);
    return SC_EXIT_RUNTIME;
  }

  ScConfig *c = sc_config_new_defaults ();
  g_free (c->contest.id);
  g_free (c->contest.title);
  c->contest.id = g_strdup ("zz2026-cnc");
  c->contest.title = g_strdup ("技能天下 · 数控车工决赛");

  g_autofree char *sock = g_build_filename (demo.dir, "redis.sock", NULL);
  demo.redis_pid = start_private_redis (demo.dir, sock);
  g_clear_pointer (&c->redis.url, g_free);
  g_clear_pointer (&c->redis.url_redacted, g_free);
  g_clear_pointer (&c->redis.unix_path, g_free);
  if (demo.redis_pid) {
    c->redis.url = g_strdup_printf ("unix://%s", sock);
    c->redis.url_redacted = g_strdup (c->redis.url);
    c->redis.unix_path = g_strdup (sock);
  } else {
    g_printerr ("skillcast demo: warning: redis-server not found or did not start; the contest "
                "state stays in this process (no relay nodes, nothing survives a restart)\n");
  }

  c->n_stations = G_N_ELEMENTS (demo_stations);
  c->stations = g_new0 (ScStationConfig, c->n_stations);
  for (guint i = 0; i < c->n_stations; i++) {
    ScStationConfig *s = &c->stations[i];
    s->id = g_strdup (demo_stations[i].id);
    s->name = g_strdup (demo_stations[i].name);
    s->org = g_strdup (demo_stations[i].org);
    s->trade = g_strdup ("数控车工");
    s->source = g_strdup (demo_stations[i].pattern);
    s->source_redacted = g_strdup (demo_stations[i].pattern);
    s->kind = SC_SOURCE_TEST;
  }
  c->sections |= SC_SECTION_STATIONS | SC_SECTION_OUTPUTS;

  c->n_outputs = 1;
  c->outputs = g_new0 (ScOutputConfig, 1);
  c->outputs[0].id = g_strdup ("hls");
  c->outputs[0].type = SC_OUTPUT_HLS;
  c->outputs[0].dir = g_build_filename (demo.dir, "hls", NULL);
  c->outputs[0].segment_s = 2;
  c->outputs[0].split_min = 30;

  g_free (c->server.listen);
  g_free (c->server.host);
  c->server.host = g_strdup ("127.0.0.1");
  c->server.port = port;
  c->server.listen = g_strdup_printf ("127.0.0.1:%d", port);
  g_free (c->server.operator_token);
  g_free (c->server.commentator_token);
  c->server.operator_token = random_token ();
  c->server.commentator_token = random_token ();

  int code;
  ScNode *node = sc_node_new (c, SC_NODE_CONTEST, &error);
  if (!node) {
    g_printerr ("skillcast demo: %s\n", error->message);
    code = SC_EXIT_RUNTIME;
  } else {
    sc_node_set_ready_func (node, on_ready, &demo);
    code = sc_node_run (node);
    g_clear_pointer (&demo.judges, sc_judges_stop);
    sc_node_free (node);
  }

  if (demo.redis_pid) {
    kill (demo.redis_pid, SIGTERM);
    waitpid (demo.redis_pid, NULL, 0);
    g_spawn_close_pid (demo.redis_pid);
  }
  /* The temp dir holds only what the demo made: the socket, redis's log and
   * the HLS output. */
  remove_tree (demo.dir);
  g_free (demo.dir);
  return code;
}
