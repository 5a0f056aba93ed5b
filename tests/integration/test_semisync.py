#!/usr/bin/env python3
"""Integration test of semi-synchronous replication: the mariadb_semisync_* metrics and the
pair check semisync_active, against a throwaway MariaDB master-master pair.

Run:  python3 tests/integration/test_semisync.py [-v] [TestSemisync.test_02_fallback ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended (time for a fault to
                     show in /metrics)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

The pair is the one of mariadb_pair.py with semi-sync turned on both ways at run time, as an
admin would: on both nodes SET GLOBAL rpl_semi_sync_master_enabled=ON,
rpl_semi_sync_slave_enabled=ON and rpl_semi_sync_master_timeout=500 (ms), then each IO
thread restarted so that it negotiates semi-sync with its source. No heartbeat table: every
commit is one of the test's, so the counters move only when it writes.

Two replmons poll every 500 ms: the main one with `semisync: required`, a second one with
the same pair and no semisync key. Steps:
1. healthy: both nodes semi-sync master and slave active, one client each, the acknowledged
   counter grows with each write on db1, semisync_active is 1;
2. STOP SLAVE IO_THREAD on db2, a write on db1: db1 waits the 500 ms and falls back
   (mariadb_semisync_master_active 0, unacknowledged counter grows), semisync_active goes to
   0 with a reason naming db1's fall-back in the log, on the status page and in db1's
   state; the second replmon has no semisync_active series and no failing check;
3. START SLAVE IO_THREAD on db2 and a write on db1: db1 is semi-synchronous again and the
   check passes.
Prints `integration-semisync: N passed, M failed[, K skipped]` last and exits non-zero on
failure. Python standard library, the `mariadb` client and `promtool`; all traffic on
127.0.0.1; every process started is stopped by PID (finally, atexit, SIGTERM/SIGINT). About
20 s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import Replmon, http, is_nan, promtool_check  # noqa: E402
from mariadb_pair import NODE_NAMES, PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
POLL_S, CONNECT_S, QUERY_S = 0.5, 1.0, 2.0
TIMEOUT_MS = 500          # rpl_semi_sync_master_timeout
# A fault shows within two poll intervals plus the timeouts, plus 1 s for the 0.2 s scrape
# cadence and the statements; the write that falls back itself waits TIMEOUT_MS first.
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0 + TIMEOUT_MS / 1000
BOUND_S = 20.0
CHECK = "semisync_active"
FAMILIES = ("mariadb_semisync_master_enabled", "mariadb_semisync_master_active",
            "mariadb_semisync_master_clients", "mariadb_semisync_master_timeout_seconds",
            "mariadb_semisync_master_acknowledged_transactions_total",
            "mariadb_semisync_master_unacknowledged_transactions_total",
            "mariadb_semisync_slave_enabled", "mariadb_semisync_slave_active")
FALLBACK_REASON = "db1 fell back to asynchronous replication"


class TestSemisync(PairReplmonCase):
    LABEL = "integration-semisync"
    WORKDIR_PREFIX = "replmon-semisync-"
    CLUSTER = CLUSTER
    BOUND_S = BOUND_S
    CONTRACT_S = CONTRACT_S
    timings = []
    plain = None      # the second replmon: same pair, no semisync key
    next_id = 1

    @classmethod
    def prepare_pair(cls):
        for i in (0, 1):
            cls.pair.sql(i, "SET GLOBAL rpl_semi_sync_master_enabled=ON; "
                            "SET GLOBAL rpl_semi_sync_slave_enabled=ON; "
                            "SET GLOBAL rpl_semi_sync_master_timeout=%d" % TIMEOUT_MS)
        for i in (0, 1):  # the slave side is negotiated when the IO thread connects
            cls.pair.sql(i, "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD")
        cls.pair.wait_replicating(30)

    @classmethod
    def make_config(cls, path, semisync=True):
        return cls.pair.write_replmon_config(
            path, "monitor", os.path.join(cls.workdir, "monitor.pass"),
            poll_interval="500ms", connect_timeout="1s", query_timeout="2s", cluster=CLUSTER,
            cluster_extra="    semisync: required\n" if semisync else "")

    @classmethod
    def start_fixture(cls):
        super().start_fixture()
        cls.plain = Replmon(cls.workdir, cls.make_config(
            os.path.join(cls.workdir, "replmon-plain.yml"), semisync=False), "plain")
        cls.plain.wait_serving()

    @classmethod
    def stop_fixture(cls):
        if cls.plain is not None:
            cls.plain.stop()
            cls.plain = None
        super().stop_fixture()

    # ------------------------------------------------------------------ helpers
    def write(self, node=0):
        """One committed row on node (0: db1); returns how long the commit took."""
        row = type(self).next_id
        type(self).next_id += 2
        t0 = time.monotonic()
        self.pair.sql(node, "INSERT INTO app.t (id, v) VALUES (%d, %d)" % (row + node, row))
        return time.monotonic() - t0

    @staticmethod
    def ss(m, family, node):
        return m.get("mariadb_semisync_" + family, cluster=CLUSTER, node=node)

    @staticmethod
    def check(m):
        return m.get("mariadb_cluster_check_ok", cluster=CLUSTER, check=CHECK)

    def healthy(self, m):
        return (self.check(m) == 1 and
                all(self.ss(m, "master_active", n) == 1 and
                    self.ss(m, "master_clients", n) == 1 and
                    self.ss(m, "slave_active", n) == 1 for n in NODE_NAMES))

    def status_page(self):
        status, _, body, _ = http(self.replmon.port, "/")
        self.assertEqual(status, 200)
        return body.decode("utf-8")

    def state_of(self, m, node):
        found = [l["state"] for _, l, v in m.find("replmon_target_state", node=node) if v == 1]
        return found[0] if len(found) == 1 else None

    # ------------------------------------------------------------------ tests
    def test_01_healthy(self):
        m, _ = self.wait_for(self.healthy, what="semi-sync active both ways",
                             show=("semisync", "check_ok"))
        for n in NODE_NAMES:
            self.assertEqual(self.ss(m, "master_enabled", n), 1)
            self.assertEqual(self.ss(m, "slave_enabled", n), 1)
            self.assertAlmostEqual(self.ss(m, "master_timeout_seconds", n), TIMEOUT_MS / 1000)
        self.assertEqual(m.type["mariadb_semisync_master_acknowledged_transactions_total"],
                         "counter")
        for f in FAMILIES:
            self.assertIn(f, m.help, "HELP of " + f)
        rc, out = promtool_check(m.text)
        self.assertEqual((rc, out), (0, ""), "promtool check metrics")

        before = self.ss(m, "master_acknowledged_transactions_total", "db1")
        no_before = self.ss(m, "master_unacknowledged_transactions_total", "db1")
        for _ in range(3):
            self.write()
        m, _ = self.wait_for(
            lambda m: self.ss(m, "master_acknowledged_transactions_total", "db1") >= before + 3,
            what="db1's acknowledged transactions grew by the 3 writes", show=("semisync",))
        self.assertEqual(self.ss(m, "master_unacknowledged_transactions_total", "db1"),
                         no_before, "no commit went unacknowledged while healthy")
        self.assertEqual(self.check(m), 1)
        self.assertEqual(self.state_of(m, "db1"), "ok", m.lines("replmon_target_state"))

        # A pair without semisync: has no such check, and still the metrics.
        p = self.scrape(port=self.plain.port)
        self.assertEqual(p.find("mariadb_cluster_check_ok", check=CHECK), [],
                         p.lines("check_ok"))
        self.assertEqual(self.ss(p, "master_active", "db1"), 1)

    def test_02_fallback_and_recovery(self):
        self.wait_for(self.healthy, what="healthy before the fault", show=("semisync", "check_ok"))
        m = self.scrape()
        no_before = self.ss(m, "master_unacknowledged_transactions_total", "db1")
        log_mark = len(self.replmon.log_text())

        self.pair.sql(1, "STOP SLAVE IO_THREAD")
        waited = self.write()
        print("\n    write on db1 with db2's IO thread stopped took %.2f s" % waited)
        self.assertGreaterEqual(waited, TIMEOUT_MS / 1000 * 0.9,
                                "db1's commit should have waited rpl_semi_sync_master_timeout")
        self.write()  # asynchronous now: counted as unacknowledged

        m, _, _ = self.watch_fault(
            "semisync_fallback",
            lambda m: (self.ss(m, "master_active", "db1") == 0 and
                       self.ss(m, "master_unacknowledged_transactions_total", "db1")
                       >= no_before + 1 and self.check(m) == 0),
            min_scrapes=5, during="semi-sync fall-back")
        self.assertEqual(self.ss(m, "master_active", "db1"), 0, m.lines("semisync"))
        self.assertEqual(self.check(m), 0, m.lines("check_ok"))
        self.assertEqual(self.ss(m, "slave_active", "db2"), 0, m.lines("semisync"))
        self.assertEqual(self.ss(m, "master_clients", "db1"), 0, m.lines("semisync"))
        # The other checks are not affected; db1 is a warning (a failing check), not worse.
        checks = m.find("mariadb_cluster_check_ok", cluster=CLUSTER)
        others = [(l["check"], v) for _, l, v in checks if l["check"] != CHECK]
        self.assertTrue(others and all(v == 1 for _, v in others), others)
        self.assertEqual(self.state_of(m, "db1"), "warning", m.lines("replmon_target_state"))

        # The reason, in words an admin understands, where an admin looks.
        def logged():
            return [line for line in self.replmon.log_text()[log_mark:].splitlines()
                    if "cluster check failed" in line and CHECK in line]
        deadline = time.monotonic() + 5
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(logged(), self.replmon.log_text()[log_mark:][-2000:])
        self.assertIn(FALLBACK_REASON, logged()[-1])
        self.assertIn("rpl_semi_sync_master_timeout (0.5 s)", logged()[-1])
        page = self.status_page()
        self.assertIn('data-check="%s"' % CHECK, page)
        self.assertIn(FALLBACK_REASON, page)

        # The pair that does not ask for semi-sync fails no check over it.
        p = self.scrape(port=self.plain.port)
        self.assertEqual(self.ss(p, "master_active", "db1"), 0, p.lines("semisync"))
        self.assertEqual(p.find("mariadb_cluster_check_ok", check=CHECK), [])
        self.assertTrue(all(v == 1 for _, _, v in p.find("mariadb_cluster_check_ok")),
                        p.lines("check_ok"))

        # Recovery: the IO thread back, a write, and db1 waits for db2 again.
        self.pair.sql(1, "START SLAVE IO_THREAD")
        self.pair.wait_replicating(30)
        t0 = time.monotonic()
        self.write()
        m, _ = self.wait_for(self.healthy, what="semi-sync back after the IO thread restart",
                             show=("semisync", "check_ok"))
        self.record_timing("semisync_recovery", time.monotonic() - t0)
        yes = self.ss(m, "master_acknowledged_transactions_total", "db1")
        self.write()
        self.wait_for(lambda m: self.ss(m, "master_acknowledged_transactions_total", "db1")
                      > yes, what="acknowledged again after the recovery", show=("semisync",))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any("cluster check passes again" in line and CHECK in line
                   for line in self.replmon.log_text()[log_mark:].splitlines()):
                break
            time.sleep(0.1)
        else:
            self.fail("no 'cluster check passes again' line for %s" % CHECK)

    def test_03_every_node_reports(self):
        """Every node has every semi-sync family, with a number (MariaDB 10.11 has them
        built in)."""
        m = self.scrape()
        for f in FAMILIES:
            for n in NODE_NAMES:
                v = m.get(f, cluster=CLUSTER, node=n)
                self.assertIsNotNone(v, "%s{node=%s}" % (f, n))
                self.assertFalse(is_nan(v), "%s{node=%s} is NaN on a healthy node" % (f, n))


def main(argv):
    return common.run_suite(
        TestSemisync, argv, "integration-semisync", sys.modules[__name__],
        cleanup=TestSemisync._cleanup,
        timings_title="fault timings (seconds from the fault to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
