/* The XMPP stream probe: opens a c2s stream the way a client does, reads the server's
 * features, and, when STARTTLS is offered, completes the TLS handshake to read the
 * certificate's expiry. A plain socket with poll() timeouts; no XMPP library. */
#ifndef REPLMON_XMPP_STREAM_H
#define REPLMON_XMPP_STREAM_H

#include "xmpp.h"

#include <stddef.h>

#define XMPP_STREAM_READ_LIMIT (64 * 1024) /* a server sending more before its features fails */

struct xmpp_stream_target {
  const char *host; /* borrowed */
  unsigned port;
  const char *domain; /* the `to` of the stream and the TLS server name */
  double connect_timeout_s;
  double timeout_s; /* for everything after the connect */
};

enum stream_scan { STREAM_INCOMPLETE, STREAM_FEATURES, STREAM_ERROR };

/* Looks at what the server sent so far: the end of its features, or a stream error.
 * On STREAM_FEATURES sets starttls_offered/required; on STREAM_ERROR sets stream_error to
 * the condition ("host-unknown"; "undefined-condition" when it names none). */
enum stream_scan xmpp_stream_scan(const char *data, size_t len, struct xmpp_stream_status *out);

/* Runs the probe. Returns 0 when the server sent its features (and, if STARTTLS was
 * offered, the handshake completed), else a negative errno with *err set: connect, timeout,
 * stream (a stream error), tls, or parse (something that is not an XMPP stream). */
int xmpp_stream_probe(const struct xmpp_stream_target *target, struct xmpp_stream_status *out,
                      struct probe_error *err);

/* The settings of the stream probe kind. Borrowed. */
struct xmpp_stream_settings {
  const char *host;
  unsigned port;
  const char *domain;
};

/* A new connection at every poll, as a client makes; data: struct xmpp_stream_status. */
extern const struct probe_ops xmpp_stream_probe_ops;

#endif
