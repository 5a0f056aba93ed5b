/* Whose answer a ping accepts: the s2s pings only the remote domain's, the server ping only
 * the server's (or the account's, on its behalf). An iq with the right id from anyone else is
 * no answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "xmpp_session.h"

static void test_remote_reply_from(void **state) {
  (void)state;
  /* XEP-0199: the remote answers from its domain; our server's errors for it likewise. */
  assert_true(xmpp_reply_from_matches("other.example", "other.example"));
  assert_true(xmpp_reply_from_matches("Other.EXAMPLE", "other.example"));
  assert_true(xmpp_reply_from_matches("other.example", "OTHER.example"));
  assert_true(xmpp_reply_from_matches("other.example.", "other.example"));
  /* Anyone else with a matching id. */
  assert_false(xmpp_reply_from_matches(NULL, "other.example"));
  assert_false(xmpp_reply_from_matches("", "other.example"));
  assert_false(xmpp_reply_from_matches("chat.example", "other.example"));
  assert_false(xmpp_reply_from_matches("mallory@other.example", "other.example"));
  assert_false(xmpp_reply_from_matches("other.example/res", "other.example"));
  assert_false(xmpp_reply_from_matches("mallory@chat.example/x", "other.example"));
  assert_false(xmpp_reply_from_matches("other.example.evil", "other.example"));
  assert_false(xmpp_reply_from_matches("sub.other.example", "other.example"));
  assert_false(xmpp_reply_from_matches("other.exampl", "other.example"));
  assert_false(xmpp_reply_from_matches("other.example..", "other.example"));
  assert_false(xmpp_reply_from_matches(".", "other.example"));
}

static void test_own_server_reply_from(void **state) {
  (void)state;
  const char *me = "replmon@chat.example/abc123";
  /* RFC 6120 8.1.2.1: no from, the server's domain, or the account's bare JID. */
  assert_true(xmpp_reply_from_own_server(NULL, me));
  assert_true(xmpp_reply_from_own_server("chat.example", me));
  assert_true(xmpp_reply_from_own_server("CHAT.example", me));
  assert_true(xmpp_reply_from_own_server("replmon@chat.example", me));
  assert_true(xmpp_reply_from_own_server("replmon@Chat.Example", me));
  assert_true(xmpp_reply_from_own_server("chat.example", "replmon@chat.example"));
  /* Another account, a client of this one, another server. */
  assert_false(xmpp_reply_from_own_server("mallory@chat.example", me));
  assert_false(xmpp_reply_from_own_server("replmo@chat.example", me));
  assert_false(xmpp_reply_from_own_server("replmonx@chat.example", me));
  assert_false(xmpp_reply_from_own_server("replmon@chat.example/other", me));
  assert_false(xmpp_reply_from_own_server("replmon@chat.example/abc123", me));
  assert_false(xmpp_reply_from_own_server("chat.example/x", me));
  assert_false(xmpp_reply_from_own_server("other.example", me));
  assert_false(xmpp_reply_from_own_server("replmon@other.example", me));
  assert_false(xmpp_reply_from_own_server("replmon@chat.example@x", me));
  assert_false(xmpp_reply_from_own_server("", me));
  /* Without a bound JID only a reply without from is the server's. */
  assert_false(xmpp_reply_from_own_server("chat.example", NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_remote_reply_from),
      cmocka_unit_test(test_own_server_reply_from),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
