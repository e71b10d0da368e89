/* The command line as a user meets it: help, version, exit codes, and
 * `skillcast check` pointing at the line and column of a bad value. */
#include "tests/lib/testlib.h"

#include <string.h>

static int
run_skillcast (const char *a1, const char *a2, const char *a3, char **out, char **err)
{
  char *argv[] = { (char *) sc_test_skillcast_bin (), (char *) a1, (char *) a2, (char *) a3, NULL };
  return sc_test_run (argv, 20000, out, err);
}

static char *
write_file (const char *dir, const char *name, const char *text)
{
  char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_help_version (void **state)
{
  char *out = NULL, *err = NULL;
  assert_int_equal (run_skillcast ("--version", NULL, NULL, &out, &err), 0);
  assert_non_null (strstr (out, "skillcast "));
  g_free (out), g_free (err);
  assert_int_equal (run_skillcast ("--help", NULL, NULL, &out, &err), 0);
  for (const char *cmd = "run\0relay\0demo\0check\0score\0"; *cmd; cmd += strlen (cmd) + 1)
    assert_non_null (strstr (out, cmd));
  g_free (out), g_free (err);
  assert_int_equal (run_skillcast ("score", "--help", NULL, &out, &err), 0);
  assert_non_null (strstr (out, "--penalty"));
  g_free (out), g_free (err);
  assert_int_equal (run_skillcast ("frobnicate", NULL, NULL, &out, &err), 2);
  assert_non_null (strstr (err, "unknown command"));
  g_free (out), g_free (err);
  assert_int_equal (run_skillcast (NULL, NULL, NULL, &out, &err), 2);
  g_free (out), g_free (err);
  assert_int_equal (run_skillcast ("run", NULL, NULL, &out, &err), 2);
  g_free (out), g_free (err);
}

static const char *good_yaml =
  "contest:\n"
  "  id: zz2026-cnc\n"
  "  title: \"技能天下 · 数控车工决赛\"\n"
  "redis:\n"
  "  url: redis://127.0.0.1:6379/0\n"
  "stations:\n"
  "  - id: A01\n"
  "    name: \"张伟\"\n"
  "    source: \"srt://:9001?passphrase=${SC_TEST_SECRET_PASS}\"\n"
  "  - id: A02\n"
  "    source: \"test://smpte\"\n"
  "  - id: A03\n"
  "    source: \"rtp2://10.0.0.5:9000\"\n";

static void
test_check (void **state)
{
  char *dir = sc_test_tmpdir ();
  g_setenv ("SC_TEST_SECRET_PASS", "hunter2-very-secret", TRUE);

  /* Line 13 holds `    source: "rtp2://..."`: the value starts at column 13. */
  char *bad = write_file (dir, "contest.yaml", good_yaml);
  char *out = NULL, *err = NULL;
  assert_int_equal (run_skillcast ("check", bad, NULL, &out, &err), 2);
  g_autofree char *want = g_strdup_printf ("%s:13:13: stations[2].source: unknown scheme \"rtp2\"", bad);
  if (!strstr (err, want))
    fail_msg ("expected \"%s\" in: %s", want, err);
  g_free (out), g_free (err);

  /* The same file with a good scheme is valid, and the secret is not printed. */
  GString *fixed = g_string_new (good_yaml);
  g_string_replace (fixed, "rtp2://10.0.0.5:9000", "test://ball", 1);
  char *good = write_file (dir, "good.yaml", fixed->str);
  g_string_free (fixed, TRUE);
  assert_int_equal (run_skillcast ("check", good, NULL, &out, &err), 0);
  assert_null (strstr (out, "hunter2"));
  assert_non_null (strstr (out, "A03"));
  g_free (out), g_free (err);

  /* A missing secret is a config error at its value. */
  g_unsetenv ("SC_TEST_SECRET_PASS");
  assert_int_equal (run_skillcast ("check", good, NULL, &out, &err), 2);
  assert_non_null (strstr (err, "SC_TEST_SECRET_PASS"));
  assert_non_null (strstr (err, ":9:"));
  g_free (out), g_free (err);

  /* Unknown key: reported at the key. */
  char *unk = write_file (dir, "unknown.yaml",
                          "contest:\n  id: x\n  title: t\n  colour: red\nredis:\n  url: "
                          "redis://127.0.0.1/0\nstations:\n  - id: A01\n    source: test://ball\n");
  assert_int_equal (run_skillcast ("check", unk, NULL, &out, &err), 2);
  assert_non_null (strstr (err, ":4:3: contest.colour"));
  g_free (out), g_free (err);

  /* Not YAML, and no file at all. */
  char *junk = write_file (dir, "junk.yaml", "contest: [unclosed\n  - {\n");
  assert_int_equal (run_skillcast ("check", junk, NULL, &out, &err), 2);
  g_free (out), g_free (err);
  assert_int_equal (run_skillcast ("check", "/nonexistent/contest.yaml", NULL, &out, &err), 2);
  assert_non_null (strstr (err, "/nonexistent/contest.yaml"));
  g_free (out), g_free (err);

  /* Bad score arguments never reach Redis. */
  assert_int_equal (run_skillcast ("score", "--config", good, &out, &err), 2);
  g_free (out), g_free (err);

  g_free (bad), g_free (good), g_free (unk), g_free (junk);
  sc_test_rmrf (dir);
  g_free (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_help_version),
    cmocka_unit_test (test_check),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
