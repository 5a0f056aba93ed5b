#!/usr/bin/env python3
"""Integration tests: federation end to end (issue #14). Real ejabberd 23.01 (one.test) and
Prosody 0.12 (two.test) federating over s2s in a network namespace (federation.py), and
ONE build/replmon in the same namespace watching both, each node with its monitoring
account pinging the other domain (`s2s_ping`) and its s2s port probed (`s2s_address`,
certificates verified against the test CA, `tls: {ca_file}`).

Run:  python3 tests/integration/test_federation.py [-v] [TestFederation.test_04_prosody_stopped ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory (configs, server and replmon logs)

Root only (network namespaces). ejabberd starts once; the faults are made on Prosody alone:
stopped and started, frozen (SIGSTOP) with the s2s connections up, restarted with mod_s2s
disabled. Prints `integration-federation: N passed, M failed` last and exits non-zero on
failure. About 25 s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import (http, is_nan, promtool_check, scrape, write_file,  # noqa: E402
                    write_secret)
from federation import (ADDRESS, MONITOR, MONITOR_PASSWORD, ONE, S2S_PORT, TWO,  # noqa: E402
                        Federation)
import netns  # noqa: E402
from xmpp_servers import replmon_xmpp_config, replmon_xmpp_node  # noqa: E402

POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
# A fault shows at the next poll's pings: one poll, the ping's own deadline, a scrape.
CONTRACT_S = POLL_S + QUERY_S + CONNECT_S + 1.0
# Back after a fault: ejabberd retries a peer after up to s2s_max_retry_delay (2 s), and
# the monitoring accounts log in again first.
RECOVERY_S = 15.0
BOUND_S = 20.0
SCRAPE_EVERY_S = 0.2
FROZEN_SCRAPE_S = 1.0

NODES = {"ej1": ("one", ONE, TWO), "pr1": ("two", TWO, ONE)}  # cluster, domain, remote


def lab(node):
    return dict(cluster=NODES[node][0], node=node)


def ping(m, node):
    return m.get("xmpp_s2s_ping_success", remote=NODES[node][2], **lab(node))


def rtt(m, node):
    return m.get("xmpp_s2s_ping_rtt_seconds", remote=NODES[node][2], **lab(node))


class TestFederation(common.FixtureCase):
    LABEL = "integration-federation"
    WORKDIR_PREFIX = "replmon-federation-"
    REPLMON_TAG = "federation"
    fed = None
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        why = netns.available()
        if why:
            raise RuntimeError(why)

    @classmethod
    def start_fixture(cls):
        t0 = time.monotonic()
        cls.fed = Federation(os.path.join(cls.workdir, "fed")).start()
        cls.record_timing("servers_started", time.monotonic() - t0, contract=False)
        fed = cls.fed
        secret = write_secret(os.path.join(cls.workdir, "monitor.pass"), MONITOR_PASSWORD)
        clusters = {}
        for name, srv in (("ej1", fed.ejabberd), ("pr1", fed.prosody)):
            cluster, domain, remote = NODES[name]
            clusters[cluster] = [replmon_xmpp_node(
                name, srv, ca_file=fed.ca.cert, probe_account=(MONITOR, secret),
                s2s_address="%s:%d" % (ADDRESS[domain], S2S_PORT), s2s_ping="[%s]" % remote)]
        path = write_file(os.path.join(cls.workdir, "replmon.yml"),
                          replmon_xmpp_config(POLL_S, CONNECT_S, QUERY_S, clusters))
        cls.config = path
        cls.replmon = fed.start_replmon(path, cls.REPLMON_TAG)

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()  # replmon
        if cls.fed is not None:
            t0 = time.monotonic()
            cls.fed.stop()
            print("\n    federation stopped in %.1f s" % (time.monotonic() - t0), flush=True)
            cls.fed = None

    # ------------------------------------------------------------------ helpers
    def health(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/" + node)
        return status, body.decode("utf-8", "replace")

    def state(self, m, node):
        for st in ("ok", "warning", "critical", "unknown"):
            if m.get("replmon_target_state", state=st, **lab(node)) == 1:
                return st
        return None

    def healthy(self, m):
        return ping(m, "ej1") == 1 and ping(m, "pr1") == 1

    def wait_healthy(self, what, timeout=RECOVERY_S):
        return self.wait_for(self.healthy, timeout=timeout, what=what,
                             show=("xmpp_s2s", "xmpp_login_success", "replmon_target_state"))

    def failing_lines(self, node):
        """The log lines that say node's s2s ping began failing (or fails differently)."""
        return [line for line in self.replmon.log_text().splitlines()
                if 'msg="s2s ping failing"' in line and "node=%s " % node in line]

    def prosody_restarted(self, **options):
        """Prosody stopped and started again (with changed options, if any)."""
        pr = self.fed.prosody
        pr.stop()
        if options:
            pr.reconfigure(**options)
        pr.start()

    # ------------------------------------------------------------------ tests
    def test_01_s2s_ping_both_ways(self):
        """Healthy federation: each monitoring account pings the other domain over s2s;
        success 1 with a round trip, both nodes ok, and the metrics lint-clean."""
        m, secs = self.wait_healthy("s2s pings answered both ways", timeout=BOUND_S)
        self.record_timing("first_s2s_pings", secs, contract=False)
        for node in NODES:
            r = rtt(m, node)
            self.assertTrue(r is not None and 0 < r < QUERY_S, "%s rtt %r" % (node, r))
            self.assertEqual(m.get("xmpp_login_success", **lab(node)), 1, node)
            print("    %s -> %s: %.2f ms" % (NODES[node][1], NODES[node][2], r * 1e3))
        m, _ = self.wait_for(lambda m: self.state(m, "ej1") == "ok" and
                             self.state(m, "pr1") == "ok", what="both nodes ok",
                             show=("replmon_target_state",))
        for node in NODES:
            status, body = self.health(node)
            self.assertEqual(status, 200, body)
            self.assertNotIn("s2s ping", body)
        self.assertEqual(promtool_check(m.text), (0, ""))

    def test_02_s2s_connections_on_both_servers(self):
        """xmpp_s2s_connections{direction} counts the federation on both servers: ejabberd
        from its API, Prosody from its openmetrics (the same family for both)."""
        self.wait_healthy("s2s pings answered both ways")

        def counted(m):
            return all((m.get("xmpp_s2s_connections", direction=d, **lab(n)) or 0) > 0
                       for n in NODES for d in ("in", "out"))
        m, _ = self.wait_for(counted, what="s2s connections counted on both servers",
                             show=("xmpp_s2s_connections",))
        # What the servers say themselves, for comparison (ejabberd also counts attempts
        # waiting to retry in outgoing_s2s_number).
        print("    ejabberd API %s, Prosody openmetrics %s; replmon: %s" % (
            self.fed.ejabberd_s2s(), self.fed.prosody_s2s(),
            m.lines("xmpp_s2s_connections{").replace("\n", "; ")))

    def test_03_certificates_verified(self):
        """The s2s ports' certificates (and the c2s ones), from the test CA for the right
        names, verify: xmpp_tls_cert_verified 1 for port 5269 on both nodes."""
        def verified(m):
            return all(m.get("xmpp_tls_cert_verified", port=port, **lab(n)) == 1
                       for n in NODES for port in (str(S2S_PORT),))
        m, _ = self.wait_for(verified, what="s2s certificates verified on both",
                             show=("xmpp_tls_cert", "probe_ssl"))
        for node, srv in (("ej1", self.fed.ejabberd), ("pr1", self.fed.prosody)):
            c2s_port = srv.c2s_address().rpartition(":")[2]
            self.assertEqual(m.get("xmpp_tls_cert_verified", port=c2s_port, **lab(node)), 1,
                             m.lines("xmpp_tls_cert_verified"))
            expiry = m.get("probe_ssl_earliest_cert_expiry", port=str(S2S_PORT), **lab(node))
            self.assertIsNotNone(expiry, m.lines("probe_ssl"))
            # The chain presented: the leaf and the CA expire within a minute of each other.
            self.assertLess(abs(expiry - srv.cert_not_after), 120, "s2s certificate expiry")

    def test_04_prosody_stopped(self):
        """Prosody stopped: ej1's ping to two.test fails with the stanza error in its
        health reason and the log (once), ej1 warning, not critical; started again: back."""
        self.wait_healthy("healthy before the fault")
        logged_before = len(self.failing_lines("ej1"))
        t0 = time.monotonic()
        self.fed.prosody.stop()
        try:
            m, _ = self.wait_for(lambda m: ping(m, "ej1") == 0, timeout=BOUND_S,
                                 what="ej1's s2s ping failing", show=('node="ej1"',))
            self.record_timing("prosody_stopped", time.monotonic() - t0)
            self.assertTrue(is_nan(rtt(m, "ej1")), "no rtt without an answer")
            status, body = self.health("ej1")
            self.assertRegex(body, r"s2s ping to two\.test failing: "
                                   r"(wait|cancel)/remote-server-(timeout|not-found)")
            m, _ = self.wait_for(lambda m: self.state(m, "ej1") is not None,
                                 what="ej1 has a state")
            self.assertEqual(self.state(m, "ej1"), "warning", body)
            self.assertEqual(status, 200, "a warning node answers /health with 200")
            time.sleep(3 * POLL_S)  # pings keep failing: still one log line for the change
            lines = self.failing_lines("ej1")[logged_before:]
            self.assertEqual(len(lines), 1, "logged once per change:\n" + "\n".join(lines))
            self.assertRegex(lines[0], r"remote=two\.test.*remote-server")
            self.assertEqual(ping(self.scrape(), "ej1"), 0)
        finally:
            self.fed.prosody.start()
        t0 = time.monotonic()
        self.wait_healthy("s2s pings answered again after Prosody's restart")
        self.record_timing("prosody_back", time.monotonic() - t0, contract=False)
        self.assertIn("s2s ping answers again", self.replmon.log_text())

    def test_05_prosody_frozen(self):
        """Prosody frozen with the s2s connections up (a peer that never answers): ej1's
        s2s ping fails as "no answer" within one query_timeout, and /metrics keeps
        answering promptly throughout; thawed: back."""
        self.wait_healthy("healthy before the freeze")
        self.fed.prosody.freeze()
        try:
            t0 = time.monotonic()
            latencies, detected, m = [], None, None
            while time.monotonic() - t0 < BOUND_S:
                m, secs = scrape(self.replmon.port, timeout=5)
                latencies.append(secs)
                if detected is None and ping(m, "ej1") == 0:
                    detected = time.monotonic() - t0
                if detected is not None and time.monotonic() - t0 > detected + 3:
                    break
                time.sleep(SCRAPE_EVERY_S)
            print("    %d scrapes during the freeze: max %.1f ms, median %.1f ms" % (
                len(latencies), max(latencies) * 1e3,
                sorted(latencies)[len(latencies) // 2] * 1e3))
            self.assertIsNotNone(detected, "ej1's s2s ping still %r during the freeze\n%s"
                                 % (ping(m, "ej1"), m.lines('node="ej1"')))
            self.record_timing("prosody_frozen", detected)
            self.assertLess(max(latencies), FROZEN_SCRAPE_S, "slowest scrape during the freeze")
            status, body = self.health("ej1")
            self.assertRegex(body, r"s2s ping to two\.test failing: no answer within 2\.0s")
            self.assertEqual(self.state(m, "ej1"), "warning", body)
            self.assertEqual(m.get("xmpp_login_success", **lab("ej1")), 1,
                             "ej1's own login is unaffected")
        finally:
            self.fed.prosody.thaw()
        t0 = time.monotonic()
        self.wait_healthy("s2s pings answered again after the thaw")
        self.record_timing("prosody_thawed", time.monotonic() - t0, contract=False)

    def test_06_s2s_disabled(self):
        """Prosody restarted with mod_s2s disabled: both nodes' pings fail with a reason;
        restarted with it again: back."""
        self.wait_healthy("healthy before disabling s2s")
        try:
            self.prosody_restarted(s2s_interface=None)
            t0 = time.monotonic()
            m, _ = self.wait_for(lambda m: ping(m, "ej1") == 0 and ping(m, "pr1") == 0,
                                 timeout=BOUND_S, what="both s2s pings failing",
                                 show=("xmpp_s2s_ping", "xmpp_login_success"))
            self.record_timing("s2s_disabled", time.monotonic() - t0)
            # The stanza errors, in the log: ejabberd's connection to Prosody is refused,
            # and Prosody refuses its own user's stanza for a remote domain.
            for node, reason in (("ej1", "wait/remote-server-timeout"),
                                 ("pr1", "cancel/not-allowed")):
                self.wait_for(lambda m: any("reason=" + reason in line
                                            for line in self.failing_lines(node)),
                              what="%s's failing ping logged with %s" % (node, reason))
            status, body = self.health("ej1")
            self.assertRegex(body, r"s2s ping to two\.test failing: wait/remote-server-timeout")
            self.assertEqual(self.state(m, "ej1"), "warning", body)
            # pr1's health names its worst problem: with s2s_address probed, the refused s2s
            # port itself; without, the ping.
            status, body_pr1 = self.health("pr1")
            self.assertRegex(body_pr1, r"s2s stream failing: connect to 127\.0\.0\.3:5269: "
                             r"Connection refused"
                             r"|s2s ping to one\.test failing: cancel/not-allowed")
            print("    ej1: %s\n    pr1: %s" % (body.strip()[:160], body_pr1.strip()[:160]))
        finally:
            self.prosody_restarted(s2s_interface=ADDRESS[TWO])
        t0 = time.monotonic()
        self.wait_healthy("s2s pings answered again with s2s enabled")
        self.record_timing("s2s_enabled", time.monotonic() - t0, contract=False)

    def test_07_sigterm(self):
        """replmon in the namespace stops cleanly, and the account's password is nowhere."""
        for path in ("/", "/metrics", "/health/ej1"):
            self.assertNotIn(MONITOR_PASSWORD.encode(), http(self.replmon.port, path)[2])
        log = self.stop_replmon_cleanly(max_secs=CONNECT_S + QUERY_S + 2.0)
        self.assertNotIn(MONITOR_PASSWORD, log)
        self.fed.replmon = None


def main(argv):
    return common.run_suite(TestFederation, argv, "integration-federation",
                            sys.modules[__name__], cleanup=TestFederation._cleanup,
                            timings_title="timings (seconds from the change to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
