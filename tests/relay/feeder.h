/* feeder — a stand-in for the mixer in relay tests: a live x264 + AAC
 * encode whose packets are pushed into an ScRelay from the encoders'
 * streaming threads, exactly as the mixer's ScProgramSink would, with the
 * time every sc_relay_push took measured. Also small helpers to run the
 * main loop while waiting and to run tools (ffprobe) without stopping it. */
#pragma once

#include <glib.h>
#include "relay/relay.h"

typedef struct RelayFeeder RelayFeeder;

/* Starts encoding WIDTHxHEIGHT at 30 fps (keyframe every 2 s: x264enc
 * key-int-max=60) and pushing
 * into RELAY. The caps are set on RELAY as soon as both encoders
 * negotiated. */
RelayFeeder *feeder_start (ScRelay *relay, int width, int height);
/* RAW_TIMES: push the encoders' buffer times as they are (x264enc's are
 * 1000 h ahead of the AAC encoder's) instead of running times. */
RelayFeeder *feeder_start_full (ScRelay *relay, int width, int height, int fps, gboolean raw_times);
void feeder_stop (RelayFeeder *f);
/* TRUE once the caps were set on the relay. */
gboolean feeder_wait_caps (RelayFeeder *f, int timeout_ms);
guint64 feeder_pushes (RelayFeeder *f);
/* sc_relay_push calls that took over 100 ms (on a loaded machine a
 * thread can be descheduled that long anywhere; a push that waited on
 * the network would show up here by the hundred). */
guint64 feeder_slow_pushes (RelayFeeder *f);
/* Longest single sc_relay_push call so far, in microseconds. */
gint64 feeder_max_push_us (RelayFeeder *f);

/* Iterates the thread-default main context for MS milliseconds. */
void loop_for (int ms);
/* Iterates it until COND (polled every 50 ms) or TIMEOUT_MS; returns COND. */
gboolean loop_until (gboolean (*cond) (gpointer), gpointer data, int timeout_ms);
/* Runs ARGV while iterating the main context; stdout/stderr captured
 * (either may be NULL). Returns the exit status, -1 on timeout. */
int run_looping (const char *const *argv, int timeout_ms, char **out, char **err);

/* Fields of OUTPUT_ID in sc_relay_outputs_json (strings: caller frees;
 * NULL / -1 when there is no such output). */
char *output_state (ScRelay *relay, const char *id);
gint64 output_bytes_of (ScRelay *relay, const char *id);
gint64 output_reconnects_of (ScRelay *relay, const char *id);
char *output_last_error (ScRelay *relay, const char *id);

/* An ScConfig with just OUTPUTS (copied; N of them), freed with config_free. */
ScConfig *config_with_outputs (const ScOutputConfig *outputs, guint n);
void config_free (ScConfig *c);

/* ffprobe -show_streams of URL: TRUE if it has h264 and aac; *WIDTH/HEIGHT
 * of the video (may be NULL). */
gboolean probe_h264_aac (const char *url, int *width, int *height, char **report);
