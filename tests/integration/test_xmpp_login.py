#!/usr/bin/env python3
"""Integration tests: the logged-in probe (probe_account) of the real build/replmon against
throwaway ejabberd 23.01 and Prosody 0.12 servers.

Run:  python3 tests/integration/test_xmpp_login.py [-v] [TestXMPPLogin.test_01_login ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory (configs, server and replmon logs)

Starts one ejabberd and one Prosody, registers a monitoring account on each and ONE replmon
that logs in to both (STARTTLS with the servers' certificates as its CA, SASL SCRAM, bind,
a XEP-0199 ping every poll), plus a node whose account has the wrong password. Then changes
the account's password on ejabberd and freezes ejabberd's VM. Prints
`integration-xmpp-login: N passed, M failed` last and exits non-zero on failure. About 40 s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import http, is_nan, promtool_check, write_file, write_secret  # noqa: E402
from xmpp_servers import (Ejabberd, Prosody, replmon_xmpp_config,  # noqa: E402
                          replmon_xmpp_node, start_all, stop_all)

POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0
BOUND_S = CONTRACT_S + 15.0
SCRAPE_EVERY_S = 0.2
FAST_SCRAPE_S = 0.100

MONITOR = "monitor"
MONITOR_PASSWORD = "monitor-Secret-3"
CHANGED_PASSWORD = "monitor-Changed-4"
WRONG_PASSWORD = "monitor-Wrong-5"
NODES = {"ej1": "chat", "pr1": "chat-prosody", "pr-wrong": "chat-prosody"}


def lab(node):
    return dict(cluster=NODES[node], node=node)


def login_errors(m, node, reason):
    return m.get("replmon_probe_errors_total", kind="xmpp_login", cluster=NODES[node],
                 node=node, reason=reason) or 0


class TestXMPPLogin(common.FixtureCase):
    LABEL = "integration-xmpp-login"
    WORKDIR_PREFIX = "replmon-login-"
    REPLMON_TAG = "login"
    servers = []
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def start_fixture(cls):
        wd = cls.workdir
        cls.ej = Ejabberd(os.path.join(wd, "ejabberd"))
        cls.prosody = Prosody(os.path.join(wd, "prosody"))
        cls.servers = [cls.ej, cls.prosody]
        start_all(cls.servers)
        for srv in cls.servers:
            srv.register(MONITOR, MONITOR_PASSWORD)
        good = write_secret(os.path.join(wd, "monitor.pass"), MONITOR_PASSWORD)
        wrong = write_secret(os.path.join(wd, "wrong.pass"), WRONG_PASSWORD)

        def node(name, srv, password_file):
            return replmon_xmpp_node(name, srv, ca_file=srv.cert,
                                     probe_account=(MONITOR, password_file, "1s"))

        text = replmon_xmpp_config(POLL_S, CONNECT_S, QUERY_S, {
            "chat": [node("ej1", cls.ej, good)],
            "chat-prosody": [node("pr1", cls.prosody, good),
                             node("pr-wrong", cls.prosody, wrong)]})
        cls.start_replmon(write_file(os.path.join(wd, "replmon.yml"), text))

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()  # replmon
        stop_all(cls.servers)
        cls.servers = []

    def logged_in(self, node):
        return lambda m: m.get("xmpp_login_success", **lab(node)) == 1

    def test_01_login_and_ping(self):
        """Both servers: logged in over STARTTLS with SASL, the ping answered, measured."""
        for node in ("ej1", "pr1"):
            m, secs = self.wait_for(self.logged_in(node), what=node + " logged in",
                                    show=('node="%s"' % node,))
            self.record_timing(node + "_first_login", secs, contract=False)
            duration = m.get("xmpp_login_duration_seconds", **lab(node))
            rtt = m.get("xmpp_ping_rtt_seconds", **lab(node))
            self.assertTrue(0 < duration < CONNECT_S + QUERY_S, "login duration %r" % duration)
            self.assertTrue(0 < rtt < QUERY_S, "ping rtt %r" % rtt)
            self.assertEqual(m.get("replmon_probe_success", kind="xmpp_login", **lab(node)), 1)
            for reason in ("connect", "timeout", "tls", "auth", "stream"):
                self.assertIsNotNone(m.get("replmon_probe_errors_total", kind="xmpp_login",
                                           reason=reason, **lab(node)))
            print("    %s: login %.1f ms, ping %.2f ms" % (node, duration * 1e3, rtt * 1e3))
        self.assertEqual(promtool_check(m.text), (0, ""))
        status, _, body, _ = http(self.replmon.port, "/health/pr1")
        self.assertEqual(status, 200, body)

    def test_02_wrong_password(self):
        """An account the server refuses: login 0, reason auth, the node critical."""
        m, _ = self.wait_for(lambda m: login_errors(m, "pr-wrong", "auth") >= 1,
                             what="pr-wrong refused with reason auth",
                             show=('node="pr-wrong"',))
        self.assertEqual(m.get("xmpp_login_success", **lab("pr-wrong")), 0)
        self.assertTrue(is_nan(m.get("xmpp_ping_rtt_seconds", **lab("pr-wrong"))))
        status, _, body, _ = http(self.replmon.port, "/health/pr-wrong")
        self.assertEqual(status, 503, body)
        self.assertIn(b"login failing (auth)", body)
        self.assertEqual(m.get("replmon_target_state", state="critical", **lab("pr-wrong")), 1)

    def test_03_password_changed_on_the_server(self):
        """The monitoring account's password changed on ejabberd: auth within the contract;
        changed back: logged in again."""
        self.wait_for(self.logged_in("ej1"), what="ej1 logged in first")
        base = login_errors(self.scrape(), "ej1", "auth")
        self.ej.ctl("change_password", MONITOR, self.ej.domain, CHANGED_PASSWORD)
        try:
            t0 = time.monotonic()
            m, _ = self.wait_for(lambda m: login_errors(m, "ej1", "auth") > base
                                 and m.get("xmpp_login_success", **lab("ej1")) == 0,
                                 what="ej1 login refused with reason auth",
                                 show=('node="ej1"',))
            self.record_timing("password_changed", time.monotonic() - t0)
        finally:
            self.ej.ctl("change_password", MONITOR, self.ej.domain, MONITOR_PASSWORD)
        t0 = time.monotonic()
        self.wait_for(self.logged_in("ej1"), what="ej1 logged in again", show=('node="ej1"',))
        self.record_timing("password_restored", time.monotonic() - t0)

    def test_04_frozen_server(self):
        """ejabberd frozen (SIGSTOP): the login probe times out; every scrape stays fast."""
        self.wait_for(self.logged_in("ej1"), what="ej1 logged in first")
        base = login_errors(self.scrape(), "ej1", "timeout")
        self.ej.freeze()
        try:
            m, detected, latencies = self.watch_fault(
                "ejabberd_frozen",
                lambda m: m.get("xmpp_login_success", **lab("ej1")) == 0
                and login_errors(m, "ej1", "timeout") > base, 20, "freeze")
            self.assertIsNotNone(detected, "ej1 not failing with reason timeout\n%s"
                                 % m.lines('node="ej1"'))
            self.assertLess(max(latencies), FAST_SCRAPE_S, "slowest scrape during the freeze")
            self.assertEqual(m.get("xmpp_login_success", **lab("pr1")), 1, "pr1 meanwhile")
        finally:
            self.ej.thaw()
        t0 = time.monotonic()
        self.wait_for(self.logged_in("ej1"), what="ej1 logged in after the thaw",
                      show=('node="ej1"',))
        self.record_timing("ejabberd_thawed", time.monotonic() - t0)

    def test_05_no_secret_anywhere(self):
        """The accounts' passwords are never served, logged or on the command line."""
        secrets_ = (MONITOR_PASSWORD, WRONG_PASSWORD, CHANGED_PASSWORD)
        self.assert_secrets_not_shown(
            secrets_, ("/", "/metrics", "/health/pr-wrong", "/probe?target=pr1"))
        log = self.stop_replmon_cleanly(max_secs=CONNECT_S + QUERY_S + 2.0)
        for s in secrets_:
            self.assertNotIn(s, log, "a secret reached the log")


def main(argv):
    return common.run_suite(TestXMPPLogin, argv, "integration-xmpp-login",
                            sys.modules[__name__], cleanup=TestXMPPLogin._cleanup,
                            timings_title="timings (seconds from the change to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
