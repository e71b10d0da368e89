/* testlib — see testlib.h. */
#include "tests/lib/testlib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *
sc_test_tmpdir (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("skillcast-test-XXXXXX", &error);
  if (!dir)
    g_error ("tmpdir: %s", error->message);
  return dir;
}

static void
rmrf_inner (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d) {
    const char *name;
    while ((name = g_dir_read_name (d))) {
      char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rmrf_inner (child);
      else
        g_unlink (child);
      g_free (child);
    }
    g_dir_close (d);
  }
  g_rmdir (path);
}

void
sc_test_rmrf (const char *dir)
{
  if (dir && g_str_has_prefix (dir, g_get_tmp_dir ()))
    rmrf_inner (dir);
}

static int
free_port (int type)
{
  int fd = socket (AF_INET, type, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  socklen_t len = sizeof a;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || bind (fd, (struct sockaddr *) &a, sizeof a) < 0
      || getsockname (fd, (struct sockaddr *) &a, &len) < 0)
    g_error ("free port: %s", g_strerror (errno));
  close (fd);
  return ntohs (a.sin_port);
}

int
sc_test_free_port (void)
{
  return free_port (SOCK_STREAM);
}

int
sc_test_free_udp_port (void)
{
  return free_port (SOCK_DGRAM);
}

static int
connect_loopback (int port, int timeout_ms)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port) };
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0)
    return -1;
  if (connect (fd, (struct sockaddr *) &a, sizeof a) < 0 && errno != EINPROGRESS) {
    close (fd);
    return -1;
  }
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  int err = 0;
  socklen_t len = sizeof err;
  if (poll (&p, 1, timeout_ms) != 1 || getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0
      || err != 0) {
    close (fd);
    return -1;
  }
  int flags = fcntl (fd, F_GETFL);
  fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

gboolean
sc_test_wait_port (int port, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  do {
    int fd = connect_loopback (port, 200);
    if (fd >= 0) {
      close (fd);
      return TRUE;
    }
    g_usleep (20 * 1000);
  } while (g_get_monotonic_time () < end);
  return FALSE;
}

GPid
sc_test_spawn (char *const *argv, const char *log_path)
{
  pid_t pid = fork ();
  if (pid < 0)
    return 0;
  if (pid == 0) {
    if (log_path) {
      int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2 (fd, 1);
        dup2 (fd, 2);
        close (fd);
      }
    }
    int devnull = open ("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      dup2 (devnull, 0);
      close (devnull);
    }
    setpgid (0, 0);
    execvp (argv[0], argv);
    _exit (127);
  }
  return pid;
}

gboolean
sc_test_wait_exit (GPid pid, int timeout_ms, int *status)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  int st = 0;
  do {
    pid_t r = waitpid (pid, &st, WNOHANG);
    if (r == pid) {
      if (status)
        *status = st;
      return TRUE;
    }
    if (r < 0)
      return FALSE;
    g_usleep (10 * 1000);
  } while (g_get_monotonic_time () < end);
  return FALSE;
}

int
sc_test_kill (GPid pid, int sig, int timeout_ms)
{
  int st = -1;
  if (pid <= 0)
    return -1;
  kill (pid, sig);
  if (!sc_test_wait_exit (pid, timeout_ms, &st)) {
    kill (pid, SIGKILL);
    sc_test_wait_exit (pid, 5000, &st);
  }
  return st;
}

gboolean
sc_test_alive (GPid pid)
{
  int st;
  return pid > 0 && waitpid (pid, &st, WNOHANG) == 0;
}

int
sc_test_run (char *const *argv, int timeout_ms, char **out, char **err)
{
  char *dir = sc_test_tmpdir ();
  char *out_path = g_build_filename (dir, "out", NULL);
  char *err_path = g_build_filename (dir, "err", NULL);
  int code = -1;
  pid_t pid = fork ();
  if (pid == 0) {
    int o = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int devnull = open ("/dev/null", O_RDONLY);
    dup2 (o, 1);
    dup2 (e, 2);
    dup2 (devnull, 0);
    execvp (argv[0], argv);
    _exit (127);
  }
  int st;
  if (pid > 0) {
    if (!sc_test_wait_exit (pid, timeout_ms, &st))
      st = sc_test_kill (pid, SIGKILL, 1000), code = -1;
    else if (WIFEXITED (st))
      code = WEXITSTATUS (st);
  }
  if (out)
    g_file_get_contents (out_path, out, NULL, NULL);
  if (err)
    g_file_get_contents (err_path, err, NULL, NULL);
  sc_test_rmrf (dir);
  g_free (out_path);
  g_free (err_path);
  g_free (dir);
  return code;
}

const char *
sc_test_skillcast_bin (void)
{
  const char *b = g_getenv ("SC_SKILLCAST_BIN");
  return b ? b : "skillcast";
}

const char *
sc_test_source_dir (void)
{
  const char *s = g_getenv ("SC_SOURCE_DIR");
  return s ? s : ".";
}

/* ---- redis ---- */

static gboolean
redis_launch (ScTestRedis *r, gboolean appendonly)
{
  char *port = g_strdup_printf ("%d", r->port);
  char *log = g_build_filename (r->dir, "redis.log", NULL);
  char *argv[] = { "redis-server",  "--port",       port,        "--bind",
                   "127.0.0.1",     "--unixsocket", r->unix_path, "--dir",
                   r->dir,          "--save",       "",           "--appendonly",
                   appendonly ? "yes" : "no", "--daemonize", "no", NULL };
  r->pid = sc_test_spawn (argv, log);
  gboolean ok = r->pid > 0 && sc_test_wait_port (r->port, 5000);
  g_free (port);
  g_free (log);
  return ok;
}

gboolean
sc_test_redis_start (ScTestRedis *r, gboolean appendonly)
{
  memset (r, 0, sizeof *r);
  r->dir = sc_test_tmpdir ();
  r->port = sc_test_free_port ();
  r->unix_path = g_build_filename (r->dir, "redis.sock", NULL);
  r->url = g_strdup_printf ("redis://127.0.0.1:%d/0", r->port);
  return redis_launch (r, appendonly);
}

gboolean
sc_test_redis_restart (ScTestRedis *r)
{
  char *aof = g_build_filename (r->dir, "appendonlydir", NULL);
  gboolean aof_on = g_file_test (aof, G_FILE_TEST_EXISTS);
  g_free (aof);
  return redis_launch (r, aof_on);
}

void
sc_test_redis_kill (ScTestRedis *r)
{
  if (r->pid > 0)
    sc_test_kill (r->pid, SIGKILL, 2000);
  r->pid = 0;
}

void
sc_test_redis_stop (ScTestRedis *r)
{
  if (r->pid > 0)
    sc_test_kill (r->pid, SIGTERM, 3000);
  r->pid = 0;
  sc_test_rmrf (r->dir);
  g_clear_pointer (&r->dir, g_free);
  g_clear_pointer (&r->unix_path, g_free);
  g_clear_pointer (&r->url, g_free);
}

char *
sc_test_redis_cli (ScTestRedis *r, const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup ("redis-cli"));
  g_ptr_array_add (argv, g_strdup ("-p"));
  g_ptr_array_add (argv, g_strdup_printf ("%d", r->port));
  for (guint i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  char *out = NULL;
  int code = sc_test_run ((char *const *) argv->pdata, 10000, &out, NULL);
  g_ptr_array_unref (argv);
  if (code != 0) {
    g_free (out);
    return NULL;
  }
  return out;
}

/* ---- nginx ---- */

static gboolean
nginx_launch (ScTestNginx *n)
{
  char *log = g_build_filename (n->dir, "nginx.out", NULL);
  char *argv[] = { "nginx", "-p", n->dir, "-c", n->conf, "-e", "stderr", NULL };
  n->pid = sc_test_spawn (argv, log);
  gboolean ok = n->pid > 0;
  if (ok && n->http_port)
    ok = sc_test_wait_port (n->http_port, 5000);
  if (ok && n->rtmp_port)
    ok = sc_test_wait_port (n->rtmp_port, 5000);
  g_free (log);
  return ok;
}

gboolean
sc_test_nginx_start (ScTestNginx *n, const char *rtmp_apps, const char *http_server)
{
  memset (n, 0, sizeof *n);
  n->dir = sc_test_tmpdir ();
  GString *c = g_string_new (NULL);
  if (rtmp_apps && g_file_test ("/usr/lib/nginx/modules/ngx_rtmp_module.so", G_FILE_TEST_EXISTS))
    g_string_append (c, "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n");
  g_string_append_printf (c,
                          "daemon off;\nmaster_process off;\nworker_processes 1;\n"
                          "pid %s/nginx.pid;\nerror_log %s/error.log info;\n"
                          "events { worker_connections 4096; }\n",
                          n->dir, n->dir);
  if (rtmp_apps) {
    n->rtmp_port = sc_test_free_port ();
    g_string_append_printf (c, "rtmp { server { listen 127.0.0.1:%d; chunk_size 4096;\n%s\n} }\n",
                            n->rtmp_port, rtmp_apps);
  }
  if (http_server) {
    n->http_port = sc_test_free_port ();
    GString *body = g_string_new (http_server);
    g_string_replace (body, "@DIR@", n->dir, 0);
    g_string_append_printf (c,
                            "http {\n access_log %s/access.log;\n client_body_temp_path %s/body;\n"
                            " proxy_temp_path %s/proxy;\n fastcgi_temp_path %s/fcgi;\n"
                            " uwsgi_temp_path %s/uwsgi;\n scgi_temp_path %s/scgi;\n"
                            " server { listen 127.0.0.1:%d;\n%s\n }\n}\n",
                            n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->http_port,
                            body->str);
    g_string_free (body, TRUE);
  }
  n->conf = g_build_filename (n->dir, "nginx.conf", NULL);
  g_file_set_contents (n->conf, c->str, -1, NULL);
  g_string_free (c, TRUE);
  return nginx_launch (n);
}

gboolean
sc_test_nginx_restart (ScTestNginx *n)
{
  return nginx_launch (n);
}

void
sc_test_nginx_kill (ScTestNginx *n)
{
  if (n->pid > 0)
    sc_test_kill (n->pid, SIGKILL, 2000);
  n->pid = 0;
}

void
sc_test_nginx_stop (ScTestNginx *n)
{
  if (n->pid > 0)
    sc_test_kill (n->pid, SIGTERM, 3000);
  n->pid = 0;
  sc_test_rmrf (n->dir);
  g_clear_pointer (&n->dir, g_free);
  g_clear_pointer (&n->conf, g_free);
}

/* ---- http ---- */

int
sc_test_http (int port, const char *method, const char *path, const char *const *headers,
              const char *body, gsize body_len, int timeout_ms, char **response)
{
  if (response)
    *response = NULL;
  int fd = connect_loopback (port, timeout_ms);
  if (fd < 0)
    return 0;
  struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  GString *req = g_string_new (NULL);
  g_string_append_printf (req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                          method, path, port);
  for (guint i = 0; headers && headers[i]; i++)
    g_string_append_printf (req, "%s\r\n", headers[i]);
  if (body)
    g_string_append_printf (req, "Content-Length: %" G_GSIZE_FORMAT "\r\n", body_len);
  g_string_append (req, "\r\n");
  if (body)
    g_string_append_len (req, body, body_len);
  gsize off = 0;
  while (off < req->len) {
    ssize_t w = send (fd, req->str + off, req->len - off, MSG_NOSIGNAL);
    if (w <= 0)
      break; /* the server may answer (413) before reading it all */
    off += w;
  }
  g_string_free (req, TRUE);
  GString *resp = g_string_new (NULL);
  char buf[16384];
  ssize_t r;
  while ((r = recv (fd, buf, sizeof buf, 0)) > 0)
    g_string_append_len (resp, buf, r);
  close (fd);
  int status = 0;
  if (sscanf (resp->str, "HTTP/1.%*d %d", &status) != 1)
    status = 0;
  const char *sep = strstr (resp->str, "\r\n\r\n");
  if (response) {
    char *payload = g_strdup (sep ? sep + 4 : "");
    /* De-chunk a chunked body (lws uses it for dynamic content). */
    if (sep && g_strstr_len (resp->str, sep - resp->str, "chunked")) {
      GString *plain = g_string_new (NULL);
      const char *p = sep + 4;
      for (;;) {
        char *end;
        long n = strtol (p, &end, 16);
        if (end == p || n <= 0)
          break;
        p = strstr (end, "\r\n");
        if (!p)
          break;
        p += 2;
        g_string_append_len (plain, p, MIN ((gsize) n, strlen (p)));
        p += n;
        if (g_str_has_prefix (p, "\r\n"))
          p += 2;
      }
      g_free (payload);
      payload = g_string_free (plain, FALSE);
    }
    *response = payload;
  }
  g_string_free (resp, TRUE);
  return status;
}

gboolean
sc_test_sanitized (void)
{
  return g_strcmp0 (g_getenv ("SC_SANITIZED"), "1") == 0;
}

long
sc_test_rss_kib (GPid pid)
{
  char *path = g_strdup_printf ("/proc/%d/status", pid);
  char *text = NULL;
  long kib = -1;
  if (g_file_get_contents (path, &text, NULL, NULL)) {
    const char *p = strstr (text, "VmRSS:");
    if (p)
      kib = strtol (p + 6, NULL, 10);
  }
  g_free (text);
  g_free (path);
  return kib;
}
