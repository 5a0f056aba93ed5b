#!/usr/bin/env python3
"""Integration tests: the real build/replmon against throwaway XMPP servers.

Run:  python3 tests/integration/test_xmpp.py [-v] [TestXMPP.test_02_sessions_ejabberd ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory (configs, server and replmon logs)
      XMPP_PYTHON    a Python with slixmpp for the clients (default: this one if it has
                     it, else /usr/bin/python3, where Debian's python3-slixmpp lives)

Starts three ejabberd 23.01 nodes (plain; refusing muc_online_rooms; HTTP Basic only),
one Prosody 0.12 with a MUC component that federates over s2s with a second Prosody
(not watched), three replays of the Openfire REST API and ONE replmon watching all of
them (no MariaDB section), then logs real clients in and out, enters a room, sends a
message over s2s, freezes ejabberd's VM and stops Prosody. Prints `integration-xmpp: N
passed, M failed[, K skipped]` last and exits non-zero on failure. Python standard
library plus python3-slixmpp (in the clients' own processes), ejabberd, prosody, openssl
and promtool; all traffic stays on 127.0.0.1; every process is stopped by PID (finally,
atexit, SIGTERM/SIGINT). About 45 s.
"""

import base64
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import is_nan, promtool_check, write_secret  # noqa: E402
from xmpp_servers import (ADMIN_PASSWORD, Client, Ejabberd, OpenfireReplay,  # noqa: E402
                          Prosody, start_all, stop_all)

POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
# The contract: a change shows in /metrics within two poll intervals plus the timeouts;
# CONTRACT_S adds 1 s for this test's own 0.2 s scrape cadence. BOUND_S is how long a wait
# goes on before it reports failure.
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0
BOUND_S = 2 * POLL_S + CONNECT_S + QUERY_S + 15.0
SCRAPE_EVERY_S = 0.2
FAST_SCRAPE_S = 0.100  # every scrape during an outage must answer within this
MIN_OUTAGE_SCRAPES = 20
DAY_S = 86400

PASSWORDS = {"alice": "alice-Secret-7", "bob": "bob-Secret-8"}
WRONG_PASSWORD = "wrong-Secret-9"
OPENFIRE_SECRET = "openfire-Secret-5"
OPENFIRE_BASIC = ("admin", "openfire-Admin-6")
OPENFIRE_ENV = "REPLMON_IT_OPENFIRE_SECRET"
BAD_DOMAIN = "wrong.example"
MUC_DOMAIN = "rooms.chat.test"  # pr1's MUC component
PEER_DOMAIN = "peer.test"       # the Prosody that pr1 federates with

# node name -> cluster
NODES = {
    "ej1": "chat",            # ejabberd, all read-only commands allowed from 127.0.0.1
    "ej-refuse": "chat",      # ejabberd refusing muc_online_rooms (403 code 32)
    "ej-basic": "chat",       # ejabberd with HTTP Basic only, the right password
    "ej-badpw": "chat",       # the same server, a wrong password
    "ej-baddomain": "chat",   # ej1's API, stream probe with the wrong domain
    "pr1": "chat-prosody",
    "of1": "chat-openfire",       # JSON when asked for it; shared secret from a file
    "of-basic": "chat-openfire",  # JSON; HTTP Basic admin:password
    "of-xml": "chat-openfire",    # answers XML whatever Accept says; secret from env
}

XMPP_FAMILIES = {
    "xmpp_up": "gauge",
    "xmpp_c2s_sessions": "gauge",
    "xmpp_cluster_c2s_sessions": "gauge",
    "xmpp_s2s_connections": "gauge",
    "xmpp_registered_users": "gauge",
    "xmpp_muc_rooms": "gauge",
    "xmpp_uptime_seconds": "gauge",
    "xmpp_server_info": "gauge",
    "xmpp_stream_probe_success": "gauge",
    "xmpp_stream_probe_duration_seconds": "gauge",
    "xmpp_starttls_offered": "gauge",
    "xmpp_starttls_required": "gauge",
    "xmpp_tls_cert_expiry_timestamp_seconds": "gauge",
    "replmon_build_info": "gauge",
    "replmon_probe_success": "gauge",
    "replmon_probe_duration_seconds": "gauge",
    "replmon_last_success_timestamp_seconds": "gauge",
    "replmon_probe_errors_total": "counter",
}
EJABBERD_ONLY = ("xmpp_registered_users", "xmpp_uptime_seconds")
OPENFIRE_ONLY = ("xmpp_cluster_c2s_sessions",)
STREAM_FAMILIES = ("xmpp_stream_probe_success", "xmpp_stream_probe_duration_seconds",
                   "xmpp_starttls_offered", "xmpp_starttls_required",
                   "xmpp_tls_cert_expiry_timestamp_seconds")
XMPP_REASONS = ("connect", "timeout", "auth", "permission", "http", "parse")
STREAM_REASONS = ("connect", "timeout", "stream", "tls", "parse")


def lab(node):
    return dict(cluster=NODES[node], node=node)


def probe(node, kind="xmpp", **extra):
    return dict(kind=kind, cluster=NODES[node], node=node, **extra)


def errors(m, node, reason, kind="xmpp"):
    """replmon_probe_errors_total for one reason (0 when the series is not there yet)."""
    return m.get("replmon_probe_errors_total", **probe(node, kind, reason=reason)) or 0


class TestXMPP(common.FixtureCase):
    LABEL = "integration-xmpp"
    WORKDIR_PREFIX = "replmon-xmpp-"
    REPLMON_TAG = "xmpp"
    servers = []
    replays = []
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def start_fixture(cls):
        wd = cls.workdir
        t0 = time.monotonic()
        cls.ej = Ejabberd(os.path.join(wd, "ejabberd"))
        cls.ej_refuse = Ejabberd(os.path.join(wd, "ejabberd-refuse"),
                                 refuse=("muc_online_rooms",))
        cls.ej_basic = Ejabberd(os.path.join(wd, "ejabberd-basic"), basic_auth=True)
        cls.prosody = Prosody(os.path.join(wd, "prosody"), muc=MUC_DOMAIN)
        cls.peer = Prosody(os.path.join(wd, "prosody-peer"), domain=PEER_DOMAIN)
        cls.prosody.route_s2s(cls.peer.domain, cls.peer.s2s_address())
        cls.peer.route_s2s(cls.prosody.domain, cls.prosody.s2s_address())
        cls.servers = [cls.ej, cls.ej_refuse, cls.ej_basic, cls.prosody, cls.peer]
        start_all(cls.servers)
        for srv in (cls.ej, cls.prosody, cls.peer):
            for user, pw in PASSWORDS.items():
                srv.register(user, pw)
        cls.of = OpenfireReplay(secret=OPENFIRE_SECRET, basic=OPENFIRE_BASIC,
                                local_sessions=3, cluster_sessions=5).start()
        cls.of_basic = OpenfireReplay(secret=OPENFIRE_SECRET, basic=OPENFIRE_BASIC,
                                      local_sessions=4, cluster_sessions=6).start()
        cls.of_xml = OpenfireReplay(secret=OPENFIRE_SECRET, basic=OPENFIRE_BASIC,
                                    local_sessions=1, cluster_sessions=2,
                                    mode="xml").start()
        cls.replays = [cls.of, cls.of_basic, cls.of_xml]
        cls.startup_s = time.monotonic() - t0
        os.environ[OPENFIRE_ENV] = OPENFIRE_SECRET  # replmon inherits it (secret_env)
        cls.start_replmon(cls.write_config(os.path.join(wd, "replmon.yml")))
        print("servers up in %.1f s (ejabberd %s, refuse %s, basic %s, prosody %s)"
              % (cls.startup_s, cls.ej.api_url(), cls.ej_refuse.api_url(),
                 cls.ej_basic.api_url(), cls.prosody.metrics_url()), flush=True)

    @classmethod
    def write_config(cls, path):
        wd = cls.workdir
        admin_pw = write_secret(os.path.join(wd, "ejabberd-admin.pass"), ADMIN_PASSWORD)
        wrong_pw = write_secret(os.path.join(wd, "ejabberd-wrong.pass"), WRONG_PASSWORD)
        of_secret = write_secret(os.path.join(wd, "openfire.secret"), OPENFIRE_SECRET)
        of_pw = write_secret(os.path.join(wd, "openfire-admin.pass"), OPENFIRE_BASIC[1])
        ej, ejr, ejb, pr = cls.ej, cls.ej_refuse, cls.ej_basic, cls.prosody
        text = """global:
  poll_interval: %ds
  connect_timeout: %ds
  query_timeout: %ds
xmpp:
  - cluster: chat
    nodes:
      - name: ej1
        type: ejabberd
        api_url: %s
        c2s_address: %s
        domain: %s
        tls: {ca_file: %s}
      - name: ej-refuse
        type: ejabberd
        api_url: %s
      - name: ej-basic
        type: ejabberd
        api_url: %s
        auth: {basic_user: %s, password_file: %s}
      - name: ej-badpw
        type: ejabberd
        api_url: %s
        auth: {basic_user: %s, password_file: %s}
      - name: ej-baddomain
        type: ejabberd
        api_url: %s
        c2s_address: %s
        domain: %s
  - cluster: chat-prosody
    nodes:
      - name: pr1
        type: prosody
        api_url: %s
        c2s_address: %s
        domain: %s
        tls: {ca_file: %s}
  - cluster: chat-openfire
    nodes:
      - name: of1
        type: openfire
        api_url: %s
        auth: {secret_file: %s}
      - name: of-basic
        type: openfire
        api_url: %s
        auth: {basic_user: %s, password_file: %s}
      - name: of-xml
        type: openfire
        api_url: %s
        auth: {secret_env: %s}
""" % (POLL_S, CONNECT_S, QUERY_S,
            ej.api_url(), ej.c2s_address(), ej.domain, ej.cert,
            ejr.api_url(),
            ejb.api_url(), ejb.admin_jid(), admin_pw,
            ejb.api_url(), ejb.admin_jid(), wrong_pw,
            ej.api_url(), ej.c2s_address(), BAD_DOMAIN,
            pr.metrics_url(), pr.c2s_address(), pr.domain, pr.cert,
            cls.of.base_url(), of_secret,
            cls.of_basic.base_url(), OPENFIRE_BASIC[0], of_pw,
            cls.of_xml.base_url(), OPENFIRE_ENV)
        with open(path, "w") as f:
            f.write(text)
        return path

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()  # replmon
        for r in cls.replays:
            r.stop()
        cls.replays = []
        stop_all(cls.servers)
        cls.servers = []

    # ------------------------------------------------------------------ helpers
    def assert_promtool(self, m):
        rc, out = promtool_check(m.text)
        self.assertEqual((rc, out), (0, ""), "promtool check metrics")

    def wait_log(self, needle, since=0, what=None):
        """Waits until the replmon log (from byte `since`) contains needle; the lines."""
        deadline = time.monotonic() + BOUND_S
        while True:
            text = self.replmon.log_text()[since:]
            lines = [line for line in text.splitlines() if needle in line]
            if lines:
                return lines
            if time.monotonic() > deadline:
                self.fail("%s: no %r in the replmon log after %.0f s; tail:\n%s"
                          % (what or needle, needle, BOUND_S, text[-3000:]))
            time.sleep(0.2)

    def warn_lines(self, needle):
        return [line for line in self.replmon.log_text().splitlines()
                if needle in line and re.search(r"level=(warn|error)", line)]

    def assert_rising(self, node, reason, kind="xmpp", what=None):
        """errors_total{reason} of node goes up while we watch (the failure repeats)."""
        m0 = self.scrape()
        base = errors(m0, node, reason, kind)
        m, _ = self.wait_for(lambda m: errors(m, node, reason, kind) > base,
                             what=what or "%s %s errors{reason=%s} rising" % (node, kind, reason),
                             show=('node="%s"' % node,))
        return m

    def sessions_cycle(self, srv, node, tag):
        """Two real clients log in and out; xmpp_c2s_sessions goes 0 -> 2 -> 0."""
        labels = lab(node)
        self.wait_for(lambda m: m.get("xmpp_c2s_sessions", **labels) == 0,
                      what="%s: 0 sessions before the clients" % node,
                      show=('node="%s"' % node,))
        clients = [Client(srv.c2s_address(), "%s@%s" % (u, srv.domain), pw,
                          logdir=self.workdir) for u, pw in PASSWORDS.items()]
        try:
            for c in clients:
                c.connect()
            t0 = time.monotonic()
            self.wait_for(lambda m: m.get("xmpp_c2s_sessions", **labels) == 2,
                          what="%s: 2 sessions after two logins" % node,
                          show=('node="%s"' % node,))
            self.record_timing(tag + "_login", time.monotonic() - t0)
            for c in clients:
                self.assertEqual(c.disconnect(), 0, "client %s exit status" % c.jid)
            t0 = time.monotonic()
            m, _ = self.wait_for(lambda m: m.get("xmpp_c2s_sessions", **labels) == 0,
                                 what="%s: 0 sessions after the logouts" % node,
                                 show=('node="%s"' % node,))
            self.record_timing(tag + "_logout", time.monotonic() - t0)
            return m
        finally:
            for c in clients:
                c.disconnect()

    def outage(self, name, node, cause, restore, down, others_up=()):
        """cause(); scrapes every SCRAPE_EVERY_S until down(m) and for 3 s more (at least
        MIN_OUTAGE_SCRAPES scrapes), each within FAST_SCRAPE_S; the nodes in others_up stay
        up and keep being polled; restore() in any case. Returns the last metrics."""
        before = self.scrape()
        ts_before = {n: before.get("replmon_last_success_timestamp_seconds", **probe(n))
                     for n in others_up}
        cause()
        try:
            m, detected, latencies = self.watch_fault(name, down, MIN_OUTAGE_SCRAPES, "outage")
            worst = max(latencies)
            self.assertIsNotNone(detected, "%s: not shown after %.0f s\n%s\n%s" % (
                name, BOUND_S, m.lines('node="%s"' % node), self.replmon.log_text()[-2500:]))
            self.assertLess(worst, FAST_SCRAPE_S, "slowest scrape during the outage")
            self.assertGreaterEqual(len(latencies), MIN_OUTAGE_SCRAPES)
            for n in others_up:
                self.assertEqual(m.get("xmpp_up", **lab(n)), 1, "%s during the outage" % n)
                self.assertGreater(m.get("replmon_last_success_timestamp_seconds", **probe(n)),
                                   ts_before[n], "%s still polled during the outage" % n)
            self.assert_promtool(m)
            return m
        finally:
            restore()

    # ------------------------------------------------------------------ tests
    def test_01_ejabberd_values(self):
        j = lab("ej1")
        m, _ = self.wait_for(lambda m: m.get("xmpp_up", **j) == 1 and
                             m.get("xmpp_registered_users", **j) == len(self.ej.registered)
                             and all(m.find(f) for f in XMPP_FAMILIES),
                             what="ej1 up with its registered users, every family present",
                             show=('node="ej1"',))
        self.assertEqual(len(self.ej.registered), 3)  # admin, alice, bob
        self.assertEqual(m.get("xmpp_c2s_sessions", **j), 0)
        self.assertGreater(m.get("xmpp_uptime_seconds", **j), 0)
        self.assertEqual(m.get("xmpp_s2s_connections", direction="in", **j), 0)
        self.assertEqual(m.get("xmpp_s2s_connections", direction="out", **j), 0)
        self.assertEqual(len(m.find("xmpp_s2s_connections", **j)), 2)
        self.assertEqual(m.get("xmpp_muc_rooms", **j), 0)
        info = m.find("xmpp_server_info", **j)
        self.assertEqual(len(info), 1, info)
        self.assertEqual(set(info[0][1]), {"cluster", "node", "type", "version"})
        self.assertEqual(info[0][1]["type"], "ejabberd")
        self.assertIn("23.01", info[0][1]["version"], "version label of ejabberd")
        self.assertEqual(info[0][2], 1)
        p = probe("ej1")
        self.assertEqual(m.get("replmon_probe_success", **p), 1)
        self.assertGreaterEqual(m.get("replmon_probe_duration_seconds", **p), 0)
        self.assertGreater(m.get("replmon_last_success_timestamp_seconds", **p), time.time() - 60)
        for reason in XMPP_REASONS:
            self.assertEqual(errors(m, "ej1", reason), 0, "errors_total{reason=%s}" % reason)
        for fam in OPENFIRE_ONLY:
            self.assertEqual(m.find(fam, **j), [], "%s is not an ejabberd family" % fam)
        # HELP and TYPE for every family, with the documented type.
        for fam, typ in XMPP_FAMILIES.items():
            self.assertTrue(m.find(fam), "family %s has no samples" % fam)
            self.assertEqual(m.type.get(fam), typ, "TYPE of %s" % fam)
            self.assertTrue(m.help.get(fam), "HELP of %s" % fam)
        for name, _, _ in m.samples:
            self.assertIn(name, m.type, "no TYPE for %s" % name)
            self.assertIn(name, m.help, "no HELP for %s" % name)
        self.assertEqual(m.find("mariadb_up"), [], "no MariaDB section, no mariadb_up")
        self.assert_promtool(m)

    def test_02_sessions_ejabberd(self):
        self.sessions_cycle(self.ej, "ej1", "ejabberd_sessions")

    def test_03_sessions_prosody(self):
        self.sessions_cycle(self.prosody, "pr1", "prosody_sessions")

    def test_04_refused_command(self):
        r = lab("ej-refuse")
        m, _ = self.wait_for(lambda m: m.get("xmpp_up", **r) == 1 and
                             errors(m, "ej-refuse", "permission") > 0,
                             what="ej-refuse: up with permission errors",
                             show=('node="ej-refuse"',))
        v = m.get("xmpp_c2s_sessions", **r)
        self.assertTrue(v is not None and not is_nan(v), "c2s sessions still a number: %r" % v)
        self.assertEqual(v, 0)
        self.assertEqual(m.get("xmpp_registered_users", **r), 1)  # admin
        self.assertGreater(m.get("xmpp_uptime_seconds", **r), 0)
        self.assertEqual(m.get("xmpp_s2s_connections", direction="in", **r), 0)
        self.assertTrue(is_nan(m.get("xmpp_muc_rooms", **r)),
                        "the refused command's value is NaN: %r" % m.get("xmpp_muc_rooms", **r))
        self.assertEqual(m.get("xmpp_server_info", type="ejabberd", **r), 1)
        self.assert_rising("ej-refuse", "permission")
        lines = self.wait_log("muc_online_rooms", what="the refused command named in the log")
        print("    log: %s" % lines[0][:300])
        print("    ej-refuse: %s" % m.lines('node="ej-refuse"', "replmon_probe_success"))
        # Logged once: three more refused polls add no warn/error line about it.
        self.assertTrue(self.warn_lines("muc_online_rooms"),
                        "no warn/error line names muc_online_rooms")
        m = self.scrape()
        base = errors(m, "ej-refuse", "permission")
        before = self.warn_lines("muc_online_rooms")
        self.wait_for(lambda m: errors(m, "ej-refuse", "permission") >= base + 3,
                      what="three more refused polls", show=('node="ej-refuse"',))
        after = self.warn_lines("muc_online_rooms")
        self.assertEqual(after, before, "the refused command is logged once at warn/error, "
                         "not at every poll; new lines:\n%s" % "\n".join(after[len(before):][:5]))

    def test_05_basic_auth(self):
        good, bad = lab("ej-basic"), lab("ej-badpw")
        m, _ = self.wait_for(lambda m: m.get("xmpp_up", **good) == 1 and
                             m.get("xmpp_up", **bad) == 0 and
                             errors(m, "ej-badpw", "auth") > 0,
                             what="ej-basic up, ej-badpw down with auth errors",
                             show=('node="ej-b',))
        self.assertEqual(m.get("xmpp_c2s_sessions", **good), 0)
        self.assertEqual(m.get("xmpp_registered_users", **good), 1)
        self.assertEqual(m.get("replmon_probe_success", **probe("ej-basic")), 1)
        self.assertEqual(m.get("replmon_probe_success", **probe("ej-badpw")), 0)
        self.assertTrue(is_nan(m.get("xmpp_c2s_sessions", **bad)),
                        "c2s sessions of ej-badpw: %r" % m.get("xmpp_c2s_sessions", **bad))
        self.assertEqual(errors(m, "ej-basic", "auth"), 0)
        self.assert_rising("ej-badpw", "auth")
        # The server itself refuses the wrong password (401 code 10) and takes the right one.
        status, body = self.ej_basic.api("connected_users_number",
                                         auth=(self.ej_basic.admin_jid(), WRONG_PASSWORD))
        self.assertEqual(status, 401, body)
        log = self.replmon.log_text()
        for secret in (ADMIN_PASSWORD, WRONG_PASSWORD):
            self.assertNotIn(secret, log, "a password reached the log")

    def test_06_prosody_families(self):
        p = lab("pr1")
        m, _ = self.wait_for(lambda m: m.get("xmpp_up", **p) == 1 and
                             m.get("xmpp_stream_probe_success", **p) == 1,
                             what="pr1 up", show=('node="pr1"',))
        info = m.find("xmpp_server_info", **p)
        self.assertEqual(len(info), 1, info)
        self.assertEqual(info[0][1].get("type"), "prosody")
        self.assertEqual(info[0][2], 1)
        print("    prosody server_info: %s" % m.lines("xmpp_server_info", 'node="pr1"'))
        self.assertEqual(m.get("xmpp_c2s_sessions", **p), 0)
        self.assertEqual(m.get("replmon_probe_success", **probe("pr1")), 1)
        for fam in EJABBERD_ONLY + OPENFIRE_ONLY:
            self.assertEqual(m.find(fam, **p), [], "%s is not a Prosody family" % fam)
        for fam in STREAM_FAMILIES:
            self.assertEqual(len(m.find(fam, **p)), 1, "%s for pr1" % fam)
        # mod_s2s and mod_muc are loaded, nothing connected yet: 0, not NaN.
        self.assertEqual(m.get("xmpp_muc_rooms", **p), 0)
        for direction in ("in", "out"):
            self.assertEqual(m.get("xmpp_s2s_connections", direction=direction, **p), 0)

    def test_06b_prosody_room_and_s2s(self):
        """A client enters (creates) a room: xmpp_muc_rooms 1; a half-open s2s stream is
        no connection; a message from the peer domain: one s2s connection each way."""
        p = lab("pr1")
        pr, peer = self.prosody, self.peer
        show = ('node="pr1"',)
        alice = Client(pr.c2s_address(), "alice@" + pr.domain, PASSWORDS["alice"],
                       logdir=self.workdir, presence=True,
                       join="lobby@%s/alice" % MUC_DOMAIN)
        bob = Client(peer.c2s_address(), "bob@" + peer.domain, PASSWORDS["bob"],
                     logdir=self.workdir, send=("alice@" + pr.domain, "hello over s2s"))
        try:
            alice.connect()
            alice.wait_joined()
            t0 = time.monotonic()
            self.wait_for(lambda m: m.get("xmpp_muc_rooms", **p) == 1,
                          what="pr1: 1 room after alice entered it", show=show)
            self.record_timing("prosody_room", time.monotonic() - t0)

            # A jabber:server stream that never authenticates: Prosody counts it as
            # s2sin_unauthed, replmon does not count it.
            host, _, port = pr.s2s_address().rpartition(":")
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                raw.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' "
                             "from='elsewhere.test' version='1.0'>" % pr.domain).encode())
                raw.recv(65536)
                opened = time.time()
                m, _ = self.wait_for(
                    lambda m: m.get("replmon_last_success_timestamp_seconds",
                                    **probe("pr1")) > opened + 0.5,
                    what="a poll of pr1 while the stream is open", show=show)
                self.assertEqual(pr.metric_sum("prosody_mod_s2s__connections_inbound",
                                               'type="s2sin_unauthed"'), 1)
                self.assertEqual(m.get("xmpp_s2s_connections", direction="in", **p), 0)
                raw.sendall(b"</stream:stream>")

            bob.connect()
            alice.wait_message("hello over s2s", bound=15)
            t0 = time.monotonic()
            m, _ = self.wait_for(
                lambda m: (m.get("xmpp_s2s_connections", direction="in", **p) == 1 and
                           m.get("xmpp_s2s_connections", direction="out", **p) == 1),
                what="pr1: one s2s connection each way (dialback) after the message",
                show=show)
            self.record_timing("prosody_s2s", time.monotonic() - t0)
            self.assert_promtool(m)
            self.assertEqual(alice.disconnect(), 0)
            t0 = time.monotonic()
            self.wait_for(lambda m: m.get("xmpp_muc_rooms", **p) == 0,
                          what="pr1: the empty room is gone after alice left", show=show)
            self.record_timing("prosody_room_gone", time.monotonic() - t0)
            bob.disconnect()
            t0 = time.monotonic()
            peer.stop()
            self.wait_for(
                lambda m: (m.get("xmpp_s2s_connections", direction="in", **p) == 0 and
                           m.get("xmpp_s2s_connections", direction="out", **p) == 0),
                what="pr1: no s2s connection after the peer stopped", show=show)
            self.record_timing("prosody_s2s_peer_stop", time.monotonic() - t0, contract=False)
        finally:
            alice.disconnect()
            bob.disconnect()

    def test_07_openfire(self):
        o, ob = lab("of1"), lab("of-basic")
        m, _ = self.wait_for(lambda m: m.get("xmpp_c2s_sessions", **o) == 3 and
                             m.get("xmpp_cluster_c2s_sessions", **o) == 5 and
                             m.get("xmpp_c2s_sessions", **ob) == 4,
                             what="of1 3/5 sessions, of-basic 4", show=("chat-openfire",))
        self.assertEqual(m.get("xmpp_up", **o), 1)
        self.assertEqual(m.get("xmpp_up", **ob), 1)
        self.assertEqual(m.get("xmpp_cluster_c2s_sessions", **ob), 6)
        self.assertEqual(m.get("replmon_probe_success", **probe("of1")), 1)
        self.assertEqual(m.get("xmpp_server_info", type="openfire", **o), 1)
        for fam in EJABBERD_ONLY + STREAM_FAMILIES:
            self.assertEqual(m.find(fam, **o), [], "%s for an Openfire node" % fam)
        h = self.of.last_headers
        self.assertIn("application/json", h.get("accept", ""), "Accept of the request: %s" % h)
        self.assertEqual(h.get("authorization"), OPENFIRE_SECRET, "the raw secret, no scheme")
        expect = "Basic " + base64.b64encode(("%s:%s" % OPENFIRE_BASIC).encode()).decode()
        self.assertEqual(self.of_basic.last_headers.get("authorization"), expect)
        self.of.set_sessions(7, 11)
        t0 = time.monotonic()
        self.wait_for(lambda m: m.get("xmpp_c2s_sessions", **o) == 7 and
                      m.get("xmpp_cluster_c2s_sessions", **o) == 11,
                      what="of1 follows the replay to 7/11", show=('node="of1"',))
        self.record_timing("openfire_change", time.monotonic() - t0)

    def test_08_openfire_xml(self):
        x = lab("of-xml")
        m, _ = self.wait_for(lambda m: errors(m, "of-xml", "parse") > 0,
                             what="of-xml parse errors", show=('node="of-xml"',))
        self.assertTrue(is_nan(m.get("xmpp_c2s_sessions", **x)),
                        "of-xml c2s sessions: %r" % m.get("xmpp_c2s_sessions", **x))
        self.assertTrue(is_nan(m.get("xmpp_cluster_c2s_sessions", **x)),
                        "of-xml cluster sessions: %r" % m.get("xmpp_cluster_c2s_sessions", **x))
        self.assertEqual(m.get("replmon_probe_success", **probe("of-xml")), 0)
        print("    of-xml: %s" % m.lines('node="of-xml"', "xmpp_up"))
        self.assert_rising("of-xml", "parse")
        h = self.of_xml.last_headers
        self.assertEqual(h.get("authorization"), OPENFIRE_SECRET, "secret_env reached the request")
        self.assertIn("application/json", h.get("accept", ""))

    def test_09_stream_probe(self):
        for node, srv in (("ej1", self.ej), ("pr1", self.prosody)):
            n = lab(node)
            m, _ = self.wait_for(lambda m: m.get("xmpp_stream_probe_success", **n) == 1 and
                                 m.get("xmpp_tls_cert_expiry_timestamp_seconds", **n) is not None,
                                 what="%s stream probe" % node, show=('node="%s"' % node,))
            self.assertEqual(m.get("xmpp_starttls_offered", **n), 1, node)
            self.assertEqual(m.get("xmpp_starttls_required", **n), 0, node)
            expiry = m.get("xmpp_tls_cert_expiry_timestamp_seconds", **n)
            self.assertLess(abs(expiry - srv.cert_not_after), DAY_S,
                            "%s: cert expiry %r vs notAfter %d" % (node, expiry,
                                                                   srv.cert_not_after))
            self.assertGreater(m.get("xmpp_stream_probe_duration_seconds", **n), 0, node)
            self.assertEqual(m.get("replmon_probe_success", **probe(node, "xmpp_stream")), 1)
            for reason in STREAM_REASONS:
                self.assertEqual(errors(m, node, reason, "xmpp_stream"), 0,
                                 "%s xmpp_stream errors{reason=%s}" % (node, reason))
        for node in ("ej-refuse", "ej-basic", "of1"):  # no c2s_address: no stream families
            for fam in STREAM_FAMILIES:
                self.assertEqual(m.find(fam, **lab(node)), [], "%s for %s" % (fam, node))

    def test_10_stream_wrong_domain(self):
        d = lab("ej-baddomain")
        m, _ = self.wait_for(lambda m: m.get("xmpp_stream_probe_success", **d) == 0 and
                             errors(m, "ej-baddomain", "stream", "xmpp_stream") > 0,
                             what="ej-baddomain: stream probe fails", show=('node="ej-badd',))
        self.assertEqual(m.get("xmpp_up", **d), 1, "the API of ej-baddomain is fine")
        self.assertEqual(m.get("replmon_probe_success", **probe("ej-baddomain", "xmpp_stream")),
                         0)
        for fam in ("xmpp_starttls_offered", "xmpp_starttls_required",
                    "xmpp_tls_cert_expiry_timestamp_seconds"):
            self.assertTrue(is_nan(m.get(fam, **d)), "%s after a stream error: %r"
                            % (fam, m.get(fam, **d)))
        self.assert_rising("ej-baddomain", "stream", "xmpp_stream")
        lines = self.wait_log("host-unknown", what="the stream error condition in the log")
        print("    log: %s" % lines[0][:300])

    def test_11_freeze_ejabberd(self):
        j = lab("ej1")
        p = probe("ej1")
        base = {r: errors(self.scrape(), "ej1", r) for r in XMPP_REASONS}
        m = self.outage(
            "ejabberd_freeze", "ej1", self.ej.freeze, self.ej.thaw,
            lambda m: (m.get("xmpp_up", **j) == 0 and m.get("replmon_probe_success", **p) == 0
                       and m.get("xmpp_stream_probe_success", **j) == 0),
            others_up=("pr1", "ej-basic", "of1"))
        rose = {r: errors(m, "ej1", r) - base[r] for r in XMPP_REASONS}
        print("    ej1 probe errors during the freeze: %s" % rose)
        self.assertGreater(rose["timeout"], 0, "a frozen server is a timeout")
        self.assertTrue(is_nan(m.get("xmpp_c2s_sessions", **j)),
                        "c2s sessions of frozen ej1: %r" % m.get("xmpp_c2s_sessions", **j))
        t0 = time.monotonic()
        self.wait_for(lambda m: m.get("xmpp_up", **j) == 1 and
                      m.get("xmpp_stream_probe_success", **j) == 1,
                      what="ej1 up again after SIGCONT", show=('node="ej1"',))
        self.record_timing("ejabberd_thaw", time.monotonic() - t0)

    def test_12_stop_prosody(self):
        p = lab("pr1")
        base = errors(self.scrape(), "pr1", "connect")
        try:
            m = self.outage(
                "prosody_stop", "pr1", self.prosody.stop, lambda: None,
                lambda m: (m.get("xmpp_up", **p) == 0 and
                           m.get("xmpp_stream_probe_success", **p) == 0),
                others_up=("ej1", "of1"))
            self.assertGreater(errors(m, "pr1", "connect") - base, 0, "connect errors")
            for fam, extra in (("xmpp_c2s_sessions", {}), ("xmpp_muc_rooms", {}),
                               ("xmpp_s2s_connections", {"direction": "in"}),
                               ("xmpp_s2s_connections", {"direction": "out"})):
                self.assertTrue(is_nan(m.get(fam, **p, **extra)),
                                "%s of stopped pr1: %r" % (fam, m.get(fam, **p, **extra)))
            self.assertEqual(m.get("replmon_probe_success", **probe("pr1", "xmpp_stream")), 0)
            self.assertGreater(errors(m, "pr1", "connect", "xmpp_stream"), 0)
        finally:
            self.prosody.start()
        t0 = time.monotonic()
        self.wait_for(lambda m: m.get("xmpp_up", **p) == 1 and
                      m.get("xmpp_stream_probe_success", **p) == 1,
                      what="pr1 up again after its restart", show=('node="pr1"',))
        self.record_timing("prosody_restart", time.monotonic() - t0)

    def test_13_shutdown(self):
        """No secret served, logged or on the command line; SIGTERM stops replmon cleanly."""
        secrets_ = (ADMIN_PASSWORD, WRONG_PASSWORD, OPENFIRE_SECRET, OPENFIRE_BASIC[1])
        self.assert_secrets_not_shown(secrets_, ("/", "/metrics"))
        self.assert_promtool(self.scrape())
        log = self.stop_replmon_cleanly(max_secs=CONNECT_S + QUERY_S + 2.0)
        for s in secrets_:
            self.assertNotIn(s, log, "a secret reached the log")


def main(argv):
    return common.run_suite(TestXMPP, argv, "integration-xmpp", sys.modules[__name__],
                            cleanup=TestXMPP._cleanup,
                            timings_title="timings (seconds from the change to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
