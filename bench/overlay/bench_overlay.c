/* bench_overlay: what the overlay costs, and pictures of it.
 *
 *   bench_overlay [--width W --height H] [--renders N] [--frames N]
 *       render cost (ms per full re-render) and blend cost (us per frame)
 *       of a full program overlay: scoreboard (top 6), clock, LIVE,
 *       lower-third and 4 tile labels.
 *   bench_overlay --png PATH [--width W --height H] [--leaderboard] [--slate]
 *       the same overlay blended over four videotestsrc tiles, as a PNG
 *       (for docs/); --slate writes the NO SIGNAL slate instead.
 */
#include "overlay/overlay.h"
#include "overlay/overlay-private.h"

#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int entry_seq;

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
  if (!sc_contest_apply (c, id, fields, n, now_us, NULL, NULL, &error))
    g_printerr ("apply: %s\n", error->message);
}

static ScContest *
make_contest (void)
{
  static ScStationConfig st[6] = {
    { .id = "A01", .name = "张伟", .org = "深圳技师学院", .trade = "数控铣" },
    { .id = "A02", .name = "李娜", .org = "广州市机电技师学院", .trade = "数控铣" },
    { .id = "A03", .name = "王强", .org = "江苏省常州技师学院", .trade = "数控铣" },
    { .id = "A04", .name = "欧阳晓明", .org = "杭州技师学院", .trade = "数控铣" },
    { .id = "A05", .name = "陈静", .org = "天津轻工职业技术学院", .trade = "数控铣" },
    { .id = "A06", .name = "赵磊", .org = "重庆工业职业技术学院", .trade = "数控铣" },
  };
  ScContest *c = sc_contest_new ("zz2026-cnc", "2026 全国职业技能大赛 · 数控铣", st, 6);
  gint64 now = g_get_real_time (), old = now - 60 * G_USEC_PER_SEC;
  apply (c, old, "type", "score", "station", "A01", "total", "92.5", NULL);
  apply (c, old, "type", "score", "station", "A02", "total", "88.0", NULL);
  apply (c, old, "type", "score", "station", "A03", "total", "87.5", NULL);
  apply (c, old, "type", "score", "station", "A04", "total", "81.0", NULL);
  apply (c, old, "type", "score", "station", "A05", "total", "71.0", NULL);
  apply (c, old, "type", "penalty", "station", "A04", "points", "1.5", "reason", "安全", NULL);
  apply (c, old, "type", "status", "station", "A01", "state", "finished", NULL);
  apply (c, old, "type", "status", "station", "A02", "state", "working", NULL);
  apply (c, old, "type", "status", "station", "A03", "state", "working", NULL);
  apply (c, old, "type", "status", "station", "A04", "state", "paused", NULL);
  apply (c, old, "type", "status", "station", "A05", "state", "working", NULL);
  apply (c, old, "type", "status", "station", "A06", "state", "disqualified", NULL);
  /* Just now: A03 moves up (highlighted row). */
  apply (c, now, "type", "score", "station", "A03", "total", "90.0", NULL);
  apply (c, now, "type", "clock", "state", "running", "remaining_ms", "5025400", NULL);
  return c;
}

/* One videotestsrc frame of PATTERN, I420 W x H, written into DST at (X, Y). */
static void
paste_pattern (GstVideoFrame *dst, const char *pattern, int x, int y, int w, int h)
{
  char *desc = g_strdup_printf ("videotestsrc pattern=%s num-buffers=1 ! "
                                "video/x-raw,format=I420,width=%d,height=%d ! appsink name=s",
                                pattern, w, h);
  GstElement *p = gst_parse_launch (desc, NULL);
  g_free (desc);
  if (p == NULL)
    return;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "s");
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  if (sample) {
    GstVideoInfo info;
    gst_video_info_from_caps (&info, gst_sample_get_caps (sample));
    GstVideoFrame src;
    if (gst_video_frame_map (&src, &info, gst_sample_get_buffer (sample), GST_MAP_READ)) {
      for (int c = 0; c < 3; c++) {
        int sub = c ? 1 : 0;
        int cw = GST_VIDEO_FRAME_COMP_WIDTH (&src, c), ch = GST_VIDEO_FRAME_COMP_HEIGHT (&src, c);
        for (int j = 0; j < ch; j++)
          memcpy ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (dst, c)
                    + (gsize) ((y >> sub) + j) * GST_VIDEO_FRAME_COMP_STRIDE (dst, c) + (x >> sub),
                  (guint8 *) GST_VIDEO_FRAME_COMP_DATA (&src, c)
                    + (gsize) j * GST_VIDEO_FRAME_COMP_STRIDE (&src, c),
                  cw);
      }
      gst_video_frame_unmap (&src);
    }
    gst_sample_unref (sample);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
}

static gboolean
write_png (GstVideoFrame *frame, const char *path)
{
  GstVideoInfo out;
  int w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  gst_video_info_set_format (&out, GST_VIDEO_FORMAT_BGRx, w, h);
  GstVideoConverter *conv = gst_video_converter_new (&frame->info, &out, NULL);
  GstBuffer *ob = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&out), NULL);
  GstVideoFrame fo;
  gst_video_frame_map (&fo, &out, ob, GST_MAP_WRITE);
  gst_video_converter_frame (conv, frame, &fo);
  cairo_surface_t *s =
    cairo_image_surface_create_for_data (GST_VIDEO_FRAME_PLANE_DATA (&fo, 0), CAIRO_FORMAT_RGB24,
                                         w, h, GST_VIDEO_FRAME_PLANE_STRIDE (&fo, 0));
  cairo_status_t st = cairo_surface_write_to_png (s, path);
  cairo_surface_destroy (s);
  gst_video_frame_unmap (&fo);
  gst_buffer_unref (ob);
  gst_video_converter_free (conv);
  return st == CAIRO_STATUS_SUCCESS;
}

static void
set_tiles (ScOverlay *ov, int w, int h)
{
  ScOverlayTile tiles[4] = {
    { "A01", NULL, 0, 0, w / 2, h / 2 },
    { "A02", NULL, w / 2, 0, w / 2, h / 2 },
    { "A03", NULL, 0, h / 2, w / 2, h / 2 },
    { "A04", NULL, w / 2, h / 2, w / 2, h / 2 },
  };
  sc_overlay_set_tiles (ov, tiles, 4);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  int width = 1280, height = 720, renders = 30, frames = 600;
  gboolean leaderboard = FALSE, slate = FALSE;
  char *png = NULL;
  GOptionEntry entries[] = {
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "program width", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "program height", "H" },
    { "renders", 0, 0, G_OPTION_ARG_INT, &renders, "renders to time", "N" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "blends to time", "N" },
    { "png", 0, 0, G_OPTION_ARG_FILENAME, &png, "write a picture instead", "PATH" },
    { "leaderboard", 0, 0, G_OPTION_ARG_NONE, &leaderboard, "show the leaderboard", NULL },
    { "slate", 0, 0, G_OPTION_ARG_NONE, &slate, "picture of the NO SIGNAL slate", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("- overlay cost and pictures");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_add_group (octx, gst_init_get_option_group ());
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error)) {
    g_printerr ("bench_overlay: %s\n", error->message);
    return 2;
  }
  gst_init (NULL, NULL);

  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, width, height);

  if (png && slate) {
    g_autoptr (GstBuffer) buf = sc_overlay_render_slate (width, height, "Noto Sans CJK SC",
                                                         "A03", "王强");
    GstVideoFrame f;
    gst_video_frame_map (&f, &info, buf, GST_MAP_READ);
    gboolean ok = write_png (&f, png);
    gst_video_frame_unmap (&f);
    return ok ? 0 : 1;
  }

  g_autoptr (ScContest) contest = make_contest ();
  ScOverlayConfig cfg = {
    .font = "Noto Sans CJK SC",
    .scoreboard_visible = TRUE,
    .scoreboard_top = 6,
    .clock_visible = TRUE,
    .lowerthird_visible = TRUE,
    .live_visible = TRUE,
  };
  g_autoptr (ScOverlay) ov = sc_overlay_new (&cfg, width, height, contest);
  set_tiles (ov, width, height);
  sc_overlay_set_focus (ov, "A03");
  if (leaderboard)
    sc_overlay_set_visible (ov, SC_OVERLAY_LEADERBOARD, TRUE);
  sc_overlay_render_now (ov);

  g_autoptr (GstBuffer) buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  GstVideoFrame frame;
  gst_video_frame_map (&frame, &info, buf, GST_MAP_READWRITE);

  if (png) {
    const char *patterns[4] = { "smpte", "pinwheel", "spokes", "colors" };
    for (int i = 0; i < 4; i++)
      paste_pattern (&frame, patterns[i], (i % 2) * width / 2, (i / 2) * height / 2, width / 2,
                     height / 2);
    g_autoptr (ScOverlayImage) img = sc_overlay_get_image (ov);
    sc_overlay_image_blend (img, &frame, 0, 0);
    gboolean ok = write_png (&frame, png);
    gst_video_frame_unmap (&frame);
    if (ok)
      g_print ("wrote %s (%dx%d)\n", png, width, height);
    return ok ? 0 : 1;
  }

  memset (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), 128, GST_VIDEO_INFO_SIZE (&info));
  /* Render cost: a full re-render and conversion, as after each event. */
  double *r = g_new (double, renders);
  for (int i = 0; i < renders; i++) {
    gint64 t0 = g_get_monotonic_time ();
    sc_overlay_render_now (ov);
    r[i] = (g_get_monotonic_time () - t0) / 1000.0;
  }
  qsort (r, renders, sizeof *r, cmp_double);

  /* Blend cost, in batches of 50 frames; the median batch. */
  g_autoptr (ScOverlayImage) img = sc_overlay_get_image (ov);
  int batches = MAX (frames / 50, 1);
  double *b = g_new (double, batches);
  for (int k = 0; k < batches; k++) {
    gint64 t0 = g_get_monotonic_time ();
    for (int i = 0; i < 50; i++)
      sc_overlay_image_blend (img, &frame, 0, 0);
    b[k] = (g_get_monotonic_time () - t0) / 50.0;
  }
  qsort (b, batches, sizeof *b, cmp_double);
  gst_video_frame_unmap (&frame);

  printf ("%dx%d  render: median %.2f ms, min %.2f ms   blend: median %.1f us/frame, "
          "min %.1f us   (%u rects, %.1f%% of the frame)\n",
          width, height, r[renders / 2], r[0], b[batches / 2], b[0], sc_overlay_image_n_rects (img),
          100.0 * sc_overlay_image_area (img) / ((double) width * height));
  g_free (r);
  g_free (b);
  g_free (png);
  return 0;
}
