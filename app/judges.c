/* The demo's simulated judges' panel.
 *
 * It plays the scoring system of a 数控车工 final: introduces the
 * competitors, starts the 90-minute clock, then every few seconds a judge
 * scores a station on one item, now and then a penalty, a pause, an
 * announcement. Events go through the contest's stream like the real
 * system's (sc_scoreboard_append), so the demo exercises the same path. */
#include "app/app.h"

#include <string.h>

#define DEMO_CONTEST_MS (90 * 60 * 1000)

static const char *items[]
  = { "尺寸精度", "表面粗糙度", "形位公差", "工艺规范", "螺纹配合", "安全文明生产" };
static const char *penalty_reasons[]
  = { "未佩戴防护眼镜", "刀具摆放不规范", "超时操作", "量具使用不当" };
static const char *announcements[]
  = { "欢迎收看技能天下 · 数控车工决赛", "第一阶段评分进行中，请选手注意加工精度",
      "距比赛结束还有一段时间，请合理安排工序", "裁判组正在复核尺寸精度得分" };

struct ScJudges {
  ScNode *node;
  GRand *rand;
  guint timer;
  guint n_stations;
  double *totals;
  gboolean *paused;
  gint64 started_us;
  guint step;
};

static gboolean
append (ScJudges *j, char **fields, guint n)
{
  g_autoptr (GError) error = NULL;
  if (sc_scoreboard_append (sc_node_scoreboard (j->node), fields, n, &error))
    return TRUE;
  GST_INFO ("judges: event not written (%s); the panel goes on", error->message);
  return FALSE;
}

static void
clock_event (ScJudges *j)
{
  gint64 elapsed = (g_get_monotonic_time () - j->started_us) / 1000;
  gint64 left = MAX (0, DEMO_CONTEST_MS - elapsed);
  g_autofree char *ms = g_strdup_printf ("%" G_GINT64_FORMAT, left);
  char *f[] = { "type", "clock", "state", left > 0 ? "running" : "stopped", "remaining_ms", ms };
  append (j, f, G_N_ELEMENTS (f));
}

/* The opening events; FALSE (nothing written) while the stream cannot be
 * written yet, so the caller tries again. */
static gboolean
opening (ScJudges *j)
{
  const ScConfig *c = sc_node_config (j->node);
  for (guint i = 0; i < j->n_stations; i++) {
    const ScStationConfig *s = &c->stations[i];
    char *f[] = { "type", "competitor", "station", s->id, "name", s->name ? s->name : s->id,
                  "org", s->org ? s->org : "", "trade", s->trade ? s->trade : "" };
    if (!append (j, f, G_N_ELEMENTS (f)) && i == 0)
      return FALSE;
    char *st[] = { "type", "status", "station", s->id, "state", "working" };
    append (j, st, G_N_ELEMENTS (st));
  }
  clock_event (j);
  char *a[] = { "type", "announce", "text", "决赛开始！Final starts", "ttl_ms", "8000" };
  append (j, a, G_N_ELEMENTS (a));
  return TRUE;
}

static gboolean
tick (gpointer user_data)
{
  ScJudges *j = user_data;
  const ScConfig *c = sc_node_config (j->node);
  guint i = g_rand_int_range (j->rand, 0, j->n_stations);
  const char *station = c->stations[i].id;
  int roll = g_rand_int_range (j->rand, 0, 100);
  j->step++;

  if (j->step % 20 == 0) {
    clock_event (j);
  } else if (j->paused[i] || roll < 8) {
    j->paused[i] = !j->paused[i];
    char *f[] = { "type", "status", "station", (char *) station, "state",
                  j->paused[i] ? "paused" : "working" };
    append (j, f, G_N_ELEMENTS (f));
  } else if (roll < 20) {
    static const char *points[] = { "0.5", "1", "2" };
    char *f[] = { "type", "penalty", "station", (char *) station, "points",
                  (char *) points[g_rand_int_range (j->rand, 0, 3)], "reason",
                  (char *) penalty_reasons[g_rand_int_range (j->rand, 0,
                                                             G_N_ELEMENTS (penalty_reasons))] };
    append (j, f, G_N_ELEMENTS (f));
  } else if (roll < 27) {
    char *f[] = { "type", "announce", "text",
                  (char *) announcements[g_rand_int_range (j->rand, 0,
                                                           G_N_ELEMENTS (announcements))],
                  "ttl_ms", "6000" };
    append (j, f, G_N_ELEMENTS (f));
  } else {
    j->totals[i] = MIN (100.0, j->totals[i] + g_rand_double_range (j->rand, 1.5, 6.5));
    /* Judges score to one decimal. */
    j->totals[i] = ((int) (j->totals[i] * 10)) / 10.0;
    char total[32], judge[8];
    g_ascii_formatd (total, sizeof total, "%.1f", j->totals[i]);
    g_snprintf (judge, sizeof judge, "J%d", g_rand_int_range (j->rand, 1, 4));
    const char *item = items[g_rand_int_range (j->rand, 0, G_N_ELEMENTS (items))];
    g_autofree char *detail = g_strdup_printf ("{\"item\":\"%s\",\"judge\":\"%s\"}", item, judge);
    char *f[] = { "type", "score", "station", (char *) station, "total", total,
                  "item", (char *) item, "judge", judge, "detail", detail };
    append (j, f, G_N_ELEMENTS (f));
  }

  /* A contest-like pace: an event every 1.5–4 s. */
  j->timer = g_timeout_add (g_rand_int_range (j->rand, 1500, 4000), tick, j);
  return G_SOURCE_REMOVE;
}

static gboolean
first_tick (gpointer user_data)
{
  ScJudges *j = user_data;
  if (!sc_scoreboard_redis_up (sc_node_scoreboard (j->node)) || !opening (j)) {
    j->timer = g_timeout_add (200, first_tick, j); /* not connected yet */
    return G_SOURCE_REMOVE;
  }
  j->timer = g_timeout_add (1000, tick, j);
  return G_SOURCE_REMOVE;
}

ScJudges *
sc_judges_start (ScNode *node, guint32 seed)
{
  ScJudges *j = g_new0 (ScJudges, 1);
  j->node = node;
  j->rand = g_rand_new_with_seed (seed);
  j->n_stations = sc_node_config (node)->n_stations;
  j->totals = g_new0 (double, MAX (1, j->n_stations));
  j->paused = g_new0 (gboolean, MAX (1, j->n_stations));
  j->started_us = g_get_monotonic_time ();
  if (j->n_stations > 0)
    /* Give the follower a moment to connect before the opening events. */
    j->timer = g_timeout_add (500, first_tick, j);
  return j;
}

void
sc_judges_stop (ScJudges *j)
{
  if (j->timer)
    g_source_remove (j->timer);
  g_rand_free (j->rand);
  g_free (j->totals);
  g_free (j->paused);
  g_free (j);
}
