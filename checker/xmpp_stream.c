#include "xmpp_stream.h"
#include "buf.h"
#include "log.h"
#include "tls_verify.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---- the connection: a socket, and a TLS session on it once there is one ---- */

static double now_seconds(void) {
  return clock_monotonic_seconds();
}

static int remaining_ms(double deadline) {
  double left = deadline - now_seconds();
  return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

struct channel {
  int fd;
  gnutls_session_t tls; /* NULL before the handshake */
  const struct xmpp_stream_target *target;
};

/* ---- name resolution, bounded by the connect deadline ----
 *
 * getaddrinfo() waits for a resolver that never answers for resolv.conf's timeout times its
 * attempts (10 s and more), whatever connect_timeout says. glibc's getaddrinfo_a runs the
 * lookup on a thread of its own, and gai_suspend waits for it as long as the deadline
 * allows. A lookup still running then cannot be cancelled (gai_cancel: EAI_NOTCANCELED),
 * and glibc keeps writing into its struct gaicb and reading its name and hints until it
 * ends: so each lookup lives on the heap, and one abandoned like that goes onto a list,
 * freed (with its answer) by the first resolution or library end that finds it finished.
 * No SIGEV_THREAD notification to free it instead: that costs a thread per lookup, and
 * glibc can leave a request queued without one (getaddrinfo_a's EAI_AGAIN). The list stays
 * short: at most one lookup per stream and poll while a resolver is silent, each gone after
 * the resolver's own timeout. */
struct lookup {
  struct gaicb cb;
  struct addrinfo hints;
  struct lookup *next; /* on the abandoned list */
  char service[8];
  char name[]; /* cb's ar_name */
};

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lookup *abandoned;

static void lookup_free(struct lookup *l) {
  if (l->cb.ar_result)
    freeaddrinfo(l->cb.ar_result);
  free(l);
}

/* Keeps a lookup that is still running until it ends. */
static void abandon(struct lookup *l) {
  pthread_mutex_lock(&abandoned_lock);
  l->next = abandoned;
  abandoned = l;
  pthread_mutex_unlock(&abandoned_lock);
}

/* Frees the abandoned lookups that have ended; glibc still writes into the others. */
static void sweep_abandoned(void) {
  pthread_mutex_lock(&abandoned_lock);
  for (struct lookup **at = &abandoned; *at;) {
    struct lookup *l = *at;
    if (gai_error(&l->cb) == EAI_INPROGRESS) {
      at = &l->next;
      continue;
    }
    *at = l->next;
    lookup_free(l);
  }
  pthread_mutex_unlock(&abandoned_lock);
}

/* Resolves host and port by the monotonic deadline: 0 with *found (freeaddrinfo), or a
 * negative errno with err set. A lookup without an answer in time fails as connect, as the
 * HTTP probes' do: the server cannot be reached, and the poller backs off. */
static int resolve_by(const char *host, unsigned port, double deadline, double timeout_s,
                      struct addrinfo **found, struct probe_error *err) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST};
  char service[8];
  snprintf(service, sizeof(service), "%u", port);
  /* An address needs no resolver and no thread. */
  int gai = getaddrinfo(host, service, &hints, found);
  if (gai != EAI_NONAME) {
    if (gai == 0)
      return 0;
    probe_error_set(err, REASON_CONNECT, "cannot resolve %s: %s", host, gai_strerror(gai));
    return -EHOSTUNREACH;
  }
  sweep_abandoned();
  size_t len = strlen(host);
  struct lookup *l = calloc(1, sizeof(*l) + len + 1);
  if (!l) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    return -ENOMEM;
  }
  memcpy(l->name, host, len + 1);
  memcpy(l->service, service, sizeof(service));
  l->hints = hints;
  l->hints.ai_flags = AI_NUMERICSERV;
  l->cb = (struct gaicb){.ar_name = l->name, .ar_service = l->service, .ar_request = &l->hints};
  struct gaicb *list[1] = {&l->cb};
  gai = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
  if (gai != 0) {
    /* It may have been queued all the same (EAI_AGAIN when glibc is out of memory). */
    if (gai_cancel(&l->cb) == EAI_NOTCANCELED)
      abandon(l);
    else
      lookup_free(l);
    probe_error_set(err, REASON_CONNECT, "cannot resolve %s: %s", host, gai_strerror(gai));
    return -EHOSTUNREACH;
  }
  /* Turns of at most 100 ms: gai_error, not gai_suspend's return, says when it ended. */
  const struct gaicb *waiting[1] = {&l->cb};
  while (gai_error(&l->cb) == EAI_INPROGRESS) {
    int ms = remaining_ms(deadline);
    if (ms <= 0)
      break;
    ms = ms < 100 ? ms : 100;
    struct timespec turn = {0, (long)ms * 1000000L};
    gai_suspend(waiting, 1, &turn);
  }
  int status = gai_error(&l->cb);
  if (status == EAI_INPROGRESS) {
    int cancel = gai_cancel(&l->cb);
    if (cancel == EAI_NOTCANCELED) {
      abandon(l);
      probe_error_set(err, REASON_CONNECT, "cannot resolve %s: no answer within %.1fs", host,
                      timeout_s);
      return -ETIMEDOUT;
    }
    /* Cancelled before it started, or ended meanwhile. */
    status = cancel == EAI_CANCELED ? EAI_CANCELED : gai_error(&l->cb);
  }
  if (status == 0) {
    *found = l->cb.ar_result;
    l->cb.ar_result = NULL;
  }
  lookup_free(l);
  if (status == 0)
    return 0;
  if (status == EAI_CANCELED) {
    probe_error_set(err, REASON_CONNECT, "cannot resolve %s: no answer within %.1fs", host,
                    timeout_s);
    return -ETIMEDOUT;
  }
  probe_error_set(err, REASON_CONNECT, "cannot resolve %s: %s", host, gai_strerror(status));
  return -EHOSTUNREACH;
}

/* The connect deadline covers the name's resolution and the TCP connection. */
static int connect_with_timeout(const struct xmpp_stream_target *t, struct probe_error *err) {
  double deadline = now_seconds() + t->connect_timeout_s;
  struct addrinfo *found = NULL;
  int rc = resolve_by(t->host, t->port, deadline, t->connect_timeout_s, &found, err);
  if (rc != 0)
    return rc;
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

/* Waits until the socket is ready for what TLS (or the plain stream) needs next. 0, or
 * -ETIMEDOUT once the deadline passed: a server trickling bytes cannot keep it waiting. */
static int wait_ready(struct channel *c, short events, double deadline) {
  if (now_seconds() >= deadline)
    return -ETIMEDOUT;
  if (c->tls && (events & POLLIN) && gnutls_record_check_pending(c->tls) > 0)
    return 0;
  struct pollfd pfd = {c->fd, events, 0};
  int ready = poll(&pfd, 1, remaining_ms(deadline));
  if (ready < 0 && errno == EINTR)
    return 0;
  return ready <= 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct channel *c, const char *data, size_t len, double deadline,
                    struct probe_error *err) {
  while (len) {
    if (wait_ready(c, POLLOUT, deadline) != 0) {
      probe_error_set(err, REASON_TIMEOUT, "sending to the server timed out");
      return -ETIMEDOUT;
    }
    ssize_t n;
    if (c->tls) {
      n = gnutls_record_send(c->tls, data, len);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n < 0) {
        probe_error_set(err, REASON_TLS, "TLS send: %s", gnutls_strerror((int)n));
        return -EIO;
      }
    } else {
      n = send(c->fd, data, len, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n <= 0) {
        probe_error_set(err, REASON_CONNECT, "send: %s", strerror(errno));
        return -EIO;
      }
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads into *in until done(in) says so, the peer closes, or the deadline passes. */
static int read_until(struct channel *c, struct buf *in, double deadline,
                      bool (*done)(const struct buf *in, void *ctx), void *ctx,
                      struct probe_error *err) {
  char chunk[4096];
  while (!done(in, ctx)) {
    if (in->len > XMPP_STREAM_READ_LIMIT) {
      probe_error_set(err, REASON_PARSE, "no stream features in the first %d bytes",
                      XMPP_STREAM_READ_LIMIT);
      return -EFBIG;
    }
    if (wait_ready(c, POLLIN, deadline) != 0) {
      probe_error_set(err, REASON_TIMEOUT, "no complete answer within the timeout (%zu bytes)",
                      in->len);
      return -ETIMEDOUT;
    }
    ssize_t n;
    if (c->tls) {
      n = gnutls_record_recv(c->tls, chunk, sizeof(chunk));
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n < 0 && n != GNUTLS_E_PREMATURE_TERMINATION) {
        probe_error_set(err, REASON_TLS, "TLS receive: %s", gnutls_strerror((int)n));
        return -EIO;
      }
      if (n < 0)
        n = 0;
    } else {
      n = recv(c->fd, chunk, sizeof(chunk), 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n < 0) {
        probe_error_set(err, REASON_CONNECT, "recv: %s", strerror(errno));
        return -EIO;
      }
    }
    if (n == 0) {
      probe_error_set(err, REASON_PARSE, "the server closed the connection after %zu bytes",
                      in->len);
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

void peer_chain_clear(struct peer_chain *chain) {
  for (size_t i = 0; i < chain->n; i++)
    free(chain->der[i].data);
  chain->n = 0;
}

/* Copies what the server presented: the verification runs later, off the socket. */
static int keep_chain(gnutls_session_t session, struct peer_chain *chain) {
  unsigned n = 0;
  const gnutls_datum_t *certs = gnutls_certificate_get_peers(session, &n);
  for (unsigned i = 0; certs && i < n && chain->n < sizeof(chain->der) / sizeof(chain->der[0]);
       i++) {
    unsigned char *copy = malloc(certs[i].size ? certs[i].size : 1);
    if (!copy)
      return -ENOMEM;
    memcpy(copy, certs[i].data, certs[i].size);
    chain->der[chain->n++] = (gnutls_datum_t){copy, certs[i].size};
  }
  return 0;
}

/* The handshake on c's socket. The certificate is not judged here: any chain completes it,
 * so that a bad certificate still yields its expiry and a reason. */
static int tls_handshake(struct channel *c, gnutls_certificate_credentials_t creds, double deadline,
                         struct peer_chain *chain, struct probe_error *err) {
  const struct xmpp_stream_target *t = c->target;
  int g = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  if (g >= 0)
    g = gnutls_set_default_priority(c->tls);
  if (g >= 0)
    g = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, creds);
  if (g >= 0)
    g = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, t->domain, strlen(t->domain));
  if (g < 0) {
    probe_error_set(err, REASON_TLS, "TLS set-up: %s", gnutls_strerror(g));
    return -EPROTO;
  }
  gnutls_transport_set_int(c->tls, c->fd);
  /* The socket is non-blocking: wait with poll() for what the handshake needs next. */
  do {
    g = gnutls_handshake(c->tls);
    if (g == GNUTLS_E_AGAIN || g == GNUTLS_E_INTERRUPTED) {
      short events = gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
      if (wait_ready(c, events, deadline) != 0) {
        probe_error_set(err, REASON_TIMEOUT, "TLS handshake timed out");
        return -ETIMEDOUT;
      }
    }
  } while (g < 0 && !gnutls_error_is_fatal(g));
  if (g < 0) {
    probe_error_set(err, REASON_TLS, "TLS handshake: %s", gnutls_strerror(g));
    return -EPROTO;
  }
  if (keep_chain(c->tls, chain) != 0) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    return -ENOMEM;
  }
  if (chain->n == 0) {
    probe_error_set(err, REASON_TLS, "the server sent no certificate");
    return -EPROTO;
  }
  return 0;
}

/* ---- one stream ---- */

static int send_header(struct channel *c, double deadline, struct probe_error *err) {
  const struct xmpp_stream_target *t = c->target;
  struct buf header = BUF_INIT;
  /* s2s: no `from`: the probe is no server; dialback's namespace is customary. */
  buf_printf(&header,
             "<?xml version='1.0'?><stream:stream xmlns='%s'%s "
             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
             t->server ? "jabber:server" : "jabber:client",
             t->server ? " xmlns:db='jabber:server:dialback'" : "", t->domain);
  int rc = header.failed ? -ENOMEM : send_all(c, header.data, header.len, deadline, err);
  if (header.failed)
    probe_error_set(err, REASON_PARSE, "out of memory");
  buf_free(&header);
  return rc;
}

/* Sends the header and reads the features: 0, or a negative errno with err set. */
static int read_features(struct channel *c, struct buf *in, double deadline,
                         struct xmpp_stream_status *out, struct probe_error *err) {
  int rc = send_header(c, deadline, err);
  if (rc == 0)
    rc = read_until(c, in, deadline, features_done, out, err);
  if (rc == 0 && out->stream_error) {
    probe_error_set(err, REASON_STREAM, "stream error: %s", out->stream_error);
    out->known = false;
    rc = -EPROTO;
  }
  return rc;
}

static int starttls(struct channel *c, struct buf *in, double deadline, struct probe_error *err) {
  static const char request[] = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
  buf_reset(in);
  int rc = send_all(c, request, sizeof(request) - 1, deadline, err);
  if (rc == 0)
    rc = read_until(c, in, deadline, proceed_done, NULL, err);
  if (rc == 0 && !find(in->data, in->len, "<proceed")) {
    probe_error_set(err, REASON_TLS, "the server answered STARTTLS with a failure");
    rc = -EPROTO;
  }
  return rc;
}

int xmpp_stream_open(const struct xmpp_stream_target *t, struct xmpp_stream_status *out,
                     struct peer_chain *chain, struct probe_error *err) {
  xmpp_stream_status_reset(out);
  gnutls_certificate_credentials_t creds = NULL;
  if (gnutls_certificate_allocate_credentials(&creds) < 0) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    return -ENOMEM;
  }
  struct channel c = {.fd = connect_with_timeout(t, err), .target = t};
  if (c.fd < 0) {
    gnutls_certificate_free_credentials(creds);
    return c.fd;
  }
  double deadline = now_seconds() + t->timeout_s;
  struct buf in = BUF_INIT;
  int rc = 0;
  if (t->direct_tls) {
    rc = tls_handshake(&c, creds, deadline, chain, err);
    if (rc == 0)
      rc = read_features(&c, &in, deadline, out, err);
  } else {
    rc = read_features(&c, &in, deadline, out, err);
    if (rc == 0 && out->starttls_offered) {
      rc = starttls(&c, &in, deadline, err);
      if (rc == 0)
        rc = tls_handshake(&c, creds, deadline, chain, err);
    }
  }
  if (rc == 0 && (!c.tls || t->direct_tls)) {
    static const char close_stream[] = "</stream:stream>";
    send_all(&c, close_stream, sizeof(close_stream) - 1, deadline, err); /* best effort */
  }
  if (in.failed && rc == 0) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    rc = -ENOMEM;
  }
  if (c.tls) {
    if (rc == 0)
      gnutls_bye(c.tls, GNUTLS_SHUT_WR); /* best effort: the probe is done either way */
    gnutls_deinit(c.tls);
  }
  buf_free(&in);
  close(c.fd);
  gnutls_certificate_free_credentials(creds);
  return rc;
}

/* ---- the probe kind: both streams at once, then the verdicts ---- */

/* What the poll keeps: the CAs of its ca_file, loaded at the first certificate (and again
 * when the file changes). */
struct stream_conn {
  struct tls_trust *trust;
  char *ca_file; /* what trust was loaded from */
  struct timespec mtime;
  bool loaded;
  char load_error[256];
};

/* The system's trust store, a hundred and more CAs: loaded once, at the first certificate
 * of any node without a ca_file, and shared by all of them, each verification under the
 * lock (it takes about a millisecond). */
static pthread_mutex_t system_trust_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_trust *system_trust;
static bool system_trust_tried;
static char system_trust_error[256];

/* The system's trust store, or NULL with system_trust_error. Call with the lock held. */
static const struct tls_trust *system_trust_get(void) {
  if (!system_trust_tried) {
    system_trust_tried = true;
    if (tls_trust_load(NULL, &system_trust, system_trust_error, sizeof(system_trust_error)) != 0)
      system_trust = NULL;
  }
  return system_trust;
}

static void stream_library_end(void) {
  sweep_abandoned();
  pthread_mutex_lock(&system_trust_lock);
  tls_trust_free(system_trust);
  system_trust = NULL;
  system_trust_tried = false;
  pthread_mutex_unlock(&system_trust_lock);
}

static void *stream_open(const void *settings, const struct probe_timeouts *timeouts) {
  (void)settings;
  (void)timeouts;
  return calloc(1, sizeof(struct stream_conn));
}

static void stream_close(void *conn) {
  struct stream_conn *c = conn;
  if (!c)
    return;
  tls_trust_free(c->trust);
  free(c->ca_file);
  free(c);
}

static bool same_string(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The trust list for ca_file, loaded when it is new or changed on disk; NULL with
 * c->load_error when it cannot be loaded. */
static const struct tls_trust *current_trust(struct stream_conn *c, const char *ca_file) {
  struct stat st = {0};
  bool stat_ok = stat(ca_file, &st) == 0;
  if (c->loaded && same_string(c->ca_file, ca_file) &&
      (!stat_ok ||
       (st.st_mtim.tv_sec == c->mtime.tv_sec && st.st_mtim.tv_nsec == c->mtime.tv_nsec)))
    return c->trust;
  tls_trust_free(c->trust);
  c->trust = NULL;
  free(c->ca_file);
  c->ca_file = strdup(ca_file);
  c->mtime = stat_ok ? st.st_mtim : (struct timespec){0};
  c->loaded = c->ca_file != NULL;
  c->load_error[0] = '\0';
  if (tls_trust_load(ca_file, &c->trust, c->load_error, sizeof(c->load_error)) != 0)
    c->trust = NULL;
  return c->trust;
}

struct endpoint_run {
  struct xmpp_stream_target target;
  struct xmpp_stream_status scan; /* what the stream's features said */
  struct peer_chain chain;
  struct probe_error err;
  int rc;
};

static void *run_endpoint(void *arg) {
  struct endpoint_run *r = arg;
  xmpp_stream_status_reset(&r->scan);
  r->rc = xmpp_stream_open(&r->target, &r->scan, &r->chain, &r->err);
  return NULL;
}

/* The verdict on what endpoint e presented, into out. */
static int judge(const struct endpoint_run *r, const struct tls_trust *trust,
                 const char *load_error, enum xmpp_endpoint e, struct xmpp_tls_endpoint *out) {
  out->handshake_done = r->chain.n > 0;
  if (!out->handshake_done)
    return 0;
  struct tls_verdict v;
  if (tls_verify_chain(r->chain.der, r->chain.n, trust, r->target.domain,
                       e == XMPP_ENDPOINT_S2S ? TLS_SERVICE_S2S : TLS_SERVICE_C2S, time(NULL),
                       &v) != 0)
    return -ENOMEM;
  if (!trust) {
    v.reason = TLS_INVALID;
    snprintf(v.detail, sizeof(v.detail), "cannot load the trusted CAs: %.120s", load_error);
  }
  out->verified = v.reason == TLS_VERIFIED;
  out->verify_reason = (int)v.reason;
  out->leaf_expiry_unix = v.leaf_expiry_unix;
  out->earliest_expiry_unix = v.earliest_expiry_unix;
  if (!out->verified) {
    struct buf text = BUF_INIT;
    buf_puts(&text, tls_verify_reason_name(v.reason));
    if (v.detail[0])
      buf_printf(&text, ": %s", v.detail);
    out->tls_problem = buf_steal(&text, NULL);
    if (!out->tls_problem)
      return -ENOMEM;
  }
  return 0;
}

int xmpp_stream_carry_verdicts(const struct xmpp_stream_status *last,
                               struct xmpp_stream_status *now) {
  for (int e = 0; e < XMPP_ENDPOINTS; e++) {
    struct xmpp_tls_endpoint *ep = &now->endpoints[e];
    const struct xmpp_tls_endpoint *was = last ? &last->endpoints[e] : NULL;
    free(ep->verdict_problem);
    ep->verdict_problem = NULL;
    ep->verdict_known = false;
    ep->verdict_verified = false;
    const char *problem = NULL;
    if (ep->handshake_done) {
      ep->verdict_known = true;
      ep->verdict_verified = ep->verified;
      problem = ep->tls_problem;
    } else if (was && was->verdict_known) {
      ep->verdict_known = true;
      ep->verdict_verified = was->verdict_verified;
      problem = was->verdict_problem;
    }
    if (problem && !(ep->verdict_problem = strdup(problem)))
      return -ENOMEM;
  }
  return 0;
}

static int stream_poll(void *conn, const void *settings, const struct probe_timeouts *timeouts,
                       const void *last, void *data, struct probe_error *err) {
  const struct xmpp_stream_settings *s = settings;
  struct xmpp_stream_status *out = data;
  struct endpoint_run runs[XMPP_ENDPOINTS] = {0};
  const char *hosts[XMPP_ENDPOINTS] = {s->host, s->s2s_host};
  unsigned ports[XMPP_ENDPOINTS] = {s->port, s->s2s_port};
  for (int e = 0; e < XMPP_ENDPOINTS; e++)
    runs[e].target = (struct xmpp_stream_target){
        .host = hosts[e],
        .port = ports[e],
        .domain = s->domain,
        .direct_tls = e == XMPP_ENDPOINT_C2S && s->direct_tls,
        .server = e == XMPP_ENDPOINT_S2S,
        .connect_timeout_s = timeouts->connect_s,
        .timeout_s = timeouts->query_s,
    };
  /* s2s on a thread of its own, so that one poll takes the timeouts once, not twice, when
   * both servers hang. */
  pthread_t s2s_thread;
  bool s2s_threaded = false;
  if (s->s2s_host && s->host)
    s2s_threaded = pthread_create(&s2s_thread, NULL, run_endpoint, &runs[XMPP_ENDPOINT_S2S]) == 0;
  if (s->host)
    run_endpoint(&runs[XMPP_ENDPOINT_C2S]);
  if (s2s_threaded)
    pthread_join(s2s_thread, NULL);
  else if (s->s2s_host)
    run_endpoint(&runs[XMPP_ENDPOINT_S2S]);

  bool any_chain = false;
  for (int e = 0; e < XMPP_ENDPOINTS; e++)
    any_chain |= runs[e].chain.n > 0;
  struct stream_conn *c = conn;
  const struct tls_trust *trust = NULL;
  const char *load_error = "";
  bool system = any_chain && !s->ca_file;
  if (system) {
    pthread_mutex_lock(&system_trust_lock);
    trust = system_trust_get();
    load_error = system_trust_error;
  } else if (any_chain) {
    trust = current_trust(c, s->ca_file);
    load_error = c->load_error;
  }
  int rc = 0;
  for (int e = 0; e < XMPP_ENDPOINTS; e++) {
    struct endpoint_run *r = &runs[e];
    struct xmpp_tls_endpoint *ep = &out->endpoints[e];
    if (!hosts[e])
      continue;
    ep->port = ports[e];
    ep->stream_ok = r->rc == 0;
    if (r->rc != 0 && r->err.message && !(ep->error = strdup(r->err.message)))
      rc = -ENOMEM;
    if (rc == 0)
      rc = judge(r, trust, load_error, (enum xmpp_endpoint)e, ep);
  }
  if (system)
    pthread_mutex_unlock(&system_trust_lock);
  if (rc == 0)
    rc = xmpp_stream_carry_verdicts(last, out);
  if (s->host) {
    struct xmpp_stream_status *c2s = &runs[XMPP_ENDPOINT_C2S].scan;
    out->known = c2s->known;
    out->starttls_offered = c2s->starttls_offered;
    out->starttls_required = c2s->starttls_required;
    out->stream_error = c2s->stream_error;
    c2s->stream_error = NULL;
    out->cert_expiry_unix = out->endpoints[XMPP_ENDPOINT_C2S].leaf_expiry_unix;
  }
  /* The poll is the c2s stream's, where users log in: an s2s stream failing beside a working
   * c2s one is reported by its endpoint (stream_ok, error), so that it neither reads as
   * clients locked out nor backs off the c2s checks. Only a node probed on s2s alone fails
   * its poll for it. A certificate that is not verified is reported as such, not as a
   * failed stream. */
  for (int e = 0; rc == 0 && e < XMPP_ENDPOINTS; e++) {
    struct endpoint_run *r = &runs[e];
    bool decides = e == XMPP_ENDPOINT_C2S || !hosts[XMPP_ENDPOINT_C2S];
    if (hosts[e] && r->rc != 0 && decides) {
      rc = r->rc;
      probe_error_set(err, r->err.reason, "%s%s", e == XMPP_ENDPOINT_S2S ? "s2s: " : "",
                      r->err.message ? r->err.message : "failed");
    }
  }
  if (rc == -ENOMEM && err->reason == REASON_NONE)
    probe_error_set(err, REASON_PARSE, "out of memory");
  for (int e = 0; e < XMPP_ENDPOINTS; e++) {
    peer_chain_clear(&runs[e].chain);
    probe_error_clear(&runs[e].err);
    xmpp_stream_status_reset(&runs[e].scan);
  }
  return rc;
}

/* Logs a certificate's verdict when it changes (not at every poll): the reason belongs in
 * the log, never in a label. Compared with the latest verdict known before, which polls
 * without a handshake (the server down) carry over: a server back with the same
 * certificate has nothing new to say. */
static void stream_log_changes(const struct probe_names *who, const void *last, const void *data) {
  const struct xmpp_stream_status *before = last, *now = data;
  for (int e = 0; e < XMPP_ENDPOINTS; e++) {
    const struct xmpp_tls_endpoint *ep = &now->endpoints[e];
    if (!ep->handshake_done)
      continue; /* a failed stream is logged as the poll's failure */
    const struct xmpp_tls_endpoint *old = before ? &before->endpoints[e] : NULL;
    if (old && old->verdict_known && old->verdict_verified == ep->verified &&
        same_string(old->verdict_problem, ep->tls_problem))
      continue;
    char port[12];
    snprintf(port, sizeof(port), "%u", ep->port);
    if (ep->verified)
      log_event(LOG_INFO, "certificate verified", "cluster", who->cluster, "node", who->node,
                "stream", xmpp_endpoint_name((enum xmpp_endpoint)e), "port", port);
    else
      log_event(LOG_WARN, "certificate not verified", "cluster", who->cluster, "node", who->node,
                "stream", xmpp_endpoint_name((enum xmpp_endpoint)e), "port", port, "reason",
                ep->tls_problem);
  }
}

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

/* The connection keeps only the trusted CAs, and notices a new ca_file by itself. */
static bool stream_same_settings(const void *a, const void *b) {
  (void)a;
  (void)b;
  return true;
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
    .library_end = stream_library_end,
    .same_settings = stream_same_settings,
    .open = stream_open,
    .close = stream_close,
    .data_new = stream_data_new,
    .data_free = stream_data_free,
    .poll = stream_poll,
    .log_changes = stream_log_changes,
    .backs_off = stream_backs_off,
    .needs_person = stream_needs_person,
};
