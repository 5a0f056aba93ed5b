/* The headers every HTTP answer carries (http_headers.c): replmon's defaults on every answer
 * and on the status page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_headers.h"

#include <stdio.h>
#include <string.h>

/* The headers of list, one "Name: value\n" line each, in order. */
static const char *lines(const struct http_header *list, size_t n) {
  static char text[1024];
  size_t used = 0;
  text[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int len = snprintf(text + used, sizeof(text) - used, "%s: %s\n", list[i].name, list[i].value);
    assert_true(len > 0 && (size_t)len < sizeof(text) - used);
    used += (size_t)len;
  }
  return text;
}

static void test_defaults(void **state) {
  (void)state;
  struct http_headers *h = http_headers_new("default-src 'none'");
  assert_non_null(h);
  assert_string_equal(lines(h->every, h->n_every), "X-Content-Type-Options: nosniff\n"
                                                   "Referrer-Policy: no-referrer\n");
  assert_string_equal(lines(h->page, h->n_page), "X-Content-Type-Options: nosniff\n"
                                                 "Referrer-Policy: no-referrer\n"
                                                 "Content-Security-Policy: default-src 'none'\n"
                                                 "X-Frame-Options: DENY\n");
  http_headers_free(h);
  http_headers_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
  };
  return cmocka_run_group_tests_name("http_headers", tests, NULL, NULL);
}
