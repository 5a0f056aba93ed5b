#!/usr/bin/env python3
"""Whose answer the logged-in probe's pings take: replmon against two scripted XMPP servers
in Python on loopback (plain TCP, SASL PLAIN, resource binding; no XMPP library), which
answer the pings as a script says.

  honest: answers the server ping from its domain, the s2s ping to good.test from
          good.test, and the s2s ping to other.test only with a forgery: an iq result with
          the right id from mallory@chat.test/x.
  forger: answers the server ping only with such a forgery.

Checked through /metrics and the log: honest's login succeeds, good.test answers
(xmpp_s2s_ping_success 1), other.test fails with "no answer within 2.0s" (0); forger's
login probe fails with reason timeout (xmpp_login_success 0). Before replies were checked
for their sender, other.test and forger both passed.

Run:  python3 tests/integration/test_xmpp_reply_from.py [-v]
Env:  REPLMON (default build/replmon), KEEP_WORKDIR=1 (as the other suites)
Python standard library. Prints `integration-xmpp-reply-from: N passed, M failed` last.
About 10 s.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import FixtureCase, TcpStandIn, free_port  # noqa: E402

LABEL = "integration-xmpp-reply-from"
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
DOMAIN = "chat.test"
FORGED_FROM = "mallory@chat.test/x"
STREAM_NS = "xmlns:stream='http://etherx.jabber.org/streams'"


def _attr(tag, name):
    m = re.search(r"\b%s=[\"']([^\"']*)[\"']" % name, tag)
    return m.group(1) if m else None


def scripted(answer):
    """A c2s server that logs in anyone and answers pings with answer(id, to): a list of
    stanzas to send."""
    return TcpStandIn(lambda server, c: _serve(c, answer))


def _serve(c, answer):
    buf = [""]

    def read_until(pattern):
        while True:
            m = re.search(pattern, buf[0], re.S)
            if m:
                buf[0] = buf[0][m.end():]
                return m
            data = c.recv(65536)
            if not data:
                raise EOFError
            buf[0] += data.decode("utf-8", "replace")

    def header(features):
        c.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:client' %s id='s%d' "
                   "from='%s' version='1.0'><stream:features>%s</stream:features>"
                   % (STREAM_NS, id(c), DOMAIN, features)).encode())

    try:
        read_until(r"<stream:stream[^>]*>")
        header("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
               "<mechanism>PLAIN</mechanism></mechanisms>")
        read_until(r"<auth\b.*?(</auth>|/>)")
        c.sendall(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        read_until(r"<stream:stream[^>]*>")
        header("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>")
        bind = read_until(r"<iq\b[^>]*>.*?</iq>")
        c.sendall(("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<jid>replmon@%s/fake</jid></bind></iq>"
                   % (_attr(bind.group(0), "id"), DOMAIN)).encode())
        while True:
            iq = read_until(r"<iq\b[^>]*?(/>|>.*?</iq>)|</stream:stream>").group(0)
            if iq.startswith("</stream:stream"):
                c.sendall(b"</stream:stream>")
                return
            tag = iq[:iq.index(">") + 1]
            if "urn:xmpp:ping" in iq and _attr(tag, "type") == "get":
                for stanza in answer(_attr(tag, "id"), _attr(tag, "to")):
                    c.sendall(stanza.encode())
    except EOFError:
        pass


def result(iq_id, sender):
    return ("<iq type='result' id='%s' to='replmon@%s/fake'%s/>"
            % (iq_id, DOMAIN, " from='%s'" % sender if sender else ""))


def honest(iq_id, to):
    if to == DOMAIN:
        return [result(iq_id, DOMAIN)]
    if to == "good.test":
        return [result(iq_id, "good.test")]
    return [result(iq_id, FORGED_FROM)]


def forger(iq_id, to):
    return [result(iq_id, FORGED_FROM)]


class TestReplyFrom(FixtureCase):
    LABEL = LABEL
    WORKDIR_PREFIX = "replmon-replyfrom-"
    timings = []
    servers = {}

    @classmethod
    def start_fixture(cls):
        cls.servers = {"honest": scripted(honest), "forger": scripted(forger)}
        secret = os.path.join(cls.workdir, "probe.pass")
        with open(secret, "w") as f:
            f.write("probe-Secret-8\n")
        os.chmod(secret, 0o600)
        text = ("global:\n  poll_interval: %gs\n  connect_timeout: %gs\n  query_timeout: %gs\n"
                "xmpp:\n  - cluster: chat\n    nodes:\n" % (POLL_S, CONNECT_S, QUERY_S))
        for name, server in cls.servers.items():
            text += ("      - name: %s\n        type: ejabberd\n"
                     "        api_url: http://127.0.0.1:%d/api\n"
                     "        c2s_address: 127.0.0.1:%d\n        domain: %s\n"
                     "        probe_account: {jid: replmon@%s, password_file: %s}\n"
                     % (name, free_port(), server.port, DOMAIN, DOMAIN, secret))
            if name == "honest":
                text += "        s2s_ping: [other.test, good.test]\n"
        path = os.path.join(cls.workdir, "replmon.yml")
        with open(path, "w") as f:
            f.write(text)
        cls.start_replmon(path)

    @classmethod
    def stop_fixture(cls):
        try:
            super().stop_fixture()
        finally:
            for s in cls.servers.values():
                s.stop()
            cls.servers = {}

    def test_01_answers_from_others_ignored(self):
        def settled(m):
            return (m.get("xmpp_login_success", cluster="chat", node="honest") == 1
                    and m.get("xmpp_s2s_ping_success", cluster="chat", node="honest",
                              remote="good.test") == 1
                    and m.get("xmpp_s2s_ping_success", cluster="chat", node="honest",
                              remote="other.test") == 0
                    and m.get("replmon_probe_errors_total", kind="xmpp_login", cluster="chat",
                              node="forger", reason="timeout") >= 1)
        m, _ = self.wait_for(settled, timeout=3 * (POLL_S + CONNECT_S + QUERY_S),
                             what="forged answers ignored",
                             show=("xmpp_login", "xmpp_s2s_ping", "xmpp_ping"))
        self.assertEqual(m.get("xmpp_login_success", cluster="chat", node="forger"), 0)
        log = self.replmon.log_text()
        self.assertRegex(log, r"s2s ping failing.*remote=other\.test.*no answer within 2\.0s")
        self.assertIn("no answer to a ping within 2.0s", log)

    def test_02_sigterm(self):
        self.stop_replmon_cleanly()


def main(argv):
    return common.run_suite(TestReplyFrom, argv, LABEL, sys.modules[__name__])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
