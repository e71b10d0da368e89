/* follower — ScScoreboard: follows the contest's Redis Stream with hiredis
 * async on the GLib main loop and folds it into a ScContest.
 *
 * Two connections ("links"): the reader runs XREAD (first without BLOCK
 * until caught up from 0-0, then XREAD BLOCK 5000 in a loop), the writer
 * runs XADD for sc_scoreboard_append(). They are separate because Redis
 * does not read a blocked client's next command until its XREAD BLOCK
 * returns.
 *
 * The hiredis glib adapter has no timers, and a failed redisAsyncContext
 * cannot be reused: each link has a GLib watchdog for the reply it waits
 * for, and every (re)connect makes a fresh context. The reader resumes from
 * the last entry id Redis gave it, and the ScContest refuses ids it has
 * already read, so no entry is lost or applied twice. */
#include "scoreboard/scoreboard-private.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/glib.h>
#include <signal.h>
#include <string.h>

#define READ_COUNT 1000
#define BLOCK_MS 5000
#define CONNECT_TIMEOUT_MS 2000
#define BLOCK_TIMEOUT_MS 8000 /* BLOCK_MS plus slack */
#define REPLY_TIMEOUT_MS 5000 /* a non-blocking XREAD, AUTH, XADD */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 2000
#define PUBLISH_TIMEOUT_MS 2000

typedef enum { LINK_READER, LINK_WRITER } LinkRole;

typedef struct {
  ScScoreboard *sb;
  LinkRole role;
  redisAsyncContext *ac; /* NULL while down; a context we dropped is never looked at again */
  gboolean connected;    /* TCP/unix connect done */
  guint setup_pending;   /* AUTH/SELECT replies still awaited */
  GSource *watchdog;     /* deadline for what we wait for */
  GSource *retry;        /* reconnect timer */
  guint backoff_ms;
  guint pending; /* writer: XADDs in flight */
} Link;

struct ScScoreboard {
  ScScoreboardCallbacks cb;
  ScContest *contest;
  GMainContext *ctx;

  gboolean in_process;
  char *key;
  char *host;
  int port;
  char *unix_path;
  char *password;
  int db;

  gboolean started;
  gboolean up; /* reader got a good reply since its last connect */
  gboolean caught_up;
  char cursor[48]; /* last entry id Redis gave us; XREAD resumes after it */
  Link reader;
  Link writer;

  /* In-process ids: <wall ms>-<seq>, strictly increasing. */
  guint64 local_ms;
  guint64 local_seq;
};

static const char *
link_name(const Link *l)
{
  return l->role == LINK_READER ? "reader" : "writer";
}

/* ---- the glib adapter's source, owned by us ----
 *
 * hiredis calls ev.cleanup when it frees a context (whoever started the
 * free). We wrap the adapter's cleanup to also destroy the GSource then,
 * and to clear the poll results: the adapter's dispatch checks G_IO_IN after
 * a write that may have freed the context. */
static void
source_cleanup(gpointer data)
{
  RedisSource *rs = data;
  redis_source_cleanup(data);
  rs->poll_fd.revents = 0;
  rs->ac = NULL;
  g_source_destroy((GSource *)rs);
  g_source_unref((GSource *)rs);
}

/* The adapter's add/del-read/write wake the main context on every change:
 * an eventfd write, then one more loop iteration that polls every fd the
 * context has (on a relay node, every viewer's socket) only to find
 * nothing to do. All of hiredis runs on the main loop's thread, outside
 * poll(), where the next iteration reads the changed events anyway. */
static void
source_events(gpointer data, gushort set, gushort clear)
{
  RedisSource *rs = data;
  rs->poll_fd.events = (gushort)((rs->poll_fd.events | set) & ~clear);
}

static void
source_add_read(gpointer data)
{
  source_events(data, G_IO_IN, 0);
}

static void
source_del_read(gpointer data)
{
  source_events(data, 0, G_IO_IN);
}

static void
source_add_write(gpointer data)
{
  source_events(data, G_IO_OUT, 0);
}

static void
source_del_write(gpointer data)
{
  source_events(data, 0, G_IO_OUT);
}

/* ---- links ---- */

static void link_connect(Link *l);
static void reader_send_xread(Link *l);

static void
clear_source(GSource **s)
{
  if (*s) {
    g_source_destroy(*s);
    g_source_unref(*s);
    *s = NULL;
  }
}

static GSource *
add_timeout(ScScoreboard *sb, guint ms, GSourceFunc fn, gpointer data)
{
  GSource *s = g_timeout_source_new(ms);
  g_source_set_callback(s, fn, data, NULL);
  g_source_attach(s, sb->ctx);
  return s;
}

static gboolean
retry_fire(gpointer data)
{
  Link *l = data;
  g_source_unref(l->retry);
  l->retry = NULL;
  link_connect(l);
  return G_SOURCE_REMOVE;
}

/* The link is down (its context is gone or going): report and schedule a
 * reconnect with a fresh context. */
static void
link_lost(Link *l)
{
  ScScoreboard *sb = l->sb;
  clear_source(&l->watchdog);
  l->connected = FALSE;
  l->pending = 0;
  if (l->role == LINK_READER && sb->up) {
    sb->up = FALSE;
    if (sb->cb.redis_state)
      sb->cb.redis_state(FALSE, sb->cb.user_data);
  }
  if (l->retry == NULL) {
    GST_DEBUG("redis %s: reconnecting in %u ms", link_name(l), l->backoff_ms);
    l->retry = add_timeout(sb, l->backoff_ms, retry_fire, l);
    l->backoff_ms = MIN(l->backoff_ms * 2, BACKOFF_MAX_MS);
  }
}

/* We give up on the current context (timeout, error reply). hiredis calls
 * the pending reply callbacks with NULL and may call the disconnect
 * callback; both see l->ac != their context and do nothing. Safe inside a
 * reply callback of that context: hiredis then defers the free until the
 * callback returns. */
static void
link_drop(Link *l, const char *why)
{
  redisAsyncContext *ac = l->ac;
  GST_WARNING("redis %s: %s; dropping the connection", link_name(l), why);
  l->ac = NULL;
  if (ac)
    redisAsyncFree(ac);
  link_lost(l);
}

static gboolean
watchdog_fire(gpointer data)
{
  Link *l = data;
  g_source_unref(l->watchdog);
  l->watchdog = NULL;
  link_drop(l, l->connected ? "no reply in time" : "connect timed out");
  return G_SOURCE_REMOVE;
}

static void
arm_watchdog(Link *l, guint ms)
{
  clear_source(&l->watchdog);
  l->watchdog = add_timeout(l->sb, ms, watchdog_fire, l);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
  Link *l = ac->data;
  if (l == NULL || l->ac != ac)
    return;
  if (status != REDIS_OK) {
    GST_INFO("redis %s: connect failed: %s", link_name(l), ac->errstr);
    l->ac = NULL; /* hiredis frees it after this callback */
    link_lost(l);
    return;
  }
  GST_INFO("redis %s: connected", link_name(l));
  l->connected = TRUE;
  if (l->role == LINK_WRITER) {
    /* With AUTH/SELECT pending the backoff resets once they succeed, so a
     * wrong password does not reconnect every 200 ms. */
    if (l->setup_pending == 0)
      l->backoff_ms = BACKOFF_MIN_MS;
    if (l->pending == 0)
      clear_source(&l->watchdog);
    else
      arm_watchdog(l, REPLY_TIMEOUT_MS);
  } else {
    arm_watchdog(l, l->sb->caught_up ? BLOCK_TIMEOUT_MS : REPLY_TIMEOUT_MS);
  }
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
  Link *l = ac->data;
  if (l == NULL || l->ac != ac)
    return;
  GST_WARNING("redis %s: disconnected: %s", link_name(l),
              status == REDIS_OK ? "closed" : ac->errstr);
  l->ac = NULL; /* hiredis frees it after this callback */
  link_lost(l);
}

/* AUTH / SELECT replies. */
static void
on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
  Link *l = privdata;
  redisReply *reply = r;
  if (reply == NULL || l->ac != ac)
    return;
  if (reply->type == REDIS_REPLY_ERROR) {
    char *why = g_strdup_printf("AUTH/SELECT failed: %s", reply->str);
    link_drop(l, why);
    g_free(why);
    return;
  }
  if (l->setup_pending > 0 && --l->setup_pending == 0)
    l->backoff_ms = BACKOFF_MIN_MS;
}

static void
link_connect(Link *l)
{
  ScScoreboard *sb = l->sb;
  redisAsyncContext *ac;
  if (sb->unix_path)
    ac = redisAsyncConnectUnix(sb->unix_path);
  else
    ac = redisAsyncConnect(sb->host, sb->port);
  if (ac == NULL) {
    GST_WARNING("redis %s: out of memory", link_name(l));
    link_lost(l);
    return;
  }
  if (ac->err) {
    GST_INFO("redis %s: connect failed: %s", link_name(l), ac->errstr);
    redisAsyncFree(ac);
    link_lost(l);
    return;
  }
  l->ac = ac;
  l->connected = FALSE;
  l->setup_pending = 0;
  ac->data = l;
  GSource *source = redis_source_new(ac);
  ac->ev.cleanup = source_cleanup; /* the context holds our ref on the source */
  ac->ev.addRead = source_add_read;
  ac->ev.delRead = source_del_read;
  ac->ev.addWrite = source_add_write;
  ac->ev.delWrite = source_del_write;
  /* GLib "blocks" a source that may not recurse while dispatching it:
   * takes its fd out of the poll list and puts it back, each a context
   * wakeup, so one more loop iteration over every fd per reply. Nothing
   * iterates the main context from inside a hiredis callback. */
  g_source_set_can_recurse(source, TRUE);
  g_source_attach(source, sb->ctx);
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);

  /* Pipelined ahead of the first real command; hiredis sends them once
   * the socket is connected. */
  if (sb->password) {
    const char *argv[] = { "AUTH", sb->password };
    redisAsyncCommandArgv(ac, on_setup_reply, l, 2, argv, NULL);
    l->setup_pending++;
  }
  if (sb->db != 0) {
    char db[16];
    g_snprintf(db, sizeof db, "%d", sb->db);
    const char *argv[] = { "SELECT", db };
    redisAsyncCommandArgv(ac, on_setup_reply, l, 2, argv, NULL);
    l->setup_pending++;
  }
  arm_watchdog(l, CONNECT_TIMEOUT_MS);
  if (l->role == LINK_READER)
    reader_send_xread(l);
}

/* ---- reader ---- */

static void
apply_entry(ScScoreboard *sb, redisReply *entry)
{
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1
      || entry->element[0]->type != REDIS_REPLY_STRING) {
    GST_WARNING("redis reader: stream entry without an id; skipped");
    return;
  }
  const char *id = entry->element[0]->str;
  /* Resume after it whatever becomes of it. */
  g_strlcpy(sb->cursor, id, sizeof sb->cursor);

  redisReply *fr = entry->elements > 1 ? entry->element[1] : NULL;
  guint n = (fr && fr->type == REDIS_REPLY_ARRAY) ? (guint)fr->elements : 0;
  char **fields = g_newa(char *, n + 1);
  for (guint i = 0; i < n; i++) {
    redisReply *f = fr->element[i];
    if (f->type != REDIS_REPLY_STRING || strlen(f->str) != f->len) {
      sc_contest_reject_entry(sb->contest, id, "a field is not a string (NUL byte?)");
      return;
    }
    fields[i] = f->str;
  }
  /* Rows changed while folding history are stamped with the entry's own
   * time, so a restarted node does not light up every row at once. */
  gint64 now_us = g_get_real_time();
  if (!sb->caught_up) {
    gint64 id_us = (gint64)g_ascii_strtoull(id, NULL, 10) * 1000;
    now_us = MIN(now_us, id_us);
  }
  char *delta = NULL, *event = NULL;
  /* The error is logged and counted by the contest. */
  if (sc_contest_apply(sb->contest, id, fields, n, now_us, &delta, &event, NULL)) {
    if (sb->cb.applied)
      sb->cb.applied(id, delta, event, sb->cb.user_data);
  }
  g_free(delta);
  g_free(event);
}

static void
on_xread(redisAsyncContext *ac, void *r, void *privdata)
{
  Link *l = privdata;
  ScScoreboard *sb = l->sb;
  redisReply *reply = r;
  if (reply == NULL || l->ac != ac)
    return;
  if (reply->type == REDIS_REPLY_ERROR) {
    char *why = g_strdup_printf("XREAD failed: %s", reply->str);
    link_drop(l, why);
    g_free(why);
    return;
  }
  clear_source(&l->watchdog);
  l->backoff_ms = BACKOFF_MIN_MS;
  if (!sb->up) {
    sb->up = TRUE;
    GST_INFO("redis reader: following %s from %s", sb->key, sb->cursor);
    if (sb->cb.redis_state)
      sb->cb.redis_state(TRUE, sb->cb.user_data);
    /* The callback may not have left us connected. */
    if (l->ac != ac)
      return;
  }

  size_t got = 0;
  /* [[key, [[id, [f, v, ...]], ...]]] or nil (nothing new / timed out). */
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1) {
    redisReply *stream = reply->element[0];
    if (stream->type == REDIS_REPLY_ARRAY && stream->elements >= 2
        && stream->element[1]->type == REDIS_REPLY_ARRAY) {
      redisReply *entries = stream->element[1];
      got = entries->elements;
      for (size_t i = 0; i < entries->elements; i++)
        apply_entry(sb, entries->element[i]);
    }
  }
  if (!sb->caught_up && got < READ_COUNT) {
    sb->caught_up = TRUE;
    GST_INFO("redis reader: caught up at %s (%" G_GUINT64_FORMAT " applied, %" G_GUINT64_FORMAT
             " rejected)",
             sb->cursor, sc_contest_applied_count(sb->contest),
             sc_contest_rejected_count(sb->contest));
  }
  if (l->ac == ac)
    reader_send_xread(l);
}

static void
reader_send_xread(Link *l)
{
  ScScoreboard *sb = l->sb;
  char count[16], block[16];
  g_snprintf(count, sizeof count, "%d", READ_COUNT);
  g_snprintf(block, sizeof block, "%d", BLOCK_MS);
  const char *argv[8];
  int argc = 0;
  argv[argc++] = "XREAD";
  argv[argc++] = "COUNT";
  argv[argc++] = count;
  /* Until caught up, no BLOCK: a short reply tells us we are. */
  if (sb->caught_up) {
    argv[argc++] = "BLOCK";
    argv[argc++] = block;
  }
  argv[argc++] = "STREAMS";
  argv[argc++] = sb->key;
  argv[argc++] = sb->cursor;
  if (redisAsyncCommandArgv(l->ac, on_xread, l, argc, argv, NULL) != REDIS_OK) {
    link_drop(l, "could not queue XREAD");
    return;
  }
  if (l->connected)
    arm_watchdog(l, sb->caught_up ? BLOCK_TIMEOUT_MS : REPLY_TIMEOUT_MS);
}

/* ---- writer ---- */

static void
on_xadd(redisAsyncContext *ac, void *r, void *privdata)
{
  Link *l = privdata;
  redisReply *reply = r;
  if (reply == NULL || l->ac != ac)
    return;
  if (l->pending > 0)
    l->pending--;
  if (reply->type == REDIS_REPLY_ERROR)
    GST_WARNING("redis writer: XADD failed: %s", reply->str);
  if (l->pending == 0)
    clear_source(&l->watchdog);
  else
    arm_watchdog(l, REPLY_TIMEOUT_MS);
}

/* ---- public ---- */

ScScoreboard *
sc_scoreboard_new(const ScConfig *config, const ScScoreboardCallbacks *callbacks)
{
  sc_scoreboard_debug_init();
  ScScoreboard *sb = g_new0(ScScoreboard, 1);
  if (callbacks)
    sb->cb = *callbacks;
  sb->contest = sc_contest_new(config->contest.id, config->contest.title, config->stations,
                               config->n_stations);
  sb->key = g_strdup_printf("skillcast:%s:events", config->contest.id ? config->contest.id : "");
  sb->in_process = config->redis.url == NULL;
  if (!sb->in_process) {
    sb->unix_path = g_strdup(config->redis.unix_path);
    sb->host = g_strdup(config->redis.host ? config->redis.host : "127.0.0.1");
    sb->port = config->redis.port > 0 ? config->redis.port : 6379;
    sb->password = g_strdup(config->redis.password);
    sb->db = config->redis.db;
  }
  g_strlcpy(sb->cursor, "0-0", sizeof sb->cursor);
  for (int i = 0; i < 2; i++) {
    Link *l = i == 0 ? &sb->reader : &sb->writer;
    l->sb = sb;
    l->role = i == 0 ? LINK_READER : LINK_WRITER;
    l->backoff_ms = BACKOFF_MIN_MS;
  }
  return sb;
}

static void
link_shutdown(Link *l)
{
  clear_source(&l->retry);
  clear_source(&l->watchdog);
  redisAsyncContext *ac = l->ac;
  l->ac = NULL;
  if (ac)
    redisAsyncFree(ac);
}

void
sc_scoreboard_free(ScScoreboard *sb)
{
  if (sb == NULL)
    return;
  link_shutdown(&sb->reader);
  link_shutdown(&sb->writer);
  sc_contest_free(sb->contest);
  if (sb->ctx)
    g_main_context_unref(sb->ctx);
  g_free(sb->key);
  g_free(sb->host);
  g_free(sb->unix_path);
  g_free(sb->password);
  g_free(sb);
}

void
sc_scoreboard_start(ScScoreboard *sb)
{
  if (sb->started)
    return;
  sb->started = TRUE;
  sb->ctx = g_main_context_ref_thread_default();
  if (sb->in_process) {
    GST_INFO("no redis configured: scoreboard state is in-process only");
    if (sb->cb.redis_state)
      sb->cb.redis_state(TRUE, sb->cb.user_data);
    return;
  }
  /* hiredis writes with write(2): a peer that went away must give EPIPE,
   * not kill the node. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  GST_INFO("following %s on %s", sb->key, sb->unix_path ? sb->unix_path : sb->host);
  link_connect(&sb->reader);
  link_connect(&sb->writer);
}

ScContest *
sc_scoreboard_contest(ScScoreboard *sb)
{
  return sb->contest;
}

gboolean
sc_scoreboard_redis_up(ScScoreboard *sb)
{
  return sb->in_process ? TRUE : sb->up;
}

gboolean
sc_scoreboard_append(ScScoreboard *sb, char *const *fields, guint n_fields, GError **error)
{
  if (n_fields == 0 || n_fields % 2 != 0) {
    g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REJECTED,
                "an entry needs field/value pairs (got %u strings)", n_fields);
    return FALSE;
  }
  if (sb->in_process) {
    guint64 ms = (guint64)(g_get_real_time() / 1000);
    if (ms > sb->local_ms) {
      sb->local_ms = ms;
      sb->local_seq = 0;
    } else {
      sb->local_seq++;
    }
    char id[48];
    g_snprintf(id, sizeof id, "%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, sb->local_ms,
               sb->local_seq);
    char *delta = NULL, *event = NULL;
    if (!sc_contest_apply(sb->contest, id, fields, n_fields, g_get_real_time(), &delta, &event,
                          error))
      return FALSE;
    if (sb->cb.applied)
      sb->cb.applied(id, delta, event, sb->cb.user_data);
    g_free(delta);
    g_free(event);
    return TRUE;
  }

  Link *l = &sb->writer;
  /* Only once AUTH/SELECT went through: an XADD sent after a failing
   * AUTH would be lost with the connection. */
  if (l->ac == NULL || !l->connected || l->setup_pending > 0) {
    g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REDIS, "redis is not connected");
    return FALSE;
  }
  const char **argv = g_newa(const char *, n_fields + 3);
  argv[0] = "XADD";
  argv[1] = sb->key;
  argv[2] = "*";
  for (guint i = 0; i < n_fields; i++)
    argv[3 + i] = fields[i];
  if (redisAsyncCommandArgv(l->ac, on_xadd, l, (int)n_fields + 3, argv, NULL) != REDIS_OK) {
    g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REDIS, "redis: %s",
                l->ac->errstr[0] ? l->ac->errstr : "cannot send");
    return FALSE;
  }
  if (l->pending++ == 0)
    arm_watchdog(l, REPLY_TIMEOUT_MS);
  return TRUE;
}

void
sc_scoreboard_metrics(ScScoreboard *sb, GString *out)
{
  g_string_append_printf(
      out,
      "# HELP skillcast_events_applied_total Score events applied from the contest stream.\n"
      "# TYPE skillcast_events_applied_total counter\n"
      "skillcast_events_applied_total %" G_GUINT64_FORMAT "\n"
      "# HELP skillcast_events_rejected_total Malformed score events rejected.\n"
      "# TYPE skillcast_events_rejected_total counter\n"
      "skillcast_events_rejected_total %" G_GUINT64_FORMAT "\n"
      "# HELP skillcast_redis_up Whether the contest stream in Redis is being followed (1) or not "
      "(0).\n"
      "# TYPE skillcast_redis_up gauge\n"
      "skillcast_redis_up %d\n",
      sc_contest_applied_count(sb->contest), sc_contest_rejected_count(sb->contest),
      sc_scoreboard_redis_up(sb) ? 1 : 0);
}

char *
sc_scoreboard_publish(const ScConfig *config, char *const *fields, guint n_fields, GError **error)
{
  sc_scoreboard_debug_init();
  if (config->redis.url == NULL) {
    g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REDIS, "no redis configured");
    return NULL;
  }
  if (n_fields == 0 || n_fields % 2 != 0) {
    g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REJECTED,
                "an entry needs field/value pairs (got %u strings)", n_fields);
    return NULL;
  }
  struct timeval tv = { PUBLISH_TIMEOUT_MS / 1000, (PUBLISH_TIMEOUT_MS % 1000) * 1000 };
  const char *where = config->redis.unix_path;
  redisContext *c;
  char hostport[300];
  if (where) {
    c = redisConnectUnixWithTimeout(where, tv);
  } else {
    const char *host = config->redis.host ? config->redis.host : "127.0.0.1";
    int port = config->redis.port > 0 ? config->redis.port : 6379;
    g_snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    where = hostport;
    c = redisConnectWithTimeout(host, port, tv);
  }
  if (c == NULL || c->err) {
    g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REDIS, "redis %s: %s", where,
                c ? c->errstr : "out of memory");
    if (c)
      redisFree(c);
    return NULL;
  }
  redisSetTimeout(c, tv);

  char *id = NULL;
  redisReply *reply = NULL;
  if (config->redis.password) {
    const char *argv[] = { "AUTH", config->redis.password };
    reply = redisCommandArgv(c, 2, argv, NULL);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
      goto failed;
    freeReplyObject(reply);
  }
  if (config->redis.db != 0) {
    char db[16];
    g_snprintf(db, sizeof db, "%d", config->redis.db);
    const char *argv[] = { "SELECT", db };
    reply = redisCommandArgv(c, 2, argv, NULL);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
      goto failed;
    freeReplyObject(reply);
  }
  {
    char *key
        = g_strdup_printf("skillcast:%s:events", config->contest.id ? config->contest.id : "");
    const char **argv = g_newa(const char *, n_fields + 3);
    argv[0] = "XADD";
    argv[1] = key;
    argv[2] = "*";
    for (guint i = 0; i < n_fields; i++)
      argv[3 + i] = fields[i];
    reply = redisCommandArgv(c, (int)n_fields + 3, argv, NULL);
    g_free(key);
    if (reply == NULL || reply->type != REDIS_REPLY_STRING)
      goto failed;
    id = g_strdup(reply->str);
    freeReplyObject(reply);
  }
  redisFree(c);
  return id;

/* ERRORS */
failed:
  g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REDIS, "redis %s: %s", where,
              reply && reply->type == REDIS_REPLY_ERROR ? reply->str
              : c->err                                  ? c->errstr
                                                        : "unexpected reply");
  if (reply)
    freeReplyObject(reply);
  redisFree(c);
  return NULL;
}
