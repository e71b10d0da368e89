/* Unit tests of the contest fold (ScContest) and its JSON, plus the
 * in-process ScScoreboard. No servers. */
#include "tests/lib/testlib.h"
#include "scoreboard/scoreboard.h"

#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <string.h>

static ScStationConfig four[] = {
  { .id = "A01", .name = "张伟", .org = "株洲中车", .trade = "数控车工" },
  { .id = "A02", .name = "李娜", .org = "沈阳机床", .trade = "数控车工" },
  { .id = "A03", .name = "王强", .org = "大连机床", .trade = "数控车工" },
  { .id = "A04", .name = "赵敏", .org = "济南二机", .trade = "数控车工" },
};

static ScContest *
new_four(void)
{
  return sc_contest_new("zz2026-cnc", "技能天下 · 数控车工决赛", four, G_N_ELEMENTS(four));
}

/* Applies ID with the NULL-terminated field list; keeps the JSON out. */
static gboolean
apply_full(ScContest *c, const char *id, char **delta, char **event, GError **error, ...)
{
  GPtrArray *f = g_ptr_array_new();
  va_list ap;
  va_start(ap, error);
  const char *s;
  while ((s = va_arg(ap, const char *)) != NULL)
    g_ptr_array_add(f, (gpointer)s);
  va_end(ap);
  gboolean ok = sc_contest_apply(c, id, (char *const *)f->pdata, f->len, 1000, delta, event, error);
  g_ptr_array_unref(f);
  return ok;
}

#define apply(c, id, ...) apply_full(c, id, NULL, NULL, NULL, __VA_ARGS__, NULL)

static JsonObject *
parse_obj(const char *json, JsonParser **keep)
{
  *keep = json_parser_new();
  GError *err = NULL;
  if (!json_parser_load_from_data(*keep, json, -1, &err))
    fail_msg("not JSON: %s: %s", err->message, json);
  JsonNode *root = json_parser_get_root(*keep);
  assert_true(JSON_NODE_HOLDS_OBJECT(root));
  return json_node_get_object(root);
}

/* The object's member names in order, comma-joined. */
static char *
members(JsonObject *o)
{
  GString *s = g_string_new(NULL);
  GList *m = json_object_get_members(o);
  for (GList *l = m; l; l = l->next)
    g_string_append_printf(s, "%s%s", s->len ? "," : "", (char *)l->data);
  g_list_free(m);
  return g_string_free(s, FALSE);
}

static void
assert_members(JsonObject *o, const char *expect)
{
  char *got = members(o);
  assert_string_equal(got, expect);
  g_free(got);
}

static const char *
row_id(ScContest *c, guint i)
{
  return sc_contest_row(c, i)->id;
}

/* ---- ranks ---- */

static void
test_ranks_with_ties(void **state)
{
  g_autoptr(ScContest) c = new_four();
  assert_true(apply(c, "1-0", "type", "score", "station", "A02", "total", "85"));
  assert_true(apply(c, "2-0", "type", "score", "station", "A04", "total", "90"));
  assert_true(apply(c, "3-0", "type", "score", "station", "A01", "total", "90"));
  assert_true(apply(c, "4-0", "type", "score", "station", "A03", "total", "80"));
  /* Ties share a rank and keep config order. */
  assert_string_equal(row_id(c, 0), "A01");
  assert_string_equal(row_id(c, 1), "A04");
  assert_string_equal(row_id(c, 2), "A02");
  assert_string_equal(row_id(c, 3), "A03");
  assert_int_equal(sc_contest_row(c, 0)->rank, 1);
  assert_int_equal(sc_contest_row(c, 1)->rank, 1);
  assert_int_equal(sc_contest_row(c, 2)->rank, 3);
  assert_int_equal(sc_contest_row(c, 3)->rank, 4);
  /* A new total replaces the old one (absolute, not a delta). */
  assert_true(apply(c, "5-0", "type", "score", "station", "A03", "total", "95.25"));
  assert_string_equal(row_id(c, 0), "A03");
  assert_true(sc_contest_find(c, "A03")->total == 95.25);
}

static void
test_penalties(void **state)
{
  g_autoptr(ScContest) c = new_four();
  char *delta = NULL;
  assert_true(
      apply(c, "1-0", "type", "penalty", "station", "A01", "points", "2.5", "reason", "safety"));
  /* Penalties without a total: still no score. */
  assert_false(sc_contest_find(c, "A01")->has_total);
  assert_true(apply(c, "2-0", "type", "score", "station", "A01", "total", "90"));
  assert_true(apply_full(c, "3-0", &delta, NULL, NULL, "type", "penalty", "station", "A01",
                         "points", "1.3", "reason", "late", NULL));
  const ScStationRow *r = sc_contest_find(c, "A01");
  assert_true(r->has_total);
  assert_true(r->penalties == 3.8);
  assert_true(r->score == 86.2);
  assert_non_null(strstr(delta, "\"score\":86.2,\"total\":90,\"penalties\":3.8,"));
  g_free(delta);
  assert_true(apply(c, "4-0", "type", "score", "station", "A01", "total", "95"));
  assert_true(sc_contest_find(c, "A01")->score == 91.2);
  /* Zero points is allowed. */
  assert_true(
      apply(c, "5-0", "type", "penalty", "station", "A01", "points", "0", "reason", "warning"));
}

static void
test_unscored_then_disqualified(void **state)
{
  g_autoptr(ScContest) c = new_four();
  /* Every station starts ready, unranked, in config order. */
  for (guint i = 0; i < 4; i++) {
    assert_string_equal(row_id(c, i), four[i].id);
    assert_int_equal(sc_contest_row(c, i)->rank, 0);
    assert_int_equal(sc_contest_row(c, i)->state, SC_STATION_READY);
  }
  assert_true(apply(c, "1-0", "type", "score", "station", "A01", "total", "99"));
  assert_true(apply(c, "2-0", "type", "score", "station", "A03", "total", "50"));
  assert_true(apply(c, "3-0", "type", "status", "station", "A01", "state", "disqualified"));
  assert_true(apply(c, "4-0", "type", "status", "station", "A02", "state", "working"));
  const char *order[] = { "A03", "A02", "A04", "A01" };
  int ranks[] = { 1, 0, 0, 0 };
  for (guint i = 0; i < 4; i++) {
    assert_string_equal(row_id(c, i), order[i]);
    assert_int_equal(sc_contest_row(c, i)->rank, ranks[i]);
  }
  g_autofree char *snap = sc_contest_snapshot_json(c, FALSE);
  JsonParser *p;
  JsonObject *o = parse_obj(snap, &p);
  JsonArray *rows = json_object_get_array_member(o, "stations");
  JsonObject *dq = json_array_get_object_element(rows, 3);
  assert_string_equal(json_object_get_string_member(dq, "state"), "disqualified");
  assert_true(json_object_get_null_member(dq, "rank"));
  assert_true(json_object_get_double_member(dq, "score") == 99); /* shown, not ranked */
  JsonObject *a02 = json_array_get_object_element(rows, 1);
  assert_true(json_object_get_null_member(a02, "score"));
  assert_true(json_object_get_null_member(a02, "total"));
  assert_true(json_object_get_null_member(a02, "rank"));
  assert_string_equal(json_object_get_string_member(a02, "state"), "working");
  g_object_unref(p);
  /* Back from disqualified: ranked again. */
  assert_true(apply(c, "5-0", "type", "status", "station", "A01", "state", "finished"));
  assert_string_equal(row_id(c, 0), "A01");
  assert_int_equal(sc_contest_row(c, 0)->rank, 1);
  assert_int_equal(sc_contest_row(c, 1)->rank, 2);
}

/* ---- malformed entries ---- */

typedef struct {
  const char *why; /* expected in the message */
  const char *f[12];
} Bad;

static void
test_malformed_rejected(void **state)
{
  g_autoptr(ScContest) c = new_four();
  assert_true(apply(c, "1-0", "type", "score", "station", "A01", "total", "80"));
  assert_true(apply(c, "2-0", "type", "clock", "state", "paused", "remaining_ms", "60000"));
  char *big = g_strnfill(SC_EVENT_FIELD_MAX + 1, 'x');
  char *max = g_strnfill(SC_EVENT_FIELD_MAX, 'x');
  Bad bad[] = {
    { "unknown type", { "type", "bonus", "station", "A01", NULL } },
    { "missing field type", { "station", "A01", "total", "1", NULL } },
    { "unknown station A09", { "type", "score", "station", "A09", "total", "1", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "abc", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", " 87", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "87.5.1", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "0x10", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "inf", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "nan", NULL } },
    { "not a number", { "type", "score", "station", "A01", "total", "1e999", NULL } },
    { "missing field total", { "type", "score", "station", "A01", NULL } },
    { "missing field station", { "type", "score", "total", "5", NULL } },
    { "negative", { "type", "penalty", "station", "A01", "points", "-1", "reason", "x", NULL } },
    { "not a number",
      { "type", "penalty", "station", "A01", "points", "two", "reason", "x", NULL } },
    { "missing field reason", { "type", "penalty", "station", "A01", "points", "1", NULL } },
    { "state \"sleeping\"", { "type", "status", "station", "A01", "state", "sleeping", NULL } },
    { "clock state", { "type", "clock", "state", "ticking", "remaining_ms", "5", NULL } },
    { "remaining_ms", { "type", "clock", "state", "running", "remaining_ms", "-5", NULL } },
    { "missing field remaining_ms", { "type", "clock", "state", "running", NULL } },
    { "missing field text", { "type", "announce", "ttl_ms", "5", NULL } },
    { "ttl_ms", { "type", "announce", "text", "hi", "ttl_ms", "soon", NULL } },
    { "missing field org",
      { "type", "competitor", "station", "A01", "name", "x", "trade", "t", NULL } },
    { "over 4096 bytes", { "type", "score", "station", "A01", "total", "1", "judge", big, NULL } },
    { "over 4096 bytes", { "type", "announce", "text", big, NULL } },
    { "odd number of fields", { "type", "score", "station", "A01", "total", NULL } },
    { "duplicate field total",
      { "type", "score", "station", "A01", "total", "1", "total", "2", NULL } },
    { "detail is not a JSON object",
      { "type", "score", "station", "A01", "total", "1", "detail", "[1,2]", NULL } },
    { "detail is not a JSON object",
      { "type", "score", "station", "A01", "total", "1", "detail", "{\"a\":", NULL } },
    { "detail is not a JSON object",
      { "type", "score", "station", "A01", "total", "1", "detail", "7", NULL } },
    { "detail is not valid UTF-8",
      { "type", "score", "station", "A01", "total", "1", "detail", "{\"a\":\"x\\666\"}", NULL } },
    { "detail is not valid UTF-8",
      { "type", "score", "station", "A01", "total", "1", "detail", "{\"\\377\":1}", NULL } },
    { "not valid UTF-8",
      { "type", "score", "station", "A01", "total", "1", "judge", "\xff\xfe", NULL } },
    { "not valid UTF-8", { "type", "announce", "text", "ok\xc3", NULL } },
  };
  g_autofree char *before = sc_contest_snapshot_json(c, TRUE);
  guint64 rejected = sc_contest_rejected_count(c);
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    guint n = 0;
    while (bad[i].f[n])
      n++;
    char id[32];
    g_snprintf(id, sizeof id, "%u-0", 10 + i);
    GError *err = NULL;
    char *delta = (char *)"x";
    if (sc_contest_apply(c, id, (char *const *)bad[i].f, n, 5, &delta, NULL, &err))
      fail_msg("case %u (%s) was applied", i, bad[i].why);
    assert_null(delta);
    assert_non_null(err);
    assert_true(g_error_matches(err, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REJECTED));
    if (!strstr(err->message, id) || !strstr(err->message, bad[i].why))
      fail_msg("case %u: message \"%s\" lacks \"%s\" or the id", i, err->message, bad[i].why);
    g_error_free(err);
    assert_int_equal(sc_contest_rejected_count(c), rejected + i + 1);
    /* The id counts as read. */
    assert_string_equal(sc_contest_last_id(c), id);
  }
  g_autofree char *after = sc_contest_snapshot_json(c, TRUE);
  assert_string_equal(before, after);
  assert_int_equal(sc_contest_applied_count(c), 2);
  /* A value of exactly 4 KiB and unknown extra fields are fine. */
  char *event = NULL;
  assert_true(apply_full(c, "100-0", NULL, &event, NULL, "type", "score", "station", "A02", "total",
                         "70", "judge", max, "booth", "3", NULL));
  assert_non_null(strstr(event, ",\"booth\":\"3\"}"));
  g_free(event);
  g_free(big);
  g_free(max);
}

static void
test_old_and_bad_ids(void **state)
{
  g_autoptr(ScContest) c = new_four();
  assert_string_equal(sc_contest_last_id(c), "0-0");
  assert_true(apply(c, "1700000000000-5", "type", "score", "station", "A01", "total", "80"));
  GError *err = NULL;
  const char *f[] = { "type", "score", "station", "A01", "total", "90" };
  const char *ids[] = {
    "1700000000000-5", "1700000000000-4", "1699999999999-9", "garbage", "12-", "-1", "1-2-3", "0-0"
  };
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
    assert_false(sc_contest_apply(c, ids[i], (char *const *)f, 6, 1, NULL, NULL, &err));
    assert_non_null(err);
    g_clear_error(&err);
  }
  assert_int_equal(sc_contest_rejected_count(c), G_N_ELEMENTS(ids));
  assert_true(sc_contest_find(c, "A01")->total == 80);
  assert_string_equal(sc_contest_last_id(c), "1700000000000-5");
  /* A rejected entry's id is read: the same id again is refused even if good. */
  assert_false(apply(c, "1700000000001-0", "type", "bogus"));
  assert_false(apply(c, "1700000000001-0", "type", "score", "station", "A01", "total", "90"));
  assert_true(apply(c, "1700000000001-1", "type", "score", "station", "A01", "total", "90"));
}

/* ---- determinism ---- */

static const char *const script[][14] = {
  { "1732345678901-0", "type", "competitor", "station", "A05", "name", "钱七", "org", "杭州",
    "trade", "数控车工" },
  { "1732345678901-1", "type", "score", "station", "A01", "total", "87.5", "judge", "J2", "item",
    "车削", "detail", "{\"parts\":[1,2],\"note\":\"好\"}" },
  { "1732345678902-0", "type", "score", "station", "A05", "total", "90" },
  { "1732345678903-0", "type", "penalty", "station", "A05", "points", "2.5", "reason", "安全" },
  { "1732345678904-0", "type", "bogus", "station", "A05" },
  { "1732345678905-0", "type", "status", "station", "A02", "state", "disqualified" },
  { "1732345678906-0", "type", "clock", "state", "paused", "remaining_ms", "1800000" },
  { "1732345678907-0", "type", "announce", "text", "第二轮", "ttl_ms", "0" },
  { "1732345678908-0", "type", "score", "station", "A03", "total", "87.5" },
};

static ScContest *
fold_script(void)
{
  ScContest *c = new_four();
  for (guint i = 0; i < G_N_ELEMENTS(script); i++) {
    guint n = 0;
    while (script[i][1 + n])
      n++;
    sc_contest_apply(c, script[i][0], (char *const *)&script[i][1], n, g_get_real_time(), NULL,
                     NULL, NULL);
  }
  return c;
}

static void
test_replay_identical(void **state)
{
  g_autoptr(ScContest) a = fold_script();
  g_usleep(2000);
  g_autoptr(ScContest) b = fold_script();
  assert_int_equal(sc_contest_applied_count(a), 8);
  assert_int_equal(sc_contest_rejected_count(a), 1);
  g_autofree char *sa = sc_contest_snapshot_json(a, TRUE);
  g_autofree char *sb = sc_contest_snapshot_json(b, TRUE);
  assert_string_equal(sa, sb);
  g_autoptr(GPtrArray) ma = sc_contest_messages_since(a, "0-0", TRUE);
  g_autoptr(GPtrArray) mb = sc_contest_messages_since(b, "0-0", TRUE);
  assert_int_equal(ma->len, 16);
  for (guint i = 0; i < ma->len; i++)
    assert_string_equal(ma->pdata[i], mb->pdata[i]);
  /* Roster: config stations first, then A05 from its competitor event. */
  assert_int_equal(sc_contest_n_stations(a), 5);
  assert_string_equal(sc_contest_find(a, "A05")->name, "钱七");
  /* 90 - 2.5 = 87.5 ties A01 (87.5) and A03 (87.5): config order, then A05. */
  assert_string_equal(row_id(a, 0), "A01");
  assert_string_equal(row_id(a, 1), "A03");
  assert_string_equal(row_id(a, 2), "A05");
  assert_int_equal(sc_contest_row(a, 2)->rank, 1);
  assert_string_equal(row_id(a, 3), "A04");
  assert_string_equal(row_id(a, 4), "A02");
}

/* ---- JSON shapes ---- */

static void
test_snapshot_json(void **state)
{
  g_autoptr(ScContest) c = fold_script();
  g_autofree char *s = sc_contest_snapshot_json(c, FALSE);
  assert_true(g_str_has_prefix(s, "{\"type\":\"snapshot\",\"id\":\"1732345678908-0\","));
  JsonParser *p;
  JsonObject *o = parse_obj(s, &p);
  assert_members(o, "type,id,contest,clock,stations,announce");
  JsonObject *contest = json_object_get_object_member(o, "contest");
  assert_members(contest, "id,title");
  assert_string_equal(json_object_get_string_member(contest, "id"), "zz2026-cnc");
  assert_string_equal(json_object_get_string_member(contest, "title"), "技能天下 · 数控车工决赛");
  JsonObject *clock = json_object_get_object_member(o, "clock");
  assert_members(clock, "state,remaining_ms");
  assert_string_equal(json_object_get_string_member(clock, "state"), "paused");
  assert_int_equal(json_object_get_int_member(clock, "remaining_ms"), 1800000);
  /* ttl 0: already gone. */
  assert_true(json_object_get_null_member(o, "announce"));
  JsonArray *rows = json_object_get_array_member(o, "stations");
  assert_int_equal(json_array_get_length(rows), 5);
  JsonObject *r0 = json_array_get_object_element(rows, 0);
  assert_members(r0, "id,name,org,trade,score,total,penalties,state,rank");
  assert_string_equal(json_object_get_string_member(r0, "name"), "张伟");
  /* Numbers are JSON numbers, printed compactly. */
  assert_non_null(
      strstr(s, "{\"id\":\"A01\",\"name\":\"张伟\",\"org\":\"株洲中车\",\"trade\":\"数控车工\","
                "\"score\":87.5,\"total\":87.5,\"penalties\":0,\"state\":\"ready\",\"rank\":1}"));
  assert_non_null(strstr(s, "\"score\":87.5,\"total\":90,\"penalties\":2.5,"));
  g_object_unref(p);

  g_autofree char *se = sc_contest_snapshot_json(c, TRUE);
  o = parse_obj(se, &p);
  assert_members(o, "type,id,contest,clock,stations,announce,events");
  JsonArray *ev = json_object_get_array_member(o, "events");
  assert_int_equal(json_array_get_length(ev), 8);
  JsonObject *e0 = json_array_get_object_element(ev, 0);
  assert_members(e0, "type,id,event,at");
  assert_string_equal(json_object_get_string_member(e0, "type"), "event");
  g_object_unref(p);

  /* Before anything: id 0-0, clock stopped at 0, no announcement. */
  g_autoptr(ScContest) empty = new_four();
  g_autofree char *s0 = sc_contest_snapshot_json(empty, FALSE);
  assert_true(g_str_has_prefix(s0, "{\"type\":\"snapshot\",\"id\":\"0-0\","));
  assert_non_null(strstr(s0, "\"clock\":{\"state\":\"stopped\",\"remaining_ms\":0}"));
  assert_non_null(strstr(s0, "\"announce\":null}"));
}

static void
test_delta_and_event_json(void **state)
{
  g_autoptr(ScContest) c = new_four();
  char *delta, *event;
  JsonParser *p;

  assert_true(apply_full(c, "1732345678901-3", &delta, &event, NULL, "type", "score", "station",
                         "A02", "total", "87.50", "judge", "J2", "detail",
                         "{ \"a\" : [1, 2.5], \"b\": {\"c\":\"中\"} }", "item", "车削", NULL));
  assert_true(g_str_has_prefix(delta, "{\"type\":\"delta\",\"id\":\"1732345678901-3\","));
  JsonObject *o = parse_obj(delta, &p);
  assert_members(o, "type,id,stations,ranks");
  JsonArray *rows = json_object_get_array_member(o, "stations");
  assert_int_equal(json_array_get_length(rows), 1);
  JsonObject *row = json_array_get_object_element(rows, 0);
  assert_members(row, "id,name,org,trade,score,total,penalties,state,rank");
  assert_string_equal(json_object_get_string_member(row, "id"), "A02");
  assert_true(json_object_get_double_member(row, "score") == 87.5);
  assert_int_equal(json_object_get_int_member(row, "rank"), 1);
  JsonObject *ranks = json_object_get_object_member(o, "ranks");
  assert_members(ranks, "A02,A01,A03,A04"); /* every station, in rank order */
  assert_int_equal(json_object_get_int_member(ranks, "A02"), 1);
  assert_true(json_object_get_null_member(ranks, "A01"));
  g_object_unref(p);

  assert_true(g_str_has_prefix(event, "{\"type\":\"event\",\"id\":\"1732345678901-3\","));
  o = parse_obj(event, &p);
  assert_members(o, "type,id,event,at");
  assert_int_equal(json_object_get_int_member(o, "at"), 1732345678901);
  JsonObject *e = json_object_get_object_member(o, "event");
  assert_members(e, "type,station,total,judge,detail,item");
  assert_string_equal(json_object_get_string_member(e, "type"), "score");
  assert_true(json_object_get_double_member(e, "total") == 87.5);
  assert_non_null(strstr(event, "\"total\":87.5,"));
  JsonObject *detail = json_object_get_object_member(e, "detail");
  assert_non_null(detail);
  assert_string_equal(
      json_object_get_string_member(json_object_get_object_member(detail, "b"), "c"), "中");
  g_object_unref(p);
  g_free(delta);
  g_free(event);

  assert_true(apply_full(c, "1732345678902-0", &delta, &event, NULL, "type", "penalty", "station",
                         "A02", "points", "1.5", "reason", "安全", NULL));
  assert_non_null(strstr(
      event,
      "\"event\":{\"type\":\"penalty\",\"station\":\"A02\",\"points\":1.5,\"reason\":\"安全\"}"));
  g_free(delta);
  g_free(event);

  assert_true(apply_full(c, "1732345678903-0", &delta, &event, NULL, "type", "clock", "state",
                         "running", "remaining_ms", "600000", NULL));
  assert_string_equal(delta, "{\"type\":\"delta\",\"id\":\"1732345678903-0\",\"clock\":{\"state\":"
                             "\"running\",\"remaining_ms\":600000}}");
  assert_string_equal(
      event, "{\"type\":\"event\",\"id\":\"1732345678903-0\",\"event\":{\"type\":\"clock\","
             "\"state\":\"running\",\"remaining_ms\":600000},\"at\":1732345678903}");
  g_free(delta);
  g_free(event);

  assert_true(apply_full(c, "1732345678904-0", &delta, &event, NULL, "type", "announce", "text",
                         "请注意 \"安全\"\n", NULL));
  assert_string_equal(delta, "{\"type\":\"delta\",\"id\":\"1732345678904-0\",\"announce\":\"请注意 "
                             "\\\"安全\\\"\\n\",\"ttl_ms\":8000}");
  o = parse_obj(event, &p);
  e = json_object_get_object_member(o, "event");
  assert_members(e, "type,text");
  g_object_unref(p);
  g_free(delta);
  g_free(event);

  assert_true(apply_full(c, "1732345678905-0", &delta, &event, NULL, "type", "status", "station",
                         "A03", "state", "working", NULL));
  o = parse_obj(delta, &p);
  row = json_array_get_object_element(json_object_get_array_member(o, "stations"), 0);
  assert_string_equal(json_object_get_string_member(row, "state"), "working");
  g_object_unref(p);
  g_free(delta);
  g_free(event);
}

/* ---- history ---- */

static void
test_messages_since(void **state)
{
  g_autoptr(ScContest) c = new_four();
  for (guint i = 1; i <= 10; i++) {
    char id[32], total[32];
    g_snprintf(id, sizeof id, "%u-0", i * 10);
    g_snprintf(total, sizeof total, "%u", i);
    assert_true(apply(c, id, "type", "score", "station", "A01", "total", total));
  }
  g_autoptr(GPtrArray) all = sc_contest_messages_since(c, "0-0", FALSE);
  assert_int_equal(all->len, 10);
  g_autoptr(GPtrArray) m = sc_contest_messages_since(c, "50-0", FALSE);
  assert_int_equal(m->len, 5);
  assert_true(g_str_has_prefix(m->pdata[0], "{\"type\":\"delta\",\"id\":\"60-0\""));
  assert_true(g_str_has_prefix(m->pdata[4], "{\"type\":\"delta\",\"id\":\"100-0\""));
  g_autoptr(GPtrArray) me = sc_contest_messages_since(c, "50-0", TRUE);
  assert_int_equal(me->len, 10);
  assert_true(g_str_has_prefix(me->pdata[0], "{\"type\":\"delta\",\"id\":\"60-0\""));
  assert_true(g_str_has_prefix(me->pdata[1], "{\"type\":\"event\",\"id\":\"60-0\""));
  /* An id this node never handed out (another stream, or made up): a
   * fresh snapshot, never deltas on top of rows the client may not have. */
  assert_null(sc_contest_messages_since(c, "55-3", FALSE));
  assert_null(sc_contest_messages_since(c, "5-0", FALSE));
  g_autoptr(GPtrArray) none = sc_contest_messages_since(c, "100-0", TRUE);
  assert_non_null(none);
  assert_int_equal(none->len, 0);
  assert_null(sc_contest_messages_since(c, "garbage", FALSE));
  assert_null(sc_contest_messages_since(c, "", FALSE));
  assert_null(sc_contest_messages_since(c, NULL, FALSE));
  assert_null(sc_contest_messages_since(c, "101-0", FALSE)); /* ahead of us */

  /* Past the history kept: 0-0 is too old, recent ids still work. */
  for (guint i = 0; i < 10000; i++) {
    char id[32];
    g_snprintf(id, sizeof id, "%u-0", 1000 + i);
    assert_true(
        apply(c, id, "type", "status", "station", "A02", "state", i % 2 ? "working" : "paused"));
  }
  assert_null(sc_contest_messages_since(c, "0-0", FALSE));
  assert_null(sc_contest_messages_since(c, "50-0", FALSE));
  g_autoptr(GPtrArray) tail = sc_contest_messages_since(c, "10989-0", FALSE);
  assert_int_equal(tail->len, 10);
  g_autoptr(GPtrArray) edge = sc_contest_messages_since(c, "100-0", FALSE); /* the oldest dropped */
  assert_int_equal(edge->len, 10000);
  /* The commentary snapshot carries the last 200 events. */
  g_autofree char *s = sc_contest_snapshot_json(c, TRUE);
  JsonParser *p;
  JsonObject *o = parse_obj(s, &p);
  JsonArray *ev = json_object_get_array_member(o, "events");
  assert_int_equal(json_array_get_length(ev), SC_EVENT_LOG_SIZE);
  assert_string_equal(json_object_get_string_member(json_array_get_object_element(ev, 199), "id"),
                      "10999-0");
  g_object_unref(p);
}

/* ---- clock and announcements ---- */

static void
test_clock_countdown(void **state)
{
  g_autoptr(ScContest) c = new_four();
  gint64 rem = -1;
  assert_int_equal(sc_contest_clock(c, g_get_real_time(), &rem), SC_CLOCK_STOPPED);
  assert_int_equal(rem, 0);
  const gint64 t = 1732345678000; /* the entry's id time, ms */
  assert_true(
      apply(c, "1732345678000-0", "type", "clock", "state", "running", "remaining_ms", "60000"));
  assert_int_equal(sc_contest_clock(c, t * 1000, &rem), SC_CLOCK_RUNNING);
  assert_int_equal(rem, 60000);
  sc_contest_clock(c, (t + 1500) * 1000 + 999, &rem);
  assert_int_equal(rem, 58500);
  sc_contest_clock(c, (t + 70000) * 1000, &rem);
  assert_int_equal(rem, 0); /* floored */
  sc_contest_clock(c, (t - 5000) * 1000, &rem);
  assert_int_equal(rem, 60000); /* a node behind the entry never counts up */
  assert_true(
      apply(c, "1732345690000-0", "type", "clock", "state", "paused", "remaining_ms", "48000"));
  assert_int_equal(sc_contest_clock(c, (t + 100000) * 1000, &rem), SC_CLOCK_PAUSED);
  assert_int_equal(rem, 48000);
  assert_true(
      apply(c, "1732345690001-0", "type", "clock", "state", "stopped", "remaining_ms", "0"));
  assert_int_equal(sc_contest_clock(c, (t + 100000) * 1000, &rem), SC_CLOCK_STOPPED);
  assert_int_equal(rem, 0);
  /* The snapshot counts down against the wall clock. */
  gint64 now_ms = g_get_real_time() / 1000;
  char id[32];
  g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT "-0", now_ms - 10000);
  assert_true(apply(c, id, "type", "clock", "state", "running", "remaining_ms", "30000"));
  g_autofree char *s = sc_contest_snapshot_json(c, FALSE);
  JsonParser *p;
  JsonObject *o = parse_obj(s, &p);
  gint64 r = json_object_get_int_member(json_object_get_object_member(o, "clock"), "remaining_ms");
  assert_in_range(r, 19000, 20000);
  g_object_unref(p);
}

static void
test_announce_ttl(void **state)
{
  g_autoptr(ScContest) c = new_four();
  const gint64 t = 1732345678000;
  assert_null(sc_contest_announcement(c, t * 1000));
  assert_true(apply(c, "1732345678000-0", "type", "announce", "text", "午休", "ttl_ms", "3000"));
  assert_string_equal(sc_contest_announcement(c, t * 1000), "午休");
  assert_string_equal(sc_contest_announcement(c, (t + 2999) * 1000), "午休");
  assert_null(sc_contest_announcement(c, (t + 3000) * 1000));
  assert_true(apply(c, "1732345679000-0", "type", "announce", "text", "继续"));
  assert_string_equal(sc_contest_announcement(c, (t + 1000 + 7999) * 1000), "继续");
  assert_null(sc_contest_announcement(c, (t + 1000 + 8000) * 1000));
  /* Empty text takes the announcement down. */
  assert_true(apply(c, "1732345679001-0", "type", "announce", "text", ""));
  assert_null(sc_contest_announcement(c, (t + 1002) * 1000));
  /* Live in the snapshot while its ttl runs. */
  char id[32];
  g_snprintf(id, sizeof id, "%" G_GINT64_FORMAT "-0", g_get_real_time() / 1000);
  assert_true(apply(c, id, "type", "announce", "text", "欢迎"));
  g_autofree char *s = sc_contest_snapshot_json(c, FALSE);
  assert_non_null(strstr(s, "\"announce\":\"欢迎\"}"));
}

/* ---- roster ---- */

static void
test_open_roster(void **state)
{
  g_autoptr(ScContest) c = sc_contest_new("relay", NULL, NULL, 0);
  assert_int_equal(sc_contest_n_stations(c), 0);
  assert_true(apply(c, "1-0", "type", "score", "station", "B7", "total", "10"));
  assert_true(apply(c, "2-0", "type", "status", "station", "Z_9-x", "state", "working"));
  assert_false(apply(c, "3-0", "type", "score", "station", "bad id!", "total", "10"));
  assert_false(apply(c, "4-0", "type", "score", "station", "ABCDEFGHIJKLMNOPQ", "total", "10"));
  assert_true(apply(c, "5-0", "type", "competitor", "station", "C1", "name", "孙", "org", "o",
                    "trade", "t"));
  assert_int_equal(sc_contest_n_stations(c), 3);
  assert_string_equal(row_id(c, 0), "B7");
  assert_string_equal(row_id(c, 1), "Z_9-x"); /* first appearance order */
  assert_string_equal(row_id(c, 2), "C1");
  assert_null(sc_contest_row(c, 0)->name);
  g_autofree char *s = sc_contest_snapshot_json(c, FALSE);
  assert_non_null(strstr(s, "\"contest\":{\"id\":\"relay\",\"title\":null}"));
  assert_non_null(
      strstr(s, "{\"id\":\"B7\",\"name\":null,\"org\":null,\"trade\":null,\"score\":10,"));
}

static void
test_closed_roster_competitor(void **state)
{
  g_autoptr(ScContest) c = new_four();
  assert_false(apply(c, "1-0", "type", "score", "station", "A09", "total", "10"));
  assert_true(apply(c, "2-0", "type", "competitor", "station", "A09", "name", "周", "org", "o",
                    "trade", "t"));
  assert_true(apply(c, "3-0", "type", "score", "station", "A09", "total", "10"));
  assert_string_equal(row_id(c, 0), "A09");
  /* A competitor event renames a config station. */
  assert_true(apply(c, "4-0", "type", "competitor", "station", "A02", "name", "新名", "org", "新厂",
                    "trade", "钳工"));
  const ScStationRow *r = sc_contest_find(c, "A02");
  assert_string_equal(r->name, "新名");
  assert_string_equal(r->trade, "钳工");
  assert_null(sc_contest_find(c, "A10"));
}

static void
test_changed_at(void **state)
{
  g_autoptr(ScContest) c = new_four();
  const char *f1[] = { "type", "score", "station", "A01", "total", "10" };
  const char *f2[] = { "type", "score", "station", "A02", "total", "20" };
  assert_true(sc_contest_apply(c, "1-0", (char *const *)f1, 6, 111, NULL, NULL, NULL));
  assert_int_equal(sc_contest_find(c, "A01")->changed_at_us, 111);
  /* A02 overtakes A01: A01's rank moves, its own values do not. */
  assert_true(sc_contest_apply(c, "2-0", (char *const *)f2, 6, 222, NULL, NULL, NULL));
  assert_int_equal(sc_contest_find(c, "A02")->changed_at_us, 222);
  assert_int_equal(sc_contest_find(c, "A01")->changed_at_us, 111);
  assert_int_equal(sc_contest_find(c, "A01")->rank, 2);
  /* The same total again changes nothing visible. */
  assert_true(sc_contest_apply(c, "3-0", (char *const *)f1, 6, 333, NULL, NULL, NULL));
  assert_int_equal(sc_contest_find(c, "A01")->changed_at_us, 111);
}

/* ---- in-process follower ---- */

typedef struct {
  GPtrArray *ids;
  GPtrArray *deltas;
  int up;
} Seen;

static void
on_applied(const char *id, const char *delta, const char *event, gpointer data)
{
  Seen *s = data;
  g_ptr_array_add(s->ids, g_strdup(id));
  g_ptr_array_add(s->deltas, g_strdup(delta));
  assert_non_null(strstr(event, id));
}

static void
on_redis(gboolean up, gpointer data)
{
  ((Seen *)data)->up = up;
}

static void
test_in_process(void **state)
{
  ScConfig cfg = { 0 };
  cfg.contest.id = "demo";
  cfg.contest.title = "演示";
  cfg.stations = four;
  cfg.n_stations = 4;
  Seen seen
      = { g_ptr_array_new_with_free_func(g_free), g_ptr_array_new_with_free_func(g_free), -1 };
  ScScoreboardCallbacks cb = { on_applied, on_redis, &seen };
  g_autoptr(ScScoreboard) sb = sc_scoreboard_new(&cfg, &cb);
  sc_scoreboard_start(sb);
  assert_true(sc_scoreboard_redis_up(sb));
  for (int i = 0; i < 50; i++) {
    char total[16];
    g_snprintf(total, sizeof total, "%d", i);
    const char *f[] = { "type", "score", "station", "A03", "total", total };
    assert_true(sc_scoreboard_append(sb, (char *const *)f, 6, NULL));
  }
  GError *err = NULL;
  const char *bad[] = { "type", "score", "station", "A99", "total", "1" };
  assert_false(sc_scoreboard_append(sb, (char *const *)bad, 6, &err));
  assert_true(g_error_matches(err, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REJECTED));
  g_clear_error(&err);
  assert_int_equal(seen.ids->len, 50);
  /* Ids look like Redis's and strictly increase. */
  for (guint i = 1; i < seen.ids->len; i++) {
    const char *a = seen.ids->pdata[i - 1], *b = seen.ids->pdata[i];
    guint64 am = g_ascii_strtoull(a, NULL, 10), bm = g_ascii_strtoull(b, NULL, 10);
    guint64 as = g_ascii_strtoull(strchr(a, '-') + 1, NULL, 10),
            bs = g_ascii_strtoull(strchr(b, '-') + 1, NULL, 10);
    assert_true(bm > am || (bm == am && bs > as));
  }
  ScContest *c = sc_scoreboard_contest(sb);
  assert_true(sc_contest_find(c, "A03")->total == 49);
  GString *m = g_string_new(NULL);
  sc_scoreboard_metrics(sb, m);
  assert_non_null(
      strstr(m->str,
             "# TYPE skillcast_events_applied_total counter\nskillcast_events_applied_total 50\n"));
  assert_non_null(strstr(
      m->str,
      "# TYPE skillcast_events_rejected_total counter\nskillcast_events_rejected_total 1\n"));
  assert_non_null(strstr(m->str, "# TYPE skillcast_redis_up gauge\nskillcast_redis_up 1\n"));
  assert_non_null(strstr(m->str, "# HELP skillcast_redis_up "));
  g_string_free(m, TRUE);
  /* publish without redis is an error, not a crash */
  assert_null(sc_scoreboard_publish(&cfg, (char *const *)bad, 6, &err));
  assert_true(g_error_matches(err, SC_SCOREBOARD_ERROR, SC_SCOREBOARD_ERROR_REDIS));
  g_clear_error(&err);
  g_ptr_array_unref(seen.ids);
  g_ptr_array_unref(seen.deltas);
}

int
main(void)
{
  gst_init(NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ranks_with_ties),
    cmocka_unit_test(test_penalties),
    cmocka_unit_test(test_unscored_then_disqualified),
    cmocka_unit_test(test_malformed_rejected),
    cmocka_unit_test(test_old_and_bad_ids),
    cmocka_unit_test(test_replay_identical),
    cmocka_unit_test(test_snapshot_json),
    cmocka_unit_test(test_delta_and_event_json),
    cmocka_unit_test(test_messages_since),
    cmocka_unit_test(test_clock_countdown),
    cmocka_unit_test(test_announce_ttl),
    cmocka_unit_test(test_open_roster),
    cmocka_unit_test(test_closed_roster_competitor),
    cmocka_unit_test(test_changed_at),
    cmocka_unit_test(test_in_process),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
