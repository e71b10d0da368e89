/* mixer-compose.c — the per-frame work of the program thread: row copies,
 * fills, the fade blend and the audio mix. Plain loops over bytes that the
 * compiler vectorizes; no allocation, no locks. */
#include <math.h>
#include <string.h>
#include "mixer/mixer-private.h"

void
sc_mixer_fill_rect (GstVideoFrame *frame, int x, int y, int width, int height, guint8 yv, guint8 u,
                    guint8 v)
{
  const guint8 values[3] = { yv, u, v };

  for (int p = 0; p < 3; p++) {
    int shift = p == 0 ? 0 : 1;
    int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
    guint8 *base = GST_VIDEO_FRAME_PLANE_DATA (frame, p);
    int px = x >> shift, py = y >> shift, pw = width >> shift, ph = height >> shift;

    for (int row = 0; row < ph; row++)
      memset (base + (gsize)(py + row) * stride + px, values[p], pw);
  }
}

/* Nearest-neighbour scale of SRC into the tile: only for the frame or two
 * after a layout change, until ingest delivers the new tile size, so it
 * favours being cheap and never stalling over looking good. */
static void
scale_tile (GstVideoFrame *dst, int x, int y, int width, int height, const GstVideoFrame *src)
{
  int sw = GST_VIDEO_FRAME_WIDTH (src), sh = GST_VIDEO_FRAME_HEIGHT (src);
  int *xmap = g_newa (int, width);

  for (int p = 0; p < 3; p++) {
    int shift = p == 0 ? 0 : 1;
    int pw = width >> shift, ph = height >> shift;
    int spw = MAX (sw >> shift, 1), sph = MAX (sh >> shift, 1);
    int dstride = GST_VIDEO_FRAME_PLANE_STRIDE (dst, p);
    int sstride = GST_VIDEO_FRAME_PLANE_STRIDE (src, p);
    guint8 *d = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (dst, p) + (gsize)(y >> shift) * dstride
                + (x >> shift);
    const guint8 *s = GST_VIDEO_FRAME_PLANE_DATA (src, p);

    for (int i = 0; i < pw; i++)
      xmap[i] = (int)((gint64)i * spw / pw);
    for (int row = 0; row < ph; row++) {
      const guint8 *sr = s + (gsize)((gint64)row * sph / ph) * sstride;
      guint8 *dr = d + (gsize)row * dstride;
      for (int i = 0; i < pw; i++)
        dr[i] = sr[xmap[i]];
    }
  }
}

void
sc_mixer_copy_tile (GstVideoFrame *dst, int x, int y, int width, int height,
                    const GstVideoFrame *src)
{
  int sw = GST_VIDEO_FRAME_WIDTH (src), sh = GST_VIDEO_FRAME_HEIGHT (src);

  if (sw != width || sh != height) {
    scale_tile (dst, x, y, width, height, src);
    return;
  }
  for (int p = 0; p < 3; p++) {
    int shift = p == 0 ? 0 : 1;
    int dstride = GST_VIDEO_FRAME_PLANE_STRIDE (dst, p);
    int sstride = GST_VIDEO_FRAME_PLANE_STRIDE (src, p);
    guint8 *d = (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (dst, p) + (gsize)(y >> shift) * dstride
                + (x >> shift);
    const guint8 *s = GST_VIDEO_FRAME_PLANE_DATA (src, p);
    int rows = height >> shift, bytes = width >> shift;

    for (int row = 0; row < rows; row++)
      memcpy (d + (gsize)row * dstride, s + (gsize)row * sstride, bytes);
  }
}

void
sc_mixer_blend_frames (GstVideoFrame *dst, const GstVideoFrame *from, guint alpha)
{
  const guint a = MIN (alpha, 256), b = 256 - a;

  for (int p = 0; p < 3; p++) {
    int rows = GST_VIDEO_FRAME_COMP_HEIGHT (dst, p);
    int bytes = GST_VIDEO_FRAME_COMP_WIDTH (dst, p);
    int dstride = GST_VIDEO_FRAME_PLANE_STRIDE (dst, p);
    int fstride = GST_VIDEO_FRAME_PLANE_STRIDE (from, p);
    guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (dst, p);
    const guint8 *f = GST_VIDEO_FRAME_PLANE_DATA (from, p);

    for (int row = 0; row < rows; row++) {
      guint8 *dr = d + (gsize)row * dstride;
      const guint8 *fr = f + (gsize)row * fstride;
      for (int i = 0; i < bytes; i++)
        dr[i] = (guint8)((fr[i] * b + dr[i] * a + 128) >> 8);
    }
  }
}

int
sc_mixer_gain_q12 (double gain_db)
{
  return (int)lround (4096.0 * pow (10.0, gain_db / 20.0));
}

void
sc_mixer_audio_accumulate (gint32 *acc, const gint16 *in, gsize n, int gain_q12)
{
  /* |in| * gain < 2^15 * 2^14 (+12 dB is ~4x): fits in 32 bits. */
  for (gsize i = 0; i < n; i++)
    acc[i] += (in[i] * gain_q12) >> 12;
}

void
sc_mixer_audio_finish (gint16 *out, const gint32 *acc, gsize n, int gain_q12)
{
  for (gsize i = 0; i < n; i++) {
    gint64 s = ((gint64)acc[i] * gain_q12) >> 12;
    out[i] = (gint16)CLAMP (s, G_MININT16, G_MAXINT16);
  }
}
