/* ingest-srt — SRT listener stations: one libsrt listener per UDP port,
 * shared by the stations that name the port and told apart by the
 * caller's streamid (private to ingest/).
 *
 * Every SRT listener station registers its port here when it is created,
 * so two stations on one port without distinct streamids are refused at
 * sc_ingest_new(). The port's listener opens when the first of its
 * stations starts and closes when the last one stops. Its thread accepts
 * callers, picks the station by streamid in libsrt's listen callback
 * (setting that station's passphrase on the socket there), and pushes the
 * bytes it receives into the station's current appsrc. A station without
 * streamid has its port to itself and takes a caller with any streamid.
 *
 * Threads: register, unregister, attach, detach and stop on the main loop.
 * The reject callback runs on libsrt's or the listener's thread.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct ScSrtStation ScSrtStation;

/* A caller for this station (or an unknown one on its port) was refused.
 * MSG says who and why. Called with the port's lock held: the callee may
 * take its own station lock, and must not call back into ingest-srt. */
typedef void (*ScSrtRejectFunc) (const char *msg, gpointer user_data);

/* Registers station STATION_ID listening on HOST (NULL/"": any):PORT with
 * STREAMID (NULL: the port is its own) and PASSPHRASE (NULL: unencrypted
 * callers only). LATENCY_MS < 0: libsrt's default. Fails (SC_INGEST_ERROR)
 * when the port is taken by a station without streamid, the streamid is
 * already used on it, or the stations disagree on the bind address. */
ScSrtStation *sc_srt_station_register (const char *station_id, const char *host, int port,
                                       const char *streamid, const char *passphrase, int latency_ms,
                                       ScSrtRejectFunc on_reject, gpointer user_data,
                                       GError **error);
void sc_srt_station_unregister (ScSrtStation *st);

/* The station (re)built its pipeline: bytes from its caller go to APPSRC
 * from now on. The first attach after a start opens the port's listener
 * when it is not open yet; FALSE + ERROR when it cannot (port in use). */
gboolean sc_srt_station_attach (ScSrtStation *st, GstElement *appsrc, GError **error);
/* The pipeline is being torn down: bytes are dropped until the next attach
 * (the caller stays connected). */
void sc_srt_station_detach (ScSrtStation *st);
/* The station stopped: its caller is disconnected; the last station of
 * the port to stop closes the listener. */
void sc_srt_station_stop (ScSrtStation *st);

G_END_DECLS
