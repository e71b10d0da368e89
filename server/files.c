/* files — mapping request paths to files under a root, safely. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "server/server-private.h"

char *
sc_server_resolve_file (const char *root, const char *rel)
{
  if (!root || !rel)
    return NULL;
  while (*rel == '/')
    rel++;
  if (!*rel || strlen (rel) > 1024)
    return NULL;
  /* Refuse rather than normalize: no legitimate page asks for these. lws
   * has already percent-decoded the path, so %2e%2e arrives here as "..". */
  for (const char *p = rel; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c < 0x20 || c == 0x7f || c == '\\')
      return NULL;
  }
  g_auto (GStrv) parts = g_strsplit (rel, "/", -1);
  for (guint i = 0; parts[i]; i++) {
    /* Empty segments ("a//b") are harmless; dot segments and hidden files
     * are not served. */
    if (parts[i][0] == '.')
      return NULL;
  }

  char root_real[PATH_MAX];
  if (!realpath (root, root_real))
    return NULL;
  g_autofree char *joined = g_build_filename (root_real, rel, NULL);
  char real[PATH_MAX];
  if (!realpath (joined, real))
    return NULL;
  gsize n = strlen (root_real);
  if (strncmp (real, root_real, n) != 0 || (real[n] != '/' && !(n == 1 && root_real[0] == '/')))
    return NULL;
  struct stat st;
  if (stat (real, &st) != 0 || !S_ISREG (st.st_mode))
    return NULL; /* directories are never listed */
  return g_strdup (real);
}

const char *
sc_server_content_type (const char *path)
{
  static const struct {
    const char *ext;
    const char *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".htm", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json; charset=utf-8" },
    { ".map", "application/json; charset=utf-8" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".jpg", "image/jpeg" },
    { ".jpeg", "image/jpeg" },
    { ".gif", "image/gif" },
    { ".webp", "image/webp" },
    { ".ico", "image/x-icon" },
    { ".woff", "font/woff" },
    { ".woff2", "font/woff2" },
    { ".ttf", "font/ttf" },
    { ".otf", "font/otf" },
    { ".wasm", "application/wasm" },
    { ".m3u8", "application/vnd.apple.mpegurl" },
    { ".ts", "video/mp2t" },
    { ".m4s", "video/iso.segment" },
    { ".mp4", "video/mp4" },
    { ".aac", "audio/aac" },
  };
  const char *dot = strrchr (path, '.');
  const char *slash = strrchr (path, '/');
  if (dot && (!slash || dot > slash)) {
    for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
      if (g_ascii_strcasecmp (dot, types[i].ext) == 0)
        return types[i].type;
  }
  return "application/octet-stream";
}
