/* Operator commands (CONTRACTS.md §4 /control, §5 POST /api/control).
 *
 * server/ has already checked the request's shape ({"id","cmd","args"});
 * here each command's args are checked for type and range and handed to the
 * module that owns the thing: layout/transition/audio -> mixer, overlay ->
 * overlay, output -> relay, announce -> the contest's stream (so every node
 * and every page sees it, in order with the judges' events). */
#include "app/app.h"

#include <math.h>
#include <string.h>


/* Reads an optional member of a given JSON type. Returns FALSE (with the
 * error set) if it is present with the wrong type. */
static gboolean
arg_string (JsonObject *args, const char *name, const char **out, char **error)
{
  *out = NULL;
  if (!args || !json_object_has_member (args, name))
    return TRUE;
  JsonNode *n = json_object_get_member (args, name);
  if (JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    *error = g_strdup_printf ("args.%s must be a string", name);
    return FALSE;
  }
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
arg_number (JsonObject *args, const char *name, double *out, gboolean *present, char **error)
{
  *present = FALSE;
  if (!args || !json_object_has_member (args, name))
    return TRUE;
  JsonNode *n = json_object_get_member (args, name);
  GType t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) {
    *error = g_strdup_printf ("args.%s must be a number", name);
    return FALSE;
  }
  *out = json_node_get_double (n);
  if (!isfinite (*out)) {
    *error = g_strdup_printf ("args.%s must be a finite number", name);
    return FALSE;
  }
  *present = TRUE;
  return TRUE;
}

static gboolean
arg_bool (JsonObject *args, const char *name, gboolean *out, gboolean *present, char **error)
{
  *present = FALSE;
  if (!args || !json_object_has_member (args, name))
    return TRUE;
  JsonNode *n = json_object_get_member (args, name);
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    *error = g_strdup_printf ("args.%s must be true or false", name);
    return FALSE;
  }
  *out = json_node_get_boolean (n);
  *present = TRUE;
  return TRUE;
}

static gboolean
need (gboolean present, const char *name, char **error)
{
  if (!present)
    *error = g_strdup_printf ("args.%s is required", name);
  return present;
}

static gboolean
from_gerror (gboolean ok, GError *gerror, char **error)
{
  if (!ok) {
    *error = g_strdup (gerror ? gerror->message : "failed");
    g_clear_error (&gerror);
  }
  return ok;
}

gboolean
sc_node_control (ScNode *node, const char *cmd, JsonObject *args, char **error)
{
  ScMixer *mixer = sc_node_mixer (node);
  GError *gerror = NULL;
  gboolean present;

  if (!mixer) {
    *error = g_strdup ("no program on this node");
    return FALSE;
  }

  if (!g_strcmp0 (cmd, "layout")) {
    const char *name, *station;
    if (!arg_string (args, "name", &name, error) || !need (name != NULL, "name", error)
        || !arg_string (args, "station", &station, error))
      return FALSE;
    g_autoptr (GPtrArray) list = NULL;
    if (args && json_object_has_member (args, "stations")) {
      JsonNode *n = json_object_get_member (args, "stations");
      if (!JSON_NODE_HOLDS_ARRAY (n)) {
        *error = g_strdup ("args.stations must be a list of station ids");
        return FALSE;
      }
      JsonArray *a = json_node_get_array (n);
      list = g_ptr_array_new ();
      for (guint i = 0; i < json_array_get_length (a); i++) {
        JsonNode *e = json_array_get_element (a, i);
        if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING) {
          *error = g_strdup ("args.stations must be a list of station ids");
          return FALSE;
        }
        g_ptr_array_add (list, (gpointer) json_node_get_string (e));
      }
      g_ptr_array_add (list, NULL);
    }
    return from_gerror (sc_mixer_set_layout (mixer, name, station,
                                             list ? (const char *const *) list->pdata : NULL,
                                             &gerror),
                        gerror, error);
  }

  if (!g_strcmp0 (cmd, "transition")) {
    const char *type;
    double ms = 0;
    if (!arg_string (args, "type", &type, error) || !need (type != NULL, "type", error)
        || !arg_number (args, "ms", &ms, &present, error))
      return FALSE;
    if (!present)
      ms = !g_strcmp0 (type, "fade") ? 500 : 0;
    if (ms != floor (ms)) {
      *error = g_strdup ("args.ms must be a whole number of milliseconds");
      return FALSE;
    }
    return from_gerror (sc_mixer_set_transition (mixer, type, (int) ms, &gerror), gerror, error);
  }

  if (!g_strcmp0 (cmd, "overlay")) {
    const char *name;
    gboolean visible;
    ScOverlayPart part;
    if (!arg_string (args, "name", &name, error) || !need (name != NULL, "name", error)
        || !arg_bool (args, "visible", &visible, &present, error)
        || !need (present, "visible", error))
      return FALSE;
    if (!sc_overlay_part_from_string (name, &part)) {
      *error = g_strdup_printf ("unknown overlay \"%s\" (expected scoreboard, clock, lowerthird, "
                                "leaderboard, live)",
                                name);
      return FALSE;
    }
    sc_overlay_set_visible (sc_node_overlay (node), part, visible);
    return TRUE;
  }

  if (!g_strcmp0 (cmd, "announce")) {
    const char *text;
    double ttl = 8000;
    if (!arg_string (args, "text", &text, error) || !need (text != NULL, "text", error)
        || !arg_number (args, "ttl_ms", &ttl, &present, error))
      return FALSE;
    if (!present)
      ttl = 8000;
    if (!*text || strlen (text) > SC_EVENT_FIELD_MAX) {
      *error = g_strdup ("args.text must be 1 to 4096 bytes");
      return FALSE;
    }
    if (ttl < 0 || ttl > 24.0 * 3600 * 1000 || ttl != floor (ttl)) {
      *error = g_strdup ("args.ttl_ms must be a whole number of milliseconds, 0 to 86400000");
      return FALSE;
    }
    g_autofree char *ttl_s = g_strdup_printf ("%.0f", ttl);
    char *fields[] = { "type", "announce", "text", (char *) text, "ttl_ms", ttl_s };
    return from_gerror (sc_scoreboard_append (sc_node_scoreboard (node), fields,
                                              G_N_ELEMENTS (fields), &gerror),
                        gerror, error);
  }

  if (!g_strcmp0 (cmd, "output")) {
    const char *id, *action;
    if (!arg_string (args, "id", &id, error) || !need (id != NULL, "id", error)
        || !arg_string (args, "action", &action, error) || !need (action != NULL, "action", error))
      return FALSE;
    return from_gerror (sc_relay_output_action (sc_node_relay (node), id, action, &gerror),
                        gerror, error);
  }

  if (!g_strcmp0 (cmd, "audio")) {
    const char *target;
    double gain = 0;
    gboolean mute = FALSE, has_gain, has_mute;
    if (!arg_string (args, "station", &target, error) || !need (target != NULL, "station", error)
        || !arg_number (args, "gain_db", &gain, &has_gain, error)
        || !arg_bool (args, "mute", &mute, &has_mute, error))
      return FALSE;
    if (!has_gain && !has_mute) {
      *error = g_strdup ("args.gain_db or args.mute is required");
      return FALSE;
    }
    return from_gerror (sc_mixer_set_audio (mixer, target, gain, has_gain, mute, has_mute,
                                            &gerror),
                        gerror, error);
  }

  *error = g_strdup_printf ("unknown command \"%s\" (expected layout, transition, overlay, "
                            "announce, output, audio)",
                            cmd ? cmd : "");
  return FALSE;
}
