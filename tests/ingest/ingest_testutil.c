#include "tests/ingest/ingest_testutil.h"

#include <signal.h>

static void
on_state (ScIngest *ingest, ScIngestState state, gpointer user_data)
{
  StationUnderTest *s = user_data;
  s->changes++;
  s->last_state = state;
  g_print ("  [%.3f] station %s: %s\n", g_get_monotonic_time () / 1e6, sc_ingest_station_id (ingest),
           sc_ingest_state_to_string (state));
}

static gboolean
sut_new_any (StationUnderTest *s, const char *id, const char *url, int fps, gboolean audio_only,
             GError **error)
{
  memset (s, 0, sizeof *s);
  s->config.id = g_strdup (id);
  s->config.source = g_strdup (url);
  s->config.source_redacted = g_strdup (url);
  ScIngestCallbacks cb = { .state_changed = on_state, .user_data = s };
  s->ingest = audio_only ? sc_ingest_new_audio (&s->config, &cb, error)
                         : sc_ingest_new (&s->config, fps, &cb, error);
  return s->ingest != NULL;
}

gboolean
sut_new (StationUnderTest *s, const char *id, const char *url, int fps, GError **error)
{
  return sut_new_any (s, id, url, fps, FALSE, error);
}

gboolean
sut_new_audio (StationUnderTest *s, const char *id, const char *url, GError **error)
{
  return sut_new_any (s, id, url, 0, TRUE, error);
}

int
audio_peak (StationUnderTest *s, guint n_frames, guint *got)
{
  gint16 *pcm = g_new (gint16, (gsize) n_frames * 2);
  *got = sc_ingest_pull_audio (s->ingest, pcm, n_frames);
  int peak = 0;
  for (guint i = 0; i < n_frames * 2; i++)
    peak = MAX (peak, ABS (pcm[i]));
  g_free (pcm);
  return peak;
}

void
sut_free (StationUnderTest *s)
{
  g_clear_pointer (&s->ingest, sc_ingest_free);
  g_free (s->config.id);
  g_free (s->config.source);
  g_free (s->config.source_redacted);
}

void
spin_ms (int ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (2000);
  }
}

int
wait_state (StationUnderTest *s, ScIngestState state, int timeout_ms)
{
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + (gint64) timeout_ms * 1000;
  ScIngestStats st;
  while (g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    sc_ingest_get_stats (s->ingest, &st);
    if (st.state == state)
      return (int) ((g_get_monotonic_time () - start) / 1000);
    g_usleep (2000);
  }
  return -1;
}

gboolean
wait_tile (StationUnderTest *s, int w, int h, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    int bw = 0, bh = 0;
    GstBuffer *b = sc_ingest_pull_video (s->ingest, &bw, &bh);
    if (b) {
      gst_buffer_unref (b);
      if (bw == w && bh == h)
        return TRUE;
    }
    g_usleep (5000);
  }
  return FALSE;
}

static GList *running; /* pids of pushers not stopped yet */

GPid
push_feed (const char *size, const char *format, const char *url, const char *const *extra,
           const char *log)
{
  g_autofree char *src = g_strdup_printf ("testsrc2=size=%s:rate=30", size);
  GPtrArray *a = g_ptr_array_new ();
  const char *base[] = { "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re",
                         "-f", "lavfi", "-i", src, "-f", "lavfi", "-i",
                         "sine=frequency=440:sample_rate=48000", "-c:v", "libx264", "-preset",
                         "ultrafast", "-tune", "zerolatency", "-g", "15", "-pix_fmt", "yuv420p",
                         "-c:a", "aac", "-b:a", "64k", "-f", format, NULL };
  for (int i = 0; base[i]; i++)
    g_ptr_array_add (a, (gpointer) base[i]);
  for (int i = 0; extra && extra[i]; i++)
    g_ptr_array_add (a, (gpointer) extra[i]);
  g_ptr_array_add (a, (gpointer) url);
  g_ptr_array_add (a, NULL);
  GPid pid = sc_test_spawn ((char *const *) a->pdata, log);
  g_ptr_array_free (a, TRUE);
  if (pid > 0)
    running = g_list_prepend (running, GINT_TO_POINTER (pid));
  return pid;
}

GPid
push_argv (const char *const *argv, const char *log)
{
  GPid pid = sc_test_spawn ((char *const *) argv, log);
  if (pid > 0)
    running = g_list_prepend (running, GINT_TO_POINTER (pid));
  return pid;
}

void
stop_feed (GPid pid)
{
  if (pid <= 0 || !g_list_find (running, GINT_TO_POINTER (pid)))
    return;
  running = g_list_remove (running, GINT_TO_POINTER (pid));
  sc_test_kill (pid, SIGKILL, 2000);
}

int
stop_all_feeds (void **state)
{
  while (running)
    stop_feed (GPOINTER_TO_INT (running->data));
  return 0;
}

char *ingest_tmpdir;

int
ingest_tmpdir_setup (void **state)
{
  (void)state;
  ingest_tmpdir = sc_test_tmpdir ();
  return 0;
}

int
ingest_tmpdir_teardown (void **state)
{
  (void)state;
  sc_test_rmrf (ingest_tmpdir);
  g_clear_pointer (&ingest_tmpdir, g_free);
  return 0;
}

char *
logpath (const char *name)
{
  return g_build_filename (ingest_tmpdir, name, NULL);
}

void
dump_log (const char *name)
{
  g_autofree char *p = logpath (name);
  g_autofree char *text = NULL;
  if (g_file_get_contents (p, &text, NULL, NULL) && *text)
    g_print ("---- %s ----\n%s\n", name, text);
}
