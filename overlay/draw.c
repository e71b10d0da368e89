/* Drawing helpers shared by the program overlay, the slate and labels:
 * the palette, text with pango (baseline-aligned, ellipsized), pills. */
#include "overlay/draw.h"

#include <math.h>

void
sc_draw_init (ScDraw *d, cairo_t *cr, const char *font, double scale)
{
  d->cr = cr;
  d->scale = scale;
  d->layout = pango_cairo_create_layout (cr);
  d->desc = pango_font_description_from_string (font && *font ? font : SC_DRAW_DEFAULT_FONT);
  PangoContext *pc = pango_layout_get_context (d->layout);
  /* Grey-scale antialiasing: the picture is converted to YUV and scaled
   * by the encoder, subpixel (coloured) edges would only bleed. */
  cairo_font_options_t *fo = cairo_font_options_create ();
  cairo_font_options_set_antialias (fo, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_style (fo, CAIRO_HINT_STYLE_SLIGHT);
  cairo_font_options_set_hint_metrics (fo, CAIRO_HINT_METRICS_OFF);
  pango_cairo_context_set_font_options (pc, fo);
  cairo_font_options_destroy (fo);
  pango_layout_context_changed (d->layout);
  pango_layout_set_single_paragraph_mode (d->layout, TRUE);
  d->tnum = pango_attr_list_new ();
  pango_attr_list_insert (d->tnum, pango_attr_font_features_new ("tnum=1"));
}

void
sc_draw_clear (ScDraw *d)
{
  g_clear_object (&d->layout);
  g_clear_pointer (&d->desc, pango_font_description_free);
  g_clear_pointer (&d->tnum, pango_attr_list_unref);
}

void
sc_draw_rgb (ScDraw *d, guint32 rgb, double alpha)
{
  cairo_set_source_rgba (d->cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                         (rgb & 0xff) / 255.0, alpha);
}

void
sc_draw_rect (ScDraw *d, double x, double y, double w, double h, double r, guint32 rgb,
              double alpha)
{
  if (w <= 0 || h <= 0)
    return;
  cairo_t *cr = d->cr;
  r = MIN (r, MIN (w, h) / 2);
  cairo_new_sub_path (cr);
  if (r <= 0) {
    cairo_rectangle (cr, x, y, w, h);
  } else {
    cairo_arc (cr, x + w - r, y + r, r, -G_PI / 2, 0);
    cairo_arc (cr, x + w - r, y + h - r, r, 0, G_PI / 2);
    cairo_arc (cr, x + r, y + h - r, r, G_PI / 2, G_PI);
    cairo_arc (cr, x + r, y + r, r, G_PI, 3 * G_PI / 2);
    cairo_close_path (cr);
  }
  sc_draw_rgb (d, rgb, alpha);
  cairo_fill (cr);
}

static void
setup (ScDraw *d, const char *text, double size, int flags, double max_w, int max_lines)
{
  /* Below 8 px CJK glyphs turn to smudges; small pictures get 8 px. */
  pango_font_description_set_absolute_size (d->desc, MAX (size, 8.0) * PANGO_SCALE);
  pango_font_description_set_weight (d->desc, (flags & SC_TEXT_BOLD) ? PANGO_WEIGHT_BOLD
                                                                    : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description (d->layout, d->desc);
  pango_layout_set_attributes (d->layout, (flags & SC_TEXT_TNUM) ? d->tnum : NULL);
  if (max_w > 0) {
    pango_layout_set_width (d->layout, (int) (max_w * PANGO_SCALE));
    pango_layout_set_ellipsize (d->layout, PANGO_ELLIPSIZE_END);
    pango_layout_set_wrap (d->layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_height (d->layout, -MAX (max_lines, 1));
  } else {
    pango_layout_set_width (d->layout, -1);
    pango_layout_set_ellipsize (d->layout, PANGO_ELLIPSIZE_NONE);
    pango_layout_set_height (d->layout, -1);
  }
  pango_layout_set_single_paragraph_mode (d->layout, max_lines <= 1);
  pango_layout_set_alignment (d->layout, PANGO_ALIGN_LEFT);
  pango_layout_set_text (d->layout, text ? text : "", -1);
}

double
sc_draw_text_width (ScDraw *d, const char *text, double size, int flags)
{
  setup (d, text, size, flags, 0, 1);
  PangoRectangle logical;
  pango_layout_get_pixel_extents (d->layout, NULL, &logical);
  return logical.width;
}

double
sc_draw_text (ScDraw *d, const char *text, double size, int flags, double x, double baseline,
              double max_w, guint32 rgb, double alpha)
{
  return sc_draw_text_lines (d, text, size, flags, x, baseline, max_w, 1, rgb, alpha);
}

double
sc_draw_text_lines (ScDraw *d, const char *text, double size, int flags, double x,
                    double baseline, double max_w, int max_lines, guint32 rgb, double alpha)
{
  if (text == NULL || *text == '\0')
    return 0;
  setup (d, text, size, flags, max_w, max_lines);
  PangoRectangle logical;
  pango_layout_get_pixel_extents (d->layout, NULL, &logical);
  double w = logical.width;
  if (max_w > 0 && w > max_w)
    w = max_w;
  double left = x;
  if (flags & SC_TEXT_RIGHT)
    left = x - w;
  else if (flags & SC_TEXT_CENTER)
    left = x - w / 2;
  double top = baseline - pango_layout_get_baseline (d->layout) / (double) PANGO_SCALE;
  if (max_lines > 1) {
    /* Centre the block of lines on the baseline given for one line. */
    int lines = pango_layout_get_line_count (d->layout);
    top -= (lines - 1) * (logical.height / (double) lines) / 2;
  }
  cairo_save (d->cr);
  if (max_w > 0) {
    /* Belt and braces: nothing leaves the box even if a glyph overhangs. */
    cairo_rectangle (d->cr, left - size * 0.2, top - size, w + size * 0.4, logical.height + 2 * size);
    cairo_clip (d->cr);
  }
  cairo_move_to (d->cr, left - logical.x, top);
  sc_draw_rgb (d, rgb, alpha);
  pango_cairo_show_layout (d->cr, d->layout);
  cairo_restore (d->cr);
  return w;
}

double
sc_draw_pill (ScDraw *d, const char *text, double size, double x, double y, double h,
              guint32 bg, guint32 fg, int flags)
{
  double pad = h * 0.42;
  double tw = sc_draw_text_width (d, text, size, SC_TEXT_BOLD);
  double w = tw + 2 * pad;
  double left = (flags & SC_TEXT_RIGHT) ? x - w : x;
  sc_draw_rect (d, left, y, w, h, h * 0.22, bg, 1.0);
  sc_draw_text (d, text, size, SC_TEXT_BOLD, left + pad, y + h / 2 + size * 0.36, 0, fg, 1.0);
  return w;
}
