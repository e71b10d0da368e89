/* ScOverlayImage: a cairo ARGB32 picture turned, once per render, into
 * what a per-frame I420 blend needs, so that the streaming thread does only
 * integer multiply-adds over the drawn area.
 *
 * Per rectangle we keep
 *   y[]  : premultiplied luma,   Y' * a / 255, full resolution
 *   a[]  : alpha, full resolution
 *   u[], v[] : premultiplied chroma, U' * a / 255, averaged over 2x2
 *   ca[] : alpha averaged over the same 2x2
 * and blend with   dst = src + dst * (255 - a) / 255   on every plane
 * (the "over" operator on premultiplied values). Y'/U'/V' are limited
 * range (16-235 / 16-240) with the matrix of the target frames.
 */
#include "overlay/overlay-private.h"

#include <string.h>

GST_DEBUG_CATEGORY (sc_overlay_debug);

void
sc_overlay_debug_init (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (sc_overlay_debug, "sc-overlay", 0, "skillcast overlay graphics");
    g_once_init_leave (&once, 1);
  }
}

typedef struct {
  int x, y, w, h; /* in image coordinates; x and y are even */
  int cw, ch;     /* chroma plane size: (w+1)/2, (h+1)/2 */
  guint8 *y_pm, *a, *u_pm, *v_pm, *ca;
} ScOverlayRect;

struct ScOverlayImage {
  gatomicrefcount rc;
  int width, height; /* extent of the picture it came from */
  GstVideoColorMatrix matrix;
  guint n_rects;
  ScOverlayRect *rects;
  guint8 *pixels; /* one block holding every rect's planes */
};

ScOverlayImage *
sc_overlay_image_ref (ScOverlayImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_atomic_ref_count_inc (&image->rc);
  return image;
}

void
sc_overlay_image_unref (ScOverlayImage *image)
{
  if (image == NULL)
    return;
  if (g_atomic_ref_count_dec (&image->rc)) {
    g_free (image->pixels);
    g_free (image->rects);
    g_free (image);
  }
}

guint
sc_overlay_image_n_rects (const ScOverlayImage *image)
{
  return image->n_rects;
}

guint64
sc_overlay_image_area (const ScOverlayImage *image)
{
  guint64 area = 0;
  for (guint i = 0; i < image->n_rects; i++)
    area += (guint64) image->rects[i].w * image->rects[i].h;
  return area;
}

GstVideoColorMatrix
sc_overlay_default_matrix (int width, int height)
{
  GstVideoInfo info;
  if (width > 0 && height > 0
      && gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, width, height))
    return info.colorimetry.matrix;
  return height > 576 ? GST_VIDEO_COLOR_MATRIX_BT709 : GST_VIDEO_COLOR_MATRIX_BT601;
}

/* ---- Finding the drawn regions ---- */

/* Rows per band. Drawn areas are found band by band as column spans, and a
 * span identical to the one above it extends that rect downwards. */
#define BAND 8
/* Transparent gaps narrower than this stay inside one rect: a few empty
 * pixels cost less to blend than another rect's loop overhead. */
#define GAP 24

static gboolean
row_has_alpha (const guint32 *row, int x0, int x1)
{
  guint32 acc = 0;
  for (int x = x0; x < x1; x++)
    acc |= row[x];
  return (acc & 0xff000000u) != 0;
}

static void
find_rects (cairo_surface_t *surface, GArray *rects)
{
  int width = cairo_image_surface_get_width (surface);
  int height = cairo_image_surface_get_height (surface);
  int stride = cairo_image_surface_get_stride (surface);
  const guint8 *data = cairo_image_surface_get_data (surface);
  guint8 *col = g_malloc (width);
  /* Rects of the previous band, as indexes into RECTS, that may grow. */
  GArray *open = g_array_new (FALSE, FALSE, sizeof (guint));
  GArray *next_open = g_array_new (FALSE, FALSE, sizeof (guint));

  for (int y0 = 0; y0 < height; y0 += BAND) {
    int y1 = MIN (y0 + BAND, height);
    memset (col, 0, width);
    for (int y = y0; y < y1; y++) {
      const guint32 *row = (const guint32 *) (data + (gsize) y * stride);
      /* Skip empty rows cheaply: most of the picture is transparent. */
      if (!row_has_alpha (row, 0, width))
        continue;
      for (int x = 0; x < width; x++)
        col[x] |= row[x] >> 24;
    }
    g_array_set_size (next_open, 0);
    int x = 0;
    while (x < width) {
      while (x < width && col[x] == 0)
        x++;
      if (x >= width)
        break;
      int sx0 = x, sx1 = x, gap = 0;
      while (x < width && gap < GAP) {
        if (col[x]) {
          sx1 = x + 1;
          gap = 0;
        } else {
          gap++;
        }
        x++;
      }
      sx0 &= ~1;
      sx1 = MIN ((sx1 + 1) & ~1, width);
      /* Extend a rect of the band above with the same span. */
      gboolean merged = FALSE;
      for (guint i = 0; i < open->len; i++) {
        ScOverlayRect *r = &g_array_index (rects, ScOverlayRect, g_array_index (open, guint, i));
        if (r->x == sx0 && r->w == sx1 - sx0 && r->y + r->h == y0) {
          r->h += y1 - y0;
          g_array_append_val (next_open, g_array_index (open, guint, i));
          merged = TRUE;
          break;
        }
      }
      if (!merged) {
        ScOverlayRect r = { .x = sx0, .y = y0, .w = sx1 - sx0, .h = y1 - y0 };
        guint index = rects->len;
        g_array_append_val (rects, r);
        g_array_append_val (next_open, index);
      }
    }
    GArray *t = open;
    open = next_open;
    next_open = t;
  }
  g_array_unref (open);
  g_array_unref (next_open);
  g_free (col);
}

/* ---- ARGB -> premultiplied Y'CbCr ---- */

typedef struct {
  /* Y' = 16 + ky.r R + ky.g G + ky.b B, with R, G, B in 0..255; likewise
   * U' and V' around 128. Coefficients include the 219/255 and 224/255
   * limited-range scale. */
  float yr, yg, yb, ur, ug, ub, vr, vg, vb;
} Coefs;

static void
coefs_for (GstVideoColorMatrix matrix, Coefs *c)
{
  double kr, kb;
  if (!gst_video_color_matrix_get_Kr_Kb (matrix, &kr, &kb)) {
    kr = 0.299;
    kb = 0.114;
  }
  double kg = 1.0 - kr - kb;
  double sy = 219.0 / 255.0, sc = 224.0 / 255.0;
  c->yr = sy * kr;
  c->yg = sy * kg;
  c->yb = sy * kb;
  c->ur = sc * (-0.5 * kr / (1.0 - kb));
  c->ug = sc * (-0.5 * kg / (1.0 - kb));
  c->ub = sc * 0.5;
  c->vr = sc * 0.5;
  c->vg = sc * (-0.5 * kg / (1.0 - kr));
  c->vb = sc * (-0.5 * kb / (1.0 - kr));
}

static inline guint8
clamp_u8 (float v)
{
  int i = (int) (v + 0.5f);
  return (guint8) CLAMP (i, 0, 255);
}

static void
convert_rect (const guint8 *data, int stride, const Coefs *c, ScOverlayRect *r)
{
  /* Chroma is accumulated per 2x2 block in floats, then rounded. */
  float *uacc = g_new0 (float, (gsize) r->cw * 3);
  float *vacc = uacc + r->cw, *aacc = vacc + r->cw;

  for (int j = 0; j < r->h; j++) {
    const guint32 *row = (const guint32 *) (data + (gsize) (r->y + j) * stride) + r->x;
    guint8 *yd = r->y_pm + (gsize) j * r->w;
    guint8 *ad = r->a + (gsize) j * r->w;
    for (int i = 0; i < r->w; i++) {
      guint32 p = row[i];
      float a = (float) (p >> 24), R = (float) ((p >> 16) & 0xff), G = (float) ((p >> 8) & 0xff),
            B = (float) (p & 0xff);
      float af = a / 255.0f;
      ad[i] = (guint8) (p >> 24);
      yd[i] = clamp_u8 (16.0f * af + c->yr * R + c->yg * G + c->yb * B);
      uacc[i >> 1] += 128.0f * af + c->ur * R + c->ug * G + c->ub * B;
      vacc[i >> 1] += 128.0f * af + c->vr * R + c->vg * G + c->vb * B;
      aacc[i >> 1] += a;
    }
    if ((j & 1) || j == r->h - 1) {
      int cj = j >> 1;
      int rows = (j & 1) ? 2 : 1;
      for (int ci = 0; ci < r->cw; ci++) {
        int cols = (ci * 2 + 1 < r->w) ? 2 : 1;
        float n = (float) (rows * cols);
        r->u_pm[(gsize) cj * r->cw + ci] = clamp_u8 (uacc[ci] / n);
        r->v_pm[(gsize) cj * r->cw + ci] = clamp_u8 (vacc[ci] / n);
        r->ca[(gsize) cj * r->cw + ci] = clamp_u8 (aacc[ci] / n);
      }
      memset (uacc, 0, sizeof (float) * r->cw * 3);
    }
  }
  g_free (uacc);
}

ScOverlayImage *
sc_overlay_image_new_from_surface (cairo_surface_t *surface, GstVideoColorMatrix matrix)
{
  cairo_surface_flush (surface);
  ScOverlayImage *image = g_new0 (ScOverlayImage, 1);
  g_atomic_ref_count_init (&image->rc);
  image->width = cairo_image_surface_get_width (surface);
  image->height = cairo_image_surface_get_height (surface);
  image->matrix = matrix;

  GArray *rects = g_array_new (FALSE, FALSE, sizeof (ScOverlayRect));
  find_rects (surface, rects);

  gsize total = 0;
  for (guint i = 0; i < rects->len; i++) {
    ScOverlayRect *r = &g_array_index (rects, ScOverlayRect, i);
    r->cw = (r->w + 1) / 2;
    r->ch = (r->h + 1) / 2;
    total += (gsize) r->w * r->h * 2 + (gsize) r->cw * r->ch * 3;
  }
  image->pixels = g_malloc (MAX (total, 1));
  Coefs c;
  coefs_for (matrix, &c);
  const guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  guint8 *p = image->pixels;
  for (guint i = 0; i < rects->len; i++) {
    ScOverlayRect *r = &g_array_index (rects, ScOverlayRect, i);
    gsize n = (gsize) r->w * r->h, cn = (gsize) r->cw * r->ch;
    r->y_pm = p;
    r->a = p + n;
    r->u_pm = p + 2 * n;
    r->v_pm = p + 2 * n + cn;
    r->ca = p + 2 * n + 2 * cn;
    p += 2 * n + 3 * cn;
    convert_rect (data, stride, &c, r);
  }
  image->n_rects = rects->len;
  image->rects = (ScOverlayRect *) g_array_free (rects, FALSE);
  return image;
}

/* ---- The per-frame blend ---- */

/* dst = src + dst * (255 - a) / 255, with / 255 done as * ia >> 8 where
 * ia = (255 - a) + ((255 - a) >> 7) maps 0..255 onto 256..0 (exact at both
 * ends, within 1/2 step elsewhere). 16-bit lanes; gcc vectorizes this. */
static inline void
blend_row (guint8 *restrict dst, const guint8 *restrict src, const guint8 *restrict alpha, int n)
{
  for (int i = 0; i < n; i++) {
    guint16 ia = (guint16) (255 - alpha[i]);
    ia = (guint16) (ia + (ia >> 7));
    guint16 v = (guint16) (src[i] + ((guint16) (dst[i] * ia) >> 8));
    dst[i] = (guint8) (v > 255 ? 255 : v);
  }
}

/* Built twice: AVX2 (32 lanes of 16 bits per op instead of 8) where the
 * CPU has it, SSE2 elsewhere; the loader picks one at start-up. */
__attribute__ ((target_clones ("avx2", "default"))) static void
blend_plane (guint8 *plane, int stride, int pw, int ph, const guint8 *src, const guint8 *alpha,
             int sw, int sh, int dx, int dy)
{
  /* Clip the rect placed at (dx, dy) to the plane. */
  int sx0 = MAX (0, -dx), sy0 = MAX (0, -dy);
  int sx1 = MIN (sw, pw - dx), sy1 = MIN (sh, ph - dy);
  if (sx1 <= sx0 || sy1 <= sy0)
    return;
  for (int j = sy0; j < sy1; j++)
    blend_row (plane + (gsize) (dy + j) * stride + dx + sx0, src + (gsize) j * sw + sx0,
               alpha + (gsize) j * sw + sx0, sx1 - sx0);
}

void
sc_overlay_image_blend (const ScOverlayImage *image, GstVideoFrame *frame, int x, int y)
{
  g_return_if_fail (image != NULL && frame != NULL);
  g_return_if_fail (GST_VIDEO_FRAME_FORMAT (frame) == GST_VIDEO_FORMAT_I420);

  GstVideoColorMatrix m = GST_VIDEO_INFO_COLORIMETRY (&frame->info).matrix;
  if (image->n_rects && m != image->matrix && m != GST_VIDEO_COLOR_MATRIX_UNKNOWN
      && image->matrix != GST_VIDEO_COLOR_MATRIX_UNKNOWN) {
    static gint warned = 0;
    if (g_atomic_int_compare_and_exchange (&warned, 0, 1))
      GST_WARNING ("blending an overlay made for matrix %d into a frame with matrix %d: "
                   "coloured graphics will be slightly off",
                   image->matrix, m);
  }

  int fw = GST_VIDEO_FRAME_WIDTH (frame), fh = GST_VIDEO_FRAME_HEIGHT (frame);
  int cw = GST_VIDEO_FRAME_COMP_WIDTH (frame, 1), ch = GST_VIDEO_FRAME_COMP_HEIGHT (frame, 1);
  guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  guint8 *up = GST_VIDEO_FRAME_PLANE_DATA (frame, 1);
  guint8 *vp = GST_VIDEO_FRAME_PLANE_DATA (frame, 2);
  int ys = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  int us = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
  int vs = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2);

  for (guint i = 0; i < image->n_rects; i++) {
    const ScOverlayRect *r = &image->rects[i];
    int rx = x + r->x, ry = y + r->y;
    if (rx >= fw || ry >= fh || rx + r->w <= 0 || ry + r->h <= 0)
      continue;
    blend_plane (yp, ys, fw, fh, r->y_pm, r->a, r->w, r->h, rx, ry);
    /* Rect origins are even, so with an even (x, y) the 2x2 blocks line up
     * with the frame's; an odd offset shifts chroma by half a pixel. */
    int crx = rx >> 1, cry = ry >> 1; /* floor, also for negatives */
    blend_plane (up, us, cw, ch, r->u_pm, r->ca, r->cw, r->ch, crx, cry);
    blend_plane (vp, vs, cw, ch, r->v_pm, r->ca, r->cw, r->ch, crx, cry);
  }
}
