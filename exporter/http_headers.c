#include "http_headers.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

struct http_headers *http_headers_new(const char *page_policy) {
  struct http_headers *h = calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  /* A browser must not guess another type than the one sent (a text/plain answer that
   * quotes a request must never run as HTML), and the addresses of replmon's pages, names
   * of nodes in them, stay out of the Referer of the links they hold. */
  static const char *const every[][2] = {{"X-Content-Type-Options", "nosniff"},
                                         {"Referrer-Policy", "no-referrer"}};
  bool ok = true;
  for (size_t i = 0; i < 2; i++) {
    ok = ok && add(&h->every, &h->n_every, every[i][0], every[i][1]);
    ok = ok && add(&h->page, &h->n_page, every[i][0], every[i][1]);
  }
  /* The page may not be framed (clickjacking) by browsers that know CSP or only the older
   * header. */
  ok = ok && add(&h->page, &h->n_page, "Content-Security-Policy", page_policy);
  ok = ok && add(&h->page, &h->n_page, "X-Frame-Options", "DENY");
  if (!ok) {
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
