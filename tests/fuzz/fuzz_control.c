/* Fuzz target: the /control and POST /api/control request parser, and the
 * ack built from what it parsed. Any bytes in; a request or an error out,
 * an ack that is valid JSON either way, never a crash or a deep recursion. */
#include <stddef.h>
#include <stdint.h>
#include <json-glib/json-glib.h>
#include "server/server.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  ScServerControlRequest req = { 0 };
  GError *error = NULL;
  gboolean ok = sc_server_parse_control ((const char *) data, size, &req, &error);
  g_assert (ok ? error == NULL && req.cmd != NULL : error != NULL);
  char *ack = sc_server_control_ack (req.id, ok, error ? error->message : NULL);
  JsonParser *p = json_parser_new ();
  g_assert (json_parser_load_from_data (p, ack, -1, NULL));
  g_object_unref (p);
  g_free (ack);
  g_clear_error (&error);
  sc_server_control_request_clear (&req);
  return 0;
}
