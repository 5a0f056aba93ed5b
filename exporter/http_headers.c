#include "http_headers.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends name: value to list (both copied); false when out of memory. */
static bool add(struct http_header **list, size_t *n, const char *name, const char *value) {
  struct http_header *grown = realloc(*list, (*n + 1) * sizeof(*grown));
  if (!grown)
    return false;
  *list = grown;
  grown[*n] = (struct http_header){strdup(name), strdup(value)};
  (*n)++;
  return grown[*n - 1].name && grown[*n - 1].value;
}

/* Appends the defaults to list, each unless configured names it, then the configured headers
 * that have a value. */
static bool build(struct http_header **list, size_t *count, const char *const (*defaults)[2],
                  size_t n_defaults, const struct web_header *configured, size_t n) {
  bool ok = true;
  for (size_t i = 0; i < n_defaults && ok; i++) {
    bool replaced = false;
    for (size_t j = 0; j < n && !replaced; j++)
      replaced = strcasecmp(configured[j].name, defaults[i][0]) == 0;
    if (!replaced)
      ok = add(list, count, defaults[i][0], defaults[i][1]);
  }
  for (size_t j = 0; j < n && ok; j++)
    if (*configured[j].value)
      ok = add(list, count, configured[j].name, configured[j].value);
  return ok;
}

struct http_headers *http_headers_new(const char *page_policy, const struct web_header *configured,
                                      size_t n) {
  struct http_headers *h = calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  /* A browser must not guess another type than the one sent (a text/plain answer that
   * quotes a request must never run as HTML), and the addresses of replmon's pages, names
   * of nodes in them, stay out of the Referer of the links they hold. The page may not be
   * framed (clickjacking), by browsers that know CSP or only the older header. */
  const char *const defaults[][2] = {{"X-Content-Type-Options", "nosniff"},
                                     {"Referrer-Policy", "no-referrer"},
                                     {"Content-Security-Policy", page_policy},
                                     {"X-Frame-Options", "DENY"}};
  if (!build(&h->every, &h->n_every, defaults, 2, configured, n) ||
      !build(&h->page, &h->n_page, defaults, 4, configured, n)) {
    http_headers_free(h);
    return NULL;
  }
  return h;
}

static void free_list(struct http_header *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].name);
    free(list[i].value);
  }
  free(list);
}

void http_headers_free(struct http_headers *headers) {
  if (!headers)
    return;
  free_list(headers->every, headers->n_every);
  free_list(headers->page, headers->n_page);
  free(headers);
}
