#!/usr/bin/env python3
"""Integration tests of the binlog horizon: how long a broken link can stay broken before its
source purges binlogs the replica needs, and the error class of a link that was too late.

Run:  python3 tests/integration/test_binlog_horizon.py [-v] [TestBinlogHorizon.test_02_...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

The pair of mariadb_pair.py with the heartbeat table `replmon.heartbeat` (as in
test_replication.py); replmon polls every 1 s. db1 keeps binlogs EXPIRE_S
(SET GLOBAL binlog_expire_logs_seconds), db2 keeps them forever (10.11's default 0).

- a healthy link has no horizon (NaN) and shows its source's retention;
- STOP SLAVE on db2: the horizon of db2 <- db1 counts down from about EXPIRE_S, one second a
  second, and /health/db2 says when db1 purges what db2 needs;
- binlog_expire_logs_seconds 0 on db1: the broken link's horizon is +Inf (never purged);
- writes on db1, FLUSH BINARY LOGS, PURGE BINARY LOGS TO the newest, START SLAVE on db2: the
  IO thread fails with 1236, classified `binlog_purged`, and the horizon is 0.

Prints `integration-binlog-horizon: N passed, M failed[, K skipped]` last and exits non-zero
on failure. Python standard library, the `mariadb` client and `promtool`; all traffic on
127.0.0.1; every process started is stopped by PID. About 40 s.
"""

import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import http, is_nan, promtool_check  # noqa: E402
from mariadb_pair import PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0
BOUND_S = 2 * POLL_S + CONNECT_S + QUERY_S + 15.0
SCRAPE_EVERY_S = 0.2

EXPIRE_S = 3600      # db1's binlog_expire_logs_seconds during the test
# The horizon is the expiry less how long the link has been broken, as replmon measured it:
# from the replica's last progress (a poll before the STOP) or its heartbeat lag, each known
# to about a poll interval, read by a scrape up to a poll late.
SLACK_S = 2 * POLL_S + 1.0
COUNTDOWN_S = 6.0    # how long the countdown is watched


def link(node, source):
    return dict(cluster=CLUSTER, node=node, source=source)


DB2_FROM_DB1 = link("db2", "db1")
DB1_FROM_DB2 = link("db1", "db2")


def horizon(m, labels):
    return m.get("mariadb_replica_binlog_horizon_seconds", **labels)


def retention(m, labels):
    return m.get("mariadb_replica_binlog_retention_seconds", **labels)


def error_class(m, name, labels=DB2_FROM_DB1):
    return m.get("mariadb_replica_error_class", **dict(labels, **{"class": name}))


def is_number(v):
    return v is not None and not is_nan(v)


class TestBinlogHorizon(PairReplmonCase):
    LABEL = "integration-binlog-horizon"
    WORKDIR_PREFIX = "replmon-horizon-"
    CLUSTER = CLUSTER
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def prepare_pair(cls):
        cls.pair.setup_heartbeat()
        cls.pair.sql(0, "SET GLOBAL binlog_expire_logs_seconds=%d" % EXPIRE_S)

    @classmethod
    def make_config(cls, path):
        return cls.pair.write_replmon_config(
            path, "monitor", os.path.join(cls.workdir, "monitor.pass"),
            poll_interval="%gs" % POLL_S, connect_timeout="%gs" % CONNECT_S,
            query_timeout="%gs" % QUERY_S, cluster=CLUSTER,
            cluster_extra="    heartbeat: {table: replmon.heartbeat, write: true}\n")

    def health_text(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/%s" % node)
        return status, body.decode("utf-8", "replace").strip()

    def stop_db2(self):
        """STOP SLAVE on db2; returns the monotonic time just before it."""
        t0 = time.monotonic()
        self.pair.sql(1, "STOP SLAVE")
        return t0

    def restart_db2(self):
        self.pair.sql(0, "SET GLOBAL binlog_expire_logs_seconds=%d" % EXPIRE_S)
        self.pair.sql(1, "START SLAVE")
        self.wait_restored("START SLAVE on db2")

    def test_01_healthy_link_has_no_horizon(self):
        m, _ = self.wait_restored("start")
        m, _ = self.wait_for(lambda m: retention(m, DB2_FROM_DB1) == EXPIRE_S,
                             what="retention of db2 <- db1 is db1's expiry",
                             show=("binlog_",))
        print("\n    " + m.lines("binlog_").replace("\n", "\n    "))
        self.assertTrue(is_nan(horizon(m, DB2_FROM_DB1)), "healthy link: NaN")
        self.assertTrue(is_nan(horizon(m, DB1_FROM_DB2)), "healthy link: NaN")
        self.assertEqual(retention(m, DB1_FROM_DB2), math.inf,
                         "db2 never purges (binlog_expire_logs_seconds 0)")
        self.assertEqual(error_class(m, "binlog_purged"), 0, "the class exists, not current")
        rc, out = promtool_check(m.text)
        self.assertEqual((rc, out), (0, ""), "promtool check metrics")

    def test_02_broken_link_counts_down(self):
        self.wait_restored("start")
        t0 = self.stop_db2()
        try:
            m, secs = self.wait_for(lambda m: is_number(horizon(m, DB2_FROM_DB1)),
                                    what="a horizon for the broken link db2 <- db1",
                                    show=("binlog_", "link_up"))
            self.record_timing("horizon_shown", secs)
            rows = [(time.monotonic() - t0, horizon(m, DB2_FROM_DB1))]
            self.assertTrue(is_nan(horizon(m, DB1_FROM_DB2)), "db1 <- db2 still healthy")
            while rows[-1][0] < rows[0][0] + COUNTDOWN_S:
                time.sleep(0.5)
                rows.append((time.monotonic() - t0,
                             horizon(self.scrape(), DB2_FROM_DB1)))
            print("\n    since STOP SLAVE -> horizon: " +
                  ", ".join("%.1fs->%.1f" % r for r in rows))
            for since, left in rows:
                # About the expiry less the time since the break, never more than the expiry.
                self.assertLessEqual(left, EXPIRE_S)
                self.assertGreaterEqual(left, EXPIRE_S - since - SLACK_S,
                                        "horizon %.1f at %.1f s after the break" % (left, since))
                self.assertLessEqual(left, EXPIRE_S - since + SLACK_S,
                                     "horizon %.1f at %.1f s after the break" % (left, since))
            # It counts down, one second a second, give or take a poll.
            spent = rows[-1][0] - rows[0][0]
            fell = rows[0][1] - rows[-1][1]
            self.assertAlmostEqual(fell, spent, delta=2 * POLL_S,
                                   msg="fell %.1f s in %.1f s" % (fell, spent))
            for a, b in zip(rows, rows[1:]):
                self.assertLessEqual(b[1], a[1], "never goes up while broken")
            status, text = self.health_text("db2")
            print("    /health/db2: %d %s" % (status, text))
            self.assertIn("db1 purges the binlogs it needs in about", text)
        finally:
            self.restart_db2()
        m, _ = self.wait_for(lambda m: is_nan(horizon(m, DB2_FROM_DB1)),
                             what="healthy again: NaN", show=("binlog_",))

    def test_03_never_purged_is_infinite(self):
        self.wait_restored("start")
        self.pair.sql(0, "SET GLOBAL binlog_expire_logs_seconds=0")
        self.stop_db2()
        try:
            m, _ = self.wait_for(lambda m: horizon(m, DB2_FROM_DB1) == math.inf,
                                 what="+Inf for a source that never purges",
                                 show=("binlog_", "link_up"))
            self.assertEqual(retention(m, DB2_FROM_DB1), math.inf)
            rc, out = promtool_check(m.text)
            self.assertEqual((rc, out), (0, ""), "promtool check metrics with +Inf")
            status, text = self.health_text("db2")
            self.assertNotIn("purge", text, "nothing to say of a source that never purges")
        finally:
            self.restart_db2()

    def test_04_purged_binlog_is_1236(self):
        self.wait_restored("start")
        self.stop_db2()
        for k in range(5):
            self.pair.sql(0, "INSERT INTO app.t (id, v) VALUES (%d, %d)" % (7001 + 2 * k, k))
        self.pair.sql(0, "FLUSH BINARY LOGS")
        newest = self.pair.sql(0, "SHOW BINARY LOGS")[-1][0]
        # PURGE skips, with a warning only, a file that a dump thread still reads: db1's
        # dump thread for db2 lingers until it fails to send an event to the stopped IO
        # thread, so purge again until only the newest file is left.
        deadline = time.monotonic() + BOUND_S
        while True:
            self.pair.sql(0, "PURGE BINARY LOGS TO '%s'" % newest)
            logs = [row[0] for row in self.pair.sql(0, "SHOW BINARY LOGS")]
            if logs == [newest] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(logs, [newest], "db1 purged every binlog but the newest")
        t0 = time.monotonic()
        self.pair.sql(1, "START SLAVE")
        status = None
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline:
            status = self.pair.slave_status(1)
            if status and status[0]["Last_IO_Errno"] not in ("0", None):
                break
            time.sleep(0.2)
        print("\n    db2: Slave_IO_Running %s, Last_IO_Errno %s: %s" % (
            status[0]["Slave_IO_Running"], status[0]["Last_IO_Errno"],
            status[0]["Last_IO_Error"]))
        self.assertEqual(status[0]["Last_IO_Errno"], "1236", "MariaDB's own verdict")

        m, secs = self.wait_for(lambda m: error_class(m, "binlog_purged") == 1,
                                what="error class binlog_purged on db2",
                                show=("error_class", "binlog_", "last_io_errno"))
        self.record_timing("binlog_purged", time.monotonic() - t0)
        print("    " + m.lines("error_class", 'node="db2"').replace("\n", "\n    "))
        self.assertEqual(error_class(m, "other"), 0, "1236 is no longer `other`")
        self.assertEqual(horizon(m, DB2_FROM_DB1), 0, "too late: nothing left")
        status, text = self.health_text("db2")
        print("    /health/db2: %d %s" % (status, text))
        self.assertIn("1236", text)


def main(argv):
    return common.run_suite(
        TestBinlogHorizon, argv, "integration-binlog-horizon", sys.modules[__name__],
        cleanup=TestBinlogHorizon._cleanup,
        timings_title="timings (seconds from the fault to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
