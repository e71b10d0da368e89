/* server internals shared by the server's .c files; not a public header. */
#pragma once

#include <gst/gst.h>
#include "server/server.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (sc_server_debug);
#define GST_CAT_DEFAULT sc_server_debug

/* ---- Messages and rings (ring.c) ----
 *
 * A message is serialized once and shared by every client that sends it:
 * refcounted, immutable after creation, with LWS_PRE bytes of headroom in
 * front of the payload so lws_write() can put the frame header there
 * without a copy. */
typedef struct {
  gint ref;
  guint32 len; /* payload bytes */
  gboolean binary : 1;
  gboolean keyframe : 1;
  gint64 at_us;        /* monotonic time it was published */
  unsigned char buf[]; /* SC_MSG_PRE headroom, then len payload bytes */
} ScMsg;

/* = LWS_PRE; checked in ring.c so this header does not need lws. */
#define SC_MSG_PRE 16

ScMsg *sc_msg_new (const void *data, gsize len, gboolean binary);
ScMsg *sc_msg_ref (ScMsg *msg);
void sc_msg_unref (ScMsg *msg);
static inline unsigned char *
sc_msg_payload (ScMsg *msg)
{
  return msg->buf + SC_MSG_PRE;
}

/* A ring of messages addressed by a 64-bit sequence number. Clients keep
 * the sequence number of the next message they will send; the ring never
 * waits for them. It keeps at most MAX_BYTES of payload (plus the newest
 * message) and MAX_COUNT messages: a client whose next message was dropped
 * from the front is, by construction, more than MAX_BYTES behind. */
typedef struct {
  ScMsg **slots;
  guint64 *offsets; /* ring bytes published before each slot's message; per
                     * ring, as one message may sit in several rings */
  guint64 mask;
  guint64 base;        /* seq of the oldest message held */
  guint64 head;        /* seq the next message will get */
  guint64 bytes_total; /* bytes ever published */
  gsize max_bytes;
} ScRing;

void sc_ring_init (ScRing *ring, guint capacity_pow2, gsize max_bytes);
void sc_ring_clear (ScRing *ring);
/* Appends (takes a reference) and drops from the front what no longer
 * fits. Returns the message's seq. */
guint64 sc_ring_push (ScRing *ring, ScMsg *msg);
/* The message at SEQ (borrowed), or NULL if not held. */
ScMsg *sc_ring_get (const ScRing *ring, guint64 seq);
/* Bytes between SEQ and the head; G_MAXUINT64 if SEQ was dropped. */
guint64 sc_ring_backlog (const ScRing *ring, guint64 seq);

/* ---- Static files (files.c) ---- */

/* Resolves REL (a request path below ROOT, already percent-decoded) to a
 * regular file inside ROOT. Refuses "..", backslashes, control bytes, and
 * anything whose real path (symlinks followed) leaves ROOT. Returns the
 * absolute path (caller frees) or NULL. */
char *sc_server_resolve_file (const char *root, const char *rel);
/* Content type by file extension. */
const char *sc_server_content_type (const char *path);

G_END_DECLS
