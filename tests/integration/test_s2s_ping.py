#!/usr/bin/env python3
"""Integration tests: the s2s ping (s2s_ping) of the logged-in probe of the real
build/replmon against one throwaway ejabberd 23.01 and one Prosody 0.12, on loopback.

Run:  python3 tests/integration/test_s2s_ping.py [-v] [TestS2SPing.test_01_local_vhost ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      REPLMON_CHECK  path of replmon-check (default build/replmon-check)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory (configs, server and replmon logs)

Each server serves two domains (chat.test, and other.chat.test as a second virtual host)
and runs in a mount namespace of its own (unshare) whose /etc/resolv.conf names
127.0.0.1, where nothing answers DNS (ejabberd's own resolver reads it too), and whose
/etc/hosts maps silent.test and silent2.test to 127.0.0.1: no lookup ever leaves the
machine. ejabberd dials s2s peers on the port of a silent peer of this suite
(outgoing_s2s_port), which accepts connections and never says a word: a frozen remote. ONE
replmon logs in to both servers as a monitoring account and pings, every poll,
other.chat.test (answered by the server itself: the success path), nowhere.invalid
(unknown: a stanza error) and, from ejabberd, silent.test and silent2.test (never
answered); a third node with a wrong password has the same s2s_ping (unknown, not
failing). Prints `integration-s2s-ping: N passed, M failed` last. About 20 s.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import (http, is_nan, promtool_check, replmon_check_path,  # noqa: E402
                    write_file, write_secret)
import xmpp_servers  # noqa: E402
from xmpp_servers import (Ejabberd, Prosody, replmon_xmpp_config,  # noqa: E402
                          replmon_xmpp_node, start_all, stop_all)

POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
# A poll: login (connect + query), the server's ping (query), the remotes' (query).
POLL_BOUND_S = CONNECT_S + 3 * QUERY_S
CONTRACT_S = 2 * POLL_S + POLL_BOUND_S + 1.0
BOUND_S = CONTRACT_S + 15.0
SCRAPE_EVERY_S = 0.2
CHECK_BOUND_S = 60.0

MONITOR = "monitor"
MONITOR_PASSWORD = "monitor-Secret-6"
WRONG_PASSWORD = "monitor-Wrong-7"
OTHER = "other." + xmpp_servers.DOMAIN  # a second virtual host, covered by the certificate
UNKNOWN = "nowhere.invalid"
SILENT = "silent.test"
SILENT2 = "silent2.test"  # a second silent remote: the wait is one timeout for both
NODES = {"ej1": "chat-ej", "pr1": "chat-pr", "pr-wrong": "chat-pr"}
REMOTES = {"ej1": (OTHER, UNKNOWN, SILENT, SILENT2), "pr1": (OTHER, UNKNOWN),
           "pr-wrong": (OTHER, UNKNOWN)}


def lab(node, remote=None):
    labels = dict(cluster=NODES[node], node=node)
    if remote:
        labels["remote"] = remote
    return labels


def isolated_prefix(resolv_conf, hosts):
    """A command prefix that runs a server in a mount namespace of its own where
    resolv_conf and hosts are /etc/resolv.conf and /etc/hosts. unshare and sh exec, so the
    PID is the server's."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && '
            'shift && exec "$@"', resolv_conf, hosts]


class SilentPeer:
    """Accepts connections on 127.0.0.1 and never sends a byte: a frozen s2s peer."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self):
        for c in [self.sock] + self.conns:
            try:
                c.close()
            except OSError:
                pass


class TestS2SPing(common.FixtureCase):
    LABEL = "integration-s2s-ping"
    WORKDIR_PREFIX = "replmon-s2s-"
    REPLMON_TAG = "s2s"
    servers = []
    timings = []
    peer = None
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        if os.geteuid() != 0:
            raise RuntimeError("the servers' mount namespaces need root")

    @classmethod
    def start_fixture(cls):
        wd = cls.workdir
        resolv = write_file(os.path.join(wd, "resolv.conf"),
                            "# nothing answers here: no lookup leaves the machine\n"
                            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        hosts = write_file(os.path.join(wd, "hosts"),
                           "127.0.0.1 localhost\n127.0.0.1 %s %s\n" % (SILENT, SILENT2))
        cls.peer = SilentPeer()
        # Both serve a second virtual host and run in the mount namespace; ejabberd dials
        # every s2s peer on the silent peer's port; Prosody's s2s dials out only.
        cls.ej = Ejabberd(os.path.join(wd, "ejabberd"), extra_hosts=(OTHER,),
                          extra_modules="  mod_ping: {}\n",
                          extra_options="outgoing_s2s_port: %d\noutgoing_s2s_families: [ipv4]\n"
                          "s2s_dns_timeout: 1\ns2s_dns_retries: 1\n" % cls.peer.port,
                          launch_prefix=isolated_prefix(resolv, hosts))
        cls.prosody = Prosody(os.path.join(wd, "prosody"), extra_hosts=(OTHER,),
                              outgoing_s2s=True, launch_prefix=isolated_prefix(resolv, hosts))
        cls.servers = [cls.ej, cls.prosody]
        start_all(cls.servers)
        for srv in cls.servers:
            srv.register(MONITOR, MONITOR_PASSWORD)
        good = write_secret(os.path.join(wd, "monitor.pass"), MONITOR_PASSWORD)
        wrong = write_secret(os.path.join(wd, "wrong.pass"), WRONG_PASSWORD)

        def node(name, srv, password_file):
            return replmon_xmpp_node(name, srv, ca_file=srv.cert,
                                     probe_account=(MONITOR, password_file, "60s"),
                                     s2s_ping="[%s]" % ", ".join(REMOTES[name]))

        text = replmon_xmpp_config(POLL_S, CONNECT_S, QUERY_S, {
            "chat-ej": [node("ej1", cls.ej, good)],
            "chat-pr": [node("pr1", cls.prosody, good),
                        node("pr-wrong", cls.prosody, wrong)]})
        cls.started = time.monotonic()
        cls.start_replmon(write_file(os.path.join(wd, "replmon.yml"), text))

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()  # replmon
        stop_all(cls.servers)
        cls.servers = []
        if cls.peer:
            cls.peer.close()
            cls.peer = None

    def s2s(self, m, node, remote):
        return (m.get("xmpp_s2s_ping_success", **lab(node, remote)),
                m.get("xmpp_s2s_ping_rtt_seconds", **lab(node, remote)))

    def health(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/" + node)
        return status, body.decode("utf-8", "replace")

    def test_01_local_vhost(self):
        """A domain the server serves itself answers: success 1 with a round trip, on both
        servers, from the first polls on."""
        for node in ("ej1", "pr1"):
            m, _ = self.wait_for(lambda m: self.s2s(m, node, OTHER)[0] == 1,
                                 what=node + " pings " + OTHER, show=('node="%s"' % node,))
            self.record_timing(node + "_first_s2s_ping", time.monotonic() - self.started)
            rtt = self.s2s(m, node, OTHER)[1]
            self.assertTrue(0 < rtt < QUERY_S, "rtt %r" % rtt)
            print("    %s -> %s: %.2f ms" % (node, OTHER, rtt * 1e3))
        self.assertEqual(promtool_check(m.text), (0, ""))
        for node, remotes in REMOTES.items():
            for remote in remotes:
                for family in ("xmpp_s2s_ping_success", "xmpp_s2s_ping_rtt_seconds"):
                    self.assertIsNotNone(m.get(family, **lab(node, remote)),
                                         "%s of %s -> %s" % (family, node, remote))

    def test_02_unknown_domain(self):
        """A domain that does not resolve: success 0 within one poll of the login, the
        stanza error's type/condition in /health and the log, never in a label."""
        m, _ = self.wait_for(lambda m: self.s2s(m, "pr1", UNKNOWN)[0] == 0
                             and self.s2s(m, "ej1", UNKNOWN)[0] == 0,
                             what="pings to %s failing" % UNKNOWN, show=("s2s",))
        self.record_timing("unknown_domain", time.monotonic() - self.started)
        # Prosody's failed lookup (a resolver on loopback where nothing listens) takes about
        # the query timeout: on a loaded machine its first poll may read "no answer" before
        # the stanza error arrives at a later one.
        self.wait_for(lambda m: all("failing: no answer" not in self.health(n)[1]
                                    for n in ("ej1", "pr1")),
                      what="the stanza errors of %s" % UNKNOWN)
        m = common.scrape(self.replmon.port)[0]
        for node in ("ej1", "pr1"):
            self.assertEqual(m.get("xmpp_login_success", **lab(node)), 1, node)
            self.assertTrue(is_nan(self.s2s(m, node, UNKNOWN)[1]))
            status, body = self.health(node)
            self.assertEqual(status, 200, "warning, not critical: " + body)
            self.assertIn("s2s ping to %s failing: " % UNKNOWN, body)
            reason = body.split("s2s ping to %s failing: " % UNKNOWN, 1)[1].split()[0]
            print("    %s -> %s: %s" % (node, UNKNOWN, reason))
            self.assertIn(reason, ("cancel/remote-server-not-found",
                                   "wait/remote-server-timeout"))
            self.assertEqual(m.get("replmon_target_state", state="warning", **lab(node)), 1)
        for line in m.text.splitlines():
            if line.startswith("xmpp_s2s_ping"):
                self.assertNotIn("remote-server", line)
        # The servers looked the name up on loopback only: their resolv.conf.
        for pid in (self.ej.vm_pid, self.prosody.proc.pid):
            with open("/proc/%d/root/etc/resolv.conf" % pid) as f:
                servers = [line.split()[1] for line in f if line.startswith("nameserver")]
            self.assertEqual(servers, ["127.0.0.1"], "pid %d" % pid)

    def test_03_silent_remote(self):
        """Two remotes that never answer: "no answer within 2.0s", while the other remotes
        of the same poll are answered, and the poll waits one query timeout for all."""
        m, _ = self.wait_for(lambda m: self.s2s(m, "ej1", SILENT)[0] == 0
                             and self.s2s(m, "ej1", SILENT2)[0] == 0,
                             what="pings to %s and %s failing" % (SILENT, SILENT2),
                             show=('node="ej1"',))
        self.record_timing("silent_remote", time.monotonic() - self.started)
        self.assertEqual(self.s2s(m, "ej1", OTHER)[0], 1, "the same poll's other remote")
        self.assertTrue(is_nan(self.s2s(m, "ej1", SILENT)[1]))
        duration = m.get("replmon_probe_duration_seconds", kind="xmpp_login", **lab("ej1"))
        print("    ej1 poll with two silent remotes: %.2f s" % duration)
        self.assertLess(duration, QUERY_S + 1.0, "one timeout for every remote together")
        status, _, body, _ = http(self.replmon.port, "/")
        page = body.decode("utf-8", "replace")
        self.assertIn('data-remote="%s">%s: <span class="m">failing</span>: no answer within '
                      '2.0s' % (SILENT, SILENT), page)
        self.assertIn('data-remote="%s">%s: ' % (OTHER, OTHER), page)

    def test_04_not_logged_in_is_unknown(self):
        """The node whose account is refused: its s2s pings are unknown (NaN), not failing;
        its health names the login."""
        m, _ = self.wait_for(lambda m: m.get("xmpp_login_success", **lab("pr-wrong")) == 0
                             and m.get("replmon_probe_success", kind="xmpp_login",
                                       **lab("pr-wrong")) == 0,
                             what="pr-wrong refused", show=('node="pr-wrong"',))
        for remote in REMOTES["pr-wrong"]:
            success, rtt = self.s2s(m, "pr-wrong", remote)
            self.assertTrue(is_nan(success) and is_nan(rtt), "%s: %r %r" % (remote, success, rtt))
        status, body = self.health("pr-wrong")
        self.assertEqual(status, 503, body)
        self.assertIn("login failing (auth)", body)
        self.assertNotIn("s2s ping", body)

    def test_05_logged_once(self):
        """Each failing remote is logged once per reason (with the server's text), not every
        poll: a reason that changes ("no answer" on a slow first lookup, then the stanza
        error) is logged again, the same reason never twice in a row."""
        self.wait_for(lambda m: self.s2s(m, "ej1", SILENT2)[0] == 0
                      and self.s2s(m, "pr1", UNKNOWN)[0] == 0, what="failures seen")
        time.sleep(3 * POLL_S + QUERY_S)  # a few more polls with the same failures
        lines = [line for line in self.replmon.log_text().splitlines()
                 if 'msg="s2s ping failing"' in line]
        for node, remote in (("ej1", UNKNOWN), ("ej1", SILENT), ("ej1", SILENT2),
                             ("pr1", UNKNOWN)):
            mine = [line for line in lines
                    if "node=%s " % node in line and "remote=%s " % remote in line]
            reasons = [re.search(r' reason=("[^"]*"|\S+)', line).group(1) for line in mine]
            self.assertTrue(mine, "\n".join(lines))
            # Prosody's lookup of an unknown domain now and then outlasts the query timeout,
            # so a reason may come back after another: never the same one twice in a row,
            # and far fewer lines than polls.
            self.assertFalse([a for a, b in zip(reasons, reasons[1:]) if a == b],
                             "\n".join(lines))
            self.assertLessEqual(len(mine), 3, "\n".join(lines))
            print("    " + mine[-1])
        self.assertFalse([line for line in lines if "remote=%s " % OTHER in line])

    def test_06_replmon_check(self):
        """replmon-check tells the failing s2s ping through the node's health: warning."""
        r = subprocess.run([replmon_check_path(), "--config.file=" + self.config,
                            "--node=ej1", "--format=nagios"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=CHECK_BOUND_S)
        out = (r.stdout + r.stderr).decode("utf-8", "replace").strip()
        print("    " + out)
        self.assertEqual(r.returncode, 1, out)
        self.assertIn("s2s ping to %s failing" % UNKNOWN, out)


def main(argv):
    return common.run_suite(TestS2SPing, argv, "integration-s2s-ping", sys.modules[__name__],
                            cleanup=TestS2SPing._cleanup,
                            timings_title="timings (seconds from replmon's start to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
