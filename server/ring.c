/* ring — refcounted messages and the per-endpoint rings clients read from
 * with their own position (the lws_ring idea, with byte accounting). */
#include <libwebsockets.h>
#include <string.h>
#include "server/server-private.h"

G_STATIC_ASSERT (SC_MSG_PRE == LWS_PRE);

ScMsg *
sc_msg_new (const void *data, gsize len, gboolean binary)
{
  ScMsg *msg = g_malloc (sizeof (ScMsg) + SC_MSG_PRE + len);
  msg->ref = 1;
  msg->len = (guint32)len;
  msg->binary = binary ? 1 : 0;
  msg->keyframe = 0;
  msg->at_us = g_get_monotonic_time ();
  if (len)
    memcpy (msg->buf + SC_MSG_PRE, data, len);
  return msg;
}

ScMsg *
sc_msg_ref (ScMsg *msg)
{
  g_atomic_int_inc (&msg->ref);
  return msg;
}

void
sc_msg_unref (ScMsg *msg)
{
  if (msg && g_atomic_int_dec_and_test (&msg->ref))
    g_free (msg);
}

void
sc_ring_init (ScRing *ring, guint capacity_pow2, gsize max_bytes)
{
  g_assert (capacity_pow2 && (capacity_pow2 & (capacity_pow2 - 1)) == 0);
  ring->slots = g_new0 (ScMsg *, capacity_pow2);
  ring->offsets = g_new0 (guint64, capacity_pow2);
  ring->mask = capacity_pow2 - 1;
  ring->base = ring->head = 0;
  ring->bytes_total = 0;
  ring->max_bytes = max_bytes;
}

void
sc_ring_clear (ScRing *ring)
{
  for (guint64 s = ring->base; s < ring->head; s++)
    sc_msg_unref (ring->slots[s & ring->mask]);
  g_clear_pointer (&ring->slots, g_free);
  g_clear_pointer (&ring->offsets, g_free);
  ring->base = ring->head;
}

static void
ring_pop (ScRing *ring)
{
  ScMsg **slot = &ring->slots[ring->base & ring->mask];
  g_clear_pointer (slot, sc_msg_unref);
  ring->base++;
}

guint64
sc_ring_push (ScRing *ring, ScMsg *msg)
{
  if (ring->head - ring->base > ring->mask)
    ring_pop (ring);
  guint64 seq = ring->head;
  ring->offsets[seq & ring->mask] = ring->bytes_total;
  ring->slots[seq & ring->mask] = sc_msg_ref (msg);
  ring->head++;
  ring->bytes_total += msg->len;
  /* Keep the newest message even if it alone is over the limit. */
  while (ring->head - ring->base > 1
         && ring->bytes_total - ring->offsets[ring->base & ring->mask] > ring->max_bytes)
    ring_pop (ring);
  return seq;
}

ScMsg *
sc_ring_get (const ScRing *ring, guint64 seq)
{
  if (seq < ring->base || seq >= ring->head)
    return NULL;
  return ring->slots[seq & ring->mask];
}

guint64
sc_ring_backlog (const ScRing *ring, guint64 seq)
{
  if (seq >= ring->head)
    return 0;
  if (seq < ring->base)
    return G_MAXUINT64;
  return ring->bytes_total - ring->offsets[seq & ring->mask];
}
