/* libFuzzer target for the config loader: any bytes, as YAML, for both
 * purposes. Whatever the input, the loader returns a config or an error
 * (never both, never neither), frees everything, and describes what it
 * loaded.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_config  (-DSC_FUZZ=ON)
 *   make fuzz   (or build-fuzz/tests/fuzz/fuzz_config -max_total_time=60 tests/fuzz/corpus/config)
 */
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  /* What the seed corpus references, so fuzzing reaches past ${ENV}. */
  g_setenv("SRT_A01_PASS", "passphrase-01", TRUE);
  g_setenv("CDN_KEY", "k", TRUE);
  g_setenv("SRT_ID", "s", TRUE);
  g_setenv("REDIS_PASSWORD", "r", TRUE);
  g_setenv("SKILLCAST_OPERATOR_TOKEN", "o", TRUE);
  g_setenv("SKILLCAST_COMMENTATOR_TOKEN", "c", TRUE);
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  for (int purpose = SC_CONFIG_FOR_RUN; purpose <= SC_CONFIG_FOR_RELAY; purpose++) {
    GError *error = NULL;
    ScConfig *c = sc_config_load_string("fuzz.yaml", (const char *)data, size,
                                        (ScConfigPurpose)purpose, &error);
    if ((c == NULL) == (error == NULL))
      abort();
    if (c) {
      char *d = sc_config_describe(c);
      g_free(d);
      sc_config_free(c);
    } else {
      g_error_free(error);
    }
  }
  return 0;
}
