/* Small helpers for the ingest tests: drive the default main context while
 * waiting, and build a station config from a URL. */
#pragma once

#include "tests/lib/testlib.h"
#include "ingest/ingest.h"

typedef struct {
  ScStationConfig config;
  ScIngest *ingest;
  guint changes; /* state_changed calls */
  ScIngestState last_state;
} StationUnderTest;

/* Creates (not starts) a station for URL with program FPS; NULL + ERROR on
 * a bad URL. */
gboolean sut_new (StationUnderTest *s, const char *id, const char *url, int fps, GError **error);
/* The same for an audio-only feed (sc_ingest_new_audio). */
gboolean sut_new_audio (StationUnderTest *s, const char *id, const char *url, GError **error);
void sut_free (StationUnderTest *s);
/* Pulls N_FRAMES of audio; returns the peak sample, *GOT the frames that
 * came from the feed. */
int audio_peak (StationUnderTest *s, guint n_frames, guint *got);

/* Iterates the default main context for MS milliseconds. */
void spin_ms (int ms);
/* Iterates until the station is in STATE or TIMEOUT_MS passes; returns
 * the milliseconds it took, or -1 on timeout. */
int wait_state (StationUnderTest *s, ScIngestState state, int timeout_ms);
/* Iterates until pull_video gives a frame of W x H (or TIMEOUT_MS). */
gboolean wait_tile (StationUnderTest *s, int w, int h, int timeout_ms);

/* Starts ffmpeg pushing a live test feed (testsrc2 at SIZE, 30 fps, H.264
 * ultrafast with a keyframe every 0.5 s, plus a 440 Hz AAC tone) to URL in
 * FORMAT ("mpegts", "flv"). EXTRA: more output options before the URL
 * (NULL-terminated, may be NULL). Log appended to LOG. Returns the pid. */
GPid push_feed (const char *size, const char *format, const char *url, const char *const *extra,
                const char *log);
/* Starts any pusher command (ARGV, NULL-terminated); stopped like a feed. */
GPid push_argv (const char *const *argv, const char *log);
/* Kills a pusher (SIGKILL) and reaps it. */
void stop_feed (GPid pid);
/* Kills every pusher still running: a cmocka teardown, so a failed
 * assertion never leaves an ffmpeg behind. */
int stop_all_feeds (void **state);

/* The test binary's temp dir: logs of pushers go there. ingest_tmpdir_setup
 * and ingest_tmpdir_teardown are cmocka group setup/teardown. */
extern char *ingest_tmpdir;
int ingest_tmpdir_setup (void **state);
int ingest_tmpdir_teardown (void **state);
/* Path of NAME in the temp dir (caller frees). */
char *logpath (const char *name);
/* Prints the log NAME from the temp dir, if it has anything. */
void dump_log (const char *name);
