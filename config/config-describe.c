/* config — defaults, freeing, look-ups, names of enums and the secret-free
 * description printed by `skillcast check`. */
#include "config/config-private.h"

#include <string.h>

#ifndef SC_WEB_DIR_DEFAULT
#define SC_WEB_DIR_DEFAULT "web"
#endif

ScConfig *
sc_config_alloc(const char *path)
{
  ScConfig *c = g_new0(ScConfig, 1);
  c->path = g_strdup(path);

  c->program.width = SC_CONFIG_DEFAULT_WIDTH;
  c->program.height = SC_CONFIG_DEFAULT_HEIGHT;
  c->program.fps = SC_CONFIG_DEFAULT_FPS;
  c->program.layout = SC_LAYOUT_GRID;
  c->program.focus = NULL;
  c->program.video_bitrate_kbps = SC_CONFIG_DEFAULT_VIDEO_BITRATE_KBPS;
  c->program.video_preset = g_strdup(SC_CONFIG_DEFAULT_VIDEO_PRESET);
  c->program.keyint_s = SC_CONFIG_DEFAULT_KEYINT_S;
  c->program.audio_bitrate_kbps = SC_CONFIG_DEFAULT_AUDIO_BITRATE_KBPS;
  c->program.director_auto = FALSE;
  c->program.director_hold_s = SC_CONFIG_DEFAULT_DIRECTOR_HOLD_S;

  c->overlay.font = g_strdup(SC_CONFIG_DEFAULT_FONT);
  c->overlay.scoreboard_visible = TRUE;
  c->overlay.scoreboard_top = SC_CONFIG_DEFAULT_SCOREBOARD_TOP;
  c->overlay.clock_visible = TRUE;
  c->overlay.lowerthird_visible = TRUE;
  c->overlay.live_visible = TRUE;

  c->server.host = g_strdup(SC_CONFIG_DEFAULT_LISTEN_HOST);
  c->server.port = SC_CONFIG_DEFAULT_LISTEN_PORT;
  c->server.listen = g_strdup_printf("%s:%d", c->server.host, c->server.port);
  c->server.max_clients = SC_CONFIG_DEFAULT_MAX_CLIENTS;
  /* An installed binary is told where its pages are; a build-tree one
   * finds them in the source tree. */
  const char *web = g_getenv("SKILLCAST_WEB_DIR");
  c->server.web_dir = g_strdup(web && *web ? web : SC_WEB_DIR_DEFAULT);
  return c;
}

ScConfig *
sc_config_new_defaults(void)
{
  ScConfig *c = sc_config_alloc("<demo>");
  c->contest.id = g_strdup("demo");
  c->contest.title = g_strdup("技能天下 · 演示");
  /* redis.url NULL: the demo uses in-process state unless app/ starts a
   * private redis-server and fills it in. */
  c->redis.port = SC_CONFIG_DEFAULT_REDIS_PORT;
  return c;
}

void
sc_config_station_clear(ScStationConfig *s)
{
  g_free(s->id);
  g_free(s->name);
  g_free(s->org);
  g_free(s->trade);
  g_free(s->source);
  g_free(s->source_redacted);
  memset(s, 0, sizeof *s);
}

void
sc_config_output_clear(ScOutputConfig *o)
{
  g_free(o->id);
  g_free(o->url);
  g_free(o->url_redacted);
  g_free(o->dir);
  g_free(o->upload);
  g_free(o->upload_redacted);
  memset(o, 0, sizeof *o);
}

void
sc_config_free(ScConfig *c)
{
  if (!c)
    return;
  g_free(c->path);
  g_free(c->contest.id);
  g_free(c->contest.title);

  g_free(c->redis.url);
  g_free(c->redis.url_redacted);
  g_free(c->redis.password);
  g_free(c->redis.host);
  g_free(c->redis.unix_path);

  for (guint i = 0; i < c->n_stations; i++)
    sc_config_station_clear(&c->stations[i]);
  g_free(c->stations);

  sc_config_station_clear(&c->program.commentary);
  g_free(c->program.focus);
  g_free(c->program.video_preset);
  g_free(c->overlay.font);

  for (guint i = 0; i < c->n_outputs; i++)
    sc_config_output_clear(&c->outputs[i]);
  g_free(c->outputs);

  g_free(c->server.listen);
  g_free(c->server.host);
  g_free(c->server.operator_token);
  g_free(c->server.commentator_token);
  g_free(c->server.web_dir);
  g_free(c);
}

const ScStationConfig *
sc_config_station(const ScConfig *c, const char *id)
{
  g_return_val_if_fail(c != NULL, NULL);
  if (!id)
    return NULL;
  for (guint i = 0; i < c->n_stations; i++)
    if (!strcmp(c->stations[i].id, id))
      return &c->stations[i];
  return NULL;
}

char *
sc_config_events_key(const ScConfig *c)
{
  g_return_val_if_fail(c != NULL && c->contest.id != NULL, NULL);
  return g_strdup_printf("skillcast:%s:events", c->contest.id);
}

static const char *const layout_names[] = {
  [SC_LAYOUT_GRID] = "grid", [SC_LAYOUT_FOCUS] = "focus",   [SC_LAYOUT_PIP] = "pip",
  [SC_LAYOUT_SBS] = "sbs",   [SC_LAYOUT_SINGLE] = "single",
};

const char *
sc_layout_to_string(ScLayout layout)
{
  if ((guint)layout < G_N_ELEMENTS(layout_names))
    return layout_names[layout];
  return "unknown";
}

gboolean
sc_layout_from_string(const char *s, ScLayout *out)
{
  if (!s)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS(layout_names); i++)
    if (!strcmp(s, layout_names[i])) {
      if (out)
        *out = (ScLayout)i;
      return TRUE;
    }
  return FALSE;
}

const char *
sc_source_kind_to_string(ScSourceKind kind)
{
  static const char *const names[] = {
    [SC_SOURCE_SRT] = "srt",   [SC_SOURCE_RTMP] = "rtmp", [SC_SOURCE_RTSP] = "rtsp",
    [SC_SOURCE_UDP] = "udp",   [SC_SOURCE_FILE] = "file", [SC_SOURCE_V4L2] = "v4l2",
    [SC_SOURCE_TEST] = "test",
  };
  if ((guint)kind < G_N_ELEMENTS(names))
    return names[kind];
  return "unknown";
}

const char *
sc_output_kind_to_string(ScOutputKind kind)
{
  static const char *const names[] = {
    [SC_OUTPUT_RTMP] = "rtmp",
    [SC_OUTPUT_SRT] = "srt",
    [SC_OUTPUT_HLS] = "hls",
    [SC_OUTPUT_RECORD] = "record",
  };
  if ((guint)kind < G_N_ELEMENTS(names))
    return names[kind];
  return "unknown";
}

/* ---------------------------------------------------------------------- */
/* Description */

/* A value that is one whole ${NAME} reference shows no secret. */
static gboolean
is_reference(const char *s, gsize len)
{
  return len >= 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}'
         && !memchr(s + 2, '}', len - 3);
}

static gboolean
is_secret_param(const char *name, gsize len)
{
  static const char *const secret[]
      = { "passphrase", "password", "pass", "pwd", "token", "secret", "key", "auth" };
  for (guint i = 0; i < G_N_ELEMENTS(secret); i++)
    if (strlen(secret[i]) == len && !g_ascii_strncasecmp(name, secret[i], len))
      return TRUE;
  return FALSE;
}

char *
sc_config_mask_url(const char *url)
{
  if (!url)
    return NULL;
  GString *out = g_string_new(NULL);
  const char *p = url;
  const char *sep = strstr(url, "://");

  if (sep) {
    const char *auth = sep + 3;
    gsize auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (gsize i = 0; i < auth_len; i++)
      if (auth[i] == '@')
        at = auth + i;
    const char *colon = at ? memchr(auth, ':', at - auth) : NULL;
    if (colon && !is_reference(colon + 1, at - (colon + 1))) {
      g_string_append_len(out, url, colon + 1 - url);
      g_string_append(out, "***");
      p = at;
    }
  }
  /* Query parameters with secret-sounding names. */
  const char *q = strchr(p, '?');
  if (!q) {
    g_string_append(out, p);
    return g_string_free(out, FALSE);
  }
  g_string_append_len(out, p, q + 1 - p);
  p = q + 1;
  while (*p) {
    gsize plen = strcspn(p, "&#");
    const char *eq = memchr(p, '=', plen);
    if (eq && is_secret_param(p, eq - p) && !is_reference(eq + 1, p + plen - (eq + 1))) {
      g_string_append_len(out, p, eq + 1 - p);
      g_string_append(out, "***");
    } else {
      g_string_append_len(out, p, plen);
    }
    p += plen;
    if (*p == '&') {
      g_string_append_c(out, '&');
      p++;
    } else if (*p == '#') {
      g_string_append(out, p);
      break;
    }
  }
  return g_string_free(out, FALSE);
}

static const char *
set_or_not(const char *secret)
{
  return secret ? "(set)" : "(not set)";
}

static const char *
on_off(gboolean b)
{
  return b ? "on" : "off";
}

char *
sc_config_describe(const ScConfig *c)
{
  g_return_val_if_fail(c != NULL, NULL);
  GString *s = g_string_new(NULL);

  g_string_append_printf(s, "config: %s\n", c->path ? c->path : "(none)");
  g_autofree char *events = c->contest.id ? sc_config_events_key(c) : NULL;
  g_string_append_printf(s, "contest: %s \"%s\" (events: %s)\n",
                         c->contest.id ? c->contest.id : "(none)",
                         c->contest.title ? c->contest.title : "", events ? events : "-");

  if (c->redis.url_redacted || c->redis.url) {
    g_autofree char *url
        = sc_config_mask_url(c->redis.url_redacted ? c->redis.url_redacted : c->redis.url);
    if (c->redis.unix_path)
      g_string_append_printf(s, "redis: %s (unix socket %s, db %d, password %s)\n", url,
                             c->redis.unix_path, c->redis.db, set_or_not(c->redis.password));
    else
      g_string_append_printf(s, "redis: %s (host %s, port %d, db %d, password %s)\n", url,
                             c->redis.host ? c->redis.host : "?", c->redis.port, c->redis.db,
                             set_or_not(c->redis.password));
  } else {
    g_string_append(s, "redis: none (in-process state)\n");
  }

  g_string_append_printf(s, "stations: %u\n", c->n_stations);
  for (guint i = 0; i < c->n_stations; i++) {
    const ScStationConfig *st = &c->stations[i];
    g_autofree char *src = sc_config_mask_url(st->source_redacted);
    g_string_append_printf(s, "  %-6s %-4s %s", st->id,
                           st->source ? sc_source_kind_to_string(st->kind) : "-",
                           src ? src : "(no source)");
    if (st->name || st->org || st->trade)
      g_string_append_printf(s, "  [%s / %s / %s]", st->name ? st->name : "-",
                             st->org ? st->org : "-", st->trade ? st->trade : "-");
    g_string_append_c(s, '\n');
  }

  const ScProgramConfig *p = &c->program;
  g_string_append_printf(s, "program: %dx%d@%d, layout %s, focus %s, director %s", p->width,
                         p->height, p->fps, sc_layout_to_string(p->layout),
                         p->focus ? p->focus : "(first station)",
                         p->director_auto ? "auto" : "off");
  if (p->director_auto)
    g_string_append_printf(s, " (hold %d s)", p->director_hold_s);
  g_string_append_printf(s, "\n  video: H.264 %d kbps, preset %s, keyframe every %d s\n",
                         p->video_bitrate_kbps, p->video_preset, p->keyint_s);
  g_string_append_printf(s, "  audio: AAC %d kbps", p->audio_bitrate_kbps);
  if (p->commentary.source) {
    g_autofree char *src = sc_config_mask_url(p->commentary.source_redacted);
    g_string_append_printf(s, ", commentary %s %s at %+.1f dB",
                           sc_source_kind_to_string(p->commentary.kind), src ? src : "?",
                           p->commentary_gain_db);
  }
  g_string_append_c(s, '\n');

  const ScOverlayConfig *o = &c->overlay;
  g_string_append_printf(s,
                         "overlay: font \"%s\", scoreboard %s (top %d), clock %s, "
                         "lower-third %s, live %s\n",
                         o->font, on_off(o->scoreboard_visible), o->scoreboard_top,
                         on_off(o->clock_visible), on_off(o->lowerthird_visible),
                         on_off(o->live_visible));

  g_string_append_printf(s, "outputs: %u\n", c->n_outputs);
  for (guint i = 0; i < c->n_outputs; i++) {
    const ScOutputConfig *out = &c->outputs[i];
    g_string_append_printf(s, "  %-10s %-6s ", out->id, sc_output_kind_to_string(out->type));
    switch (out->type) {
    case SC_OUTPUT_RTMP:
    case SC_OUTPUT_SRT: {
      g_autofree char *url = sc_config_mask_url(out->url_redacted);
      g_string_append_printf(s, "%s\n", url ? url : "?");
      break;
    }
    case SC_OUTPUT_HLS: {
      g_autofree char *up = sc_config_mask_url(out->upload_redacted);
      g_string_append_printf(s, "dir %s, %d s segments, served at /hls/%s/index.m3u8", out->dir,
                             out->segment_s, out->id);
      if (up)
        g_string_append_printf(s, ", upload to %s", up);
      g_string_append_c(s, '\n');
      break;
    }
    case SC_OUTPUT_RECORD:
      g_string_append_printf(s, "dir %s, a new file every %d min\n", out->dir, out->split_min);
      break;
    }
  }

  const ScServerConfig *sv = &c->server;
  g_string_append_printf(s,
                         "server: listen %s, max %d clients, operator token %s, "
                         "commentator token %s\n  web dir: %s\n",
                         sv->listen, sv->max_clients, set_or_not(sv->operator_token),
                         set_or_not(sv->commentator_token), sv->web_dir);
  return g_string_free(s, FALSE);
}
