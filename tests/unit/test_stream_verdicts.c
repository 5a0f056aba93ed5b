/* The stream probe's certificate verdict in the log: once when it changes, not again after
 * polls that failed (the server down) and a recovery with the same certificate. Drives the
 * kind's carry-over and log_changes the way the poller does, with stderr captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log.h"
#include "probe_kind.h"
#include "xmpp_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One poll's result: a handshake with its verdict, or a failed stream (problem ignored). */
static struct xmpp_stream_status *poll_result(bool handshake, bool verified, const char *problem) {
  struct xmpp_stream_status *s = xmpp_stream_probe_ops.data_new();
  assert_non_null(s);
  struct xmpp_tls_endpoint *ep = &s->endpoints[XMPP_ENDPOINT_C2S];
  ep->port = 5222;
  ep->stream_ok = handshake;
  ep->handshake_done = handshake;
  ep->verified = handshake && verified;
  if (handshake && !verified)
    ep->tls_problem = strdup(problem);
  if (!handshake)
    ep->error = strdup("connect to chat.example:5222: Connection refused");
  return s;
}

/* Runs the polls in order as the poller does (carry over from the last, log the changes,
 * keep as the last) and returns what the log said, to be freed. */
static char *log_of(struct xmpp_stream_status **polls, size_t n) {
  FILE *capture = tmpfile();
  assert_non_null(capture);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  assert_true(saved >= 0);
  assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
  struct probe_names who = {"xmpp", "chat1"};
  for (size_t i = 0; i < n; i++) {
    struct xmpp_stream_status *last = i ? polls[i - 1] : NULL;
    assert_int_equal(xmpp_stream_carry_verdicts(last, polls[i]), 0);
    xmpp_stream_probe_ops.log_changes(&who, last, polls[i]);
  }
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  long size = ftell(capture);
  char *text = calloc(1, (size_t)size + 1);
  assert_non_null(text);
  rewind(capture);
  assert_int_equal(fread(text, 1, (size_t)size, capture), (size_t)size);
  fclose(capture);
  for (size_t i = 0; i < n; i++)
    xmpp_stream_probe_ops.data_free(polls[i]);
  return text;
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  return n;
}

static void test_down_and_back_logs_once(void **state) {
  (void)state;
  struct xmpp_stream_status *polls[] = {
      poll_result(true, false, "wrong name: chat.example"),
      poll_result(false, false, NULL), /* the server down */
      poll_result(false, false, NULL),
      poll_result(true, false, "wrong name: chat.example"), /* back, same certificate */
      poll_result(true, false, "wrong name: chat.example"),
  };
  char *text = log_of(polls, sizeof(polls) / sizeof(polls[0]));
  assert_int_equal(count(text, "certificate not verified"), 1);
  assert_int_equal(count(text, "certificate verified"), 0);
  free(text);
}

static void test_changes_still_logged(void **state) {
  (void)state;
  struct xmpp_stream_status *polls[] = {
      poll_result(true, true, NULL),
      poll_result(false, false, NULL),
      poll_result(true, false, "expired"), /* back with another certificate */
      poll_result(false, false, NULL),
      poll_result(true, false, "wrong name: chat.example"), /* another reason */
      poll_result(true, true, NULL),                        /* repaired */
      poll_result(false, false, NULL),
      poll_result(true, true, NULL),
  };
  char *text = log_of(polls, sizeof(polls) / sizeof(polls[0]));
  assert_int_equal(count(text, "certificate not verified"), 2);
  assert_int_equal(count(text, "certificate verified"), 2);
  assert_non_null(strstr(text, "expired"));
  assert_non_null(strstr(text, "wrong name: chat.example"));
  free(text);
}

/* A carried verdict belongs to the log only: the failed poll still shows no handshake. */
static void test_carried_verdict_not_shown(void **state) {
  (void)state;
  struct xmpp_stream_status *first = poll_result(true, false, "expired");
  struct xmpp_stream_status *down = poll_result(false, false, NULL);
  assert_int_equal(xmpp_stream_carry_verdicts(NULL, first), 0);
  assert_int_equal(xmpp_stream_carry_verdicts(first, down), 0);
  const struct xmpp_tls_endpoint *ep = &down->endpoints[XMPP_ENDPOINT_C2S];
  assert_false(ep->handshake_done);
  assert_false(ep->verified);
  assert_null(ep->tls_problem);
  assert_true(ep->verdict_known);
  assert_string_equal(ep->verdict_problem, "expired");
  assert_false(down->endpoints[XMPP_ENDPOINT_S2S].verdict_known);
  xmpp_stream_probe_ops.data_free(first);
  xmpp_stream_probe_ops.data_free(down);
}

int main(void) {
  log_setup(LOG_INFO, LOG_LOGFMT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_down_and_back_logs_once),
      cmocka_unit_test(test_changes_still_logged),
      cmocka_unit_test(test_carried_verdict_not_shown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
