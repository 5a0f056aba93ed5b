#!/usr/bin/env python3
"""Unreachable versus down: a node replmon cannot poll while its peer still replicates from
it is "unreachable from replmon, alive per <peer>" (warning, /health 200), and "down"
(critical, /health 503) only once the peer stops hearing from it too.

Run:  python3 tests/integration/test_unreachable.py [-v] [TestUnreachable.test_02_...]
Env:  REPLMON, REPLMON_CHECK (default build/replmon, build/replmon-check), FAULT_TIMINGS,
      KEEP_WORKDIR=1 (as the other suites)

Three network namespaces of this run: rmf<PID>m (replmon), rmf<PID>a (db1), rmf<PID>b
(db2), and three veth pairs between them, each with a private /24 of its own inside these
namespaces: db1-db2 10.231.6.0/24, replmon-db1 10.231.7.0/24, replmon-db2 10.231.8.0/24.
Each node is known by a name (db1-u<PID>, db2-u<PID>) that each namespace's hosts file
maps to the address of the veth that leads to it from there, so the peers' MASTER_HOST and
replmon's configuration use the same names and the `source` labels are the node names.
mariadbd listens on 0.0.0.0 of its own namespace (its veths and lo only). The tests reach
replmon's HTTP port through a relay from 127.0.0.1 (netns.NetnsForwarder), and the
nodes through their unix sockets. The pair sends master heartbeats every second
(MASTER_HEARTBEAT_PERIOD=1), replmon polls every second and writes its heartbeat rows.

- test_01: healthy across the namespaces: mariadb_node_alive_per_peer 1 both ways.
- test_02: the replmon-db1 link down (`ip link set ... down` in replmon's namespace): db1
  is mariadb_up 0 but alive per db2 (1), warning with the reason "unreachable from
  replmon, alive per db2", /health/db1 200, never critical; db2 stays ok (its heartbeat
  lag from db1 is NaN, not growing); db1 still replicates to db2; replmon-check (run in
  replmon's namespace) exits 1 WARNING with the reason; a state-change log line.
- test_03: the db1-db2 link down too (the pair partitioned, db1 cut from both): within
  a few seconds alive_per_peer 0, db1 critical with the reason "down: ...", /health/db1
  503.
- test_04: both links up again: healthy, alive 1, db1 ok.

Needs root and iproute2; Python standard library, the `mariadb` client, mariadbd. Every
namespace is deleted (finally, atexit, SIGTERM/SIGINT). Prints `integration-unreachable:
N passed, M failed` last. About a minute.
"""

import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import netns  # noqa: E402
from common import Replmon, http, is_nan, replmon_check_path  # noqa: E402
from mariadb_pair import Pair, PairReplmonCase  # noqa: E402

LABEL = "integration-unreachable"
CLUSTER = "chatdb"
NODES = ("db1", "db2")
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
HEARTBEAT_PERIOD_S = 1
PAIR_NET, DB1_NET, DB2_NET = "10.231.6.", "10.231.7.", "10.231.8."
WATCH_S = 12.0          # how long the replmon-only partition is watched
# The pair partition shows once db2 heard nothing from db1 for its heartbeat period and a
# quarter plus a poll interval, seen at db2's next poll, published at once.
DOWN_BOUND_S = HEARTBEAT_PERIOD_S * 1.25 + 3 * POLL_S + QUERY_S
TIMINGS = []


def state(m, node):
    """The node's health state as replmon_target_state says, or None."""
    for s in ("ok", "warning", "critical", "unknown"):
        if m.get("replmon_target_state", cluster=CLUSTER, node=node, state=s) == 1:
            return s
    return None


class TestUnreachable(PairReplmonCase):
    LABEL = LABEL
    WORKDIR_PREFIX = "replmon-unreachable-"
    CLUSTER = CLUSTER
    timings = TIMINGS
    BOUND_S = 30.0
    CONTRACT_S = DOWN_BOUND_S
    SCRAPE_EVERY_S = 0.2
    ns = {}
    relay = None
    cut = set()

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        netns.skip_unless_available()

    @classmethod
    def start_fixture(cls):
        pid = os.getpid()
        m, a, b = netns.Netns("m"), netns.Netns("a"), netns.Netns("b")
        cls.ns = {"replmon": m, "db1": a, "db2": b}
        cls.ifaces = {
            "pair": netns.veth(a, PAIR_NET + "1/24", b, PAIR_NET + "2/24", tag="p"),
            "db1": netns.veth(m, DB1_NET + "1/24", a, DB1_NET + "2/24", tag="1"),
            "db2": netns.veth(m, DB2_NET + "1/24", b, DB2_NET + "2/24", tag="2"),
        }
        cls.names = ("db1-u%d" % pid, "db2-u%d" % pid)
        a.etc("hosts", "127.0.0.1 localhost\n%s2 %s\n" % (PAIR_NET, cls.names[1]))
        b.etc("hosts", "127.0.0.1 localhost\n%s1 %s\n" % (PAIR_NET, cls.names[0]))
        m.etc("hosts", "127.0.0.1 localhost\n%s2 %s\n%s2 %s\n"
              % (DB1_NET, cls.names[0], DB2_NET, cls.names[1]))
        cls.pair = Pair(os.path.join(cls.workdir, "pair"), prefix=(a.prefix(), b.prefix()),
                        bind=("0.0.0.0", "0.0.0.0"), host=cls.names,
                        client_hosts=("10.231.%",))
        cls.pair.start()
        cls.pair.wait_replicating(30)
        for i in (0, 1):
            cls.pair.sql(i, "STOP SLAVE; CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=%d; "
                            "START SLAVE" % HEARTBEAT_PERIOD_S)
        cls.pair.wait_replicating(30)
        cls.pair.setup_heartbeat()
        cls.config = cls.pair.write_replmon_config(
            os.path.join(cls.workdir, "replmon.yml"), "monitor",
            os.path.join(cls.workdir, "monitor.pass"), poll_interval="%gs" % POLL_S,
            connect_timeout="%gs" % CONNECT_S, query_timeout="%gs" % QUERY_S, cluster=CLUSTER,
            cluster_extra="    heartbeat: {table: replmon.heartbeat, write: true}\n")
        cls.replmon = Replmon(cls.workdir, cls.config, cls.REPLMON_TAG, m.prefix())
        cls.relay = netns.NetnsForwarder(cls.replmon.port, m)
        cls.replmon.wait_serving()

    @classmethod
    def stop_fixture(cls):
        try:
            super().stop_fixture()  # replmon, then the pair
        finally:
            if cls.relay is not None:
                cls.relay.close()
                cls.relay = None
            for ns in cls.ns.values():
                ns.delete()
            cls.ns = {}

    # ------------------------------------------------------------------ helpers
    def set_link(self, which, up):
        """which: "db1" (replmon-db1) or "pair" (db1-db2); downs or ups the veth's end in
        replmon's namespace, or db1's for the pair's."""
        ns = self.ns["replmon"] if which == "db1" else self.ns["db1"]
        ns.ip("link", "set", self.ifaces[which][0], "up" if up else "down")
        if up:
            type(self).cut.discard(which)
        else:
            type(self).cut.add(which)

    def alive(self, m, node):
        return m.get("mariadb_node_alive_per_peer", cluster=CLUSTER, node=node,
                     peer="db2" if node == "db1" else "db1")

    def healthy(self, m):
        return self.replicating(m) and all(
            self.alive(m, n) == 1 and state(m, n) == "ok" for n in NODES)

    def health(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/" + node)
        return status, body.decode("utf-8", "replace")

    def check_in_replmon_ns(self):
        """replmon-check --node=db1 --format=json, run in replmon's namespace."""
        r = subprocess.run(self.ns["replmon"].prefix() + [
            replmon_check_path(), "--config.file=" + self.config, "--node=db1",
            "--format=json"], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def assert_logged(self, pattern, bound=5.0):
        """The state-change log (written by its own thread) has a line matching pattern
        within bound seconds."""
        deadline = time.monotonic() + bound
        while not re.search(pattern, self.replmon.log_text()):
            if time.monotonic() > deadline:
                self.fail("no log line matches %r; log tail:\n%s"
                          % (pattern, self.replmon.log_text()[-2500:]))
            time.sleep(0.2)

    def tearDown(self):
        for which in list(self.cut):  # a failed test must not leave the pair cut
            self.set_link(which, True)

    # ------------------------------------------------------------------ tests
    def test_01_healthy_across_namespaces(self):
        m, secs = self.wait_for(self.healthy, what="pair healthy across the namespaces",
                                show=("alive_per_peer", "target_state", "_up", "_running"))
        st = self.pair.slave_status(1)[0]
        self.assertEqual((st["Master_Host"], st["Master_Port"], st["Slave_heartbeat_period"]),
                         (self.names[0], str(self.pair.port(0)), "%d.000" % HEARTBEAT_PERIOD_S))
        self.assertEqual(len(m.find("mariadb_node_alive_per_peer", cluster=CLUSTER)), 2,
                         m.lines("alive_per_peer"))

    def test_02_replmon_cut_from_db1(self):
        self.wait_for(self.healthy, what="healthy before the cut",
                      show=("alive_per_peer", "target_state"))
        self.set_link("db1", False)
        t0 = time.monotonic()
        seen_warning, states, lag_db2 = None, set(), []
        m = None
        while time.monotonic() - t0 < WATCH_S:
            m = self.scrape()
            t = time.monotonic() - t0
            if m.get("mariadb_up", cluster=CLUSTER, node="db1") == 0:
                states.add(state(m, "db1"))
                self.assertNotEqual(state(m, "db1"), "critical",
                                    "db1 critical %.1f s after replmon lost it:\n%s"
                                    % (t, m.lines("alive_per_peer", "target_state")))
                if seen_warning is None and state(m, "db1") == "warning":
                    seen_warning = t
                    self.record_timing("unreachable_warning", t)
            self.assertNotEqual(state(m, "db2"), "critical", m.lines("target_state", "lag"))
            lag_db2.append(m.get("mariadb_heartbeat_lag_seconds", cluster=CLUSTER,
                                 node="db2", source="db1"))
            time.sleep(self.SCRAPE_EVERY_S)
        print("    db1 states while cut: %s" % sorted(s for s in states if s))
        self.assertIsNotNone(seen_warning, "db1 never warning:\n%s"
                             % m.lines("alive_per_peer", "target_state", "mariadb_up"))
        self.assertEqual(m.get("mariadb_up", cluster=CLUSTER, node="db1"), 0)
        self.assertEqual(self.alive(m, "db1"), 1, m.lines("alive_per_peer"))
        self.assertEqual(state(m, "db1"), "warning")
        self.assertEqual(state(m, "db2"), "ok", m.lines("target_state"))
        # replmon's heartbeats on db1 stopped: db2's lag from db1 is unknown, not growing.
        self.assertTrue(is_nan(lag_db2[-1]), "db2's heartbeat lag from db1: %s" % lag_db2)
        status, body = self.health("db1")
        print("    /health/db1: %d %s" % (status, body.strip()))
        self.assertEqual(status, 200, body)
        self.assertRegex(body, r"^WARNING: unreachable from replmon, alive per db2: ")
        # Only replmon is cut: db1 still replicates to db2.
        self.pair.sql(0, "INSERT INTO app.t (id, v) VALUES (201, 1)")
        self.pair.sync()
        self.assertEqual(self.pair.sql(1, "SELECT v FROM app.t WHERE id=201"), [("1",)])
        rc, out, err = self.check_in_replmon_ns()
        print("    replmon-check in replmon's namespace: exit %d" % rc)
        self.assertEqual(rc, 1, "replmon-check: %s %s" % (out, err))
        report = json.loads(out)
        self.assertIn("unreachable from replmon, alive per db2", json.dumps(report))
        self.assert_logged(r'msg="state changed".*node=db1.*to=warning.*'
                           r'unreachable from replmon, alive per db2')

    def test_03_pair_partitioned(self):
        if "db1" not in self.cut:
            self.set_link("db1", False)
            self.wait_for(lambda m: state(m, "db1") == "warning", what="db1 unreachable",
                          show=("alive_per_peer", "target_state"))
        self.set_link("pair", False)
        t0 = time.monotonic()
        m, secs = self.wait_for(
            lambda m: self.alive(m, "db1") == 0 and state(m, "db1") == "critical",
            what="db1 down once db2 stops hearing from it",
            show=("alive_per_peer", "target_state", "mariadb_up"))
        secs = time.monotonic() - t0
        self.record_timing("down_after_pair_cut", secs)
        status, body = self.health("db1")
        print("    /health/db1: %d %s" % (status, body.strip()))
        self.assertEqual(status, 503, body)
        self.assertRegex(body, r"^CRITICAL: down: .*; db2 heard nothing from it for ")
        # db2 still says IO Yes (slave_net_timeout has not passed): the heartbeats tell.
        st = self.pair.slave_status(1)[0]
        self.assertEqual(st["Slave_IO_Running"], "Yes")
        self.assert_logged(r'msg="state changed".*node=db1.*to=critical.*reason="down: ')

    def test_04_heal(self):
        for which in ("pair", "db1"):
            self.set_link(which, True)
        m, secs = self.wait_for(self.healthy, what="healthy after the heal",
                                show=("alive_per_peer", "target_state", "_up", "_running"))
        print("\n    healthy %.1f s after the heal" % secs)
        self.assertEqual(self.health("db1")[0], 200)


def main(argv):
    return common.run_suite(TestUnreachable, argv, LABEL, sys.modules[__name__],
                            cleanup=netns.delete_all)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
