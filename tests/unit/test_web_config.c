/* The web configuration (exporter-toolkit's format): TLS files, client auth, versions, bcrypt
 * users, http_server_config's headers and http2, and a clear FILE:LINE:COL error for each bad
 * input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
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

/* Like expect_error, for an error whose place depends on the text: only its message. */
static void expect_error_containing(const char *text, const char *message) {
  const char *path = write_file("bad.yml", text);
  struct web_config *w = NULL;
  char *error = NULL;
  assert_int_not_equal(web_config_load(path, &w, &error), 0);
  assert_null(w);
  assert_non_null(strstr(error, message));
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
               "2:3: tls_server_config: a certificate (cert_file or cert) and a key (key_file or "
               "key) are both required");
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
               "4:21: client_auth_type RequireAndVerifyClientCert needs client_ca_file or "
               "client_ca (the CA whose names replmon sends when it asks for a certificate)");
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  min_version: TLS14\n",
               "4:16: min_version: one of TLS10, TLS11, TLS12, TLS13");
  expect_error("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
               "  min_version: TLS13\n  max_version: TLS12\n",
               "5:16: max_version is below min_version");
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

/* Loads text (as web.yml), failing the test with the error if it is refused. */
static struct web_config *load_ok(const char *text) {
  const char *path = write_file("web.yml", text);
  struct web_config *w = NULL;
  char *error = NULL;
  if (web_config_load(path, &w, &error) != 0)
    fail_msg("%s", error);
  return w;
}

#define TLS_KEYS "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"

static void expect_priorities(const char *text, const char *priorities) {
  struct web_config *w = load_ok(text);
  assert_string_equal(w->priorities, priorities);
  web_config_free(w);
}

/* exporter-toolkit's cipher_suites and curve_preferences, as GnuTLS priorities. */
static void test_cipher_suites_and_curves(void **state) {
  (void)state;
  /* exporter-toolkit's web_config_noAuth_allCiphers.good.yml: with an RSA key, the RSA suites'
   * key exchange, and every cipher and MAC once. */
  expect_priorities(TLS_KEYS "  cipher_suites:\n"
                             "  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
                             "  - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n"
                             "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                             "  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n"
                             "  - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256\n"
                             "  - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n"
                             "  - TLS_AES_128_GCM_SHA256\n"
                             "  - TLS_AES_256_GCM_SHA384\n"
                             "  - TLS_CHACHA20_POLY1305_SHA256\n"
                             "  - TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA\n"
                             "  - TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA\n"
                             "  - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\n"
                             "  - TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:"
                    "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CBC:+AES-256-CBC:"
                    "-MAC-ALL:+AEAD:+SHA1");
  /* web_config_noAuth_someCiphers_noOrder.good.yml (prefer_server_cipher_suites is ignored,
   * as by Go since 1.17). */
  expect_priorities(TLS_KEYS "  cipher_suites:\n"
                             "  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n"
                             "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                             "  prefer_server_cipher_suites: false\n"
                             "  min_version: TLS12\n  max_version: TLS12\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-256-GCM:"
                    "+AES-128-GCM:-MAC-ALL:+AEAD");
  /* An ECDSA key takes the ECDHE_ECDSA suites; RSA key exchange is TLS_RSA_*. */
  expect_priorities("tls_server_config:\n  cert_file: ec-cert.pem\n  key_file: ec-key.pem\n"
                    "  max_version: TLS12\n  cipher_suites:\n"
                    "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                    "  - TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-256-CBC:"
                    "-MAC-ALL:+SHA1");
  expect_priorities(TLS_KEYS "  max_version: TLS12\n"
                             "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA:-CIPHER-ALL:+AES-128-CBC:"
                    "-MAC-ALL:+SHA1");
  /* As in Go, the suites do not touch TLS 1.3; an empty list keeps the defaults. */
  expect_priorities(TLS_KEYS "  min_version: TLS13\n"
                             "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.3");
  expect_priorities(TLS_KEYS "  cipher_suites: []\n  curve_preferences: []\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3");
  /* web_config_noAuth_allCurves.good.yml and someCurves, in the order given. */
  expect_priorities(TLS_KEYS "  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP256R1:"
                    "+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X25519");
  expect_priorities(TLS_KEYS "  min_version: TLS13\n  curve_preferences: [X25519, CurveP521]\n",
                    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP521R1");
}

static void test_cipher_suites_errors(void **state) {
  (void)state;
  expect_error(
      TLS_KEYS "  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048\n",
      "5:5: cipher_suites: unknown cipher suite 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048' "
      "(Go's names from tls.CipherSuites(), e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
  /* Go refuses the insecure ones too. */
  expect_error(TLS_KEYS "  cipher_suites: [TLS_RSA_WITH_3DES_EDE_CBC_SHA]\n",
               "4:19: cipher_suites: unknown cipher suite 'TLS_RSA_WITH_3DES_EDE_CBC_SHA' (Go's "
               "names from tls.CipherSuites(), e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
  expect_error(TLS_KEYS "  max_version: TLS12\n"
                        "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n",
               "5:18: cipher_suites: none of them can be served with the certificate's RSA key "
               "(GnuTLS cannot honour the list; name a suite for that key)");
  expect_error(TLS_KEYS "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
               "4:18: cipher_suites: GnuTLS applies these ciphers to TLS 1.3 too, and none of "
               "them is a TLS 1.3 cipher; add an AES-GCM or CHACHA20 suite, or set max_version: "
               "TLS12");
  expect_error(TLS_KEYS "  cipher_suites: TLS_AES_128_GCM_SHA256\n",
               "4:18: tls_server_config.cipher_suites: expected a list of strings");
  expect_error(TLS_KEYS "  curve_preferences:\n    - CurveP257\n",
               "5:7: curve_preferences: unknown curve 'CurveP257' (one of CurveP256, CurveP384, "
               "CurveP521, X25519)");
  expect_error(TLS_KEYS "  curve_preferences: [[X25519]]\n",
               "4:23: tls_server_config.curve_preferences: expected a list of strings");
  expect_error(TLS_KEYS "  prefer_server_cipher_suites: sometimes\n",
               "4:32: tls_server_config.prefer_server_cipher_suites: expected true or false");
}

/* cert, key and client_ca written in the file; client_allowed_sans. */
static void test_inline_pem_and_sans(void **state) {
  (void)state;
  char path[600];
  snprintf(path, sizeof(path), "%s/cert.pem", dir);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char cert[8192], key[8192], text[40000];
  size_t n = fread(cert, 1, sizeof(cert) - 1, f);
  cert[n] = '\0';
  fclose(f);
  snprintf(path, sizeof(path), "%s/key.pem", dir);
  f = fopen(path, "r");
  assert_non_null(f);
  n = fread(key, 1, sizeof(key) - 1, f);
  key[n] = '\0';
  fclose(f);
  /* As a YAML literal block: every line indented. */
  struct buf yaml = BUF_INIT;
  const char *parts[][2] = {{"cert", cert}, {"key", key}, {"client_ca", cert}};
  buf_puts(&yaml, "tls_server_config:\n");
  for (size_t i = 0; i < 3; i++) {
    buf_printf(&yaml, "  %s: |\n", parts[i][0]);
    for (const char *line = parts[i][1]; *line;) {
      const char *end = strchr(line, '\n');
      size_t len = end ? (size_t)(end - line) : strlen(line);
      buf_printf(&yaml, "    %.*s\n", (int)len, line);
      line += len + (end ? 1 : 0);
    }
  }
  buf_puts(&yaml, "  client_auth_type: RequireAndVerifyClientCert\n"
                  "  client_allowed_sans: [scraper.example, 10.0.0.7, \"spiffe://x/y\"]\n");
  snprintf(text, sizeof(text), "%s", yaml.data);
  buf_free(&yaml);
  struct web_config *w = load_ok(text);
  assert_true(w->tls);
  assert_string_equal(w->cert_pem, cert);
  assert_string_equal(w->key_pem, key);
  assert_string_equal(w->client_ca_pem, cert);
  assert_int_equal(w->client_auth, CLIENT_AUTH_REQUIRE_AND_VERIFY);
  assert_int_equal(w->n_allowed_sans, 3);
  const char *ok[] = {"other", "10.0.0.7"};
  const char *no[] = {"scraper.example.", "10.0.0.70", "spiffe://x"};
  assert_true(web_config_san_allowed(w, ok, 2));
  assert_false(web_config_san_allowed(w, no, 3));
  assert_false(web_config_san_allowed(w, NULL, 0));
  web_config_free(w);
  /* The older name RequireClientCert is RequireAnyClientCert: the certificate is asked for
   * but not verified, so names on it prove nothing and client_allowed_sans is refused. */
  char *unverified = strstr(text, "RequireAndVerifyClientCert");
  assert_non_null(unverified);
  memmove(unverified + strlen("RequireClientCert"),
          unverified + strlen("RequireAndVerifyClientCert"),
          strlen(unverified + strlen("RequireAndVerifyClientCert")) + 1);
  memcpy(unverified, "RequireClientCert", strlen("RequireClientCert"));
  expect_error_containing(text,
                          "client_allowed_sans: only checked on verified client certificates");
  *strstr(text, "  client_allowed_sans") = '\0';
  w = load_ok(text);
  assert_int_equal(w->client_auth, CLIENT_AUTH_REQUIRE_ANY);
  web_config_free(w);

  expect_error("tls_server_config:\n  cert_file: cert.pem\n  cert: x\n  key_file: key.pem\n",
               "3:9: tls_server_config: cert_file and cert both given; keep one");
  expect_error("tls_server_config:\n  cert: \"not pem\"\n  key_file: key.pem\n",
               "2:9: cert: not a PEM certificate: No certificate was found.");
  /* A notBefore GnuTLS cannot decode: refused before GnuTLS's key loader, which would leak it
   * (valgrind checks). */
  char bad_time[4096];
  snprintf(bad_time, sizeof(bad_time), "tls_server_config:\n  key_file: key.pem\n  cert: |\n%s",
           "    -----BEGIN CERTIFICATE-----\n"
           "    MIIBdDCCARugAwIBAgIUVpT0zCf9EUOoleIUBxzRxuVD2QYwCgYIKoZIzj0EAwIw\n"
           "    DzENMAsGA1UEAwwEZnV6ejAgFw0yNjEyMDUwMJ4MjETaGA8yMTI2MTExMTAyMTgx\n"
           "    MlowDzENMAsGA1UEAwwEZnV6ejBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGhF\n"
           "    /4jgjEF01dvh44QzeQ1UY6Fb033qt/S42lal01hnIiz9dD0ras35AuCaxwobvACL\n"
           "    XIy7P5EUGJZuOJJsJdejUzBRMB0GA1UdDgQWBBRLhkLG1wpwXTgSiPtOhGebMCHM\n"
           "    OTAfBgNVHSMEGDAWgBRLhkLGwpw1XTgSiPtOhGebMCHMOTAPBgNVHRMBAf8EBTAD\n"
           "    AQH/MAoGCCqGSM49BAMCA0cAMEQCIBQWuxrLmf30H9aqj7IrN45sCPTTR7wb7Ajb\n"
           "    ChL59BHQAiBkFVCj8Kk8yJc3S0DefOwi+DozKU8shgp1hvb5Voc9EA==\n"
           "    -----END CERTIFICATE-----\n");
  expect_error(bad_time, "3:9: cert: not a PEM certificate: The DER time encoding is invalid.");
  expect_error(TLS_KEYS "  client_allowed_sans: [a]\n",
               "4:24: client_allowed_sans: only checked on verified client certificates; set "
               "client_auth_type (RequireAndVerifyClientCert) and client_ca_file");
  expect_error(TLS_KEYS "  client_allowed_sans: [\"\"]\n",
               "4:25: tls_server_config.client_allowed_sans: expected a list of strings");
}

/* Files exporter-toolkit accepts that replmon refused before. */
static void test_toolkit_forms(void **state) {
  (void)state;
  /* web_config_noAuth.good.yml: no CA, so no certificate is asked for. */
  struct web_config *w = load_ok(TLS_KEYS "  client_auth_type: VerifyClientCertIfGiven\n");
  assert_int_equal(w->client_auth, CLIENT_AUTH_VERIFY_IF_GIVEN);
  assert_null(w->client_ca_pem);
  web_config_free(w);
  /* web_config_users_noTLS.good.yml */
  w = load_ok("basic_auth_users:\n");
  assert_int_equal(w->n_users, 0);
  web_config_free(w);
  expect_error(TLS_KEYS "  client_auth_type: RequireAnyClientCert\n",
               "4:21: client_auth_type RequireAnyClientCert needs client_ca_file or client_ca (the "
               "CA whose names replmon sends when it asks for a certificate)");
  expect_error(TLS_KEYS "  client_auth_type: VerifyClientCertIfGiven\n  client_allowed_sans: [a]\n",
               "5:24: client_allowed_sans: only checked on verified client certificates; set "
               "client_auth_type (RequireAndVerifyClientCert) and client_ca_file");
}

static void test_rate_limit(void **state) {
  (void)state;
  struct web_config *w = load_ok("rate_limit:\n  interval: \"1s\"\n  burst: 20\n");
  assert_true(w->rate_limit_interval_s == 1.0);
  assert_int_equal(w->rate_limit_burst, 20);
  web_config_free(w);
  w = load_ok("rate_limit: {interval: 100ms, burst: 1}\n");
  assert_true(w->rate_limit_interval_s == 0.1);
  web_config_free(w);
  /* exporter-toolkit's web_config_rate_limiter_nonblocking.yaml: no limit. */
  w = load_ok("rate_limit:\n  interval: 0\n  burst: 0\n");
  assert_true(w->rate_limit_interval_s == 0);
  web_config_free(w);
  expect_error("rate_limit:\n  interval: \"1s\"\n  burst: 0\n",
               "2:3: rate_limit: with burst 0 every request would be refused; set burst to 1 or "
               "more, or interval to 0");
  expect_error("rate_limit: {interval: 1 second, burst: 1}\n",
               "1:24: rate_limit.interval: a duration such as 1s or 100ms, or 0 (no limit)");
  expect_error("rate_limit: {interval: 1s, burst: -1}\n",
               "1:35: rate_limit.burst: a number of requests from 0 to 1000000");
  expect_error("rate_limit: {every: 1s}\n", "1:14: rate_limit: unknown key 'every'");
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
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
           "-keyout ec-key.pem -out ec-cert.pem -days 2 -subj /CN=localhost >/dev/null 2>&1",
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
      cmocka_unit_test(test_cipher_suites_and_curves),
      cmocka_unit_test(test_cipher_suites_errors),
      cmocka_unit_test(test_inline_pem_and_sans),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_toolkit_forms),
  };
  return cmocka_run_group_tests_name("web_config", tests, setup, teardown);
}
