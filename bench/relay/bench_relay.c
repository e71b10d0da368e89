/* bench_relay — what the outputs cost: an H.264 + AAC program read from
 * INPUT.ts into memory, then replayed in real time into an ScRelay with an
 * hls output, a record output and the live TS feed, as the mixer would
 * push it. Prints the process CPU time spent during the replay (the
 * relay's remuxing and file writing; the replay thread itself only sleeps
 * and pushes) and how long each sc_relay_push took.
 *
 *   bench_relay INPUT.ts OUTDIR
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "relay/relay.h"

typedef struct {
  GstBuffer *buf;
  gboolean video;
} Packet;

static GPtrArray *packets; /* Packet*, in push order */
static GstCaps *vcaps, *acaps;
static guint64 live_bytes;

static gint
by_time (gconstpointer a, gconstpointer b)
{
  const Packet *pa = *(const Packet **)a, *pb = *(const Packet **)b;
  GstClockTime ta = GST_BUFFER_DTS_OR_PTS (pa->buf), tb = GST_BUFFER_DTS_OR_PTS (pb->buf);
  return ta < tb ? -1 : ta > tb;
}

/* Reads the elementary streams of PATH into memory, as the mixer's
 * encoders would hand them out. */
static void
load (const char *path)
{
  char *desc = g_strdup_printf (
      "filesrc location=\"%s\" ! tsdemux name=d "
      "d. ! queue ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! "
      "appsink name=v sync=false "
      "d. ! queue ! aacparse ! audio/mpeg,stream-format=raw ! appsink name=a sync=false",
      path);
  GError *error = NULL;
  GstElement *p = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!p) {
    fprintf (stderr, "bench_relay: %s\n", error->message);
    exit (1);
  }
  GstAppSink *sinks[2] = { GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "v")),
                           GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "a")) };
  gst_element_set_state (p, GST_STATE_PLAYING);
  packets = g_ptr_array_new ();
  for (int i = 0; i < 2; i++) {
    GstSample *s;
    while ((s = gst_app_sink_pull_sample (sinks[i]))) {
      const GstSegment *seg = gst_sample_get_segment (s);
      GstBuffer *b = gst_buffer_copy (gst_sample_get_buffer (s));
      if (GST_BUFFER_PTS_IS_VALID (b))
        GST_BUFFER_PTS (b) = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (b));
      if (GST_BUFFER_DTS_IS_VALID (b))
        GST_BUFFER_DTS (b) = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_DTS (b));
      if (i == 0 && !vcaps)
        vcaps = gst_caps_ref (gst_sample_get_caps (s));
      if (i == 1 && !acaps)
        acaps = gst_caps_ref (gst_sample_get_caps (s));
      Packet *pk = g_new0 (Packet, 1);
      pk->buf = b;
      pk->video = i == 0;
      g_ptr_array_add (packets, pk);
      gst_sample_unref (s);
    }
    gst_object_unref (sinks[i]);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (p);
  g_ptr_array_sort (packets, by_time);
}

static void
on_live (GBytes *data, gboolean keyframe, gpointer user_data)
{
  __atomic_fetch_add (&live_bytes, g_bytes_get_size (data), __ATOMIC_RELAXED);
}

typedef struct {
  ScRelay *relay;
  gint64 *push_us;
  gboolean done;
} Replay;

static gpointer
replay (gpointer data)
{
  Replay *r = data;
  gint64 start = g_get_monotonic_time ();
  for (guint i = 0; i < packets->len; i++) {
    Packet *pk = g_ptr_array_index (packets, i);
    gint64 due = start + (gint64)(GST_BUFFER_DTS_OR_PTS (pk->buf) / 1000);
    gint64 now = g_get_monotonic_time ();
    if (due > now)
      g_usleep (due - now);
    gint64 t0 = g_get_monotonic_time ();
    sc_relay_push (r->relay, pk->buf, pk->video);
    r->push_us[i] = g_get_monotonic_time () - t0;
  }
  g_atomic_int_set (&r->done, TRUE);
  return NULL;
}

static double
cpu_s (void)
{
  struct rusage u;
  getrusage (RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  if (argc < 3) {
    fprintf (stderr, "usage: bench_relay INPUT.ts OUTDIR\n");
    return 2;
  }
  gst_init (NULL, NULL);
  load (argv[1]);
  if (!packets->len || !vcaps || !acaps) {
    fprintf (stderr, "bench_relay: no H.264 + AAC in %s\n", argv[1]);
    return 1;
  }
  Packet *last = g_ptr_array_index (packets, packets->len - 1);
  double seconds = GST_BUFFER_DTS_OR_PTS (last->buf) / 1e9;

  ScOutputConfig outs[2] = {
    { .id = "hls",
      .type = SC_OUTPUT_HLS,
      .dir = g_build_filename (argv[2], "hls", NULL),
      .segment_s = 2 },
    { .id = "rec",
      .type = SC_OUTPUT_RECORD,
      .dir = g_build_filename (argv[2], "rec", NULL),
      .split_min = 30 },
  };
  ScConfig config = { .path = "<bench>", .outputs = outs, .n_outputs = 2 };
  ScRelayCallbacks cb = { .live_ts = on_live };
  ScRelay *relay = sc_relay_new (&config, NULL, &cb);
  sc_relay_set_caps (relay, vcaps, acaps);
  sc_relay_start (relay);
  GMainContext *ctx = g_main_context_default ();
  /* Let the pipelines come up before the clock starts. */
  gint64 settle = g_get_monotonic_time () + 500000;
  while (g_get_monotonic_time () < settle)
    g_main_context_iteration (ctx, FALSE), g_usleep (5000);

  Replay r = { relay, g_new0 (gint64, packets->len), FALSE };
  double cpu0 = cpu_s ();
  gint64 wall0 = g_get_monotonic_time ();
  GThread *t = g_thread_new ("replay", replay, &r);
  while (!g_atomic_int_get (&r.done))
    g_main_context_iteration (ctx, TRUE);
  g_thread_join (t);
  double cpu = cpu_s () - cpu0;
  double wall = (g_get_monotonic_time () - wall0) / 1e6;
  sc_relay_stop (relay);
  char *json = sc_relay_outputs_json (relay);

  qsort (r.push_us, packets->len, sizeof (gint64), cmp_i64);
  printf ("relay bench: %.1f s of program (%u packets) into hls + record + live TS\n", seconds,
          packets->len);
  printf ("  outputs: %s\n  live TS: %" G_GUINT64_FORMAT " bytes\n", json, live_bytes);
  printf ("  cpu_s=%.2f wall_s=%.2f (%.1f%% of one core)\n", cpu, wall, 100 * cpu / wall);
  printf ("  push_us p50=%" G_GINT64_FORMAT " p99=%" G_GINT64_FORMAT " max=%" G_GINT64_FORMAT "\n",
          r.push_us[packets->len / 2], r.push_us[packets->len * 99 / 100],
          r.push_us[packets->len - 1]);
  g_free (json);
  sc_relay_free (relay);
  return 0;
}
