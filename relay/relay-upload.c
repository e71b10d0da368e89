/* relay-upload — see relay-upload.h. */
#include "relay/relay-upload.h"

#include <curl/curl.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (sc_relay_debug);
#define GST_CAT_DEFAULT sc_relay_debug

#define REQUEST_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 5000
#define MAX_ATTEMPTS 4          /* first try + 3 retries */
#define RETRY_BASE_MS 500       /* 0.5 s, 1 s, 2 s */
#define MAX_PENDING_SEGMENTS 12 /* even if LIVE is long, never more */
#define MAX_PENDING_DELETES 64
#define MAX_UPLOADED_NAMES 256 /* names we may still have to DELETE */

typedef enum {
  REQ_PUT_SEGMENT,
  REQ_PUT_PLAYLIST,
  REQ_DELETE,
} ReqKind;

typedef struct {
  ReqKind kind;
  char *name;
  GBytes *data; /* PUT body; NULL for DELETE */
  guint attempts;
} UploadItem;

struct ScUploader {
  GMainContext *context;
  CURLM *multi;
  GSource *timer;
  GList *queues; /* ScUploadQueue*, to find the owner of a finished transfer */
};

struct ScUploadQueue {
  ScUploader *uploader;
  char *base_url;
  char *label;
  GQueue segments;       /* UploadItem*, REQ_PUT_SEGMENT, oldest first */
  UploadItem *playlist;  /* newest playlist not yet sent */
  GQueue deletes;        /* UploadItem*, REQ_DELETE */
  GHashTable *uploaded;  /* segment names on the origin (name -> NULL) */
  GQueue uploaded_order; /* same names, oldest first, to cap the table */

  /* The one request in flight. */
  UploadItem *current;
  CURL *easy;
  struct curl_slist *headers;
  gsize read_pos;

  GSource *retry; /* waiting before the next attempt of the head item */
  ScUploadStats stats;
};

static void queue_kick (ScUploadQueue *q);

static void
item_free (UploadItem *item)
{
  if (!item)
    return;
  g_free (item->name);
  if (item->data)
    g_bytes_unref (item->data);
  g_free (item);
}

static UploadItem *
item_new (ReqKind kind, const char *name, GBytes *data)
{
  UploadItem *item = g_new0 (UploadItem, 1);
  item->kind = kind;
  item->name = g_strdup (name);
  item->data = data ? g_bytes_ref (data) : NULL;
  return item;
}

/* ---- curl multi on GLib ---- */

static void check_finished (ScUploader *u);

static gboolean
on_socket_ready (gint fd, GIOCondition cond, gpointer user_data)
{
  ScUploader *u = user_data;
  int action = 0, running = 0;
  if (cond & G_IO_IN)
    action |= CURL_CSELECT_IN;
  if (cond & G_IO_OUT)
    action |= CURL_CSELECT_OUT;
  if (cond & (G_IO_ERR | G_IO_HUP))
    action |= CURL_CSELECT_ERR;
  curl_multi_socket_action (u->multi, fd, action, &running);
  check_finished (u);
  /* curl may have replaced this source from on_curl_socket already; a
   * destroyed source is not dispatched again whatever we return. */
  return G_SOURCE_CONTINUE;
}

/* CURLMOPT_SOCKETFUNCTION: watch what curl wants on S. */
static int
on_curl_socket (CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
  ScUploader *u = userp;
  GSource *old = socketp;
  if (old) {
    g_source_destroy (old);
    g_source_unref (old);
  }
  if (what == CURL_POLL_REMOVE) {
    curl_multi_assign (u->multi, s, NULL);
    return 0;
  }
  GIOCondition cond = 0;
  if (what & CURL_POLL_IN)
    cond |= G_IO_IN;
  if (what & CURL_POLL_OUT)
    cond |= G_IO_OUT;
  GSource *src = g_unix_fd_source_new (s, cond);
  g_source_set_callback (src, (GSourceFunc)(void (*) (void))on_socket_ready, u, NULL);
  g_source_attach (src, u->context);
  curl_multi_assign (u->multi, s, src);
  return 0;
}

static gboolean
on_timer (gpointer user_data)
{
  ScUploader *u = user_data;
  int running = 0;
  g_source_unref (u->timer);
  u->timer = NULL;
  curl_multi_socket_action (u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_finished (u);
  return G_SOURCE_REMOVE;
}

/* CURLMOPT_TIMERFUNCTION: one GLib timeout stands for curl's one timer. */
static int
on_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
  ScUploader *u = userp;
  if (u->timer) {
    g_source_destroy (u->timer);
    g_source_unref (u->timer);
    u->timer = NULL;
  }
  if (timeout_ms >= 0) {
    u->timer = g_timeout_source_new ((guint)timeout_ms);
    g_source_set_callback (u->timer, on_timer, u, NULL);
    g_source_attach (u->timer, u->context);
  }
  return 0;
}

ScUploader *
sc_uploader_new (GMainContext *context)
{
  static gsize curl_once = 0;
  if (g_once_init_enter (&curl_once)) {
    curl_global_init (CURL_GLOBAL_DEFAULT);
    g_once_init_leave (&curl_once, 1);
  }
  ScUploader *u = g_new0 (ScUploader, 1);
  u->context = g_main_context_ref (context);
  u->multi = curl_multi_init ();
  curl_multi_setopt (u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt (u->multi, CURLMOPT_SOCKETDATA, u);
  curl_multi_setopt (u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt (u->multi, CURLMOPT_TIMERDATA, u);
  return u;
}

void
sc_uploader_free (ScUploader *u)
{
  if (!u)
    return;
  while (u->queues)
    sc_upload_queue_free (u->queues->data);
  curl_multi_cleanup (u->multi);
  if (u->timer) {
    g_source_destroy (u->timer);
    g_source_unref (u->timer);
  }
  g_main_context_unref (u->context);
  g_free (u);
}

/* ---- one queue ---- */

static size_t
on_read (char *buf, size_t size, size_t nitems, void *userp)
{
  ScUploadQueue *q = userp;
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (q->current->data, &len);
  size_t n = MIN (size * nitems, len - q->read_pos);
  memcpy (buf, data + q->read_pos, n);
  q->read_pos += n;
  return n;
}

static size_t
on_write (char *buf, size_t size, size_t nitems, void *userp)
{
  return size * nitems; /* the origin's answer body is not needed */
}

static void
forget_uploaded (ScUploadQueue *q, const char *name)
{
  g_hash_table_remove (q->uploaded, name);
  for (GList *l = q->uploaded_order.head; l; l = l->next) {
    if (g_str_equal (l->data, name)) {
      g_free (l->data);
      g_queue_delete_link (&q->uploaded_order, l);
      break;
    }
  }
}

static void
remember_uploaded (ScUploadQueue *q, const char *name)
{
  if (g_hash_table_contains (q->uploaded, name))
    return;
  g_hash_table_add (q->uploaded, g_strdup (name));
  g_queue_push_tail (&q->uploaded_order, g_strdup (name));
  while (g_queue_get_length (&q->uploaded_order) > MAX_UPLOADED_NAMES) {
    char *old = g_queue_pop_head (&q->uploaded_order);
    g_hash_table_remove (q->uploaded, old);
    g_free (old);
  }
}

static void
request_cleanup (ScUploadQueue *q)
{
  if (q->easy) {
    curl_multi_remove_handle (q->uploader->multi, q->easy);
    curl_easy_cleanup (q->easy);
    q->easy = NULL;
  }
  g_clear_pointer (&q->headers, curl_slist_free_all);
}

/* The head item to send next, by priority; NULL if nothing is queued. */
static UploadItem *
queue_take_next (ScUploadQueue *q)
{
  if (!g_queue_is_empty (&q->segments))
    return g_queue_pop_head (&q->segments);
  if (q->playlist) {
    UploadItem *p = q->playlist;
    q->playlist = NULL;
    return p;
  }
  return g_queue_pop_head (&q->deletes);
}

/* Puts a failed item back at the head of its lane (unless a newer one
 * supersedes it). */
static void
queue_put_back (ScUploadQueue *q, UploadItem *item)
{
  switch (item->kind) {
  case REQ_PUT_SEGMENT:
    g_queue_push_head (&q->segments, item);
    break;
  case REQ_PUT_PLAYLIST:
    if (q->playlist)
      item_free (item); /* a newer playlist is waiting */
    else
      q->playlist = item;
    break;
  case REQ_DELETE:
    g_queue_push_head (&q->deletes, item);
    break;
  }
}

static gboolean
on_retry (gpointer user_data)
{
  ScUploadQueue *q = user_data;
  g_source_unref (q->retry);
  q->retry = NULL;
  queue_kick (q);
  return G_SOURCE_REMOVE;
}

static void
request_done (ScUploadQueue *q, CURLcode code)
{
  UploadItem *item = q->current;
  long status = 0;
  curl_easy_getinfo (q->easy, CURLINFO_RESPONSE_CODE, &status);
  request_cleanup (q);
  q->current = NULL;

  gboolean ok = code == CURLE_OK
                && ((status >= 200 && status < 300) || (item->kind == REQ_DELETE && status == 404));
  if (ok) {
    if (item->kind == REQ_DELETE) {
      q->stats.delete_ok++;
    } else {
      q->stats.put_ok++;
      q->stats.bytes += g_bytes_get_size (item->data);
      if (item->kind == REQ_PUT_SEGMENT)
        remember_uploaded (q, item->name);
    }
    GST_LOG ("upload %s: %s %s ok (%ld)", q->label, item->kind == REQ_DELETE ? "DELETE" : "PUT",
             item->name, status);
    item_free (item);
    queue_kick (q);
    return;
  }

  q->stats.failures++;
  item->attempts++;
  if (item->attempts >= MAX_ATTEMPTS) {
    GST_WARNING ("upload %s: giving up %s %s after %u attempts (%s%s%ld)", q->label,
                 item->kind == REQ_DELETE ? "DELETE" : "PUT", item->name, item->attempts,
                 code != CURLE_OK ? curl_easy_strerror (code) : "",
                 code != CURLE_OK ? ", HTTP " : "HTTP ", status);
    q->stats.given_up++;
    item_free (item);
    queue_kick (q);
    return;
  }
  guint delay = RETRY_BASE_MS << (item->attempts - 1);
  GST_INFO ("upload %s: %s %s failed (%s%s%ld), retry %u in %u ms", q->label,
            item->kind == REQ_DELETE ? "DELETE" : "PUT", item->name,
            code != CURLE_OK ? curl_easy_strerror (code) : "",
            code != CURLE_OK ? ", HTTP " : "HTTP ", status, item->attempts, delay);
  queue_put_back (q, item);
  q->retry = g_timeout_source_new (delay);
  g_source_set_callback (q->retry, on_retry, q, NULL);
  g_source_attach (q->retry, q->uploader->context);
}

static void
check_finished (ScUploader *u)
{
  CURLMsg *msg;
  int left = 0;
  while ((msg = curl_multi_info_read (u->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    ScUploadQueue *q = NULL;
    curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
    if (q && q->easy == msg->easy_handle)
      request_done (q, msg->data.result);
  }
}

static void
queue_kick (ScUploadQueue *q)
{
  if (q->current || q->retry)
    return;
  UploadItem *item = queue_take_next (q);
  if (!item)
    return;

  char *url = g_strconcat (q->base_url, item->name, NULL);
  CURL *e = curl_easy_init ();
  q->current = item;
  q->easy = e;
  q->read_pos = 0;
  curl_easy_setopt (e, CURLOPT_URL, url);
  curl_easy_setopt (e, CURLOPT_PRIVATE, q);
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
  curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt (e, CURLOPT_USERAGENT, "skillcast/" SC_VERSION);
  /* No "Expect: 100-continue" round trip before each segment. */
  q->headers = curl_slist_append (NULL, "Expect:");
  if (item->kind == REQ_DELETE) {
    curl_easy_setopt (e, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    q->headers = curl_slist_append (
        q->headers, item->kind == REQ_PUT_SEGMENT ? "Content-Type: video/mp2t"
                                                  : "Content-Type: application/vnd.apple.mpegurl");
    if (item->kind == REQ_PUT_PLAYLIST)
      q->headers = curl_slist_append (q->headers, "Cache-Control: no-cache");
    curl_easy_setopt (e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt (e, CURLOPT_READDATA, q);
    curl_easy_setopt (e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)g_bytes_get_size (item->data));
  }
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, q->headers);
  curl_multi_add_handle (q->uploader->multi, e);
  g_free (url);
}

ScUploadQueue *
sc_upload_queue_new (ScUploader *u, const char *base_url, const char *label)
{
  ScUploadQueue *q = g_new0 (ScUploadQueue, 1);
  q->uploader = u;
  q->base_url = g_strdup (base_url);
  q->label = g_strdup (label);
  g_queue_init (&q->segments);
  g_queue_init (&q->deletes);
  g_queue_init (&q->uploaded_order);
  q->uploaded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  u->queues = g_list_prepend (u->queues, q);
  return q;
}

void
sc_upload_queue_free (ScUploadQueue *q)
{
  if (!q)
    return;
  q->uploader->queues = g_list_remove (q->uploader->queues, q);
  request_cleanup (q);
  item_free (q->current);
  item_free (q->playlist);
  g_queue_clear_full (&q->segments, (GDestroyNotify)item_free);
  g_queue_clear_full (&q->deletes, (GDestroyNotify)item_free);
  g_queue_clear_full (&q->uploaded_order, g_free);
  g_hash_table_unref (q->uploaded);
  if (q->retry) {
    g_source_destroy (q->retry);
    g_source_unref (q->retry);
  }
  g_free (q->base_url);
  g_free (q->label);
  g_free (q);
}

static gboolean
strv_has (const char *const *v, const char *s)
{
  for (; v && *v; v++)
    if (g_str_equal (*v, s))
      return TRUE;
  return FALSE;
}

void
sc_upload_queue_publish (ScUploadQueue *q, const char *name, GBytes *segment, GBytes *playlist,
                         const char *const *live)
{
  if (name && segment)
    g_queue_push_tail (&q->segments, item_new (REQ_PUT_SEGMENT, name, segment));

  /* Segments that left the window: no player will ask for them. */
  for (GList *l = q->segments.head; l;) {
    GList *next = l->next;
    UploadItem *item = l->data;
    if (!strv_has (live, item->name)) {
      GST_INFO ("upload %s: dropping %s (left the playlist before it could be uploaded)", q->label,
                item->name);
      q->stats.dropped++;
      item_free (item);
      g_queue_delete_link (&q->segments, l);
    }
    l = next;
  }
  while (g_queue_get_length (&q->segments) > MAX_PENDING_SEGMENTS) {
    q->stats.dropped++;
    item_free (g_queue_pop_head (&q->segments));
  }

  if (playlist) {
    item_free (q->playlist);
    q->playlist = item_new (REQ_PUT_PLAYLIST, "index.m3u8", playlist);
  }

  /* Uploaded segments that left the window get DELETEd (after the
   * playlist that no longer names them, by queue priority). */
  GPtrArray *gone = g_ptr_array_new_with_free_func (g_free);
  for (GList *l = q->uploaded_order.head; l; l = l->next)
    if (!strv_has (live, l->data))
      g_ptr_array_add (gone, g_strdup (l->data));
  for (guint i = 0; i < gone->len; i++) {
    const char *n = g_ptr_array_index (gone, i);
    forget_uploaded (q, n);
    g_queue_push_tail (&q->deletes, item_new (REQ_DELETE, n, NULL));
  }
  g_ptr_array_unref (gone);
  while (g_queue_get_length (&q->deletes) > MAX_PENDING_DELETES)
    item_free (g_queue_pop_head (&q->deletes));

  queue_kick (q);
}

guint
sc_upload_queue_pending (ScUploadQueue *q)
{
  return g_queue_get_length (&q->segments) + g_queue_get_length (&q->deletes)
         + (q->playlist ? 1 : 0) + (q->current ? 1 : 0);
}

void
sc_upload_queue_stats (ScUploadQueue *q, ScUploadStats *stats)
{
  *stats = q->stats;
}
