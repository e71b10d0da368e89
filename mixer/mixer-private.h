/* mixer-private.h — what the mixer's .c files share: layout geometry and
 * the pixel/sample kernels of the program thread. Not a public interface. */
#pragma once

#include <gst/video/video.h>
#include "mixer/mixer.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (sc_mixer_debug);
#define GST_CAT_DEFAULT sc_mixer_debug

/* At most this many tiles on the program picture (a 4x4 grid). */
#define SC_MIXER_MAX_TILES 16

/* One tile of a layout: which station (index in config order) goes where.
 * Coordinates and sizes are even so the I420 chroma planes line up. */
typedef struct {
  int station;
  int x, y, width, height;
} ScMixerRect;

/* The tiles of LAYOUT on a WIDTH x HEIGHT program with N_STATIONS stations.
 * FOCUS is the focused station (focus, pip, single), PAIR the two stations
 * of sbs. Fills OUT (SC_MIXER_MAX_TILES entries) in drawing order (later
 * tiles are drawn over earlier ones: the pip inset comes last) and returns
 * how many. */
guint sc_mixer_layout_tiles (ScLayout layout, int width, int height, guint n_stations, int focus,
                             const int pair[2], ScMixerRect *out);

/* Size a station that is not on screen is kept at, so switching it in is
 * quick and costs little meanwhile. */
void sc_mixer_offscreen_size (int width, int height, int *tile_width, int *tile_height);

const char *sc_mixer_layout_name (ScLayout layout);
gboolean sc_mixer_layout_parse (const char *name, ScLayout *out);

/* Pixel kernels (mixer-compose.c). All on mapped I420 frames. */
void sc_mixer_fill_rect (GstVideoFrame *frame, int x, int y, int width, int height, guint8 yv,
                         guint8 u, guint8 v);
/* Copies SRC into the WIDTH x HEIGHT tile at (X, Y) of DST. A source of
 * another size (ingest has not caught up with a new tile size yet) is
 * scaled, nearest neighbour. */
void sc_mixer_copy_tile (GstVideoFrame *dst, int x, int y, int width, int height,
                         const GstVideoFrame *src);
/* DST = FROM * (256 - ALPHA) / 256 + DST * ALPHA / 256, every plane. */
void sc_mixer_blend_frames (GstVideoFrame *dst, const GstVideoFrame *from, guint alpha);

/* Gain as a Q12 fixed-point factor (4096 = 0 dB). */
int sc_mixer_gain_q12 (double gain_db);
/* ACC[i] += IN[i] * GAIN_Q12 / 4096 for N samples. */
void sc_mixer_audio_accumulate (gint32 *acc, const gint16 *in, gsize n, int gain_q12);
/* OUT[i] = saturate(ACC[i] * GAIN_Q12 / 4096) for N samples. */
void sc_mixer_audio_finish (gint16 *out, const gint32 *acc, gsize n, int gain_q12);

G_END_DECLS
