/* relay-upload — HLS origin upload (private to relay/).
 *
 * One ScUploader per relay owns a libcurl multi handle driven from the
 * relay's GMainContext (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION become
 * GLib fd and timeout sources; curl_multi_socket_action does the work), so
 * no request ever blocks the main loop.
 *
 * Each hls output has one ScUploadQueue. It sends one request at a time, in
 * this order of priority: segment PUTs (oldest first), then the newest
 * playlist PUT, then DELETEs of segments that left the playlist. So an
 * origin never gets a playlist before the segments it names, and never
 * loses a segment a player may still fetch.
 *
 * Memory stays bounded when the origin is down or hangs: a segment PUT that
 * is no longer in the live playlist is dropped (no player can ask for it),
 * only the newest playlist is kept, and the DELETE list is capped.
 * Every request has a 10 s timeout; a failed one is retried with backoff
 * (0.5 s, 1 s, 2 s) and then given up (counted).
 *
 * Main loop only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct ScUploader ScUploader;
typedef struct ScUploadQueue ScUploadQueue;

ScUploader *sc_uploader_new (GMainContext *context);
/* Aborts whatever is in flight. Free every queue first. */
void sc_uploader_free (ScUploader *uploader);

/* A queue uploading to BASE_URL (the `upload` prefix, ending in '/'
 * unless the caller wants the names glued on). LABEL names it in logs. */
ScUploadQueue *sc_upload_queue_new (ScUploader *uploader, const char *base_url, const char *label);
void sc_upload_queue_free (ScUploadQueue *queue);

/* A segment was finished: PUT SEGMENT (named NAME) and then PLAYLIST.
 * LIVE is the NULL-terminated list of segment names the playlist now
 * holds: pending segment PUTs not in it are dropped, and segments that
 * were uploaded but are no longer in it are DELETEd (after the playlist).
 * SEGMENT may be NULL to only update the playlist (e.g. #EXT-X-ENDLIST). */
void sc_upload_queue_publish (ScUploadQueue *queue, const char *name, GBytes *segment,
                              GBytes *playlist, const char *const *live);

/* Requests queued or in flight. */
guint sc_upload_queue_pending (ScUploadQueue *queue);

typedef struct {
  guint64 put_ok;    /* successful PUTs (segments + playlists) */
  guint64 delete_ok; /* successful DELETEs */
  guint64 failures;  /* failed attempts (each retry counts) */
  guint64 given_up;  /* requests dropped after their last retry */
  guint64 dropped;   /* segment PUTs dropped because they left the live window */
  guint64 bytes;     /* bytes uploaded */
} ScUploadStats;

void sc_upload_queue_stats (ScUploadQueue *queue, ScUploadStats *stats);

G_END_DECLS
