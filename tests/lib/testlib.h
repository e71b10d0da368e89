/* testlib — what every skillcast test needs to run real things small:
 * temp dirs, free loopback ports, real redis-server and nginx (RTMP module,
 * WebDAV) started on free ports and ended by their PID, child processes
 * with logs, and a minimal blocking HTTP client with timeouts.
 *
 * Everything binds 127.0.0.1 only. Every wait is bounded.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

/* cmocka needs these before its header. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

G_BEGIN_DECLS

/* A fresh temp dir (caller frees the string; remove with sc_test_rmrf). */
char *sc_test_tmpdir (void);
void sc_test_rmrf (const char *dir);

/* A TCP (or UDP) port on 127.0.0.1 that was free a moment ago. */
int sc_test_free_port (void);
int sc_test_free_udp_port (void);

/* TRUE once something accepts TCP connections on 127.0.0.1:PORT. */
gboolean sc_test_wait_port (int port, int timeout_ms);

/* Spawns ARGV (argv[0] looked up in PATH) with stdout+stderr appended to
 * LOG_PATH (NULL: inherited). Returns the pid, or 0 on failure. */
GPid sc_test_spawn (char *const *argv, const char *log_path);
/* Sends SIG to PID and reaps it (waits at most TIMEOUT_MS, then SIGKILL).
 * Returns the wait status. */
int sc_test_kill (GPid pid, int sig, int timeout_ms);
/* TRUE if PID is still running (not reaped). */
gboolean sc_test_alive (GPid pid);
/* Waits for PID to exit within TIMEOUT_MS; TRUE and *STATUS if it did. */
gboolean sc_test_wait_exit (GPid pid, int timeout_ms, int *status);

/* Runs ARGV to completion (at most TIMEOUT_MS), capturing stdout and
 * stderr (either may be NULL). Returns the exit code, or -1. */
int sc_test_run (char *const *argv, int timeout_ms, char **out, char **err);

/* The skillcast binary under test ($SC_SKILLCAST_BIN). */
const char *sc_test_skillcast_bin (void);
/* $SC_SOURCE_DIR, the repository root. */
const char *sc_test_source_dir (void);

typedef struct {
  GPid pid;
  int port;       /* TCP port (0 when unix-only) */
  char *dir;      /* its working dir */
  char *unix_path;/* its unix socket */
  char *url;      /* redis://127.0.0.1:PORT/0 */
} ScTestRedis;

/* Starts redis-server on a free port and a unix socket in a temp dir,
 * no persistence unless APPENDONLY. Waits until it answers PING. */
gboolean sc_test_redis_start (ScTestRedis *redis, gboolean appendonly);
/* Restarts it on the same port and dir (after sc_test_redis_kill). */
gboolean sc_test_redis_restart (ScTestRedis *redis);
/* Kills it (SIGKILL) but keeps port and dir for a restart. */
void sc_test_redis_kill (ScTestRedis *redis);
/* Stops it and removes its dir. */
void sc_test_redis_stop (ScTestRedis *redis);
/* redis-cli against it; returns stdout (caller frees) or NULL. */
char *sc_test_redis_cli (ScTestRedis *redis, const char *const *args);

typedef struct {
  GPid pid;
  int http_port; /* 0 if no http block */
  int rtmp_port; /* 0 if no rtmp block */
  char *dir;
  char *conf;    /* path of the generated nginx.conf */
} ScTestNginx;

/* Starts nginx in the foreground from a generated config in a temp dir.
 * RTMP_APPS: body of an `application` list inside `rtmp { server { listen
 * PORT; ... } }`, e.g. "application live { live on; }" (NULL: no rtmp).
 * HTTP_SERVER: body of an http `server { listen PORT; ... }` block, where
 * "@DIR@" is replaced by the temp dir (NULL: no http). */
gboolean sc_test_nginx_start (ScTestNginx *nginx, const char *rtmp_apps, const char *http_server);
gboolean sc_test_nginx_restart (ScTestNginx *nginx);
void sc_test_nginx_kill (ScTestNginx *nginx);
void sc_test_nginx_stop (ScTestNginx *nginx);

/* A blocking HTTP/1.1 request to 127.0.0.1:PORT (Connection: close), at
 * most TIMEOUT_MS. HEADERS: extra header lines ("Authorization: Bearer x"),
 * NULL-terminated, may be NULL. BODY may be NULL. Returns the status code
 * (0 on connection failure) and the body (caller frees) in *RESPONSE. */
int sc_test_http (int port, const char *method, const char *path, const char *const *headers,
                  const char *body, gsize body_len, int timeout_ms, char **response);
static inline int
sc_test_http_get (int port, const char *path, char **response)
{
  return sc_test_http (port, "GET", path, NULL, NULL, 0, 5000, response);
}

/* Resident memory of PID in KiB (from /proc), or -1. */
long sc_test_rss_kib (GPid pid);

/* TRUE in the ASan+UBSan pass (SC_SANITIZED=1 from tests/CMakeLists.txt):
 * memory-growth bounds are printed but not judged there, ASan's quarantine
 * and shadow memory grow the RSS by design (the plain pass judges them). */
gboolean sc_test_sanitized (void);

G_END_DECLS
