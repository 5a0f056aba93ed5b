#!/usr/bin/env python3
"""The stream probe's name resolution is bounded by connect_timeout: replmon in a network
namespace (rmf<PID>d, only lo) whose /etc/netns resolv.conf names a resolver on 127.0.0.1:53
that reads every question and never answers (glibc's defaults: 5 s, 2 tries, so an
unbounded getaddrinfo() takes 10 s). One XMPP node has c2s_address at a name only that
resolver could answer (its api_url is a closed port on 127.0.0.1: refused at once).

Checked through /metrics and the log: the stream probe fails with reason connect ("cannot
resolve NAME: no answer within 1.0s") within poll_interval + connect_timeout + a margin of
its start, each failed poll lasts about connect_timeout (replmon_probe_duration_seconds),
the question did reach the silent resolver, every scrape meanwhile answers fast, and
SIGTERM ends replmon at once (exit 0) though lookups are still waiting for the resolver.

Run:  python3 tests/integration/test_dns_timeout.py [-v]
Env:  REPLMON (default build/replmon), KEEP_WORKDIR=1 (as the other suites)
Needs root and iproute2 (ip netns); Python standard library. Prints
`integration-dns-timeout: N passed, M failed` last. About 10 s.
"""

import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import netns  # noqa: E402
from common import FixtureCase, Replmon, free_port, scrape  # noqa: E402

LABEL = "integration-dns-timeout"
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
MARGIN_S = 1.0           # scheduling, the scrape interval
DURATION_SLACK_S = 0.3   # a failed poll lasts at most connect_timeout and this
SCRAPE_FAST_S = 0.5      # every scrape answers within this while lookups hang
WATCH_S = 6.0            # polls watched: several failures with the back-off


class SilentResolver:
    """A UDP socket on 127.0.0.1:53 (in the namespace the calling thread is in) that reads
    every question and answers none; counts them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self.questions = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                self.sock.recv(4096)
                self.questions += 1
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


class TestDnsTimeout(FixtureCase):
    LABEL = LABEL
    WORKDIR_PREFIX = "replmon-dns-"
    timings = []
    ns = None
    resolver = None

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        netns.skip_unless_available()

    @classmethod
    def start_fixture(cls):
        cls.ns = netns.Netns("d")  # only lo: no question leaves the machine
        cls.ns.etc("resolv.conf", "nameserver 127.0.0.1\n")  # glibc's defaults: 5 s, 2 tries
        cls.ns.etc("hosts", "127.0.0.1 localhost\n")
        cls.ns.enter()  # this (main) thread: the resolver, the scrapes
        cls.resolver = SilentResolver()
        cls.host = "silent-%d.test" % os.getpid()
        path = os.path.join(cls.workdir, "replmon.yml")
        with open(path, "w") as f:
            f.write("global:\n  poll_interval: %gs\n  connect_timeout: %gs\n"
                    "  query_timeout: %gs\n"
                    "xmpp:\n  - cluster: chat\n    nodes:\n"
                    "      - name: x1\n        type: ejabberd\n"
                    "        api_url: http://127.0.0.1:%d/api\n"
                    "        c2s_address: %s:5222\n        domain: chat.test\n"
                    % (POLL_S, CONNECT_S, QUERY_S, free_port(), cls.host))
        cls.config = path
        cls.started = time.monotonic()
        cls.replmon = Replmon(cls.workdir, path, cls.REPLMON_TAG, cls.ns.prefix())
        cls.replmon.wait_serving()

    @classmethod
    def stop_fixture(cls):
        try:
            super().stop_fixture()
        finally:
            if cls.resolver is not None:
                cls.resolver.close()
                cls.resolver = None
            if cls.ns is not None:
                cls.ns.delete()
                cls.ns = None

    def stream(self, m, name):
        return m.get(name, kind="xmpp_stream", cluster="chat", node="x1")

    def connect_errors(self, m):
        return m.get("replmon_probe_errors_total", kind="xmpp_stream", cluster="chat",
                     node="x1", reason="connect")

    def test_01_bounded_by_connect_timeout(self):
        bound = POLL_S + CONNECT_S + MARGIN_S
        m, _ = self.wait_for(lambda m: self.connect_errors(m) >= 1, timeout=bound + 10,
                             what="the stream probe failing", show=("xmpp_stream",))
        secs = time.monotonic() - self.started
        self.record_timing("unanswered lookup", secs, contract=False)
        self.assertLess(secs, bound, "the first stream poll failed only after %.1f s" % secs)
        self.assertEqual(self.stream(m, "replmon_probe_success"), 0)
        self.assertGreater(self.resolver.questions, 0, "the name was not asked of the resolver")
        # Several more polls, each over in about connect_timeout; scrapes stay fast.
        t0, latencies, durations = time.monotonic(), [], set()
        while time.monotonic() - t0 < WATCH_S:
            m, took = scrape(self.replmon.port)
            latencies.append(took)
            durations.add(self.stream(m, "replmon_probe_duration_seconds"))
            time.sleep(0.2)
        print("    %d scrapes: max %.1f ms; stream poll durations %s" % (
            len(latencies), max(latencies) * 1000, sorted(durations)))
        self.assertLess(max(latencies), SCRAPE_FAST_S, "a scrape waited for a lookup")
        self.assertLessEqual(max(durations), CONNECT_S + DURATION_SLACK_S)
        self.assertGreaterEqual(self.stream(m, "replmon_probe_duration_seconds"), CONNECT_S - 0.05)
        self.assertGreaterEqual(self.connect_errors(m), 3, "polls after the first one")
        log = self.replmon.log_text()
        self.assertIn("cannot resolve %s: no answer within %.1fs" % (self.host, CONNECT_S), log)

    def test_02_sigterm(self):
        # Lookups are still waiting for the resolver: exit does not wait for them.
        self.stop_replmon_cleanly(max_secs=QUERY_S + 1)


def main(argv):
    return common.run_suite(TestDnsTimeout, argv, LABEL, sys.modules[__name__],
                            timings_title="timings (seconds from replmon's start):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
