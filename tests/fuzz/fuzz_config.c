/* The configuration parser on arbitrary files: one clean error line or a valid config, never
 * a crash, a leak or a hang. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0])
    snprintf(path, sizeof(path), "/tmp/replmon-fuzz-config-%d.yml", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  /* Secrets named by environment: keep the lookups deterministic. */
  setenv("REPLMON_FUZZ_PW", "pw", 1);
  struct config *config = NULL;
  char *error = NULL;
  if (config_load(path, &config, &error) == 0) {
    if (error || !config || config->n_targets == 0)
      abort();
    config_unref(config);
  } else if (!error || strchr(error, '\n')) {
    abort(); /* every failure is one line */
  }
  free(error);
  return 0;
}
