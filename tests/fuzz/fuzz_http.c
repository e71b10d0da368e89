/* Fuzz target: how a request path becomes a file. Any bytes as the path
 * below the web root; the answer is NULL or a regular file whose real path
 * lies inside the root — never the secret file next to it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include "server/server-private.h"

static char *root, *root_real;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* base/ holds secret.txt; base/web/ is the root with a page and a
   * symlink pointing out of it. */
  char *base = g_dir_make_tmp ("skillcast-fuzz-http-XXXXXX", NULL);
  root = g_build_filename (base, "web", NULL);
  char *static_dir = g_build_filename (root, "static", NULL);
  g_mkdir_with_parents (static_dir, 0755);
  char *f = g_build_filename (base, "secret.txt", NULL);
  g_file_set_contents (f, "secret", -1, NULL);
  char *page = g_build_filename (root, "index.html", NULL);
  g_file_set_contents (page, "<html></html>", -1, NULL);
  char *css = g_build_filename (static_dir, "a.css", NULL);
  g_file_set_contents (css, "p{}", -1, NULL);
  char *link = g_build_filename (static_dir, "out", NULL);
  if (symlink (f, link) != 0)
    abort ();
  root_real = realpath (root, NULL);
  g_free (base), g_free (static_dir), g_free (f), g_free (page), g_free (css), g_free (link);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *rel = g_strndup ((const char *) data, size);
  char *path = sc_server_resolve_file (root, rel);
  if (path) {
    char *real = realpath (path, NULL);
    g_assert (real != NULL);
    g_assert (g_str_has_prefix (real, root_real) && real[strlen (root_real)] == '/');
    g_assert (g_file_test (real, G_FILE_TEST_IS_REGULAR));
    free (real);
    sc_server_content_type (path);
  }
  g_free (path);
  g_free (rel);
  return 0;
}
