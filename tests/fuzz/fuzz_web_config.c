/* The web configuration parser on arbitrary files. */
#include "web_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0])
    snprintf(path, sizeof(path), "/tmp/replmon-fuzz-web-%d.yml", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  struct web_config *w = NULL;
  char *error = NULL;
  if (web_config_load(path, &w, &error) == 0) {
    if (error || !w)
      abort();
    web_config_check_password(w, "prometheus", "x");
    web_config_free(w);
  } else if (!error || strchr(error, '\n')) {
    abort();
  }
  free(error);
  return 0;
}
