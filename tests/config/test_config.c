/* config: the YAML of CONTRACTS.md §2 into ScConfig — what loads, with
 * what defaults, and the exact message a user sees for each mistake. */
#include "tests/lib/testlib.h"

#include "config/config.h"

#include <string.h>

/* A valid run config to build mistakes on. */
#define BASE                                                                                       \
  "contest:\n"                                                                                     \
  "  id: t1\n"                                                                                     \
  "  title: T\n"                                                                                   \
  "redis:\n"                                                                                       \
  "  url: redis://127.0.0.1:6379/0\n"                                                              \
  "stations:\n"                                                                                    \
  "  - id: A01\n"                                                                                  \
  "    source: test://smpte\n"

static ScConfig *
load(const char *yaml, ScConfigPurpose purpose)
{
  GError *error = NULL;
  ScConfig *c = sc_config_load_string("t.yaml", yaml, -1, purpose, &error);
  if (!c)
    fail_msg("unexpected error: %s", error->message);
  return c;
}

/* Loads YAML and asserts it fails with exactly MESSAGE. */
static void
expect_error_full(const char *yaml, ScConfigPurpose purpose, int code, const char *message)
{
  GError *error = NULL;
  ScConfig *c = sc_config_load_string("t.yaml", yaml, -1, purpose, &error);
  if (c)
    fail_msg("loaded, expected: %s", message);
  assert_non_null(error);
  if (strcmp(error->message, message))
    fail_msg("message\n  got:      %s\n  expected: %s", error->message, message);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, code));
  g_error_free(error);
}

#define expect_error(yaml, message)                                                                \
  expect_error_full((yaml), SC_CONFIG_FOR_RUN, SC_CONFIG_ERROR_INVALID, (message))

static void
set_contract_env(void)
{
  g_setenv("SRT_A01_PASS", "sekrit-passphrase-01", TRUE);
  g_setenv("CDN_KEY", "cdn-stream-key-xyz", TRUE);
  g_setenv("SRT_ID", "srt-stream-id-abc", TRUE);
  g_setenv("SKILLCAST_OPERATOR_TOKEN", "op-token-123", TRUE);
  g_setenv("SKILLCAST_COMMENTATOR_TOKEN", "co-token-456", TRUE);
}

static char *
source_path(const char *rel)
{
  return g_build_filename(sc_test_source_dir(), rel, NULL);
}

/* ---------------------------------------------------------------------- */

static void
test_contract_example(void **state)
{
  set_contract_env();
  g_autofree char *path = source_path("tests/config/data/contract.yaml");
  GError *error = NULL;
  g_autoptr(ScConfig) c = sc_config_load(path, SC_CONFIG_FOR_RUN, &error);
  if (!c)
    fail_msg("%s", error->message);

  assert_string_equal(c->path, path);
  assert_int_equal(c->sections, 0x7f);
  assert_string_equal(c->contest.id, "zz2026-cnc");
  assert_string_equal(c->contest.title, "技能天下 · 数控车工决赛");
  assert_string_equal(c->redis.host, "127.0.0.1");
  assert_int_equal(c->redis.port, 6379);
  assert_int_equal(c->redis.db, 0);
  assert_null(c->redis.password);
  assert_null(c->redis.unix_path);

  assert_int_equal(c->n_stations, 8);
  static const ScSourceKind kinds[]
      = { SC_SOURCE_SRT, SC_SOURCE_SRT,  SC_SOURCE_RTMP, SC_SOURCE_RTSP,
          SC_SOURCE_UDP, SC_SOURCE_FILE, SC_SOURCE_V4L2, SC_SOURCE_TEST };
  for (guint i = 0; i < 8; i++)
    assert_int_equal(c->stations[i].kind, kinds[i]);
  const ScStationConfig *a01 = sc_config_station(c, "A01");
  assert_ptr_equal(a01, &c->stations[0]);
  assert_string_equal(a01->name, "张伟");
  assert_string_equal(a01->org, "株洲中车时代电气");
  assert_string_equal(a01->trade, "数控车工");
  assert_string_equal(a01->source, "srt://:9001?passphrase=sekrit-passphrase-01");
  assert_string_equal(a01->source_redacted, "srt://:9001?passphrase=${SRT_A01_PASS}");
  const ScStationConfig *a02 = sc_config_station(c, "A02");
  assert_null(a02->name);
  assert_null(a02->org);
  assert_null(a02->trade);
  assert_null(sc_config_station(c, "A09"));

  assert_int_equal(c->program.width, 1280);
  assert_int_equal(c->program.height, 720);
  assert_int_equal(c->program.layout, SC_LAYOUT_GRID);
  assert_string_equal(c->program.video_preset, "veryfast");

  assert_int_equal(c->n_outputs, 4);
  assert_int_equal(c->outputs[0].type, SC_OUTPUT_RTMP);
  assert_string_equal(c->outputs[0].url, "rtmp://push.example.com/live/cdn-stream-key-xyz");
  assert_string_equal(c->outputs[0].url_redacted, "rtmp://push.example.com/live/${CDN_KEY}");
  assert_int_equal(c->outputs[1].type, SC_OUTPUT_SRT);
  assert_string_equal(c->outputs[1].url,
                      "srt://ingest.example.com:9000?streamid=srt-stream-id-abc");
  assert_int_equal(c->outputs[2].type, SC_OUTPUT_HLS);
  assert_string_equal(c->outputs[2].dir, "/var/lib/skillcast/hls");
  assert_int_equal(c->outputs[2].segment_s, 2);
  assert_string_equal(c->outputs[2].upload, "https://origin.example.com/live/");
  assert_int_equal(c->outputs[3].type, SC_OUTPUT_RECORD);
  assert_int_equal(c->outputs[3].split_min, 30);

  assert_string_equal(c->server.host, "127.0.0.1");
  assert_int_equal(c->server.port, 8080);
  assert_string_equal(c->server.operator_token, "op-token-123");
  assert_string_equal(c->server.commentator_token, "co-token-456");
  assert_int_equal(c->server.max_clients, 50000);

  g_autofree char *key = sc_config_events_key(c);
  assert_string_equal(key, "skillcast:zz2026-cnc:events");
}

static void
test_describe_has_no_secrets(void **state)
{
  set_contract_env();
  g_setenv("REDIS_PASSWORD", "redis-pw-789", TRUE);
  g_autoptr(ScConfig) c
      = load(BASE "server:\n"
                  "  operator_token: \"${SKILLCAST_OPERATOR_TOKEN}\"\n"
                  "outputs:\n"
                  "  - { id: cdn, type: rtmp, url: \"rtmp://h/live/${CDN_KEY}\" }\n"
                  "  - { id: lit, type: srt, url: \"srt://h:9000?passphrase=literalsecret\" }\n",
             SC_CONFIG_FOR_RUN);
  assert_string_equal(c->outputs[0].url, "rtmp://h/live/cdn-stream-key-xyz");
  g_autofree char *d = sc_config_describe(c);
  assert_null(strstr(d, "cdn-stream-key-xyz"));
  assert_null(strstr(d, "op-token-123"));
  assert_null(strstr(d, "literalsecret"));
  assert_non_null(strstr(d, "rtmp://h/live/${CDN_KEY}"));
  assert_non_null(strstr(d, "operator token (set)"));
  assert_non_null(strstr(d, "commentator token (not set)"));
  assert_non_null(strstr(d, "passphrase=***"));

  /* And the full contract example, every secret of it. */
  g_autofree char *path = source_path("tests/config/data/contract.yaml");
  g_autoptr(ScConfig) full = sc_config_load(path, SC_CONFIG_FOR_RUN, NULL);
  assert_non_null(full);
  g_autofree char *fd = sc_config_describe(full);
  static const char *const secrets[] = { "sekrit-passphrase-01", "cdn-stream-key-xyz",
                                         "srt-stream-id-abc", "op-token-123", "co-token-456" };
  for (guint i = 0; i < G_N_ELEMENTS(secrets); i++)
    if (strstr(fd, secrets[i]))
      fail_msg("describe shows %s:\n%s", secrets[i], fd);
  assert_non_null(strstr(fd, "A01"));
  assert_non_null(strstr(fd, "srt://:9001?passphrase=${SRT_A01_PASS}"));
  assert_non_null(strstr(fd, "cdn-main"));
  assert_non_null(strstr(fd, "1280x720@30"));
  assert_non_null(strstr(fd, "skillcast:zz2026-cnc:events"));

  /* A redis password, from `password:` and written into the URL. */
  g_autoptr(ScConfig) r = load("contest: {id: t, title: T}\n"
                               "redis: {url: \"redis://:inurlpw@db.local:6380/2\"}\n"
                               "stations: [{id: A, source: \"test://\"}]\n",
                               SC_CONFIG_FOR_RUN);
  assert_string_equal(r->redis.password, "inurlpw");
  g_autofree char *rd = sc_config_describe(r);
  assert_null(strstr(rd, "inurlpw"));
  assert_non_null(strstr(rd, "password (set)"));
}

static void
test_env_substitution(void **state)
{
  g_setenv("SC_T_HOST", "db.example", TRUE);
  g_setenv("SC_T_PW", "p@ss:word", TRUE);
  g_setenv("SC_T_TITLE", "决赛", TRUE);
  g_autoptr(ScConfig) c
      = load("contest: { id: t1, title: \"技能 ${SC_T_TITLE} $${NOT_ME}\" }\n"
             "redis: { url: \"redis://${SC_T_HOST}:7000/3\", password: \"${SC_T_PW}\" }\n"
             "stations: [ { id: A01, source: \"test://ball\" } ]\n",
             SC_CONFIG_FOR_RUN);
  assert_string_equal(c->contest.title, "技能 决赛 ${NOT_ME}");
  assert_string_equal(c->redis.url, "redis://db.example:7000/3");
  assert_string_equal(c->redis.url_redacted, "redis://${SC_T_HOST}:7000/3");
  assert_string_equal(c->redis.host, "db.example");
  assert_int_equal(c->redis.port, 7000);
  assert_int_equal(c->redis.db, 3);
  assert_string_equal(c->redis.password, "p@ss:word");
}

static void
test_missing_env(void **state)
{
  g_unsetenv("SC_T_MISSING");
  g_setenv("SC_T_SET", "topsecret-value", TRUE);
  expect_error(BASE "outputs:\n"
                    "  - { id: cdn, type: rtmp, url: \"rtmp://h/${SC_T_SET}/${SC_T_MISSING}\" }\n",
               "t.yaml:10:33: outputs[0].url: environment variable SC_T_MISSING is not set");
  expect_error(BASE "server:\n  operator_token: ${SC_T_MISSING}\n",
               "t.yaml:10:19: server.operator_token: environment variable SC_T_MISSING is not set");
  expect_error(BASE "server:\n  operator_token: \"${bad-name}\"\n",
               "t.yaml:10:19: server.operator_token: \"${bad-name}\" is not an environment "
               "variable name ([A-Za-z_][A-Za-z0-9_]*)");
  expect_error(BASE "server:\n  operator_token: \"${OPEN\"\n",
               "t.yaml:10:19: server.operator_token: unterminated ${ (write $${ for a literal ${)");
  /* A bad value that came from the environment is not quoted back. */
  g_setenv("SC_T_SRC", "rtp2://user:topsecret-value@cam", TRUE);
  GError *error = NULL;
  ScConfig *c = sc_config_load_string("t.yaml",
                                      "contest: {id: t, title: T}\nredis: {url: redis://h}\n"
                                      "stations: [{id: A, source: \"${SC_T_SRC}\"}]\n",
                                      -1, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_null(strstr(error->message, "topsecret"));
  assert_non_null(strstr(error->message, "unknown scheme \"rtp2\""));
  g_error_free(error);
}

static void
test_unknown_scheme_exact(void **state)
{
  /* Shaped like the contract's example: stations[2].source on line 14. */
  static const char yaml[] = "contest:\n"
                             "  id: zz2026-cnc\n"
                             "  title: \"技能天下 · 数控车工决赛\"\n"
                             "redis:\n"
                             "  url: redis://127.0.0.1:6379/0\n"
                             "stations:\n"
                             "  - id: A01\n"
                             "    name: \"张伟\"\n"
                             "    source: \"srt://:9001\"\n"
                             "  - id: A02\n"
                             "    source: \"srt://10.0.0.5:9000?mode=caller\"\n"
                             "  - id: A03\n"
                             "    name: \"王强\"\n"
                             "    source: \"rtp2://10.0.0.7:5004\"\n";
  GError *error = NULL;
  ScConfig *c = sc_config_load_string("contest.yaml", yaml, -1, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_INVALID));
  assert_string_equal(error->message, "contest.yaml:14:13: stations[2].source: unknown scheme "
                                      "\"rtp2\" (expected srt, rtmp, rtsp, udp, file, v4l2, test)");
  g_clear_error(&error);

  /* The same from a file: the path as the caller gave it. */
  g_autofree char *dir = sc_test_tmpdir();
  g_autofree char *path = g_build_filename(dir, "contest.yaml", NULL);
  assert_true(g_file_set_contents(path, yaml, -1, NULL));
  c = sc_config_load(path, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  g_autofree char *expected = g_strdup_printf("%s:14:13: stations[2].source: unknown scheme", path);
  assert_true(g_str_has_prefix(error->message, expected));
  g_error_free(error);
  sc_test_rmrf(dir);
}

static void
test_source_forms(void **state)
{
#define SRC(s)                                                                                     \
  "contest: {id: t, title: T}\nredis: {url: redis://h}\nstations:\n  - id: A\n    source: " s "\n"
  expect_error(SRC("\"srt://10.0.0.5\""),
               "t.yaml:5:13: stations[0].source: srt source needs a port: srt://HOST:PORT, or "
               "srt://:PORT to listen");
  expect_error(
      SRC("rtmp:///live"),
      "t.yaml:5:13: stations[0].source: rtmp source needs a host: rtmp://HOST[:PORT]/PATH");
  expect_error(SRC("file://clips/a.mp4"), "t.yaml:5:13: stations[0].source: file source needs "
                                          "an absolute path: file:///path/to/clip.mp4");
  expect_error(SRC("/dev/video0"), "t.yaml:5:13: stations[0].source: expected a URL such as "
                                   "\"srt://:9001\" (scheme one of srt, rtmp, rtsp, udp, file, "
                                   "v4l2, test)");
  g_setenv("SC_T_SHORT_PASS", "short", TRUE);
  expect_error(SRC("\"srt://:9001?latency=200&passphrase=${SC_T_SHORT_PASS}\""),
               "t.yaml:5:13: stations[0].source: an SRT passphrase must have 10 to 79 characters "
               "(has 5)");
  GError *error = NULL;
  ScConfig *c = sc_config_load_string("t.yaml", SRC("test://plaid"), -1, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_str_has_prefix(error->message,
                               "t.yaml:5:13: stations[0].source: unknown test pattern \"plaid\""));
  g_clear_error(&error);

  g_autoptr(ScConfig) ok = load(SRC("\"rtsp://admin:pw@10.0.0.9:554/s1\""), SC_CONFIG_FOR_RUN);
  assert_int_equal(ok->stations[0].kind, SC_SOURCE_RTSP);
  g_autoptr(ScConfig) ok2 = load(SRC("\"udp://239.1.1.1:5004\""), SC_CONFIG_FOR_RUN);
  assert_int_equal(ok2->stations[0].kind, SC_SOURCE_UDP);
  g_autoptr(ScConfig) ok3 = load(SRC("\"srt://[::1]:9000\""), SC_CONFIG_FOR_RUN);
  assert_int_equal(ok3->stations[0].kind, SC_SOURCE_SRT);
#undef SRC
}

static void
test_bad_yaml(void **state)
{
  GError *error = NULL;
  ScConfig *c = sc_config_load_string("bad.yaml", "contest:\n  id: t1\n title: x\n", -1,
                                      SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_SYNTAX));
  assert_true(g_str_has_prefix(error->message, "bad.yaml:3:"));
  assert_non_null(strstr(error->message, "YAML syntax error"));
  g_clear_error(&error);

  c = sc_config_load_string("bad.yaml", "contest: { id: t1\n", -1, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_SYNTAX));
  assert_true(g_str_has_prefix(error->message, "bad.yaml:2:1: YAML syntax error:"));
  g_clear_error(&error);

  c = sc_config_load_string("bad.yaml", "a: *nope\n", -1, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_SYNTAX));
  g_clear_error(&error);

  expect_error_full(BASE "---\nfoo: 1\n", SC_CONFIG_FOR_RUN, SC_CONFIG_ERROR_SYNTAX,
                    "t.yaml:9:1: only one YAML document is allowed in a config");
  expect_error(BASE "server: { operator_token: \"a\\0b\" }\n",
               "t.yaml:9:27: server.operator_token: contains a NUL character");
}

static void
test_empty_and_not_a_mapping(void **state)
{
  expect_error("", "t.yaml:1:1: the file is empty (expected contest, redis, stations, ...)");
  expect_error("# nothing here\n\n",
               "t.yaml:1:1: the file is empty (expected contest, redis, stations, ...)");
  expect_error("- a\n- b\n",
               "t.yaml:1:1: expected a mapping of sections (contest, redis, ...), got a list");
}

static void
test_file_errors(void **state)
{
  GError *error = NULL;
  ScConfig *c = sc_config_load("/nonexistent/skillcast.yaml", SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_IO));
  assert_string_equal(error->message, "/nonexistent/skillcast.yaml: No such file or directory");
  g_clear_error(&error);

  g_autofree char *dir = sc_test_tmpdir();
  c = sc_config_load(dir, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_IO));
  g_clear_error(&error);

  g_autofree char *empty = g_build_filename(dir, "empty.yaml", NULL);
  assert_true(g_file_set_contents(empty, "", 0, NULL));
  c = sc_config_load(empty, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_true(g_error_matches(error, SC_CONFIG_ERROR, SC_CONFIG_ERROR_INVALID));
  g_autofree char *expected = g_strdup_printf("%s:1:1: the file is empty", empty);
  assert_true(g_str_has_prefix(error->message, expected));
  g_clear_error(&error);
  sc_test_rmrf(dir);
}

static void
test_unknown_keys(void **state)
{
  expect_error(BASE "servr:\n  listen: x\n",
               "t.yaml:9:1: servr: unknown key \"servr\" (expected contest, redis, stations, "
               "program, overlay, outputs, server)");
  expect_error(BASE "program:\n  width: 1280\n  framerate: 30\n",
               "t.yaml:11:3: program.framerate: unknown key \"framerate\" (expected width, height, "
               "fps, layout, focus, video, audio, director, director_hold_s)");
  expect_error(BASE "program:\n  video: { bitrate_kbps: 3500, bitrate: 3 }\n",
               "t.yaml:10:32: program.video.bitrate: unknown key \"bitrate\" (expected "
               "bitrate_kbps, preset, keyint_s)");
  expect_error(BASE "    nam: x\n",
               "t.yaml:9:5: stations[0].nam: unknown key \"nam\" (expected id, name, org, trade, "
               "source)");
  expect_error(BASE "overlay:\n  clock: { visible: true, size: 3 }\n",
               "t.yaml:10:27: overlay.clock.size: unknown key \"size\" (expected visible)");
  expect_error(BASE "outputs:\n  - { id: h, type: hls, dir: /tmp/h, url: \"rtmp://x/y\" }\n",
               "t.yaml:10:38: outputs[0].url: unknown key \"url\" for an hls output (expected id, "
               "type, dir, segment_s, upload)");
  expect_error(BASE "contest:\n  id: t2\n", "t.yaml:9:1: contest: duplicate key (first at line 1)");
}

static void
test_wrong_types(void **state)
{
  expect_error(BASE "program:\n  width: \"1280\"\n",
               "t.yaml:10:10: program.width: expected an integer, got a string \"1280\"");
  expect_error(BASE "program:\n  fps: 29.97\n",
               "t.yaml:10:8: program.fps: expected an integer, got a string \"29.97\"");
  expect_error(BASE "program:\n  video: [3500]\n",
               "t.yaml:10:10: program.video: expected a mapping, got a list");
  expect_error(BASE "program: [1, 2]\n", "t.yaml:9:10: program: expected a mapping, got a list");
  expect_error(BASE "overlay:\n  clock: { visible: yes }\n",
               "t.yaml:10:21: overlay.clock.visible: expected true or false, got a string \"yes\"");
  expect_error(BASE "overlay:\n  scoreboard: { visible: \"true\" }\n",
               "t.yaml:10:26: overlay.scoreboard.visible: expected true or false, got a string "
               "\"true\"");
  expect_error(BASE "    name: [a, b]\n",
               "t.yaml:9:11: stations[0].name: expected a string, got a list");
  expect_error("contest: {id: t, title: T}\nredis: {url: redis://h}\nstations: {id: A}\n",
               "t.yaml:3:11: stations: expected a list of stations, got a mapping");
  expect_error(BASE "outputs: {id: x}\n",
               "t.yaml:9:10: outputs: expected a list of outputs, got a mapping");
  expect_error(BASE "program:\n  width: \"1234567890123456789012345678901234567890toolong\"\n",
               "t.yaml:10:10: program.width: expected an integer, got a string "
               "\"1234567890123456789012345678901234567890…\"");
  expect_error(BASE "server:\n  max_clients: \n",
               "t.yaml:10:15: server.max_clients: expected an integer, got nothing (null)");
  expect_error(BASE "? [a]\n: 1\n", "t.yaml:9:3: a key must be a plain name, got a list");
}

static void
test_ids(void **state)
{
#define TAIL "redis: {url: redis://h}\nstations: [{id: A, source: test://}]\n"
  expect_error("contest:\n  id: ZZ2026\n  title: x\n" TAIL,
               "t.yaml:2:7: contest.id: \"ZZ2026\" is not a valid contest id ([a-z0-9_-]{1,40})");
  expect_error("contest:\n  title: x\n" TAIL, "t.yaml:2:3: contest.id: required key is missing");
  expect_error("contest:\n  id: a\n  title: \"\"\n" TAIL,
               "t.yaml:3:10: contest.title: must not be empty");
  expect_error("contest:\n  id: \"\"\n  title: x\n" TAIL,
               "t.yaml:2:7: contest.id: \"\" is not a valid contest id ([a-z0-9_-]{1,40})");
#undef TAIL
  expect_error(BASE "  - id: \"A 02\"\n    source: test://\n",
               "t.yaml:9:9: stations[1].id: \"A 02\" is not a valid station id "
               "([A-Za-z0-9_-]{1,16})");
  expect_error(BASE "  - id: A0123456789abcdefg\n    source: test://\n",
               "t.yaml:9:9: stations[1].id: \"A0123456789abcdefg\" is not a valid station id "
               "([A-Za-z0-9_-]{1,16})");
  expect_error(BASE "  - id: B\n    source: test://\n  - id: A01\n    source: test://\n",
               "t.yaml:11:9: stations[2].id: duplicate station id \"A01\" (first at line 7)");
  expect_error(BASE "  - name: x\n    source: test://\n",
               "t.yaml:9:5: stations[1].id: required key is missing");
  expect_error(BASE
               "outputs:\n  - { id: a, type: hls, dir: /a }\n  - { id: a, type: hls, dir: /b }\n",
               "t.yaml:11:11: outputs[1].id: duplicate output id \"a\" (first at line 10)");
  expect_error(BASE "outputs:\n  - { id: CDN, type: rtmp, url: rtmp://h/a }\n",
               "t.yaml:10:11: outputs[0].id: \"CDN\" is not a valid output id ([a-z0-9_-]{1,40})");
}

static void
test_ranges_and_enums(void **state)
{
  expect_error(BASE "program: { fps: 0 }\n", "t.yaml:9:17: program.fps: 0 is out of range (1..60)");
  expect_error(BASE "program: { width: 1281 }\n",
               "t.yaml:9:19: program.width: must be even (got 1281)");
  expect_error(BASE "program: { height: 4320 }\n",
               "t.yaml:9:20: program.height: 4320 is out of range (160..2160)");
  expect_error(BASE "program: { video: { keyint_s: 11 } }\n",
               "t.yaml:9:31: program.video.keyint_s: 11 is out of range (1..10)");
  expect_error(BASE "program: { audio: { bitrate_kbps: 0 } }\n",
               "t.yaml:9:35: program.audio.bitrate_kbps: 0 is out of range (1..1024)");
  expect_error(BASE "program: { layout: mosaic }\n",
               "t.yaml:9:20: program.layout: unknown layout \"mosaic\" (expected grid, focus, pip, "
               "sbs, single)");
  expect_error(BASE "program: { layout: focus, focus: A09 }\n",
               "t.yaml:9:34: program.focus: no station has the id \"A09\"");
  expect_error(BASE "program: { director: on }\n",
               "t.yaml:9:22: program.director: expected auto or off, got \"on\"");
  expect_error(BASE "program: { video: { preset: fastest } }\n",
               "t.yaml:9:29: program.video.preset: unknown x264 preset \"fastest\" (expected "
               "ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, "
               "placebo)");
  expect_error(BASE "overlay: { scoreboard: { top: 21 } }\n",
               "t.yaml:9:31: overlay.scoreboard.top: 21 is out of range (1..20)");
  expect_error(BASE "server: { max_clients: 0 }\n",
               "t.yaml:9:24: server.max_clients: 0 is out of range (1..1000000)");
  expect_error(BASE "server: { listen: \"127.0.0.1:65536\" }\n",
               "t.yaml:9:19: server.listen: expected HOST:PORT such as \"127.0.0.1:8080\", got "
               "\"127.0.0.1:65536\"");
  expect_error(BASE "server: { listen: \"8080\" }\n",
               "t.yaml:9:19: server.listen: expected HOST:PORT such as \"127.0.0.1:8080\", got "
               "\"8080\"");
  expect_error(BASE "outputs:\n  - { id: h, type: hls, dir: /h, segment_s: 31 }\n",
               "t.yaml:10:45: outputs[0].segment_s: 31 is out of range (1..30)");
  expect_error(BASE "outputs:\n  - { id: r, type: record, dir: /r, split_min: 0 }\n",
               "t.yaml:10:48: outputs[0].split_min: 0 is out of range (1..1440)");
  expect_error(BASE "outputs:\n  - { id: r, type: rtp, dir: /r }\n",
               "t.yaml:10:20: outputs[0].type: unknown output type \"rtp\" (expected rtmp, srt, "
               "hls, record)");
  expect_error(BASE "outputs:\n  - { id: c, type: rtmp, url: \"srt://h:1\" }\n",
               "t.yaml:10:31: outputs[0].url: an rtmp output needs a rtmp:// (or rtmps://) URL");
  expect_error(BASE "outputs:\n  - { id: c, type: srt }\n",
               "t.yaml:10:5: outputs[0].url: required key is missing");
  expect_error(BASE "outputs:\n  - { id: h, type: hls, dir: /h, upload: \"ftp://o/\" }\n",
               "t.yaml:10:42: outputs[0].upload: expected an http:// or https:// URL prefix");
  expect_error(BASE "outputs:\n  - { id: h, type: record }\n",
               "t.yaml:10:5: outputs[0].dir: required key is missing");

  g_autoptr(ScConfig) c = load(BASE "server: { listen: \"[::1]:0\" }\n"
                                    "program: { layout: pip, focus: A01, director: auto, "
                                    "director_hold_s: 15, width: 3840, height: 2160, fps: 60 }\n",
                               SC_CONFIG_FOR_RUN);
  assert_string_equal(c->server.host, "::1");
  assert_int_equal(c->server.port, 0);
  assert_int_equal(c->program.layout, SC_LAYOUT_PIP);
  assert_string_equal(c->program.focus, "A01");
  assert_true(c->program.director_auto);
  assert_int_equal(c->program.director_hold_s, 15);
  assert_int_equal(c->program.width, 3840);
}

static void
test_required_sections(void **state)
{
  expect_error("contest: {id: t, title: T}\nredis: {url: redis://h}\n",
               "t.yaml:1:1: stations: required section is missing");
  expect_error("contest: {id: t, title: T}\nstations: [{id: A, source: test://}]\n",
               "t.yaml:1:1: redis: required section is missing");
  expect_error("redis: {url: redis://h}\nstations: [{id: A, source: test://}]\n",
               "t.yaml:1:1: contest: required section is missing");
  expect_error("contest: {id: t, title: T}\nredis: {url: redis://h}\nstations: []\n",
               "t.yaml:3:11: stations: at least one station is required");
  expect_error_full("contest: {id: t, title: T}\nredis: {url: redis://h}\n"
                    "stations: [{id: A, source: test://}]\n",
                    SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:1:1: server: required section is missing (a relay needs contest, "
                    "redis and server)");

  /* A run config needs no server, a relay no stations. */
  g_autoptr(ScConfig) run = load(BASE, SC_CONFIG_FOR_RUN);
  assert_int_equal(run->sections, SC_SECTION_CONTEST | SC_SECTION_REDIS | SC_SECTION_STATIONS);
  g_autoptr(ScConfig) relay = load(
      "contest: {id: t, title: T}\nredis: {url: redis://h}\nserver: {}\n", SC_CONFIG_FOR_RELAY);
  assert_int_equal(relay->n_stations, 0);
  assert_int_equal(relay->sections, SC_SECTION_CONTEST | SC_SECTION_REDIS | SC_SECTION_SERVER);
}

static void
test_relay_ignores_video_sections(void **state)
{
  g_unsetenv("SC_T_NOT_ON_RELAY");
  static const char yaml[]
      = "contest: {id: t, title: T}\n"
        "redis: {url: \"unix:///run/redis.sock\"}\n"
        "stations:\n"
        "  - { id: A01, name: \"张伟\", source: \"srt://:9001?passphrase=${SC_T_NOT_ON_RELAY}\" }\n"
        "  - { id: A02, name: \"李娜\" }\n"
        "program: { width: 3, bogus: 1 }\n"
        "overlay: [not, a, mapping]\n"
        "outputs:\n"
        "  - { id: BAD ID, type: carrier-pigeon, url: \"${SC_T_NOT_ON_RELAY}\" }\n"
        "server: { listen: \"0.0.0.0:8081\" }\n";
  g_autoptr(ScConfig) c = load(yaml, SC_CONFIG_FOR_RELAY);
  assert_int_equal(c->n_stations, 2);
  assert_string_equal(c->stations[0].name, "张伟");
  assert_null(c->stations[0].source);
  assert_null(c->stations[1].source);
  assert_int_equal(c->n_outputs, 0);
  assert_int_equal(c->program.width, 1280);
  assert_true(c->sections & SC_SECTION_OUTPUTS);
  assert_int_equal(c->server.port, 8081);
  assert_string_equal(c->redis.unix_path, "/run/redis.sock");

  /* The same file is not good enough to run. */
  expect_error(yaml, "t.yaml:4:36: stations[0].source: environment variable SC_T_NOT_ON_RELAY is "
                     "not set");
  /* Still YAML: a syntax error anywhere fails a relay too. */
  expect_error_full("contest: {id: t, title: T}\nredis: {url: redis://h}\nserver: {}\n"
                    "outputs: [ {id: x\n",
                    SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_SYNTAX,
                    "t.yaml:5:1: YAML syntax error: did not find expected ',' or '}' while parsing "
                    "a flow mapping (line 4)");
}

static void
test_redis_urls(void **state)
{
  static const struct {
    const char *url;
    const char *host;
    int port;
    const char *unix_path;
    int db;
    const char *password;
  } ok[] = {
    { "redis://127.0.0.1:6379/0", "127.0.0.1", 6379, NULL, 0, NULL },
    { "redis://redis.local", "redis.local", 6379, NULL, 0, NULL },
    { "redis://:s3cret@10.0.0.2:6380/5", "10.0.0.2", 6380, NULL, 5, "s3cret" },
    { "redis://default:p%40ss@h/", "h", 6379, NULL, 0, "p@ss" },
    { "redis://[::1]:7000/1", "::1", 7000, NULL, 1, NULL },
    { "unix:///run/redis.sock", NULL, 0, "/run/redis.sock", 0, NULL },
    { "unix:///tmp/r/redis.sock?db=3", NULL, 0, "/tmp/r/redis.sock", 3, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(ok); i++) {
    g_autofree char *yaml = g_strdup_printf(
        "contest: {id: t, title: T}\nredis: {url: \"%s\"}\nserver: {}\n", ok[i].url);
    g_autoptr(ScConfig) c = load(yaml, SC_CONFIG_FOR_RELAY);
    assert_string_equal(c->redis.url, ok[i].url);
    if (ok[i].host) {
      assert_string_equal(c->redis.host, ok[i].host);
      assert_int_equal(c->redis.port, ok[i].port);
      assert_null(c->redis.unix_path);
    } else {
      assert_null(c->redis.host);
      assert_string_equal(c->redis.unix_path, ok[i].unix_path);
    }
    assert_int_equal(c->redis.db, ok[i].db);
    if (ok[i].password)
      assert_string_equal(c->redis.password, ok[i].password);
    else
      assert_null(c->redis.password);
  }

  /* `password:` overrides the URL's. */
  g_setenv("SC_T_REDIS_PW", "from-env", TRUE);
  g_autoptr(ScConfig) c
      = load("contest: {id: t, title: T}\n"
             "redis: {url: \"redis://:inurl@h:1/2\", password: \"${SC_T_REDIS_PW}\"}\n"
             "server: {}\n",
             SC_CONFIG_FOR_RELAY);
  assert_string_equal(c->redis.password, "from-env");

#define R(u) "contest: {id: t, title: T}\nredis:\n  url: " u "\nserver: {}\n"
#define FORMS "expected redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N]"
  expect_error_full(R("\"http://h\""), SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:3:8: redis.url: " FORMS);
  expect_error_full(R("\"redis://h:99999\""), SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:3:8: redis.url: " FORMS);
  expect_error_full(R("\"redis://h/x\""), SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:3:8: redis.url: the database after / must be a number (" FORMS ")");
  expect_error_full(R("\"unix://run/redis.sock\""), SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:3:8: redis.url: unix socket URL needs an absolute path (" FORMS ")");
  expect_error_full(R("\"unix:///r.sock?timeout=1\""), SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:3:8: redis.url: only ?db=N may follow the socket path (" FORMS ")");
  expect_error_full(R("\"rediss://h\""), SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:3:8: redis.url: TLS (rediss://) is not supported; use a local tunnel "
                    "(" FORMS ")");
  expect_error_full("contest: {id: t, title: T}\nredis: {password: x}\nserver: {}\n",
                    SC_CONFIG_FOR_RELAY, SC_CONFIG_ERROR_INVALID,
                    "t.yaml:2:8: redis.url: required key is missing");
#undef R
#undef FORMS
}

static void
test_defaults(void **state)
{
  g_unsetenv("SKILLCAST_WEB_DIR");
  g_autoptr(ScConfig) c = load(BASE, SC_CONFIG_FOR_RUN);
  assert_string_equal(c->path, "t.yaml");
  assert_int_equal(c->program.width, 1280);
  assert_int_equal(c->program.height, 720);
  assert_int_equal(c->program.fps, 30);
  assert_int_equal(c->program.layout, SC_LAYOUT_GRID);
  assert_null(c->program.focus);
  assert_int_equal(c->program.video_bitrate_kbps, 3500);
  assert_string_equal(c->program.video_preset, "veryfast");
  assert_int_equal(c->program.keyint_s, 2);
  assert_int_equal(c->program.audio_bitrate_kbps, 128);
  assert_false(c->program.director_auto);
  assert_int_equal(c->program.director_hold_s, 8);
  assert_string_equal(c->overlay.font, "Noto Sans CJK SC");
  assert_true(c->overlay.scoreboard_visible);
  assert_int_equal(c->overlay.scoreboard_top, 5);
  assert_true(c->overlay.clock_visible);
  assert_true(c->overlay.lowerthird_visible);
  assert_true(c->overlay.live_visible);
  assert_string_equal(c->server.listen, "127.0.0.1:8080");
  assert_string_equal(c->server.host, "127.0.0.1");
  assert_int_equal(c->server.port, 8080);
  assert_null(c->server.operator_token);
  assert_null(c->server.commentator_token);
  assert_int_equal(c->server.max_clients, 50000);
  assert_string_equal(c->server.web_dir, SC_WEB_DIR_DEFAULT);
  assert_int_equal(c->n_outputs, 0);

  /* Partly written sub-sections keep the rest of their defaults. */
  g_autoptr(ScConfig) p
      = load(BASE "program:\n  video: { preset: ultrafast }\n"
                  "overlay:\n  scoreboard: { top: 8 }\n  live: { visible: false }\n"
                  "outputs:\n  - { id: h, type: hls, dir: /tmp/h }\n"
                  "  - { id: r, type: record, dir: /tmp/r }\n",
             SC_CONFIG_FOR_RUN);
  assert_string_equal(p->program.video_preset, "ultrafast");
  assert_int_equal(p->program.video_bitrate_kbps, 3500);
  assert_int_equal(p->program.keyint_s, 2);
  assert_true(p->overlay.scoreboard_visible);
  assert_int_equal(p->overlay.scoreboard_top, 8);
  assert_false(p->overlay.live_visible);
  assert_true(p->overlay.clock_visible);
  assert_int_equal(p->outputs[0].segment_s, 2);
  assert_null(p->outputs[0].upload);
  assert_int_equal(p->outputs[1].split_min, 30);

  /* web_dir: the environment, then the key. */
  g_setenv("SKILLCAST_WEB_DIR", "/opt/skillcast/web", TRUE);
  g_autoptr(ScConfig) w = load(BASE, SC_CONFIG_FOR_RUN);
  assert_string_equal(w->server.web_dir, "/opt/skillcast/web");
  g_autoptr(ScConfig) w2 = load(BASE "server: { web_dir: /srv/web }\n", SC_CONFIG_FOR_RUN);
  assert_string_equal(w2->server.web_dir, "/srv/web");
  g_unsetenv("SKILLCAST_WEB_DIR");
}

static void
test_new_defaults(void **state)
{
  g_autoptr(ScConfig) c = sc_config_new_defaults();
  assert_string_equal(c->path, "<demo>");
  assert_string_equal(c->contest.id, "demo");
  assert_string_equal(c->contest.title, "技能天下 · 演示");
  assert_null(c->redis.url);
  assert_int_equal(c->n_stations, 0);
  assert_int_equal(c->n_outputs, 0);
  assert_string_equal(c->server.host, "127.0.0.1");
  assert_int_equal(c->server.port, 8080);
  assert_int_equal(c->program.fps, 30);
  assert_int_equal(c->overlay.scoreboard_top, 5);
  g_autofree char *key = sc_config_events_key(c);
  assert_string_equal(key, "skillcast:demo:events");
  g_autofree char *d = sc_config_describe(c);
  assert_non_null(strstr(d, "redis: none (in-process state)"));
  sc_config_free(NULL);
}

static void
test_string_helpers(void **state)
{
  static const char *const layouts[] = { "grid", "focus", "pip", "sbs", "single" };
  for (guint i = 0; i < G_N_ELEMENTS(layouts); i++) {
    ScLayout l = 99;
    assert_true(sc_layout_from_string(layouts[i], &l));
    assert_int_equal(l, i);
    assert_string_equal(sc_layout_to_string(l), layouts[i]);
  }
  ScLayout l = SC_LAYOUT_SBS;
  assert_false(sc_layout_from_string("Grid", &l));
  assert_false(sc_layout_from_string(NULL, &l));
  assert_int_equal(l, SC_LAYOUT_SBS);
  assert_string_equal(sc_source_kind_to_string(SC_SOURCE_V4L2), "v4l2");
  assert_string_equal(sc_source_kind_to_string(SC_SOURCE_TEST), "test");
  assert_string_equal(sc_output_kind_to_string(SC_OUTPUT_RECORD), "record");
  assert_string_equal(sc_output_kind_to_string(SC_OUTPUT_SRT), "srt");
}

static void
test_examples_load(void **state)
{
  static const char *const env[] = { "REDIS_PASSWORD", "CDN_KEY", "CDN_SRT_ID",
                                     "SKILLCAST_OPERATOR_TOKEN", "SKILLCAST_COMMENTATOR_TOKEN" };
  for (guint i = 0; i < G_N_ELEMENTS(env); i++)
    g_setenv(env[i], "example-secret", TRUE);
  for (int i = 1; i <= 8; i++) {
    g_autofree char *name = g_strdup_printf("SRT_A%02d_PASS", i);
    g_setenv(name, "example-passphrase", TRUE);
  }
  g_setenv("SRT_COMMENTARY_PASS", "example-passphrase", TRUE);

  static const struct {
    const char *file;
    ScConfigPurpose purpose;
    guint stations, outputs;
  } examples[] = {
    { "config/examples/contest-day.yaml", SC_CONFIG_FOR_RUN, 8, 4 },
    { "config/examples/relay.yaml", SC_CONFIG_FOR_RELAY, 2, 0 },
    { "config/examples/demo.yaml", SC_CONFIG_FOR_RUN, 4, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS(examples); i++) {
    g_autofree char *path = source_path(examples[i].file);
    GError *error = NULL;
    g_autoptr(ScConfig) c = sc_config_load(path, examples[i].purpose, &error);
    if (!c)
      fail_msg("%s", error->message);
    assert_int_equal(c->n_stations, examples[i].stations);
    if (i == 0)
      assert_int_equal(c->program.commentary.kind, SC_SOURCE_SRT);
    assert_int_equal(c->n_outputs, examples[i].outputs);
    g_autofree char *d = sc_config_describe(c);
    assert_null(strstr(d, "example-secret"));
    assert_null(strstr(d, "example-passphrase"));
  }

  /* Every example with a station is also a valid relay config once it has
   * a server section: the contest-day file is. */
  g_autofree char *day = source_path("config/examples/contest-day.yaml");
  g_autoptr(ScConfig) relay = sc_config_load(day, SC_CONFIG_FOR_RELAY, NULL);
  assert_non_null(relay);

  /* Without the secrets, the contest day does not start. */
  g_unsetenv("SRT_A05_PASS");
  GError *error = NULL;
  ScConfig *c = sc_config_load(day, SC_CONFIG_FOR_RUN, &error);
  assert_null(c);
  assert_non_null(strstr(error->message, "stations[4].source: environment variable SRT_A05_PASS "
                                         "is not set"));
  g_error_free(error);
}

static void
test_describe_readable(void **state)
{
  g_autoptr(ScConfig) c = load(
      BASE "  - { id: B02, name: \"李娜\", org: \"沈阳\", source: \"udp://:5004\" }\n"
           "outputs:\n"
           "  - { id: hls, type: hls, dir: /tmp/h, upload: \"https://u:pw@o.example/live/\" }\n"
           "  - { id: rec, type: record, dir: /tmp/r, split_min: 15 }\n",
      SC_CONFIG_FOR_RUN);
  g_autofree char *d = sc_config_describe(c);
  static const char *const expected[] = {
    "config: t.yaml",
    "contest: t1 \"T\"",
    "redis: redis://127.0.0.1:6379/0 (host 127.0.0.1, port 6379, db 0, password (not set))",
    "stations: 2",
    "A01    test test://smpte",
    "B02    udp  udp://:5004  [李娜 / 沈阳 / -]",
    "program: 1280x720@30, layout grid, focus (first station), director off",
    "video: H.264 3500 kbps, preset veryfast, keyframe every 2 s",
    "overlay: font \"Noto Sans CJK SC\", scoreboard on (top 5)",
    "outputs: 2",
    "upload to https://u:***@o.example/live/",
    "a new file every 15 min",
    "server: listen 127.0.0.1:8080",
  };
  for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
    if (!strstr(d, expected[i]))
      fail_msg("describe lacks \"%s\":\n%s", expected[i], d);
  assert_null(strstr(d, ":pw@"));
}

/* program.audio.commentary: a source URL checked like a station's, its
 * gain in range, and the id the audio control command uses. */
static void
test_commentary(void **state)
{
  g_autoptr(ScConfig) none = load(BASE, SC_CONFIG_FOR_RUN);
  assert_null(none->program.commentary.source);
  assert_null(none->program.commentary.id);
  assert_true(none->program.commentary_gain_db == 0.0);

  g_setenv("SC_T_COMM_PASS", "commentary-pass-1", TRUE);
  g_autoptr(ScConfig) c
      = load(BASE "program:\n  audio:\n    bitrate_kbps: 96\n"
                  "    commentary: \"srt://:9100?passphrase=${SC_T_COMM_PASS}\"\n"
                  "    commentary_gain_db: -6.5\n",
             SC_CONFIG_FOR_RUN);
  assert_int_equal(c->program.audio_bitrate_kbps, 96);
  assert_string_equal(c->program.commentary.id, "commentary");
  assert_int_equal(c->program.commentary.kind, SC_SOURCE_SRT);
  assert_string_equal(c->program.commentary.source, "srt://:9100?passphrase=commentary-pass-1");
  assert_string_equal(c->program.commentary.source_redacted,
                      "srt://:9100?passphrase=${SC_T_COMM_PASS}");
  assert_true(c->program.commentary_gain_db == -6.5);
  g_autofree char *d = sc_config_describe(c);
  if (!strstr(d, "audio: AAC 96 kbps, commentary srt srt://:9100?passphrase=${SC_T_COMM_PASS} "
                 "at -6.5 dB"))
    fail_msg("describe lacks the commentary:\n%s", d);
  assert_null(strstr(d, "commentary-pass-1"));

  g_autoptr(ScConfig) gain = load(BASE "program: { audio: { commentary_gain_db: 12 } }\n",
                                  SC_CONFIG_FOR_RUN);
  assert_true(gain->program.commentary_gain_db == 12.0);

  expect_error(BASE "program:\n  audio: { commentary: \"rtp://:5004\" }\n",
               "t.yaml:10:24: program.audio.commentary: unknown scheme \"rtp\" (expected srt, "
               "rtmp, rtsp, udp, file, v4l2, test)");
  expect_error(BASE "program:\n  audio: { commentary: \"udp://10.0.0.5\" }\n",
               "t.yaml:10:24: program.audio.commentary: udp source needs a port: udp://HOST:PORT, "
               "or udp://:PORT to listen");
  expect_error(BASE "program:\n  audio: { commentary: [a] }\n",
               "t.yaml:10:24: program.audio.commentary: expected a string, got a list");
  g_unsetenv("SC_T_COMM_MISSING");
  expect_error(BASE "program:\n  audio: { commentary: \"srt://:9100?passphrase=${SC_T_COMM_MISSING}\" }\n",
               "t.yaml:10:24: program.audio.commentary: environment variable SC_T_COMM_MISSING "
               "is not set");
  expect_error(BASE "program:\n  audio: { commentary: test://, commentary_gain_db: 20 }\n",
               "t.yaml:10:53: program.audio.commentary_gain_db: 20 is out of range (-60..12)");
  expect_error(BASE "program:\n  audio: { commentary_gain_db: -60.5 }\n",
               "t.yaml:10:32: program.audio.commentary_gain_db: -60.5 is out of range (-60..12)");
  expect_error(BASE "program:\n  audio: { commentary_gain_db: loud }\n",
               "t.yaml:10:32: program.audio.commentary_gain_db: expected a number, got a string "
               "\"loud\"");
  expect_error(BASE "program:\n  audio: { commentary_gain_db: \"-6\" }\n",
               "t.yaml:10:32: program.audio.commentary_gain_db: expected a number, got a string "
               "\"-6\"");
  expect_error(BASE "program:\n  audio: { commentary_gain_db: .nan }\n",
               "t.yaml:10:32: program.audio.commentary_gain_db: expected a number, got a string "
               "\".nan\"");
  expect_error(BASE "program:\n  audio: { commentary_db: 3 }\n",
               "t.yaml:10:12: program.audio.commentary_db: unknown key \"commentary_db\" (expected bitrate_kbps, "
               "commentary, commentary_gain_db)");
  expect_error(BASE "  - { id: commentary, source: test:// }\n"
                    "program:\n  audio: { commentary: test:// }\n",
               "t.yaml:11:24: program.audio.commentary: a station has the id \"commentary\", "
               "which names the commentary in the audio control command; rename the station");
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_contract_example),
    cmocka_unit_test(test_describe_has_no_secrets),
    cmocka_unit_test(test_env_substitution),
    cmocka_unit_test(test_missing_env),
    cmocka_unit_test(test_unknown_scheme_exact),
    cmocka_unit_test(test_source_forms),
    cmocka_unit_test(test_bad_yaml),
    cmocka_unit_test(test_empty_and_not_a_mapping),
    cmocka_unit_test(test_file_errors),
    cmocka_unit_test(test_unknown_keys),
    cmocka_unit_test(test_wrong_types),
    cmocka_unit_test(test_ids),
    cmocka_unit_test(test_ranges_and_enums),
    cmocka_unit_test(test_required_sections),
    cmocka_unit_test(test_relay_ignores_video_sections),
    cmocka_unit_test(test_redis_urls),
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_new_defaults),
    cmocka_unit_test(test_string_helpers),
    cmocka_unit_test(test_examples_load),
    cmocka_unit_test(test_describe_readable),
    cmocka_unit_test(test_commentary),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
