/* The GTID position parser on arbitrary text. */
#include "gtid.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct gtid_list l;
  int rc = gtid_list_parse(text, &l);
  if (rc != 0 && (rc != -EINVAL || l.n != 0))
    abort();
  gtid_list_clear(&l);
  free(text);
  return 0;
}
