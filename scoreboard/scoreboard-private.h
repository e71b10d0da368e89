/* scoreboard — what contest.c (the fold) and follower.c (the Redis
 * follower) share. Not part of the public interface. */
#pragma once

#include <gst/gst.h>
#include "scoreboard/scoreboard.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN(sc_scoreboard_debug);
#define GST_CAT_DEFAULT sc_scoreboard_debug

/* Registers the sc-scoreboard debug category (once). */
void sc_scoreboard_debug_init(void);

/* Applied entries kept for sc_contest_messages_since (each one yields a
 * delta and an event message). */
#define SC_CONTEST_HISTORY 10000

/* Counts and logs an entry the follower could not even hand to
 * sc_contest_apply (e.g. a value with a NUL byte in it), and remembers
 * its id as read, exactly as a rejection inside sc_contest_apply would. */
void sc_contest_reject_entry(ScContest *contest, const char *entry_id, const char *reason);

/* A stream entry id "MS-SEQ". */
typedef struct {
  guint64 ms;
  guint64 seq;
} ScEntryId;

gboolean sc_entry_id_parse(const char *s, ScEntryId *out);
int sc_entry_id_cmp(const ScEntryId *a, const ScEntryId *b);

G_END_DECLS
