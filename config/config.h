/* config — the contest YAML (CONTRACTS.md §2) as a typed, validated ScConfig.
 *
 * Read once at start-up by app/, then only read by every other module: no
 * module writes a config after sc_config_load() returns. Strings are owned
 * by the ScConfig and live as long as it does.
 *
 * Secrets written as ${ENV_NAME} are resolved at load time; the resolved
 * value is in the field itself, and the text as written (with ${...}) is kept
 * in the matching *_redacted field for printing and logging.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SC_CONFIG_ERROR (sc_config_error_quark ())
GQuark sc_config_error_quark (void);

typedef enum {
  SC_CONFIG_ERROR_IO,      /* file cannot be read */
  SC_CONFIG_ERROR_SYNTAX,  /* not YAML */
  SC_CONFIG_ERROR_INVALID, /* YAML, but not a valid skillcast config */
} ScConfigErrorCode;

typedef enum {
  SC_SOURCE_SRT,
  SC_SOURCE_RTMP,
  SC_SOURCE_RTSP,
  SC_SOURCE_UDP,
  SC_SOURCE_FILE,
  SC_SOURCE_V4L2,
  SC_SOURCE_TEST,
} ScSourceKind;

typedef enum {
  SC_LAYOUT_GRID,
  SC_LAYOUT_FOCUS,
  SC_LAYOUT_PIP,
  SC_LAYOUT_SBS,
  SC_LAYOUT_SINGLE,
} ScLayout;

typedef enum {
  SC_OUTPUT_RTMP,
  SC_OUTPUT_SRT,
  SC_OUTPUT_HLS,
  SC_OUTPUT_RECORD,
} ScOutputKind;

typedef struct {
  char *id;    /* [A-Za-z0-9_-]{1,16}, unique */
  char *name;  /* may be NULL: the roster may come from `competitor` events */
  char *org;
  char *trade;
  char *source;          /* resolved URL (secrets substituted) */
  char *source_redacted; /* as written, for printing */
  ScSourceKind kind;
} ScStationConfig;

/* The id of the program's commentary feed: program.audio.commentary. */
#define SC_CONFIG_COMMENTARY_ID "commentary"

typedef struct {
  int width, height, fps;
  ScLayout layout;
  char *focus; /* station id for focus/pip/single, NULL = first station */
  int video_bitrate_kbps;
  char *video_preset; /* x264 speed preset name */
  int keyint_s;
  int audio_bitrate_kbps;
  /* program.audio.commentary: an optional audio-only feed (a commentator's
   * microphone, a source URL as for stations) mixed into the program at
   * its own gain and never ducked. commentary.source is NULL when there is
   * none; otherwise id is "commentary" (the name the `audio` control
   * command uses), kind, source and source_redacted as for a station. */
  ScStationConfig commentary;
  double commentary_gain_db; /* -60..12, default 0 */
  gboolean director_auto;    /* `director: auto` */
  int director_hold_s;       /* how long the auto-director keeps a station focused */
} ScProgramConfig;

typedef struct {
  char *font;
  gboolean scoreboard_visible;
  int scoreboard_top;
  gboolean clock_visible;
  gboolean lowerthird_visible;
  gboolean live_visible;
} ScOverlayConfig;

typedef struct {
  char *id;
  ScOutputKind type;
  char *url;          /* rtmp, srt: resolved */
  char *url_redacted; /* as written */
  char *dir;          /* hls, record */
  int segment_s;      /* hls */
  char *upload;       /* hls: optional origin URL prefix, resolved */
  char *upload_redacted;
  int split_min; /* record */
} ScOutputConfig;

typedef struct {
  char *listen; /* "host:port" */
  char *host;   /* parsed from listen */
  int port;
  char *operator_token;    /* NULL if unset */
  char *commentator_token; /* NULL if unset */
  int max_clients;
  char *web_dir; /* where the pages are; defaults to the build's web/ */
} ScServerConfig;

typedef struct {
  char *url;          /* resolved */
  char *url_redacted; /* as written */
  char *password;     /* NULL if none (from `password:` or the URL) */
  /* Parsed from url: either a TCP host:port or a unix socket path. */
  char *host;
  int port;
  char *unix_path;
  int db;
} ScRedisConfig;

/* Which top-level sections the file had. */
typedef enum {
  SC_SECTION_CONTEST = 1 << 0,
  SC_SECTION_REDIS = 1 << 1,
  SC_SECTION_STATIONS = 1 << 2,
  SC_SECTION_PROGRAM = 1 << 3,
  SC_SECTION_OVERLAY = 1 << 4,
  SC_SECTION_OUTPUTS = 1 << 5,
  SC_SECTION_SERVER = 1 << 6,
} ScConfigSection;

typedef struct {
  char *path; /* the file it came from ("<demo>" for built-in defaults) */
  guint sections;

  struct {
    char *id;
    char *title;
  } contest;
  ScRedisConfig redis;
  ScStationConfig *stations;
  guint n_stations;
  ScProgramConfig program;
  ScOverlayConfig overlay;
  ScOutputConfig *outputs;
  guint n_outputs;
  ScServerConfig server;
} ScConfig;

/* What the config is for: `relay` needs only contest, redis and server. */
typedef enum {
  SC_CONFIG_FOR_RUN,
  SC_CONFIG_FOR_RELAY,
} ScConfigPurpose;

/* Loads and validates PATH. On failure returns NULL and sets ERROR with a
 * message `PATH:LINE:COL: key.path[2].x: what is wrong` (line and column
 * 1-based, of the offending value, or of the key for unknown keys).
 * The caller owns the result (sc_config_free). */
ScConfig *sc_config_load (const char *path, ScConfigPurpose purpose, GError **error);

/* Same, from a string in memory; NAME stands in for the path in messages. */
ScConfig *sc_config_load_string (const char *name, const char *yaml, gssize len,
                                 ScConfigPurpose purpose, GError **error);

/* Built-in defaults used by `skillcast demo`: no stations or outputs yet;
 * the caller fills what it needs. */
ScConfig *sc_config_new_defaults (void);

void sc_config_free (ScConfig *config);

/* Looks a station up by id; NULL if there is none. */
const ScStationConfig *sc_config_station (const ScConfig *config, const char *id);

/* A readable, secret-free summary of what would run, for `skillcast check`. */
char *sc_config_describe (const ScConfig *config);

const char *sc_layout_to_string (ScLayout layout);
gboolean sc_layout_from_string (const char *s, ScLayout *out);
const char *sc_source_kind_to_string (ScSourceKind kind);
const char *sc_output_kind_to_string (ScOutputKind kind);

/* The Redis stream key of a contest: "skillcast:{id}:events". Caller frees. */
char *sc_config_events_key (const ScConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScConfig, sc_config_free)

G_END_DECLS
