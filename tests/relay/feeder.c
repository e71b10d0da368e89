/* feeder — see feeder.h. */
#include "tests/relay/feeder.h"

#include <gio/gio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <string.h>

struct RelayFeeder {
  ScRelay *relay;
  GstElement *pipeline;
  GMutex lock;
  GstCaps *vcaps, *acaps;
  gint caps_set;      /* atomic */
  gint64 pushes;      /* atomic */
  gint64 max_push_us; /* atomic */
  gint64 slow_pushes; /* atomic: pushes that took over 100 ms */
  gboolean raw_times; /* push buffer times as the encoders made them */
};

static void
maybe_set_caps (RelayFeeder *f, GstSample *sample, gboolean video)
{
  if (g_atomic_int_get (&f->caps_set))
    return;
  g_mutex_lock (&f->lock);
  GstCaps **slot = video ? &f->vcaps : &f->acaps;
  if (!*slot)
    *slot = gst_caps_ref (gst_sample_get_caps (sample));
  if (f->vcaps && f->acaps && !g_atomic_int_get (&f->caps_set)) {
    sc_relay_set_caps (f->relay, f->vcaps, f->acaps);
    g_atomic_int_set (&f->caps_set, 1);
  }
  g_mutex_unlock (&f->lock);
}

static GstFlowReturn
on_sample (GstAppSink *sink, gpointer user_data)
{
  RelayFeeder *f = user_data;
  gboolean video = g_str_equal (GST_OBJECT_NAME (sink), "v");
  GstSample *sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  maybe_set_caps (f, sample, video);
  /* The mixer hands out program running time (x264enc's segment starts
   * at 1000 h, so buffer times are not running times). */
  const GstSegment *seg = gst_sample_get_segment (sample);
  GstBuffer *buf = gst_buffer_copy (gst_sample_get_buffer (sample));
  if (f->raw_times)
    ;
  else if (GST_BUFFER_PTS_IS_VALID (buf))
    GST_BUFFER_PTS (buf) = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (GST_BUFFER_DTS_IS_VALID (buf) && !f->raw_times)
    GST_BUFFER_DTS (buf) = gst_segment_to_running_time (seg, GST_FORMAT_TIME, GST_BUFFER_DTS (buf));
  gint64 t0 = g_get_monotonic_time ();
  sc_relay_push (f->relay, buf, video);
  gst_buffer_unref (buf);
  gint64 dt = g_get_monotonic_time () - t0;
  __atomic_fetch_add (&f->pushes, 1, __ATOMIC_RELAXED);
  if (dt > 100000)
    __atomic_fetch_add (&f->slow_pushes, 1, __ATOMIC_RELAXED);
  gint64 cur = __atomic_load_n (&f->max_push_us, __ATOMIC_RELAXED);
  while (dt > cur
         && !__atomic_compare_exchange_n (&f->max_push_us, &cur, dt, FALSE, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED))
    ;
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

RelayFeeder *
feeder_start (ScRelay *relay, int width, int height)
{
  return feeder_start_full (relay, width, height, 30, FALSE);
}

RelayFeeder *
feeder_start_full (ScRelay *relay, int width, int height, int fps, gboolean raw_times)
{
  RelayFeeder *f = g_new0 (RelayFeeder, 1);
  f->relay = relay;
  f->raw_times = raw_times;
  g_mutex_init (&f->lock);
  char *desc = g_strdup_printf (
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=%d,height=%d,framerate=%d/1 ! "
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%d bitrate=1500 ! "
      "h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! "
      "appsink name=v sync=false "
      "audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample ! "
      "audio/x-raw,rate=48000,channels=2 ! avenc_aac ! aacparse ! "
      "audio/mpeg,stream-format=raw ! appsink name=a sync=false",
      width, height, fps, 2 * fps);
  GError *error = NULL;
  f->pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!f->pipeline)
    g_error ("feeder: %s", error->message);
  GstAppSinkCallbacks cb = { .new_sample = on_sample };
  for (int i = 0; i < 2; i++) {
    GstElement *s = gst_bin_get_by_name (GST_BIN (f->pipeline), i ? "a" : "v");
    gst_app_sink_set_callbacks (GST_APP_SINK (s), &cb, f, NULL);
    gst_object_unref (s);
  }
  gst_element_set_state (f->pipeline, GST_STATE_PLAYING);
  return f;
}

void
feeder_stop (RelayFeeder *f)
{
  if (!f)
    return;
  gst_element_set_state (f->pipeline, GST_STATE_NULL);
  gst_object_unref (f->pipeline);
  gst_clear_caps (&f->vcaps);
  gst_clear_caps (&f->acaps);
  g_mutex_clear (&f->lock);
  g_free (f);
}

static gboolean
caps_set (gpointer data)
{
  return g_atomic_int_get (&((RelayFeeder *)data)->caps_set);
}

gboolean
feeder_wait_caps (RelayFeeder *f, int timeout_ms)
{
  return loop_until (caps_set, f, timeout_ms);
}

guint64
feeder_pushes (RelayFeeder *f)
{
  return __atomic_load_n (&f->pushes, __ATOMIC_RELAXED);
}

guint64
feeder_slow_pushes (RelayFeeder *f)
{
  return __atomic_load_n (&f->slow_pushes, __ATOMIC_RELAXED);
}

gint64
feeder_max_push_us (RelayFeeder *f)
{
  return __atomic_load_n (&f->max_push_us, __ATOMIC_RELAXED);
}

static gboolean
on_wake (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

void
loop_for (int ms)
{
  GMainContext *ctx = g_main_context_get_thread_default ();
  if (!ctx)
    ctx = g_main_context_default ();
  gboolean done = FALSE;
  GSource *t = g_timeout_source_new (ms);
  g_source_set_callback (t, on_wake, &done, NULL);
  g_source_attach (t, ctx);
  while (!done)
    g_main_context_iteration (ctx, TRUE);
  g_source_unref (t);
}

gboolean
loop_until (gboolean (*cond) (gpointer), gpointer data, int timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  while (!cond (data)) {
    if (g_get_monotonic_time () >= end)
      return FALSE;
    loop_for (50);
  }
  return TRUE;
}

typedef struct {
  gboolean done;
  char *out, *err;
  GError *error;
} RunState;

static void
on_communicated (GObject *src, GAsyncResult *res, gpointer data)
{
  RunState *st = data;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (src), res, &st->out, &st->err, &st->error);
  st->done = TRUE;
}

int
run_looping (const char *const *argv, int timeout_ms, char **out, char **err)
{
  GError *error = NULL;
  GSubprocess *p = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  if (!p) {
    g_printerr ("spawn %s: %s\n", argv[0], error->message);
    g_error_free (error);
    return -1;
  }
  RunState st = { 0 };
  g_subprocess_communicate_utf8_async (p, NULL, NULL, on_communicated, &st);
  gint64 end = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  while (!st.done && g_get_monotonic_time () < end)
    loop_for (20);
  int code = -1;
  if (!st.done) {
    g_subprocess_force_exit (p);
    while (!st.done)
      loop_for (20);
  } else if (g_subprocess_get_if_exited (p)) {
    code = g_subprocess_get_exit_status (p);
  }
  if (out)
    *out = g_steal_pointer (&st.out);
  if (err)
    *err = g_steal_pointer (&st.err);
  g_free (st.out);
  g_free (st.err);
  g_clear_error (&st.error);
  g_object_unref (p);
  return code;
}

static JsonNode *
outputs_node (ScRelay *relay)
{
  char *json = sc_relay_outputs_json (relay);
  JsonNode *n = json_from_string (json, NULL);
  g_free (json);
  return n;
}

static JsonObject *
find (JsonNode *root, const char *id)
{
  JsonArray *a = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonObject *o = json_array_get_object_element (a, i);
    if (g_str_equal (json_object_get_string_member (o, "id"), id))
      return o;
  }
  return NULL;
}

char *
output_state (ScRelay *relay, const char *id)
{
  JsonNode *n = outputs_node (relay);
  JsonObject *o = find (n, id);
  char *s = o ? g_strdup (json_object_get_string_member (o, "state")) : NULL;
  json_node_unref (n);
  return s;
}

gint64
output_bytes_of (ScRelay *relay, const char *id)
{
  JsonNode *n = outputs_node (relay);
  JsonObject *o = find (n, id);
  gint64 v = o ? json_object_get_int_member (o, "bytes") : -1;
  json_node_unref (n);
  return v;
}

gint64
output_reconnects_of (ScRelay *relay, const char *id)
{
  JsonNode *n = outputs_node (relay);
  JsonObject *o = find (n, id);
  gint64 v = o ? json_object_get_int_member (o, "reconnects") : -1;
  json_node_unref (n);
  return v;
}

char *
output_last_error (ScRelay *relay, const char *id)
{
  JsonNode *n = outputs_node (relay);
  JsonObject *o = find (n, id);
  char *s = NULL;
  if (o && !json_object_get_null_member (o, "last_error"))
    s = g_strdup (json_object_get_string_member (o, "last_error"));
  json_node_unref (n);
  return s;
}

ScConfig *
config_with_outputs (const ScOutputConfig *outputs, guint n)
{
  ScConfig *c = g_new0 (ScConfig, 1);
  c->path = g_strdup ("<test>");
  c->outputs = g_new0 (ScOutputConfig, n);
  c->n_outputs = n;
  for (guint i = 0; i < n; i++) {
    const ScOutputConfig *s = &outputs[i];
    ScOutputConfig *d = &c->outputs[i];
    d->id = g_strdup (s->id);
    d->type = s->type;
    d->url = g_strdup (s->url);
    d->url_redacted = g_strdup (s->url);
    d->dir = g_strdup (s->dir);
    d->segment_s = s->segment_s ? s->segment_s : 2;
    d->upload = g_strdup (s->upload);
    d->upload_redacted = g_strdup (s->upload);
    d->split_min = s->split_min ? s->split_min : 30;
  }
  return c;
}

void
config_free (ScConfig *c)
{
  for (guint i = 0; i < c->n_outputs; i++) {
    ScOutputConfig *d = &c->outputs[i];
    g_free (d->id);
    g_free (d->url);
    g_free (d->url_redacted);
    g_free (d->dir);
    g_free (d->upload);
    g_free (d->upload_redacted);
  }
  g_free (c->outputs);
  g_free (c->path);
  g_free (c);
}

gboolean
probe_h264_aac (const char *url, int *width, int *height, char **report)
{
  const char *argv[] = { "ffprobe",       "-v",  "error", "-rw_timeout", "5000000",
                         "-show_streams", "-of", "json",  url,           NULL };
  char *out = NULL, *err = NULL;
  int code = run_looping (argv, 20000, &out, &err);
  gboolean h264 = FALSE, aac = FALSE;
  JsonNode *n = out ? json_from_string (out, NULL) : NULL;
  if (n && JSON_NODE_HOLDS_OBJECT (n)
      && json_object_has_member (json_node_get_object (n), "streams")) {
    JsonArray *a = json_object_get_array_member (json_node_get_object (n), "streams");
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonObject *s = json_array_get_object_element (a, i);
      const char *codec = json_object_get_string_member_with_default (s, "codec_name", "");
      if (g_str_equal (codec, "h264")) {
        h264 = TRUE;
        if (width)
          *width = json_object_get_int_member_with_default (s, "width", 0);
        if (height)
          *height = json_object_get_int_member_with_default (s, "height", 0);
      } else if (g_str_equal (codec, "aac")) {
        aac = TRUE;
      }
    }
  }
  if (report)
    *report = g_strdup_printf ("ffprobe %s: exit %d, stderr: %s", url, code, err ? err : "");
  if (n)
    json_node_unref (n);
  g_free (out);
  g_free (err);
  return h264 && aac;
}
