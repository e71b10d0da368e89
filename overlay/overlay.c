/* ScOverlay: the program graphics, rendered on the main loop when the
 * state changes (coalesced into one high-priority idle) and when the
 * displayed clock second, an announcement or a row highlight changes
 * (one timer, re-armed for the next such moment), then published as an
 * immutable ScOverlayImage that the program thread blends into every frame.
 *
 * Layout, for a W x H program, with s = H / 720 scaling every size:
 *   safe margins 5% of W and H;
 *   top-left: the scoreboard panel (contest title header, top N rows);
 *   top-right: the contest clock, and the LIVE bug under it;
 *   bottom-left: the lower-third (announcement, else the focused station);
 *   centre: the leaderboard (every station), which hides the scoreboard and
 *   the lower-third while it is shown;
 *   each tile's bottom-left: its station label.
 */
#include "overlay/draw.h"

#include <math.h>
#include <string.h>

/* How long a changed row stays highlighted. */
#define HIGHLIGHT_US (2 * G_USEC_PER_SEC)
/* Longest wait between two looks at the time-dependent state (announcement
 * expiry is only known by asking the contest). */
#define TICK_MAX_MS 1000

typedef struct {
  char *station_id;
  char *label;
  int x, y, width, height;
} Tile;

struct ScOverlay {
  /* Main loop only. */
  char *font;
  int top;
  int width, height;
  double s;   /* height / 720 */
  int mx, my; /* safe margins */
  GstVideoColorMatrix matrix;
  ScContest *contest; /* not owned */
  GMainContext *context;
  gboolean visible[SC_OVERLAY_N_PARTS];
  GArray *tiles; /* of Tile */
  char *focus;
  GSource *idle; /* pending coalesced render */
  GSource *tick; /* next time-dependent change */
  char *rendered_sig; /* time-dependent content of the last render */
  /* Boxes drawn so far in this render, which station labels avoid. */
  struct {
    double x, y, w, h;
  } occupied[8];
  guint n_occupied;
  cairo_surface_t *surface;
  guint64 renders;
  gint64 render_us_total;

  /* The published image; LOCK guards IMAGE and PUBLISHED_AT only, held for
   * a pointer swap or a ref, never while rendering. */
  GMutex lock;
  ScOverlayImage *image;
  gint64 published_at;
};

static const char *const part_names[SC_OVERLAY_N_PARTS] = {
  [SC_OVERLAY_SCOREBOARD] = "scoreboard", [SC_OVERLAY_CLOCK] = "clock",
  [SC_OVERLAY_LOWERTHIRD] = "lowerthird", [SC_OVERLAY_LEADERBOARD] = "leaderboard",
  [SC_OVERLAY_LIVE] = "live",
};

const char *
sc_overlay_part_to_string (ScOverlayPart part)
{
  if ((int) part < 0 || part >= SC_OVERLAY_N_PARTS)
    return NULL;
  return part_names[part];
}

gboolean
sc_overlay_part_from_string (const char *s, ScOverlayPart *out)
{
  if (s == NULL)
    return FALSE;
  for (int i = 0; i < SC_OVERLAY_N_PARTS; i++) {
    if (strcmp (s, part_names[i]) == 0) {
      if (out)
        *out = (ScOverlayPart) i;
      return TRUE;
    }
  }
  return FALSE;
}

/* ---- Words ---- */

static const char *
state_badge (ScStationState state, guint32 *color)
{
  switch (state) {
  case SC_STATION_WORKING:
    *color = SC_COLOR_WORKING;
    return "进行中";
  case SC_STATION_FINISHED:
    *color = SC_COLOR_FINISHED;
    return "完成";
  case SC_STATION_PAUSED:
    *color = SC_COLOR_PAUSED;
    return "暂停";
  case SC_STATION_DISQUALIFIED:
    *color = SC_COLOR_DISQUALIFIED;
    return "取消资格";
  case SC_STATION_READY:
  default:
    return NULL;
  }
}

static void
format_score (const ScStationRow *row, char *buf, gsize len)
{
  if (row->has_total)
    g_snprintf (buf, len, "%.1f", row->score);
  else
    g_strlcpy (buf, "—", len);
}

static const char *
row_name (const ScStationRow *row)
{
  return row->name && *row->name ? row->name : row->id;
}

static guint32
rank_color (int rank, guint32 *ink)
{
  *ink = SC_COLOR_INK;
  switch (rank) {
  case 1:
    return SC_COLOR_GOLD;
  case 2:
    return SC_COLOR_SILVER;
  case 3:
    return SC_COLOR_BRONZE;
  default:
    *ink = SC_COLOR_TEXT;
    return SC_COLOR_RANK;
  }
}

/* Countdown shown as whole seconds rounded up: "00:00" only when time is up. */
static void
format_clock (gint64 remaining_ms, char *buf, gsize len)
{
  gint64 secs = remaining_ms > 0 ? (remaining_ms + 999) / 1000 : 0;
  if (secs >= 3600)
    g_snprintf (buf, len, "%02d:%02d:%02d", (int) (secs / 3600), (int) (secs / 60 % 60),
                (int) (secs % 60));
  else
    g_snprintf (buf, len, "%02d:%02d", (int) (secs / 60), (int) (secs % 60));
}

static gboolean
highlighted (const ScStationRow *row, gint64 now)
{
  return row->changed_at_us > 0 && now - row->changed_at_us < HIGHLIGHT_US
         && now >= row->changed_at_us - HIGHLIGHT_US;
}

/* ---- The parts ---- */

static void
occupy (ScOverlay *ov, double x, double y, double w, double h)
{
  if (ov->n_occupied < G_N_ELEMENTS (ov->occupied)) {
    ov->occupied[ov->n_occupied].x = x;
    ov->occupied[ov->n_occupied].y = y;
    ov->occupied[ov->n_occupied].w = w;
    ov->occupied[ov->n_occupied].h = h;
    ov->n_occupied++;
  }
}

static gboolean
is_free (ScOverlay *ov, double x, double y, double w, double h)
{
  for (guint i = 0; i < ov->n_occupied; i++) {
    const double ox = ov->occupied[i].x, oy = ov->occupied[i].y;
    if (x < ox + ov->occupied[i].w && ox < x + w && y < oy + ov->occupied[i].h && oy < y + h)
      return FALSE;
  }
  return TRUE;
}

static double
scoreboard_width (ScOverlay *ov)
{
  return MIN (ov->width * 0.40, 470 * ov->s);
}

static void
draw_rank_box (ScDraw *d, int rank, double x, double y, double size)
{
  guint32 ink;
  guint32 bg = rank_color (rank, &ink);
  char buf[16];
  if (rank > 0)
    g_snprintf (buf, sizeof buf, "%d", rank);
  else
    g_strlcpy (buf, "—", sizeof buf);
  sc_draw_rect (d, x, y, size, size, size * 0.14, bg, 1.0);
  double fs = size * (rank >= 10 ? 0.48 : 0.58);
  sc_draw_text (d, buf, fs, SC_TEXT_BOLD | SC_TEXT_TNUM | SC_TEXT_CENTER, x + size / 2,
                y + size / 2 + fs * 0.36, 0, ink, 1.0);
}

static void
draw_scoreboard (ScOverlay *ov, ScDraw *d, gint64 now)
{
  double s = ov->s;
  double x = ov->mx, y = ov->my, w = scoreboard_width (ov);
  double header_h = 44 * s, row_h = 54 * s, strip = 3 * s;
  guint n = MIN ((guint) MAX (ov->top, 0), sc_contest_n_stations (ov->contest));
  /* Never down into the lower-third's band, whatever `top` says. */
  double room = ov->height - 2.0 * ov->my - header_h - 96 * s;
  n = MIN (n, (guint) MAX (room / row_h, 0));

  /* Header: the contest title, and what this is. */
  sc_draw_rect (d, x, y, w, header_h, 0, SC_COLOR_HEADER, 0.95);
  occupy (ov, x, y, w, header_h + n * row_h);
  sc_draw_rect (d, x, y + header_h - strip, w, strip, 0, SC_COLOR_ACCENT, 1.0);
  double tag_w = sc_draw_text_width (d, "实时排名", 15 * s, SC_TEXT_BOLD);
  const char *title = sc_contest_title (ov->contest);
  sc_draw_text (d, title && *title ? title : "积分榜", 19 * s, SC_TEXT_BOLD, x + 14 * s,
                y + header_h / 2 + 6 * s, w - tag_w - 40 * s, SC_COLOR_TEXT, 1.0);
  sc_draw_text (d, "实时排名", 15 * s, SC_TEXT_BOLD | SC_TEXT_RIGHT, x + w - 14 * s,
                y + header_h / 2 + 5 * s, 0, SC_COLOR_ACCENT, 1.0);

  y += header_h;
  for (guint i = 0; i < n; i++, y += row_h) {
    const ScStationRow *row = sc_contest_row (ov->contest, i);
    gboolean dq = row->state == SC_STATION_DISQUALIFIED;
    sc_draw_rect (d, x, y, w, row_h, 0, (i & 1) ? SC_COLOR_PANEL_ALT : SC_COLOR_PANEL, 0.94);
    gboolean lit = highlighted (row, now);
    if (lit) {
      sc_draw_rect (d, x, y, w, row_h, 0, SC_COLOR_ACCENT, 0.24);
      sc_draw_rect (d, x, y, 5 * s, row_h, 0, SC_COLOR_ACCENT, 1.0);
    }
    if (i + 1 < n)
      sc_draw_rect (d, x + 10 * s, y + row_h - 1 * s, w - 20 * s, 1 * s, 0, 0xffffff, 0.08);

    double box = 34 * s;
    draw_rank_box (d, row->rank, x + 14 * s, y + (row_h - box) / 2, box);

    /* Score on the right, state badge left of it, name and org fill the rest. */
    char score[32];
    format_score (row, score, sizeof score);
    double score_right = x + w - 14 * s;
    double score_w = MAX (sc_draw_text_width (d, "888.8", 27 * s, SC_TEXT_BOLD | SC_TEXT_TNUM),
                          sc_draw_text_width (d, score, 27 * s, SC_TEXT_BOLD | SC_TEXT_TNUM));
    /* The score sits in its own darker cell, the eye's anchor in each row. */
    sc_draw_rect (d, score_right - score_w - 12 * s, y, x + w - (score_right - score_w - 12 * s),
                  row_h, 0, 0x000000, 0.28);
    sc_draw_text (d, score, 27 * s, SC_TEXT_BOLD | SC_TEXT_TNUM | SC_TEXT_RIGHT, score_right,
                  y + row_h / 2 + 10 * s, 0,
                  dq ? SC_COLOR_DIM : lit ? SC_COLOR_ACCENT : SC_COLOR_TEXT, 1.0);
    double name_x = x + 62 * s;
    double name_right = score_right - score_w - 22 * s;
    guint32 badge_color;
    const char *badge = state_badge (row->state, &badge_color);
    if (badge) {
      double bw = sc_draw_pill (d, badge, 14 * s, name_right, y + 8 * s, 22 * s, badge_color,
                                SC_COLOR_TEXT, SC_TEXT_RIGHT);
      name_right -= bw + 8 * s;
    }
    sc_draw_text (d, row_name (row), 21 * s, SC_TEXT_BOLD, name_x, y + 26 * s,
                  MAX (name_right - name_x, 1), dq ? SC_COLOR_DIM : SC_COLOR_TEXT, 1.0);
    if (row->org && *row->org)
      sc_draw_text (d, row->org, 15 * s, 0, name_x, y + 46 * s,
                    MAX (score_right - score_w - 22 * s - name_x, 1), SC_COLOR_MUTED, 1.0);
  }
}

/* Returns the bottom edge of what it drew. */
static double
draw_clock (ScOverlay *ov, ScDraw *d, gint64 now)
{
  double s = ov->s;
  double w = 184 * s, h = 68 * s;
  double x = ov->width - ov->mx - w, y = ov->my;
  gint64 remaining = 0;
  ScClockState state = sc_contest_clock (ov->contest, now, &remaining);
  char digits[32];
  format_clock (remaining, digits, sizeof digits);
  const char *label;
  guint32 color = SC_COLOR_TEXT, accent = SC_COLOR_ACCENT;
  switch (state) {
  case SC_CLOCK_RUNNING:
    label = "剩余时间";
    break;
  case SC_CLOCK_PAUSED:
    label = "已暂停 PAUSED";
    color = SC_COLOR_ACCENT;
    accent = SC_COLOR_PAUSED;
    break;
  case SC_CLOCK_STOPPED:
  default:
    label = "比赛计时";
    color = SC_COLOR_MUTED;
    accent = SC_COLOR_DIM;
    break;
  }
  sc_draw_rect (d, x, y, w, h, 0, SC_COLOR_HEADER, 0.93);
  occupy (ov, x, y, w, h);
  sc_draw_rect (d, x, y, w, 3 * s, 0, accent, 1.0);
  sc_draw_text (d, label, 14 * s, SC_TEXT_BOLD | SC_TEXT_CENTER, x + w / 2, y + 22 * s, w - 8 * s,
                state == SC_CLOCK_PAUSED ? SC_COLOR_ACCENT : SC_COLOR_MUTED, 1.0);
  double fs = strlen (digits) > 5 ? 31 * s : 35 * s;
  sc_draw_text (d, digits, fs, SC_TEXT_BOLD | SC_TEXT_TNUM | SC_TEXT_CENTER, x + w / 2,
                y + h - 10 * s, w - 8 * s, color, 1.0);
  return y + h;
}

static void
draw_live (ScOverlay *ov, ScDraw *d, double y)
{
  double s = ov->s;
  double h = 30 * s, fs = 16 * s;
  const char *text = "LIVE 直播";
  double pad = 11 * s, dot = 8 * s;
  double tw = sc_draw_text_width (d, text, fs, SC_TEXT_BOLD);
  double w = pad + dot + 7 * s + tw + pad;
  double x = ov->width - ov->mx - w;
  sc_draw_rect (d, x, y, w, h, 3 * s, SC_COLOR_LIVE, 0.96);
  occupy (ov, x, y, w, h);
  cairo_arc (d->cr, x + pad + dot / 2, y + h / 2, dot / 2, 0, 2 * G_PI);
  sc_draw_rgb (d, SC_COLOR_TEXT, 1.0);
  cairo_fill (d->cr);
  sc_draw_text (d, text, fs, SC_TEXT_BOLD, x + pad + dot + 7 * s, y + h / 2 + fs * 0.36, 0,
                SC_COLOR_TEXT, 1.0);
}

static void
draw_lowerthird (ScOverlay *ov, ScDraw *d, gint64 now)
{
  double s = ov->s;
  double h = 80 * s, w = MIN (ov->width - 2.0 * ov->mx, ov->width * 0.64);
  double x = ov->mx, y = ov->height - ov->my - h;
  const char *text = sc_contest_announcement (ov->contest, now);

  if (text && *text) {
    double tag_w = 92 * s;
    sc_draw_rect (d, x, y, w, h, 0, SC_COLOR_PANEL, 0.94);
    occupy (ov, x, y, w, h);
    sc_draw_rect (d, x, y, tag_w, h, 0, SC_COLOR_ACCENT, 1.0);
    sc_draw_text (d, "公告", 24 * s, SC_TEXT_BOLD | SC_TEXT_CENTER, x + tag_w / 2,
                  y + h / 2 + 8 * s, 0, SC_COLOR_INK, 1.0);
    sc_draw_text_lines (d, text, 22 * s, SC_TEXT_BOLD, x + tag_w + 20 * s, y + h / 2 + 8 * s,
                        w - tag_w - 40 * s, 2, SC_COLOR_TEXT, 1.0);
    sc_draw_rect (d, x + tag_w, y + h - 3 * s, w - tag_w, 3 * s, 0, SC_COLOR_ACCENT, 1.0);
    return;
  }
  if (ov->focus == NULL)
    return;
  const ScStationRow *row = sc_contest_find (ov->contest, ov->focus);
  if (row == NULL)
    return;

  double rank_w = 84 * s, score_w = 150 * s;
  w = MIN (w, 760 * s);
  sc_draw_rect (d, x, y, w, h, 0, SC_COLOR_PANEL, 0.94);
  occupy (ov, x, y, w, h);
  /* Rank block. */
  guint32 ink;
  guint32 rc = row->rank > 0 ? rank_color (row->rank, &ink) : SC_COLOR_RANK;
  if (row->rank <= 0 || row->rank > 3)
    rc = SC_COLOR_ACCENT, ink = SC_COLOR_INK;
  sc_draw_rect (d, x, y, rank_w, h, 0, rc, 1.0);
  sc_draw_text (d, "排名", 14 * s, SC_TEXT_BOLD | SC_TEXT_CENTER, x + rank_w / 2, y + 22 * s, 0,
                ink, 0.85);
  char rank[16];
  if (row->rank > 0)
    g_snprintf (rank, sizeof rank, "%d", row->rank);
  else
    g_strlcpy (rank, "—", sizeof rank);
  sc_draw_text (d, rank, 36 * s, SC_TEXT_BOLD | SC_TEXT_TNUM | SC_TEXT_CENTER, x + rank_w / 2,
                y + h - 14 * s, 0, ink, 1.0);
  /* Score block on the right. */
  double sx = x + w - score_w;
  sc_draw_rect (d, sx, y, score_w, h, 0, SC_COLOR_HEADER, 0.95);
  sc_draw_text (d, "得分 SCORE", 14 * s, SC_TEXT_BOLD | SC_TEXT_CENTER, sx + score_w / 2,
                y + 22 * s, 0, SC_COLOR_MUTED, 1.0);
  char score[32];
  format_score (row, score, sizeof score);
  sc_draw_text (d, score, 34 * s, SC_TEXT_BOLD | SC_TEXT_TNUM | SC_TEXT_CENTER,
                sx + score_w / 2, y + h - 14 * s, score_w - 10 * s, SC_COLOR_ACCENT, 1.0);
  /* Name, badge; org · trade. */
  double nx = x + rank_w + 20 * s, nr = sx - 16 * s;
  guint32 badge_color;
  const char *badge = state_badge (row->state, &badge_color);
  double idw = sc_draw_pill (d, row->id, 15 * s, nx, y + 12 * s, 25 * s, SC_COLOR_RANK,
                             SC_COLOR_TEXT, 0);
  double name_x = nx + idw + 10 * s;
  if (badge) {
    double bw = sc_draw_pill (d, badge, 15 * s, nr, y + 12 * s, 25 * s, badge_color,
                              SC_COLOR_TEXT, SC_TEXT_RIGHT);
    nr -= bw + 10 * s;
  }
  sc_draw_text (d, row_name (row), 26 * s, SC_TEXT_BOLD, name_x, y + 34 * s,
                MAX (nr - name_x, 1), SC_COLOR_TEXT, 1.0);
  GString *sub = g_string_new (NULL);
  if (row->org && *row->org)
    g_string_append (sub, row->org);
  if (row->trade && *row->trade)
    g_string_append_printf (sub, "%s%s", sub->len ? "  ·  " : "", row->trade);
  sc_draw_text (d, sub->str, 18 * s, 0, nx, y + h - 16 * s, MAX (sx - 16 * s - nx, 1),
                SC_COLOR_MUTED, 1.0);
  g_string_free (sub, TRUE);
  sc_draw_rect (d, x + rank_w, y + h - 3 * s, w - rank_w - score_w, 3 * s, 0, SC_COLOR_ACCENT,
                1.0);
}

static void
draw_leaderboard (ScOverlay *ov, ScDraw *d, gint64 now)
{
  double s = ov->s;
  /* Centred, and narrow enough to leave the clock and LIVE bug uncovered. */
  double w = MIN (ov->width * 0.72, ov->width - 2 * (ov->mx + 184 * s + 24 * s));
  w = MAX (w, ov->width * 0.5);
  double x = (ov->width - w) / 2;
  double top = ov->my + 8 * s, bottom = ov->height - ov->my - 8 * s;
  double header_h = 58 * s, cols_h = 30 * s;
  guint n = sc_contest_n_stations (ov->contest);
  double avail = bottom - top - header_h - cols_h - 10 * s;
  double row_h = n ? MIN (44 * s, avail / n) : 44 * s;
  guint shown = n;
  double min_h = 22 * s;
  if (row_h < min_h) {
    row_h = min_h;
    int fit = (int) (avail / row_h) - 1; /* one line left for "+N more" */
    shown = (guint) MAX (fit, 0);
  }
  double panel_h = header_h + cols_h + row_h * (shown + (shown < n ? 1 : 0)) + 10 * s;
  double y = MAX (top, (ov->height - panel_h) / 2);

  sc_draw_rect (d, x, y, w, panel_h, 0, SC_COLOR_PANEL, 0.94);
  sc_draw_rect (d, x, y, w, header_h, 0, SC_COLOR_HEADER, 0.95);
  sc_draw_rect (d, x, y + header_h - 3 * s, w, 3 * s, 0, SC_COLOR_ACCENT, 1.0);
  double tw = sc_draw_text (d, "总排名", 26 * s, SC_TEXT_BOLD, x + 24 * s, y + 38 * s, 0,
                            SC_COLOR_ACCENT, 1.0);
  const char *title = sc_contest_title (ov->contest);
  sc_draw_text (d, title, 18 * s, SC_TEXT_BOLD, x + 24 * s + tw + 18 * s, y + 37 * s,
                w - tw - 70 * s, SC_COLOR_TEXT, 1.0);

  /* Columns: rank | id | name | org | trade | state | score */
  double c_rank = x + 24 * s, c_id = x + 80 * s, c_name = x + 150 * s, c_org = x + w * 0.42,
         c_trade = x + w * 0.64, c_state = x + w * 0.79, c_score = x + w - 24 * s;
  double cy = y + header_h + cols_h * 0.68;
  double hs = 12.5 * s;
  sc_draw_text (d, "排名", hs, SC_TEXT_BOLD, c_rank, cy, 0, SC_COLOR_MUTED, 1.0);
  sc_draw_text (d, "工位", hs, SC_TEXT_BOLD, c_id, cy, 0, SC_COLOR_MUTED, 1.0);
  sc_draw_text (d, "选手", hs, SC_TEXT_BOLD, c_name, cy, 0, SC_COLOR_MUTED, 1.0);
  sc_draw_text (d, "单位", hs, SC_TEXT_BOLD, c_org, cy, 0, SC_COLOR_MUTED, 1.0);
  sc_draw_text (d, "工种", hs, SC_TEXT_BOLD, c_trade, cy, 0, SC_COLOR_MUTED, 1.0);
  sc_draw_text (d, "状态", hs, SC_TEXT_BOLD, c_state, cy, 0, SC_COLOR_MUTED, 1.0);
  sc_draw_text (d, "得分", hs, SC_TEXT_BOLD | SC_TEXT_RIGHT, c_score, cy, 0, SC_COLOR_MUTED, 1.0);

  double ry = y + header_h + cols_h;
  double fs = row_h * 0.42;
  for (guint i = 0; i < shown; i++, ry += row_h) {
    const ScStationRow *row = sc_contest_row (ov->contest, i);
    if (i & 1)
      sc_draw_rect (d, x, ry, w, row_h, 0, 0xffffff, 0.04);
    if (highlighted (row, now)) {
      sc_draw_rect (d, x, ry, w, row_h, 0, SC_COLOR_ACCENT, 0.28);
      sc_draw_rect (d, x, ry, 5 * s, row_h, 0, SC_COLOR_ACCENT, 1.0);
    }
    double base = ry + row_h / 2 + fs * 0.36;
    double box = row_h * 0.72;
    draw_rank_box (d, row->rank, c_rank, ry + (row_h - box) / 2, box);
    sc_draw_text (d, row->id, fs * 0.9, SC_TEXT_BOLD, c_id, base, c_name - c_id - 8 * s,
                  SC_COLOR_MUTED, 1.0);
    sc_draw_text (d, row_name (row), fs, SC_TEXT_BOLD, c_name, base, c_org - c_name - 12 * s,
                  SC_COLOR_TEXT, 1.0);
    sc_draw_text (d, row->org, fs * 0.9, 0, c_org, base, c_trade - c_org - 12 * s,
                  SC_COLOR_MUTED, 1.0);
    sc_draw_text (d, row->trade, fs * 0.9, 0, c_trade, base, c_state - c_trade - 12 * s,
                  SC_COLOR_MUTED, 1.0);
    guint32 bc;
    const char *badge = state_badge (row->state, &bc);
    if (badge)
      sc_draw_pill (d, badge, fs * 0.72, c_state, ry + row_h * 0.2, row_h * 0.6, bc,
                    SC_COLOR_TEXT, 0);
    char score[32];
    format_score (row, score, sizeof score);
    sc_draw_text (d, score, fs * 1.15, SC_TEXT_BOLD | SC_TEXT_TNUM | SC_TEXT_RIGHT, c_score,
                  ry + row_h / 2 + fs * 0.42, 0, SC_COLOR_TEXT, 1.0);
  }
  if (shown < n) {
    char more[64];
    g_snprintf (more, sizeof more, "… 另有 %u 位选手", n - shown);
    sc_draw_text (d, more, fs, 0, c_name, ry + row_h / 2 + fs * 0.36, 0, SC_COLOR_MUTED, 1.0);
  }
}

static void
draw_labels (ScOverlay *ov, ScDraw *d)
{
  double s = ov->s;
  for (guint i = 0; i < ov->tiles->len; i++) {
    const Tile *t = &g_array_index (ov->tiles, Tile, i);
    if (t->width < 40 || t->height < 30)
      continue;
    double fs = CLAMP (t->height * 0.05, 9.0, 17 * s);
    double h = fs * 1.75, inset = MIN (12 * s, t->height * 0.04);
    /* Inside the tile, and off the very edge of the picture. */
    double left = MAX (t->x + inset, ov->mx * 0.5);
    double right = MIN (t->x + t->width - inset, ov->width - ov->mx * 0.5);
    double bottom = MIN (t->y + t->height - inset, ov->height - ov->my * 0.5) - h;
    double top = MAX (t->y + inset, ov->my * 0.5);
    double max_w = right - left;
    double pad = fs * 0.55;
    const ScStationRow *row = sc_contest_find (ov->contest, t->station_id);
    const char *name = t->label ? t->label : (row ? row_name (row) : NULL);
    if (name && strcmp (name, t->station_id) == 0)
      name = NULL;
    double idw = sc_draw_text_width (d, t->station_id, fs, SC_TEXT_BOLD);
    double namew = name ? sc_draw_text_width (d, name, fs, SC_TEXT_BOLD) + fs * 0.5 : 0;
    double w = MIN (pad + idw + namew + pad, max_w);
    /* Bottom-left, unless a panel covers it there: then the first free one
     * of bottom-right, top-left, top-right. */
    double cx[4] = { left, right - w, left, right - w }, cy[4] = { bottom, bottom, top, top };
    double x = cx[0], y = cy[0];
    for (int k = 0; k < 4; k++) {
      if (is_free (ov, cx[k], cy[k], w, h)) {
        x = cx[k];
        y = cy[k];
        break;
      }
    }
    cairo_save (d->cr);
    cairo_rectangle (d->cr, t->x, t->y, t->width, t->height);
    cairo_clip (d->cr);
    sc_draw_rect (d, x, y, w, h, 2 * s, SC_COLOR_HEADER, 0.80);
    sc_draw_rect (d, x, y, 3 * s, h, 0, SC_COLOR_ACCENT, 1.0);
    double used = sc_draw_text (d, t->station_id, fs, SC_TEXT_BOLD, x + pad, y + h / 2 + fs * 0.36,
                                MAX (w - 2 * pad, 1), SC_COLOR_ACCENT, 1.0);
    double nx = x + pad + used + fs * 0.5;
    if (name && nx < x + w - pad - fs)
      sc_draw_text (d, name, fs, SC_TEXT_BOLD, nx, y + h / 2 + fs * 0.36, x + w - pad - nx,
                    SC_COLOR_TEXT, 1.0);
    cairo_restore (d->cr);
  }
}

/* ---- Rendering and publishing ---- */

/* What of the picture depends on time alone: if this string is unchanged,
 * a re-render would draw the same picture. */
static char *
dynamic_signature (ScOverlay *ov, gint64 now)
{
  GString *sig = g_string_new (NULL);
  gboolean board = ov->visible[SC_OVERLAY_LEADERBOARD];
  if (ov->visible[SC_OVERLAY_CLOCK]) {
    gint64 remaining = 0;
    ScClockState st = sc_contest_clock (ov->contest, now, &remaining);
    char digits[32];
    format_clock (remaining, digits, sizeof digits);
    g_string_append_printf (sig, "c%d:%s:%d|", st, digits, remaining > 0);
  }
  if (ov->visible[SC_OVERLAY_LOWERTHIRD] && !board) {
    const char *a = sc_contest_announcement (ov->contest, now);
    g_string_append_printf (sig, "a%s|", a ? a : "\x01");
  }
  if (ov->visible[SC_OVERLAY_SCOREBOARD] || board) {
    guint n = sc_contest_n_stations (ov->contest);
    if (!board)
      n = MIN (n, (guint) MAX (ov->top, 0));
    for (guint i = 0; i < n; i++)
      if (highlighted (sc_contest_row (ov->contest, i), now))
        g_string_append_printf (sig, "h%u,", i);
  }
  return g_string_free (sig, FALSE);
}

static void schedule_tick (ScOverlay *ov, gint64 now);

static void
publish (ScOverlay *ov, ScOverlayImage *image)
{
  g_mutex_lock (&ov->lock);
  ScOverlayImage *old = ov->image;
  ov->image = image;
  ov->published_at = g_get_monotonic_time ();
  g_mutex_unlock (&ov->lock);
  /* A program thread may still hold OLD; the last unref frees it. */
  sc_overlay_image_unref (old);
}

void
sc_overlay_render_now (ScOverlay *ov)
{
  g_return_if_fail (ov != NULL);
  gint64 t0 = g_get_monotonic_time ();
  gint64 now = g_get_real_time ();
  if (ov->idle) {
    g_source_destroy (ov->idle);
    g_clear_pointer (&ov->idle, g_source_unref);
  }

  cairo_t *cr = cairo_create (ov->surface);
  cairo_set_operator (cr, CAIRO_OPERATOR_CLEAR);
  cairo_paint (cr);
  cairo_set_operator (cr, CAIRO_OPERATOR_OVER);
  ScDraw d;
  sc_draw_init (&d, cr, ov->font, ov->s);

  gboolean board = ov->visible[SC_OVERLAY_LEADERBOARD];
  ov->n_occupied = 0;
  if (ov->visible[SC_OVERLAY_SCOREBOARD] && !board)
    draw_scoreboard (ov, &d, now);
  if (ov->visible[SC_OVERLAY_LOWERTHIRD] && !board)
    draw_lowerthird (ov, &d, now);
  if (board)
    draw_leaderboard (ov, &d, now);
  double below_clock = ov->my;
  if (ov->visible[SC_OVERLAY_CLOCK])
    below_clock = draw_clock (ov, &d, now) + 8 * ov->s;
  if (ov->visible[SC_OVERLAY_LIVE])
    draw_live (ov, &d, below_clock);
  if (!board)
    draw_labels (ov, &d);

  sc_draw_clear (&d);
  cairo_destroy (cr);

  ScOverlayImage *image = sc_overlay_image_new_from_surface (ov->surface, ov->matrix);
  gint64 took = g_get_monotonic_time () - t0;
  ov->renders++;
  ov->render_us_total += took;
  GST_LOG ("render %" G_GUINT64_FORMAT ": %u rects, %" G_GUINT64_FORMAT " px, %" G_GINT64_FORMAT
           " us",
           ov->renders, sc_overlay_image_n_rects (image), sc_overlay_image_area (image), took);
  publish (ov, image);

  g_free (ov->rendered_sig);
  ov->rendered_sig = dynamic_signature (ov, now);
  schedule_tick (ov, now);
}

static gboolean
on_idle (gpointer data)
{
  ScOverlay *ov = data;
  g_clear_pointer (&ov->idle, g_source_unref);
  sc_overlay_render_now (ov);
  return G_SOURCE_REMOVE;
}

static void
schedule_render (ScOverlay *ov)
{
  if (ov->idle)
    return;
  ov->idle = g_idle_source_new ();
  g_source_set_priority (ov->idle, G_PRIORITY_HIGH);
  g_source_set_callback (ov->idle, on_idle, ov, NULL);
  g_source_set_name (ov->idle, "sc-overlay render");
  g_source_attach (ov->idle, ov->context);
}

static gboolean
on_tick (gpointer data)
{
  ScOverlay *ov = data;
  g_clear_pointer (&ov->tick, g_source_unref);
  gint64 now = g_get_real_time ();
  char *sig = dynamic_signature (ov, now);
  gboolean changed = g_strcmp0 (sig, ov->rendered_sig) != 0;
  g_free (sig);
  if (changed)
    sc_overlay_render_now (ov); /* re-arms the tick */
  else
    schedule_tick (ov, now);
  return G_SOURCE_REMOVE;
}

/* Arms the timer for the next moment the picture may change by itself:
 * the clock's next second, a highlight's end, or TICK_MAX_MS. */
static void
schedule_tick (ScOverlay *ov, gint64 now)
{
  gint64 delay_ms = TICK_MAX_MS;
  if (ov->visible[SC_OVERLAY_CLOCK]) {
    gint64 remaining = 0;
    if (sc_contest_clock (ov->contest, now, &remaining) == SC_CLOCK_RUNNING && remaining > 0)
      delay_ms = MIN (delay_ms, (remaining - 1) % 1000 + 1 + 2);
  }
  gboolean board = ov->visible[SC_OVERLAY_LEADERBOARD];
  if (ov->visible[SC_OVERLAY_SCOREBOARD] || board) {
    guint n = sc_contest_n_stations (ov->contest);
    for (guint i = 0; i < n; i++) {
      const ScStationRow *row = sc_contest_row (ov->contest, i);
      if (highlighted (row, now))
        delay_ms = MIN (delay_ms, (row->changed_at_us + HIGHLIGHT_US - now) / 1000 + 2);
    }
  }
  delay_ms = CLAMP (delay_ms, 1, TICK_MAX_MS);
  if (ov->tick) {
    g_source_destroy (ov->tick);
    g_source_unref (ov->tick);
  }
  ov->tick = g_timeout_source_new ((guint) delay_ms);
  g_source_set_priority (ov->tick, G_PRIORITY_HIGH);
  g_source_set_callback (ov->tick, on_tick, ov, NULL);
  g_source_set_name (ov->tick, "sc-overlay tick");
  g_source_attach (ov->tick, ov->context);
}

ScOverlay *
sc_overlay_new (const ScOverlayConfig *config, int width, int height, ScContest *contest)
{
  g_return_val_if_fail (config != NULL && contest != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  sc_overlay_debug_init ();
  ScOverlay *ov = g_new0 (ScOverlay, 1);
  ov->font = g_strdup (config->font && *config->font ? config->font : SC_DRAW_DEFAULT_FONT);
  ov->top = config->scoreboard_top > 0 ? config->scoreboard_top : 5;
  ov->width = width;
  ov->height = height;
  ov->s = height / 720.0;
  ov->mx = (int) lround (width * 0.05);
  ov->my = (int) lround (height * 0.05);
  ov->matrix = sc_overlay_default_matrix (width, height);
  ov->contest = contest;
  ov->context = g_main_context_ref_thread_default ();
  ov->visible[SC_OVERLAY_SCOREBOARD] = config->scoreboard_visible;
  ov->visible[SC_OVERLAY_CLOCK] = config->clock_visible;
  ov->visible[SC_OVERLAY_LOWERTHIRD] = config->lowerthird_visible;
  ov->visible[SC_OVERLAY_LIVE] = config->live_visible;
  ov->visible[SC_OVERLAY_LEADERBOARD] = FALSE;
  ov->tiles = g_array_new (FALSE, TRUE, sizeof (Tile));
  ov->surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  g_mutex_init (&ov->lock);
  GST_INFO ("overlay %dx%d, font \"%s\", top %d, matrix %s", width, height, ov->font, ov->top,
            ov->matrix == GST_VIDEO_COLOR_MATRIX_BT709 ? "BT.709" : "BT.601");
  /* The clock and highlights redraw themselves from here on. */
  schedule_tick (ov, g_get_real_time ());
  return ov;
}

static void
clear_tiles (ScOverlay *ov)
{
  for (guint i = 0; i < ov->tiles->len; i++) {
    Tile *t = &g_array_index (ov->tiles, Tile, i);
    g_free (t->station_id);
    g_free (t->label);
  }
  g_array_set_size (ov->tiles, 0);
}

void
sc_overlay_free (ScOverlay *ov)
{
  if (ov == NULL)
    return;
  if (ov->idle) {
    g_source_destroy (ov->idle);
    g_source_unref (ov->idle);
  }
  if (ov->tick) {
    g_source_destroy (ov->tick);
    g_source_unref (ov->tick);
  }
  GST_INFO ("overlay freed after %" G_GUINT64_FORMAT " renders, %.2f ms each on average",
            ov->renders, ov->renders ? ov->render_us_total / 1000.0 / ov->renders : 0.0);
  clear_tiles (ov);
  g_array_unref (ov->tiles);
  cairo_surface_destroy (ov->surface);
  sc_overlay_image_unref (ov->image);
  g_mutex_clear (&ov->lock);
  g_main_context_unref (ov->context);
  g_free (ov->focus);
  g_free (ov->rendered_sig);
  g_free (ov->font);
  g_free (ov);
}

void
sc_overlay_invalidate (ScOverlay *ov)
{
  g_return_if_fail (ov != NULL);
  schedule_render (ov);
}

void
sc_overlay_set_tiles (ScOverlay *ov, const ScOverlayTile *tiles, guint n_tiles)
{
  g_return_if_fail (ov != NULL);
  clear_tiles (ov);
  for (guint i = 0; i < n_tiles; i++) {
    if (tiles[i].station_id == NULL)
      continue;
    Tile t = {
      .station_id = g_strdup (tiles[i].station_id),
      .label = g_strdup (tiles[i].label),
      .x = tiles[i].x,
      .y = tiles[i].y,
      .width = tiles[i].width,
      .height = tiles[i].height,
    };
    g_array_append_val (ov->tiles, t);
  }
  schedule_render (ov);
}

void
sc_overlay_set_focus (ScOverlay *ov, const char *station_id)
{
  g_return_if_fail (ov != NULL);
  if (g_strcmp0 (ov->focus, station_id) == 0)
    return;
  g_free (ov->focus);
  ov->focus = g_strdup (station_id);
  schedule_render (ov);
}

void
sc_overlay_set_visible (ScOverlay *ov, ScOverlayPart part, gboolean visible)
{
  g_return_if_fail (ov != NULL);
  g_return_if_fail ((int) part >= 0 && part < SC_OVERLAY_N_PARTS);
  visible = !!visible;
  if (ov->visible[part] == visible)
    return;
  ov->visible[part] = visible;
  GST_INFO ("%s %s", part_names[part], visible ? "shown" : "hidden");
  schedule_render (ov);
}

gboolean
sc_overlay_get_visible (ScOverlay *ov, ScOverlayPart part)
{
  g_return_val_if_fail (ov != NULL, FALSE);
  g_return_val_if_fail ((int) part >= 0 && part < SC_OVERLAY_N_PARTS, FALSE);
  return ov->visible[part];
}

ScOverlayImage *
sc_overlay_get_image (ScOverlay *ov)
{
  g_return_val_if_fail (ov != NULL, NULL);
  g_mutex_lock (&ov->lock);
  ScOverlayImage *image = ov->image ? sc_overlay_image_ref (ov->image) : NULL;
  g_mutex_unlock (&ov->lock);
  return image;
}

gint64
sc_overlay_published_at (ScOverlay *ov)
{
  g_return_val_if_fail (ov != NULL, 0);
  g_mutex_lock (&ov->lock);
  gint64 t = ov->published_at;
  g_mutex_unlock (&ov->lock);
  return t;
}

/* ---- Slate and labels ---- */

GstBuffer *
sc_overlay_render_slate (int width, int height, const char *font, const char *id,
                         const char *name)
{
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  sc_overlay_debug_init ();
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cairo_t *cr = cairo_create (surface);
  double s = height / 360.0;
  ScDraw d;
  sc_draw_init (&d, cr, font, s);

  /* Flat dark blue-grey: a gradient would band in 8-bit I420 and at
   * low bitrates, and flat compresses to nothing. */
  cairo_set_source_rgb (cr, 0x16 / 255.0, 0x1d / 255.0, 0x2b / 255.0);
  cairo_paint (cr);
  /* A quiet frame so a lost tile still reads as a tile in the grid. */
  double bw = MAX (2.0, height * 0.012);
  cairo_rectangle (cr, bw / 2, bw / 2, width - bw, height - bw);
  cairo_set_line_width (cr, bw);
  cairo_set_source_rgb (cr, 0x26 / 255.0, 0x30 / 255.0, 0x45 / 255.0);
  cairo_stroke (cr);

  double cx = width / 2.0;
  double big = MIN (height * 0.15, width * 0.10);
  /* Warning bar above the words. */
  sc_draw_rect (&d, cx - big * 1.2, height * 0.20, big * 2.4, MAX (big * 0.10, 2), 0,
                SC_COLOR_LIVE, 1.0);
  sc_draw_text (&d, "信号中断", big, SC_TEXT_BOLD | SC_TEXT_CENTER, cx, height * 0.20 + big * 1.35,
                width * 0.92, SC_COLOR_TEXT, 1.0);
  sc_draw_text (&d, "NO SIGNAL", big * 0.46, SC_TEXT_BOLD | SC_TEXT_CENTER, cx,
                height * 0.20 + big * 2.1, width * 0.92, SC_COLOR_MUTED, 1.0);
  GString *who = g_string_new (NULL);
  if (id && *id)
    g_string_append (who, id);
  if (name && *name && g_strcmp0 (name, id) != 0)
    g_string_append_printf (who, "%s%s", who->len ? "  ·  " : "", name);
  if (who->len)
    sc_draw_text (&d, who->str, big * 0.50, SC_TEXT_BOLD | SC_TEXT_CENTER, cx, height * 0.78,
                  width * 0.90, SC_COLOR_ACCENT, 1.0);
  g_string_free (who, TRUE);
  sc_draw_clear (&d);
  cairo_destroy (cr);

  /* Opaque everywhere, so blending into any frame yields exactly the slate. */
  ScOverlayImage *image =
    sc_overlay_image_new_from_surface (surface, sc_overlay_default_matrix (width, height));
  cairo_surface_destroy (surface);

  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, width, height);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE)) {
    GST_WARNING ("cannot map a %dx%d slate buffer", width, height);
    sc_overlay_image_unref (image);
    gst_buffer_unref (buf);
    return NULL;
  }
  for (int p = 0; p < 3; p++)
    memset (GST_VIDEO_FRAME_PLANE_DATA (&frame, p), p ? 128 : 16,
            (gsize) GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p) * GST_VIDEO_FRAME_COMP_HEIGHT (&frame, p));
  sc_overlay_image_blend (image, &frame, 0, 0);
  gst_video_frame_unmap (&frame);
  sc_overlay_image_unref (image);
  return buf;
}

ScOverlayImage *
sc_overlay_render_label (const char *font, const char *text, int height_px, int max_width)
{
  g_return_val_if_fail (height_px > 0 && max_width > 0, NULL);
  sc_overlay_debug_init ();
  /* Measure first on a scratch surface, then draw at the size needed. */
  cairo_surface_t *scratch = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1, 1);
  cairo_t *cr = cairo_create (scratch);
  ScDraw d;
  sc_draw_init (&d, cr, font, height_px / 30.0);
  double fs = height_px * 0.58, pad = height_px * 0.35;
  double tw = sc_draw_text_width (&d, text ? text : "", fs, SC_TEXT_BOLD);
  sc_draw_clear (&d);
  cairo_destroy (cr);
  cairo_surface_destroy (scratch);

  int w = (int) ceil (MIN (tw + 2 * pad, (double) max_width));
  w = MAX (w, 2);
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, height_px);
  cr = cairo_create (surface);
  sc_draw_init (&d, cr, font, height_px / 30.0);
  sc_draw_rect (&d, 0, 0, w, height_px, height_px * 0.12, SC_COLOR_HEADER, 0.78);
  sc_draw_text (&d, text, fs, SC_TEXT_BOLD, pad, height_px / 2.0 + fs * 0.36,
                MAX (w - 2 * pad, 1), SC_COLOR_TEXT, 1.0);
  sc_draw_clear (&d);
  cairo_destroy (cr);
  /* White on near-black: the same in BT.601 and BT.709, so a label suits
   * any frame. */
  ScOverlayImage *image =
    sc_overlay_image_new_from_surface (surface, GST_VIDEO_COLOR_MATRIX_UNKNOWN);
  cairo_surface_destroy (surface);
  return image;
}
