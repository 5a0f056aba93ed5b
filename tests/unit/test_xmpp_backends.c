/* The XMPP backends on answers recorded from real ejabberd 23.01 and Prosody 0.12 servers
 * (tests/unit/data/xmpp/), on Openfire's documented answers, and on hostile ones: garbage
 * JSON, an HTML error page, a truncated body, an answer over 1 MiB, stream errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ejabberd.h"
#include "http_client.h"
#include "openfire.h"
#include "prosody.h"
#include "xmpp_session.h"
#include "xmpp_stream.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *slurp(const char *name, size_t *len) {
  char path[256];
  snprintf(path, sizeof(path), "data/xmpp/%s", name);
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot open %s", path);
  char *data = malloc(1 << 20);
  assert_non_null(data);
  *len = fread(data, 1, (1 << 20) - 1, f);
  data[*len] = '\0';
  fclose(f);
  return data;
}

static struct http_answer answer_from(long status, const char *file) {
  struct http_answer a = {status, NULL, 0};
  a.body = slurp(file, &a.len);
  return a;
}

static struct http_answer answer_text(long status, const char *text) {
  struct http_answer a = {status, strdup(text), strlen(text)};
  return a;
}

/* ---- ejabberd ---- */

/* list_cluster: the names sorted, so that two nodes' views compare as text; anything but a
 * list of 1 to 64 plain names is refused. */
static void test_ejabberd_members(void **state) {
  (void)state;
  struct probe_error err = {REASON_NONE, NULL};
  double n = NAN;
  char *members = NULL;
  struct http_answer a = answer_text(200, "[\"ejc2@localhost\",\"ejc1@localhost\"]");
  assert_int_equal(ejabberd_parse_members(&a, &n, &members, &err), 0);
  assert_true(n == 2);
  assert_string_equal(members, "ejc1@localhost,ejc2@localhost");
  free(members);
  http_answer_clear(&a);
  static const char *const bad[] = {"[]", "{}", "[1]", "[\"a,b\"]", "[\"\"]", "\"a\"", "nope"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    a = answer_text(200, bad[i]);
    members = NULL;
    assert_int_not_equal(ejabberd_parse_members(&a, &n, &members, &err), 0);
    assert_null(members);
    assert_int_equal(err.reason, REASON_PARSE);
    http_answer_clear(&a);
  }
  a = answer_text(403, "{\"status\":\"error\",\"code\":32,\"message\":\"no\"}");
  assert_int_not_equal(ejabberd_parse_members(&a, &n, &members, &err), 0);
  assert_int_equal(err.reason, REASON_PERMISSION);
  assert_non_null(strstr(err.message, "list_cluster"));
  http_answer_clear(&a);
  probe_error_clear(&err);
}

static void test_ejabberd_recorded(void **state) {
  (void)state;
  struct probe_error err = {REASON_NONE, NULL};
  double v = NAN;
  char *text = NULL;
  struct http_answer a = answer_from(200, "ejabberd_connected_users_number.json");
  assert_int_equal(
      ejabberd_parse_answer("connected_users_number", &a, "num_sessions", &v, &text, &err), 0);
  assert_true(v == 2);
  http_answer_clear(&a);
  a = answer_from(200, "ejabberd_stats_registeredusers.json");
  assert_int_equal(ejabberd_parse_answer("stats", &a, "stat", &v, &text, &err), 0);
  assert_true(v >= 0);
  http_answer_clear(&a);
  a = answer_from(200, "ejabberd_muc_online_rooms_one_room.json");
  assert_int_equal(ejabberd_parse_answer("muc_online_rooms", &a, NULL, &v, &text, &err), 0);
  assert_true(v == 1);
  http_answer_clear(&a);
  a = answer_from(200, "ejabberd_muc_online_rooms.json");
  assert_int_equal(ejabberd_parse_answer("muc_online_rooms", &a, NULL, &v, &text, &err), 0);
  assert_true(v == 0);
  http_answer_clear(&a);
  a = answer_from(200, "ejabberd_status.json");
  assert_int_equal(ejabberd_parse_answer("status", &a, "", &v, &text, &err), 0);
  char *version = ejabberd_version_from_status(text);
  assert_string_equal(version, "23.01-1");
  free(version);
  free(text);
  http_answer_clear(&a);
  assert_null(err.message);
}

static void test_ejabberd_errors(void **state) {
  (void)state;
  struct probe_error err = {REASON_NONE, NULL};
  double v = NAN;
  char *text = NULL;
  struct http_answer a = answer_from(403, "ejabberd_error_403_not_allowed.json");
  assert_int_not_equal(ejabberd_parse_answer("muc_online_rooms", &a, NULL, &v, &text, &err), 0);
  assert_int_equal(err.reason, REASON_PERMISSION);
  assert_non_null(strstr(err.message, "muc_online_rooms"));
  http_answer_clear(&a);
  a = answer_from(401, "ejabberd_error_401_bad_credentials.json");
  assert_int_not_equal(ejabberd_parse_answer("stats", &a, "stat", &v, &text, &err), 0);
  assert_int_equal(err.reason, REASON_AUTH);
  http_answer_clear(&a);
  a = answer_from(404, "ejabberd_error_404_unknown_command.json");
  assert_int_not_equal(ejabberd_parse_answer("stats", &a, "stat", &v, &text, &err), 0);
  assert_int_equal(err.reason, REASON_HTTP);
  assert_non_null(strstr(err.message, "mod_admin_extra"));
  http_answer_clear(&a);

  static const char *const bad_bodies[] = {
      "{\"num_sessions\":", /* truncated */
      "<html><body><h1>502 Bad Gateway</h1></body></html>",
      "\x01\x02garbage\xff",
      "{\"num_sessions\":\"two\"}", /* wrong type */
      "{\"num_sessions\":-3}",
      "[1,2]",
      "",
  };
  for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
    a = answer_text(200, bad_bodies[i]);
    assert_int_not_equal(
        ejabberd_parse_answer("connected_users_number", &a, "num_sessions", &v, &text, &err), 0);
    assert_int_equal(err.reason, REASON_PARSE);
    http_answer_clear(&a);
  }
  a = answer_text(500, "<html>Internal Server Error</html>");
  assert_int_not_equal(ejabberd_parse_answer("stats", &a, "stat", &v, &text, &err), 0);
  assert_int_equal(err.reason, REASON_HTTP);
  assert_non_null(strstr(err.message, "500"));
  http_answer_clear(&a);
  probe_error_clear(&err);
  assert_null(ejabberd_version_from_status("started"));
}

/* ---- Prosody ---- */

/* Parses a recorded body into a fresh status. */
static void parse_prosody_file(const char *file, struct xmpp_status *x) {
  size_t len;
  char *text = slurp(file, &len);
  struct probe_error err = {REASON_NONE, NULL};
  xmpp_status_reset(x);
  assert_int_equal(prosody_parse(text, len, x, &err), 0);
  free(text);
}

/* Equal, or both NaN. */
static void assert_count(double got, double want, const char *file, const char *what) {
  if (isnan(want) ? isnan(got) : got == want)
    return;
  fail_msg("%s: %s is %g, expected %g", file, what, got, want);
}

static void test_prosody_recorded(void **state) {
  (void)state;
  static const struct {
    const char *file;
    double c2s, s2s_in, s2s_out, rooms;
  } cases[] = {
      /* s2s disabled, no MUC component: those families are not even declared. */
      {"prosody_metrics_2_sessions.txt", 2, NAN, NAN, NAN},
      {"prosody_metrics_2_sessions_1_unauthed.txt", 2, NAN, NAN, NAN},
      {"prosody_metrics_0_sessions.txt", 0, NAN, NAN, NAN},
      {"prosody_metrics_fresh.txt", 0, NAN, NAN, NAN}, /* declared, no sample yet: 0 */
      /* mod_s2s and a MUC component loaded, nothing connected: declared without samples. */
      {"prosody_metrics_s2s_muc_fresh.txt", 0, 0, 0, 0},
      /* An inbound s2s stream that has not authenticated is no connection yet. */
      {"prosody_metrics_s2s_unauthed.txt", 0, 0, 0, 0},
      /* Federating with dialback (one connection each way), one client in one room. */
      {"prosody_metrics_s2s_muc.txt", 1, 1, 1, 1},
      /* The peer stopped, the client left: the series stay at 0, the empty room is gone. */
      {"prosody_metrics_s2s_muc_after.txt", 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct xmpp_status x = {0};
    parse_prosody_file(cases[i].file, &x);
    assert_count(x.c2s_sessions, cases[i].c2s, cases[i].file, "c2s_sessions");
    assert_count(x.s2s_in, cases[i].s2s_in, cases[i].file, "s2s_in");
    assert_count(x.s2s_out, cases[i].s2s_out, cases[i].file, "s2s_out");
    assert_count(x.muc_rooms, cases[i].rooms, cases[i].file, "muc_rooms");
    /* Prosody 0.12 exports neither registered users nor uptime nor a version. */
    assert_true(isnan(x.registered_users) && isnan(x.uptime_seconds) && !x.version);
    xmpp_status_reset(&x);
  }
}

static void test_prosody_bad(void **state) {
  (void)state;
  struct probe_error err = {REASON_NONE, NULL};
  struct xmpp_status x = {0};
  xmpp_status_reset(&x);
  static const char *const bad[] = {
      "<!DOCTYPE html><html><body>Not found</body></html>\n",
      "prosody_mod_c2s__connections{type=\"c2s\"} 2", /* cut before its newline */
      "prosody_mod_c2s__connections{type=\"c2s\" 2\n",
      "prosody_mod_c2s__connections{type=c2s} 2\n",
      "prosody_mod_c2s__connections{type=\"c2s\"}\n",
      "prosody_mod_c2s__connections{type=\"c2s\"} two\n",
      "9bad_name 1\n",
      "# TYPE 9bad_name gauge\n",
      "# TYPE prosody_mod_muc__live_room{} gauge\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(prosody_parse(bad[i], strlen(bad[i]), &x, &err), -EINVAL);
    assert_int_equal(err.reason, REASON_PARSE);
    assert_true(isnan(x.c2s_sessions) && isnan(x.s2s_in) && isnan(x.muc_rooms));
  }
  /* Escapes, several hosts, other types, timestamps and comments. */
  const char *ok = "# TYPE prosody_mod_c2s__connections gauge\n"
                   "prosody_mod_c2s__connections{host=\"a\\\"b\",type=\"c2s\"} 3 1700000000\n"
                   "prosody_mod_c2s__connections{host=\"c\",type=\"c2s\",} 4\n"
                   "prosody_mod_c2s__connections{host=\"c\",type=\"c2s_unauthed\"} 9\n"
                   "other_metric 5\n"
                   "\n# EOF\n";
  assert_int_equal(prosody_parse(ok, strlen(ok), &x, &err), 0);
  assert_true(x.c2s_sessions == 7);
  assert_true(isnan(x.s2s_in) && isnan(x.s2s_out) && isnan(x.muc_rooms));
  /* Two MUC components add up; only the authenticated s2s types count; a family given
   * without its TYPE line (plain Prometheus text) still counts; a family whose name only
   * starts like ours does not. */
  const char *more = "# HELP prosody_mod_muc__live_room mod_muc/live_room amount\n"
                     "prosody_mod_muc__live_room{host=\"rooms.a\"} 2\n"
                     "prosody_mod_muc__live_room{host=\"rooms.b\"} 3\n"
                     "prosody_mod_muc__live_room_total 100\n"
                     "prosody_mod_s2s__connections_inbound{type=\"s2sin\",ip_family=\"ipv4\"} 2\n"
                     "prosody_mod_s2s__connections_inbound{type=\"s2sin\",ip_family=\"ipv6\"} 1\n"
                     "prosody_mod_s2s__connections_inbound{type=\"s2sin_unauthed\"} 5\n"
                     "prosody_mod_s2s__connections_inbound{ip_family=\"ipv4\"} 7\n"
                     "prosody_mod_s2s__connections_outbound{type=\"s2sout_unauthed\"} 4\n"
                     "prosody_mod_s2s__connections_outbound{type=\"s2s_destroyed\"} 1\n"
                     "# EOF\n";
  assert_int_equal(prosody_parse(more, strlen(more), &x, &err), 0);
  assert_true(x.muc_rooms == 5);
  assert_true(x.s2s_in == 3);
  assert_true(x.s2s_out == 0);
  assert_true(isnan(x.c2s_sessions));
  xmpp_status_reset(&x);
  probe_error_clear(&err);
}

/* Which numbers each type reports at all (what it cannot report is left out, not faked). */
static void test_xmpp_provides(void **state) {
  (void)state;
  assert_true(xmpp_provides(XMPP_PROSODY, XMPP_C2S_SESSIONS));
  assert_true(xmpp_provides(XMPP_PROSODY, XMPP_S2S));
  assert_true(xmpp_provides(XMPP_PROSODY, XMPP_MUC_ROOMS));
  assert_false(xmpp_provides(XMPP_PROSODY, XMPP_REGISTERED_USERS));
  assert_false(xmpp_provides(XMPP_PROSODY, XMPP_UPTIME));
  assert_false(xmpp_provides(XMPP_PROSODY, XMPP_CLUSTER_C2S_SESSIONS));
  assert_true(xmpp_provides(XMPP_EJABBERD, XMPP_S2S));
  assert_true(xmpp_provides(XMPP_EJABBERD, XMPP_MUC_ROOMS));
}

/* ---- Openfire (documented answers: it cannot be installed here) ---- */

static void test_openfire(void **state) {
  (void)state;
  struct probe_error err = {REASON_NONE, NULL};
  struct xmpp_status x = {0};
  xmpp_status_reset(&x);
  struct http_answer a = answer_text(200, "{\"localSessions\":3,\"clusterSessions\":7}");
  assert_int_equal(openfire_parse_sessions(&a, &x, &err), 0);
  assert_true(x.c2s_sessions == 3 && x.cluster_c2s_sessions == 7);
  http_answer_clear(&a);
  a = answer_text(200, "{\"localSessions\":\"5\",\"clusterSessions\":\"5\"}");
  assert_int_equal(openfire_parse_sessions(&a, &x, &err), 0);
  assert_true(x.c2s_sessions == 5);
  http_answer_clear(&a);
  /* What the plugin answers when Accept: application/json is missing. */
  a = answer_text(200, "<?xml version=\"1.0\"?><sessions><localSessions>3</localSessions>"
                       "<clusterSessions>7</clusterSessions></sessions>");
  assert_int_not_equal(openfire_parse_sessions(&a, &x, &err), 0);
  assert_int_equal(err.reason, REASON_PARSE);
  assert_non_null(strstr(err.message, "Accept"));
  http_answer_clear(&a);
  a = answer_text(401, "");
  assert_int_not_equal(openfire_parse_sessions(&a, &x, &err), 0);
  assert_int_equal(err.reason, REASON_AUTH);
  http_answer_clear(&a);
  a = answer_text(200, "{\"localSessions\":3}");
  assert_int_not_equal(openfire_parse_sessions(&a, &x, &err), 0);
  assert_int_equal(err.reason, REASON_PARSE);
  http_answer_clear(&a);
  xmpp_status_reset(&x);
  probe_error_clear(&err);
}

/* ---- the stream reader ---- */

static void test_stream_scan(void **state) {
  (void)state;
  const char *files[] = {"ejabberd_stream_features.xml", "prosody_stream_features.xml"};
  for (size_t i = 0; i < 2; i++) {
    size_t len;
    char *data = slurp(files[i], &len);
    struct xmpp_stream_status s = {0};
    xmpp_stream_status_reset(&s);
    /* Partial data (as from a first TCP segment) is not yet an answer. */
    assert_int_equal(xmpp_stream_scan(data, len / 2, &s), STREAM_INCOMPLETE);
    assert_int_equal(xmpp_stream_scan(data, len, &s), STREAM_FEATURES);
    assert_true(s.known && s.starttls_offered && !s.starttls_required);
    xmpp_stream_status_reset(&s);
    free(data);
  }
  const char *errors[] = {"ejabberd_stream_error_host_unknown.xml",
                          "prosody_stream_error_host_unknown.xml"};
  for (size_t i = 0; i < 2; i++) {
    size_t len;
    char *data = slurp(errors[i], &len);
    struct xmpp_stream_status s = {0};
    xmpp_stream_status_reset(&s);
    assert_int_equal(xmpp_stream_scan(data, len, &s), STREAM_ERROR);
    assert_string_equal(s.stream_error, "host-unknown");
    xmpp_stream_status_reset(&s);
    free(data);
  }
  struct xmpp_stream_status s = {0};
  xmpp_stream_status_reset(&s);
  const char *required = "<stream:stream><stream:features><starttls "
                         "xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
                         "</stream:features>";
  assert_int_equal(xmpp_stream_scan(required, strlen(required), &s), STREAM_FEATURES);
  assert_true(s.starttls_offered && s.starttls_required);
  const char *none = "<stream:stream><stream:features/>";
  assert_int_equal(xmpp_stream_scan(none, strlen(none), &s), STREAM_FEATURES);
  assert_false(s.starttls_offered);
  const char *text_first = "<stream:error><text xmlns='x'>go away</text><policy-violation "
                           "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
  assert_int_equal(xmpp_stream_scan(text_first, strlen(text_first), &s), STREAM_ERROR);
  assert_string_equal(s.stream_error, "policy-violation");
  const char *bare = "<stream:error></stream:error>";
  assert_int_equal(xmpp_stream_scan(bare, strlen(bare), &s), STREAM_ERROR);
  assert_string_equal(s.stream_error, "undefined-condition");
  const char *html = "HTTP/1.1 400 Bad Request\r\n\r\n<html>";
  assert_int_equal(xmpp_stream_scan(html, strlen(html), &s), STREAM_INCOMPLETE);
  xmpp_stream_status_reset(&s);
}

/* ---- the HTTP client against a local server that misbehaves ---- */

struct server {
  int fd;
  unsigned port;
  const char *answer; /* NULL: accept and stay silent */
  size_t answer_len;
  size_t repeat; /* how many times the answer's body part is sent */
};

static void *serve_once(void *arg) {
  struct server *s = arg;
  int c = accept(s->fd, NULL, NULL);
  if (c < 0)
    return NULL;
  char request[4096];
  (void)!recv(c, request, sizeof(request), 0);
  if (s->answer) {
    char header[128];
    int n = snprintf(header, sizeof(header),
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     s->answer_len * s->repeat);
    (void)!send(c, header, (size_t)n, MSG_NOSIGNAL);
    for (size_t i = 0; i < s->repeat; i++)
      if (send(c, s->answer, s->answer_len, MSG_NOSIGNAL) < 0)
        break;
  } else {
    sleep(3);
  }
  close(c);
  return NULL;
}

static void listen_local(struct server *s) {
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  assert_int_equal(listen(s->fd, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(s->fd, (struct sockaddr *)&addr, &len);
  s->port = ntohs(addr.sin_port);
}

static int request_local(struct server *s, struct probe_error *err, struct http_answer *a) {
  pthread_t thread;
  pthread_create(&thread, NULL, serve_once, s);
  struct http_client_options options = {.connect_timeout_s = 1, .total_timeout_s = 1};
  struct http_client *client = http_client_new(&options);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", s->port);
  int rc = http_client_request(client, url, NULL, NULL, a, err);
  http_client_free(client);
  pthread_join(thread, NULL);
  close(s->fd);
  return rc;
}

static void test_http_limits(void **state) {
  (void)state;
  struct probe_error err = {REASON_NONE, NULL};
  struct http_answer a;
  static char chunk[64 * 1024];
  memset(chunk, 'x', sizeof(chunk));
  struct server big = {.answer = chunk, .answer_len = sizeof(chunk), .repeat = 17}; /* 1.06 MiB */
  listen_local(&big);
  assert_int_equal(request_local(&big, &err, &a), -EFBIG);
  assert_int_equal(err.reason, REASON_PARSE);

  struct server small = {.answer = "ok\n", .answer_len = 3, .repeat = 1};
  listen_local(&small);
  assert_int_equal(request_local(&small, &err, &a), 0);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.body, "ok\n");
  http_answer_clear(&a);

  struct server silent = {.answer = NULL};
  listen_local(&silent);
  assert_int_equal(request_local(&silent, &err, &a), -ETIMEDOUT);
  assert_int_equal(err.reason, REASON_TIMEOUT);

  /* A port nobody listens on. */
  struct server closed = {.answer = NULL};
  listen_local(&closed);
  close(closed.fd);
  struct http_client_options options = {.connect_timeout_s = 1, .total_timeout_s = 1};
  struct http_client *client = http_client_new(&options);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/", closed.port);
  assert_int_not_equal(http_client_request(client, url, NULL, NULL, &a, &err), 0);
  assert_int_equal(err.reason, REASON_CONNECT);
  http_client_free(client);
  probe_error_clear(&err);
}

#define STANZAS "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'"

/* Describes the stanza error in xml, checking the reason and text it gives. */
static void expect_error_reason(const char *xml, const char *reason, const char *text) {
  char r[64], t[160];
  assert_int_equal(xmpp_stanza_error_describe(xml, r, sizeof(r), t, sizeof(t)), 0);
  assert_string_equal(r, reason);
  assert_string_equal(t, text);
}

/* The error replies to an s2s ping become "type/condition" and the server's text apart;
 * nothing but a short token from the server reaches the reason. */
static void test_s2s_ping_errors(void **state) {
  (void)state;
  xmpp_session_library_init();
  /* ejabberd 23.01 for a domain that does not resolve (the text as the integration suite
   * saw it); Prosody 0.12 puts the text first and says by whom. */
  expect_error_reason("<iq type='error' id='replmon-s2s-1-0' from='nowhere.invalid' "
                      "to='monitor@chat.test/r'><ping xmlns='urn:xmpp:ping'/><error "
                      "type='cancel'><remote-server-not-found " STANZAS "/><text " STANZAS
                      " xml:lang='en'>DNS lookup failed: resource temporarily "
                      "unavailable</text></error></iq>",
                      "cancel/remote-server-not-found",
                      "DNS lookup failed: resource temporarily unavailable");
  expect_error_reason("<iq type='error' id='x'><error type='wait' by='chat.test'><text " STANZAS
                      ">Server-to-server connection failed: connection refused</text>"
                      "<remote-server-timeout " STANZAS "/></error></iq>",
                      "wait/remote-server-timeout",
                      "Server-to-server connection failed: connection refused");
  expect_error_reason("<iq type='error' id='x'><error type='cancel'><not-allowed " STANZAS
                      "/></error></iq>",
                      "cancel/not-allowed", "");
  /* An application condition next to the defined one is skipped. */
  expect_error_reason("<iq type='error' id='x'><error type='modify'><bad xmlns='urn:x:app'/>"
                      "<bad-request " STANZAS "/></error></iq>",
                      "modify/bad-request", "");
  /* Missing pieces: named as such, never left empty. */
  expect_error_reason("<iq type='error' id='x'><error><item-not-found " STANZAS "/></error></iq>",
                      "unknown/item-not-found", "");
  expect_error_reason("<iq type='error' id='x'/>", "unknown/undefined-condition", "");
  expect_error_reason("<iq type='error' id='x'><error type='cancel'><gone/></error></iq>",
                      "cancel/undefined-condition", "");
  /* An empty <text/> (libstrophe gives it no child) is no text, not a crash. */
  expect_error_reason(
      "<iq type='error' id='x'><error type='cancel'><remote-server-not-found " STANZAS
      "/><text " STANZAS "/></error></iq>",
      "cancel/remote-server-not-found", "");
  /* Hostile: markup-like or long names stay out; control characters in the text become
   * spaces, and a long text is cut to the buffer. */
  expect_error_reason("<iq type='error' id='x'><error type='can cel&amp;'><Remote_Server " STANZAS
                      "/><text " STANZAS ">line one\nline&#9;two</text></error></iq>",
                      "unknown/undefined-condition", "line one line two");
  char r[64], t[8];
  assert_int_equal(xmpp_stanza_error_describe("<iq type='error'><error type='wait'><aaaaaaaaaaaa"
                                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " STANZAS
                                              "/><text " STANZAS ">0123456789</text></error>"
                                              "</iq>",
                                              r, sizeof(r), t, sizeof(t)),
                   0);
  assert_string_equal(r, "wait/undefined-condition");
  assert_string_equal(t, "0123456");
  assert_int_equal(xmpp_stanza_error_describe("not xml <", r, sizeof(r), t, sizeof(t)), -EINVAL);
  xmpp_session_library_end();
}

/* s2s_ping's domains: names only, no JID parts, no port, within DNS's length. */
static void test_domain_valid(void **state) {
  (void)state;
  assert_true(xmpp_domain_valid("two.test"));
  assert_true(xmpp_domain_valid("localhost"));
  assert_true(xmpp_domain_valid("xn--bcher-kva.example"));
  static const char *const bad[] = {"",          "mon@two.test", "two.test/r", "two.test:5269",
                                    "two test",  ".two.test",    "two.test.",  "two..test",
                                    "two\ttest", "<two>",        "two'test",   "two\"test"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (xmpp_domain_valid(bad[i]))
      fail_msg("'%s' taken as a domain", bad[i]);
  char longest[254];
  memset(longest, 'a', sizeof(longest) - 1);
  longest[sizeof(longest) - 1] = '\0';
  assert_true(xmpp_domain_valid(longest)); /* 253 characters */
  char too_long[255];
  memset(too_long, 'a', sizeof(too_long) - 1);
  too_long[sizeof(too_long) - 1] = '\0';
  assert_false(xmpp_domain_valid(too_long));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ejabberd_recorded), cmocka_unit_test(test_ejabberd_errors),
      cmocka_unit_test(test_ejabberd_members),  cmocka_unit_test(test_prosody_recorded),
      cmocka_unit_test(test_prosody_bad),       cmocka_unit_test(test_xmpp_provides),
      cmocka_unit_test(test_openfire),          cmocka_unit_test(test_stream_scan),
      cmocka_unit_test(test_http_limits),       cmocka_unit_test(test_s2s_ping_errors),
      cmocka_unit_test(test_domain_valid),
  };
  return cmocka_run_group_tests_name("xmpp_backends", tests, NULL, NULL);
}
