/* Certificate verification for XMPP (tls_verify.c) on the certificates of
 * tests/unit/data/tls/, made by make-certs.sh there with openssl: one per fault, and the
 * XMPP name forms (id-on-xmppAddr, SRV-ID) next to dNSName. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tls_verify.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOMAIN "chat.test"
/* 1 July 2030: after the certificates were made, before any of them expires (but
 * expired.pem's 2020 and not-yet-valid.pem's 2090). */
#define NOW ((time_t)1909094400)

struct chain {
  gnutls_datum_t der[4];
  size_t n;
};

/* The DER certificates of data/tls/NAME.pem, in file order. */
static struct chain load_chain(const char *name) {
  char path[256];
  snprintf(path, sizeof(path), "data/tls/%s.pem", name);
  gnutls_datum_t pem = {NULL, 0};
  if (gnutls_load_file(path, &pem) < 0)
    fail_msg("cannot read %s (run data/tls/make-certs.sh)", path);
  gnutls_x509_crt_t *certs = NULL;
  unsigned n = 0;
  assert_int_equal(gnutls_x509_crt_list_import2(&certs, &n, &pem, GNUTLS_X509_FMT_PEM, 0), 0);
  gnutls_free(pem.data);
  struct chain c = {.n = n};
  assert_true(n >= 1 && n <= 4);
  for (unsigned i = 0; i < n; i++) {
    assert_int_equal(gnutls_x509_crt_export2(certs[i], GNUTLS_X509_FMT_DER, &c.der[i]), 0);
    gnutls_x509_crt_deinit(certs[i]);
  }
  gnutls_free(certs);
  return c;
}

static void chain_free(struct chain *c) {
  for (size_t i = 0; i < c->n; i++)
    gnutls_free(c->der[i].data);
}

static struct tls_trust *trust_ca(void) {
  struct tls_trust *t = NULL;
  char error[256];
  assert_int_equal(tls_trust_load("data/tls/ca.pem", &t, error, sizeof(error)), 0);
  return t;
}

/* The reason certificate NAME gets for domain and service, trusting data/tls/ca.pem. */
static enum tls_verify_reason verdict_of(const char *name, const char *domain,
                                         enum tls_service service, struct tls_verdict *v) {
  struct tls_trust *t = trust_ca();
  struct chain c = load_chain(name);
  assert_int_equal(tls_verify_chain(c.der, c.n, t, domain, service, NOW, v), 0);
  chain_free(&c);
  tls_trust_free(t);
  return v->reason;
}

static enum tls_verify_reason reason_of(const char *name, const char *domain,
                                        enum tls_service service) {
  struct tls_verdict v;
  return verdict_of(name, domain, service, &v);
}

static time_t not_after(const char *name) {
  struct chain c = load_chain(name);
  gnutls_x509_crt_t crt;
  assert_int_equal(gnutls_x509_crt_init(&crt), 0);
  assert_int_equal(gnutls_x509_crt_import(crt, &c.der[0], GNUTLS_X509_FMT_DER), 0);
  time_t t = gnutls_x509_crt_get_expiration_time(crt);
  gnutls_x509_crt_deinit(crt);
  chain_free(&c);
  return t;
}

static void good_certificate_is_verified_for_both_services(void **state) {
  (void)state;
  struct tls_verdict v;
  assert_int_equal(verdict_of("good", DOMAIN, TLS_SERVICE_C2S, &v), TLS_VERIFIED);
  assert_string_equal(tls_verify_reason_name(v.reason), "verified");
  assert_true(v.leaf_expiry_unix == (double)not_after("good"));
  assert_true(v.earliest_expiry_unix == v.leaf_expiry_unix);
  assert_int_equal(reason_of("good", DOMAIN, TLS_SERVICE_S2S), TLS_VERIFIED);
  /* Names compare without regard to ASCII case. */
  assert_int_equal(reason_of("good", "Chat.TEST", TLS_SERVICE_C2S), TLS_VERIFIED);
}

static void wrong_name(void **state) {
  (void)state;
  struct tls_verdict v;
  assert_int_equal(verdict_of("wrong-name", DOMAIN, TLS_SERVICE_C2S, &v), TLS_WRONG_NAME);
  assert_string_equal(tls_verify_reason_name(v.reason), "wrong name");
  /* The expiry is read all the same. */
  assert_false(isnan(v.leaf_expiry_unix));
  assert_int_equal(reason_of("good", "other.test", TLS_SERVICE_C2S), TLS_WRONG_NAME);
  /* A subdomain is another name. */
  assert_int_equal(reason_of("good", "conference." DOMAIN, TLS_SERVICE_C2S), TLS_WRONG_NAME);
}

static void wildcard_covers_one_label(void **state) {
  (void)state;
  assert_int_equal(reason_of("wildcard", "conference." DOMAIN, TLS_SERVICE_C2S), TLS_VERIFIED);
  assert_int_equal(reason_of("wildcard", DOMAIN, TLS_SERVICE_C2S), TLS_WRONG_NAME);
  assert_int_equal(reason_of("wildcard", "a.b." DOMAIN, TLS_SERVICE_C2S), TLS_WRONG_NAME);
}

static void xmpp_addr_names_the_domain_for_both_services(void **state) {
  (void)state;
  assert_int_equal(reason_of("xmppaddr", DOMAIN, TLS_SERVICE_C2S), TLS_VERIFIED);
  assert_int_equal(reason_of("xmppaddr", DOMAIN, TLS_SERVICE_S2S), TLS_VERIFIED);
  assert_int_equal(reason_of("xmppaddr", "other.test", TLS_SERVICE_C2S), TLS_WRONG_NAME);
}

static void srv_id_names_the_domain_for_its_service_only(void **state) {
  (void)state;
  assert_int_equal(reason_of("srv-client", DOMAIN, TLS_SERVICE_C2S), TLS_VERIFIED);
  assert_int_equal(reason_of("srv-client", DOMAIN, TLS_SERVICE_S2S), TLS_WRONG_NAME);
  assert_int_equal(reason_of("srv-server", DOMAIN, TLS_SERVICE_S2S), TLS_VERIFIED);
  assert_int_equal(reason_of("srv-server", DOMAIN, TLS_SERVICE_C2S), TLS_WRONG_NAME);
  assert_int_equal(reason_of("srv-server", "other.test", TLS_SERVICE_S2S), TLS_WRONG_NAME);
}

static void expired_and_not_yet_valid(void **state) {
  (void)state;
  struct tls_verdict v;
  assert_int_equal(verdict_of("expired", DOMAIN, TLS_SERVICE_C2S, &v), TLS_EXPIRED);
  assert_string_equal(tls_verify_reason_name(v.reason), "expired");
  assert_true(v.leaf_expiry_unix == 1580515200.0); /* 2020-02-01T00:00:00Z */
  assert_int_equal(verdict_of("not-yet-valid", DOMAIN, TLS_SERVICE_C2S, &v), TLS_NOT_YET_VALID);
  assert_string_equal(tls_verify_reason_name(v.reason), "not yet valid");
  /* The time is the caller's: in 2090 the first is valid, in 2020 the other. */
  struct tls_trust *t = trust_ca();
  struct chain c = load_chain("not-yet-valid");
  assert_int_equal(
      tls_verify_chain(c.der, c.n, t, DOMAIN, TLS_SERVICE_C2S, (time_t)3786912000 + 86400, &v), 0);
  assert_int_equal(v.reason, TLS_VERIFIED);
  chain_free(&c);
  c = load_chain("expired");
  assert_int_equal(tls_verify_chain(c.der, c.n, t, DOMAIN, TLS_SERVICE_C2S, (time_t)1578000000, &v),
                   0);
  assert_int_equal(v.reason, TLS_VERIFIED);
  chain_free(&c);
  tls_trust_free(t);
}

static void untrusted_issuers(void **state) {
  (void)state;
  struct tls_verdict v;
  assert_int_equal(verdict_of("other-ca-leaf", DOMAIN, TLS_SERVICE_C2S, &v), TLS_UNKNOWN_ISSUER);
  assert_string_equal(tls_verify_reason_name(v.reason), "unknown issuer");
  assert_int_equal(verdict_of("self-signed", DOMAIN, TLS_SERVICE_C2S, &v), TLS_SELF_SIGNED);
  assert_string_equal(tls_verify_reason_name(v.reason), "self-signed");
  /* A self-signed certificate the operator trusts is verified. */
  struct tls_trust *t = NULL;
  char error[256];
  assert_int_equal(tls_trust_load("data/tls/self-signed.pem", &t, error, sizeof(error)), 0);
  struct chain c = load_chain("self-signed");
  assert_int_equal(tls_verify_chain(c.der, c.n, t, DOMAIN, TLS_SERVICE_C2S, NOW, &v), 0);
  assert_int_equal(v.reason, TLS_VERIFIED);
  chain_free(&c);
  tls_trust_free(t);
}

static void intermediate_chain_and_its_earliest_expiry(void **state) {
  (void)state;
  struct tls_verdict v;
  /* Without its intermediate the leaf chains to nothing the client knows. */
  assert_int_equal(verdict_of("chained", DOMAIN, TLS_SERVICE_C2S, &v), TLS_UNKNOWN_ISSUER);
  assert_int_equal(verdict_of("chained-full", DOMAIN, TLS_SERVICE_C2S, &v), TLS_VERIFIED);
  assert_true(v.leaf_expiry_unix == (double)not_after("chained"));
  /* The intermediate expires ten years before the leaf: the chain's earliest notAfter. */
  assert_true(v.earliest_expiry_unix == (double)not_after("inter"));
  assert_true(v.earliest_expiry_unix < v.leaf_expiry_unix);
}

/* A certificate sent after the path to the trusted CA (a stale cross-sign, a leftover
 * intermediate) does not make the chain expired, but its expiry still counts as the chain's
 * earliest, as blackbox_exporter counts it. */
static void expired_certificate_off_the_path_is_ignored(void **state) {
  (void)state;
  struct tls_trust *t = trust_ca();
  struct chain full = load_chain("chained-full"), stale = load_chain("expired");
  gnutls_datum_t der[4];
  size_t n = 0;
  for (size_t i = 0; i < full.n; i++)
    der[n++] = full.der[i];
  der[n++] = stale.der[0];
  struct tls_verdict v;
  assert_int_equal(tls_verify_chain(der, n, t, DOMAIN, TLS_SERVICE_C2S, NOW, &v), 0);
  assert_int_equal(v.reason, TLS_VERIFIED);
  assert_true(v.earliest_expiry_unix == (double)not_after("expired"));
  /* On the path it still counts: the expired leaf followed by a good one. */
  struct chain good = load_chain("good");
  der[0] = stale.der[0];
  der[1] = good.der[0];
  assert_int_equal(tls_verify_chain(der, 2, t, DOMAIN, TLS_SERVICE_C2S, NOW, &v), 0);
  assert_int_not_equal(v.reason, TLS_VERIFIED);
  chain_free(&good);
  chain_free(&stale);
  chain_free(&full);
  tls_trust_free(t);
}

static void no_or_unreadable_certificate(void **state) {
  (void)state;
  struct tls_trust *t = trust_ca();
  struct tls_verdict v;
  assert_int_equal(tls_verify_chain(NULL, 0, t, DOMAIN, TLS_SERVICE_C2S, NOW, &v), 0);
  assert_int_equal(v.reason, TLS_NO_CERTIFICATE);
  assert_true(isnan(v.leaf_expiry_unix) && isnan(v.earliest_expiry_unix));
  unsigned char junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  gnutls_datum_t bad = {junk, sizeof(junk)};
  assert_int_equal(tls_verify_chain(&bad, 1, t, DOMAIN, TLS_SERVICE_C2S, NOW, &v), 0);
  assert_int_equal(v.reason, TLS_NO_CERTIFICATE);
  assert_string_equal(tls_verify_reason_name(v.reason), "no certificate");
  tls_trust_free(t);
}

static void trust_load_errors_name_the_file(void **state) {
  (void)state;
  struct tls_trust *t = NULL;
  char error[256];
  assert_int_equal(tls_trust_load("data/tls/missing.pem", &t, error, sizeof(error)), -EINVAL);
  assert_null(t);
  assert_non_null(strstr(error, "data/tls/missing.pem"));
  /* A key is not a CA. */
  assert_int_equal(tls_trust_load("data/tls/ca.key", &t, error, sizeof(error)), -EINVAL);
  assert_non_null(strstr(error, "data/tls/ca.key"));
  tls_trust_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_certificate_is_verified_for_both_services),
      cmocka_unit_test(wrong_name),
      cmocka_unit_test(wildcard_covers_one_label),
      cmocka_unit_test(xmpp_addr_names_the_domain_for_both_services),
      cmocka_unit_test(srv_id_names_the_domain_for_its_service_only),
      cmocka_unit_test(expired_and_not_yet_valid),
      cmocka_unit_test(untrusted_issuers),
      cmocka_unit_test(intermediate_chain_and_its_earliest_expiry),
      cmocka_unit_test(expired_certificate_off_the_path_is_ignored),
      cmocka_unit_test(no_or_unreadable_certificate),
      cmocka_unit_test(trust_load_errors_name_the_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
