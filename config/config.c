/* config — the contest YAML (CONTRACTS.md §2) into a validated ScConfig.
 *
 * The file is loaded whole with libyaml's document API, so every node keeps
 * the line and column where it started; the loader then walks the tree
 * section by section, like a table of directives, and stops at the first
 * problem with `FILE:LINE:COL: key.path: message`. Messages quote values only
 * as written in the file, never after ${ENV} substitution, so a secret from
 * the environment cannot leak into a log through an error.
 */
#include "config/config-private.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

/* A config file is a page of text; anything bigger is a mistake. */
#define MAX_FILE_SIZE (4 * 1024 * 1024)

G_DEFINE_QUARK(sc - config - error - quark, sc_config_error)

typedef struct {
  const char *name; /* the file as the caller named it, for messages */
  yaml_document_t *doc;
  ScConfigPurpose purpose;
  GError **error;
  GPtrArray *scratch; /* strings made for messages, freed with the loader */
} Loader;

/* ---------------------------------------------------------------------- */
/* Errors */

/* Sets the error at MARK and returns FALSE, so a check reads
 * `return fail (...)`. The first error wins: loading stops there. */
static gboolean fail_at(Loader *l, yaml_mark_t mark, const char *path, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean
fail_at(Loader *l, yaml_mark_t mark, const char *path, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *msg = g_strdup_vprintf(format, args);
  va_end(args);

  if (path && *path)
    g_set_error(l->error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_INVALID, "%s:%zu:%zu: %s: %s", l->name,
                mark.line + 1, mark.column + 1, path, msg);
  else
    g_set_error(l->error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_INVALID, "%s:%zu:%zu: %s", l->name,
                mark.line + 1, mark.column + 1, msg);
  return FALSE;
}

#define fail(l, node, path, ...) fail_at((l), (node)->start_mark, (path), __VA_ARGS__)

/* ---------------------------------------------------------------------- */
/* Nodes */

static const char *
scalar(yaml_node_t *node)
{
  return (const char *)node->data.scalar.value;
}

static gboolean
is_plain(yaml_node_t *node)
{
  return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static gboolean
is_null(yaml_node_t *node)
{
  if (!is_plain(node))
    return FALSE;
  const char *s = scalar(node);
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static gboolean
is_integer_text(const char *s)
{
  if (*s == '-')
    s++;
  if (!*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit(*s))
      return FALSE;
  return TRUE;
}

/* What a node is, in the words of a "expected X, got Y" message. */
static const char *
node_kind(yaml_node_t *node)
{
  switch (node->type) {
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_SCALAR_NODE:
    if (is_null(node))
      return "nothing (null)";
    if (is_plain(node) && (!strcmp(scalar(node), "true") || !strcmp(scalar(node), "false")))
      return "a boolean";
    if (is_plain(node) && is_integer_text(scalar(node)))
      return "a number";
    return "a string";
  default:
    return "nothing";
  }
}

/* A value as written, cut to 40 characters, for quoting in a message:
 * whatever was pasted into the wrong key, the message stays one line. */
static const char *
shown(Loader *l, yaml_node_t *node)
{
  const char *s = scalar(node);
  char *out;
  if (g_utf8_strlen(s, -1) <= 40 && !strchr(s, '\n')) {
    out = g_strdup(s);
  } else {
    g_autofree char *head = g_utf8_substring(s, 0, 40);
    char *nl = strchr(head, '\n');
    if (nl)
      *nl = '\0';
    out = g_strconcat(head, "…", NULL);
  }
  g_ptr_array_add(l->scratch, out);
  return out;
}

static char *
child_path(const char *path, const char *key)
{
  return path && *path ? g_strdup_printf("%s.%s", path, key) : g_strdup(key);
}

static yaml_node_t *
node_at(Loader *l, int index)
{
  return yaml_document_get_node(l->doc, index);
}

/* The value under KEY in MAPPING (checked by check_mapping), or NULL. */
static yaml_node_t *
lookup(Loader *l, yaml_node_t *mapping, const char *key)
{
  if (!mapping)
    return NULL;
  for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start; p < mapping->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = node_at(l, p->key);
    if (k && k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), key))
      return node_at(l, p->value);
  }
  return NULL;
}

/* Checks that NODE is a mapping whose keys are all scalars from ALLOWED,
 * each at most once. WHAT, if set, says what the keys are allowed for
 * ("for an hls output") in the unknown-key message. */
static gboolean
check_mapping(Loader *l, yaml_node_t *node, const char *path, const char *const *allowed,
              const char *what)
{
  if (node->type != YAML_MAPPING_NODE)
    return fail(l, node, path, "expected a mapping, got %s", node_kind(node));

  for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = node_at(l, p->key);
    if (k->type != YAML_SCALAR_NODE)
      return fail(l, k, path, "a key must be a plain name, got %s", node_kind(k));
    const char *key = scalar(k);
    gboolean known = FALSE;
    for (const char *const *a = allowed; *a; a++)
      if (!strcmp(*a, key))
        known = TRUE;
    g_autofree char *kpath = child_path(path, key);
    if (!known) {
      g_autofree char *list = g_strjoinv(", ", (char **)allowed);
      return fail(l, k, kpath, "unknown key \"%s\"%s%s (expected %s)", key, what ? " " : "",
                  what ? what : "", list);
    }
    for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++) {
      yaml_node_t *other = node_at(l, q->key);
      if (other->type == YAML_SCALAR_NODE && !strcmp(scalar(other), key))
        return fail(l, k, kpath, "duplicate key (first at line %zu)", other->start_mark.line + 1);
    }
  }
  return TRUE;
}

/* The mapping under KEY, checked against ALLOWED; *OUT is NULL when the key
 * is absent or null (an empty section: all defaults). */
static gboolean
get_mapping(Loader *l, yaml_node_t *map, const char *path, const char *key,
            const char *const *allowed, yaml_node_t **out)
{
  yaml_node_t *v = lookup(l, map, key);
  *out = NULL;
  if (!v || is_null(v))
    return TRUE;
  g_autofree char *kpath = child_path(path, key);
  if (!check_mapping(l, v, kpath, allowed, NULL))
    return FALSE;
  *out = v;
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* ${ENV} substitution */

static gboolean
is_env_name(const char *s, gsize len)
{
  if (len == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!(g_ascii_isalnum(s[i]) || s[i] == '_'))
      return FALSE;
  return TRUE;
}

/* WRITTEN with every ${NAME} replaced by the environment's NAME; `$${`
 * stands for a literal `${`. On failure, reports at NODE. */
static gboolean
expand_env(Loader *l, yaml_node_t *node, const char *path, const char *written, char **out)
{
  GString *s = g_string_new(NULL);
  const char *p = written;

  while (*p) {
    if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
      g_string_append(s, "${");
      p += 3;
    } else if (p[0] == '$' && p[1] == '{') {
      const char *end = strchr(p + 2, '}');
      if (!end) {
        g_string_free(s, TRUE);
        return fail(l, node, path, "unterminated ${ (write $${ for a literal ${)");
      }
      g_autofree char *name = g_strndup(p + 2, end - (p + 2));
      if (!is_env_name(name, strlen(name))) {
        g_string_free(s, TRUE);
        return fail(l, node, path,
                    "\"${%s}\" is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", name);
      }
      const char *value = g_getenv(name);
      if (!value) {
        g_string_free(s, TRUE);
        return fail(l, node, path, "environment variable %s is not set", name);
      }
      g_string_append(s, value);
      p = end + 1;
    } else {
      g_string_append_c(s, *p++);
    }
  }
  *out = g_string_free(s, FALSE);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Typed values */

/* The string under KEY: *OUT gets the resolved value (the old value freed),
 * *WRITTEN (if not NULL) the text as written. Absent or null: left alone,
 * an error if REQUIRED. *NODE_OUT (if not NULL) gets the value node. */
static gboolean
get_string_full(Loader *l, yaml_node_t *map, const char *path, const char *key, gboolean required,
                char **out, char **written, yaml_node_t **node_out)
{
  yaml_node_t *v = lookup(l, map, key);
  g_autofree char *kpath = child_path(path, key);

  if (node_out)
    *node_out = v;
  if (!v || is_null(v)) {
    if (required)
      return fail(l, v ? v : map, kpath, "required key is missing");
    return TRUE;
  }
  if (v->type != YAML_SCALAR_NODE)
    return fail(l, v, kpath, "expected a string, got %s", node_kind(v));
  if (strlen(scalar(v)) != v->data.scalar.length)
    return fail(l, v, kpath, "contains a NUL character");

  char *resolved = NULL;
  if (!expand_env(l, v, kpath, scalar(v), &resolved))
    return FALSE;
  g_free(*out);
  *out = resolved;
  if (written) {
    g_free(*written);
    *written = g_strdup(scalar(v));
  }
  return TRUE;
}

static gboolean
get_string(Loader *l, yaml_node_t *map, const char *path, const char *key, gboolean required,
           char **out)
{
  return get_string_full(l, map, path, key, required, out, NULL, NULL);
}

static gboolean
get_int(Loader *l, yaml_node_t *map, const char *path, const char *key, gint64 min, gint64 max,
        int *out)
{
  yaml_node_t *v = lookup(l, map, key);
  if (!v)
    return TRUE;
  g_autofree char *kpath = child_path(path, key);
  if (!is_plain(v) || !is_integer_text(scalar(v))) {
    if (v->type == YAML_SCALAR_NODE && !is_null(v))
      return fail(l, v, kpath, "expected an integer, got %s \"%s\"", node_kind(v), shown(l, v));
    return fail(l, v, kpath, "expected an integer, got %s", node_kind(v));
  }
  gint64 n = 0;
  if (!g_ascii_string_to_signed(scalar(v), 10, min, max, &n, NULL))
    return fail(l, v, kpath, "%s is out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")",
                shown(l, v), min, max);
  *out = (int)n;
  return TRUE;
}

/* A number (integer or decimal, as YAML writes them) in MIN..MAX. */
static gboolean
get_double(Loader *l, yaml_node_t *map, const char *path, const char *key, double min, double max,
           double *out)
{
  yaml_node_t *v = lookup(l, map, key);
  if (!v)
    return TRUE;
  g_autofree char *kpath = child_path(path, key);
  char *end = NULL;
  double d = 0;
  if (is_plain(v) && !is_null(v)) {
    const char *s = scalar(v);
    /* Digits, a sign and a point only: no "nan", "inf" or hex floats. */
    if (strspn(s, "+-.0123456789") == strlen(s) && g_ascii_isdigit(s[strcspn(s, "0123456789")]))
      d = g_ascii_strtod(s, &end);
  }
  if (!end || *end) {
    if (v->type == YAML_SCALAR_NODE && !is_null(v))
      return fail(l, v, kpath, "expected a number, got %s \"%s\"", node_kind(v), shown(l, v));
    return fail(l, v, kpath, "expected a number, got %s", node_kind(v));
  }
  if (!(d >= min && d <= max))
    return fail(l, v, kpath, "%s is out of range (%g..%g)", shown(l, v), min, max);
  *out = d;
  return TRUE;
}

static gboolean
get_bool(Loader *l, yaml_node_t *map, const char *path, const char *key, gboolean *out)
{
  yaml_node_t *v = lookup(l, map, key);
  if (!v)
    return TRUE;
  g_autofree char *kpath = child_path(path, key);
  if (is_plain(v) && !strcmp(scalar(v), "true"))
    *out = TRUE;
  else if (is_plain(v) && !strcmp(scalar(v), "false"))
    *out = FALSE;
  else if (v->type == YAML_SCALAR_NODE && !is_null(v))
    return fail(l, v, kpath, "expected true or false, got %s \"%s\"", node_kind(v), shown(l, v));
  else
    return fail(l, v, kpath, "expected true or false, got %s", node_kind(v));
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Checks on values */

static gboolean
is_id(const char *s, gsize max, gboolean upper_ok)
{
  gsize n = 0;
  for (; s[n]; n++) {
    char c = s[n];
    if (!(g_ascii_islower(c) || g_ascii_isdigit(c) || c == '_' || c == '-'
          || (upper_ok && g_ascii_isupper(c))))
      return FALSE;
  }
  return n >= 1 && n <= max;
}

/* Digits only, 0..MAX. */
static gboolean
parse_port(const char *s, gsize len, int max, int *out)
{
  if (len == 0 || len > 5)
    return FALSE;
  int n = 0;
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isdigit(s[i]))
      return FALSE;
    n = n * 10 + (s[i] - '0');
  }
  if (n > max)
    return FALSE;
  *out = n;
  return TRUE;
}

/* Splits "host:port", "[v6]:port" or ":port" (HOST "" then). Returns FALSE
 * if it is none of these. PORT_REQUIRED: "host" alone is not enough;
 * *PORT is -1 when there is none. */
static gboolean
split_host_port(const char *s, gsize len, gboolean port_required, char **host, int *port)
{
  const char *colon = NULL;
  const char *host_start = s, *host_end;

  if (len > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (!close)
      return FALSE;
    host_start = s + 1;
    host_end = close;
    if (close + 1 < s + len) {
      if (close[1] != ':')
        return FALSE;
      colon = close + 1;
    }
  } else {
    for (const char *p = s; p < s + len; p++)
      if (*p == ':')
        colon = p;
    host_end = colon ? colon : s + len;
    /* A bare IPv6 address must be written in brackets. */
    if (memchr(s, ':', host_end - s))
      return FALSE;
  }
  if (colon) {
    if (!parse_port(colon + 1, s + len - (colon + 1), 65535, port))
      return FALSE;
  } else {
    if (port_required)
      return FALSE;
    *port = -1;
  }
  *host = g_strndup(host_start, host_end - host_start);
  return TRUE;
}

/* A URL scheme worth quoting in a message: short and of URL characters,
 * so it cannot be a secret pasted in the wrong place. */
static gboolean
is_printable_scheme(const char *s, gsize len)
{
  if (len == 0 || len > 16)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!(g_ascii_isalnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
      return FALSE;
  return TRUE;
}

static const char *const source_schemes[] = {
  [SC_SOURCE_SRT] = "srt",   [SC_SOURCE_RTMP] = "rtmp", [SC_SOURCE_RTSP] = "rtsp",
  [SC_SOURCE_UDP] = "udp",   [SC_SOURCE_FILE] = "file", [SC_SOURCE_V4L2] = "v4l2",
  [SC_SOURCE_TEST] = "test",
};
#define SCHEMES_LIST "srt, rtmp, rtsp, udp, file, v4l2, test"

/* videotestsrc's pattern nicks (GStreamer 1.22). */
static const char *const test_patterns[] = {
  "smpte",
  "snow",
  "black",
  "white",
  "red",
  "green",
  "blue",
  "checkers-1",
  "checkers-2",
  "checkers-4",
  "checkers-8",
  "circular",
  "blink",
  "smpte75",
  "zone-plate",
  "gamut",
  "chroma-zone-plate",
  "solid-color",
  "ball",
  "smpte100",
  "bar",
  "pinwheel",
  "spokes",
  "gradient",
  "colors",
  "smpte-rp-219",
  NULL,
};

/* libsrt refuses a passphrase outside 10..79 characters, and only says
 * so when the camera connects; say it now. Not a word of the value. */
static gboolean
check_srt_passphrase(Loader *l, yaml_node_t *node, const char *path, const char *url)
{
  const char *q = strchr(url, '?');
  while (q && *q) {
    q++;
    gsize len = strcspn(q, "&#");
    if (len >= strlen("passphrase=") && !strncmp(q, "passphrase=", strlen("passphrase="))) {
      gsize n = len - strlen("passphrase=");
      if (n < 10 || n > 79)
        return fail(l, node, path, "an SRT passphrase must have 10 to 79 characters (has %zu)", n);
    }
    q += len;
    if (*q == '#')
      break;
  }
  return TRUE;
}

/* Checks a station's resolved source URL and finds its kind. Messages only
 * quote the scheme, never the rest (it may hold a passphrase). */
static gboolean
check_source(Loader *l, yaml_node_t *node, const char *path, const char *url, ScSourceKind *kind)
{
  const char *sep = strstr(url, "://");
  if (!sep)
    return fail(l, node, path,
                "expected a URL such as \"srt://:9001\" (scheme one of " SCHEMES_LIST ")");

  gsize scheme_len = sep - url;
  gboolean found = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS(source_schemes); i++)
    if (strlen(source_schemes[i]) == scheme_len
        && !g_ascii_strncasecmp(url, source_schemes[i], scheme_len)) {
      *kind = i;
      found = TRUE;
    }
  if (!found) {
    if (is_printable_scheme(url, scheme_len))
      return fail(l, node, path, "unknown scheme \"%.*s\" (expected " SCHEMES_LIST ")",
                  (int)scheme_len, url);
    return fail(l, node, path, "unknown scheme (expected " SCHEMES_LIST ")");
  }

  /* The authority, without credentials (rtsp://user:pass@cam/ is the
   * camera's business). */
  const char *auth = sep + 3;
  gsize auth_len = strcspn(auth, "/?#");
  for (gsize i = auth_len; i > 0; i--)
    if (auth[i - 1] == '@') {
      auth += i;
      auth_len -= i;
      break;
    }

  g_autofree char *host = NULL;
  int port = -1;
  switch (*kind) {
  case SC_SOURCE_SRT:
  case SC_SOURCE_UDP:
    if (!split_host_port(auth, auth_len, TRUE, &host, &port) || port == 0)
      return fail(l, node, path, "%s source needs a port: %s://HOST:PORT, or %s://:PORT to listen",
                  source_schemes[*kind], source_schemes[*kind], source_schemes[*kind]);
    if (*kind == SC_SOURCE_SRT && !check_srt_passphrase(l, node, path, url))
      return FALSE;
    break;
  case SC_SOURCE_RTMP:
  case SC_SOURCE_RTSP:
    if (!split_host_port(auth, auth_len, FALSE, &host, &port) || !*host || port == 0)
      return fail(l, node, path, "%s source needs a host: %s://HOST[:PORT]/PATH",
                  source_schemes[*kind], source_schemes[*kind]);
    break;
  case SC_SOURCE_FILE:
    if (sep[3] != '/' || sep[4] == '\0' || sep[4] == '?')
      return fail(l, node, path, "file source needs an absolute path: file:///path/to/clip.mp4");
    break;
  case SC_SOURCE_V4L2:
    if (sep[3] != '/' || sep[4] == '\0')
      return fail(l, node, path, "v4l2 source needs a device path: v4l2:///dev/video0");
    break;
  case SC_SOURCE_TEST: {
    const char *pattern = sep + 3;
    gsize plen = strcspn(pattern, "?");
    if (plen == 0)
      break; /* the default pattern */
    gboolean ok = FALSE;
    for (const char *const *t = test_patterns; *t; t++)
      if (strlen(*t) == plen && !strncmp(*t, pattern, plen))
        ok = TRUE;
    if (!ok) {
      g_autofree char *list = g_strjoinv(", ", (char **)test_patterns);
      return fail(l, node, path, "unknown test pattern \"%.*s\" (expected one of %s)", (int)plen,
                  pattern, list);
    }
    break;
  }
  }
  return TRUE;
}

/* redis://[[user]:password@]host[:port][/db] or unix:///path.sock[?db=N]. */
static gboolean
parse_redis_url(Loader *l, yaml_node_t *node, const char *path, ScRedisConfig *r)
{
  const char *url = r->url;
  const char *forms = "expected redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N]";

  if (g_str_has_prefix(url, "unix://")) {
    const char *p = url + strlen("unix://");
    if (*p != '/' || p[1] == '\0' || p[1] == '?')
      return fail(l, node, path, "unix socket URL needs an absolute path (%s)", forms);
    const char *q = strchr(p, '?');
    r->unix_path = q ? g_strndup(p, q - p) : g_strdup(p);
    r->db = 0;
    if (q) {
      int db = 0;
      if (!g_str_has_prefix(q, "?db=") || !parse_port(q + 4, strlen(q + 4), 65535, &db))
        return fail(l, node, path, "only ?db=N may follow the socket path (%s)", forms);
      r->db = db;
    }
    return TRUE;
  }
  if (!g_str_has_prefix(url, "redis://")) {
    if (g_str_has_prefix(url, "rediss://"))
      return fail(l, node, path, "TLS (rediss://) is not supported; use a local tunnel (%s)",
                  forms);
    return fail(l, node, path, "%s", forms);
  }

  const char *p = url + strlen("redis://");
  gsize auth_len = strcspn(p, "/?#");
  const char *at = NULL;
  for (gsize i = 0; i < auth_len; i++)
    if (p[i] == '@')
      at = p + i;
  if (at) {
    const char *colon = memchr(p, ':', at - p);
    if (!colon)
      return fail(l, node, path, "a user without a password is not supported (%s)", forms);
    gsize user_len = colon - p;
    if (user_len && !(user_len == 7 && !strncmp(p, "default", 7)))
      return fail(l, node, path, "ACL users other than \"default\" are not supported (%s)", forms);
    g_autofree char *raw = g_strndup(colon + 1, at - (colon + 1));
    char *pw = g_uri_unescape_string(raw, NULL);
    if (!pw)
      return fail(l, node, path, "the password in the URL is not valid %%-encoding");
    g_free(r->password);
    r->password = pw;
    auth_len -= (at + 1) - p;
    p = at + 1;
  }
  g_autofree char *host = NULL;
  int port = -1;
  if (!split_host_port(p, auth_len, FALSE, &host, &port) || !*host || port == 0)
    return fail(l, node, path, "%s", forms);
  r->host = g_steal_pointer(&host);
  r->port = port < 0 ? SC_CONFIG_DEFAULT_REDIS_PORT : port;
  r->db = 0;

  const char *tail = p + auth_len;
  if (*tail == '/') {
    tail++;
    if (*tail) {
      int db = 0;
      if (!parse_port(tail, strlen(tail), 65535, &db))
        return fail(l, node, path, "the database after / must be a number (%s)", forms);
      r->db = db;
    }
  } else if (*tail) {
    return fail(l, node, path, "%s", forms);
  }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Sections */

static const char *const contest_keys[] = { "id", "title", NULL };
static const char *const redis_keys[] = { "url", "password", NULL };
static const char *const station_keys[] = { "id", "name", "org", "trade", "source", NULL };
static const char *const program_keys[]
    = { "width", "height", "fps",      "layout",          "focus",
        "video", "audio",  "director", "director_hold_s", NULL };
static const char *const video_keys[] = { "bitrate_kbps", "preset", "keyint_s", NULL };
static const char *const audio_keys[]
    = { "bitrate_kbps", "commentary", "commentary_gain_db", NULL };
static const char *const overlay_keys[]
    = { "font", "scoreboard", "clock", "lowerthird", "live", NULL };
static const char *const scoreboard_keys[] = { "visible", "top", NULL };
static const char *const visible_keys[] = { "visible", NULL };
static const char *const output_keys_stream[] = { "id", "type", "url", NULL };
static const char *const output_keys_hls[] = { "id", "type", "dir", "segment_s", "upload", NULL };
static const char *const output_keys_record[] = { "id", "type", "dir", "split_min", NULL };
static const char *const output_keys_any[]
    = { "id", "type", "url", "dir", "segment_s", "upload", "split_min", NULL };
static const char *const server_keys[]
    = { "listen", "operator_token", "commentator_token", "max_clients", "web_dir", NULL };

static const char *const x264_presets[]
    = { "ultrafast", "superfast", "veryfast", "faster",  "fast", "medium",
        "slow",      "slower",    "veryslow", "placebo", NULL };

static gboolean
load_contest(Loader *l, yaml_node_t *node, ScConfig *c)
{
  if (!check_mapping(l, node, "contest", contest_keys, NULL))
    return FALSE;
  yaml_node_t *v = NULL;
  if (!get_string_full(l, node, "contest", "id", TRUE, &c->contest.id, NULL, &v))
    return FALSE;
  if (!is_id(c->contest.id, 40, FALSE))
    return fail(l, v, "contest.id", "\"%s\" is not a valid contest id ([a-z0-9_-]{1,40})",
                shown(l, v));
  if (!get_string(l, node, "contest", "title", TRUE, &c->contest.title))
    return FALSE;
  if (!*c->contest.title)
    return fail(l, lookup(l, node, "title"), "contest.title", "must not be empty");
  return TRUE;
}

static gboolean
load_redis(Loader *l, yaml_node_t *node, ScConfig *c)
{
  ScRedisConfig *r = &c->redis;
  yaml_node_t *v = NULL;

  if (!check_mapping(l, node, "redis", redis_keys, NULL))
    return FALSE;
  if (!get_string_full(l, node, "redis", "url", TRUE, &r->url, &r->url_redacted, &v))
    return FALSE;
  if (!parse_redis_url(l, v, "redis.url", r))
    return FALSE;
  /* `password:` wins over one in the URL: the URL may be shared. */
  g_autofree char *password = NULL;
  if (!get_string(l, node, "redis", "password", FALSE, &password))
    return FALSE;
  if (password) {
    g_free(r->password);
    r->password = g_steal_pointer(&password);
  }
  if (r->password && !*r->password)
    g_clear_pointer(&r->password, g_free);
  return TRUE;
}

static gboolean
load_station(Loader *l, yaml_node_t *node, const char *path, ScConfig *c, ScStationConfig *s,
             GHashTable *id_lines)
{
  yaml_node_t *v = NULL;

  if (!check_mapping(l, node, path, station_keys, NULL))
    return FALSE;
  if (!get_string_full(l, node, path, "id", TRUE, &s->id, NULL, &v))
    return FALSE;
  g_autofree char *id_path = child_path(path, "id");
  if (!is_id(s->id, 16, TRUE))
    return fail(l, v, id_path, "\"%s\" is not a valid station id ([A-Za-z0-9_-]{1,16})",
                shown(l, v));
  gpointer first = g_hash_table_lookup(id_lines, s->id);
  if (first)
    return fail(l, v, id_path, "duplicate station id \"%s\" (first at line %zu)", s->id,
                (gsize)GPOINTER_TO_SIZE(first));
  g_hash_table_insert(id_lines, s->id, GSIZE_TO_POINTER(v->start_mark.line + 1));
  if (!get_string(l, node, path, "name", FALSE, &s->name)
      || !get_string(l, node, path, "org", FALSE, &s->org)
      || !get_string(l, node, path, "trade", FALSE, &s->trade))
    return FALSE;

  g_autofree char *src_path = child_path(path, "source");
  if (l->purpose == SC_CONFIG_FOR_RELAY) {
    /* A relay node has no video: the source is neither resolved (its
     * secrets need not be on this machine) nor checked. */
    yaml_node_t *src = lookup(l, node, "source");
    if (src && src->type == YAML_SCALAR_NODE && !is_null(src))
      s->source_redacted = g_strdup(scalar(src));
    s->kind = SC_SOURCE_TEST;
    return TRUE;
  }
  if (!get_string_full(l, node, path, "source", TRUE, &s->source, &s->source_redacted, &v))
    return FALSE;
  return check_source(l, v, src_path, s->source, &s->kind);
}

static gboolean
load_stations(Loader *l, yaml_node_t *node, ScConfig *c)
{
  if (is_null(node))
    return l->purpose == SC_CONFIG_FOR_RUN
               ? fail(l, node, "stations", "at least one station is required")
               : TRUE;
  if (node->type != YAML_SEQUENCE_NODE)
    return fail(l, node, "stations", "expected a list of stations, got %s", node_kind(node));

  gsize n = node->data.sequence.items.top - node->data.sequence.items.start;
  if (n == 0 && l->purpose == SC_CONFIG_FOR_RUN)
    return fail(l, node, "stations", "at least one station is required");
  c->stations = g_new0(ScStationConfig, n);
  /* id -> line of its first use; keys are owned by the config. */
  g_autoptr(GHashTable) id_lines = g_hash_table_new(g_str_hash, g_str_equal);
  for (gsize i = 0; i < n; i++) {
    g_autofree char *path = g_strdup_printf("stations[%zu]", i);
    yaml_node_t *item = node_at(l, node->data.sequence.items.start[i]);
    ScStationConfig *s = &c->stations[c->n_stations];
    if (!load_station(l, item, path, c, s, id_lines)) {
      sc_config_station_clear(s);
      return FALSE;
    }
    c->n_stations++;
  }
  return TRUE;
}

/* program.audio: the AAC bitrate and the optional commentary feed. */
static gboolean
load_audio(Loader *l, yaml_node_t *audio, ScConfig *c)
{
  ScProgramConfig *p = &c->program;
  ScStationConfig *s = &p->commentary;
  yaml_node_t *v = NULL;

  if (!get_int(l, audio, "program.audio", "bitrate_kbps", 1, 1024, &p->audio_bitrate_kbps)
      || !get_double(l, audio, "program.audio", "commentary_gain_db", -60, 12,
                     &p->commentary_gain_db))
    return FALSE;
  if (!get_string_full(l, audio, "program.audio", "commentary", FALSE, &s->source,
                       &s->source_redacted, &v))
    return FALSE;
  if (!s->source)
    return TRUE;
  if (!check_source(l, v, "program.audio.commentary", s->source, &s->kind))
    return FALSE;
  /* The `audio` control command names the feed "commentary"; a station of
   * that name would make it ambiguous. */
  if (sc_config_station(c, SC_CONFIG_COMMENTARY_ID))
    return fail(l, v, "program.audio.commentary",
                "a station has the id \"" SC_CONFIG_COMMENTARY_ID "\", which names the "
                "commentary in the audio control command; rename the station");
  s->id = g_strdup(SC_CONFIG_COMMENTARY_ID);
  s->name = g_strdup(SC_CONFIG_COMMENTARY_ID);
  return TRUE;
}

static gboolean
load_program(Loader *l, yaml_node_t *node, ScConfig *c)
{
  ScProgramConfig *p = &c->program;
  yaml_node_t *v = NULL, *video = NULL, *audio = NULL;

  if (!check_mapping(l, node, "program", program_keys, NULL))
    return FALSE;
  if (!get_int(l, node, "program", "width", 160, 3840, &p->width)
      || !get_int(l, node, "program", "height", 160, 2160, &p->height)
      || !get_int(l, node, "program", "fps", 1, 60, &p->fps))
    return FALSE;
  /* x264 and yuv420p want even sizes. */
  if (p->width % 2)
    return fail(l, lookup(l, node, "width"), "program.width", "must be even (got %d)", p->width);
  if (p->height % 2)
    return fail(l, lookup(l, node, "height"), "program.height", "must be even (got %d)", p->height);

  g_autofree char *layout = NULL;
  if (!get_string_full(l, node, "program", "layout", FALSE, &layout, NULL, &v))
    return FALSE;
  if (layout && !sc_layout_from_string(layout, &p->layout))
    return fail(l, v, "program.layout",
                "unknown layout \"%s\" (expected grid, focus, pip, sbs, single)", shown(l, v));

  if (!get_string_full(l, node, "program", "focus", FALSE, &p->focus, NULL, &v))
    return FALSE;
  if (p->focus && !sc_config_station(c, p->focus))
    return fail(l, v, "program.focus", "no station has the id \"%s\"", shown(l, v));

  if (!get_mapping(l, node, "program", "video", video_keys, &video))
    return FALSE;
  if (video) {
    if (!get_int(l, video, "program.video", "bitrate_kbps", 1, 1000000, &p->video_bitrate_kbps))
      return FALSE;
    if (!get_string_full(l, video, "program.video", "preset", FALSE, &p->video_preset, NULL, &v))
      return FALSE;
    if (!g_strv_contains(x264_presets, p->video_preset)) {
      g_autofree char *list = g_strjoinv(", ", (char **)x264_presets);
      return fail(l, v, "program.video.preset", "unknown x264 preset \"%s\" (expected %s)",
                  shown(l, v), list);
    }
    if (!get_int(l, video, "program.video", "keyint_s", 1, 10, &p->keyint_s))
      return FALSE;
  }
  if (!get_mapping(l, node, "program", "audio", audio_keys, &audio))
    return FALSE;
  if (audio && !load_audio(l, audio, c))
    return FALSE;

  g_autofree char *director = NULL;
  if (!get_string_full(l, node, "program", "director", FALSE, &director, NULL, &v))
    return FALSE;
  if (director) {
    if (!strcmp(director, "auto"))
      p->director_auto = TRUE;
    else if (!strcmp(director, "off"))
      p->director_auto = FALSE;
    else
      return fail(l, v, "program.director", "expected auto or off, got \"%s\"", shown(l, v));
  }
  return get_int(l, node, "program", "director_hold_s", 1, 3600, &p->director_hold_s);
}

static gboolean
load_overlay(Loader *l, yaml_node_t *node, ScConfig *c)
{
  ScOverlayConfig *o = &c->overlay;
  yaml_node_t *sub = NULL;

  if (!check_mapping(l, node, "overlay", overlay_keys, NULL))
    return FALSE;
  if (!get_string(l, node, "overlay", "font", FALSE, &o->font))
    return FALSE;
  if (!*o->font)
    return fail(l, lookup(l, node, "font"), "overlay.font", "must not be empty");

  if (!get_mapping(l, node, "overlay", "scoreboard", scoreboard_keys, &sub))
    return FALSE;
  if (sub
      && (!get_bool(l, sub, "overlay.scoreboard", "visible", &o->scoreboard_visible)
          || !get_int(l, sub, "overlay.scoreboard", "top", 1, 20, &o->scoreboard_top)))
    return FALSE;

  static const struct {
    const char *key;
    gsize offset;
  } toggles[] = {
    { "clock", G_STRUCT_OFFSET(ScOverlayConfig, clock_visible) },
    { "lowerthird", G_STRUCT_OFFSET(ScOverlayConfig, lowerthird_visible) },
    { "live", G_STRUCT_OFFSET(ScOverlayConfig, live_visible) },
  };
  for (guint i = 0; i < G_N_ELEMENTS(toggles); i++) {
    g_autofree char *path = child_path("overlay", toggles[i].key);
    if (!get_mapping(l, node, "overlay", toggles[i].key, visible_keys, &sub))
      return FALSE;
    if (sub && !get_bool(l, sub, path, "visible", G_STRUCT_MEMBER_P(o, toggles[i].offset)))
      return FALSE;
  }
  return TRUE;
}

static gboolean
load_output(Loader *l, yaml_node_t *node, const char *path, ScConfig *c, ScOutputConfig *o,
            GHashTable *id_lines)
{
  yaml_node_t *v = NULL;

  /* First with every output key, to find the type; then with the keys of
   * that type, so `url:` on an hls output is reported as what it is. */
  if (!check_mapping(l, node, path, output_keys_any, NULL))
    return FALSE;
  if (!get_string_full(l, node, path, "id", TRUE, &o->id, NULL, &v))
    return FALSE;
  g_autofree char *id_path = child_path(path, "id");
  if (!is_id(o->id, 40, FALSE))
    return fail(l, v, id_path, "\"%s\" is not a valid output id ([a-z0-9_-]{1,40})", shown(l, v));
  gpointer first = g_hash_table_lookup(id_lines, o->id);
  if (first)
    return fail(l, v, id_path, "duplicate output id \"%s\" (first at line %zu)", o->id,
                (gsize)GPOINTER_TO_SIZE(first));
  g_hash_table_insert(id_lines, o->id, GSIZE_TO_POINTER(v->start_mark.line + 1));

  g_autofree char *type = NULL;
  if (!get_string_full(l, node, path, "type", TRUE, &type, NULL, &v))
    return FALSE;
  const char *const *keys;
  const char *what;
  if (!strcmp(type, "rtmp")) {
    o->type = SC_OUTPUT_RTMP, keys = output_keys_stream, what = "for an rtmp output";
  } else if (!strcmp(type, "srt")) {
    o->type = SC_OUTPUT_SRT, keys = output_keys_stream, what = "for an srt output";
  } else if (!strcmp(type, "hls")) {
    o->type = SC_OUTPUT_HLS, keys = output_keys_hls, what = "for an hls output";
  } else if (!strcmp(type, "record")) {
    o->type = SC_OUTPUT_RECORD, keys = output_keys_record, what = "for a record output";
  } else {
    g_autofree char *tpath = child_path(path, "type");
    return fail(l, v, tpath, "unknown output type \"%s\" (expected rtmp, srt, hls, record)",
                shown(l, v));
  }
  if (!check_mapping(l, node, path, keys, what))
    return FALSE;

  switch (o->type) {
  case SC_OUTPUT_RTMP:
  case SC_OUTPUT_SRT: {
    if (!get_string_full(l, node, path, "url", TRUE, &o->url, &o->url_redacted, &v))
      return FALSE;
    gboolean ok = o->type == SC_OUTPUT_RTMP ? (g_str_has_prefix(o->url, "rtmp://")
                                               || g_str_has_prefix(o->url, "rtmps://"))
                                            : g_str_has_prefix(o->url, "srt://");
    g_autofree char *upath = child_path(path, "url");
    if (!ok || !strstr(o->url, "://")[3])
      return fail(l, v, upath, "an %s output needs a %s URL", sc_output_kind_to_string(o->type),
                  o->type == SC_OUTPUT_RTMP ? "rtmp:// (or rtmps://)" : "srt://");
    break;
  }
  case SC_OUTPUT_HLS:
  case SC_OUTPUT_RECORD:
    if (!get_string(l, node, path, "dir", TRUE, &o->dir))
      return FALSE;
    if (!*o->dir) {
      g_autofree char *dpath = child_path(path, "dir");
      return fail(l, lookup(l, node, "dir"), dpath, "must not be empty");
    }
    if (o->type == SC_OUTPUT_HLS) {
      if (!get_int(l, node, path, "segment_s", 1, 30, &o->segment_s))
        return FALSE;
      if (!get_string_full(l, node, path, "upload", FALSE, &o->upload, &o->upload_redacted, &v))
        return FALSE;
      if (o->upload && !(g_str_has_prefix(o->upload, "http://") && o->upload[7])
          && !(g_str_has_prefix(o->upload, "https://") && o->upload[8])) {
        g_autofree char *upath = child_path(path, "upload");
        return fail(l, v, upath, "expected an http:// or https:// URL prefix");
      }
    } else if (!get_int(l, node, path, "split_min", 1, 1440, &o->split_min)) {
      return FALSE;
    }
    break;
  }
  return TRUE;
}

static gboolean
load_outputs(Loader *l, yaml_node_t *node, ScConfig *c)
{
  if (is_null(node))
    return TRUE;
  if (node->type != YAML_SEQUENCE_NODE)
    return fail(l, node, "outputs", "expected a list of outputs, got %s", node_kind(node));
  gsize n = node->data.sequence.items.top - node->data.sequence.items.start;
  c->outputs = g_new0(ScOutputConfig, n);
  /* id -> line of its first use; keys are owned by the config. */
  g_autoptr(GHashTable) id_lines = g_hash_table_new(g_str_hash, g_str_equal);
  for (gsize i = 0; i < n; i++) {
    g_autofree char *path = g_strdup_printf("outputs[%zu]", i);
    ScOutputConfig *o = &c->outputs[c->n_outputs];
    o->segment_s = SC_CONFIG_DEFAULT_SEGMENT_S;
    o->split_min = SC_CONFIG_DEFAULT_SPLIT_MIN;
    if (!load_output(l, node_at(l, node->data.sequence.items.start[i]), path, c, o, id_lines)) {
      sc_config_output_clear(o);
      return FALSE;
    }
    c->n_outputs++;
  }
  return TRUE;
}

static gboolean
load_server(Loader *l, yaml_node_t *node, ScConfig *c)
{
  ScServerConfig *s = &c->server;
  yaml_node_t *v = NULL;

  if (!check_mapping(l, node, "server", server_keys, NULL))
    return FALSE;
  if (!get_string_full(l, node, "server", "listen", FALSE, &s->listen, NULL, &v))
    return FALSE;
  if (v && !is_null(v)) {
    g_autofree char *host = NULL;
    int port = -1;
    if (!split_host_port(s->listen, strlen(s->listen), TRUE, &host, &port) || !*host)
      return fail(l, v, "server.listen",
                  "expected HOST:PORT such as \"127.0.0.1:8080\", got \"%s\"", shown(l, v));
    g_free(s->host);
    s->host = g_steal_pointer(&host);
    s->port = port;
  }

  static const char *const tokens[] = { "operator_token", "commentator_token" };
  char **fields[] = { &s->operator_token, &s->commentator_token };
  for (guint i = 0; i < G_N_ELEMENTS(tokens); i++) {
    if (!get_string_full(l, node, "server", tokens[i], FALSE, fields[i], NULL, &v))
      return FALSE;
    if (*fields[i] && !**fields[i]) {
      g_autofree char *tpath = child_path("server", tokens[i]);
      return fail(l, v, tpath, "must not be empty (leave the key out to have no token)");
    }
  }
  if (!get_int(l, node, "server", "max_clients", 1, 1000000, &s->max_clients))
    return FALSE;
  if (!get_string_full(l, node, "server", "web_dir", FALSE, &s->web_dir, NULL, &v))
    return FALSE;
  if (!*s->web_dir)
    return fail(l, v, "server.web_dir", "must not be empty");
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* The document */

static const struct {
  const char *key;
  ScConfigSection bit;
} sections[] = {
  { "contest", SC_SECTION_CONTEST },   { "redis", SC_SECTION_REDIS },
  { "stations", SC_SECTION_STATIONS }, { "program", SC_SECTION_PROGRAM },
  { "overlay", SC_SECTION_OVERLAY },   { "outputs", SC_SECTION_OUTPUTS },
  { "server", SC_SECTION_SERVER },
};

static gboolean
load_document(Loader *l, ScConfig *c)
{
  static const char *const top_keys[]
      = { "contest", "redis", "stations", "program", "overlay", "outputs", "server", NULL };
  yaml_node_t *root = yaml_document_get_root_node(l->doc);
  yaml_mark_t start = { 0, 0, 0 };

  if (!root || is_null(root))
    return fail_at(l, root ? root->start_mark : start, NULL,
                   "the file is empty (expected contest, redis, stations, ...)");
  if (root->type != YAML_MAPPING_NODE)
    return fail(l, root, NULL, "expected a mapping of sections (contest, redis, ...), got %s",
                node_kind(root));
  if (!check_mapping(l, root, NULL, top_keys, NULL))
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS(sections); i++)
    if (lookup(l, root, sections[i].key))
      c->sections |= sections[i].bit;

  guint required = l->purpose == SC_CONFIG_FOR_RUN
                       ? SC_SECTION_CONTEST | SC_SECTION_REDIS | SC_SECTION_STATIONS
                       : SC_SECTION_CONTEST | SC_SECTION_REDIS | SC_SECTION_SERVER;
  for (guint i = 0; i < G_N_ELEMENTS(sections); i++)
    if ((required & sections[i].bit) && !(c->sections & sections[i].bit))
      return fail_at(
          l, start, sections[i].key, "required section is missing%s",
          l->purpose == SC_CONFIG_FOR_RELAY ? " (a relay needs contest, redis and server)" : "");

  yaml_node_t *v;
  if ((v = lookup(l, root, "contest")) && !load_contest(l, v, c))
    return FALSE;
  if ((v = lookup(l, root, "redis")) && !load_redis(l, v, c))
    return FALSE;
  if ((v = lookup(l, root, "stations")) && !load_stations(l, v, c))
    return FALSE;
  /* What a relay does not run, it does not read: a relay node may share
   * the contest node's file without its outputs' secrets. */
  if (l->purpose == SC_CONFIG_FOR_RUN) {
    if ((v = lookup(l, root, "program")) && !is_null(v) && !load_program(l, v, c))
      return FALSE;
    if ((v = lookup(l, root, "overlay")) && !is_null(v) && !load_overlay(l, v, c))
      return FALSE;
    if ((v = lookup(l, root, "outputs")) && !load_outputs(l, v, c))
      return FALSE;
  }
  if ((v = lookup(l, root, "server")) && !is_null(v) && !load_server(l, v, c))
    return FALSE;
  return TRUE;
}

static void
syntax_error(const char *name, yaml_parser_t *parser, GError **error)
{
  const char *problem = parser->problem ? parser->problem : "cannot be parsed";
  if (parser->error == YAML_MEMORY_ERROR)
    problem = "out of memory";
  if (parser->context)
    g_set_error(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_SYNTAX,
                "%s:%zu:%zu: YAML syntax error: %s %s (line %zu)", name,
                parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
                parser->context, parser->context_mark.line + 1);
  else
    g_set_error(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_SYNTAX, "%s:%zu:%zu: YAML syntax error: %s",
                name, parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem);
}

ScConfig *
sc_config_load_string(const char *name, const char *yaml, gssize len, ScConfigPurpose purpose,
                      GError **error)
{
  g_return_val_if_fail(name != NULL, NULL);
  g_return_val_if_fail(yaml != NULL, NULL);

  if (len < 0)
    len = strlen(yaml);

  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser))
    g_error("sc-config: libyaml cannot initialize a parser (out of memory)");
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
  if (!yaml_parser_load(&parser, &doc)) {
    syntax_error(name, &parser, error);
    yaml_parser_delete(&parser);
    return NULL;
  }

  /* One document per file: a second one would be silently ignored. */
  yaml_document_t extra;
  if (!yaml_parser_load(&parser, &extra)) {
    syntax_error(name, &parser, error);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return NULL;
  }
  yaml_node_t *extra_root = yaml_document_get_root_node(&extra);
  if (extra_root) {
    g_set_error(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_SYNTAX,
                "%s:%zu:%zu: only one YAML document is allowed in a config", name,
                extra.start_mark.line + 1, extra.start_mark.column + 1);
    yaml_document_delete(&extra);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return NULL;
  }
  yaml_document_delete(&extra);

  ScConfig *config = sc_config_alloc(name);
  Loader l = { .name = name, .doc = &doc, .purpose = purpose, .error = error };
  l.scratch = g_ptr_array_new_with_free_func(g_free);
  gboolean ok = load_document(&l, config);
  g_ptr_array_unref(l.scratch);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (!ok)
    g_clear_pointer(&config, sc_config_free);
  return config;
}

ScConfig *
sc_config_load(const char *path, ScConfigPurpose purpose, GError **error)
{
  g_return_val_if_fail(path != NULL, NULL);

  /* stdio rather than g_file_get_contents: the message must be the plain
   * `PATH: No such file or directory` of every Unix tool. */
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    g_set_error(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_IO, "%s: %s", path, g_strerror(e));
    return NULL;
  }
  GString *text = g_string_new(NULL);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    g_string_append_len(text, buf, n);
    if (text->len > MAX_FILE_SIZE)
      break;
  }
  int e = ferror(f) ? errno : 0;
  fclose(f);
  if (e) {
    g_set_error(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_IO, "%s: %s", path, g_strerror(e));
    g_string_free(text, TRUE);
    return NULL;
  }
  if (text->len > MAX_FILE_SIZE) {
    g_set_error(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_IO, "%s: larger than %d MiB, not a config",
                path, MAX_FILE_SIZE / (1024 * 1024));
    g_string_free(text, TRUE);
    return NULL;
  }
  ScConfig *config = sc_config_load_string(path, text->str, text->len, purpose, error);
  g_string_free(text, TRUE);
  return config;
}
