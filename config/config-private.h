/* config — what the loader (config.c) and the rest of the module
 * (config-describe.c) share. Not part of the public interface. */
#pragma once

#include "config/config.h"

G_BEGIN_DECLS

#define SC_CONFIG_DEFAULT_WIDTH 1280
#define SC_CONFIG_DEFAULT_HEIGHT 720
#define SC_CONFIG_DEFAULT_FPS 30
#define SC_CONFIG_DEFAULT_VIDEO_BITRATE_KBPS 3500
#define SC_CONFIG_DEFAULT_VIDEO_PRESET "veryfast"
#define SC_CONFIG_DEFAULT_KEYINT_S 2
#define SC_CONFIG_DEFAULT_AUDIO_BITRATE_KBPS 128
#define SC_CONFIG_DEFAULT_DIRECTOR_HOLD_S 8
#define SC_CONFIG_DEFAULT_FONT "Noto Sans CJK SC"
#define SC_CONFIG_DEFAULT_SCOREBOARD_TOP 5
#define SC_CONFIG_DEFAULT_LISTEN_HOST "127.0.0.1"
#define SC_CONFIG_DEFAULT_LISTEN_PORT 8080
#define SC_CONFIG_DEFAULT_MAX_CLIENTS 50000
#define SC_CONFIG_DEFAULT_SEGMENT_S 2
#define SC_CONFIG_DEFAULT_SPLIT_MIN 30
#define SC_CONFIG_DEFAULT_REDIS_PORT 6379

/* A fresh ScConfig with every default filled in (program, overlay, server
 * with its web_dir) and nothing else: no contest, redis, stations or
 * outputs. PATH is copied. */
ScConfig *sc_config_alloc(const char *path);

/* Frees what a station or output holds and zeroes it. */
void sc_config_station_clear(ScStationConfig *station);
void sc_config_output_clear(ScOutputConfig *output);

/* URL with any literal password in it masked ("redis://:***@host"), for
 * printing. References written as ${NAME} are left as they are: they are
 * not the secret itself. Caller frees. */
char *sc_config_mask_url(const char *url);

G_END_DECLS
