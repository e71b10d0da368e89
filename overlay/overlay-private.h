/* overlay — internals shared by the files of this folder only. */
#pragma once

#include <cairo.h>
#include "overlay/overlay.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (sc_overlay_debug);
#define GST_CAT_DEFAULT sc_overlay_debug

void sc_overlay_debug_init (void);

/* The Y'CbCr matrix GStreamer assumes for an I420 frame of WIDTH x HEIGHT
 * whose caps name no colorimetry (gst_video_info_set_format): BT.601 up to
 * 576 lines, BT.709 above (720p, 1080p), BT.2020 from 2160 lines. The
 * mixer's program caps carry no colorimetry, so this is what x264enc gets. */
GstVideoColorMatrix sc_overlay_default_matrix (int width, int height);

/* Converts the drawn parts of SURFACE (CAIRO_FORMAT_ARGB32, premultiplied)
 * into an image for frames using MATRIX (limited range; UNKNOWN: BT.601
 * for pictures whose colours are neutral and so fit any frame). Fully transparent
 * areas are left out. Returns a new image (never NULL; may hold no rects). */
ScOverlayImage *sc_overlay_image_new_from_surface (cairo_surface_t *surface,
                                                   GstVideoColorMatrix matrix);

/* Number of rectangles and drawn area in pixels (tests, benchmarks, logs). */
guint sc_overlay_image_n_rects (const ScOverlayImage *image);
guint64 sc_overlay_image_area (const ScOverlayImage *image);

G_END_DECLS
