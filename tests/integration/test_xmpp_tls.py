#!/usr/bin/env python3
"""Integration tests: certificate verification by the stream probe of the real build/replmon
against throwaway Prosody 0.12 servers, and hostile fake servers that never finish.

Run:  python3 tests/integration/test_xmpp_tls.py [-v] [TestXMPPTLS.test_01_good ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      KEEP_WORKDIR=1 keep the temporary directory (certificates, configs, logs)

A throwaway test CA and certificates for chat.test (tests/unit/data/tls/make-certs.sh, with
openssl, into the workdir); six Prosody servers, each serving one certificate: good (c2s
STARTTLS, XEP-0368 direct TLS and s2s), wrong name, expired, from another CA, self-signed,
and wrong name again behind tls.insecure_skip_verify. Four hostile servers on loopback
(Python): one cuts the connection in the middle of the TLS handshake after <proceed/>, one
accepts and never answers, one trickles a byte every 50 ms forever, one trickles inside the
handshake; and a good c2s with an s2s peer that never answers. ONE replmon watches all of
them (one node each), so that one poll round shows every case. Prints
`integration-xmpp-tls: N passed, M failed` last and exits non-zero on failure. About 25 s.
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
from common import http, is_nan, promtool_check  # noqa: E402
from xmpp_servers import Prosody  # noqa: E402

POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
BOUND_S = 2 * POLL_S + CONNECT_S + QUERY_S + 10.0
SCRAPE_BOUND_S = 1.0  # a scrape while probes hang answers within this, generously
DOMAIN = "chat.test"
PROBE_USER = "monitor"
PROBE_PASSWORD = "probe-Secret-8"
CLUSTER = "chat"
MAKE_CERTS = os.path.join(common.REPO, "tests", "unit", "data", "tls", "make-certs.sh")

# node -> (certificate served, expected verdict on c2s): each Prosody serves one.
CERT_NODES = {
    "good": ("good", "verified"),
    "wrongname": ("wrong-name", "wrong name"),
    "expired": ("expired", "expired"),
    "otherca": ("other-ca-leaf", "unknown issuer"),
    "selfsigned": ("self-signed", "self-signed"),
    "insecure": ("wrong-name", "wrong name"),
}
HOSTILE = ("cut", "silent", "trickle", "tlstrickle")


def lab(node, **more):
    return dict(cluster=CLUSTER, node=node, **more)


# --------------------------------------------------------------------------------------
# Hostile servers

FEATURES = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            b"xmlns:stream='http://etherx.jabber.org/streams' id='x' from='chat.test' "
            b"version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
            b"<required/></starttls></stream:features>")
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


class Hostile:
    """A TCP server on 127.0.0.1 that misbehaves in one way (mode) on every connection."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_until(self, conn, needle, bound=5.0):
        data, end = b"", time.monotonic() + bound
        conn.settimeout(0.2)
        while needle not in data and time.monotonic() < end and not self.stopping.is_set():
            try:
                chunk = conn.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            data += chunk
        return data

    def _trickle(self, conn, data):
        """data, then spaces (XML whitespace), one byte every 50 ms until stopped."""
        i = 0
        while not self.stopping.is_set():
            byte = data[i:i + 1] if i < len(data) else b" "
            i += 1
            try:
                conn.sendall(byte)
            except OSError:
                return
            time.sleep(0.05)

    def _serve(self, conn):
        try:
            if self.mode.endswith("silent") or self.mode.endswith("silent-s2s"):
                self.stopping.wait()  # accepts, reads nothing, answers nothing
            elif self.mode == "trickle":
                self._read_until(conn, b">")
                self._trickle(conn, FEATURES[:40])
            else:
                self._read_until(conn, b"version='1.0'>")
                conn.sendall(FEATURES)
                self._read_until(conn, b"<starttls")
                conn.sendall(PROCEED)
                if self.mode == "cut":
                    conn.recv(64)  # the start of the ClientHello, then gone
                    conn.shutdown(socket.SHUT_RDWR)
                else:  # tlstrickle: a TLS record header announcing 16 KiB, then a byte a time
                    self._trickle(conn, b"\x16\x03\x03\x40\x00\x02")
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


# --------------------------------------------------------------------------------------


class TestXMPPTLS(common.FixtureCase):
    LABEL = "integration-xmpp-tls"
    WORKDIR_PREFIX = "replmon-tls-"
    REPLMON_TAG = "tls"
    servers = []
    hostile = {}
    timings = []
    BOUND_S, SCRAPE_EVERY_S = BOUND_S, 0.2

    @classmethod
    def start_fixture(cls):
        wd = cls.workdir
        certs = os.path.join(wd, "certs")
        t0 = time.monotonic()
        subprocess.run(["sh", MAKE_CERTS, certs, DOMAIN], check=True, capture_output=True,
                       timeout=60)
        print("\n    test CA and certificates made in %.2f s" % (time.monotonic() - t0))
        cls.certs = certs
        cls.prosody = {}
        for node, (cert, _) in CERT_NODES.items():
            good = node == "good"
            cls.prosody[node] = Prosody(os.path.join(wd, "prosody-" + node),
                                        cert=os.path.join(certs, cert + ".pem"),
                                        key=os.path.join(certs, cert + ".key"),
                                        direct_tls=good, s2s=good)
        cls.servers = list(cls.prosody.values())
        for srv in cls.servers:
            srv.launch()
        for srv in cls.servers:
            srv.wait_ready()
        print("    %d Prosody servers ready after %.2f s"
              % (len(cls.servers), time.monotonic() - t0))
        cls.hostile = {mode: Hostile(mode)
                       for mode in HOSTILE + ("s2s-silent", "both-silent", "both-silent-s2s")}
        ca = os.path.join(certs, "ca.pem")
        nodes = []

        def node(name, api, extra):
            nodes.append("""      - name: %s
        type: prosody
        api_url: %s
        domain: %s
%s""" % (name, api, DOMAIN, "".join("        %s\n" % line for line in extra)))

        for name, srv in cls.prosody.items():
            skip = ", insecure_skip_verify: true" if name == "insecure" else ""
            extra = ["c2s_address: 127.0.0.1:%d" % srv.c2s_port,
                     "tls: {ca_file: %s%s}" % (ca, skip)]
            if srv.s2s_port:
                extra.append("s2s_address: 127.0.0.1:%d" % srv.s2s_port)
            node(name, srv.metrics_url(), extra)
        good = cls.prosody["good"]
        # The logged-in probe over direct TLS too: libstrophe must start with TLS there.
        good.register(PROBE_USER, PROBE_PASSWORD)
        password_file = os.path.join(wd, "probe.pass")
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PROBE_PASSWORD + "\n")
        node("good-direct", good.metrics_url(),
             ["c2s_address: 127.0.0.1:%d" % good.direct_tls_port, "c2s_direct_tls: true",
              "tls: {ca_file: %s}" % ca,
              "probe_account: {jid: %s@%s, password_file: %s}"
              % (PROBE_USER, DOMAIN, password_file)])
        for mode in HOSTILE:
            node(mode, good.metrics_url(),
                 ["c2s_address: 127.0.0.1:%d" % cls.hostile[mode].port,
                  "tls: {ca_file: %s}" % ca])
        node("s2s-silent", good.metrics_url(),
             ["c2s_address: 127.0.0.1:%d" % good.c2s_port,
              "s2s_address: 127.0.0.1:%d" % cls.hostile["s2s-silent"].port,
              "tls: {ca_file: %s}" % ca])
        # No ca_file: the system's trust store, which knows nothing of the test CA.
        node("system-store", good.metrics_url(), ["c2s_address: 127.0.0.1:%d" % good.c2s_port])
        node("both-silent", good.metrics_url(),
             ["c2s_address: 127.0.0.1:%d" % cls.hostile["both-silent"].port,
              "s2s_address: 127.0.0.1:%d" % cls.hostile["both-silent-s2s"].port])
        config = os.path.join(wd, "replmon.yml")
        with open(config, "w") as f:
            f.write("""global:
  poll_interval: %gs
  connect_timeout: %gs
  query_timeout: %gs
xmpp:
  - cluster: %s
    nodes:
%s""" % (POLL_S, CONNECT_S, QUERY_S, CLUSTER, "".join(nodes)))
        cls.start_replmon(config)

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()  # replmon
        for h in cls.hostile.values():
            h.stop()
        for srv in cls.servers:
            srv.stop()

    # ------------------------------------------------------------------ helpers
    def port_of(self, node):
        if node == "good-direct":
            return self.prosody["good"].direct_tls_port
        return self.prosody[node].c2s_port

    def verified(self, m, node, port):
        return m.get("xmpp_tls_cert_verified", **lab(node, port=port))

    def all_judged(self, m):
        return all(self.verified(m, n, self.port_of(n)) in (0, 1)
                   for n in list(CERT_NODES) + ["good-direct"])

    def health(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/" + node)
        return status, body.decode("utf-8", "replace")

    # ------------------------------------------------------------------ tests
    def test_01_good_certificate_on_every_endpoint(self):
        """The good certificate: verified 1 on c2s STARTTLS, direct TLS and s2s, with the
        chain's earliest expiry; the node ok."""
        m, secs = self.wait_for(self.all_judged, what="every certificate judged",
                                show=("xmpp_tls_cert_verified",))
        self.record_timing("all_certificates_judged", secs, contract=False)
        good = self.prosody["good"]
        for node, port in (("good", good.c2s_port), ("good-direct", good.direct_tls_port),
                           ("good", good.s2s_port)):
            self.assertEqual(self.verified(m, node, port), 1, "%s port %d" % (node, port))
            expiry = m.get("probe_ssl_earliest_cert_expiry", **lab(node, port=port))
            self.assertEqual(expiry, m.get("xmpp_tls_cert_expiry_timestamp_seconds",
                                           **lab("good")))
            self.assertGreater(expiry, time.time() + 50 * 365 * 86400)
        for node in ("good", "good-direct"):
            self.assertEqual(m.get("xmpp_stream_probe_success", **lab(node)), 1)
        m, _ = self.wait_for(lambda m: m.get("xmpp_login_success", **lab("good-direct")) == 1,
                             what="the logged-in probe over direct TLS",
                             show=("xmpp_login_success",))
        self.assertTrue(is_nan(m.get("xmpp_starttls_offered", **lab("good-direct"))))
        self.assertEqual(m.get("xmpp_starttls_offered", **lab("good")), 1)
        self.assertEqual(promtool_check(m.text), (0, ""))
        status, body = self.health("good")
        self.assertEqual(status, 200, body)
        self.assertNotIn("certificate", body)

    def test_02_bad_certificates(self):
        """Each bad certificate: verified 0, the stream probe still a success, the reason in
        the node's health (warning) and in the log once, not at every poll."""
        m, _ = self.wait_for(self.all_judged, what="every certificate judged",
                             show=("xmpp_tls_cert_verified",))
        for node, (_, reason) in CERT_NODES.items():
            if reason == "verified":
                continue
            port = self.port_of(node)
            self.assertEqual(self.verified(m, node, port), 0, node)
            self.assertEqual(m.get("xmpp_stream_probe_success", **lab(node)), 1, node)
            self.assertFalse(is_nan(m.get("probe_ssl_earliest_cert_expiry",
                                          **lab(node, port=port))), node)
            status, body = self.health(node)
            if node == "insecure":
                self.assertNotIn("not verified", body)
            else:
                self.assertIn("c2s certificate not verified: " + reason, body, node)
                self.assertTrue(body.startswith("WARNING: "), body)
        m, _ = self.wait_for(lambda m: self.verified(m, "system-store", self.port_of("good"))
                             in (0, 1), what="system-store judged")
        self.assertEqual(self.verified(m, "system-store", self.port_of("good")), 0)
        self.assertIn("c2s certificate not verified: unknown issuer",
                      self.health("system-store")[1])
        expired = m.get("probe_ssl_earliest_cert_expiry",
                        **lab("expired", port=self.port_of("expired")))
        self.assertEqual(expired, 1580515200)  # 2020-02-01T00:00:00Z
        time.sleep(3 * POLL_S)  # more polls with the same verdicts
        log = self.replmon.log_text()
        for node, (_, reason) in CERT_NODES.items():
            lines = [line for line in log.splitlines()
                     if 'msg="certificate not verified"' in line and " node=%s " % node in line]
            if reason == "verified":
                self.assertEqual(lines, [], node)
                continue
            self.assertEqual(len(lines), 1, "logged once per change: %s\n%s" % (
                node, "\n".join(lines)))
            self.assertIn('reason="%s"' % reason if " " in reason else "reason=" + reason,
                          lines[0])
        status, _, page, _ = http(self.replmon.port, "/")
        page = page.decode("utf-8", "replace")
        for reason in ("wrong name", "expired", "unknown issuer", "self-signed"):
            self.assertIn("not verified: " + reason, page)

    def test_03_hostile_servers_never_stall_a_scrape(self):
        """Cut mid-handshake, silent, trickling forever, trickling inside the handshake, a
        silent s2s peer, and both c2s and s2s silent: each probe fails with a reason within
        the timeouts (once, not twice, for the two streams of one poll), while /metrics
        answers at once."""
        expected = {"cut": ("tls", "parse"), "silent": ("timeout",),
                    "trickle": ("timeout",), "tlstrickle": ("timeout",),
                    "both-silent": ("timeout",)}

        def errors(m, node, reason):
            return m.get("replmon_probe_errors_total", kind="xmpp_stream", reason=reason,
                         **lab(node)) or 0

        def failed_twice(m):
            return all(sum(errors(m, n, r) for r in rs) >= 2 for n, rs in expected.items())

        latencies = []
        t0 = time.monotonic()
        m = None
        while time.monotonic() - t0 < BOUND_S:
            t = time.monotonic()
            m, secs = common.scrape(self.replmon.port, timeout=10)
            latencies.append(time.monotonic() - t)
            if failed_twice(m) and time.monotonic() - t0 > 2 * (CONNECT_S + QUERY_S):
                break
            time.sleep(0.1)
        print("\n    %d scrapes while the hostile probes hung: max %.1f ms, median %.1f ms" % (
            len(latencies), max(latencies) * 1e3, sorted(latencies)[len(latencies) // 2] * 1e3))
        self.assertTrue(failed_twice(m), "\n".join(m.lines('node="%s"' % n) for n in expected))
        self.assertLess(max(latencies), SCRAPE_BOUND_S)
        for node, reasons in expected.items():
            self.assertEqual(m.get("xmpp_stream_probe_success", **lab(node)), 0, node)
            duration = m.get("xmpp_stream_probe_duration_seconds", **lab(node))
            print("    %-10s failed after %.2f s: %s" % (node, duration, ", ".join(
                "%s=%d" % (r, errors(m, node, r)) for r in reasons)))
            self.assertLess(duration, CONNECT_S + QUERY_S + 0.5, node)
        # The silent s2s peer: the poll is the c2s stream's, which works and is verified; the
        # s2s port's stream fails on its own, and the node is warning (not critical).
        good_port, silent_port = self.prosody["good"].c2s_port, self.hostile["s2s-silent"].port
        self.assertEqual(m.get("xmpp_stream_probe_success", **lab("s2s-silent")), 1)
        self.assertEqual(m.get("xmpp_stream_success", **lab("s2s-silent", port=good_port)), 1)
        self.assertEqual(m.get("xmpp_stream_success", **lab("s2s-silent", port=silent_port)), 0)
        self.assertEqual(self.verified(m, "s2s-silent", good_port), 1)
        self.assertTrue(is_nan(self.verified(m, "s2s-silent", silent_port)))
        status, body = self.health("s2s-silent")
        self.assertTrue(body.startswith("WARNING: s2s stream failing: "), body)
        status, body = self.health("silent")
        self.assertTrue(body.startswith("CRITICAL: "), body)
        log = self.replmon.log_text()
        self.assertIsNone(re.search(r"AddressSanitizer|runtime error:", log))


def main(argv):
    return common.run_suite(TestXMPPTLS, argv, "integration-xmpp-tls",
                            sys.modules[__name__], cleanup=TestXMPPTLS._cleanup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
