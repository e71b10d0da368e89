/* bench_mixer — the program as `skillcast run` makes it, for N seconds,
 * with the CPU it cost: 4 file:// stations (decode + scale in ingest) ->
 * grid -> overlay (scoreboard with scores, LIVE bug, tile labels) -> x264
 * + AAC -> MPEG-TS file written by a subscriber.
 *
 *   bench_mixer OUT.ts SECONDS PRESET FILE1 FILE2 FILE3 FILE4
 *
 * Prints one line of key=value: cpu_s (user+sys of the whole process while
 * the program ran), wall_s, frames, late_frames. The program runs on its
 * real-time clock, so wall_s ~= SECONDS. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <gst/app/gstappsrc.h>
#include "mixer/mixer.h"
#include "scoreboard/scoreboard.h"

typedef struct {
  ScMixer *mixer;
  GstElement *mux_pipeline, *vsrc, *asrc;
  gboolean vcaps_set, acaps_set;
} Writer;

static void
on_packet (GstBuffer *buffer, gboolean video, gpointer data)
{
  Writer *w = data;
  GstElement *src = video ? w->vsrc : w->asrc;
  gboolean *set = video ? &w->vcaps_set : &w->acaps_set;

  if (!*set) {
    GstCaps *caps = video ? sc_mixer_video_caps (w->mixer) : sc_mixer_audio_caps (w->mixer);
    if (!caps)
      return;
    gst_app_src_set_caps (GST_APP_SRC (src), caps);
    gst_caps_unref (caps);
    *set = TRUE;
  }
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_ref (buffer));
}

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec
         + ru.ru_stime.tv_usec / 1e6;
}

static void
spin (int ms)
{
  gint64 until = g_get_monotonic_time () + (gint64)ms * 1000;
  while (g_get_monotonic_time () < until) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (5000);
  }
}

int
main (int argc, char **argv)
{
  static const char *ids[] = { "A01", "A02", "A03", "A04" };
  static const char *names[] = { "张伟", "李娜", "王强", "刘洋" };
  static const char *totals[] = { "87.5", "91.0", "78.25", "88.0" };
  ScConfig config = { 0 };
  ScStationConfig stations[4] = { 0 };
  ScIngest *ingest[4];
  ScContest *contest;
  ScOverlay *overlay;
  ScMixer *mixer;
  Writer w = { 0 };
  ScProgramSink sink = { on_packet, &w };
  GError *error = NULL;
  GstElement *mux, *fsink;
  double cpu0, cpu1;
  gint64 t0, t1;
  int seconds;

  if (argc != 8) {
    fprintf (stderr, "usage: %s OUT.ts SECONDS PRESET FILE1 FILE2 FILE3 FILE4\n", argv[0]);
    return 2;
  }
  gst_init (NULL, NULL);
  seconds = atoi (argv[2]);

  config.path = (char *)"<bench>";
  config.stations = stations;
  config.n_stations = 4;
  for (int i = 0; i < 4; i++) {
    stations[i].id = (char *)ids[i];
    stations[i].name = (char *)names[i];
    stations[i].org = (char *)"株洲中车时代电气";
    stations[i].trade = (char *)"数控车工";
    g_autofree char *path = g_canonicalize_filename (argv[4 + i], NULL);
    stations[i].source = stations[i].source_redacted
        = g_strdup_printf ("file://%s?loop=true", path);
    stations[i].kind = SC_SOURCE_FILE;
  }
  config.program = (ScProgramConfig){ .width = 1280,
                                      .height = 720,
                                      .fps = 30,
                                      .layout = SC_LAYOUT_GRID,
                                      .video_bitrate_kbps = 3500,
                                      .video_preset = argv[3],
                                      .keyint_s = 2,
                                      .audio_bitrate_kbps = 128 };
  config.overlay = (ScOverlayConfig){ .font = (char *)"Noto Sans CJK SC",
                                      .scoreboard_visible = TRUE,
                                      .scoreboard_top = 5,
                                      .clock_visible = TRUE,
                                      .lowerthird_visible = TRUE,
                                      .live_visible = TRUE };

  contest = sc_contest_new ("bench", "技能天下 · 数控车工决赛", stations, 4);
  for (int i = 0; i < 4; i++) {
    char *fields[] = { (char *)"type", (char *)"score", (char *)"station",
                       (char *)ids[i], (char *)"total", (char *)totals[i] };
    g_autofree char *entry = g_strdup_printf ("1700000000000-%d", i);
    if (!sc_contest_apply (contest, entry, fields, 6, g_get_real_time (), NULL, NULL, &error)) {
      fprintf (stderr, "bench: score: %s\n", error->message);
      g_clear_error (&error);
    }
  }
  overlay = sc_overlay_new (&config.overlay, 1280, 720, contest);

  for (int i = 0; i < 4; i++) {
    if (!(ingest[i] = sc_ingest_new (&stations[i], 30, NULL, &error))) {
      fprintf (stderr, "bench: %s\n", error->message);
      return 1;
    }
  }
  if (!(mixer = sc_mixer_new (&config, ingest, overlay, NULL, &error))) {
    fprintf (stderr, "bench: %s\n", error->message);
    return 1;
  }
  sc_overlay_render_now (overlay);

  /* The output: what a `record`/`srt` output would mux, to a file. */
  w.mixer = mixer;
  w.mux_pipeline = gst_pipeline_new ("bench-out");
  w.vsrc = gst_element_factory_make ("appsrc", NULL);
  w.asrc = gst_element_factory_make ("appsrc", NULL);
  mux = gst_element_factory_make ("mpegtsmux", NULL);
  fsink = gst_element_factory_make ("filesink", NULL);
  g_object_set (fsink, "location", argv[1], NULL);
  for (int i = 0; i < 2; i++)
    g_object_set (i ? w.asrc : w.vsrc, "format", GST_FORMAT_TIME, NULL);
  gst_bin_add_many (GST_BIN (w.mux_pipeline), w.vsrc, w.asrc, mux, fsink, NULL);
  gst_element_link_many (w.vsrc, mux, fsink, NULL);
  gst_element_link (w.asrc, mux);
  gst_element_set_state (w.mux_pipeline, GST_STATE_PLAYING);
  sc_mixer_add_sink (mixer, &sink);

  for (int i = 0; i < 4; i++)
    sc_ingest_start (ingest[i]);
  /* Wait for the stations to be live, so the run measures the program. */
  for (int tries = 0; tries < 100; tries++) {
    int live = 0;
    for (int i = 0; i < 4; i++) {
      ScIngestStats st;
      sc_ingest_get_stats (ingest[i], &st);
      live += st.state == SC_INGEST_LIVE;
    }
    if (live == 4)
      break;
    spin (100);
  }

  cpu0 = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  if (!sc_mixer_start (mixer, &error)) {
    fprintf (stderr, "bench: %s\n", error->message);
    return 1;
  }
  spin (seconds * 1000);
  sc_mixer_stop (mixer);
  t1 = g_get_monotonic_time ();
  cpu1 = cpu_seconds ();

  printf ("cpu_s=%.2f wall_s=%.2f frames=%" G_GUINT64_FORMAT " late_frames=%" G_GUINT64_FORMAT "\n",
          cpu1 - cpu0, (t1 - t0) / 1e6, sc_mixer_frames (mixer), sc_mixer_late_frames (mixer));

  gst_app_src_end_of_stream (GST_APP_SRC (w.vsrc));
  gst_app_src_end_of_stream (GST_APP_SRC (w.asrc));
  {
    GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (w.mux_pipeline));
    GstMessage *m
        = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (m)
      gst_message_unref (m);
    gst_object_unref (bus);
  }
  gst_element_set_state (w.mux_pipeline, GST_STATE_NULL);
  gst_object_unref (w.mux_pipeline);
  sc_mixer_free (mixer);
  for (int i = 0; i < 4; i++) {
    sc_ingest_stop (ingest[i]);
    sc_ingest_free (ingest[i]);
    g_free (stations[i].source);
  }
  sc_overlay_free (overlay);
  sc_contest_free (contest);
  return 0;
}
