/* ingest-srt — one libsrt listener per port shared by the stations that
 * name it, each picked by the caller's streamid (see ingest-srt.h).
 *
 * A port's listener has its own thread: an srt_epoll loop (100 ms
 * timeout) over the listening socket and the accepted callers. libsrt
 * calls on_listen (its own receive thread) during each caller's
 * handshake, before the caller is accepted: that is where the streamid is
 * checked and the station's passphrase set on the new socket, so libsrt
 * itself refuses a wrong passphrase (BADSECRET) — silently, as far as the
 * application goes: a caller let in here that is not accepted within 1 s
 * is reported as "did not complete the handshake".
 *
 * Locking: port->lock guards the port's station list and every station's
 * fields below it. No srt_* function is ever called with it held: libsrt
 * calls on_listen with its own locks held and on_listen takes port->lock,
 * so the other order would deadlock. The registry lock guards the table
 * of ports and is taken before a port's lock, never after.
 */
#include "ingest/ingest-srt.h"

#include "ingest/ingest.h"

#include <arpa/inet.h>
#include <gst/app/gstappsrc.h>
#include <netinet/in.h>
#include <srt/access_control.h>
#include <srt/srt.h>
#include <string.h>
#include <sys/socket.h>

GST_DEBUG_CATEGORY_EXTERN (sc_ingest_debug);
#define GST_CAT_DEFAULT sc_ingest_debug

#define EPOLL_WAIT_MS 100
/* A caller let in by streamid that is not accepted after this was refused
 * by libsrt (wrong or missing passphrase). */
#define HANDSHAKE_US (1 * G_TIME_SPAN_SECOND)
/* A station whose caller sent something this recently is busy: a second
 * caller is refused. One that has been silent longer is replaced by the
 * new caller (a pusher that restarted before libsrt noticed its old
 * connection was dead, which takes libsrt ~5 s). Same as the health
 * machine's stall time: by then the station is lost anyway. */
#define BUSY_US (500 * G_TIME_SPAN_MILLISECOND)
/* Bytes gathered from one caller into one buffer per wake-up. */
#define CHUNK_BYTES (64 * 1024)
#define SRT_MSG_MAX 1500

typedef struct ScSrtPort ScSrtPort;

struct ScSrtStation {
  ScSrtPort *port;
  char *id;
  char *streamid; /* NULL: the port is this station's alone, any streamid */
  char *passphrase;
  int latency_ms;
  ScSrtRejectFunc on_reject;
  gpointer user_data;
  /* port->lock: */
  gboolean running;   /* counted in port->running */
  GstElement *appsrc; /* the current pipeline's, or NULL */
  SRTSOCKET sock;     /* the caller, or SRT_INVALID_SOCK */
  char caller[64];
  gint64 last_data_us;
  gint64 pending_us; /* a caller let in, not accepted yet */
  char pending_who[64];
};

struct ScSrtPort {
  int port;
  char *host; /* "" = any */
  GMutex lock;
  /* registry lock: */
  GList *stations; /* ScSrtStation* */
  /* main loop only: */
  guint running; /* stations started (attached since their last stop) */
  SRTSOCKET lsn;
  int eid;
  GThread *thread;
  gint stop; /* atomic */
  /* lock: */
  GList *orphans;  /* sockets whose station left: the thread closes them */
  guint64 unknown; /* callers refused for an unknown streamid */
};

static GMutex registry_lock;
static GHashTable *ports; /* port number → ScSrtPort* */

/* ---------- helpers ---------- */

static void
addr_to_string (const struct sockaddr *sa, char *out, gsize size)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
    inet_ntop (AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs (in->sin_port);
  } else if (sa && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
    inet_ntop (AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    port = ntohs (in6->sin6_port);
  }
  g_snprintf (out, size, "%s:%d", ip, port);
}

/* The station of STREAMID on PORT: the one that names it, or the port's
 * only station when that one names none (it takes any caller). Lock held. */
static ScSrtStation *
find_station (ScSrtPort *port, const char *streamid)
{
  for (GList *l = port->stations; l; l = l->next) {
    ScSrtStation *st = l->data;
    if (!st->streamid || !g_strcmp0 (st->streamid, streamid))
      return st;
  }
  return NULL;
}

static ScSrtStation *
find_by_sock (ScSrtPort *port, SRTSOCKET sock)
{
  for (GList *l = port->stations; l; l = l->next) {
    ScSrtStation *st = l->data;
    if (st->sock == sock)
      return st;
  }
  return NULL;
}

/* ---------- libsrt's thread ---------- */

/* A caller's handshake: pick its station by streamid. Returning -1 makes
 * libsrt refuse the caller (with the reason set here). */
static int
on_listen (void *opaque, SRTSOCKET ns, int hsversion, const struct sockaddr *peer,
           const char *streamid)
{
  ScSrtPort *port = opaque;
  char who[64], msg[256] = "";
  char *passphrase = NULL;
  int latency_ms = -1, reason = 0;
  addr_to_string (peer, who, sizeof who);
  streamid = streamid ? streamid : "";
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&port->lock);
  ScSrtStation *st = find_station (port, streamid);
  if (!st) {
    port->unknown++;
    g_snprintf (msg, sizeof msg, "rejected SRT caller %s on port %d: unknown streamid \"%s\"", who,
                port->port, streamid);
    GST_WARNING ("%s (%" G_GUINT64_FORMAT " so far on this port)", msg, port->unknown);
    /* Nobody's station, so everybody on the port is told: it counts in
     * each one's `rejected`. */
    for (GList *l = port->stations; l; l = l->next) {
      ScSrtStation *o = l->data;
      o->on_reject (msg, o->user_data);
    }
    reason = SRT_REJX_NOTFOUND;
  } else if (!st->running) {
    g_snprintf (msg, sizeof msg, "rejected SRT caller %s for station %s: station not running", who,
                st->id);
    GST_WARNING ("%s", msg);
    st->on_reject (msg, st->user_data);
    reason = SRT_REJX_DOWN;
  } else if (st->sock != SRT_INVALID_SOCK && now - st->last_data_us < BUSY_US) {
    g_snprintf (msg, sizeof msg,
                "rejected SRT caller %s for station %s: it already has a caller (%s)", who, st->id,
                st->caller);
    GST_WARNING ("%s", msg);
    st->on_reject (msg, st->user_data);
    reason = SRT_REJX_CONFLICT;
  } else {
    GST_INFO ("station %s: SRT caller %s (streamid \"%s\") connecting on port %d", st->id, who,
              streamid, port->port);
    passphrase = g_strdup (st->passphrase);
    latency_ms = st->latency_ms;
    /* The first attempt starts the clock: a caller retrying faster than
     * HANDSHAKE_US is still reported. */
    if (!st->pending_us) {
      st->pending_us = now;
      g_strlcpy (st->pending_who, who, sizeof st->pending_who);
    }
  }
  g_mutex_unlock (&port->lock);

  if (reason) {
    srt_setrejectreason (ns, reason);
    return -1;
  }
  /* A station without passphrase leaves the socket without one: libsrt
   * (enforced encryption, its default) then refuses encrypted callers. */
  if (passphrase &&
      srt_setsockflag (ns, SRTO_PASSPHRASE, passphrase, (int) strlen (passphrase)) == SRT_ERROR) {
    GST_WARNING ("SRT port %d: cannot set the passphrase: %s", port->port, srt_getlasterror_str ());
    g_free (passphrase);
    return -1;
  }
  g_free (passphrase);
  if (latency_ms >= 0 &&
      srt_setsockflag (ns, SRTO_RCVLATENCY, &latency_ms, sizeof latency_ms) == SRT_ERROR)
    GST_WARNING ("SRT port %d: cannot set the latency: %s", port->port, srt_getlasterror_str ());
  (void) hsversion;
  return 0;
}

/* ---------- the port's thread ---------- */

static void
close_caller (ScSrtPort *port, SRTSOCKET sock)
{
  srt_epoll_remove_usock (port->eid, sock);
  srt_close (sock);
}

/* A new caller: it replaces its station's silent one (on_listen refused
 * it when the old one was still sending). One per wake-up: the epoll is
 * level-triggered, and a non-blocking srt_accept with nobody waiting
 * writes an error line into libsrt's log. */
static void
accept_caller (ScSrtPort *port)
{
  struct sockaddr_storage ss;
  int len = sizeof ss;
  SRTSOCKET ns = srt_accept (port->lsn, (struct sockaddr *) &ss, &len);
  if (ns == SRT_INVALID_SOCK)
    return;
  char sid[513] = "";
  int sid_len = sizeof sid - 1;
  if (srt_getsockflag (ns, SRTO_STREAMID, sid, &sid_len) == SRT_ERROR)
    sid_len = 0;
  sid[MAX (0, MIN (sid_len, (int) sizeof sid - 1))] = '\0';
  char who[64];
  addr_to_string ((struct sockaddr *) &ss, who, sizeof who);

  SRTSOCKET old = SRT_INVALID_SOCK;
  gboolean keep = FALSE;
  g_mutex_lock (&port->lock);
  ScSrtStation *st = find_station (port, sid);
  if (st && st->running) {
    old = st->sock;
    st->sock = ns;
    g_strlcpy (st->caller, who, sizeof st->caller);
    /* Busy from now: a second caller cannot take over a connection
     * that has not sent its first bytes yet. */
    st->last_data_us = g_get_monotonic_time ();
    st->pending_us = 0;
    keep = TRUE;
    GST_INFO ("station %s: SRT caller %s connected on port %d%s", st->id, who, port->port,
              old != SRT_INVALID_SOCK ? " (replaces its silent caller)" : "");
  }
  g_mutex_unlock (&port->lock);
  if (old != SRT_INVALID_SOCK)
    close_caller (port, old);
  if (!keep) {
    GST_INFO ("SRT port %d: caller %s (streamid \"%s\") has no running station any more",
              port->port, who, sid);
    srt_close (ns);
    return;
  }
  int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock (port->eid, ns, &events);
}

/* Everything the caller has sent, into its station's pipeline. */
static void
read_caller (ScSrtPort *port, SRTSOCKET sock)
{
  gboolean broken = FALSE;
  for (;;) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, CHUNK_BYTES, NULL);
    GstMapInfo map;
    gsize got = 0;
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    while (got + SRT_MSG_MAX <= CHUNK_BYTES) {
      int n = srt_recvmsg (sock, (char *) map.data + got, SRT_MSG_MAX);
      if (n == SRT_ERROR) {
        if (srt_getlasterror (NULL) != SRT_EASYNCRCV)
          broken = TRUE;
        break;
      }
      if (n == 0)
        break;
      got += n;
    }
    gst_buffer_unmap (buf, &map);
    gboolean more = got + SRT_MSG_MAX > CHUNK_BYTES && !broken;
    const char *why = broken ? srt_getlasterror_str () : NULL;

    GstElement *appsrc = NULL;
    g_mutex_lock (&port->lock);
    ScSrtStation *st = find_by_sock (port, sock);
    if (st && got > 0) {
      st->last_data_us = g_get_monotonic_time ();
      if (st->appsrc)
        appsrc = gst_object_ref (st->appsrc);
    }
    if (st && broken) {
      GST_INFO ("station %s: SRT caller %s gone (%s)", st->id, st->caller, why);
      st->sock = SRT_INVALID_SOCK;
    }
    g_mutex_unlock (&port->lock);

    if (appsrc && got > 0) {
      gst_buffer_set_size (buf, got);
      /* A pipeline being torn down answers FLUSHING: dropped. */
      gst_app_src_push_buffer (GST_APP_SRC (appsrc), buf);
      buf = NULL;
    }
    gst_clear_object (&appsrc);
    if (buf)
      gst_buffer_unref (buf);
    if (broken) {
      close_caller (port, sock);
      return;
    }
    if (!more)
      return;
  }
}

/* Every wake-up: callers of stopped stations and of stations that left
 * are closed, and callers that never finished their handshake reported. */
static void
housekeeping (ScSrtPort *port)
{
  GArray *close = g_array_new (FALSE, FALSE, sizeof (SRTSOCKET));
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&port->lock);
  for (GList *l = port->orphans; l; l = l->next) {
    SRTSOCKET s = GPOINTER_TO_INT (l->data);
    g_array_append_val (close, s);
  }
  g_clear_pointer (&port->orphans, g_list_free);
  for (GList *l = port->stations; l; l = l->next) {
    ScSrtStation *st = l->data;
    if (!st->running && st->sock != SRT_INVALID_SOCK) {
      g_array_append_val (close, st->sock);
      st->sock = SRT_INVALID_SOCK;
    }
    if (st->pending_us && now - st->pending_us > HANDSHAKE_US) {
      char msg[256];
      g_snprintf (msg, sizeof msg,
                  "SRT caller %s did not complete the handshake (wrong or missing passphrase?)",
                  st->pending_who);
      GST_WARNING ("station %s: %s", st->id, msg);
      st->on_reject (msg, st->user_data);
      st->pending_us = 0;
    }
  }
  g_mutex_unlock (&port->lock);
  for (guint i = 0; i < close->len; i++)
    close_caller (port, g_array_index (close, SRTSOCKET, i));
  g_array_free (close, TRUE);
}

static gpointer
port_thread (gpointer data)
{
  ScSrtPort *port = data;
  SRT_EPOLL_EVENT ev[16];
  while (!g_atomic_int_get (&port->stop)) {
    int n = srt_epoll_uwait (port->eid, ev, G_N_ELEMENTS (ev), EPOLL_WAIT_MS);
    for (int i = 0; i < n; i++) {
      if (ev[i].fd == port->lsn)
        accept_caller (port);
      else
        read_caller (port, ev[i].fd);
    }
    housekeeping (port);
  }
  return NULL;
}

/* ---------- main loop ---------- */

static gboolean
port_open (ScSrtPort *port, GError **error)
{
  srt_startup ();
  port->lsn = srt_create_socket ();
  int no = 0, live = SRTT_LIVE;
  struct sockaddr_storage ss = { 0 };
  socklen_t len;
  const char *host = *port->host ? port->host : "0.0.0.0";
  struct sockaddr_in *in = (struct sockaddr_in *) &ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
  if (inet_pton (AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons (port->port);
    len = sizeof *in;
  } else if (inet_pton (AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons (port->port);
    len = sizeof *in6;
  } else {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
                 "SRT listener: \"%s\" is not an IP address to listen on", host);
    goto fail;
  }
  /* Non-blocking: srt_accept and srt_recvmsg return at once (accepted
   * sockets inherit it) and the epoll loop does the waiting. */
  srt_setsockflag (port->lsn, SRTO_TRANSTYPE, &live, sizeof live);
  srt_setsockflag (port->lsn, SRTO_RCVSYN, &no, sizeof no);
  srt_setsockflag (port->lsn, SRTO_SNDSYN, &no, sizeof no);
  if (srt_listen_callback (port->lsn, on_listen, port) == SRT_ERROR ||
      srt_bind (port->lsn, (struct sockaddr *) &ss, (int) len) == SRT_ERROR ||
      srt_listen (port->lsn, 16) == SRT_ERROR) {
    g_set_error (error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE, "SRT listener on %s:%d: %s", host,
                 port->port, srt_getlasterror_str ());
    goto fail;
  }
  port->eid = srt_epoll_create ();
  int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock (port->eid, port->lsn, &events);
  g_atomic_int_set (&port->stop, 0);
  char name[16];
  g_snprintf (name, sizeof name, "srt-%d", port->port);
  port->thread = g_thread_new (name, port_thread, port);
  GST_INFO ("SRT port %d: listening for callers", port->port);
  return TRUE;

fail:
  srt_close (port->lsn);
  port->lsn = SRT_INVALID_SOCK;
  srt_cleanup ();
  return FALSE;
}

/* The last station stopped: thread, callers and listener closed. */
static void
port_close (ScSrtPort *port)
{
  if (!port->thread)
    return;
  g_atomic_int_set (&port->stop, 1);
  g_thread_join (port->thread);
  port->thread = NULL;
  /* The thread is gone: nothing else closes sockets now. */
  housekeeping (port);
  g_mutex_lock (&port->lock);
  GArray *close = g_array_new (FALSE, FALSE, sizeof (SRTSOCKET));
  for (GList *l = port->stations; l; l = l->next) {
    ScSrtStation *st = l->data;
    if (st->sock != SRT_INVALID_SOCK)
      g_array_append_val (close, st->sock);
    st->sock = SRT_INVALID_SOCK;
    st->pending_us = 0;
  }
  g_mutex_unlock (&port->lock);
  for (guint i = 0; i < close->len; i++)
    srt_close (g_array_index (close, SRTSOCKET, i));
  g_array_free (close, TRUE);
  srt_epoll_release (port->eid);
  /* After srt_close of the listener libsrt calls on_listen no more (it
   * waits for a handshake in progress). */
  srt_close (port->lsn);
  port->lsn = SRT_INVALID_SOCK;
  srt_cleanup ();
  GST_INFO ("SRT port %d: listener closed", port->port);
}

ScSrtStation *
sc_srt_station_register (const char *station_id, const char *host, int port_number,
                         const char *streamid, const char *passphrase, int latency_ms,
                         ScSrtRejectFunc on_reject, gpointer user_data, GError **error)
{
  host = host ? host : "";
  g_mutex_lock (&registry_lock);
  if (!ports)
    ports = g_hash_table_new (g_direct_hash, g_direct_equal);
  ScSrtPort *port = g_hash_table_lookup (ports, GINT_TO_POINTER (port_number));
  if (port) {
    for (GList *l = port->stations; l; l = l->next) {
      ScSrtStation *o = l->data;
      const char *why = NULL;
      if (!o->streamid || !streamid)
        why = "stations sharing an SRT listener port need distinct streamids "
              "(srt://:PORT?streamid=ID)";
      else if (!strcmp (o->streamid, streamid))
        why = "the streamid is already used on this port";
      else if (strcmp (port->host, host))
        why = "stations sharing an SRT port must listen on the same address";
      if (why) {
        g_set_error (
            error, SC_INGEST_ERROR, SC_INGEST_ERROR_SOURCE,
            "SRT listener port %d is also station %s's (streamid \"%s\", this one \"%s\"): "
            "%s",
            port_number, o->id, o->streamid ? o->streamid : "", streamid ? streamid : "", why);
        g_mutex_unlock (&registry_lock);
        return NULL;
      }
    }
  } else {
    port = g_new0 (ScSrtPort, 1);
    port->port = port_number;
    port->host = g_strdup (host);
    port->lsn = SRT_INVALID_SOCK;
    g_mutex_init (&port->lock);
    g_hash_table_insert (ports, GINT_TO_POINTER (port_number), port);
  }
  ScSrtStation *st = g_new0 (ScSrtStation, 1);
  st->port = port;
  st->id = g_strdup (station_id);
  st->streamid = g_strdup (streamid);
  st->passphrase = g_strdup (passphrase);
  st->latency_ms = latency_ms;
  st->on_reject = on_reject;
  st->user_data = user_data;
  st->sock = SRT_INVALID_SOCK;
  g_mutex_lock (&port->lock);
  port->stations = g_list_append (port->stations, st);
  g_mutex_unlock (&port->lock);
  g_mutex_unlock (&registry_lock);
  return st;
}

void
sc_srt_station_unregister (ScSrtStation *st)
{
  if (!st)
    return;
  sc_srt_station_stop (st);
  ScSrtPort *port = st->port;
  g_mutex_lock (&registry_lock);
  g_mutex_lock (&port->lock);
  port->stations = g_list_remove (port->stations, st);
  if (st->sock != SRT_INVALID_SOCK)
    port->orphans = g_list_prepend (port->orphans, GINT_TO_POINTER (st->sock));
  gboolean last = port->stations == NULL;
  g_mutex_unlock (&port->lock);
  if (last) {
    /* Every station stopped before it left: the listener is closed. */
    g_hash_table_remove (ports, GINT_TO_POINTER (port->port));
    g_list_free (port->orphans);
    g_mutex_clear (&port->lock);
    g_free (port->host);
    g_free (port);
  }
  g_mutex_unlock (&registry_lock);
  g_free (st->id);
  g_free (st->streamid);
  g_free (st->passphrase);
  g_free (st);
}

gboolean
sc_srt_station_attach (ScSrtStation *st, GstElement *appsrc, GError **error)
{
  ScSrtPort *port = st->port;
  g_mutex_lock (&registry_lock);
  if (!port->thread && !port_open (port, error)) {
    g_mutex_unlock (&registry_lock);
    return FALSE;
  }
  g_mutex_lock (&port->lock);
  if (!st->running) {
    st->running = TRUE;
    port->running++;
  }
  gst_object_replace ((GstObject **) &st->appsrc, GST_OBJECT (appsrc));
  g_mutex_unlock (&port->lock);
  g_mutex_unlock (&registry_lock);
  return TRUE;
}

void
sc_srt_station_detach (ScSrtStation *st)
{
  if (!st)
    return;
  g_mutex_lock (&st->port->lock);
  gst_object_replace ((GstObject **) &st->appsrc, NULL);
  g_mutex_unlock (&st->port->lock);
}

void
sc_srt_station_stop (ScSrtStation *st)
{
  if (!st)
    return;
  ScSrtPort *port = st->port;
  g_mutex_lock (&registry_lock);
  g_mutex_lock (&port->lock);
  gst_object_replace ((GstObject **) &st->appsrc, NULL);
  gboolean was = st->running;
  st->running = FALSE;
  st->pending_us = 0;
  if (was)
    port->running--;
  gboolean close = was && port->running == 0;
  /* The thread closes this station's caller on its next wake-up. */
  g_mutex_unlock (&port->lock);
  if (close)
    port_close (port);
  g_mutex_unlock (&registry_lock);
}
