/* overlay — drawing helpers (internal to this folder). */
#pragma once

#include <cairo.h>
#include <pango/pangocairo.h>
#include "overlay/overlay-private.h"

G_BEGIN_DECLS

#define SC_DRAW_DEFAULT_FONT "Noto Sans CJK SC"

/* The palette: dark navy panels, an amber accent, broadcast red for LIVE. */
#define SC_COLOR_PANEL 0x0b1428
#define SC_COLOR_PANEL_ALT 0x111d38
#define SC_COLOR_HEADER 0x060d1c
#define SC_COLOR_ACCENT 0xffb300
#define SC_COLOR_TEXT 0xffffff
#define SC_COLOR_MUTED 0xa9b4c8
#define SC_COLOR_DIM 0x6b778c
#define SC_COLOR_LIVE 0xe01e37
#define SC_COLOR_GOLD 0xf2c230
#define SC_COLOR_SILVER 0xc3cad5
#define SC_COLOR_BRONZE 0xd08a4a
#define SC_COLOR_RANK 0x2a3a5c
#define SC_COLOR_WORKING 0x23a55a
#define SC_COLOR_FINISHED 0x2f7de1
#define SC_COLOR_PAUSED 0xe09a00
#define SC_COLOR_DISQUALIFIED 0xd7263d
#define SC_COLOR_INK 0x0b1428 /* dark text on light fills */

enum {
  SC_TEXT_BOLD = 1 << 0,
  SC_TEXT_TNUM = 1 << 1, /* tabular digits: numbers that do not dance */
  SC_TEXT_RIGHT = 1 << 2,
  SC_TEXT_CENTER = 1 << 3,
};

typedef struct {
  cairo_t *cr;
  PangoLayout *layout;
  PangoFontDescription *desc;
  PangoAttrList *tnum;
  double scale; /* program height / 720 */
} ScDraw;

void sc_draw_init (ScDraw *d, cairo_t *cr, const char *font, double scale);
void sc_draw_clear (ScDraw *d);
void sc_draw_rgb (ScDraw *d, guint32 rgb, double alpha);
/* A filled (rounded when R > 0) rectangle. */
void sc_draw_rect (ScDraw *d, double x, double y, double w, double h, double r, guint32 rgb,
                   double alpha);
/* TEXT of SIZE px with its baseline at BASELINE, starting at X (or ending
 * at / centred on X with SC_TEXT_RIGHT / SC_TEXT_CENTER), ellipsized to
 * MAX_W px when MAX_W > 0 and clipped to it. Returns the width drawn. */
double sc_draw_text (ScDraw *d, const char *text, double size, int flags, double x,
                     double baseline, double max_w, guint32 rgb, double alpha);
/* Same on at most MAX_LINES lines (wrapped, the last one ellipsized),
 * centred vertically on BASELINE. */
double sc_draw_text_lines (ScDraw *d, const char *text, double size, int flags, double x,
                           double baseline, double max_w, int max_lines, guint32 rgb,
                           double alpha);
double sc_draw_text_width (ScDraw *d, const char *text, double size, int flags);
/* A badge: bold TEXT on a rounded BG box of height H at (X, Y) (X is the
 * right edge with SC_TEXT_RIGHT). Returns its width. */
double sc_draw_pill (ScDraw *d, const char *text, double size, double x, double y, double h,
                     guint32 bg, guint32 fg, int flags);

G_END_DECLS
