/* TLS client certificates and basic auth (--web.config.file), checked before a request is
 * routed. */
#include "http_auth.h"
#include "buf.h"
#include "log.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE_SIZE 8

struct http_auth {
  pthread_mutex_t lock; /* guards web's users and the cache of accepted credentials */
  struct web_config *web;
  /* bcrypt takes milliseconds by design: accepted credentials are remembered by digest. */
  struct {
    unsigned char digest[32]; /* SHA-256 of "user\0password" */
    bool used;
  } cache[AUTH_CACHE_SIZE];
  unsigned next;
};

struct http_auth *http_auth_new(struct web_config *web) {
  struct http_auth *auth = calloc(1, sizeof(*auth));
  if (!auth) {
    web_config_free(web);
    return NULL;
  }
  pthread_mutex_init(&auth->lock, NULL);
  auth->web = web;
  return auth;
}

void http_auth_free(struct http_auth *auth) {
  if (!auth)
    return;
  web_config_free(auth->web);
  pthread_mutex_destroy(&auth->lock);
  free(auth);
}

static bool constant_equal(const unsigned char *a, const unsigned char *b, size_t n) {
  unsigned char diff = 0;
  for (size_t i = 0; i < n; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

static bool authorized(struct http_auth *auth, const char *user, const char *password) {
  struct buf both = BUF_INIT;
  buf_puts(&both, user);
  buf_putc(&both, '\0');
  buf_puts(&both, password);
  unsigned char digest[32];
  bool hashed =
      !both.failed && gnutls_hash_fast(GNUTLS_DIG_SHA256, both.data, both.len, digest) == 0;
  if (both.data)
    explicit_bzero(both.data, both.cap);
  buf_free(&both);
  pthread_mutex_lock(&auth->lock);
  bool ok = false;
  for (size_t i = 0; hashed && i < AUTH_CACHE_SIZE && !ok; i++)
    ok = auth->cache[i].used && constant_equal(auth->cache[i].digest, digest, 32);
  if (!ok && web_config_check_password(auth->web, user, password) && hashed) {
    ok = true;
    memcpy(auth->cache[auth->next].digest, digest, 32);
    auth->cache[auth->next].used = true;
    auth->next = (auth->next + 1) % AUTH_CACHE_SIZE;
  }
  pthread_mutex_unlock(&auth->lock);
  return ok;
}

/* Whether the client's certificate carries one of client_allowed_sans (as exporter-toolkit
 * compares them: DNS names, e-mail addresses, IP addresses and URIs, exactly). */
static bool allowed_san(const struct web_config *web, gnutls_session_t session) {
  unsigned n = 0;
  const gnutls_datum_t *certs = session ? gnutls_certificate_get_peers(session, &n) : NULL;
  gnutls_x509_crt_t crt;
  if (n == 0 || gnutls_x509_crt_init(&crt) < 0)
    return false;
  bool allowed = false;
  if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
    for (unsigned i = 0; !allowed; i++) {
      char name[1024];
      size_t size = sizeof(name) - 1;
      int type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &size, NULL);
      if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        break;
      if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
        continue; /* longer than any name worth allowing */
      if (type < 0)
        break;
      const char *text = name;
      char ip[INET6_ADDRSTRLEN];
      if (type == GNUTLS_SAN_IPADDRESS) {
        if (!inet_ntop(size == 4 ? AF_INET : AF_INET6, name, ip, sizeof(ip)) ||
            (size != 4 && size != 16))
          continue;
        text = ip;
      } else if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_RFC822NAME ||
                 type == GNUTLS_SAN_URI) {
        if (memchr(name, '\0', size))
          continue; /* a NUL inside would compare as a shorter name */
        name[size] = '\0';
      } else {
        continue;
      }
      allowed = web_config_san_allowed(web, &text, 1);
    }
  }
  gnutls_x509_crt_deinit(crt);
  return allowed;
}

enum http_auth_verdict http_auth_check(struct http_auth *auth, struct MHD_Connection *connection) {
  const struct web_config *web = auth->web; /* TLS settings never change while running */
  if (web && web->tls && web->client_auth != CLIENT_AUTH_NONE &&
      web->client_auth != CLIENT_AUTH_REQUEST) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = info ? (gnutls_session_t)info->tls_session : NULL;
    unsigned n = 0;
    if (session)
      gnutls_certificate_get_peers(session, &n);
    bool required = web->client_auth == CLIENT_AUTH_REQUIRE_ANY ||
                    web->client_auth == CLIENT_AUTH_REQUIRE_AND_VERIFY;
    bool verify = web->client_auth == CLIENT_AUTH_VERIFY_IF_GIVEN ||
                  web->client_auth == CLIENT_AUTH_REQUIRE_AND_VERIFY;
    unsigned status = 0;
    if ((required && n == 0) ||
        (verify && n > 0 && (gnutls_certificate_verify_peers2(session, &status) < 0 || status)))
      return HTTP_AUTH_NO_CERTIFICATE;
  }
  /* client_allowed_sans is only accepted with a client_auth_type that asks for certificates;
   * a client without one of the names gets no answer, certificate or not. */
  if (web && web->tls && web->n_allowed_sans) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!allowed_san(web, info ? (gnutls_session_t)info->tls_session : NULL))
      return HTTP_AUTH_NO_CERTIFICATE;
  }
  pthread_mutex_lock(&auth->lock);
  bool needs_auth = auth->web && auth->web->n_users > 0;
  pthread_mutex_unlock(&auth->lock);
  if (!needs_auth)
    return HTTP_AUTH_OK;
  char *password = NULL;
  char *user = MHD_basic_auth_get_username_password(connection, &password);
  bool ok = user && password && authorized(auth, user, password);
  if (password)
    explicit_bzero(password, strlen(password));
  MHD_free(user);
  MHD_free(password);
  return ok ? HTTP_AUTH_OK : HTTP_AUTH_NO_USER;
}

void http_auth_set_web_config(struct http_auth *auth, struct web_config *web) {
  struct web_config *old = auth->web;
  bool tls_changed =
      web && old &&
      (web->tls != old->tls ||
       (web->tls &&
        (strcmp(web->cert_pem, old->cert_pem) != 0 || strcmp(web->key_pem, old->key_pem) != 0 ||
         web->client_auth != old->client_auth || strcmp(web->priorities, old->priorities) != 0 ||
         web->n_allowed_sans != old->n_allowed_sans)) ||
       web->rate_limit_interval_s != old->rate_limit_interval_s ||
       web->rate_limit_burst != old->rate_limit_burst);
  if (tls_changed || (!old) != (!web)) {
    log_event(LOG_WARN, "the web configuration's TLS or rate_limit settings changed: they apply "
                        "at the next start; the basic auth users and headers apply now");
  }
  if (!web || !old) {
    web_config_free(web);
    return;
  }
  /* Keep the running TLS material (libmicrohttpd holds it); take the new users. */
  pthread_mutex_lock(&auth->lock);
  struct web_user *users = old->users;
  size_t n = old->n_users;
  old->users = web->users;
  old->n_users = web->n_users;
  web->users = users;
  web->n_users = n;
  memset(auth->cache, 0, sizeof(auth->cache));
  pthread_mutex_unlock(&auth->lock);
  web_config_free(web);
}
