/* The web configuration (exporter-toolkit's format): TLS files, client auth, versions, bcrypt
 * users, http_server_config's headers and http2, and a clear FILE:LINE:COL error for each bad
 * input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "web_config.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/replmon-test-web-XXXXXX";
static char hash[128];

static const char *write_file(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void expect_error(const char *text, const char *message) {
  const char *path = write_file("bad.yml", text);
  struct web_config *w = NULL;
  char *error = NULL;
  assert_int_not_equal(web_config_load(path, &w, &error), 0);
  assert_null(w);
  char expected[1024];
  snprintf(expected, sizeof(expected), "%s:%s", path, message);
  assert_string_equal(error, expected);
  free(error);
}

static void test_tls_and_users(void **state) {
  (void)state;
  char text[512];
  snprintf(text, sizeof(text),
           "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
           "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: cert.pem\n"
           "  min_version: TLS13\nbasic_auth_users:\n  prom: %s\n",
           hash);
  const char *path = write_file("web.yml", text);
  struct web_config *w = NULL;
  char *error = NULL;
  if (web_config_load(path, &w, &error) != 0)
    fail_msg("%s", error);
  assert_true(w->tls);
  assert_int_equal(w->client_auth, CLIENT_AUTH_REQUIRE_AND_VERIFY);
  assert_string_equal(w->priorities, "NORMAL:-VERS-ALL:+VERS-TLS1.3");
  assert_int_equal(w->n_users, 1);
  assert_true(web_config_check_password(w, "prom", "s3cret"));
  assert_false(web_config_check_password(w, "prom", "s3cret "));
  assert_false(web_config_check_password(w, "other", "s3cret"));
  web_config_free(w);
  /* An empty file: no TLS, no users. */
  path = write_file("empty.yml", "");
  assert_int_equal(web_config_load(path, &w, &error), 0);
  assert_false(w->tls);
  assert_int_equal(w->n_users, 0);
  web_config_free(w);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("tls_server_config:\n  cert_file: cert.pem\n",
               "2:3: tls_server_config: cert_file and key_file are both required");
  char missing[700];
  snprintf(missing, sizeof(missing),
           "3:13: key_file: cannot read '%s/missing.pem': No such file or directory", dir);
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: missing.pem\n", missing);
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: cert.pem\n",
               "2:14: cert_file/key_file: not a matching PEM certificate and key: "
               "The requested data were not available.");
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  client_auth_type: Sometimes\n",
               "4:21: client_auth_type: one of NoClientCert, RequestClientCert, "
               "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert");
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  client_auth_type: RequireAndVerifyClientCert\n",
               "4:21: client_auth_type RequireAndVerifyClientCert needs client_ca_file");
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  min_version: TLS14\n",
               "4:16: min_version: one of TLS10, TLS11, TLS12, TLS13");
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  min_version: TLS13\n  max_version: TLS12\n",
               "5:16: max_version is below min_version");
  expect_error("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
               "2:3: tls_server_config: 'cipher_suites' is not supported by replmon (GnuTLS's "
               "defaults apply); remove it");
  expect_error("basic_auth_users:\n  prom: plaintext\n",
               "2:9: basic_auth_users.prom: expected a bcrypt hash ($2y$..., 60 characters; make "
               "one with htpasswd -nBC 10 \"\")");
  expect_error("tls_config: {}\n", "1:1: web configuration: unknown key 'tls_config'");
}

static void test_http_server_config(void **state) {
  (void)state;
  const char *path = write_file(
      "http.yml", "http_server_config:\n"
                  "  http2: true\n"
                  "  headers:\n"
                  "    Content-Security-Policy: \"default-src 'self'; frame-ancestors 'none'\"\n"
                  "    X-Frame-Options: sameorigin\n"
                  "    X-Content-Type-Options: nosniff\n"
                  "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n"
                  "    X-XSS-Protection: \"\"\n");
  struct web_config *w = NULL;
  char *error = NULL;
  if (web_config_load(path, &w, &error) != 0)
    fail_msg("%s", error);
  assert_true(w->http2);
  assert_false(w->tls);
  assert_int_equal(w->n_headers, 5);
  static const char *const expected[][2] = {
      {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
      {"X-Frame-Options", "sameorigin"},
      {"X-Content-Type-Options", "nosniff"},
      {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
      {"X-XSS-Protection", ""}};
  for (size_t i = 0; i < 5; i++) {
    assert_string_equal(w->headers[i].name, expected[i][0]);
    assert_string_equal(w->headers[i].value, expected[i][1]);
  }
  web_config_free(w);

  path = write_file("http2.yml", "http_server_config: {http2: false, headers: {}}\n");
  assert_int_equal(web_config_load(path, &w, &error), 0);
  assert_false(w->http2);
  assert_int_equal(w->n_headers, 0);
  web_config_free(w);
}

static void test_http_server_config_errors(void **state) {
  (void)state;
  static const char settable[] =
      "cannot be set (exporter-toolkit's: Content-Security-Policy, Strict-Transport-Security, "
      "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection)";
  char message[512];
  snprintf(message, sizeof(message), "3:5: http_server_config.headers: 'Content-Type' %s",
           settable);
  expect_error("http_server_config:\n  headers:\n    Content-Type: text/html\n", message);
  /* Names as exporter-toolkit spells them: another case would fail there. */
  snprintf(message, sizeof(message),
           "3:5: http_server_config.headers: 'content-security-policy' %s", settable);
  expect_error("http_server_config:\n  headers:\n    content-security-policy: x\n", message);
  /* Not a token: refused by name like any other. */
  snprintf(message, sizeof(message), "3:5: http_server_config.headers: 'X Bad: y' %s", settable);
  expect_error("http_server_config:\n  headers:\n    \"X Bad: y\": z\n", message);
  /* CR, LF, NUL and other control characters would write into the answer's head. */
  expect_error("http_server_config:\n  headers:\n"
               "    Content-Security-Policy: \"default-src 'none'\\r\\nSet-Cookie: a=b\"\n",
               "3:30: http_server_config.headers.Content-Security-Policy: control character 0x0d "
               "in the value");
  expect_error("http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\nX: y\"\n",
               "3:23: http_server_config.headers.X-XSS-Protection: control character 0x0a in the "
               "value");
  expect_error("http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\0\"\n",
               "3:23: http_server_config.headers.X-XSS-Protection: control character 0x00 in the "
               "value");
  expect_error("http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\x7f\"\n",
               "3:23: http_server_config.headers.X-XSS-Protection: control character 0x7f in the "
               "value");
  /* The values exporter-toolkit restricts. */
  expect_error("http_server_config:\n  headers:\n    X-Frame-Options: DENY\n",
               "3:22: http_server_config.headers.X-Frame-Options: deny or sameorigin, not 'DENY'");
  expect_error("http_server_config:\n  headers:\n    X-Content-Type-Options: \"\"\n",
               "3:29: http_server_config.headers.X-Content-Type-Options: nosniff, not ''");
  expect_error("http_server_config:\n  headers:\n    X-XSS-Protection: [1]\n",
               "3:23: http_server_config.headers.X-XSS-Protection: expected a string");
  expect_error("http_server_config:\n  headers: [a]\n",
               "2:12: http_server_config.headers: expected a mapping of name: value");
  expect_error("http_server_config:\n  headers:\n    X-XSS-Protection: a\n"
               "    X-XSS-Protection: b\n",
               "4:5: http_server_config.headers: duplicate key 'X-XSS-Protection'");
  expect_error("http_server_config:\n  http2: yes\n",
               "2:10: http_server_config.http2: expected true or false");
  expect_error("http_server_config:\n  http3: true\n",
               "2:3: http_server_config: unknown key 'http3'");
  expect_error("http_server_config: true\n", "1:21: http_server_config: expected a mapping");
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir))
    return -1;
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
           "-days 2 -subj /CN=localhost >/dev/null 2>&1",
           dir);
  if (system(cmd) != 0)
    return -1;
  struct crypt_data data = {0};
  char salt[64];
  if (!crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)))
    return -1;
  const char *h = crypt_r("s3cret", salt, &data);
  if (!h || strlen(h) >= sizeof(hash))
    return -1;
  strcpy(hash, h);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tls_and_users),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_http_server_config),
      cmocka_unit_test(test_http_server_config_errors),
  };
  return cmocka_run_group_tests_name("web_config", tests, setup, teardown);
}
