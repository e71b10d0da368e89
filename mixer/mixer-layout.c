/* mixer-layout.c — where each station goes on the program picture.
 *
 * Pure geometry, computed from the program size so any WxH works; the
 * numbers in comments are for 1280x720. Everything is rounded down to even
 * values: I420 chroma is subsampled 2x2, so an odd tile edge would split a
 * chroma sample between two stations. */
#include "mixer/mixer-private.h"

#define EVEN(v) ((v) & ~1)

static const char *const layout_names[] = {
  [SC_LAYOUT_GRID] = "grid", [SC_LAYOUT_FOCUS] = "focus",   [SC_LAYOUT_PIP] = "pip",
  [SC_LAYOUT_SBS] = "sbs",   [SC_LAYOUT_SINGLE] = "single",
};

const char *
sc_mixer_layout_name (ScLayout layout)
{
  if ((guint)layout < G_N_ELEMENTS (layout_names))
    return layout_names[layout];
  return "grid";
}

gboolean
sc_mixer_layout_parse (const char *name, ScLayout *out)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (layout_names); i++) {
    if (g_str_equal (name, layout_names[i])) {
      *out = (ScLayout)i;
      return TRUE;
    }
  }
  return FALSE;
}

void
sc_mixer_offscreen_size (int width, int height, int *tile_width, int *tile_height)
{
  /* A quarter of the program each way (320x180): the size of a strip or
   * pip tile, so the commonest switch-ins need no renegotiation at all. */
  *tile_width = MAX (EVEN (width / 4), 2);
  *tile_height = MAX (EVEN (height / 4), 2);
}

static void
put (ScMixerRect *out, guint *n, int station, int x, int y, int w, int h)
{
  if (*n >= SC_MIXER_MAX_TILES)
    return;
  out[*n] = (ScMixerRect){ station, EVEN (x), EVEN (y), EVEN (w), EVEN (h) };
  (*n)++;
}

/* grid: the smallest k x k (k = 1..4) that holds the stations; a program
 * with more than 16 stations shows the first 16. 4 stations -> 2x2 of
 * 640x360; 5-9 -> 3x3 of 426x240 (the 2 px left over split as a margin). */
static guint
layout_grid (int width, int height, guint n_stations, ScMixerRect *out)
{
  guint shown = MIN (n_stations, SC_MIXER_MAX_TILES);
  int k = shown <= 1 ? 1 : shown <= 4 ? 2 : shown <= 9 ? 3 : 4;
  int tw = EVEN (width / k), th = EVEN (height / k);
  int x0 = EVEN ((width - k * tw) / 2), y0 = EVEN ((height - k * th) / 2);
  guint n = 0;

  for (guint i = 0; i < shown; i++)
    put (out, &n, (int)i, x0 + (int)(i % k) * tw, y0 + (int)(i / k) * th, tw, th);
  return n;
}

/* focus: the focused station in a 3/4 tile at the top left (960x540); the
 * others, in config order, in quarter tiles (320x180) down the right edge
 * (4) and then along the bottom (3). At most 8 stations are shown. */
static guint
layout_focus (int width, int height, guint n_stations, int focus, ScMixerRect *out)
{
  int bw = EVEN (width * 3 / 4), bh = EVEN (height * 3 / 4);
  int sw = EVEN (width - bw), sh = EVEN (height / 4);
  int column = sh > 0 ? height / sh : 0;
  int row = sw > 0 ? bw / sw : 0;
  int slot = 0;
  guint n = 0;

  put (out, &n, focus, 0, 0, bw, bh);
  for (guint i = 0; i < n_stations; i++) {
    if ((int)i == focus)
      continue;
    if (slot < column)
      put (out, &n, (int)i, bw, slot * sh, sw, sh);
    else if (slot < column + row)
      put (out, &n, (int)i, (slot - column) * sw, bh, sw, MIN (sh, height - bh));
    else
      break;
    slot++;
  }
  return n;
}

guint
sc_mixer_layout_tiles (ScLayout layout, int width, int height, guint n_stations, int focus,
                       const int pair[2], ScMixerRect *out)
{
  guint n = 0;

  if (n_stations == 0)
    return 0;
  if (focus < 0 || (guint)focus >= n_stations)
    focus = 0;

  switch (layout) {
  case SC_LAYOUT_GRID:
    return layout_grid (width, height, n_stations, out);
  case SC_LAYOUT_FOCUS:
    return layout_focus (width, height, n_stations, focus, out);
  case SC_LAYOUT_PIP: {
    /* The focused station full frame, the next one (config order) in a
     * quarter-size inset at the bottom right, inside a 5% safe margin. */
    int iw = EVEN (width / 4), ih = EVEN (height / 4);
    put (out, &n, focus, 0, 0, width, height);
    if (n_stations > 1)
      put (out, &n, (int)((guint)(focus + 1) % n_stations), width - iw - EVEN (width / 20),
           height - ih - EVEN (height / 20), iw, ih);
    return n;
  }
  case SC_LAYOUT_SBS: {
    /* Two half-size tiles side by side (640x360 each), centred vertically:
     * the stations keep their 16:9 shape instead of being squeezed. */
    int tw = EVEN (width / 2), th = EVEN (height / 2);
    int y = EVEN ((height - th) / 2);
    put (out, &n, pair[0], 0, y, tw, th);
    put (out, &n, pair[1], tw, y, tw, th);
    return n;
  }
  case SC_LAYOUT_SINGLE:
  default:
    put (out, &n, focus, 0, 0, width, height);
    return n;
  }
}
