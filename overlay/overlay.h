/* overlay — the broadcast graphics burned into the program: scoreboard
 * (top N), contest clock, lower-thirds (focused station, announcements),
 * station labels on tiles, the LIVE bug, and the "信号中断 / NO SIGNAL" slate.
 *
 * Rendering (cairo + pango) happens on the main loop only, when the state
 * changes and once a second for the clock. The result is an immutable,
 * refcounted ScOverlayImage published with an atomic swap; the program
 * thread takes a reference and blends it into each frame. No cairo per frame.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include "config/config.h"
#include "scoreboard/scoreboard.h"

G_BEGIN_DECLS

/* A rendered picture with alpha, ready to blend into I420 frames: only the
 * regions that have something drawn are kept. Immutable once published. */
typedef struct ScOverlayImage ScOverlayImage;

ScOverlayImage *sc_overlay_image_ref (ScOverlayImage *image);
void sc_overlay_image_unref (ScOverlayImage *image);

/* Blends IMAGE into FRAME (GST_VIDEO_FORMAT_I420, mapped writable) with its
 * top-left corner at (X, Y). Any thread. Cost is proportional to the drawn
 * area, not the frame. */
void sc_overlay_image_blend (const ScOverlayImage *image, GstVideoFrame *frame, int x, int y);

/* Renders the NO SIGNAL slate for a tile: WIDTH x HEIGHT I420, the station
 * NAME (and ID) on it. Main loop (it uses pango). Caller owns the buffer. */
GstBuffer *sc_overlay_render_slate (int width, int height, const char *font, const char *id,
                                    const char *name);

/* Renders one line of TEXT as a label image of at most MAX_WIDTH pixels
 * (ellipsized), for test:// patterns and tiles. Main loop. */
ScOverlayImage *sc_overlay_render_label (const char *font, const char *text, int height_px,
                                         int max_width);

typedef enum {
  SC_OVERLAY_SCOREBOARD,
  SC_OVERLAY_CLOCK,
  SC_OVERLAY_LOWERTHIRD,
  SC_OVERLAY_LEADERBOARD, /* full-screen table of every station */
  SC_OVERLAY_LIVE,
  SC_OVERLAY_N_PARTS,
} ScOverlayPart;

const char *sc_overlay_part_to_string (ScOverlayPart part);
gboolean sc_overlay_part_from_string (const char *s, ScOverlayPart *out);

/* Where a station is on the program picture, for its label. */
typedef struct {
  const char *station_id;
  const char *label; /* name to draw, or NULL for the id */
  int x, y, width, height;
} ScOverlayTile;

typedef struct ScOverlay ScOverlay;

/* An overlay for a WIDTH x HEIGHT program, reading CONTEST (not owned; must
 * outlive the overlay). Starts its own once-a-second clock redraw on the
 * thread-default main context. */
ScOverlay *sc_overlay_new (const ScOverlayConfig *config, int width, int height,
                           ScContest *contest);
void sc_overlay_free (ScOverlay *overlay);

/* State changes; each schedules one re-render (coalesced, high priority
 * idle on the main loop). Main loop only. */
void sc_overlay_invalidate (ScOverlay *overlay); /* the contest changed */
void sc_overlay_set_tiles (ScOverlay *overlay, const ScOverlayTile *tiles, guint n_tiles);
void sc_overlay_set_focus (ScOverlay *overlay, const char *station_id); /* NULL: none */
void sc_overlay_set_visible (ScOverlay *overlay, ScOverlayPart part, gboolean visible);
gboolean sc_overlay_get_visible (ScOverlay *overlay, ScOverlayPart part);

/* Renders now, synchronously (tests, benchmarks). Main loop only. */
void sc_overlay_render_now (ScOverlay *overlay);

/* The current full-program image, a new reference (never NULL after the
 * first render; NULL before). Any thread. */
ScOverlayImage *sc_overlay_get_image (ScOverlay *overlay);

/* Monotonic time (us) at which the current image was published. */
gint64 sc_overlay_published_at (ScOverlay *overlay);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScOverlay, sc_overlay_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScOverlayImage, sc_overlay_image_unref)

G_END_DECLS
