/* Verification of the certificate chain an XMPP server presents, as RFC 6125 and RFC 7590
 * say XMPP uses it: the chain against a CA file or the system's trust store, and the name
 * against the XMPP domain (subjectAltName dNSName, wildcards as GnuTLS allows them, or the
 * XMPP forms id-on-xmppAddr and SRV-ID "_xmpp-client.DOMAIN" / "_xmpp-server.DOMAIN").
 * Pure: no I/O besides reading the CA file into a trust list, and the time is a parameter. */
#ifndef REPLMON_TLS_VERIFY_H
#define REPLMON_TLS_VERIFY_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <time.h>

/* Why a chain is not verified, one class per cause an operator acts on differently. When
 * several apply, the first in this order is reported (a chain nobody vouches for is not
 * worth naming as expired). */
enum tls_verify_reason {
  TLS_VERIFIED,
  TLS_REVOKED,
  TLS_INSECURE_ALGORITHM,
  TLS_SELF_SIGNED,    /* the server's own certificate signs itself and is not trusted */
  TLS_UNKNOWN_ISSUER, /* no trusted CA signed the chain */
  TLS_INVALID,        /* any other chain fault (bad signature, signer not a CA, ...) */
  TLS_EXPIRED,        /* a certificate of the chain is past its notAfter */
  TLS_NOT_YET_VALID,  /* a certificate of the chain is before its notBefore */
  TLS_WRONG_NAME,     /* the chain is good but names another domain */
  TLS_NO_CERTIFICATE, /* the server sent none, or none GnuTLS can read */
  TLS_REASON_COUNT
};

/* "verified", "revoked", "insecure algorithm", "self-signed", "unknown issuer", "invalid",
 * "expired", "not yet valid", "wrong name", "no certificate". */
const char *tls_verify_reason_name(enum tls_verify_reason reason);

/* Which XMPP service the certificate must name (the SRV-ID form differs). */
enum tls_service { TLS_SERVICE_C2S, TLS_SERVICE_S2S };

/* The trusted CAs. Owned by the caller; read-only once loaded, so it may be shared by
 * verifications that do not run at the same time. */
struct tls_trust;

/* Loads ca_file (PEM, one or more CAs) or, when ca_file is NULL, the system's trust store.
 * Returns 0, or a negative errno with a one-line reason in error. */
int tls_trust_load(const char *ca_file, struct tls_trust **out, char *error, size_t error_size);
/* tls_trust_free(NULL) is a no-op. */
void tls_trust_free(struct tls_trust *trust);

struct tls_verdict {
  enum tls_verify_reason reason;
  double leaf_expiry_unix;     /* the server's own certificate's notAfter; NaN when unreadable */
  double earliest_expiry_unix; /* the earliest notAfter of the chain as presented; NaN likewise */
  char detail[160];            /* GnuTLS's words for TLS_INVALID; empty otherwise */
};

/* Verifies the DER chain the server presented (its own certificate first) for domain and
 * service at time now; a NULL trust trusts nothing (the expiries are still read). Returns 0 with
 * *out filled (out->reason TLS_VERIFIED or why not), or -ENOMEM. */
int tls_verify_chain(const gnutls_datum_t *chain, size_t n, const struct tls_trust *trust,
                     const char *domain, enum tls_service service, time_t now,
                     struct tls_verdict *out);

#endif
