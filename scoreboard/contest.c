/* contest — the fold of score events into contest state, and the
 * snapshot / delta / event JSON of CONTRACTS.md §4.
 *
 * Pure: entries in, state and JSON out. The only clock reads are in the
 * snapshot (clock remaining and announcement expiry "now"), so replaying a
 * stream gives the same state and the same delta/event bytes on every node.
 * Decisions (roster, JSON shapes, clock and ttl math) are in
 * docs/scoreboard.md. */
#include "scoreboard/scoreboard-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY(sc_scoreboard_debug);

#define DEFAULT_ANNOUNCE_TTL_MS 8000
/* Largest remaining_ms / ttl_ms we take: integers stay exact in a double. */
#define MAX_MS 9007199254740991.0

G_DEFINE_QUARK(sc - scoreboard - error - quark, sc_scoreboard_error)

void
sc_scoreboard_debug_init(void)
{
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    GST_DEBUG_CATEGORY_INIT(sc_scoreboard_debug, "sc-scoreboard", 0,
                            "skillcast scoreboard: score event fold and Redis follower");
    g_once_init_leave(&once, 1);
  }
}

typedef struct {
  ScStationRow row; /* row.id/name/org/trade point at the strings below */
  char *id;
  char *name;
  char *org;
  char *trade;
  guint64 order; /* config order, then order of first appearance */
} Station;

typedef struct {
  ScEntryId id;
  char *id_str;
  char *delta;
  char *event;
} HistoryItem;

struct ScContest {
  char *contest_id;
  char *title;
  gboolean open_roster;

  GHashTable *by_id;   /* station id -> Station* (owned by `stations`) */
  GPtrArray *stations; /* Station*, in rank order; owns them */
  guint64 next_order;

  ScEntryId last_read;
  char last_read_str[48];
  char last_applied_str[48];

  ScClockState clock_state;
  gint64 clock_remaining_ms; /* as given by the last clock event */
  guint64 clock_at_ms;       /* that event's id time */

  char *announce_text; /* NULL: none */
  gint64 announce_ttl_ms;
  guint64 announce_at_ms;

  /* Ring of the last SC_CONTEST_HISTORY applied entries. */
  HistoryItem *hist;
  guint hist_start, hist_len;
  gboolean hist_dropped;
  ScEntryId hist_floor; /* id of the newest item dropped from the ring */

  JsonParser *parser; /* reused for `detail`: creating one per entry is slow */

  guint64 applied;
  guint64 rejected;
};

/* ---- entry ids ---- */

static gboolean
parse_u64(const char *s, const char *end, guint64 *out)
{
  guint64 v = 0;
  if (s == end || end - s > 20)
    return FALSE;
  for (const char *p = s; p < end; p++) {
    if (*p < '0' || *p > '9')
      return FALSE;
    guint64 d = (guint64)(*p - '0');
    if (v > (G_MAXUINT64 - d) / 10)
      return FALSE;
    v = v * 10 + d;
  }
  *out = v;
  return TRUE;
}

gboolean
sc_entry_id_parse(const char *s, ScEntryId *out)
{
  if (s == NULL)
    return FALSE;
  const char *dash = strchr(s, '-');
  if (dash == NULL)
    return FALSE;
  return parse_u64(s, dash, &out->ms)
         && parse_u64(dash + 1, dash + 1 + strlen(dash + 1), &out->seq);
}

int
sc_entry_id_cmp(const ScEntryId *a, const ScEntryId *b)
{
  if (a->ms != b->ms)
    return a->ms < b->ms ? -1 : 1;
  if (a->seq != b->seq)
    return a->seq < b->seq ? -1 : 1;
  return 0;
}

static void
entry_id_format(const ScEntryId *id, char *buf, gsize size)
{
  g_snprintf(buf, size, "%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, id->ms, id->seq);
}

/* ---- JSON writing ---- */

static void
json_str(GString *s, const char *v)
{
  if (v == NULL) {
    g_string_append(s, "null");
    return;
  }
  g_string_append_c(s, '"');
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    switch (*p) {
    case '"':
      g_string_append(s, "\\\"");
      break;
    case '\\':
      g_string_append(s, "\\\\");
      break;
    case '\n':
      g_string_append(s, "\\n");
      break;
    case '\r':
      g_string_append(s, "\\r");
      break;
    case '\t':
      g_string_append(s, "\\t");
      break;
    case '\b':
      g_string_append(s, "\\b");
      break;
    case '\f':
      g_string_append(s, "\\f");
      break;
    default:
      if (*p < 0x20)
        g_string_append_printf(s, "\\u%04x", *p);
      else
        g_string_append_c(s, (char)*p);
    }
  }
  g_string_append_c(s, '"');
}

static void
json_int(GString *s, gint64 v)
{
  char buf[24], *p = buf + sizeof buf;
  guint64 u = v < 0 ? -(guint64)v : (guint64)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  g_string_append_len(s, p, buf + sizeof buf - p);
}

/* Whole numbers below 1e15 print the same with %.15g and as integers;
 * the fast path keeps printf out of most of the fold. */
static gboolean
is_small_int(double v)
{
  return v > -1e15 && v < 1e15 && v == (double)(gint64)v;
}

/* Compact, locale-independent: 87.5 -> 87.5, 90 -> 90. 15 significant
 * digits hide binary noise (87.5 - 2.3 prints 85.2). */
static void
json_num(GString *s, double v)
{
  if (is_small_int(v)) {
    json_int(s, (gint64)v); /* also turns -0 into 0 */
    return;
  }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(buf, sizeof buf, "%.15g", v);
  g_string_append(s, buf);
}

/* The value as it will be printed, so that scores that print equal are
 * equal (ties) and every node computes the same bits. */
static double
normalize(double v)
{
  if (is_small_int(v))
    return v == 0 ? 0 : v;
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(buf, sizeof buf, "%.15g", v);
  double r = g_ascii_strtod(buf, NULL);
  return r == 0 ? 0 : r;
}

/* ---- helpers ---- */

static gboolean
valid_station_id(const char *id)
{
  gsize n = strlen(id);
  if (n < 1 || n > 16)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/* A plain decimal: [+-]digits[.digits][e[+-]digits]. No hex, inf, nan,
 * or surrounding spaces (g_ascii_strtod alone would take those). */
static gboolean
parse_decimal(const char *s, double *out)
{
  const char *p = s;
  gboolean digits = FALSE;
  if (*p == '+' || *p == '-')
    p++;
  while (g_ascii_isdigit(*p)) {
    p++;
    digits = TRUE;
  }
  if (*p == '.') {
    p++;
    while (g_ascii_isdigit(*p)) {
      p++;
      digits = TRUE;
    }
  }
  if (!digits)
    return FALSE;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    if (!g_ascii_isdigit(*p))
      return FALSE;
    while (g_ascii_isdigit(*p))
      p++;
  }
  if (*p != '\0')
    return FALSE;
  double v = g_ascii_strtod(s, NULL);
  if (!isfinite(v))
    return FALSE;
  *out = normalize(v);
  return TRUE;
}

const char *
sc_station_state_to_string(ScStationState state)
{
  switch (state) {
  case SC_STATION_READY:
    return "ready";
  case SC_STATION_WORKING:
    return "working";
  case SC_STATION_FINISHED:
    return "finished";
  case SC_STATION_PAUSED:
    return "paused";
  case SC_STATION_DISQUALIFIED:
    return "disqualified";
  }
  return "ready";
}

const char *
sc_clock_state_to_string(ScClockState state)
{
  switch (state) {
  case SC_CLOCK_STOPPED:
    return "stopped";
  case SC_CLOCK_RUNNING:
    return "running";
  case SC_CLOCK_PAUSED:
    return "paused";
  }
  return "stopped";
}

static gboolean
station_state_from_string(const char *s, ScStationState *out)
{
  for (int i = SC_STATION_READY; i <= SC_STATION_DISQUALIFIED; i++)
    if (strcmp(s, sc_station_state_to_string(i)) == 0) {
      *out = i;
      return TRUE;
    }
  return FALSE;
}

static gboolean
clock_state_from_string(const char *s, ScClockState *out)
{
  for (int i = SC_CLOCK_STOPPED; i <= SC_CLOCK_PAUSED; i++)
    if (strcmp(s, sc_clock_state_to_string(i)) == 0) {
      *out = i;
      return TRUE;
    }
  return FALSE;
}

/* ---- stations ---- */

static void
station_free(gpointer data)
{
  Station *st = data;
  g_free(st->id);
  g_free(st->name);
  g_free(st->org);
  g_free(st->trade);
  g_free(st);
}

static void
station_sync_row(Station *st)
{
  st->row.id = st->id;
  st->row.name = st->name;
  st->row.org = st->org;
  st->row.trade = st->trade;
}

static Station *
station_add(ScContest *c, const char *id, const char *name, const char *org, const char *trade)
{
  Station *st = g_new0(Station, 1);
  st->id = g_strdup(id);
  st->name = g_strdup(name);
  st->org = g_strdup(org);
  st->trade = g_strdup(trade);
  st->order = c->next_order++;
  st->row.state = SC_STATION_READY;
  station_sync_row(st);
  g_ptr_array_add(c->stations, st);
  g_hash_table_insert(c->by_id, st->id, st);
  return st;
}

/* 0: has a score, 1: no score yet, 2: disqualified. */
static int
station_group(const Station *st)
{
  if (st->row.state == SC_STATION_DISQUALIFIED)
    return 2;
  return st->row.has_total ? 0 : 1;
}

static gint
station_cmp(gconstpointer pa, gconstpointer pb)
{
  const Station *a = *(Station *const *)pa, *b = *(Station *const *)pb;
  int ga = station_group(a), gb = station_group(b);
  if (ga != gb)
    return ga - gb;
  if (ga == 0 && a->row.score != b->row.score)
    return a->row.score > b->row.score ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

static void
rerank(ScContest *c)
{
  g_ptr_array_sort(c->stations, station_cmp);
  for (guint i = 0; i < c->stations->len; i++) {
    Station *st = c->stations->pdata[i];
    if (station_group(st) != 0) {
      st->row.rank = 0;
    } else if (i > 0 && station_group(c->stations->pdata[i - 1]) == 0
               && ((Station *)c->stations->pdata[i - 1])->row.score == st->row.score) {
      st->row.rank = ((Station *)c->stations->pdata[i - 1])->row.rank;
    } else {
      st->row.rank = (int)i + 1;
    }
  }
}

/* ---- lifecycle ---- */

ScContest *
sc_contest_new(const char *contest_id, const char *title, const ScStationConfig *stations,
               guint n_stations)
{
  sc_scoreboard_debug_init();
  ScContest *c = g_new0(ScContest, 1);
  c->contest_id = g_strdup(contest_id);
  c->title = g_strdup(title);
  c->open_roster = n_stations == 0;
  c->by_id = g_hash_table_new(g_str_hash, g_str_equal);
  c->stations = g_ptr_array_new_with_free_func(station_free);
  for (guint i = 0; i < n_stations; i++) {
    if (stations[i].id == NULL || g_hash_table_contains(c->by_id, stations[i].id))
      continue;
    station_add(c, stations[i].id, stations[i].name, stations[i].org, stations[i].trade);
  }
  rerank(c);
  g_strlcpy(c->last_read_str, "0-0", sizeof c->last_read_str);
  g_strlcpy(c->last_applied_str, "0-0", sizeof c->last_applied_str);
  c->clock_state = SC_CLOCK_STOPPED;
  c->hist = g_new0(HistoryItem, SC_CONTEST_HISTORY);
  c->parser = json_parser_new();
  return c;
}

static void
history_item_clear(HistoryItem *h)
{
  g_free(h->id_str);
  g_free(h->delta);
  g_free(h->event);
  memset(h, 0, sizeof *h);
}

void
sc_contest_free(ScContest *c)
{
  if (c == NULL)
    return;
  for (guint i = 0; i < c->hist_len; i++)
    history_item_clear(&c->hist[(c->hist_start + i) % SC_CONTEST_HISTORY]);
  g_free(c->hist);
  g_object_unref(c->parser);
  g_hash_table_destroy(c->by_id);
  g_ptr_array_unref(c->stations);
  g_free(c->contest_id);
  g_free(c->title);
  g_free(c->announce_text);
  g_free(c);
}

/* ---- rows and messages ---- */

static void
row_json(GString *s, const ScStationRow *r)
{
  g_string_append(s, "{\"id\":");
  json_str(s, r->id);
  g_string_append(s, ",\"name\":");
  json_str(s, r->name);
  g_string_append(s, ",\"org\":");
  json_str(s, r->org);
  g_string_append(s, ",\"trade\":");
  json_str(s, r->trade);
  g_string_append(s, ",\"score\":");
  if (r->has_total)
    json_num(s, r->score);
  else
    g_string_append(s, "null");
  g_string_append(s, ",\"total\":");
  if (r->has_total)
    json_num(s, r->total);
  else
    g_string_append(s, "null");
  g_string_append(s, ",\"penalties\":");
  json_num(s, r->penalties);
  g_string_append(s, ",\"state\":");
  json_str(s, sc_station_state_to_string(r->state));
  g_string_append(s, ",\"rank\":");
  if (r->rank > 0)
    json_int(s, r->rank);
  else
    g_string_append(s, "null");
  g_string_append_c(s, '}');
}

static void
clock_json(GString *s, ScClockState state, gint64 remaining_ms)
{
  g_string_append(s, "{\"state\":");
  json_str(s, sc_clock_state_to_string(state));
  g_string_append(s, ",\"remaining_ms\":");
  json_int(s, remaining_ms);
  g_string_append_c(s, '}');
}

static void
message_head(GString *s, const char *type, const char *id)
{
  g_string_append(s, "{\"type\":");
  json_str(s, type);
  g_string_append(s, ",\"id\":");
  json_str(s, id);
}

/* ---- rejection ---- */

static gboolean reject(ScContest *c, const char *entry_id, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean
reject(ScContest *c, const char *entry_id, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *why = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  c->rejected++;
  /* The id may itself be garbage; print it escaped and bounded. */
  char *id = g_strescape(entry_id ? entry_id : "(null)", NULL);
  if (strlen(id) > 64)
    id[64] = '\0';
  GST_WARNING("contest %s: entry %s rejected: %s", c->contest_id, id, why);
  g_set_error(error, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REJECTED, "entry %s rejected: %s", id,
              why);
  g_free(id);
  g_free(why);
  return FALSE;
}

void
sc_contest_reject_entry(ScContest *c, const char *entry_id, const char *reason)
{
  ScEntryId id;
  if (sc_entry_id_parse(entry_id, &id) && sc_entry_id_cmp(&id, &c->last_read) > 0) {
    c->last_read = id;
    entry_id_format(&id, c->last_read_str, sizeof c->last_read_str);
  }
  reject(c, entry_id, NULL, "%s", reason);
}

/* ---- apply ---- */

typedef enum { EV_COMPETITOR, EV_SCORE, EV_PENALTY, EV_STATUS, EV_CLOCK, EV_ANNOUNCE } EventType;

static const char *const event_type_names[]
    = { "competitor", "score", "penalty", "status", "clock", "announce" };

static const char *
field_get(char *const *fields, guint n_fields, const char *name)
{
  for (guint i = 0; i + 1 < n_fields; i += 2)
    if (strcmp(fields[i], name) == 0)
      return fields[i + 1];
  return NULL;
}

/* Is NAME carried as a JSON number in the event message for TYPE? */
static gboolean
numeric_field(EventType type, const char *name)
{
  switch (type) {
  case EV_SCORE:
    return strcmp(name, "total") == 0;
  case EV_PENALTY:
    return strcmp(name, "points") == 0;
  case EV_CLOCK:
    return strcmp(name, "remaining_ms") == 0;
  case EV_ANNOUNCE:
    return strcmp(name, "ttl_ms") == 0;
  default:
    return FALSE;
  }
}

static void
history_push(ScContest *c, const ScEntryId *id, const char *id_str, char *delta, char *event)
{
  HistoryItem *h;
  if (c->hist_len == SC_CONTEST_HISTORY) {
    h = &c->hist[c->hist_start];
    c->hist_floor = h->id;
    c->hist_dropped = TRUE;
    history_item_clear(h);
    c->hist_start = (c->hist_start + 1) % SC_CONTEST_HISTORY;
    c->hist_len--;
  }
  h = &c->hist[(c->hist_start + c->hist_len) % SC_CONTEST_HISTORY];
  h->id = *id;
  h->id_str = g_strdup(id_str);
  h->delta = delta;
  h->event = event;
  c->hist_len++;
}

gboolean
sc_contest_apply(ScContest *c, const char *entry_id, char *const *fields, guint n_fields,
                 gint64 now_us, char **delta_json, char **event_json, GError **error)
{
  ScEntryId id;
  if (delta_json)
    *delta_json = NULL;
  if (event_json)
    *event_json = NULL;

  if (!sc_entry_id_parse(entry_id, &id))
    return reject(c, entry_id, error, "not a stream entry id");
  if (sc_entry_id_cmp(&id, &c->last_read) <= 0)
    return reject(c, entry_id, error, "not after the last entry read (%s)", c->last_read_str);
  /* From here on the id counts as read, applied or not. */
  c->last_read = id;
  char id_str[48];
  entry_id_format(&id, id_str, sizeof id_str);
  g_strlcpy(c->last_read_str, id_str, sizeof c->last_read_str);

  /* ---- shape of the field list ---- */
  if (n_fields % 2 != 0)
    return reject(c, id_str, error, "odd number of fields (%u)", n_fields);
  for (guint i = 0; i < n_fields; i++) {
    const char *f = fields[i];
    if (f == NULL)
      return reject(c, id_str, error, "field %u is missing", i);
    gsize len = strlen(f);
    if (len > SC_EVENT_FIELD_MAX)
      return reject(c, id_str, error, "field %s is over %d bytes", i % 2 ? fields[i - 1] : "name",
                    SC_EVENT_FIELD_MAX);
    if (!g_utf8_validate(f, len, NULL))
      return reject(c, id_str, error, "field %u is not valid UTF-8", i);
  }
  for (guint i = 0; i < n_fields; i += 2)
    for (guint j = 0; j < i; j += 2)
      if (strcmp(fields[i], fields[j]) == 0)
        return reject(c, id_str, error, "duplicate field %s", fields[i]);

  const char *type_s = field_get(fields, n_fields, "type");
  if (type_s == NULL)
    return reject(c, id_str, error, "missing field type");
  EventType type = 0;
  gboolean known = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS(event_type_names); i++)
    if (strcmp(type_s, event_type_names[i]) == 0) {
      type = i;
      known = TRUE;
    }
  if (!known)
    return reject(c, id_str, error, "unknown type \"%s\"", type_s);

  /* `detail` (where present) must be a JSON object; parsed once, reused
   * for the event message. */
  g_autofree char *detail = NULL;
  const char *detail_s = field_get(fields, n_fields, "detail");
  if (detail_s != NULL) {
    if (!json_parser_load_from_data(c->parser, detail_s, -1, NULL)
        || json_parser_get_root(c->parser) == NULL
        || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(c->parser)))
      return reject(c, id_str, error, "detail is not a JSON object");
    detail = json_to_string(json_parser_get_root(c->parser), FALSE);
    /* json-glib also takes escapes JSON does not have (octal "\\666"),
     * which can decode to bytes that are not UTF-8 in a field that is:
     * the re-serialized detail would then not be UTF-8 either. */
    if (!g_utf8_validate(detail, -1, NULL))
      return reject(c, id_str, error, "detail is not valid UTF-8 once unescaped");
  }

  /* ---- per type: validate everything before touching the state ---- */
  const char *station_id = NULL;
  Station *st = NULL;
  gboolean new_station = FALSE;
  double num = 0;
  ScStationState sstate = SC_STATION_READY;
  ScClockState cstate = SC_CLOCK_STOPPED;
  double ttl = DEFAULT_ANNOUNCE_TTL_MS;
  const char *text = NULL;

  static const char *const required[][5] = {
    [EV_COMPETITOR] = { "station", "name", "org", "trade", NULL },
    [EV_SCORE] = { "station", "total", NULL },
    [EV_PENALTY] = { "station", "points", "reason", NULL },
    [EV_STATUS] = { "station", "state", NULL },
    [EV_CLOCK] = { "state", "remaining_ms", NULL },
    [EV_ANNOUNCE] = { "text", NULL },
  };
  for (guint i = 0; required[type][i]; i++)
    if (field_get(fields, n_fields, required[type][i]) == NULL)
      return reject(c, id_str, error, "%s event: missing field %s", type_s, required[type][i]);

  if (type <= EV_STATUS) {
    station_id = field_get(fields, n_fields, "station");
    st = g_hash_table_lookup(c->by_id, station_id);
    if (st == NULL) {
      if (type != EV_COMPETITOR && !c->open_roster)
        return reject(c, id_str, error, "unknown station %s", station_id);
      if (!valid_station_id(station_id))
        return reject(c, id_str, error, "bad station id \"%s\" (expected [A-Za-z0-9_-]{1,16})",
                      station_id);
      new_station = TRUE;
    }
  }

  switch (type) {
  case EV_COMPETITOR:
    break;
  case EV_SCORE: {
    const char *v = field_get(fields, n_fields, "total");
    if (!parse_decimal(v, &num))
      return reject(c, id_str, error, "total \"%s\" is not a number", v);
    double pen = st ? st->row.penalties : 0;
    if (!isfinite(num - pen))
      return reject(c, id_str, error, "score out of range");
    break;
  }
  case EV_PENALTY: {
    const char *v = field_get(fields, n_fields, "points");
    if (!parse_decimal(v, &num))
      return reject(c, id_str, error, "points \"%s\" is not a number", v);
    if (num < 0)
      return reject(c, id_str, error, "points %s is negative", v);
    double pen = (st ? st->row.penalties : 0) + num;
    if (!isfinite(pen) || (st && st->row.has_total && !isfinite(st->row.total - pen)))
      return reject(c, id_str, error, "penalties out of range");
    break;
  }
  case EV_STATUS: {
    const char *v = field_get(fields, n_fields, "state");
    if (!station_state_from_string(v, &sstate))
      return reject(c, id_str, error,
                    "state \"%s\" (expected ready, working, finished, paused, disqualified)", v);
    break;
  }
  case EV_CLOCK: {
    const char *v = field_get(fields, n_fields, "state");
    if (!clock_state_from_string(v, &cstate))
      return reject(c, id_str, error, "clock state \"%s\" (expected running, paused, stopped)", v);
    v = field_get(fields, n_fields, "remaining_ms");
    if (!parse_decimal(v, &num))
      return reject(c, id_str, error, "remaining_ms \"%s\" is not a number", v);
    if (num < 0 || num > MAX_MS)
      return reject(c, id_str, error, "remaining_ms %s out of range", v);
    num = round(num);
    break;
  }
  case EV_ANNOUNCE: {
    text = field_get(fields, n_fields, "text");
    const char *v = field_get(fields, n_fields, "ttl_ms");
    if (v != NULL) {
      if (!parse_decimal(v, &ttl))
        return reject(c, id_str, error, "ttl_ms \"%s\" is not a number", v);
      if (ttl < 0 || ttl > MAX_MS)
        return reject(c, id_str, error, "ttl_ms %s out of range", v);
      ttl = round(ttl);
    }
    break;
  }
  }

  /* ---- apply: nothing below can fail ---- */
  if (new_station) {
    st = station_add(c, station_id, NULL, NULL, NULL);
    st->row.changed_at_us = now_us;
  }
  if (st != NULL) {
    ScStationRow before = st->row;
    switch (type) {
    case EV_COMPETITOR: {
      const char *name = field_get(fields, n_fields, "name");
      const char *org = field_get(fields, n_fields, "org");
      const char *trade = field_get(fields, n_fields, "trade");
      if (g_strcmp0(st->name, name) || g_strcmp0(st->org, org) || g_strcmp0(st->trade, trade))
        st->row.changed_at_us = now_us;
      g_free(st->name);
      g_free(st->org);
      g_free(st->trade);
      st->name = g_strdup(name);
      st->org = g_strdup(org);
      st->trade = g_strdup(trade);
      station_sync_row(st);
      break;
    }
    case EV_SCORE:
      st->row.has_total = TRUE;
      st->row.total = num;
      break;
    case EV_PENALTY:
      st->row.penalties = normalize(st->row.penalties + num);
      break;
    case EV_STATUS:
      st->row.state = sstate;
      break;
    default:
      break;
    }
    st->row.score = st->row.has_total ? normalize(st->row.total - st->row.penalties) : 0;
    if (before.has_total != st->row.has_total || before.total != st->row.total
        || before.penalties != st->row.penalties || before.state != st->row.state)
      st->row.changed_at_us = now_us;
    rerank(c);
  } else if (type == EV_CLOCK) {
    c->clock_state = cstate;
    c->clock_remaining_ms = (gint64)num;
    c->clock_at_ms = id.ms;
  } else if (type == EV_ANNOUNCE) {
    g_free(c->announce_text);
    c->announce_text = text[0] ? g_strdup(text) : NULL;
    c->announce_ttl_ms = (gint64)ttl;
    c->announce_at_ms = id.ms;
  }

  /* ---- messages ---- */
  GString *d = g_string_sized_new(256);
  message_head(d, "delta", id_str);
  if (st != NULL) {
    g_string_append(d, ",\"stations\":[");
    row_json(d, &st->row);
    g_string_append(d, "],\"ranks\":{");
    for (guint i = 0; i < c->stations->len; i++) {
      const Station *o = c->stations->pdata[i];
      if (i)
        g_string_append_c(d, ',');
      json_str(d, o->id);
      if (o->row.rank > 0) {
        g_string_append_c(d, ':');
        json_int(d, o->row.rank);
      } else
        g_string_append(d, ":null");
    }
    g_string_append_c(d, '}');
  } else if (type == EV_CLOCK) {
    g_string_append(d, ",\"clock\":");
    clock_json(d, c->clock_state, c->clock_remaining_ms);
  } else {
    g_string_append(d, ",\"announce\":");
    json_str(d, c->announce_text);
    g_string_append_printf(d, ",\"ttl_ms\":%" G_GINT64_FORMAT, c->announce_ttl_ms);
  }
  g_string_append_c(d, '}');

  GString *e = g_string_sized_new(256);
  message_head(e, "event", id_str);
  g_string_append(e, ",\"event\":{\"type\":");
  json_str(e, type_s);
  for (guint i = 0; i < n_fields; i += 2) {
    const char *name = fields[i], *value = fields[i + 1];
    if (strcmp(name, "type") == 0)
      continue;
    g_string_append_c(e, ',');
    json_str(e, name);
    g_string_append_c(e, ':');
    if (strcmp(name, "detail") == 0 && detail != NULL) {
      g_string_append(e, detail);
    } else if (numeric_field(type, name)) {
      double v = 0;
      parse_decimal(value, &v);
      if (type == EV_CLOCK || type == EV_ANNOUNCE)
        v = round(v);
      json_num(e, v);
    } else {
      json_str(e, value);
    }
  }
  g_string_append_printf(e, "},\"at\":%" G_GUINT64_FORMAT "}", id.ms);

  g_strlcpy(c->last_applied_str, id_str, sizeof c->last_applied_str);
  c->applied++;
  GST_LOG("contest %s: applied %s %s", c->contest_id, id_str, type_s);

  if (delta_json)
    *delta_json = g_strdup(d->str);
  if (event_json)
    *event_json = g_strdup(e->str);
  history_push(c, &id, id_str, g_string_free(d, FALSE), g_string_free(e, FALSE));
  return TRUE;
}

/* ---- queries ---- */

const char *
sc_contest_last_id(const ScContest *c)
{
  return c->last_read_str;
}

const char *
sc_contest_title(const ScContest *c)
{
  return c->title;
}

guint
sc_contest_n_stations(const ScContest *c)
{
  return c->stations->len;
}

const ScStationRow *
sc_contest_row(const ScContest *c, guint index)
{
  if (index >= c->stations->len)
    return NULL;
  return &((Station *)c->stations->pdata[index])->row;
}

const ScStationRow *
sc_contest_find(const ScContest *c, const char *station_id)
{
  Station *st = station_id ? g_hash_table_lookup(c->by_id, station_id) : NULL;
  return st ? &st->row : NULL;
}

ScClockState
sc_contest_clock(const ScContest *c, gint64 now_us, gint64 *remaining_ms)
{
  gint64 rem = c->clock_remaining_ms;
  if (c->clock_state == SC_CLOCK_RUNNING) {
    gint64 now_ms = now_us / 1000;
    /* A node whose clock is behind the entry's never counts up. */
    gint64 elapsed = now_ms > (gint64)c->clock_at_ms ? now_ms - (gint64)c->clock_at_ms : 0;
    rem = rem > elapsed ? rem - elapsed : 0;
  }
  if (remaining_ms)
    *remaining_ms = rem;
  return c->clock_state;
}

const char *
sc_contest_announcement(const ScContest *c, gint64 now_us)
{
  if (c->announce_text == NULL)
    return NULL;
  gint64 now_ms = now_us / 1000;
  if (now_ms >= (gint64)c->announce_at_ms + c->announce_ttl_ms)
    return NULL;
  return c->announce_text;
}

guint64
sc_contest_applied_count(const ScContest *c)
{
  return c->applied;
}

guint64
sc_contest_rejected_count(const ScContest *c)
{
  return c->rejected;
}

char *
sc_contest_snapshot_json(const ScContest *c, gboolean with_events)
{
  gint64 now = g_get_real_time();
  GString *s = g_string_sized_new(512 + 256 * c->stations->len);
  message_head(s, "snapshot", c->last_applied_str);
  g_string_append(s, ",\"contest\":{\"id\":");
  json_str(s, c->contest_id);
  g_string_append(s, ",\"title\":");
  json_str(s, c->title);
  g_string_append(s, "},\"clock\":");
  gint64 rem = 0;
  ScClockState cs = sc_contest_clock(c, now, &rem);
  clock_json(s, cs, rem);
  g_string_append(s, ",\"stations\":[");
  for (guint i = 0; i < c->stations->len; i++) {
    if (i)
      g_string_append_c(s, ',');
    row_json(s, &((Station *)c->stations->pdata[i])->row);
  }
  g_string_append(s, "],\"announce\":");
  json_str(s, sc_contest_announcement(c, now));
  if (with_events) {
    g_string_append(s, ",\"events\":[");
    guint n = MIN(c->hist_len, SC_EVENT_LOG_SIZE);
    for (guint i = c->hist_len - n; i < c->hist_len; i++) {
      if (i != c->hist_len - n)
        g_string_append_c(s, ',');
      g_string_append(s, c->hist[(c->hist_start + i) % SC_CONTEST_HISTORY].event);
    }
    g_string_append_c(s, ']');
  }
  g_string_append_c(s, '}');
  return g_string_free(s, FALSE);
}

GPtrArray *
sc_contest_messages_since(const ScContest *c, const char *since_id, gboolean with_events)
{
  ScEntryId since;
  if (!sc_entry_id_parse(since_id, &since))
    return NULL;
  /* Ahead of what this node has read: we cannot vouch for it. */
  if (sc_entry_id_cmp(&since, &c->last_read) > 0)
    return NULL;
  /* Entries after SINCE were dropped from the ring. */
  if (c->hist_dropped && sc_entry_id_cmp(&since, &c->hist_floor) < 0)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  /* Binary search for the first item after SINCE. */
  guint lo = 0, hi = c->hist_len;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (sc_entry_id_cmp(&c->hist[(c->hist_start + mid) % SC_CONTEST_HISTORY].id, &since) <= 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  /* SINCE must be an id this node handed out: one in its history, its
   * snapshot id, or 0-0 while the history is complete. Any other id comes
   * from another stream (Redis was replaced, a demo restarted) or was made
   * up, and deltas on top of it would leave the client with stale rows:
   * the client gets a fresh snapshot instead. */
  gboolean known = (lo > 0
                    && sc_entry_id_cmp(&c->hist[(c->hist_start + lo - 1) % SC_CONTEST_HISTORY].id,
                                       &since) == 0)
                   || g_strcmp0(since_id, c->last_applied_str) == 0
                   || (c->hist_dropped && sc_entry_id_cmp(&since, &c->hist_floor) == 0)
                   || (!c->hist_dropped && since.ms == 0 && since.seq == 0);
  if (!known) {
    g_ptr_array_unref(out);
    return NULL;
  }
  for (guint i = lo; i < c->hist_len; i++) {
    const HistoryItem *h = &c->hist[(c->hist_start + i) % SC_CONTEST_HISTORY];
    g_ptr_array_add(out, g_strdup(h->delta));
    if (with_events)
      g_ptr_array_add(out, g_strdup(h->event));
  }
  return out;
}
