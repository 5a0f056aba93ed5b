#include "xmpp_stream.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *find(const char *data, size_t len, const char *needle) {
  return memmem(data, len, needle, strlen(needle));
}

/* The element name of the first child of <stream:error>, e.g. host-unknown. */
static char *error_condition(const char *error, const char *end) {
  const char *p = memchr(error, '>', (size_t)(end - error));
  while (p && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
    p++;
    if (p < end && (*p == '/' || *p == '!' || *p == '?'))
      continue;
    size_t n = 0;
    while (p + n < end && (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == ':'))
      n++;
    if (n == 0 || n > 64)
      return NULL;
    if (n == 4 && strncmp(p, "text", 4) == 0)
      continue; /* <text> explains; the condition is the other child */
    return strndup(p, n);
  }
  return NULL;
}

enum stream_scan xmpp_stream_scan(const char *data, size_t len, struct xmpp_stream_status *out) {
  const char *error = find(data, len, "<stream:error");
  if (error) {
    const char *end = find(error, len - (size_t)(error - data), "</stream:error>");
    if (!end)
      return STREAM_INCOMPLETE;
    free(out->stream_error);
    out->stream_error = error_condition(error, end);
    if (!out->stream_error)
      out->stream_error = strdup("undefined-condition");
    return STREAM_ERROR;
  }
  const char *features = find(data, len, "<stream:features");
  if (!features)
    return STREAM_INCOMPLETE;
  size_t rest = len - (size_t)(features - data);
  /* Only what follows the opening tag counts: <stream:features/> offers nothing. */
  const char *gt = memchr(features, '>', rest);
  if (!gt)
    return STREAM_INCOMPLETE;
  const char *features_end =
      gt[-1] == '/' ? gt - 1 : find(gt, rest - (size_t)(gt - features), "</stream:features>");
  if (!features_end)
    return STREAM_INCOMPLETE;
  size_t flen = (size_t)(features_end - features);
  const char *starttls = find(features, flen, "<starttls");
  out->known = true;
  out->starttls_offered = starttls != NULL;
  out->starttls_required = false;
  if (starttls) {
    const char *close = find(starttls, flen - (size_t)(starttls - features), "</starttls>");
    const char *required = find(starttls, flen - (size_t)(starttls - features), "<required");
    out->starttls_required = close && required && required < close;
  }
  return STREAM_FEATURES;
}

/* ---- the socket ---- */

static double now_seconds(void) {
  return clock_monotonic_seconds();
}

static int remaining_ms(double deadline) {
  double left = deadline - now_seconds();
  return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static int connect_with_timeout(const struct xmpp_stream_target *t, struct probe_error *err) {
  char service[8];
  snprintf(service, sizeof(service), "%u", t->port);
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  struct addrinfo *found = NULL;
  int gai = getaddrinfo(t->host, service, &hints, &found);
  if (gai != 0) {
    probe_error_set(err, REASON_CONNECT, "cannot resolve %s: %s", t->host, gai_strerror(gai));
    return -EHOSTUNREACH;
  }
  double deadline = now_seconds() + t->connect_timeout_s;
  int fd = -1, last = ECONNREFUSED;
  bool timed_out = false;
  for (struct addrinfo *ai = found; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = errno;
      } else {
        struct pollfd pfd = {fd, POLLOUT, 0};
        int ready = poll(&pfd, 1, remaining_ms(deadline));
        int so_error = 0;
        socklen_t slen = sizeof(so_error);
        if (ready == 0) {
          timed_out = true;
          last = ETIMEDOUT;
        } else if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &slen) != 0) {
          last = errno;
        } else if (so_error) {
          last = so_error;
        } else {
          break; /* connected */
        }
      }
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    probe_error_set(err, timed_out ? REASON_TIMEOUT : REASON_CONNECT, "connect to %s:%u: %s",
                    t->host, t->port, strerror(last));
    return -last;
  }
  return fd;
}

static int send_all(int fd, const char *data, size_t len, double deadline,
                    struct probe_error *err) {
  while (len) {
    struct pollfd pfd = {fd, POLLOUT, 0};
    int ready = poll(&pfd, 1, remaining_ms(deadline));
    if (ready <= 0) {
      probe_error_set(err, REASON_TIMEOUT, "sending the stream header timed out");
      return -ETIMEDOUT;
    }
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n <= 0) {
      probe_error_set(err, REASON_CONNECT, "send: %s", strerror(errno));
      return -EIO;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads into *in until done(in) says so, the peer closes, or the deadline passes. */
static int read_until(int fd, struct buf *in, double deadline,
                      bool (*done)(const struct buf *in, void *ctx), void *ctx,
                      struct probe_error *err) {
  char chunk[4096];
  while (!done(in, ctx)) {
    if (in->len > XMPP_STREAM_READ_LIMIT) {
      probe_error_set(err, REASON_PARSE, "no stream features in the first %d bytes",
                      XMPP_STREAM_READ_LIMIT);
      return -EFBIG;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    int ready = poll(&pfd, 1, remaining_ms(deadline));
    if (ready == 0) {
      probe_error_set(err, REASON_TIMEOUT, "no complete answer within the timeout (%zu bytes)",
                      in->len);
      return -ETIMEDOUT;
    }
    if (ready < 0) {
      if (errno == EINTR)
        continue;
      probe_error_set(err, REASON_CONNECT, "poll: %s", strerror(errno));
      return -EIO;
    }
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n == 0) {
      probe_error_set(err, REASON_PARSE, "the server closed the connection after %zu bytes",
                      in->len);
      return -EIO;
    }
    if (n < 0) {
      probe_error_set(err, REASON_CONNECT, "recv: %s", strerror(errno));
      return -EIO;
    }
    buf_append(in, chunk, (size_t)n);
  }
  return 0;
}

static bool features_done(const struct buf *in, void *ctx) {
  return in->len && xmpp_stream_scan(in->data, in->len, ctx) != STREAM_INCOMPLETE;
}

static bool proceed_done(const struct buf *in, void *ctx) {
  (void)ctx;
  return in->len && (find(in->data, in->len, "<proceed") || find(in->data, in->len, "<failure") ||
                     find(in->data, in->len, "<stream:error"));
}

/* ---- TLS ---- */

static int tls_expiry(int fd, const struct xmpp_stream_target *t, double deadline, double *expiry,
                      struct probe_error *err) {
  gnutls_session_t session = NULL;
  gnutls_certificate_credentials_t creds = NULL;
  gnutls_x509_crt_t cert = NULL;
  int rc = -EPROTO;
  int g = gnutls_certificate_allocate_credentials(&creds);
  if (g >= 0)
    g = gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  if (g >= 0)
    g = gnutls_set_default_priority(session);
  if (g >= 0)
    g = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, creds);
  if (g >= 0)
    g = gnutls_server_name_set(session, GNUTLS_NAME_DNS, t->domain, strlen(t->domain));
  if (g < 0) {
    probe_error_set(err, REASON_TLS, "TLS set-up: %s", gnutls_strerror(g));
    goto out;
  }
  gnutls_transport_set_int(session, fd);
  /* The socket is non-blocking: wait with poll() for what the handshake needs next. */
  do {
    g = gnutls_handshake(session);
    if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED) {
      struct pollfd pfd = {fd, gnutls_record_get_direction(session) ? POLLOUT : POLLIN, 0};
      if (poll(&pfd, 1, remaining_ms(deadline)) <= 0) {
        probe_error_set(err, REASON_TIMEOUT, "TLS handshake timed out");
        rc = -ETIMEDOUT;
        goto out;
      }
    }
  } while (g < 0 && !gnutls_error_is_fatal(g));
  if (g < 0) {
    probe_error_set(err, REASON_TLS, "TLS handshake: %s", gnutls_strerror(g));
    goto out;
  }
  unsigned n_certs = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n_certs);
  if (!certs || n_certs == 0 || gnutls_x509_crt_init(&cert) < 0 ||
      gnutls_x509_crt_import(cert, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
    probe_error_set(err, REASON_TLS, "the server sent no readable certificate");
    goto out;
  }
  time_t not_after = gnutls_x509_crt_get_expiration_time(cert);
  if (not_after == (time_t)-1) {
    probe_error_set(err, REASON_TLS, "the certificate has no readable expiry time");
    goto out;
  }
  *expiry = (double)not_after;
  gnutls_bye(session, GNUTLS_SHUT_WR); /* best effort: the probe is done either way */
  rc = 0;
out:
  if (cert)
    gnutls_x509_crt_deinit(cert);
  if (session)
    gnutls_deinit(session);
  if (creds)
    gnutls_certificate_free_credentials(creds);
  return rc;
}

int xmpp_stream_probe(const struct xmpp_stream_target *t, struct xmpp_stream_status *out,
                      struct probe_error *err) {
  xmpp_stream_status_reset(out);
  int fd = connect_with_timeout(t, err);
  if (fd < 0)
    return fd;
  double deadline = now_seconds() + t->timeout_s;
  struct buf in = BUF_INIT, header = BUF_INIT;
  buf_printf(&header,
             "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
             t->domain);
  int rc = header.failed ? -ENOMEM : send_all(fd, header.data, header.len, deadline, err);
  if (rc == 0)
    rc = read_until(fd, &in, deadline, features_done, out, err);
  if (rc == 0 && out->stream_error) {
    probe_error_set(err, REASON_STREAM, "stream error: %s", out->stream_error);
    out->known = false;
    rc = -EPROTO;
  }
  if (rc == 0 && out->starttls_offered) {
    static const char starttls[] = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    buf_reset(&in);
    rc = send_all(fd, starttls, sizeof(starttls) - 1, deadline, err);
    if (rc == 0)
      rc = read_until(fd, &in, deadline, proceed_done, NULL, err);
    if (rc == 0 && !find(in.data, in.len, "<proceed")) {
      probe_error_set(err, REASON_TLS, "the server answered STARTTLS with a failure");
      rc = -EPROTO;
    }
    if (rc == 0)
      rc = tls_expiry(fd, t, deadline, &out->cert_expiry_unix, err);
  } else if (rc == 0) {
    static const char close_stream[] = "</stream:stream>";
    send_all(fd, close_stream, sizeof(close_stream) - 1, deadline, err); /* best effort */
  }
  if (in.failed && rc == 0) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    rc = -ENOMEM;
  }
  buf_free(&in);
  buf_free(&header);
  close(fd);
  return rc;
}

/* ---- the probe kind ---- */

static void *stream_data_new(void) {
  struct xmpp_stream_status *s = calloc(1, sizeof(*s));
  if (s)
    xmpp_stream_status_reset(s);
  return s;
}

static void stream_data_free(void *data) {
  if (data)
    xmpp_stream_status_reset(data);
  free(data);
}

/* Nothing is kept between polls: the address is read from the settings every time. */
static bool stream_same_settings(const void *a, const void *b) {
  (void)a;
  (void)b;
  return true;
}

static int stream_poll(void *conn, const void *settings, const struct probe_timeouts *timeouts,
                       const void *last, void *data, struct probe_error *err) {
  (void)conn;
  (void)last;
  const struct xmpp_stream_settings *s = settings;
  struct xmpp_stream_target target = {
      .host = s->host,
      .port = s->port,
      .domain = s->domain,
      .connect_timeout_s = timeouts->connect_s,
      .timeout_s = timeouts->query_s,
  };
  return xmpp_stream_probe(&target, data, err);
}

static bool stream_backs_off(enum probe_reason reason) {
  return reason == REASON_CONNECT || reason == REASON_AUTH;
}

static bool stream_needs_person(enum probe_reason reason) {
  return reason == REASON_PRIVILEGE || reason == REASON_AUTH;
}

static const enum probe_reason stream_reasons[] = {REASON_CONNECT, REASON_TIMEOUT, REASON_STREAM,
                                                   REASON_TLS, REASON_PARSE};

const struct probe_ops xmpp_stream_probe_ops = {
    .name = "xmpp_stream",
    .reasons = stream_reasons,
    .n_reasons = sizeof(stream_reasons) / sizeof(stream_reasons[0]),
    .same_settings = stream_same_settings,
    .data_new = stream_data_new,
    .data_free = stream_data_free,
    .poll = stream_poll,
    .backs_off = stream_backs_off,
    .needs_person = stream_needs_person,
};
