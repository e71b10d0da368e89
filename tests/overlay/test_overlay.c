/* overlay: what a viewer would see in the program picture. Real cairo,
 * pango and the CJK font; frames are real I420 GstVideoFrames. */
#include "tests/lib/testlib.h"
#include "overlay/overlay.h"
#include "overlay/overlay-private.h"

#include <string.h>
#include <cairo.h>

#define W 1280
#define H 720
#define GREY 128

/* ---- helpers ---- */

static int entry_seq;

/* Entry ids carry the wall-clock time in ms, as Redis makes them: the
 * contest counts the clock and announcement ttl from them. */
static void
apply (ScContest *c, gint64 now_us, ...)
{
  char *fields[32];
  guint n = 0;
  va_list ap;
  va_start (ap, now_us);
  const char *f;
  while ((f = va_arg (ap, const char *)) != NULL && n < G_N_ELEMENTS (fields))
    fields[n++] = (char *) f;
  va_end (ap);
  char id[64];
  g_snprintf (id, sizeof id, "%" G_GINT64_FORMAT "-%d", g_get_real_time () / 1000, ++entry_seq);
  g_autoptr (GError) error = NULL;
  gboolean ok = sc_contest_apply (c, id, fields, n, now_us, NULL, NULL, &error);
  if (!ok)
    fail_msg ("apply %s: %s", id, error->message);
}

static ScOverlayConfig
config (void)
{
  ScOverlayConfig cfg = {
    .font = "Noto Sans CJK SC",
    .scoreboard_visible = TRUE,
    .scoreboard_top = 5,
    .clock_visible = TRUE,
    .lowerthird_visible = TRUE,
    .live_visible = TRUE,
  };
  return cfg;
}

static ScContest *
make_contest (const char *first_name)
{
  ScStationConfig st[6] = {
    { .id = "A01", .name = (char *) (first_name ? first_name : "张伟"), .org = "深圳技师学院", .trade = "数控铣" },
    { .id = "A02", .name = "李娜", .org = "广州市机电技师学院", .trade = "数控铣" },
    { .id = "A03", .name = "王强", .org = "江苏省常州技师学院", .trade = "数控铣" },
    { .id = "A04", .name = "刘洋", .org = "杭州技师学院", .trade = "数控铣" },
    { .id = "A05", .name = "陈静", .org = "天津轻工职业技术学院", .trade = "数控铣" },
    { .id = "A06", .name = "赵磊", .org = "重庆工业职业技术学院", .trade = "数控铣" },
  };
  ScContest *c = sc_contest_new ("zz2026-cnc", "2026 全国职业技能大赛 · 数控铣", st, 6);
  gint64 old = g_get_real_time () - 60 * G_USEC_PER_SEC; /* no highlights */
  apply (c, old, "type", "score", "station", "A01", "total", "92.5", NULL);
  apply (c, old, "type", "score", "station", "A02", "total", "88.0", NULL);
  apply (c, old, "type", "score", "station", "A03", "total", "87.5", NULL);
  apply (c, old, "type", "score", "station", "A04", "total", "79.25", NULL);
  apply (c, old, "type", "score", "station", "A05", "total", "71.0", NULL);
  apply (c, old, "type", "status", "station", "A01", "state", "finished", NULL);
  apply (c, old, "type", "status", "station", "A02", "state", "working", NULL);
  apply (c, old, "type", "status", "station", "A03", "state", "paused", NULL);
  apply (c, old, "type", "status", "station", "A06", "state", "disqualified", NULL);
  return c;
}

static GstBuffer *
grey_buffer (int w, int h, GstVideoInfo *info)
{
  gst_video_info_set_format (info, GST_VIDEO_FORMAT_I420, w, h);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, GREY, map.size);
  gst_buffer_unmap (buf, &map);
  return buf;
}

/* A grey frame with IMAGE blended at (X, Y); caller frees with g_free. */
static guint8 *
blend_grey (ScOverlayImage *image, int w, int h, int x, int y)
{
  GstVideoInfo info;
  GstBuffer *buf = grey_buffer (w, h, &info);
  GstVideoFrame frame;
  assert_true (gst_video_frame_map (&frame, &info, buf, GST_MAP_READWRITE));
  if (image)
    sc_overlay_image_blend (image, &frame, x, y);
  gst_video_frame_unmap (&frame);
  guint8 *copy = g_malloc (GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_extract (buf, 0, copy, GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_unref (buf);
  return copy;
}

/* With SC_OVERLAY_DUMP=DIR set, frames are also written there as PNGs to
 * look at. */
static void
dump_png (const guint8 *i420, int w, int h)
{
  static int n;
  const char *dir = g_getenv ("SC_OVERLAY_DUMP");
  if (dir == NULL)
    return;
  GstVideoInfo in, out;
  gst_video_info_set_format (&in, GST_VIDEO_FORMAT_I420, w, h);
  gst_video_info_set_format (&out, GST_VIDEO_FORMAT_BGRx, w, h);
  GstVideoConverter *conv = gst_video_converter_new (&in, &out, NULL);
  GstBuffer *ib = gst_buffer_new_wrapped (g_memdup2 (i420, GST_VIDEO_INFO_SIZE (&in)),
                                          GST_VIDEO_INFO_SIZE (&in));
  GstBuffer *ob = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&out), NULL);
  GstVideoFrame fi, fo;
  gst_video_frame_map (&fi, &in, ib, GST_MAP_READ);
  gst_video_frame_map (&fo, &out, ob, GST_MAP_WRITE);
  gst_video_converter_frame (conv, &fi, &fo);
  cairo_surface_t *s = cairo_image_surface_create_for_data (
    GST_VIDEO_FRAME_PLANE_DATA (&fo, 0), CAIRO_FORMAT_RGB24, w, h,
    GST_VIDEO_FRAME_PLANE_STRIDE (&fo, 0));
  char *path = g_strdup_printf ("%s/frame-%02d.png", dir, ++n);
  cairo_surface_write_to_png (s, path);
  print_message ("wrote %s\n", path);
  g_free (path);
  cairo_surface_destroy (s);
  gst_video_frame_unmap (&fi);
  gst_video_frame_unmap (&fo);
  gst_buffer_unref (ib);
  gst_buffer_unref (ob);
  gst_video_converter_free (conv);
}

static guint8 *
blend_overlay (ScOverlay *ov)
{
  g_autoptr (ScOverlayImage) image = sc_overlay_get_image (ov);
  assert_non_null (image);
  guint8 *f = blend_grey (image, W, H, 0, 0);
  dump_png (f, W, H);
  return f;
}

/* Pixels (luma, or chroma of the 2x2 block) in the box that are not grey. */
static guint
count_changed (const guint8 *i420, int w, int h, int x0, int y0, int x1, int y1)
{
  const guint8 *u = i420 + w * h, *v = u + (w / 2) * (h / 2);
  guint n = 0;
  for (int y = MAX (y0, 0); y < MIN (y1, h); y++)
    for (int x = MAX (x0, 0); x < MIN (x1, w); x++) {
      int ci = (y / 2) * (w / 2) + x / 2;
      if (i420[y * w + x] != GREY || u[ci] != GREY || v[ci] != GREY)
        n++;
    }
  return n;
}

static guint
count_diff (const guint8 *a, const guint8 *b, int w, int x0, int y0, int x1, int y1)
{
  guint n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      if (a[y * w + x] != b[y * w + x])
        n++;
  return n;
}

/* Runs the main context until the overlay publishes after SINCE. */
static gboolean
wait_publish (ScOverlay *ov, gint64 since, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;
  while (g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    if (sc_overlay_published_at (ov) > since)
      return TRUE;
    g_usleep (1000);
  }
  return FALSE;
}

/* The scoreboard rows, the clock, the centre of the picture (720p). */
#define SB_X0 (64 + 10)
#define SB_X1 (64 + 460)
#define SB_Y0 (36 + 46)
#define SB_Y1 (36 + 44 + 5 * 54)

/* ---- tests ---- */

static void
test_parts_strings (void **state)
{
  for (int i = 0; i < SC_OVERLAY_N_PARTS; i++) {
    ScOverlayPart p;
    const char *s = sc_overlay_part_to_string ((ScOverlayPart) i);
    assert_non_null (s);
    assert_true (sc_overlay_part_from_string (s, &p));
    assert_int_equal (p, i);
  }
  ScOverlayPart p;
  assert_true (sc_overlay_part_from_string ("lowerthird", &p));
  assert_int_equal (p, SC_OVERLAY_LOWERTHIRD);
  assert_false (sc_overlay_part_from_string ("Scoreboard", &p));
  assert_false (sc_overlay_part_from_string (NULL, &p));
  assert_null (sc_overlay_part_to_string (SC_OVERLAY_N_PARTS));
}

static void
test_scoreboard_over_grey (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  assert_null (sc_overlay_get_image (ov));
  assert_true (sc_overlay_get_visible (ov, SC_OVERLAY_SCOREBOARD));
  assert_true (sc_overlay_get_visible (ov, SC_OVERLAY_CLOCK));
  assert_true (sc_overlay_get_visible (ov, SC_OVERLAY_LIVE));
  assert_false (sc_overlay_get_visible (ov, SC_OVERLAY_LEADERBOARD));
  sc_overlay_render_now (ov);
  assert_true (sc_overlay_published_at (ov) > 0);

  g_autofree guint8 *f = blend_overlay (ov);
  guint area = (SB_X1 - SB_X0) * (SB_Y1 - SB_Y0);
  guint sb = count_changed (f, W, H, SB_X0, SB_Y0, SB_X1, SB_Y1);
  /* The panel is semi-opaque: nearly every pixel of it differs from grey. */
  assert_true (sb > area * 9 / 10);
  /* Clock (top-right) and the centre of the picture. */
  assert_true (count_changed (f, W, H, W - 64 - 170, 40, W - 64, 96) > 5000);
  assert_int_equal (count_changed (f, W, H, 540, 340, 840, 560), 0);
  /* Only the drawn parts are kept. */
  g_autoptr (ScOverlayImage) img = sc_overlay_get_image (ov);
  assert_true (sc_overlay_image_area (img) < (guint64) W * H / 3);
}

static void
test_score_change_reaches_picture (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  cfg.clock_visible = FALSE; /* no clock ticks racing the change */
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  sc_overlay_render_now (ov);
  g_autofree guint8 *before = blend_overlay (ov);
  gint64 t0 = sc_overlay_published_at (ov);

  /* A06 was disqualified and off the board; A05 jumps to the top. */
  apply (c, g_get_real_time (), "type", "score", "station", "A05", "total", "99.5", NULL);
  gint64 t_event = g_get_monotonic_time ();
  sc_overlay_invalidate (ov);
  sc_overlay_invalidate (ov); /* coalesced */
  assert_true (wait_publish (ov, t0, 1000));
  gint64 latency = sc_overlay_published_at (ov) - t_event;
  print_message ("score -> published image: %.2f ms\n", latency / 1000.0);
  assert_true (latency < 200 * 1000);

  g_autofree guint8 *after = blend_overlay (ov);
  /* First row (rank 1): new name, new score, highlight. */
  guint d = count_diff (before, after, W, SB_X0, SB_Y0, SB_X1, SB_Y0 + 46);
  print_message ("top row pixels changed: %u\n", d);
  assert_true (d > 2000);

  /* Hiding the scoreboard leaves grey there. */
  gint64 t1 = sc_overlay_published_at (ov);
  sc_overlay_set_visible (ov, SC_OVERLAY_SCOREBOARD, FALSE);
  assert_false (sc_overlay_get_visible (ov, SC_OVERLAY_SCOREBOARD));
  assert_true (wait_publish (ov, t1, 1000));
  g_autofree guint8 *hidden = blend_overlay (ov);
  assert_int_equal (count_changed (hidden, W, H, 0, 0, W / 2, H / 2), 0);
}

static void
test_highlight_expires (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  cfg.clock_visible = FALSE;
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  /* Changed 1.8 s ago: highlighted now, plain 0.2 s later, by itself. */
  apply (c, g_get_real_time () - 1800 * 1000, "type", "score", "station", "A01", "total", "93.0",
         NULL);
  sc_overlay_render_now (ov);
  g_autofree guint8 *lit = blend_overlay (ov);
  gint64 t0 = sc_overlay_published_at (ov);
  assert_true (wait_publish (ov, t0, 800));
  g_autofree guint8 *plain = blend_overlay (ov);
  assert_true (count_diff (lit, plain, W, SB_X0 - 10, SB_Y0, SB_X1, SB_Y0 + 46) > 5000);
}

static void
test_clock_ticks (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  apply (c, g_get_real_time (), "type", "clock", "state", "running", "remaining_ms", "5400500",
         NULL);
  ScOverlayConfig cfg = config ();
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  sc_overlay_render_now (ov);
  g_autofree guint8 *a = blend_overlay (ov);
  gint64 t0 = sc_overlay_published_at (ov);
  /* Nothing but time passes: the next second is drawn. */
  assert_true (wait_publish (ov, t0, 1500));
  g_autofree guint8 *b = blend_overlay (ov);
  assert_true (count_diff (a, b, W, W - 64 - 178, 36, W - 64, 100) > 20);
  assert_int_equal (count_diff (a, b, W, 0, 0, W / 2, H), 0);

  /* Paused: no more redraws for the clock. */
  apply (c, g_get_real_time (), "type", "clock", "state", "paused", "remaining_ms", "5000000",
         NULL);
  sc_overlay_render_now (ov);
  gint64 t1 = sc_overlay_published_at (ov);
  assert_false (wait_publish (ov, t1, 1200));
}

static void
test_lowerthird_and_labels (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  sc_overlay_render_now (ov);
  g_autofree guint8 *none = blend_overlay (ov);
  int lt_y0 = H - 36 - 80, lt_y1 = H - 36;
  assert_int_equal (count_changed (none, W, H, 64, lt_y0, W / 2, lt_y1), 0);

  sc_overlay_set_focus (ov, "A02");
  gint64 t = sc_overlay_published_at (ov);
  assert_true (wait_publish (ov, t, 1000));
  g_autofree guint8 *focus = blend_overlay (ov);
  assert_true (count_changed (focus, W, H, 64, lt_y0, W / 2, lt_y1) > 30000);

  apply (c, g_get_real_time (), "type", "announce", "text", "第二模块 14:30 开始，请各工位做好准备",
         "ttl_ms", "60000", NULL);
  sc_overlay_invalidate (ov);
  t = sc_overlay_published_at (ov);
  assert_true (wait_publish (ov, t, 1000));
  g_autofree guint8 *ann = blend_overlay (ov);
  assert_true (count_diff (focus, ann, W, 64, lt_y0, W / 2, lt_y1) > 5000);

  /* Tiles: a label at each tile's bottom-left, nothing at its centre. */
  ScOverlayTile tiles[4] = {
    { "A01", NULL, 0, 0, 640, 360 },     { "A02", NULL, 640, 0, 640, 360 },
    { "A03", "王强", 0, 360, 640, 360 }, { "A04", NULL, 640, 360, 640, 360 },
  };
  sc_overlay_set_visible (ov, SC_OVERLAY_LOWERTHIRD, FALSE);
  sc_overlay_set_tiles (ov, tiles, 4);
  t = sc_overlay_published_at (ov);
  assert_true (wait_publish (ov, t, 1000));
  g_autofree guint8 *lab = blend_overlay (ov);
  assert_true (count_changed (lab, W, H, 640, 360 - 40, 800, 360) > 1000);  /* A02 */
  assert_true (count_changed (lab, W, H, 640, 720 - 40, 800, 720) > 1000);  /* A04 */
  assert_int_equal (count_changed (lab, W, H, 900, 400, 1100, 600), 0);

  /* Leaderboard: the middle of the picture fills. */
  sc_overlay_set_visible (ov, SC_OVERLAY_LEADERBOARD, TRUE);
  t = sc_overlay_published_at (ov);
  assert_true (wait_publish (ov, t, 1000));
  g_autofree guint8 *lb = blend_overlay (ov);
  assert_true (count_changed (lb, W, H, 440, 260, 840, 460) > 400 * 200 * 9 / 10);
}

/* Rightmost column with anything drawn in rows Y0..Y1. */
static int
rightmost (const guint8 *f, int y0, int y1)
{
  for (int x = W - 1; x >= 0; x--)
    if (count_changed (f, W, H, x, y0, x + 1, y1))
      return x;
  return -1;
}

static void
test_long_names_stay_in_panel (void **state)
{
  GString *longname = g_string_new (NULL);
  while (g_utf8_strlen (longname->str, -1) < 200)
    g_string_append (longname, "超长名字测试Long");
  ScOverlayConfig cfg = config ();
  cfg.clock_visible = cfg.live_visible = FALSE;

  g_autoptr (ScContest) c1 = make_contest (NULL);
  g_autoptr (ScOverlay) ov1 = sc_overlay_new (&cfg, W, H, c1);
  sc_overlay_render_now (ov1);
  g_autofree guint8 *f1 = blend_overlay (ov1);

  g_autoptr (ScContest) c2 = make_contest (longname->str);
  g_autoptr (ScOverlay) ov2 = sc_overlay_new (&cfg, W, H, c2);
  sc_overlay_set_focus (ov2, "A01");
  sc_overlay_render_now (ov2);
  g_autofree guint8 *f2 = blend_overlay (ov2);

  int r1 = rightmost (f1, 0, H / 2), r2 = rightmost (f2, 0, H / 2);
  print_message ("panel right edge: %d (short names), %d (200-char name)\n", r1, r2);
  assert_true (r1 > W / 4 && r1 < W / 2);
  assert_int_equal (r1, r2);
  /* The focused lower-third keeps inside the safe area too. */
  assert_true (rightmost (f2, H - 36 - 80, H - 36) < W - 64);
  /* The row still shows its score (text at the right end of the row). */
  assert_true (count_diff (f1, f2, W, SB_X0 + 60, SB_Y0, SB_X1 - 100, SB_Y0 + 46) > 200);
  g_string_free (longname, TRUE);
}

static void
check_slate (int w, int h)
{
  g_autoptr (GstBuffer) buf = sc_overlay_render_slate (w, h, "Noto Sans CJK SC", "A03", "王强");
  assert_non_null (buf);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, w, h);
  assert_int_equal (gst_buffer_get_size (buf), GST_VIDEO_INFO_SIZE (&info));
  GstMapInfo map;
  assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  guint bright = 0, dark = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint8 l = map.data[y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) + x];
      if (l > 180)
        bright++;
      else if (l < 60)
        dark++;
    }
  /* Chroma: a blue-grey background, not green (0) nor neutral garbage. */
  const guint8 *u = map.data + GST_VIDEO_INFO_PLANE_OFFSET (&info, 1);
  int corner_u = u[0];
  gst_buffer_unmap (buf, &map);
  print_message ("slate %dx%d: %u bright, %u dark pixels, corner U %d\n", w, h, bright, dark,
                 corner_u);
  assert_true (bright > (guint) (w * h) / 100);
  assert_true (dark > (guint) (w * h) / 2);
  assert_true (corner_u >= 128 && corner_u < 145);
}

static void
test_slate (void **state)
{
  check_slate (320, 180);
  check_slate (640, 360);
  check_slate (1280, 720);
  check_slate (321, 181); /* odd sizes do not crash */
}

static void
test_blend_clips (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  sc_overlay_render_now (ov);
  g_autoptr (ScOverlayImage) img = sc_overlay_get_image (ov);
  /* A full-program image moved partly or wholly off a smaller frame. */
  int offs[][2] = { { -100, -50 }, { -101, -51 }, { 700, 400 }, { 701, 401 },
                    { -5000, 0 },  { 0, 5000 },   { 1279, 719 }, { -1279, -719 } };
  for (guint i = 0; i < G_N_ELEMENTS (offs); i++) {
    g_free (blend_grey (img, 640, 360, offs[i][0], offs[i][1]));
    g_free (blend_grey (img, 322, 182, offs[i][0], offs[i][1]));
  }
  g_autofree guint8 *f = blend_grey (img, 640, 360, -10, -10);
  assert_true (count_changed (f, 640, 360, 0, 0, 300, 200) > 10000);

  g_autoptr (ScOverlayImage) label = sc_overlay_render_label ("Noto Sans CJK SC",
                                                              "A01 张伟 · 深圳技师学院", 28, 200);
  assert_non_null (label);
  g_autofree guint8 *l = blend_grey (label, 320, 180, 250, 160);
  /* Clipped at 320: drawn between 250 and the edge, 20 rows. */
  assert_true (count_changed (l, 320, 180, 250, 160, 320, 180) > 600);
  assert_int_equal (count_changed (l, 320, 180, 0, 0, 250, 160), 0);
  g_free (blend_grey (label, 320, 180, -150, -10));
}


static void
test_announcement_expires (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  cfg.clock_visible = FALSE;
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  apply (c, g_get_real_time (), "type", "announce", "text", "午休 30 分钟", "ttl_ms", "300", NULL);
  sc_overlay_render_now (ov);
  g_autofree guint8 *shown = blend_overlay (ov);
  int lt_y0 = H - 36 - 80, lt_y1 = H - 36;
  assert_true (count_changed (shown, W, H, 64, lt_y0, W / 2, lt_y1) > 30000);
  /* Nobody calls anything: the lower-third goes when its ttl is over. */
  gint64 t = sc_overlay_published_at (ov);
  assert_true (wait_publish (ov, t, 1600));
  g_autofree guint8 *gone = blend_overlay (ov);
  assert_int_equal (count_changed (gone, W, H, 64, lt_y0, W / 2, lt_y1), 0);
}

typedef struct {
  ScOverlay *ov;
  gint stop;
  guint blends;
} Blender;

static gpointer
blender_thread (gpointer data)
{
  Blender *b = data;
  GstVideoInfo info;
  GstBuffer *buf = grey_buffer (W, H, &info);
  GstVideoFrame frame;
  gst_video_frame_map (&frame, &info, buf, GST_MAP_READWRITE);
  while (!g_atomic_int_get (&b->stop)) {
    ScOverlayImage *img = sc_overlay_get_image (b->ov);
    if (img) {
      sc_overlay_image_blend (img, &frame, 0, 0);
      sc_overlay_image_unref (img);
      b->blends++;
    }
  }
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  return NULL;
}

/* The program thread blends while the main loop keeps publishing. */
static void
test_blend_while_publishing (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  ScOverlayConfig cfg = config ();
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  sc_overlay_render_now (ov);
  Blender b = { .ov = ov };
  GThread *th = g_thread_new ("blender", blender_thread, &b);
  char total[32];
  for (int i = 0; i < 20; i++) {
    g_snprintf (total, sizeof total, "%d.5", 60 + i);
    apply (c, g_get_real_time (), "type", "score", "station", "A06", "total", total, NULL);
    sc_overlay_render_now (ov);
  }
  g_atomic_int_set (&b.stop, 1);
  g_thread_join (th);
  print_message ("%u blends during 20 publishes\n", b.blends);
  assert_true (b.blends > 0);
}

static void
test_blend_cost (void **state)
{
  g_autoptr (ScContest) c = make_contest (NULL);
  apply (c, g_get_real_time (), "type", "clock", "state", "running", "remaining_ms", "5400000",
         NULL);
  ScOverlayConfig cfg = config ();
  cfg.scoreboard_top = 6;
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, W, H, c);
  ScOverlayTile tiles[4] = {
    { "A01", NULL, 0, 0, 640, 360 },   { "A02", NULL, 640, 0, 640, 360 },
    { "A03", NULL, 0, 360, 640, 360 }, { "A04", NULL, 640, 360, 640, 360 },
  };
  sc_overlay_set_tiles (ov, tiles, 4);
  sc_overlay_set_focus (ov, "A01");
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < 10; i++)
    sc_overlay_render_now (ov);
  double render_ms = (g_get_monotonic_time () - t0) / 10000.0;

  g_autoptr (ScOverlayImage) img = sc_overlay_get_image (ov);
  GstVideoInfo info;
  g_autoptr (GstBuffer) buf = grey_buffer (W, H, &info);
  GstVideoFrame frame;
  assert_true (gst_video_frame_map (&frame, &info, buf, GST_MAP_READWRITE));
  int n = 300;
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    sc_overlay_image_blend (img, &frame, 0, 0);
  double us = (g_get_monotonic_time () - t0) / (double) n;
  gst_video_frame_unmap (&frame);
  print_message ("720p full overlay: render %.2f ms, blend %.1f us/frame (%u rects, %.1f%% of "
                 "the frame)\n",
                 render_ms, us, sc_overlay_image_n_rects (img),
                 100.0 * sc_overlay_image_area (img) / (W * H));
  /* Generous: the machine is shared and this may be an ASan build. */
  assert_true (us < 20000);
}

int
main (void)
{
  gst_init (NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parts_strings),
    cmocka_unit_test (test_scoreboard_over_grey),
    cmocka_unit_test (test_score_change_reaches_picture),
    cmocka_unit_test (test_highlight_expires),
    cmocka_unit_test (test_clock_ticks),
    cmocka_unit_test (test_lowerthird_and_labels),
    cmocka_unit_test (test_long_names_stay_in_panel),
    cmocka_unit_test (test_slate),
    cmocka_unit_test (test_blend_clips),
    cmocka_unit_test (test_announcement_expires),
    cmocka_unit_test (test_blend_while_publishing),
    cmocka_unit_test (test_blend_cost),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
