/* bench_mixer — the program as `skillcast run` makes it, for N seconds,
 * with the CPU it cost: 4 file:// stations (decode + scale in ingest) ->
 * grid -> overlay (scoreboard with scores, LIVE bug, tile labels) -> x264
 * + AAC -> MPEG-TS file written by a subscriber.
 *
 *   bench_mixer [--speed S | --free] OUT.ts SECONDS PRESET FILE1 FILE2 FILE3 FILE4
 *
 * Prints one line of key=value: cpu_s (user+sys of the whole process while
 * the program ran), wall_s, frames, late_frames, speed, fresh_min (the
 * fewest new tiles any station delivered over the run, as a fraction of
 * the program frames: 1.00 means every program frame had a new picture
 * from every station), the CPU seconds by thread group — ingest_s (the
 * stations' demux, decode and scale threads), x264_s, aac_s, program_s
 * (the mixer's program thread), mux_s (the subscriber's MPEG-TS muxer),
 * other_s — and stalls (--free: steps that waited 300 ms for an input).
 *
 * Without options the program runs on its real-time clock, so wall_s ~=
 * SECONDS. The options run the whole node off real time, through a
 * BenchClock that is both GStreamer's default clock (ingest's file sources
 * sync to it) and the program clock (sc_mixer_set_clock):
 *  --speed S  the clock runs S times as fast as real time: SECONDS of
 *             program in SECONDS / S of wall time, every stage with S times
 *             the work per second; the node keeps up if it ends with no
 *             late frames and fresh_min ~ 1;
 *  --free     the clock is stepped one program frame at a time, as soon as
 *             every station delivered a new tile and the program took the
 *             last frame: the node runs as fast as its inputs allow (speed
 *             is then the real-time factor reached), doing the same work
 *             however busy the machine is (BENCH_TRACE=1 prints each
 *             stall with every station's tile count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <gst/app/gstappsrc.h>
#include "mixer/mixer.h"
#include "scoreboard/scoreboard.h"

/* ------------------------------------------------------------ BenchClock */

/* A system clock for running the whole node off real time. Two modes:
 *  - scaled (--speed S): its time runs S times as fast as CLOCK_MONOTONIC;
 *    waits sleep the matching real time;
 *  - stepped (--free): its time stands still until bench_clock_step() moves
 *    it; waits block until then. The benchmark's driver steps it one
 *    program frame at a time, as soon as the stations delivered their
 *    tiles: the node runs as fast as its inputs allow, like ffmpeg.
 * An unscheduled wait is noticed within 20 ms. Only synchronous waits are
 * handled: the async ones (inherited) would mistime, and nothing in the
 * benchmark uses them. */
typedef struct {
  GstSystemClock parent;
  GMutex lock;
  GCond moved;
  double speed;
  /* Scaled time is base_time + (real time - base_real) * speed. */
  GstClockTime base_time, base_real;
  gboolean stepped;
  GstClockTime now; /* stepped: the time */
} BenchClock;
typedef GstSystemClockClass BenchClockClass;

G_DEFINE_TYPE (BenchClock, bench_clock, GST_TYPE_SYSTEM_CLOCK)

static GstClockTime
bench_clock_scaled (BenchClock *self)
{
  GstClockTime real = (GstClockTime)g_get_monotonic_time () * 1000;
  return self->base_time + (GstClockTime)((double)(real - self->base_real) * self->speed);
}

static GstClockTime
bench_clock_internal (GstClock *clock)
{
  BenchClock *self = (BenchClock *)clock;
  GstClockTime t;
  g_mutex_lock (&self->lock);
  t = self->stepped ? self->now : bench_clock_scaled (self);
  g_mutex_unlock (&self->lock);
  return t;
}

static GstClockReturn
bench_clock_wait (GstClock *clock, GstClockEntry *entry, GstClockTimeDiff *jitter)
{
  BenchClock *self = (BenchClock *)clock;
  GstClockTime target = GST_CLOCK_ENTRY_TIME (entry);
  GstClockTimeDiff diff = GST_CLOCK_DIFF (gst_clock_get_time (clock), target);

  if (jitter)
    *jitter = -diff;
  if (diff < 0)
    return GST_CLOCK_EARLY;
  while (diff > 0) {
    if (GST_CLOCK_ENTRY_STATUS (entry) == GST_CLOCK_UNSCHEDULED)
      return GST_CLOCK_UNSCHEDULED;
    g_mutex_lock (&self->lock);
    if (self->stepped)
      g_cond_wait_until (&self->moved, &self->lock, g_get_monotonic_time () + 20000);
    else {
      g_mutex_unlock (&self->lock);
      g_usleep ((gulong)MIN (diff / self->speed / 1000 + 1, 20000));
      g_mutex_lock (&self->lock);
    }
    g_mutex_unlock (&self->lock);
    diff = GST_CLOCK_DIFF (gst_clock_get_time (clock), target);
  }
  return GST_CLOCK_OK;
}

/* Stepped mode: freezes the time where it is now. */
static void
bench_clock_freeze (BenchClock *self)
{
  g_mutex_lock (&self->lock);
  self->now = bench_clock_scaled (self);
  self->stepped = TRUE;
  g_mutex_unlock (&self->lock);
}

/* Back to scaled mode, going on from the stepped time. */
static void
bench_clock_thaw (BenchClock *self)
{
  g_mutex_lock (&self->lock);
  self->base_time = self->now;
  self->base_real = (GstClockTime)g_get_monotonic_time () * 1000;
  self->stepped = FALSE;
  g_cond_broadcast (&self->moved);
  g_mutex_unlock (&self->lock);
}

/* Stepped mode: moves the time on to T (internal time) and wakes waiters. */
static void
bench_clock_step (BenchClock *self, GstClockTime t)
{
  g_mutex_lock (&self->lock);
  self->now = MAX (self->now, t);
  g_cond_broadcast (&self->moved);
  g_mutex_unlock (&self->lock);
}

static void
bench_clock_finalize (GObject *object)
{
  BenchClock *self = (BenchClock *)object;
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->moved);
  G_OBJECT_CLASS (bench_clock_parent_class)->finalize (object);
}

static void
bench_clock_class_init (BenchClockClass *klass)
{
  GstClockClass *clock_class = GST_CLOCK_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = bench_clock_finalize;
  clock_class->get_internal_time = bench_clock_internal;
  clock_class->wait = bench_clock_wait;
}

static void
bench_clock_init (BenchClock *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->moved);
  self->speed = 1.0;
  self->base_time = self->base_real = (GstClockTime)g_get_monotonic_time () * 1000;
}

/* ---------------------------------------------------------------- bench */

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

/* CPU seconds so far by what the threads of this process do, from their
 * names (/proc/self/task/N/comm and stat; threads take their creator's
 * name, so x264's workers count as the video encoder). Threads that already
 * ended are not counted: call it before stopping anything. */
static void
thread_cpu (double *ingest, double *venc, double *aenc, double *program, double *mux, double *other)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;
  double tick = (double)sysconf (_SC_CLK_TCK);

  *ingest = *venc = *aenc = *program = *mux = *other = 0;
  while (dir && (tid = g_dir_read_name (dir))) {
    g_autofree char *comm_path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
    g_autofree char *stat_path = g_strdup_printf ("/proc/self/task/%s/stat", tid);
    g_autofree char *comm = NULL, *stat = NULL;
    unsigned long utime = 0, stime = 0;
    double cpu;
    const char *p;

    if (!g_file_get_contents (comm_path, &comm, NULL, NULL)
        || !g_file_get_contents (stat_path, &stat, NULL, NULL) || !(p = strrchr (stat, ')')))
      continue;
    /* After "(comm)": state is field 3, utime 14, stime 15. */
    if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
      continue;
    cpu = (utime + stime) / tick;
    g_strstrip (comm);
    if (g_str_has_prefix (comm, "program-video"))
      *venc += cpu;
    else if (g_str_has_prefix (comm, "program-audio"))
      *aenc += cpu;
    else if (g_str_has_prefix (comm, "sc-program"))
      *program += cpu;
    else if (g_str_has_prefix (comm, "mpegtsmux") || g_str_has_prefix (comm, "appsrc"))
      *mux += cpu;
    else if (g_str_has_prefix (comm, "qtdemux") || g_str_has_prefix (comm, "multiqueue")
             || g_str_has_prefix (comm, "typefind") || g_str_has_prefix (comm, "reap-"))
      *ingest += cpu;
    else
      *other += cpu;
  }
  if (dir)
    g_dir_close (dir);
}

/* The program frames and each station's tiles so far. */
static void
end_counts (ScMixer *mixer, ScIngest **ingest, guint64 *frames, guint64 *tiles)
{
  *frames = sc_mixer_frames (mixer);
  for (int i = 0; i < 4; i++) {
    ScIngestStats st;
    sc_ingest_get_stats (ingest[i], &st);
    tiles[i] = st.frames;
  }
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop for MS milliseconds, blocking between events as
 * `skillcast run` does (no polling of our own in the CPU figures). */
static void
spin (int ms)
{
  gboolean done = FALSE;
  g_timeout_add ((guint)MAX (ms, 0), set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* --free: steps the clock one program frame at a time, each as soon as
 * every station delivered its next tile and the program coded the last
 * frame, so the node runs as fast as its inputs allow. */
typedef struct {
  BenchClock *clock;
  ScMixer *mixer;
  ScIngest **ingest;
  guint64 tiles0[4];
  guint64 last[4]; /* each station's tiles at the last step */
  guint64 n_frames;
  int fps;
  GstClockTime start; /* the program's frame 0 */
  guint stalls;       /* steps that waited more than 300 ms for an input */
  gint done;          /* atomic */
} Driver;

static gboolean
program_has (Driver *d, guint64 k)
{
  return sc_mixer_frames (d->mixer) >= k;
}

/* Every live station delivered a new tile since the last step (a clock
 * step of one frame releases one frame of a 30 fps feed). A station that
 * is not live (ingest lost it and is rebuilding it) shows its slate, as on
 * air, and does not hold the others back. */
static gboolean
stations_have (Driver *d, guint64 k)
{
  int live = 0;
  for (int i = 0; i < 4; i++) {
    ScIngestStats st;
    sc_ingest_get_stats (d->ingest[i], &st);
    if (st.state != SC_INGEST_LIVE)
      continue;
    if (st.frames <= d->last[i])
      return FALSE;
    live++;
  }
  return live > 0; /* none live: wait (and stall) rather than race through slates */
}

static void
stations_mark (Driver *d)
{
  for (int i = 0; i < 4; i++) {
    ScIngestStats st;
    sc_ingest_get_stats (d->ingest[i], &st);
    d->last[i] = st.frames;
  }
}

/* Polls READY (every 0.3 ms) for at most 300 ms; counts a stall if it
 * never came. Ingest calls a station lost after 500 ms (real time)
 * without a frame, so one slow station must not hold the others' clock
 * that long. */
static void
wait_for (Driver *d, gboolean (*ready) (Driver *, guint64), guint64 k)
{
  gint64 until = g_get_monotonic_time () + 300 * 1000;
  while (!ready (d, k)) {
    if (g_get_monotonic_time () > until) {
      d->stalls++;
      if (g_getenv ("BENCH_TRACE")) {
        fprintf (stderr, "stall at k=%" G_GUINT64_FORMAT " (%s):", k,
                 ready == program_has ? "program" : "stations");
        for (int i = 0; i < 4; i++) {
          ScIngestStats st;
          sc_ingest_get_stats (d->ingest[i], &st);
          fprintf (stderr, " %" G_GUINT64_FORMAT, st.frames - d->tiles0[i]);
        }
        fprintf (stderr, " program %" G_GUINT64_FORMAT "\n", sc_mixer_frames (d->mixer));
      }
      return;
    }
    g_usleep (300);
  }
}

static gpointer
driver_thread (gpointer data)
{
  Driver *d = data;

  stations_mark (d);
  wait_for (d, program_has, 1);
  for (guint64 k = 1; k < d->n_frames; k++) {
    /* Frame k's time: the program codes frame k, each station releases its
     * next frame (the program may take it now or at the next frame: in a
     * fixed phase, so every program frame still has a new tile). */
    bench_clock_step (d->clock, d->start + gst_util_uint64_scale (k, GST_SECOND, d->fps));
    wait_for (d, stations_have, k);
    stations_mark (d);
    wait_for (d, program_has, k + 1);
  }
  g_atomic_int_set (&d->done, 1);
  g_main_context_wakeup (NULL);
  return NULL;
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

  double speed = 0;
  gboolean free_run = FALSE;
  BenchClock *fast = NULL;
  Driver driver = { 0 };
  guint64 tiles0[4], tiles1[4], frames0, frames1 = 0;
  double th[6], th0[6];

  if (argc > 2 && !strcmp (argv[1], "--speed")) {
    speed = g_ascii_strtod (argv[2], NULL);
    argc -= 2;
    argv += 2;
  } else if (argc > 1 && !strcmp (argv[1], "--free")) {
    free_run = TRUE;
    argc--;
    argv++;
  }
  if (argc != 8 || speed < 0 || speed > 100) {
    fprintf (stderr, "usage: bench_mixer [--speed S | --free] OUT.ts SECONDS PRESET FILE1 FILE2 "
                     "FILE3 FILE4\n");
    return 2;
  }
  gst_init (NULL, NULL);
  seconds = atoi (argv[2]);
  if (speed > 0 || free_run) {
    /* Before any pipeline exists: they all take the default clock. */
    fast = g_object_new (bench_clock_get_type (), "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
    fast->speed = speed > 0 ? speed : 1.0;
    gst_object_ref_sink (fast);
    gst_system_clock_set_default (GST_CLOCK (fast));
  }

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
  if (fast)
    sc_mixer_set_clock (mixer, GST_CLOCK (fast));
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

  for (int i = 0; i < 4; i++) {
    ScIngestStats st;
    sc_ingest_get_stats (ingest[i], &st);
    tiles0[i] = st.frames;
  }
  frames0 = 0;
  thread_cpu (&th0[0], &th0[1], &th0[2], &th0[3], &th0[4], &th0[5]);
  cpu0 = cpu_seconds ();
  if (free_run) {
    /* The stations are live on real time; from here on time moves only
     * when the driver steps it. */
    bench_clock_freeze (fast);
    driver = (Driver){ .clock = fast,
                       .mixer = mixer,
                       .ingest = ingest,
                       .n_frames = (guint64)seconds * 30,
                       .fps = 30,
                       .start = gst_clock_get_internal_time (GST_CLOCK (fast)) };
    memcpy (driver.tiles0, tiles0, sizeof tiles0);
  }
  t0 = g_get_monotonic_time ();
  if (!sc_mixer_start (mixer, &error)) {
    fprintf (stderr, "bench: %s\n", error->message);
    return 1;
  }
  if (free_run) {
    GThread *thread = g_thread_new ("bench-driver", driver_thread, &driver);
    while (!g_atomic_int_get (&driver.done))
      g_main_context_iteration (NULL, TRUE);
    g_thread_join (thread);
    t1 = g_get_monotonic_time ();
    cpu1 = cpu_seconds ();
    thread_cpu (&th[0], &th[1], &th[2], &th[3], &th[4], &th[5]);
    end_counts (mixer, ingest, &frames1, tiles1);
    /* Let the program thread out of its wait for the next frame. */
    bench_clock_thaw (fast);
    speed = seconds / ((t1 - t0) / 1e6); /* the real-time factor reached */
    sc_mixer_stop (mixer);
  } else {
    /* SECONDS of program: of wall time at real-time speed, less when fast. */
    spin ((int)(seconds * 1000 / (speed > 0 ? speed : 1.0)));
    thread_cpu (&th[0], &th[1], &th[2], &th[3], &th[4], &th[5]);
    end_counts (mixer, ingest, &frames1, tiles1);
    sc_mixer_stop (mixer);
    t1 = g_get_monotonic_time ();
    cpu1 = cpu_seconds ();
  }

  {
    guint64 frames = frames1 - frames0;
    double fresh_min = 1e9;
    for (int i = 0; i < 4; i++)
      fresh_min = MIN (fresh_min, frames ? (double)(tiles1[i] - tiles0[i]) / (double)frames : 0);
    /* Per thread group while the program ran (threads that ended during
     * the run, such as a rebuilt station's, are missing). */
    for (int i = 0; i < 6; i++)
      th[i] -= th0[i];
    printf ("cpu_s=%.2f wall_s=%.2f frames=%" G_GUINT64_FORMAT " late_frames=%" G_GUINT64_FORMAT
            " speed=%.2f fresh_min=%.3f ingest_s=%.2f x264_s=%.2f aac_s=%.2f program_s=%.2f "
            "mux_s=%.2f other_s=%.2f stalls=%u\n",
            cpu1 - cpu0, (t1 - t0) / 1e6, frames, sc_mixer_late_frames (mixer),
            speed > 0 ? speed : 1.0, fresh_min, th[0], th[1], th[2], th[3], th[4], th[5],
            driver.stalls);
  }

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
  if (fast) {
    gst_system_clock_set_default (NULL);
    gst_object_unref (fast);
  }
  return 0;
}
