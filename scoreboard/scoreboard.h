/* scoreboard — the contest state, folded from the Redis Stream of score
 * events (CONTRACTS.md §3), and the snapshot/delta JSON of CONTRACTS.md §4.
 *
 * Two layers:
 *  - ScContest: a pure fold. Entries in, state out. No I/O, no clock
 *    reads except where a `now` is passed in. server/, overlay/ and relay
 *    nodes all use this one implementation, so every node that reads the
 *    same stream holds the same state and produces the same JSON.
 *  - ScScoreboard: the follower. Owns a ScContest, reads the stream with
 *    hiredis async on the GLib main loop (fold from 0-0, then XREAD BLOCK
 *    from the last applied id, reconnecting with backoff), and tells its
 *    owner about every applied entry through callbacks.
 *
 * Threads: everything here runs on the main loop only.
 */
#pragma once

#include <glib.h>
#include "config/config.h"

G_BEGIN_DECLS

#define SC_SCOREBOARD_ERROR (sc_scoreboard_error_quark ())
GQuark sc_scoreboard_error_quark (void);

typedef enum {
  SC_SCOREBOARD_ERROR_REJECTED, /* a malformed entry; message says why */
  SC_SCOREBOARD_ERROR_REDIS,    /* Redis unreachable or answered an error */
} ScScoreboardErrorCode;

/* Largest field value accepted in an entry (bytes). */
#define SC_EVENT_FIELD_MAX 4096
/* Events kept for /commentary snapshots. */
#define SC_EVENT_LOG_SIZE 200

typedef enum {
  SC_STATION_READY,
  SC_STATION_WORKING,
  SC_STATION_FINISHED,
  SC_STATION_PAUSED,
  SC_STATION_DISQUALIFIED,
} ScStationState;

typedef enum {
  SC_CLOCK_STOPPED,
  SC_CLOCK_RUNNING,
  SC_CLOCK_PAUSED,
} ScClockState;

/* One station as the scoreboard sees it. Read-only for callers; valid until
 * the next sc_contest_apply() on the same contest. */
typedef struct {
  const char *id;
  const char *name;
  const char *org;
  const char *trade;
  gboolean has_total;
  double total;     /* latest `total` from the judges */
  double penalties; /* sum of penalty points */
  double score;     /* total - penalties; meaningful only if has_total */
  ScStationState state;
  int rank;  /* 1-based, shared on ties; 0 = null (no score / disqualified) */
  gint64 changed_at_us; /* wall-clock time (us) of the last change to this row, for highlights */
} ScStationRow;

typedef struct ScContest ScContest;

/* A new, empty contest. STATIONS seeds the roster with ids, names, orgs and
 * trades from the config; `competitor` events add to it, and an event for a
 * station in neither is rejected ("unknown station"). With N_STATIONS == 0
 * (a relay node whose config has no stations) the roster is open: any
 * well-formed station id is accepted. */
ScContest *sc_contest_new (const char *contest_id, const char *title,
                           const ScStationConfig *stations, guint n_stations);
void sc_contest_free (ScContest *contest);

/* Applies one stream entry. FIELDS is the entry's field/value list as Redis
 * returns it: names at even indexes, values at odd ones, N_FIELDS strings.
 * NOW_US is wall-clock time (g_get_real_time()), used only to stamp row
 * changes for highlights: the clock and announcement ttl are computed from
 * the entry id's millisecond time, so every node (and a restarted one)
 * folds the same stream to the same state.
 *
 * On success returns TRUE and, if the out pointers are non-NULL, sets
 * *DELTA_JSON to the `/scores` delta message and *EVENT_JSON to the
 * `/commentary` event message (caller frees both).
 * On a malformed entry returns FALSE, sets ERROR (SC_SCOREBOARD_ERROR_REJECTED,
 * message names the entry id and what is wrong) and leaves the state
 * unchanged. The id is remembered as read either way, so an entry is never
 * applied twice: an id not greater than the last one read is rejected. */
gboolean sc_contest_apply (ScContest *contest, const char *entry_id, char *const *fields,
                           guint n_fields, gint64 now_us, char **delta_json, char **event_json,
                           GError **error);

/* Id of the last entry read (applied or rejected); "0-0" before any. */
const char *sc_contest_last_id (const ScContest *contest);

/* The snapshot message of CONTRACTS.md §4. WITH_EVENTS adds the last 200
 * events (for /commentary). Caller frees. */
char *sc_contest_snapshot_json (const ScContest *contest, gboolean with_events);

/* Deltas after SINCE_ID, as an array of messages the caller frees with
 * g_ptr_array_unref(), oldest first; NULL when SINCE_ID is older than the
 * history kept (send a fresh snapshot then). An empty array means the
 * client is up to date. WITH_EVENTS interleaves the event messages. */
GPtrArray *sc_contest_messages_since (const ScContest *contest, const char *since_id,
                                      gboolean with_events);

/* Stations in rank order (the order of `stations` lists). */
guint sc_contest_n_stations (const ScContest *contest);
const ScStationRow *sc_contest_row (const ScContest *contest, guint index);
const ScStationRow *sc_contest_find (const ScContest *contest, const char *station_id);

const char *sc_contest_title (const ScContest *contest);

/* Contest clock at NOW_US (wall clock, g_get_real_time()), counting down
 * from the last clock event's remaining_ms since that entry's id time. */
ScClockState sc_contest_clock (const ScContest *contest, gint64 now_us, gint64 *remaining_ms);

/* Current announcement text, or NULL if none or its ttl (counted from the
 * entry id's time) has passed at NOW_US (wall clock). */
const char *sc_contest_announcement (const ScContest *contest, gint64 now_us);

/* Counters since creation. */
guint64 sc_contest_applied_count (const ScContest *contest);
guint64 sc_contest_rejected_count (const ScContest *contest);

const char *sc_station_state_to_string (ScStationState state);
const char *sc_clock_state_to_string (ScClockState state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScContest, sc_contest_free)

/* ---- The follower ---- */

typedef struct ScScoreboard ScScoreboard;

typedef struct {
  /* An entry was applied. The JSON strings are owned by the scoreboard and
   * valid for the duration of the call. */
  void (*applied) (const char *entry_id, const char *delta_json, const char *event_json,
                   gpointer user_data);
  /* Redis became reachable (UP = TRUE) or was lost. */
  void (*redis_state) (gboolean up, gpointer user_data);
  gpointer user_data;
} ScScoreboardCallbacks;

/* Creates the follower for CONFIG's contest and redis sections. Nothing
 * happens until sc_scoreboard_start(). CALLBACKS is copied.
 * If config->redis.url is NULL the scoreboard runs in-process (the demo's
 * fallback when redis-server is missing): sc_scoreboard_append() applies
 * entries directly with ids made from the wall clock, as Redis would. */
ScScoreboard *sc_scoreboard_new (const ScConfig *config, const ScScoreboardCallbacks *callbacks);
void sc_scoreboard_free (ScScoreboard *scoreboard);

/* Connects and starts folding from 0-0 on the thread-default main context.
 * Connection failures are not errors here: it retries with backoff
 * (200 ms doubling to 2 s) and reports through redis_state. */
void sc_scoreboard_start (ScScoreboard *scoreboard);

/* The contest state it maintains (owned by the scoreboard). */
ScContest *sc_scoreboard_contest (ScScoreboard *scoreboard);
gboolean sc_scoreboard_redis_up (ScScoreboard *scoreboard);

/* Appends one entry to the contest's stream from the main loop without
 * blocking (async XADD on the follower's connection, or applied directly in
 * in-process mode). The entry comes back through the follower like any
 * other, so every node sees it. Used for operator announcements and the
 * demo's judges. Returns FALSE (with ERROR) if Redis is not connected. */
gboolean sc_scoreboard_append (ScScoreboard *scoreboard, char *const *fields, guint n_fields,
                               GError **error);

/* Appends skillcast_events_applied_total, skillcast_events_rejected_total
 * and skillcast_redis_up in Prometheus text format. */
void sc_scoreboard_metrics (ScScoreboard *scoreboard, GString *out);

/* ---- Publishing (the `skillcast score` command and the demo judges) ---- */

/* XADDs one entry to CONFIG's stream, synchronously (a short-lived blocking
 * connection; not for the main loop of a running node). FIELDS as in
 * sc_contest_apply. On success returns the new entry id (caller frees). */
char *sc_scoreboard_publish (const ScConfig *config, char *const *fields, guint n_fields,
                             GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScScoreboard, sc_scoreboard_free)

G_END_DECLS
