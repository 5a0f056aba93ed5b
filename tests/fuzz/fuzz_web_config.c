/* The web configuration parser on arbitrary files, and the headers of every answer built from
 * what it accepts. */
#include "http_headers.h"
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
    struct http_headers *h = http_headers_new("default-src 'none'", w->headers, w->n_headers);
    for (size_t i = 0; h && i < h->n_every; i++)
      if (!*h->every[i].value || strpbrk(h->every[i].value, "\r\n"))
        abort(); /* an empty header, or one that would end the line */
    http_headers_free(h);
    web_config_free(w);
  } else if (!error || strchr(error, '\n')) {
    abort();
  }
  free(error);
  return 0;
}
