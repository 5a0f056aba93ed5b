/* The headers every HTTP answer carries (http_headers.c): replmon's defaults on every answer
 * and on the status page, and those of the web configuration, which replace and add to them. */
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
  struct http_headers *h = http_headers_new("default-src 'none'", NULL, 0);
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

static void test_configured(void **state) {
  (void)state;
  struct web_header configured[] = {
      {"Content-Security-Policy", "default-src 'self'"},
      {"X-Frame-Options", "sameorigin"},
      {"Strict-Transport-Security", "max-age=31536000"},
  };
  struct http_headers *h = http_headers_new("default-src 'none'", configured, 3);
  assert_non_null(h);
  /* The file's headers go on every answer, and replace the defaults of their names. */
  assert_string_equal(lines(h->every, h->n_every), "X-Content-Type-Options: nosniff\n"
                                                   "Referrer-Policy: no-referrer\n"
                                                   "Content-Security-Policy: default-src 'self'\n"
                                                   "X-Frame-Options: sameorigin\n"
                                                   "Strict-Transport-Security: max-age=31536000\n");
  assert_string_equal(lines(h->page, h->n_page), "X-Content-Type-Options: nosniff\n"
                                                 "Referrer-Policy: no-referrer\n"
                                                 "Content-Security-Policy: default-src 'self'\n"
                                                 "X-Frame-Options: sameorigin\n"
                                                 "Strict-Transport-Security: max-age=31536000\n");
  http_headers_free(h);

  /* An empty value removes the header, the default included; names match in any case. */
  struct web_header removed[] = {
      {"content-security-policy", ""},
      {"X-XSS-Protection", ""},
      {"X-Content-Type-Options", "nosniff"},
  };
  h = http_headers_new("default-src 'none'", removed, 3);
  assert_non_null(h);
  assert_string_equal(lines(h->every, h->n_every), "Referrer-Policy: no-referrer\n"
                                                   "X-Content-Type-Options: nosniff\n");
  assert_string_equal(lines(h->page, h->n_page), "Referrer-Policy: no-referrer\n"
                                                 "X-Frame-Options: DENY\n"
                                                 "X-Content-Type-Options: nosniff\n");
  http_headers_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_configured),
  };
  return cmocka_run_group_tests_name("http_headers", tests, NULL, NULL);
}
