/* An XMPP server's HTTP API as a probe kind: one HTTP client per node, kept so that its
 * keep-alive connection stays open between polls, and the poll of the server's type. */
#include "ejabberd.h"
#include "http_client.h"
#include "openfire.h"
#include "prosody.h"
#include "xmpp.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_REFRESH_POLLS 300 /* ejabberd's version is asked for now and then, not always */

struct api_conn {
  struct http_client *http;
  unsigned long polls;
};

static int library_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == 0 ? 0 : -EIO;
}

static void library_end(void) {
  curl_global_cleanup();
}

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_settings(const void *a_settings, const void *b_settings) {
  const struct xmpp_api_settings *a = a_settings, *b = b_settings;
  return a->type == b->type && same_text(a->api_url, b->api_url) &&
         same_text(a->basic_user, b->basic_user) && same_text(a->password, b->password) &&
         same_text(a->secret, b->secret) && a->list_cluster == b->list_cluster;
}

static void *open_api(const void *settings, const struct probe_timeouts *timeouts) {
  const struct xmpp_api_settings *s = settings;
  struct api_conn *conn = calloc(1, sizeof(*conn));
  if (!conn)
    return NULL;
  struct http_client_options options = {
      .connect_timeout_s = timeouts->connect_s,
      .total_timeout_s = timeouts->query_s,
      .basic_user = s->basic_user,
      .password = s->password,
      .raw_authorization = s->secret,
  };
  conn->http = http_client_new(&options);
  if (!conn->http) {
    free(conn);
    return NULL;
  }
  return conn;
}

static void close_api(void *c) {
  struct api_conn *conn = c;
  if (!conn)
    return;
  http_client_free(conn->http);
  free(conn);
}

static void *data_new(void) {
  struct xmpp_status *s = calloc(1, sizeof(*s));
  if (s)
    xmpp_status_reset(s);
  return s;
}

static void data_free(void *data) {
  if (data)
    xmpp_status_reset(data);
  free(data);
}

/* The timeouts were given to the HTTP client when it was opened. */
static int poll_api(void *c, const void *settings, const struct probe_timeouts *timeouts,
                    const void *last_data, void *data, struct probe_error *err) {
  (void)timeouts;
  struct api_conn *conn = c;
  const struct xmpp_api_settings *s = settings;
  const struct xmpp_status *last = last_data;
  struct xmpp_status *out = data;
  unsigned long poll = conn->polls++;
  switch (s->type) {
  case XMPP_EJABBERD: {
    bool known = last && last->version;
    bool want_version = !known || poll % VERSION_REFRESH_POLLS == 0;
    int rc = ejabberd_poll(conn->http, s->api_url, want_version, s->list_cluster, out, err);
    if (!out->version && known)
      out->version = strdup(last->version);
    return rc;
  }
  case XMPP_PROSODY:
    return prosody_poll(conn->http, s->api_url, out, err);
  case XMPP_OPENFIRE:
    return openfire_poll(conn->http, s->api_url, out, err);
  }
  probe_error_set(err, REASON_PARSE, "unknown server type");
  return -EINVAL;
}

static bool backs_off(enum probe_reason reason) {
  return reason == REASON_CONNECT || reason == REASON_AUTH;
}

static bool needs_person(enum probe_reason reason) {
  return reason == REASON_PRIVILEGE || reason == REASON_AUTH;
}

static const enum probe_reason reasons[] = {REASON_CONNECT,    REASON_TIMEOUT, REASON_AUTH,
                                            REASON_PERMISSION, REASON_HTTP,    REASON_PARSE};

const struct probe_ops xmpp_api_probe_ops = {
    .name = "xmpp",
    .reasons = reasons,
    .n_reasons = sizeof(reasons) / sizeof(reasons[0]),
    .library_init = library_init,
    .library_end = library_end,
    .same_settings = same_settings,
    .open = open_api,
    .close = close_api,
    .data_new = data_new,
    .data_free = data_free,
    .poll = poll_api,
    .backs_off = backs_off,
    .needs_person = needs_person,
};
