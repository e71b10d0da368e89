/* Fuzz target: the YAML config loader. Any bytes in, a config or a clean
 * error out; never a crash, a leak or an unbounded allocation. */
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  ScConfig *c = sc_config_load_string ("fuzz.yaml", (const char *) data, size,
                                       size % 2 ? SC_CONFIG_FOR_RELAY : SC_CONFIG_FOR_RUN, &error);
  if (c) {
    char *text = sc_config_describe (c);
    g_free (text);
    sc_config_free (c);
  } else {
    g_assert (error != NULL && error->message != NULL);
    g_error_free (error);
  }
  return 0;
}
