/* control — parsing /control requests and writing acks. Pure functions:
 * no server state, so a fuzzer can drive them directly. */
#include <string.h>
#include "server/server-private.h"

G_DEFINE_QUARK (sc - server - error - quark, sc_server_error)

/* json-glib's parser recurses once per nesting level; a 64 KiB request of
 * '[' would take it 64k frames deep. Measure the depth first, outside
 * strings, and refuse what is deeper than any real command needs. */
static gboolean
depth_ok (const char *data, gsize len, int max_depth)
{
  int depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = data[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
      continue;
    }
    switch (c) {
    case '"':
      in_string = TRUE;
      break;
    case '[':
    case '{':
      if (++depth > max_depth)
        return FALSE;
      break;
    case ']':
    case '}':
      depth--;
      break;
    default:
      break;
    }
  }
  return TRUE;
}

/* json-glib also takes escapes JSON does not have (GScanner's octal
 * "\\666"), which can decode to bytes that are not UTF-8 although the
 * request itself is. Every member name and string, at any depth (the
 * depth is bounded before parsing), must be UTF-8: ids are echoed in
 * acks, and the rest goes to the mixer and the logs. */
static gboolean
strings_utf8 (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node)) {
  case JSON_NODE_OBJECT: {
    JsonObjectIter it;
    const char *name;
    JsonNode *member;
    json_object_iter_init (&it, json_node_get_object (node));
    while (json_object_iter_next (&it, &name, &member))
      if (!g_utf8_validate (name, -1, NULL) || !strings_utf8 (member))
        return FALSE;
    return TRUE;
  }
  case JSON_NODE_ARRAY: {
    JsonArray *a = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (a); i++)
      if (!strings_utf8 (json_array_get_element (a, i)))
        return FALSE;
    return TRUE;
  }
  case JSON_NODE_VALUE:
    return json_node_get_value_type (node) != G_TYPE_STRING
           || g_utf8_validate (json_node_get_string (node), -1, NULL);
  default:
    return TRUE;
  }
}

gboolean
sc_server_parse_control (const char *data, gsize len, ScServerControlRequest *request,
                         GError **error)
{
  memset (request, 0, sizeof *request);
  if (!data || len == 0) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "empty request");
    return FALSE;
  }
  if (len > SC_SERVER_MAX_BODY) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "request over 64 KiB");
    return FALSE;
  }
  if (!g_utf8_validate_len (data, len, NULL)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "request is not UTF-8");
    return FALSE;
  }
  if (!depth_ok (data, len, SC_SERVER_MAX_JSON_DEPTH)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "request nested too deeply");
    return FALSE;
  }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) parse_error = NULL;
  if (!json_parser_load_from_data (parser, data, (gssize)len, &parse_error)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "request is not JSON");
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "request is not a JSON object");
    return FALSE;
  }
  if (!strings_utf8 (root)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST,
                 "request has a string that is not UTF-8 once unescaped (only JSON's escapes)");
    return FALSE;
  }
  JsonObject *obj = json_node_get_object (root);

  JsonNode *id = json_object_get_member (obj, "id");
  if (id && JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_STRING)
    request->id = g_strdup (json_node_get_string (id));
  if (!request->id) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST,
                 id ? "\"id\" must be a string" : "missing \"id\"");
    return FALSE;
  }

  JsonNode *cmd = json_object_get_member (obj, "cmd");
  if (!cmd || !JSON_NODE_HOLDS_VALUE (cmd) || json_node_get_value_type (cmd) != G_TYPE_STRING
      || !*json_node_get_string (cmd)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST,
                 cmd ? "\"cmd\" must be a non-empty string" : "missing \"cmd\"");
    return FALSE;
  }
  request->cmd = g_strdup (json_node_get_string (cmd));

  JsonNode *args = json_object_get_member (obj, "args");
  if (args && !JSON_NODE_HOLDS_OBJECT (args)) {
    g_set_error (error, SC_SERVER_ERROR, SC_SERVER_ERROR_REQUEST, "\"args\" must be an object");
    return FALSE;
  }
  request->args = args ? json_object_ref (json_node_get_object (args)) : json_object_new ();
  return TRUE;
}

void
sc_server_control_request_clear (ScServerControlRequest *request)
{
  g_clear_pointer (&request->id, g_free);
  g_clear_pointer (&request->cmd, g_free);
  g_clear_pointer (&request->args, json_object_unref);
}

char *
sc_server_control_ack (const char *id, gboolean ok, const char *error_message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "ack");
  json_builder_set_member_name (b, "id");
  if (id)
    json_builder_add_string_value (b, id);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, ok);
  if (!ok) {
    json_builder_set_member_name (b, "error");
    json_builder_add_string_value (b, error_message ? error_message : "failed");
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}
