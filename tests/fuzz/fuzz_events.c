/* Fuzz target: the Redis event fold. The input is a stream: entries split by
 * '\n', fields by '\t' (name, value, name, value...). Every entry is applied
 * with an increasing id; then snapshot and resume JSON are produced. The
 * fold must never crash, and a rejected entry must leave the state as it
 * was (checked through the snapshot). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "scoreboard/scoreboard.h"

/* The snapshot's running clock counts down with the wall clock: blank
 * its remaining_ms so two snapshots taken a millisecond apart compare
 * equal when the state did not change. */
static void
blank_remaining (char *json)
{
  static const char key[] = "\"remaining_ms\":";
  for (char *p = strstr (json, key); p; p = strstr (p, key)) {
    p += sizeof key - 1;
    char *q = p;
    while (*q == '-' || (*q >= '0' && *q <= '9'))
      q++;
    memmove (p, q, strlen (q) + 1); /* drop the number (its length may differ too) */
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const ScStationConfig stations[] = {
    { .id = "A01", .name = "张伟" }, { .id = "A02" }, { .id = "A03" },
  };
  ScContest *c = sc_contest_new ("fuzz", "fuzz", stations, size % 3 ? 3 : 0);
  char *text = g_strndup ((const char *) data, size);
  char **entries = g_strsplit (text, "\n", 200);
  for (guint e = 0; entries[e]; e++) {
    char **fields = g_strsplit (entries[e], "\t", 64);
    char id[32];
    g_snprintf (id, sizeof id, "%u-%u", 1000 + e, e % 3);
    char *before = sc_contest_snapshot_json (c, TRUE);
    char *delta = NULL, *event = NULL;
    GError *error = NULL;
    if (!sc_contest_apply (c, id, fields, g_strv_length (fields), 1, &delta, &event, &error)) {
      char *after = sc_contest_snapshot_json (c, TRUE);
      blank_remaining (before);
      blank_remaining (after);
      g_assert (strcmp (before, after) == 0); /* rejected: state unchanged */
      g_free (after);
      g_clear_error (&error);
    } else {
      /* What goes to every viewer is UTF-8, whatever came in. */
      g_assert (delta == NULL || g_utf8_validate (delta, -1, NULL));
      g_assert (event == NULL || g_utf8_validate (event, -1, NULL));
    }
    g_free (before);
    g_free (delta);
    g_free (event);
    g_strfreev (fields);
  }
  GPtrArray *since = sc_contest_messages_since (c, "1000-0", TRUE);
  if (since)
    g_ptr_array_unref (since);
  g_strfreev (entries);
  g_free (text);
  sc_contest_free (c);
  return 0;
}
