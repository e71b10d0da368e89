/* server — libwebsockets on the GLib main loop: pages, API, metrics and the
 * WebSocket endpoints of CONTRACTS.md §4–5.
 *
 * One lws protocol handles every connection; the request path decides what
 * it is (browsers send no Sec-WebSocket-Protocol, so path routing is the
 * only routing). Each WebSocket session is a small ScSession (lws "per
 * session data") on an intrusive list per endpoint. Messages are shared,
 * refcounted ScMsg in one ring per endpoint (ring.c); a session only holds
 * its position in the ring and, right after connecting, its own short
 * queue (the snapshot, or the deltas after ?since=). */
#include <uv.h>
#include <libwebsockets.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "server/server-private.h"

GST_DEBUG_CATEGORY (sc_server_debug);

/* Per-endpoint ring limits. The score rings hold exactly the backlog a
 * client may have before it is dropped; the live ring a few seconds of
 * program at typical bitrates. */
#define SCORE_RING_SLOTS 16384
#define RING_BURST 64 /* ring messages per WRITEABLE, at most */
#define RING_BATCH_BYTES (32 * 1024) /* and at most this many bytes framed */
#define LIVE_RING_SLOTS 8192
#define LIVE_RING_BYTES (8 * 1024 * 1024)
#define LIVE_MAX_LAG_BYTES (2 * 1024 * 1024)
#define LIVE_MAX_LAG_US (2 * G_USEC_PER_SEC)
#define LIVE_PENDING_MAX (8 * 1024 * 1024)

/* What viewers may send (they have nothing to say). */
#define VIEWER_MAX_FRAME 1024
#define VIEWER_FRAMES_PER_S 10
#define CONTROL_PER_S 20

#define AUTH_MAX_FAILURES 10
#define AUTH_WINDOW_US (60 * G_USEC_PER_SEC)
#define AUTH_TABLE_MAX 65536

/* Not named in lws 4.1's headers. */
#define SC_HTTP_TOO_MANY_REQUESTS 429
#define SC_HTTP_UPGRADE_REQUIRED 426
#define SC_CLOSE_TRY_AGAIN_LATER ((enum lws_close_status)1013)
/* lws's internal write type for a close frame (hidden from the public
 * enum in 4.1, still handled by lws_write's ws framing). */
#define SC_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)

#define SNAPSHOT_CACHE_US (250 * 1000)
#define SHUTDOWN_WAIT_MS 1000
/* Kernel send buffer of score viewers: keeps a stalled client's data in
 * our (measured, capped) backlog instead of several MiB of kernel memory. */
#define SCORE_SNDBUF (128 * 1024)
#define LIVE_SNDBUF (256 * 1024)

typedef enum { EP_HTTP = 0, EP_SCORES, EP_COMMENTARY, EP_CONTROL, EP_LIVE, EP_COUNT } ScEndpoint;

static const char *const endpoint_names[EP_COUNT]
    = { "http", "scores", "commentary", "control", "live" };

typedef enum { DROP_NONE = 0, DROP_SLOW, DROP_TIMEOUT, DROP_ABUSE, DROP_COUNT } ScDropReason;

static const char *const drop_names[DROP_COUNT] = { "none", "slow", "timeout", "abuse" };

#define SEQ_WAIT_KEYFRAME G_MAXUINT64

/* Keep-alive (CONTRACTS.md §4): a client gets a ping every PING_AFTER_US
 * (each on its own phase), one silent for
 * PONG_TIMEOUT_US is closed (1001) and counted as "timeout". Checked from
 * the one-second tick (keepalive_sweep): O(clients) per second, nothing
 * per message. */
#define PING_AFTER_US (10 * G_USEC_PER_SEC)
#define PONG_TIMEOUT_US (20 * G_USEC_PER_SEC)

/* lws per-session data, for HTTP requests and WebSocket clients alike.
 * Kept small: an idle viewer costs this plus lws's own wsi. */
typedef struct ScSession ScSession;
struct ScSession {
  struct lws *wsi;
  ScSession *prev, *next; /* endpoint list (WebSocket sessions only) */
  guint8 endpoint;        /* ScEndpoint */
  guint8 linked : 1;      /* on an endpoint list; counted in n_clients */
  guint8 closing : 1;     /* we decided to close: write close_code next */
  guint8 peer_closed : 1;
  guint8 writable_requested : 1;
  guint8 body_too_large : 1;
  guint8 ping_due : 1; /* a ping goes out on the next WRITEABLE */
  guint16 close_code;
  guint16 http_status; /* POST: the answer decided before the body */
  guint32 rx_msg_len;  /* bytes of the message being received */
  guint64 next_seq;    /* next message in the endpoint's ring */
  GPtrArray *own;      /* ScMsg only this client sends first, or NULL */
  guint own_pos;
  gsize own_bytes;   /* unsent bytes in own */
  gint64 rx_tat_us;  /* GCRA "theoretical arrival time" for rx rate limits */
  gint64 last_rx_us; /* last frame or pong from the client */
  gint64 ping_us;    /* when the last ping was sent (0: none yet) */
  gint64 next_ping_us; /* when the keep-alive looks at this client next */
  char *since;       /* ?since= until ESTABLISHED */
  GString *rx;       /* /control message or POST body being assembled */
};

typedef struct {
  gint64 window_start_us;
  guint failures;
  gint64 blocked_until_us;
} ScAuthRecord;

typedef struct {
  GBytes *data;
  gboolean keyframe;
} ScLiveChunk;

struct ScServer {
  ScScoreboard *scoreboard; /* not owned */
  ScServerCallbacks cb;
  char *web_dir;
  char *operator_token;
  char *commentator_token;
  int max_clients;

  GMainContext *ctx;
  GMainLoop *lws_loop; /* glib event lib only: lws wants a loop, not a context */
  /* SKILLCAST_LWS_EVENT_LIB=libuv: lws on its libuv event lib, the libuv
   * loop driven by one GSource. NULL with the (default) glib event lib. */
  uv_loop_t *uv;
  GSource *uv_source;
  struct lws_context *lws;
  struct lws_vhost *vhost;
  int port;
  gboolean shut_down;

  ScRing scores;     /* deltas */
  ScRing commentary; /* deltas and events */
  ScRing live;       /* MPEG-TS chunks */
  guint64 last_keyframe_seq;
  gboolean have_keyframe;

  ScSession *clients[EP_COUNT];
  guint n_clients[EP_COUNT];
  guint n_ws; /* all endpoints */

  ScMsg *snapshot[2]; /* cached snapshot messages: [with_events] */
  gint64 snapshot_at_us[2];

  GHashTable *auth; /* peer address -> ScAuthRecord */
  GSource *tick;

  /* sc_server_push_live_ts hands chunks over here from any thread. */
  GMutex live_lock;
  GQueue live_pending; /* ScLiveChunk*, guarded by live_lock */
  gsize live_pending_bytes;
  gboolean live_scheduled;
  gboolean live_closed;

  /* A lagging viewer's messages framed into one write (ws_writeable). */
  unsigned char *batch;
  /* lws callbacks running now (0: outside lws, where lws may be entered). */
  guint in_callback;
  /* Endpoints (1 << ScEndpoint) with new ring messages not yet fanned out;
   * the fan-out runs once for all the entries published in one go. */
  guint fanout_pending;
  gboolean fanout_scheduled;

  /* Metrics. */
  guint64 sent_total;
  guint64 batched_writes;
  guint64 dropped[DROP_COUNT];
  guint64 http_by_class[6]; /* [status / 100] */
  guint64 auth_failures;
  guint64 live_skips;
  guint64 live_dropped_chunks;
};

/* ---- logging ---- */

static void
lws_log_emit (int level, const char *line)
{
  gsize n = strlen (line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  /* lws prefixes its own timestamp; GStreamer's log has one already. */
  const char *msg = line;
  if (msg[0] == '[') {
    const char *end = strchr (msg, ']');
    if (end && end < line + n) {
      msg = end + 1;
      while (*msg == ' ')
        msg++;
    }
  }
  int len = (int)(n - (gsize)(msg - line));
  if (len < 0)
    len = 0;
  if (level & LLL_ERR)
    GST_ERROR ("lws: %.*s", len, msg);
  else if (level & LLL_WARN)
    GST_WARNING ("lws: %.*s", len, msg);
  else if (level & LLL_NOTICE)
    GST_INFO ("lws: %.*s", len, msg);
  else
    GST_DEBUG ("lws: %.*s", len, msg);
}

static void
init_logging (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (sc_server_debug, "sc-server", 0, "skillcast HTTP/WebSocket server");
    int levels = LLL_ERR | LLL_WARN | LLL_NOTICE;
    if (gst_debug_category_get_threshold (sc_server_debug) >= GST_LEVEL_DEBUG)
      levels |= LLL_INFO;
    lws_set_log_level (levels, lws_log_emit);
    g_once_init_leave (&once, 1);
  }
}

/* ---- helpers ---- */

static ScServer *
server_of (struct lws *wsi)
{
  return lws_context_user (lws_get_context (wsi));
}

static gboolean
token_equal (const char *expected, const char *given)
{
  if (!expected || !*expected || !given)
    return FALSE;
  gsize a = strlen (expected), b = strlen (given);
  /* Constant time in the length of what was given; the expected token's
   * length leaks only through "equal or not". */
  guint8 diff = a != b;
  for (gsize i = 0; i < b; i++)
    diff |= (guint8)given[i] ^ (guint8)expected[i % a];
  return diff == 0;
}

static void
peer_address (struct lws *wsi, char *buf, gsize len)
{
  buf[0] = '\0';
  lws_get_peer_simple (wsi, buf, len);
  if (!buf[0])
    g_strlcpy (buf, "?", len);
}

/* Copies header H (truncated to LEN-1); "" if absent. */
static const char *
header (struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
  buf[0] = '\0';
  if (lws_hdr_total_length (wsi, h) <= 0 || lws_hdr_copy (wsi, buf, len, h) < 0)
    buf[0] = '\0';
  return buf;
}

static const char *
url_arg (struct lws *wsi, const char *name_eq, char *buf, int len)
{
  return lws_get_urlarg_by_name (wsi, name_eq, buf, len);
}

/* The token a request carries: Authorization: Bearer T, else ?token=T. */
static char *
request_token (struct lws *wsi)
{
  char buf[512];
  const char *auth = header (wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, sizeof buf);
  if (g_ascii_strncasecmp (auth, "Bearer ", 7) == 0) {
    const char *t = auth + 7;
    while (*t == ' ')
      t++;
    return g_strdup (t);
  }
  char qbuf[512];
  const char *q = url_arg (wsi, "token=", qbuf, sizeof qbuf);
  return q ? g_strdup (q) : NULL;
}

/* Auth for token endpoints: 0 if allowed, else the HTTP status (401/429). */
static guint
check_token (ScServer *server, struct lws *wsi, const char *expected)
{
  char addr[64];
  peer_address (wsi, addr, sizeof addr);
  gint64 now = g_get_monotonic_time ();
  ScAuthRecord *rec = g_hash_table_lookup (server->auth, addr);
  if (rec && rec->blocked_until_us > now)
    return SC_HTTP_TOO_MANY_REQUESTS;

  g_autofree char *token = request_token (wsi);
  if (token_equal (expected, token))
    return 0;

  server->auth_failures++;
  if (!rec) {
    if (g_hash_table_size (server->auth) >= AUTH_TABLE_MAX)
      g_hash_table_remove_all (server->auth); /* a flood from everywhere: start over */
    rec = g_new0 (ScAuthRecord, 1);
    rec->window_start_us = now;
    g_hash_table_insert (server->auth, g_strdup (addr), rec);
  }
  if (now - rec->window_start_us > AUTH_WINDOW_US) {
    rec->window_start_us = now;
    rec->failures = 0;
  }
  if (++rec->failures > AUTH_MAX_FAILURES) {
    rec->blocked_until_us = now + AUTH_WINDOW_US;
    GST_WARNING ("%s: %u failed token checks in a minute; refusing token endpoints for 60 s", addr,
                 rec->failures);
  } else {
    GST_INFO ("%s: wrong or missing token", addr);
  }
  return HTTP_STATUS_UNAUTHORIZED;
}

/* ---- HTTP responses ---- */

static void
count_status (ScServer *server, guint status)
{
  guint c = status / 100;
  if (c < G_N_ELEMENTS (server->http_by_class))
    server->http_by_class[c]++;
}

/* Writes a whole response (headers + BODY) and finishes the transaction.
 * Returns what the lws callback should return. */
static int
respond (struct lws *wsi, guint status, const char *content_type, const char *extra_headers,
         const void *body, gsize len, gboolean close_after)
{
  ScServer *server = server_of (wsi);
  count_status (server, status);
  gsize cap = LWS_PRE + 1024 + (extra_headers ? strlen (extra_headers) : 0);
  g_autofree unsigned char *hbuf = g_malloc (cap);
  unsigned char *start = hbuf + LWS_PRE, *p = start, *end = hbuf + cap - 1;

  if (lws_add_http_header_status (wsi, status, &p, end))
    return -1;
  if (content_type
      && lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                       (const unsigned char *)content_type,
                                       (int)strlen (content_type), &p, end))
    return -1;
  if (lws_add_http_header_content_length (wsi, len, &p, end))
    return -1;
  if (close_after
      && lws_add_http_header_by_token (wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                       &p, end))
    return -1;
  if (extra_headers) {
    gsize n = strlen (extra_headers);
    if ((gsize)(end - p) < n + 2)
      return -1;
    memcpy (p, extra_headers, n);
    p += n;
  }
  if (lws_finalize_write_http_header (wsi, start, &p, end))
    return -1;
  if (len && lws_hdr_total_length (wsi, WSI_TOKEN_HEAD_URI) <= 0) {
    g_autofree unsigned char *bbuf = g_malloc (LWS_PRE + len);
    memcpy (bbuf + LWS_PRE, body, len);
    if (lws_write (wsi, bbuf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) < (int)len)
      return -1;
  }
  if (close_after)
    return -1;
  return lws_http_transaction_completed (wsi) ? -1 : 0;
}

#define JSON_TYPE "application/json; charset=utf-8"
#define NO_STORE "cache-control: no-store\x0d\x0a"

static int
respond_text (struct lws *wsi, guint status, const char *text)
{
  return respond (wsi, status, "text/plain; charset=utf-8", NULL, text, strlen (text), FALSE);
}

static int
respond_json (struct lws *wsi, guint status, const char *json)
{
  return respond (wsi, status, JSON_TYPE, NO_STORE, json, strlen (json), FALSE);
}

static int
respond_json_error (struct lws *wsi, guint status, const char *message, gboolean close_after)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *json = json_to_string (root, FALSE);
  return respond (wsi, status, JSON_TYPE, NO_STORE, json, strlen (json), close_after);
}

static int
serve_file (struct lws *wsi, const char *path, const char *extra_headers)
{
  ScServer *server = server_of (wsi);
  if (!path)
    return respond_text (wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
  count_status (server, 200);
  int n = lws_serve_http_file (wsi, path, sc_server_content_type (path), extra_headers,
                               extra_headers ? (int)strlen (extra_headers) : 0);
  if (n < 0 || (n > 0 && lws_http_transaction_completed (wsi)))
    return -1;
  return 0;
}

/* ---- snapshots and messages ---- */

static ScContest *
contest_of (ScServer *server)
{
  return sc_scoreboard_contest (server->scoreboard);
}

/* A snapshot message; cached briefly so a reconnect storm serializes the
 * contest a few times a second, not once per client. */
static ScMsg *
snapshot_msg (ScServer *server, gboolean with_events)
{
  gint64 now = g_get_monotonic_time ();
  int i = with_events ? 1 : 0;
  if (!server->snapshot[i] || now - server->snapshot_at_us[i] > SNAPSHOT_CACHE_US) {
    g_clear_pointer (&server->snapshot[i], sc_msg_unref);
    g_autofree char *json = sc_contest_snapshot_json (contest_of (server), with_events);
    server->snapshot[i] = sc_msg_new (json, strlen (json), FALSE);
    server->snapshot_at_us[i] = now;
  }
  return sc_msg_ref (server->snapshot[i]);
}

static void
own_push (ScSession *s, ScMsg *msg)
{
  if (!s->own)
    s->own = g_ptr_array_new_with_free_func ((GDestroyNotify)sc_msg_unref);
  g_ptr_array_add (s->own, msg);
  s->own_bytes += msg->len;
}

static ScRing *
ring_of (ScServer *server, ScEndpoint ep)
{
  switch (ep) {
  case EP_SCORES:
    return &server->scores;
  case EP_COMMENTARY:
    return &server->commentary;
  case EP_LIVE:
    return &server->live;
  default:
    return NULL;
  }
}

static guint64
session_backlog (ScServer *server, ScSession *s)
{
  ScRing *ring = ring_of (server, s->endpoint);
  guint64 b = s->own_bytes;
  if (ring && s->next_seq != SEQ_WAIT_KEYFRAME) {
    guint64 r = sc_ring_backlog (ring, s->next_seq);
    if (r == G_MAXUINT64)
      return G_MAXUINT64;
    b += r;
  }
  return b;
}

static void
request_writable (ScSession *s)
{
  if (!s->writable_requested) {
    s->writable_requested = 1;
    lws_callback_on_writable (s->wsi);
  }
}

/* Decides to close S with CODE; the close frame goes out on the next
 * WRITEABLE. A client whose socket never drains is killed by lws after its
 * close-send timeout. */
static void
session_close (ScServer *server, ScSession *s, guint16 code, ScDropReason reason,
               gboolean from_outside)
{
  if (s->closing)
    return;
  s->closing = 1;
  s->close_code = code;
  if (reason != DROP_NONE) {
    server->dropped[reason]++;
    char addr[64];
    peer_address (s->wsi, addr, sizeof addr);
    GST_INFO ("dropping %s client %s: %s (close %u)", endpoint_names[s->endpoint], addr,
              drop_names[reason], code);
  }
  if (from_outside) {
    /* Not inside this session's callback. The close frame goes out on the
     * next WRITEABLE if the socket drains within a few seconds; if not,
     * lws's timeout drops the connection without one. The ring does not
     * wait for it either way. */
    lws_set_timeout (s->wsi, PENDING_TIMEOUT_USER_OK, 5);
    s->writable_requested = 0;
    request_writable (s);
  }
}

static void
list_link (ScServer *server, ScSession *s)
{
  s->prev = NULL;
  s->next = server->clients[s->endpoint];
  if (s->next)
    s->next->prev = s;
  server->clients[s->endpoint] = s;
  server->n_clients[s->endpoint]++;
  server->n_ws++;
  s->linked = 1;
}

static void
list_unlink (ScServer *server, ScSession *s)
{
  if (!s->linked)
    return;
  if (s->prev)
    s->prev->next = s->next;
  else
    server->clients[s->endpoint] = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->prev = s->next = NULL;
  server->n_clients[s->endpoint]--;
  server->n_ws--;
  s->linked = 0;
}

static void
session_free_data (ScSession *s)
{
  g_clear_pointer (&s->own, g_ptr_array_unref);
  s->own_bytes = 0;
  s->own_pos = 0;
  g_clear_pointer (&s->since, g_free);
  if (s->rx) {
    g_string_free (s->rx, TRUE);
    s->rx = NULL;
  }
}

/* Services S's WRITEABLE now, through lws (lws_service_fd with POLLOUT),
 * as the event loop would after poll() said its socket takes more. */
static void
service_writeable_now (ScServer *server, ScSession *s)
{
  struct lws_pollfd pfd = {
    .fd = lws_get_socket_fd (s->wsi),
    .events = LWS_POLLIN | LWS_POLLOUT,
    .revents = LWS_POLLOUT,
  };
  lws_service_fd (server->lws, &pfd);
}

/* S has something to write: its WRITEABLE now, from outside lws, unless
 * it already waits for a real POLLOUT (then, or inside an lws callback,
 * it asks for one). S may be gone when this returns. */
static void
wake_session (ScServer *server, ScSession *s)
{
  if (server->in_callback == 0 && !s->writable_requested && !lws_partial_buffered (s->wsi))
    service_writeable_now (server, s);
  else
    request_writable (s);
}

/* Walks an endpoint's clients: wakes each, and culls those whose backlog
 * is past the limit (they may never become writable again). */
static void
wake_endpoint (ScServer *server, ScEndpoint ep)
{
  for (ScSession *s = server->clients[ep], *next; s; s = next) {
    next = s->next;
    if (s->closing)
      continue;
    if (ep != EP_LIVE && session_backlog (server, s) > SC_SERVER_MAX_CLIENT_BACKLOG) {
      session_close (server, s, SC_CLOSE_TRY_AGAIN_LATER, DROP_SLOW, TRUE);
      continue;
    }
    wake_session (server, s);
  }
}

static char *status_json (ScServer *server);

/* ---- WebSocket: connect ---- */

static ScEndpoint
endpoint_for_path (const char *path)
{
  if (!g_strcmp0 (path, "/scores"))
    return EP_SCORES;
  if (!g_strcmp0 (path, "/commentary"))
    return EP_COMMENTARY;
  if (!g_strcmp0 (path, "/control"))
    return EP_CONTROL;
  if (!g_strcmp0 (path, "/live/program"))
    return EP_LIVE;
  return EP_HTTP;
}

/* Before the upgrade: route by path, check tokens and capacity. A refusal
 * is an HTTP status, written here, then the connection is dropped. */
static int
ws_filter (ScServer *server, struct lws *wsi, ScSession *s)
{
  char path[256];
  header (wsi, WSI_TOKEN_GET_URI, path, sizeof path);
  ScEndpoint ep = endpoint_for_path (path);
  if (ep == EP_HTTP) {
    count_status (server, 404);
    lws_return_http_status (wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return -1;
  }
  if (server->shut_down) {
    count_status (server, 503);
    lws_return_http_status (wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "shutting down");
    return -1;
  }
  const char *token = ep == EP_COMMENTARY ? server->commentator_token
                      : ep == EP_CONTROL  ? server->operator_token
                                          : NULL;
  if (ep == EP_COMMENTARY || ep == EP_CONTROL) {
    guint status = check_token (server, wsi, token);
    if (status) {
      count_status (server, status);
      lws_return_http_status (wsi, status, NULL);
      return -1;
    }
  }
  if (server->max_clients > 0 && server->n_ws >= (guint)server->max_clients) {
    GST_INFO ("refusing a %s client: %u clients is the limit", endpoint_names[ep], server->n_ws);
    count_status (server, 503);
    lws_return_http_status (wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
    return -1;
  }
  session_free_data (s); /* it may have been a keep-alive HTTP session */
  memset (s, 0, sizeof *s);
  s->wsi = wsi;
  s->endpoint = ep;
  if (ep == EP_SCORES || ep == EP_COMMENTARY) {
    char buf[128];
    const char *since = url_arg (wsi, "since=", buf, sizeof buf);
    if (since && *since)
      s->since = g_strdup (since);
  }
  return 0;
}

static void
ws_established (ScServer *server, struct lws *wsi, ScSession *s)
{
  s->wsi = wsi;
  s->last_rx_us = g_get_monotonic_time ();
  s->rx_tat_us = s->last_rx_us;
  /* Each client's keep-alive runs on its own phase within the 10 s, so
   * viewers who connected together (a page reload, a relay restart) are
   * not all pinged in the same second, every 10 s, for ever. */
  s->next_ping_us = s->last_rx_us + g_random_int_range (1, PING_AFTER_US);
  list_link (server, s);

  switch (s->endpoint) {
  case EP_SCORES:
  case EP_COMMENTARY: {
    gboolean with_events = s->endpoint == EP_COMMENTARY;
    GPtrArray *since
        = s->since ? sc_contest_messages_since (contest_of (server), s->since, with_events) : NULL;
    if (since) {
      for (guint i = 0; i < since->len; i++) {
        const char *json = g_ptr_array_index (since, i);
        own_push (s, sc_msg_new (json, strlen (json), FALSE));
      }
      g_ptr_array_unref (since);
    } else {
      own_push (s, snapshot_msg (server, with_events));
    }
    g_clear_pointer (&s->since, g_free);
    /* The snapshot (or the since list) covers everything applied so far,
     * and every applied entry was published: start at the ring's head. */
    s->next_seq = ring_of (server, s->endpoint)->head;
    int fd = lws_get_socket_fd (wsi);
    int sndbuf = SCORE_SNDBUF;
    if (fd >= 0)
      setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    break;
  }
  case EP_LIVE: {
    s->next_seq = server->have_keyframe && server->last_keyframe_seq >= server->live.base
                      ? server->last_keyframe_seq
                      : SEQ_WAIT_KEYFRAME;
    /* A small kernel buffer keeps a lagging viewer's delay in our ring,
     * where it can be skipped to a keyframe, not in the socket. */
    int fd = lws_get_socket_fd (wsi);
    int sndbuf = LIVE_SNDBUF;
    if (fd >= 0)
      setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    break;
  }
  case EP_CONTROL: {
    /* Operators see the state at once, not after the next tick. */
    g_autofree char *json = status_json (server);
    own_push (s, sc_msg_new (json, strlen (json), FALSE));
    break;
  }
  default:
    break;
  }
  if (s->own || (s->endpoint == EP_LIVE && s->next_seq != SEQ_WAIT_KEYFRAME))
    request_writable (s);
}

static void
ws_closed (ScServer *server, ScSession *s)
{
  if (!s->linked)
    return;
  list_unlink (server, s);
  session_free_data (s);
}

/* ---- WebSocket: write ---- */

static int
write_msg (ScServer *server, ScSession *s, ScMsg *msg)
{
  int n = lws_write (s->wsi, sc_msg_payload (msg), msg->len,
                     msg->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
  if (n < (int)msg->len)
    return -1;
  server->sent_total++;
  return 0;
}

/* RFC 6455 §5.2 header of an unmasked, final server frame. Returns its
 * length (2, 4 or 10 bytes). */
static gsize
frame_header (unsigned char *out, gboolean binary, gsize len)
{
  out[0] = 0x80 | (binary ? 0x2 : 0x1);
  if (len < 126) {
    out[1] = (unsigned char)len;
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = (unsigned char)(len >> 8);
    out[3] = (unsigned char)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (unsigned char)((guint64)len >> (56 - 8 * i));
  return 10;
}

/* Writes the ring messages [seq, seq + count) to S as COUNT complete
 * frames in one write: a viewer that has fallen behind costs one send()
 * and one TCP segment for its whole backlog, not one per message. The
 * frames are laid out as lws would lay them out (lws_write's raw path
 * sends bytes as given; a partial send is kept and finished by lws, as
 * for any write). The caller keeps the batch under RING_BATCH_BYTES. */
static int
write_batch (ScServer *server, ScSession *s, ScRing *ring, guint64 seq, guint count)
{
  unsigned char *p = server->batch + LWS_PRE;
  for (guint i = 0; i < count; i++) {
    ScMsg *msg = sc_ring_get (ring, seq + i);
    p += frame_header (p, msg->binary, msg->len);
    memcpy (p, sc_msg_payload (msg), msg->len);
    p += msg->len;
  }
  gsize len = (gsize)(p - (server->batch + LWS_PRE));
  if (lws_write (s->wsi, server->batch + LWS_PRE, len, LWS_WRITE_HTTP) < (int)len)
    return -1;
  server->sent_total += count;
  server->batched_writes++;
  return 0;
}

/* Live clients lag by time or bytes: skip them to the next keyframe (or,
 * if the ring has moved past them, to the newest one). */
static ScMsg *
live_next (ScServer *server, ScSession *s)
{
  ScRing *ring = &server->live;
  if (s->next_seq == SEQ_WAIT_KEYFRAME) {
    if (!server->have_keyframe || server->last_keyframe_seq < ring->base)
      return NULL;
    s->next_seq = server->last_keyframe_seq;
  }
  ScMsg *msg = sc_ring_get (ring, s->next_seq);
  if (s->next_seq >= ring->head)
    return NULL;
  gint64 now = g_get_monotonic_time ();
  if (!msg || sc_ring_backlog (ring, s->next_seq) > LIVE_MAX_LAG_BYTES
      || now - msg->at_us > LIVE_MAX_LAG_US) {
    guint64 from = msg ? s->next_seq + 1 : ring->base;
    guint64 k;
    for (k = from; k < ring->head; k++)
      if (sc_ring_get (ring, k)->keyframe)
        break;
    if (k < ring->head) {
      server->live_skips++;
      s->next_seq = k;
      msg = sc_ring_get (ring, k);
    } else if (!msg) {
      server->live_skips++;
      s->next_seq = SEQ_WAIT_KEYFRAME;
      return NULL;
    }
  }
  return msg;
}

static int
ws_writeable (ScServer *server, ScSession *s)
{
  s->writable_requested = 0;
  if (s->closing) {
    /* Write the close frame ourselves, then hang up. (lws_close_reason +
     * return -1 asks lws to do it, but Debian's lws 4.1 is built with
     * _DEBUG and on its libuv event lib closes a second time to test
     * re-entry, which kills the connection before the frame goes out.) */
    unsigned char frame[LWS_PRE + 2];
    frame[LWS_PRE] = (unsigned char)(s->close_code >> 8);
    frame[LWS_PRE + 1] = (unsigned char)(s->close_code & 0xff);
    lws_write (s->wsi, frame + LWS_PRE, 2, SC_LWS_WRITE_CLOSE);
    return -1;
  }
  if (s->ping_due) {
    /* The payload makes the pong visible: lws passes only non-empty pongs
     * up (RFC 6455: a pong echoes the ping's payload). */
    unsigned char ping[LWS_PRE + 1];
    ping[LWS_PRE] = 's';
    s->ping_due = 0;
    if (lws_write (s->wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 1)
      return -1;
    if (s->own || session_backlog (server, s) > 0)
      request_writable (s);
    return 0;
  }
  ScMsg *msg = NULL;
  if (s->own) {
    msg = g_ptr_array_index (s->own, s->own_pos);
    if (write_msg (server, s, msg))
      return -1;
    s->own_bytes -= msg->len;
    if (++s->own_pos >= s->own->len) {
      g_clear_pointer (&s->own, g_ptr_array_unref);
      s->own_pos = 0;
      s->own_bytes = 0;
    }
  } else if (s->endpoint == EP_LIVE) {
    msg = live_next (server, s);
    if (!msg)
      return 0;
    if (write_msg (server, s, msg))
      return -1;
    s->next_seq++;
  } else {
    ScRing *ring = ring_of (server, s->endpoint);
    if (!ring || s->next_seq >= ring->head)
      return 0;
    msg = sc_ring_get (ring, s->next_seq);
    if (!msg) {
      /* Dropped from the ring: more than the allowed backlog behind. */
      session_close (server, s, SC_CLOSE_TRY_AGAIN_LATER, DROP_SLOW, FALSE);
      return ws_writeable (server, s);
    }
    /* A client that fell behind gets up to RING_BURST messages in this
     * WRITEABLE, framed into one write, instead of one event-loop round
     * trip and one send() per message: a busy node catches up instead of
     * falling further behind. One message goes the usual way. */
    guint count = 1;
    gsize bytes = msg->len + 10;
    while (count < RING_BURST && s->next_seq + count < ring->head) {
      ScMsg *next = sc_ring_get (ring, s->next_seq + count);
      if (bytes + next->len + 10 > RING_BATCH_BYTES)
        break;
      bytes += next->len + 10;
      count++;
    }
    if (count == 1 ? write_msg (server, s, msg) : write_batch (server, s, ring, s->next_seq, count))
      return -1;
    s->next_seq += count;
  }
  ScRing *ring = ring_of (server, s->endpoint);
  if (s->own || (ring && s->next_seq != SEQ_WAIT_KEYFRAME && s->next_seq < ring->head))
    request_writable (s);
  return 0;
}

/* ---- WebSocket: receive ---- */

/* GCRA: each frame costs 1/RATE s; more than a second's worth of credit
 * ahead of now is over the rate. Returns TRUE if this frame is allowed. */
static gboolean
rate_ok (ScSession *s, int per_s)
{
  gint64 now = g_get_monotonic_time ();
  gint64 tat = MAX (s->rx_tat_us, now) + G_USEC_PER_SEC / per_s;
  if (tat - now > G_USEC_PER_SEC)
    return FALSE;
  s->rx_tat_us = tat;
  return TRUE;
}

static void
control_reply (ScSession *s, char *json)
{
  own_push (s, sc_msg_new (json, strlen (json), FALSE));
  g_free (json);
  request_writable (s);
}

/* Runs a parsed-or-not control request; returns the ack JSON. */
static char *
control_run (ScServer *server, const char *data, gsize len)
{
  ScServerControlRequest req;
  g_autoptr (GError) error = NULL;
  char *ack;
  if (!sc_server_parse_control (data, len, &req, &error)) {
    ack = sc_server_control_ack (req.id, FALSE, error->message);
  } else if (!server->cb.control) {
    ack = sc_server_control_ack (req.id, FALSE, "no program on this node");
  } else {
    char *message = NULL;
    gboolean ok = server->cb.control (req.cmd, req.args, &message, server->cb.user_data);
    GST_INFO ("control %s (%s): %s%s%s", req.cmd, req.id, ok ? "ok" : "failed", message ? ": " : "",
              message ? message : "");
    ack = sc_server_control_ack (req.id, ok, ok ? NULL : (message ? message : "failed"));
    g_free (message);
  }
  sc_server_control_request_clear (&req);
  return ack;
}

static int
ws_receive (ScServer *server, ScSession *s, const void *in, size_t len)
{
  struct lws *wsi = s->wsi;
  s->last_rx_us = g_get_monotonic_time ();
  if (s->closing)
    return 0;
  gsize whole = (gsize)s->rx_msg_len + len + lws_remaining_packet_payload (wsi);
  gboolean final = lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0;

  if (s->endpoint != EP_CONTROL) {
    /* Viewers have nothing to say: a big frame or a chatty client is
     * abuse. */
    if (whole > VIEWER_MAX_FRAME || (final && !rate_ok (s, VIEWER_FRAMES_PER_S))) {
      session_close (server, s, LWS_CLOSE_STATUS_POLICY_VIOLATION, DROP_ABUSE, FALSE);
      lws_close_reason (wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
      return -1;
    }
    s->rx_msg_len = final ? 0 : s->rx_msg_len + (guint32)len;
    return 0;
  }

  if (whole > SC_SERVER_MAX_BODY) {
    session_close (server, s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, DROP_ABUSE, FALSE);
    lws_close_reason (wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1;
  }
  if (!s->rx)
    s->rx = g_string_sized_new (MIN (whole, 4096));
  g_string_append_len (s->rx, in, (gssize)len);
  s->rx_msg_len += (guint32)len;
  if (!final)
    return 0;
  s->rx_msg_len = 0;
  /* Over 20 requests a second: refused with an ack, not a close, so an
   * operator console that double-fires a button keeps its connection. */
  if (!rate_ok (s, CONTROL_PER_S)) {
    ScServerControlRequest req;
    sc_server_parse_control (s->rx->str, s->rx->len, &req, NULL);
    control_reply (s, sc_server_control_ack (req.id, FALSE, "rate limited"));
    sc_server_control_request_clear (&req);
  } else {
    control_reply (s, control_run (server, s->rx->str, s->rx->len));
  }
  g_string_free (s->rx, TRUE);
  s->rx = NULL;
  return 0;
}

/* ---- HTTP ---- */

static char *
status_json (ScServer *server)
{
  g_autofree char *stations
      = server->cb.stations_json ? server->cb.stations_json (server->cb.user_data) : NULL;
  g_autofree char *outputs
      = server->cb.outputs_json ? server->cb.outputs_json (server->cb.user_data) : NULL;
  g_autofree char *program
      = server->cb.program_json ? server->cb.program_json (server->cb.user_data) : NULL;
  return g_strdup_printf ("{\"type\":\"status\",\"stations\":%s,\"outputs\":%s,\"program\":%s}",
                          stations ? stations : "[]", outputs ? outputs : "[]",
                          program ? program : "null");
}

static char *
metrics_text (ScServer *server)
{
  GString *out = g_string_new (NULL);
  g_string_append (out, "# HELP skillcast_ws_clients WebSocket clients connected.\n"
                        "# TYPE skillcast_ws_clients gauge\n");
  for (int ep = EP_SCORES; ep < EP_COUNT; ep++)
    g_string_append_printf (out, "skillcast_ws_clients{endpoint=\"%s\"} %u\n", endpoint_names[ep],
                            server->n_clients[ep]);
  g_string_append_printf (out,
                          "# HELP skillcast_ws_messages_sent_total WebSocket messages written.\n"
                          "# TYPE skillcast_ws_messages_sent_total counter\n"
                          "skillcast_ws_messages_sent_total %" G_GUINT64_FORMAT "\n"
                          "# HELP skillcast_ws_batched_writes_total Writes that carried several "
                          "messages to a viewer who had fallen behind.\n"
                          "# TYPE skillcast_ws_batched_writes_total counter\n"
                          "skillcast_ws_batched_writes_total %" G_GUINT64_FORMAT "\n",
                          server->sent_total, server->batched_writes);
  g_string_append (out, "# HELP skillcast_ws_clients_dropped_total WebSocket clients dropped.\n"
                        "# TYPE skillcast_ws_clients_dropped_total counter\n");
  for (int r = DROP_SLOW; r < DROP_COUNT; r++)
    g_string_append_printf (
        out, "skillcast_ws_clients_dropped_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
        drop_names[r], server->dropped[r]);
  g_string_append (out, "# HELP skillcast_http_requests_total HTTP responses by status class.\n"
                        "# TYPE skillcast_http_requests_total counter\n");
  for (int c = 1; c < 6; c++)
    g_string_append_printf (out,
                            "skillcast_http_requests_total{code=\"%dxx\"} %" G_GUINT64_FORMAT "\n",
                            c, server->http_by_class[c]);
  g_string_append_printf (
      out,
      "# HELP skillcast_auth_failures_total Requests with a wrong or missing token.\n"
      "# TYPE skillcast_auth_failures_total counter\n"
      "skillcast_auth_failures_total %" G_GUINT64_FORMAT "\n"
      "# HELP skillcast_live_keyframe_skips_total Live clients moved ahead to a keyframe.\n"
      "# TYPE skillcast_live_keyframe_skips_total counter\n"
      "skillcast_live_keyframe_skips_total %" G_GUINT64_FORMAT "\n"
      "# HELP skillcast_live_chunks_dropped_total Live chunks dropped before the main loop took "
      "them.\n"
      "# TYPE skillcast_live_chunks_dropped_total counter\n"
      "skillcast_live_chunks_dropped_total %" G_GUINT64_FORMAT "\n",
      server->auth_failures, server->live_skips, server->live_dropped_chunks);
  sc_scoreboard_metrics (server->scoreboard, out);
  if (server->cb.metrics)
    server->cb.metrics (out, server->cb.user_data);
  return g_string_free (out, FALSE);
}

static int
http_api_json (struct lws *wsi, char *(*fn) (gpointer), gpointer user_data)
{
  if (!fn)
    return respond_json_error (wsi, HTTP_STATUS_NOT_FOUND, "not available on this node", FALSE);
  g_autofree char *json = fn (user_data);
  if (!json)
    return respond_json_error (wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, "no data", FALSE);
  return respond_json (wsi, HTTP_STATUS_OK, json);
}

static int
http_hls (ScServer *server, struct lws *wsi, const char *rest)
{
  /* rest = "{output}/{file}" */
  const char *slash = strchr (rest, '/');
  if (!server->cb.hls_dir || !slash || slash == rest || strchr (slash + 1, '/'))
    return respond_text (wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
  g_autofree char *output = g_strndup (rest, (gsize)(slash - rest));
  const char *dir = server->cb.hls_dir (output, server->cb.user_data);
  if (!dir)
    return respond_text (wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
  g_autofree char *path = sc_server_resolve_file (dir, slash + 1);
  const char *extra
      = g_str_has_suffix (slash + 1, ".m3u8") ? "cache-control: no-cache\x0d\x0a" : NULL;
  return serve_file (wsi, path, extra);
}

static int
http_static (ScServer *server, struct lws *wsi, const char *path)
{
  g_autofree char *file = NULL;
  if (!strcmp (path, "/") || !strcmp (path, "/index.html"))
    file = sc_server_resolve_file (server->web_dir, "index.html");
  else if (!strcmp (path, "/commentator"))
    file = sc_server_resolve_file (server->web_dir, "commentator.html");
  else if (!strcmp (path, "/operator"))
    file = sc_server_resolve_file (server->web_dir, "operator.html");
  else if (!strcmp (path, "/vendor/hls.js"))
    file = sc_server_resolve_file (server->web_dir, "node_modules/hls.js/dist/hls.min.js");
  else if (!strcmp (path, "/vendor/mpegts.js"))
    file = sc_server_resolve_file (server->web_dir, "node_modules/mpegts.js/dist/mpegts.js");
  else if (g_str_has_prefix (path, "/static/")) {
    g_autofree char *root = g_build_filename (server->web_dir, "static", NULL);
    file = sc_server_resolve_file (root, path + strlen ("/static/"));
  } else
    return -2; /* not a page */
  return serve_file (wsi, file, NULL);
}

static gboolean
is_known_get_path (const char *path)
{
  static const char *const exact[]
      = { "/",          "/index.html",   "/commentator",   "/operator",
          "/api/state", "/api/stations", "/api/outputs",   "/api/program",
          "/healthz",   "/metrics",      "/vendor/hls.js", "/vendor/mpegts.js" };
  for (gsize i = 0; i < G_N_ELEMENTS (exact); i++)
    if (!strcmp (path, exact[i]))
      return TRUE;
  return g_str_has_prefix (path, "/static/") || g_str_has_prefix (path, "/hls/");
}

static int
http_request (ScServer *server, struct lws *wsi, ScSession *s, const char *path)
{
  session_free_data (s);
  memset (s, 0, sizeof *s);
  s->wsi = wsi;
  s->endpoint = EP_HTTP;

  gboolean get = lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0;
  gboolean head = lws_hdr_total_length (wsi, WSI_TOKEN_HEAD_URI) > 0;
  gboolean post = lws_hdr_total_length (wsi, WSI_TOKEN_POST_URI) > 0;

  if (!strcmp (path, "/api/control")) {
    if (!post) {
      count_status (server, 405);
      return respond (wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                      "allow: POST\x0d\x0a", "method not allowed\n", 19, FALSE);
    }
    char clbuf[32];
    const char *cl = header (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clbuf, sizeof clbuf);
    guint64 length = g_ascii_strtoull (cl, NULL, 10);
    guint status = check_token (server, wsi, server->operator_token);
    if (status == HTTP_STATUS_UNAUTHORIZED)
      s->http_status = HTTP_STATUS_UNAUTHORIZED;
    else if (status == SC_HTTP_TOO_MANY_REQUESTS)
      s->http_status = SC_HTTP_TOO_MANY_REQUESTS;
    else if (length > SC_SERVER_MAX_BODY)
      s->http_status = HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
    /* A huge declared body is not worth reading just to be polite. */
    if (length > 1024 * SC_SERVER_MAX_BODY && s->http_status)
      return respond_json_error (wsi,
                                 s->http_status == HTTP_STATUS_REQ_ENTITY_TOO_LARGE
                                     ? HTTP_STATUS_REQ_ENTITY_TOO_LARGE
                                     : s->http_status,
                                 "refused", TRUE);
    if (!*cl && lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
      return respond_json_error (wsi, HTTP_STATUS_LENGTH_REQUIRED, "Content-Length required", TRUE);
    if (length == 0) {
      if (s->http_status == HTTP_STATUS_UNAUTHORIZED)
        return respond_json_error (wsi, 401, "missing or wrong operator token", FALSE);
      if (s->http_status == SC_HTTP_TOO_MANY_REQUESTS)
        return respond_json_error (wsi, 429, "too many failed token checks", FALSE);
      return respond_json_error (wsi, HTTP_STATUS_BAD_REQUEST, "empty request", FALSE);
    }
    /* The answer comes at BODY_COMPLETION: the body is read (or, when
     * refused, discarded) first so the client gets the status cleanly. */
    if (!s->http_status)
      s->rx = g_string_sized_new ((gsize)length);
    return 0;
  }

  if (!get && !head) {
    if (is_known_get_path (path) || endpoint_for_path (path) != EP_HTTP) {
      count_status (server, 405);
      return respond (wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                      "allow: GET, HEAD\x0d\x0a", "method not allowed\n", 19, FALSE);
    }
    return respond_text (wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
  }

  if (!strcmp (path, "/healthz")) {
    if (!server->shut_down && sc_scoreboard_redis_up (server->scoreboard))
      return respond (wsi, HTTP_STATUS_OK, "text/plain; charset=utf-8", NO_STORE, "ok", 2, FALSE);
    return respond (wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", NO_STORE,
                    "redis unreachable", 17, FALSE);
  }
  if (!strcmp (path, "/metrics")) {
    g_autofree char *text = metrics_text (server);
    return respond (wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", NO_STORE, text,
                    strlen (text), FALSE);
  }
  if (!strcmp (path, "/api/state")) {
    g_autofree char *json = sc_contest_snapshot_json (contest_of (server), FALSE);
    return respond_json (wsi, HTTP_STATUS_OK, json);
  }
  if (!strcmp (path, "/api/stations"))
    return http_api_json (wsi, server->cb.stations_json, server->cb.user_data);
  if (!strcmp (path, "/api/outputs"))
    return http_api_json (wsi, server->cb.outputs_json, server->cb.user_data);
  if (!strcmp (path, "/api/program"))
    return http_api_json (wsi, server->cb.program_json, server->cb.user_data);
  if (g_str_has_prefix (path, "/hls/"))
    return http_hls (server, wsi, path + strlen ("/hls/"));
  ScEndpoint ep = endpoint_for_path (path);
  if (ep != EP_HTTP) {
    /* The token comes first on token endpoints, upgrade or not: a wrong
     * token is a 401 (and counts toward 429) whatever else is wrong. */
    if (ep == EP_COMMENTARY || ep == EP_CONTROL) {
      guint status = check_token (server, wsi,
                                  ep == EP_COMMENTARY ? server->commentator_token
                                                      : server->operator_token);
      if (status == HTTP_STATUS_UNAUTHORIZED)
        return respond (wsi, status, "text/plain; charset=utf-8", NULL,
                        "missing or wrong token\n", 23, FALSE);
      if (status)
        return respond (wsi, status, "text/plain; charset=utf-8", NULL,
                        "too many failed token checks\n", 29, FALSE);
    }
    return respond (wsi, SC_HTTP_UPGRADE_REQUIRED, "text/plain; charset=utf-8", NULL,
                    "websocket endpoint\n", 19, FALSE);
  }
  int r = http_static (server, wsi, path);
  if (r != -2)
    return r;
  return respond_text (wsi, HTTP_STATUS_NOT_FOUND, "not found\n");
}

static int
http_body (ScServer *server, ScSession *s, const void *in, size_t len)
{
  if (s->http_status || !s->rx)
    return 0; /* refused already: discard */
  if (s->rx->len + len > SC_SERVER_MAX_BODY) {
    s->http_status = HTTP_STATUS_REQ_ENTITY_TOO_LARGE;
    g_string_free (s->rx, TRUE);
    s->rx = NULL;
    return 0;
  }
  g_string_append_len (s->rx, in, (gssize)len);
  return 0;
}

static int
http_body_done (ScServer *server, struct lws *wsi, ScSession *s)
{
  switch (s->http_status) {
  case 0:
    break;
  case HTTP_STATUS_UNAUTHORIZED:
    return respond_json_error (wsi, 401, "missing or wrong operator token", FALSE);
  case SC_HTTP_TOO_MANY_REQUESTS:
    return respond_json_error (wsi, 429, "too many failed token checks", FALSE);
  case HTTP_STATUS_REQ_ENTITY_TOO_LARGE:
  default:
    return respond_json_error (wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, "request over 64 KiB", TRUE);
  }
  g_autoptr (GString) body = s->rx;
  s->rx = NULL;
  if (!body)
    return respond_json_error (wsi, HTTP_STATUS_BAD_REQUEST, "empty request", FALSE);

  /* 400 for what is not a request at all; a well-formed request that the
   * program refuses is a 200 with ok:false, as on /control. */
  ScServerControlRequest req;
  g_autoptr (GError) error = NULL;
  gboolean ok = sc_server_parse_control (body->str, body->len, &req, &error);
  sc_server_control_request_clear (&req);
  if (!ok)
    return respond_json_error (wsi, HTTP_STATUS_BAD_REQUEST, error->message, FALSE);
  g_autofree char *ack = control_run (server, body->str, body->len);
  return respond_json (wsi, HTTP_STATUS_OK, ack);
}

/* ---- lws on the GLib main loop ----
 *
 * By default lws runs on its glib event lib with the node's thread-default
 * GMainContext (LWS_SERVER_OPTION_GLIB, foreign loop). Each connection is a
 * GSource there, and GLib's poll()-based iteration walks all of them on
 * every wakeup; see allow_recursion_of_current_source() for the worst of
 * it and docs/server.md for the figures.
 *
 * SKILLCAST_LWS_EVENT_LIB=libuv runs lws on its libuv event lib instead,
 * with a libuv loop that we own and never let block: one GSource watches
 * the loop's backend (epoll) fd, takes its next-timer timeout as the GLib
 * timeout, and dispatches with uv_run (UV_RUN_NOWAIT). Wakeups are O(ready
 * fds) there, but each message costs two epoll_ctl calls more: measured at
 * 5,000 viewers, 11.7 µs per delivered message against 7.5 µs with glib,
 * and 32 % against 50 % of a core to keep 10,000 idle viewers pinged. Kept
 * for nodes that hold many idle viewers; glib is the default. */

typedef struct {
  GSource source;
  uv_loop_t *uv;
  gpointer tag;
} ScUvSource;

static gboolean
uv_source_prepare (GSource *source, gint *timeout)
{
  uv_loop_t *uv = ((ScUvSource *)source)->uv;
  uv_update_time (uv);
  *timeout = uv_backend_timeout (uv);
  return *timeout == 0;
}

static gboolean
uv_source_check (GSource *source)
{
  ScUvSource *us = (ScUvSource *)source;
  if (g_source_query_unix_fd (source, us->tag))
    return TRUE;
  uv_update_time (us->uv);
  return uv_backend_timeout (us->uv) == 0;
}

static gboolean
uv_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  uv_run (((ScUvSource *)source)->uv, UV_RUN_NOWAIT);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs uv_source_funcs = {
  uv_source_prepare,
  uv_source_check,
  uv_source_dispatch,
  NULL,
};

static void
uv_attach (ScServer *server)
{
  GSource *src = g_source_new (&uv_source_funcs, sizeof (ScUvSource));
  ScUvSource *us = (ScUvSource *)src;
  us->uv = server->uv;
  us->tag = g_source_add_unix_fd (src, uv_backend_fd (server->uv), G_IO_IN);
  g_source_set_name (src, "sc-server lws/libuv");
  g_source_attach (src, server->ctx);
  server->uv_source = src;
}

/* After lws_context_destroy: lws closes its libuv handles asynchronously;
 * run the loop until they are gone, then close it. */
static void
uv_teardown (ScServer *server)
{
  if (server->uv_source) {
    g_source_destroy (server->uv_source);
    g_clear_pointer (&server->uv_source, g_source_unref);
  }
  if (!server->uv)
    return;
  for (int i = 0; i < 1000 && uv_loop_alive (server->uv); i++)
    uv_run (server->uv, UV_RUN_NOWAIT);
  if (uv_loop_close (server->uv) != 0) {
    GST_WARNING ("libuv loop still busy after lws was destroyed; leaking it");
    server->uv = NULL;
    return;
  }
  g_clear_pointer (&server->uv, g_free);
}

/* ---- the lws protocol callback ---- */

/* lws's glib event lib gives every connection its own GSource. GLib
 * "blocks" a source while dispatching it: it takes the source's fds out of
 * the context's poll list and puts them back afterwards, and both walk
 * that list, which holds every connection. At 5,000 viewers that made one
 * fan-out cost O(N^2) (measured: 45% of the CPU in those two walks, p50
 * 1.4 s). A source that may recurse is not blocked. Nothing here iterates
 * the main context from inside an lws callback, so recursion never
 * happens; we mark each connection's source from its first callback that
 * runs inside its own dispatch (accept for the listener, ESTABLISHED for a
 * WebSocket). */
static void
allow_recursion_of_current_source (void)
{
  GSource *src = g_main_current_source ();
  if (src && !g_source_get_can_recurse (src))
    g_source_set_can_recurse (src, TRUE);
}

static int callback_body (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len);

static int
callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  ScServer *server = server_of (wsi);
  if (!server)
    return lws_callback_http_dummy (wsi, reason, user, in, len);
  server->in_callback++;
  int r = callback_body (wsi, reason, user, in, len);
  server->in_callback--;
  return r;
}

static int
callback_body (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  ScServer *server = server_of (wsi);
  ScSession *s = user;

  switch (reason) {
  case LWS_CALLBACK_HTTP:
    if (!s)
      return -1;
    return http_request (server, wsi, s, in ? (const char *)in : "/");
  case LWS_CALLBACK_HTTP_BODY:
    return s ? http_body (server, s, in, len) : -1;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return s ? http_body_done (server, wsi, s) : -1;
  case LWS_CALLBACK_HTTP_FILE_COMPLETION:
    return lws_http_transaction_completed (wsi) ? -1 : 0;
  case LWS_CALLBACK_CLOSED_HTTP:
    if (s && !s->linked)
      session_free_data (s);
    return 0;

  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    /* lws 4.1 would switch to HTTP/2 on "Upgrade: h2c" whatever the vhost
     * options; HTTP/2 stays off here (HPACK advisories against lws < 5). */
    if (in && g_ascii_strcasecmp (in, "websocket") != 0) {
      count_status (server, 400);
      lws_return_http_status (wsi, HTTP_STATUS_BAD_REQUEST, "only HTTP/1.1 and WebSocket");
      return -1;
    }
    return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    return s ? ws_filter (server, wsi, s) : -1;
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    if (server->lws_loop)
      allow_recursion_of_current_source ();
    return 0;
  case LWS_CALLBACK_ESTABLISHED:
    if (server->lws_loop)
      allow_recursion_of_current_source ();
    ws_established (server, wsi, s);
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return ws_writeable (server, s);
  case LWS_CALLBACK_RECEIVE:
    return ws_receive (server, s, in, len);
  case LWS_CALLBACK_RECEIVE_PONG:
    GST_LOG ("pong from a %s client", s ? endpoint_names[s->endpoint] : "?");
    if (s)
      s->last_rx_us = g_get_monotonic_time ();
    return 0;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (s)
      s->peer_closed = 1;
    return 0;
  case LWS_CALLBACK_CLOSED:
    if (s)
      ws_closed (server, s);
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    if (s) {
      list_unlink (server, s);
      session_free_data (s);
    }
    return 0;
  default:
    break;
  }
  return lws_callback_http_dummy (wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
  /* rx buffer: viewers may send at most 1 KiB; /control messages arrive
   * in pieces and are assembled in the session. Writes are not limited by
   * it (tx_packet_size). */
  { "skillcast", callback, sizeof (ScSession), 1024, 0, NULL, 65536 },
  { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* lws's own keep-alive ("validity") is off: it re-inserts a per-connection
 * timer into one sorted list on every pong, a walk over all connections,
 * which at 10,000 viewers cost more than the fan-out itself. The server
 * pings from its one-second tick instead (keepalive_sweep). */
static const lws_retry_bo_t retry_policy = {
  .secs_since_valid_ping = 0,
  .secs_since_valid_hangup = 0,
};

/* ---- timers and handoffs ---- */

static gboolean
prune_auth (gpointer key, gpointer value, gpointer user_data)
{
  ScAuthRecord *rec = value;
  gint64 now = *(gint64 *)user_data;
  return rec->blocked_until_us <= now && now - rec->window_start_us > AUTH_WINDOW_US;
}


static void
keepalive_sweep (ScServer *server, gint64 now)
{
  for (int ep = 0; ep < EP_COUNT; ep++) {
    for (ScSession *s = server->clients[ep], *next; s; s = next) {
      next = s->next;
      if (s->closing)
        continue;
      gint64 silent = now - s->last_rx_us;
      if (silent >= PONG_TIMEOUT_US) {
        session_close (server, s, LWS_CLOSE_STATUS_GOINGAWAY, DROP_TIMEOUT, TRUE);
      } else if (now >= s->next_ping_us) {
        /* Every PING_AFTER_US on the client's own phase, whatever it
         * said meanwhile: so no client is ever more than ~11 s silent
         * when pinged, and has 9 s or more to answer. */
        s->next_ping_us = now + PING_AFTER_US;
        s->ping_us = now;
        s->ping_due = 1;
        wake_session (server, s);
      }
    }
  }
}

static gboolean
on_tick (gpointer user_data)
{
  ScServer *server = user_data;
  gint64 now = g_get_monotonic_time ();
  g_hash_table_foreach_remove (server->auth, prune_auth, &now);
  if (server->lws)
    keepalive_sweep (server, now);
  if (server->clients[EP_CONTROL] && server->lws) {
    g_autofree char *json = status_json (server);
    ScMsg *msg = sc_msg_new (json, strlen (json), FALSE);
    for (ScSession *s = server->clients[EP_CONTROL]; s; s = s->next) {
      if (s->closing)
        continue;
      /* An operator console that stopped reading: do not pile up status. */
      if (s->own_bytes > SC_SERVER_MAX_CLIENT_BACKLOG) {
        session_close (server, s, SC_CLOSE_TRY_AGAIN_LATER, DROP_SLOW, TRUE);
        continue;
      }
      own_push (s, sc_msg_ref (msg));
      request_writable (s);
    }
    sc_msg_unref (msg);
  }
  return G_SOURCE_CONTINUE;
}

/* The entries published since the last pass go out to every client: all
 * of one Redis reply in one pass, so a viewer gets them in one write. */
static gboolean
on_fanout (gpointer user_data)
{
  ScServer *server = user_data;
  guint pending = server->fanout_pending;
  server->fanout_pending = 0;
  server->fanout_scheduled = FALSE;
  for (ScEndpoint ep = 0; ep < EP_COUNT; ep++)
    if (pending & (1u << ep))
      wake_endpoint (server, ep);
  return G_SOURCE_REMOVE;
}

static gboolean
on_live (gpointer user_data)
{
  ScServer *server = user_data;
  GQueue chunks = G_QUEUE_INIT;
  g_mutex_lock (&server->live_lock);
  chunks = server->live_pending;
  g_queue_init (&server->live_pending);
  server->live_pending_bytes = 0;
  server->live_scheduled = FALSE;
  g_mutex_unlock (&server->live_lock);

  ScLiveChunk *c;
  while ((c = g_queue_pop_head (&chunks))) {
    if (server->lws && !server->shut_down) {
      gsize n;
      const void *data = g_bytes_get_data (c->data, &n);
      ScMsg *msg = sc_msg_new (data, n, TRUE);
      msg->keyframe = c->keyframe ? 1 : 0;
      guint64 seq = sc_ring_push (&server->live, msg);
      if (c->keyframe) {
        server->last_keyframe_seq = seq;
        server->have_keyframe = TRUE;
      }
      sc_msg_unref (msg);
    }
    g_bytes_unref (c->data);
    g_free (c);
  }
  if (server->lws && !server->shut_down)
    wake_endpoint (server, EP_LIVE);
  return G_SOURCE_REMOVE;
}

/* ---- public API ---- */

/* FN (SERVER) once from the node's main context. Any thread. */
static void
attach_idle (ScServer *server, gint priority, GSourceFunc fn)
{
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, priority);
  g_source_set_callback (src, fn, server, NULL);
  g_source_attach (src, server->ctx);
  g_source_unref (src);
}

static gboolean
split_host (const char *host, char **iface)
{
  *iface = NULL;
  if (!host || !*host || !strcmp (host, "0.0.0.0") || !strcmp (host, "*"))
    return TRUE;
  *iface = g_strdup (host);
  return TRUE;
}

ScServer *
sc_server_new (const ScConfig *config, ScScoreboard *scoreboard, const ScServerCallbacks *callbacks,
               GError **error)
{
  init_logging ();
  g_return_val_if_fail (config != NULL && scoreboard != NULL, NULL);

  ScServer *server = g_new0 (ScServer, 1);
  server->scoreboard = scoreboard;
  server->batch = g_malloc (LWS_PRE + RING_BATCH_BYTES);
  if (callbacks)
    server->cb = *callbacks;
  server->web_dir = g_strdup (config->server.web_dir ? config->server.web_dir : SC_WEB_DIR_DEFAULT);
  server->operator_token = g_strdup (config->server.operator_token);
  server->commentator_token = g_strdup (config->server.commentator_token);
  server->max_clients = config->server.max_clients;
  server->auth = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init (&server->live_lock);
  g_queue_init (&server->live_pending);
  sc_ring_init (&server->scores, SCORE_RING_SLOTS, SC_SERVER_MAX_CLIENT_BACKLOG);
  sc_ring_init (&server->commentary, SCORE_RING_SLOTS, SC_SERVER_MAX_CLIENT_BACKLOG);
  sc_ring_init (&server->live, LIVE_RING_SLOTS, LIVE_RING_BYTES);

  if (!server->operator_token || !*server->operator_token)
    GST_WARNING ("no operator token configured: /control and POST /api/control refuse everyone");
  if (!server->commentator_token || !*server->commentator_token)
    GST_WARNING ("no commentator token configured: /commentary refuses everyone");

  server->ctx = g_main_context_ref_thread_default ();
  const char *evlib = g_getenv ("SKILLCAST_LWS_EVENT_LIB");
  gboolean use_uv = evlib && !g_strcmp0 (evlib, "libuv");
  void *foreign_loops[1] = { NULL };
  if (!use_uv) {
    server->lws_loop = g_main_loop_new (server->ctx, FALSE);
    foreign_loops[0] = server->lws_loop;
  } else {
    server->uv = g_new0 (uv_loop_t, 1);
    if (uv_loop_init (server->uv) != 0) {
      g_clear_pointer (&server->uv, g_free);
      g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_LISTEN, "cannot create a libuv loop");
      sc_server_free (server);
      return NULL;
    }
    foreign_loops[0] = server->uv;
  }

  g_autofree char *iface = NULL;
  split_host (config->server.host, &iface);

  struct lws_context_creation_info info;
  memset (&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_VALIDATE_UTF8
                 | (use_uv ? LWS_SERVER_OPTION_LIBUV : LWS_SERVER_OPTION_GLIB);
  if (iface && !strchr (iface, ':'))
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = foreign_loops;
  info.port = config->server.port;
  info.iface = iface;
  info.protocols = protocols;
  info.vhost_name = "skillcast";
  info.server_string = "skillcast";
  info.user = server;
  info.max_http_header_data = 8192;
  info.retry_and_idle_policy = &retry_policy;
  info.alpn = "http/1.1";
  info.count_threads = 1;

  server->lws = lws_create_context (&info);
  if (!server->lws) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_LISTEN, "cannot listen on %s:%d",
                 config->server.host ? config->server.host : "*", config->server.port);
    sc_server_free (server);
    return NULL;
  }
  server->vhost = lws_get_vhost_by_name (server->lws, "skillcast");
  server->port = server->vhost ? lws_get_vhost_listen_port (server->vhost) : -1;
  if (server->port <= 0) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_LISTEN, "cannot listen on %s:%d",
                 config->server.host ? config->server.host : "*", config->server.port);
    sc_server_free (server);
    return NULL;
  }

  if (server->uv)
    uv_attach (server);
  server->tick = g_timeout_source_new_seconds (1);
  g_source_set_callback (server->tick, on_tick, server, NULL);
  g_source_attach (server->tick, server->ctx);
  GST_INFO ("listening on %s:%d, pages from %s", iface ? iface : "*", server->port,
            server->web_dir);
  return server;
}

int
sc_server_port (ScServer *server)
{
  return server ? server->port : -1;
}

void
sc_server_publish (ScServer *server, const char *entry_id, const char *delta_json,
                   const char *event_json)
{
  g_return_if_fail (server != NULL);
  if (!server->lws || server->shut_down)
    return;
  /* Snapshots cached before this entry are stale now. */
  g_clear_pointer (&server->snapshot[0], sc_msg_unref);
  g_clear_pointer (&server->snapshot[1], sc_msg_unref);
  if (delta_json) {
    ScMsg *delta = sc_msg_new (delta_json, strlen (delta_json), FALSE);
    sc_ring_push (&server->scores, delta);
    sc_ring_push (&server->commentary, delta);
    sc_msg_unref (delta);
  }
  if (event_json) {
    ScMsg *event = sc_msg_new (event_json, strlen (event_json), FALSE);
    sc_ring_push (&server->commentary, event);
    sc_msg_unref (event);
  }
  GST_LOG ("published %s to %u + %u clients", entry_id, server->n_clients[EP_SCORES],
           server->n_clients[EP_COMMENTARY]);
  server->fanout_pending |= (1u << EP_SCORES) | (1u << EP_COMMENTARY);
  if (!server->fanout_scheduled) {
    server->fanout_scheduled = TRUE;
    attach_idle (server, G_PRIORITY_HIGH, on_fanout);
  }
}

void
sc_server_push_live_ts (ScServer *server, GBytes *data, gboolean keyframe)
{
  g_return_if_fail (server != NULL && data != NULL);
  gsize n = g_bytes_get_size (data);
  g_mutex_lock (&server->live_lock);
  if (server->live_closed) {
    g_mutex_unlock (&server->live_lock);
    return;
  }
  if (server->live_pending_bytes + n > LIVE_PENDING_MAX) {
    /* The main loop is not keeping up; clients will resync at a keyframe. */
    server->live_dropped_chunks++;
    g_mutex_unlock (&server->live_lock);
    return;
  }
  ScLiveChunk *c = g_new (ScLiveChunk, 1);
  c->data = g_bytes_ref (data);
  c->keyframe = keyframe;
  g_queue_push_tail (&server->live_pending, c);
  server->live_pending_bytes += n;
  if (!server->live_scheduled) {
    server->live_scheduled = TRUE;
    attach_idle (server, G_PRIORITY_DEFAULT, on_live);
  }
  g_mutex_unlock (&server->live_lock);
}

static gboolean
on_shutdown_timeout (gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
destroy_lws (ScServer *server)
{
  if (!server->lws)
    return;
  lws_context_destroy (server->lws);
  server->lws = NULL;
  server->vhost = NULL;
  uv_teardown (server);
  /* Let lws's glib sources finish their teardown. */
  for (int i = 0; i < 10 && g_main_context_iteration (server->ctx, FALSE); i++)
    ;
}

void
sc_server_shutdown (ScServer *server)
{
  g_return_if_fail (server != NULL);
  if (server->shut_down)
    return;
  server->shut_down = TRUE;
  g_mutex_lock (&server->live_lock);
  server->live_closed = TRUE;
  g_mutex_unlock (&server->live_lock);

  if (server->lws) {
    guint n = 0;
    for (int ep = EP_SCORES; ep < EP_COUNT; ep++)
      for (ScSession *s = server->clients[ep]; s; s = s->next) {
        if (!s->closing) {
          s->closing = 1;
          s->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
        }
        lws_callback_on_writable (s->wsi);
        n++;
      }
    GST_INFO ("shutting down: closing %u WebSocket clients", n);
    gboolean timed_out = FALSE;
    GSource *timeout = g_timeout_source_new (SHUTDOWN_WAIT_MS);
    g_source_set_callback (timeout, on_shutdown_timeout, &timed_out, NULL);
    g_source_attach (timeout, server->ctx);
    while (server->n_ws > 0 && !timed_out)
      g_main_context_iteration (server->ctx, TRUE);
    g_source_destroy (timeout);
    g_source_unref (timeout);
    if (server->n_ws > 0)
      GST_INFO ("%u clients did not close in time", server->n_ws);
  }
  destroy_lws (server);
}

void
sc_server_free (ScServer *server)
{
  if (!server)
    return;
  destroy_lws (server);
  if (server->tick) {
    g_source_destroy (server->tick);
    g_source_unref (server->tick);
  }
  g_mutex_lock (&server->live_lock);
  server->live_closed = TRUE;
  ScLiveChunk *c;
  while ((c = g_queue_pop_head (&server->live_pending))) {
    g_bytes_unref (c->data);
    g_free (c);
  }
  gboolean scheduled = server->live_scheduled;
  g_mutex_unlock (&server->live_lock);
  if (scheduled) {
    /* An idle on_live is attached with this server as data: remove it. */
    GSource *src;
    while ((src = g_main_context_find_source_by_user_data (server->ctx, server)))
      g_source_destroy (src);
  }
  g_clear_pointer (&server->snapshot[0], sc_msg_unref);
  g_clear_pointer (&server->snapshot[1], sc_msg_unref);
  sc_ring_clear (&server->scores);
  sc_ring_clear (&server->commentary);
  sc_ring_clear (&server->live);
  g_clear_pointer (&server->auth, g_hash_table_unref);
  g_mutex_clear (&server->live_lock);
  uv_teardown (server);
  g_clear_pointer (&server->lws_loop, g_main_loop_unref);
  g_clear_pointer (&server->ctx, g_main_context_unref);
  g_free (server->web_dir);
  g_free (server->operator_token);
  g_free (server->commentator_token);
  g_free (server->batch);
  g_free (server);
}
