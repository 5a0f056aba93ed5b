#include "tls_verify.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OID_SRV_NAME "1.3.6.1.5.5.7.8.7" /* id-on-dnsSRV (RFC 4985) */

struct tls_trust {
  gnutls_x509_trust_list_t list;
};

static const char *const reason_names[TLS_REASON_COUNT] = {
    [TLS_VERIFIED] = "verified",
    [TLS_REVOKED] = "revoked",
    [TLS_INSECURE_ALGORITHM] = "insecure algorithm",
    [TLS_SELF_SIGNED] = "self-signed",
    [TLS_UNKNOWN_ISSUER] = "unknown issuer",
    [TLS_INVALID] = "invalid",
    [TLS_EXPIRED] = "expired",
    [TLS_NOT_YET_VALID] = "not yet valid",
    [TLS_WRONG_NAME] = "wrong name",
    [TLS_NO_CERTIFICATE] = "no certificate",
};

const char *tls_verify_reason_name(enum tls_verify_reason reason) {
  return (unsigned)reason < TLS_REASON_COUNT ? reason_names[reason] : "unknown";
}

int tls_trust_load(const char *ca_file, struct tls_trust **out, char *error, size_t error_size) {
  *out = NULL;
  struct tls_trust *t = calloc(1, sizeof(*t));
  if (!t || gnutls_x509_trust_list_init(&t->list, 0) < 0) {
    free(t);
    snprintf(error, error_size, "out of memory");
    return -ENOMEM;
  }
  int n = ca_file ? gnutls_x509_trust_list_add_trust_file(t->list, ca_file, NULL,
                                                          GNUTLS_X509_FMT_PEM, 0, 0)
                  : gnutls_x509_trust_list_add_system_trust(t->list, 0, 0);
  if (n <= 0) {
    if (ca_file)
      snprintf(error, error_size, "%s: %s", ca_file,
               n < 0 ? gnutls_strerror(n) : "no CA certificate in it");
    else
      snprintf(error, error_size, "the system's trust store: %s",
               n < 0 ? gnutls_strerror(n) : "no CA certificate in it");
    tls_trust_free(t);
    return -EINVAL;
  }
  *out = t;
  return 0;
}

void tls_trust_free(struct tls_trust *trust) {
  if (!trust)
    return;
  gnutls_x509_trust_list_deinit(trust->list, 1);
  free(trust);
}

/* The text of a DER IA5String (an SRV-ID's value), possibly inside the [0] EXPLICIT tag of an
 * otherName value; NULL when it is something else. Points into der; *len is its length. */
static const unsigned char *ia5_string(const unsigned char *der, size_t size, size_t *len) {
  for (int depth = 0; depth < 2; depth++) {
    if (size < 2)
      return NULL;
    unsigned char tag = der[0];
    size_t n = der[1], header = 2;
    if (n & 0x80) {
      size_t bytes = n & 0x7f;
      if (bytes == 0 || bytes > 2 || size < 2 + bytes)
        return NULL;
      n = 0;
      for (size_t i = 0; i < bytes; i++)
        n = (n << 8) | der[2 + i];
      header += bytes;
    }
    if (header + n > size)
      return NULL;
    if (tag == 0x16) {
      *len = n;
      return der + header;
    }
    if (tag != 0xa0)
      return NULL;
    der += header;
    size = n;
  }
  return NULL;
}

/* Whether text (len bytes) names domain exactly, ignoring ASCII case. */
static bool same_name(const char *text, size_t len, const char *prefix, const char *domain) {
  size_t p = strlen(prefix), d = strlen(domain);
  return len == p + d && strncasecmp(text, prefix, p) == 0 && strncasecmp(text + p, domain, d) == 0;
}

/* The XMPP identifiers RFC 7590 adds to dNSName: an id-on-xmppAddr equal to the domain, or
 * an SRV-ID for the service and the domain. Neither allows wildcards. */
static bool xmpp_name_matches(gnutls_x509_crt_t crt, const char *domain, enum tls_service service) {
  const char *srv = service == TLS_SERVICE_C2S ? "_xmpp-client." : "_xmpp-server.";
  for (unsigned i = 0;; i++) {
    unsigned char value[1024];
    size_t size = sizeof(value);
    unsigned type = 0;
    int g = gnutls_x509_crt_get_subject_alt_name2(crt, i, value, &size, &type, NULL);
    if (g == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
      return false;
    if (g < 0 || (type != GNUTLS_SAN_OTHERNAME && type != GNUTLS_SAN_OTHERNAME_XMPP))
      continue; /* too long for any domain, or another type */
    char oid[64];
    size_t oid_size = sizeof(oid);
    int kind = gnutls_x509_crt_get_subject_alt_othername_oid(crt, i, oid, &oid_size);
    if (kind == GNUTLS_SAN_OTHERNAME_XMPP) {
      /* GnuTLS decodes the xmppAddr's UTF8String (and says so in type). */
      if (same_name((const char *)value, strnlen((const char *)value, size), "", domain))
        return true;
    } else if (kind >= 0 && strcmp(oid, OID_SRV_NAME) == 0) {
      size_t len = 0;
      const unsigned char *text = ia5_string(value, size, &len);
      if (text && same_name((const char *)text, len, srv, domain))
        return true;
    }
  }
}

static bool name_matches(gnutls_x509_crt_t crt, const char *domain, enum tls_service service) {
  return gnutls_x509_crt_check_hostname2(crt, domain, GNUTLS_VERIFY_DO_NOT_ALLOW_IP_MATCHES) ||
         xmpp_name_matches(crt, domain, service);
}

/* The class of what GnuTLS found wrong with the chain's signatures and trust (times are
 * checked apart, against the caller's now). */
static enum tls_verify_reason chain_reason(unsigned status, gnutls_x509_crt_t leaf) {
  if (status & GNUTLS_CERT_REVOKED)
    return TLS_REVOKED;
  if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
    return TLS_INSECURE_ALGORITHM;
  if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
    return gnutls_x509_crt_check_issuer(leaf, leaf) ? TLS_SELF_SIGNED : TLS_UNKNOWN_ISSUER;
  return status ? TLS_INVALID : TLS_VERIFIED;
}

/* Whether a trusted CA issued cert (or it is one): the path to trust ends there. */
static bool issued_by_trusted(const struct tls_trust *trust, gnutls_x509_crt_t cert) {
  gnutls_x509_crt_t issuer = NULL; /* owned by the list */
  return trust && gnutls_x509_trust_list_get_issuer(trust->list, cert, &issuer, 0) >= 0;
}

int tls_verify_chain(const gnutls_datum_t *chain, size_t n, const struct tls_trust *trust,
                     const char *domain, enum tls_service service, time_t now,
                     struct tls_verdict *out) {
  *out = (struct tls_verdict){
      .reason = TLS_NO_CERTIFICATE, .leaf_expiry_unix = NAN, .earliest_expiry_unix = NAN};
  if (n == 0 || n > 16)
    return 0; /* none, or more than any real chain: nothing worth reading */
  gnutls_x509_crt_t certs[16] = {0};
  int rc = 0;
  size_t imported = 0;
  for (; imported < n; imported++) {
    if (gnutls_x509_crt_init(&certs[imported]) < 0) {
      rc = -ENOMEM;
      goto out;
    }
    if (gnutls_x509_crt_import(certs[imported], &chain[imported], GNUTLS_X509_FMT_DER) < 0) {
      imported++;
      goto out; /* unreadable: no certificate */
    }
  }
  bool expired = false, not_yet = false, on_path = true;
  for (size_t i = 0; i < n; i++) {
    time_t not_after = gnutls_x509_crt_get_expiration_time(certs[i]);
    time_t not_before = gnutls_x509_crt_get_activation_time(certs[i]);
    if (not_after == (time_t)-1 || not_before == (time_t)-1)
      goto out;
    if (i == 0)
      out->leaf_expiry_unix = (double)not_after;
    /* The earliest expiry is over the whole chain presented, as blackbox_exporter's is. */
    if (isnan(out->earliest_expiry_unix) || (double)not_after < out->earliest_expiry_unix)
      out->earliest_expiry_unix = (double)not_after;
    /* Only the certificates on the path to a trusted CA must be current: a stale
     * cross-sign or a leftover intermediate sent after it is ignored by clients too. */
    if (on_path) {
      expired |= now > not_after;
      not_yet |= now < not_before;
      on_path = !issued_by_trusted(trust, certs[i]) && i + 1 < n &&
                gnutls_x509_crt_check_issuer(certs[i], certs[i + 1]);
    }
  }
  /* GnuTLS checks times against the clock; the caller's now is checked above instead, so
   * that the verdict is a function of its inputs. */
  unsigned status = GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND; /* without trust */
  int g = !trust ? 0
                 : gnutls_x509_trust_list_verify_crt2(trust->list, certs, (unsigned)n, NULL, 0,
                                                      GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                                          GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
                                                      &status, NULL);
  if (g == GNUTLS_E_MEMORY_ERROR) {
    rc = -ENOMEM;
    goto out;
  }
  if (g < 0)
    status |= GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND;
  out->reason = chain_reason(status, certs[0]);
  if (out->reason == TLS_INVALID) {
    gnutls_datum_t text = {NULL, 0};
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) >= 0)
      snprintf(out->detail, sizeof(out->detail), "%s", (const char *)text.data);
    gnutls_free(text.data);
  }
  if (out->reason == TLS_VERIFIED && expired)
    out->reason = TLS_EXPIRED;
  else if (out->reason == TLS_VERIFIED && not_yet)
    out->reason = TLS_NOT_YET_VALID;
  else if (out->reason == TLS_VERIFIED && !name_matches(certs[0], domain, service))
    out->reason = TLS_WRONG_NAME;
out:
  for (size_t i = 0; i < imported; i++)
    gnutls_x509_crt_deinit(certs[i]);
  return rc;
}
