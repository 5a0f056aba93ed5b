#!/usr/bin/env python3
"""Integration tests of replmon's replication truth: heartbeat lag, GTID distance, expected
links, error classes and the pair checks, against a throwaway MariaDB master-master pair.

Run:  python3 tests/integration/test_replication.py [-v] [TestReplication.test_03_freeze ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended (time for a fault to
                     show in /metrics)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

The pair is the one of mariadb_pair.py (server_id 1/2, gtid_domain_id 1/2, ROW,
log_slave_updates, auto_increment 2 with offsets 1/2), plus the heartbeat table
`replmon.heartbeat` (created on db1 with sql_log_bin=1, so it replicates to db2) and, on each
node, `GRANT SELECT, INSERT, UPDATE ON replmon.heartbeat` for `monitor`. replmon polls every
1 s (connect timeout 1 s, query timeout 2 s) with `heartbeat: {table: replmon.heartbeat}`.

Faults: MASTER_DELAY=10 on db2, SIGSTOP of db1, RESET SLAVE ALL on db1, a duplicate key on
db2, auto_increment_offset and gtid_domain_id made equal on both writers, a second replmon
that expects only the link db1 <- db2, and a third that watches the pair without a heartbeat
table (its lag from Master_Slave_time_diff on MariaDB 11.6+, Seconds_Behind_Master before:
`mariadb_replica_lag_info`, under MASTER_DELAY=10 too). Prints `integration-replication: N passed,
M failed[, K skipped]` last and exits non-zero on failure. Python standard library, the
`mariadb` client and `promtool`; all traffic on 127.0.0.1; every process started is stopped
by PID (finally, atexit, SIGTERM/SIGINT). About 90 s.
"""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import Replmon, http, is_nan, promtool_check, scrape  # noqa: E402
from mariadb_pair import PASSWORDS, PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
NODES = ("db1", "db2")
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
# The contract: a fault shows in /metrics within two poll intervals plus the timeouts.
# CONTRACT_S adds 1 s for this test's own 0.2 s scrape cadence and the time the fault's SQL
# takes; BOUND_S is how long a wait goes on before it reports failure.
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0
BOUND_S = 2 * POLL_S + CONNECT_S + QUERY_S + 15.0
SCRAPE_EVERY_S = 0.2

HEALTHY_LAG_S = 1.0       # a link that keeps up stays below this
DELAY_S = 10              # MASTER_DELAY of the delayed-replica fault
DELAY_TOLERANCE_S = 1.0   # the heartbeat lag of the delayed link is DELAY_S +/- this
DELAY_SETTLE_S = 12.0     # from the fault to the first sample of the delayed lag
FREEZE_LAG_S = 3.0        # with db1 frozen, db2's lag from db1 passes this ...
FREEZE_BOUND_S = 5.0      # ... within this long of the SIGSTOP
SAMPLES, SAMPLE_EVERY_S = 10, 0.5   # 10 samples over ~5 s

CHECKS = ("server_id_unique", "gtid_domain_per_writer", "auto_increment_safe",
          "log_slave_updates_on", "binlog_format_row", "writers_as_intended", "no_errant_gtid")
ERROR_CLASSES = ("duplicate_key", "row_not_found", "connect", "auth", "other")
NEW_FAMILIES = ("mariadb_heartbeat_lag_seconds", "mariadb_gtid_binlog_seq",
                "mariadb_gtid_slave_seq", "mariadb_replica_transactions_behind",
                "mariadb_replica_link_up", "mariadb_replica_link_expected",
                "mariadb_replica_stalled", "mariadb_cluster_check_ok",
                "mariadb_replica_error_class")


def peer(node):
    return "db2" if node == "db1" else "db1"


def domain_of(node):
    """The gtid_domain_id the pair gives node (db1 1, db2 2), as the label value."""
    return "1" if node == "db1" else "2"


def fmt(v):
    return "-" if v is None else "%.3f" % v


def link(node):
    """Labels of the link on which node reads from its peer."""
    return dict(cluster=CLUSTER, node=node, source=peer(node))


def lag(m, node):
    return m.get("mariadb_heartbeat_lag_seconds", **link(node))


def change_master_sql(pair, i):
    """The replication connection of node i towards its peer, exactly as mariadb_pair.py's
    Pair._configure() creates it."""
    return ("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', "
            "MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1"
            % (pair.port(1 - i), PASSWORDS["repl"]))


def write_config(pair, path, workdir, links=None):
    """replmon's YAML for the pair (mariadb_pair.py's writer) plus the cluster's heartbeat,
    mode and, if given, links."""
    extra = ("    heartbeat: {table: replmon.heartbeat, write: true}\n"
             "    mode: multi-master\n")
    if links is not None:
        extra += "    links: [%s]\n" % ", ".join('"%s"' % link for link in links)
    return pair.write_replmon_config(
        path, "monitor", os.path.join(workdir, "monitor.pass"), poll_interval="%gs" % POLL_S,
        connect_timeout="%gs" % CONNECT_S, query_timeout="%gs" % QUERY_S, cluster=CLUSTER,
        cluster_extra=extra)


class TestReplication(PairReplmonCase):
    LABEL = "integration-replication"
    WORKDIR_PREFIX = "replmon-repl-"
    CLUSTER = CLUSTER
    timings = []
    notes = []  # lines for the closing summary (lag accuracy and the like)
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def prepare_pair(cls):
        cls.pair.setup_heartbeat()

    @classmethod
    def make_config(cls, path):
        return write_config(cls.pair, path, cls.workdir)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.notes:
            print("\nmeasured:")
            for line in cls.notes:
                print("  " + line)

    # ------------------------------------------------------------------ helpers
    def links_up(self, m):
        return all(m.get("mariadb_replica_link_up", **link(n)) == 1 for n in NODES)

    def lags_below(self, m, bound=HEALTHY_LAG_S):
        return all(lag(m, n) is not None and not is_nan(lag(m, n)) and lag(m, n) < bound
                   for n in NODES)

    def checks_ok(self, m):
        return all(m.get("mariadb_cluster_check_ok", cluster=CLUSTER, check=c) == 1
                   for c in CHECKS)

    def healthy(self, m):
        return self.links_up(m) and self.lags_below(m) and self.checks_ok(m)

    def wait_healthy(self, what):
        self.pair.wait_replicating(BOUND_S)
        return self.wait_for(self.healthy, what=what + ": back to healthy",
                             show=("link_up", "heartbeat_lag", "check_ok"))

    def samples(self, n=SAMPLES, every=SAMPLE_EVERY_S):
        """n scrapes, `every` seconds apart: [(seconds since the first, Metrics)]."""
        out, t0 = [], time.monotonic()
        for k in range(n):
            out.append((time.monotonic() - t0, scrape(self.replmon.port)[0]))
            if k < n - 1:
                time.sleep(max(0.0, t0 + (k + 1) * every - time.monotonic()))
        return out

    def wait_log(self, since, *needles, bound=BOUND_S):
        """The first log line after offset `since` that contains every needle."""
        deadline = time.monotonic() + bound
        while True:
            for line in self.replmon.log_text()[since:].splitlines():
                if all(n in line for n in needles):
                    return line
            if time.monotonic() > deadline:
                self.fail("no log line with %s within %.0f s; log tail:\n%s"
                          % (needles, bound, self.replmon.log_text()[since:][-3000:]))
            time.sleep(0.1)

    @classmethod
    def note(cls, line):
        print("    " + line, flush=True)
        cls.notes.append(line)

    # ------------------------------------------------------------------ tests
    def test_01_healthy(self):
        # A node's own heartbeat write comes after its poll read @@gtid_binlog_pos, and the
        # nodes are polled half an interval apart: its domain shows from its second poll on,
        # possibly after both lags are known.
        m, _ = self.wait_for(
            lambda m: self.healthy(m) and all(
                m.get("mariadb_replica_transactions_behind", domain=domain_of(peer(n)),
                      **link(n)) == 0 and
                m.get("mariadb_gtid_binlog_seq", cluster=CLUSTER, node=n, domain=d) is not None
                for n in NODES for d in ("1", "2")),
            what="healthy pair with heartbeats",
            show=("link_", "heartbeat_lag", "check_ok", "transactions_behind"))
        for n in NODES:
            lk = link(n)
            self.assertEqual(m.get("mariadb_replica_link_up", **lk), 1, "link_up %s" % lk)
            self.assertEqual(m.get("mariadb_replica_link_expected", **lk), 1,
                             "link_expected %s" % lk)
            self.assertEqual(m.get("mariadb_replica_stalled", **lk), 0, "stalled %s" % lk)
            for d in ("1", "2"):
                seq = m.get("mariadb_gtid_binlog_seq", cluster=CLUSTER, node=n, domain=d)
                self.assertIsNotNone(seq, "gtid_binlog_seq{node=%s,domain=%s} missing:\n%s"
                                     % (n, d, m.lines("gtid_")))
                self.assertGreater(seq, 0)
            # Only the two expected links, nothing else.
            self.assertEqual(len(m.find("mariadb_replica_link_up", cluster=CLUSTER, node=n)), 1,
                             m.lines("link_up"))
        for c in CHECKS:
            self.assertEqual(m.get("mariadb_cluster_check_ok", cluster=CLUSTER, check=c), 1,
                             "check_ok{check=%s}" % c)
        self.assertEqual(len(m.find("mariadb_cluster_check_ok", cluster=CLUSTER)), len(CHECKS),
                         m.lines("check_ok"))
        # Lag in both directions, ~10 samples over 5 s, every one below 1 s; and no distance.
        rows = []
        for t, s in self.samples():
            row = [lag(s, n) for n in NODES]
            behind = [s.get("mariadb_replica_transactions_behind", domain=domain_of(peer(n)),
                            **link(n)) for n in NODES]
            rows.append((t, row, behind))
        print("\n    healthy lag db1<-db2 / db2<-db1: %s" % ", ".join(
            "%s/%s" % tuple(fmt(v) for v in r) for _, r, _ in rows))
        print("    transactions_behind db1<-db2 / db2<-db1: %s" % ", ".join(
            "%s/%s" % tuple(fmt(v) for v in b) for _, _, b in rows))
        worst = max((v for _, r, _ in rows for v in r if v is not None), default=float("nan"))
        self.note("healthy lag: max %.3f s over %d samples in each direction" % (worst, len(rows)))
        for t, r, b in rows:
            for n, v in zip(NODES, r):
                self.assertTrue(v is not None and not is_nan(v) and 0 <= v < HEALTHY_LAG_S,
                                "heartbeat lag %s at +%.1f s: %r" % (link(n), t, v))
            self.assertEqual(b, [0, 0], "transactions_behind at +%.1f s" % t)
        # HELP and TYPE for every new family, gauges all; promtool clean.
        for fam in NEW_FAMILIES:
            self.assertTrue(m.find(fam), "family %s has no samples" % fam)
            self.assertEqual(m.type.get(fam), "gauge", "TYPE of %s" % fam)
            self.assertTrue(m.help.get(fam), "HELP of %s" % fam)
        rc, out = promtool_check(m.text)
        self.assertEqual((rc, out), (0, ""), "promtool check metrics")

    def test_02_master_delay(self):
        delayed, other = link("db2"), link("db1")
        self.wait_for(self.healthy, what="healthy before the delay", show=("heartbeat_lag",))
        self.pair.set_master_delay(1, DELAY_S)
        t0 = time.monotonic()
        try:
            # The lag starts growing at once: it must be visible within the contract.
            self.wait_for(lambda m: lag(m, "db2") > 1.5, what="db2 <- db1 lag rising",
                          show=("heartbeat_lag",))
            self.record_timing("master_delay_lag", time.monotonic() - t0)
            time.sleep(max(0.0, t0 + DELAY_SETTLE_S - time.monotonic()))
            rows = [(t, lag(s, "db2"), lag(s, "db1")) for t, s in self.samples()]
            since = time.monotonic() - t0 - rows[-1][0]
            print("    MASTER_DELAY=%d, from +%.1f s: db2<-db1 lag %s" % (
                DELAY_S, since, ", ".join(fmt(r[1]) for r in rows)))
            print("    db1<-db2 lag meanwhile: %s" % ", ".join(fmt(r[2]) for r in rows))
            self.assertTrue(all(r[1] is not None and r[2] is not None for r in rows),
                            "a lag series went missing")
            errors = [abs(r[1] - DELAY_S) for r in rows]
            self.note("MASTER_DELAY=%d: lag %.3f..%.3f s over %d samples, worst error %.3f s"
                      % (DELAY_S, min(r[1] for r in rows), max(r[1] for r in rows), len(rows),
                         max(errors)))
            for t, d, o in rows:
                self.assertLessEqual(abs(d - DELAY_S), DELAY_TOLERANCE_S,
                                     "lag %s at +%.1f s: %r (want %d +/- %g)"
                                     % (delayed, t, d, DELAY_S, DELAY_TOLERANCE_S))
                self.assertLess(o, HEALTHY_LAG_S, "lag %s at +%.1f s: %r" % (other, t, o))
        finally:
            self.pair.set_master_delay(1, 0)
        t1 = time.monotonic()
        self.wait_for(lambda m: self.lags_below(m), what="lag below 1 s after MASTER_DELAY=0",
                      show=("heartbeat_lag",))
        print("    lag below %.0f s %.2f s after MASTER_DELAY=0" % (HEALTHY_LAG_S,
                                                                    time.monotonic() - t1))
        self.wait_healthy("master delay")

    def test_03_freeze(self):
        self.wait_for(self.healthy, what="healthy before the freeze", show=("heartbeat_lag",))
        self.pair.freeze(0)
        t0 = time.monotonic()
        try:
            m, _ = self.wait_for(lambda m: lag(m, "db2") > FREEZE_LAG_S,
                                 what="db2 <- db1 lag above %g s with db1 frozen" % FREEZE_LAG_S,
                                 show=("heartbeat_lag", "seconds_behind", "mariadb_up"))
            secs = time.monotonic() - t0
            sbm = m.find("mariadb_replica_seconds_behind_master", cluster=CLUSTER, node="db2")
            print("\n    db1 frozen %.2f s: db2<-db1 heartbeat lag %.3f s, "
                  "seconds_behind_master %s" % (secs, lag(m, "db2"),
                                                [(l.get("source"), v) for _, l, v in sbm]))
            print("    " + m.lines('node="db2"', "seconds_behind").replace("\n", "\n    "))
            self.note("freeze of db1: lag passed %g s after %.2f s (bound %g s); "
                      "seconds_behind_master then %s" % (FREEZE_LAG_S, secs, FREEZE_BOUND_S,
                                                         [v for _, _, v in sbm]))
            self.record_timing("freeze_heartbeat_lag", secs)
            self.assertLessEqual(secs, FREEZE_BOUND_S, "lag passed %g s only after %.2f s"
                                 % (FREEZE_LAG_S, secs))
            self.assertEqual(len(sbm), 1, sbm)
            self.assertEqual(sbm[0][2], 0, "db2's Seconds_Behind_Master should still say 0 "
                             "(blind to a frozen source)")
        finally:
            self.pair.thaw(0)
        t1 = time.monotonic()
        self.wait_for(lambda m: self.lags_below(m), what="lag below 1 s after the thaw",
                      show=("heartbeat_lag",))
        print("    lag below %.0f s %.2f s after the thaw" % (HEALTHY_LAG_S,
                                                              time.monotonic() - t1))
        self.wait_healthy("freeze")

    def test_04_reset_slave_all(self):
        lk = link("db1")
        self.pair.sql(0, "STOP SLAVE; RESET SLAVE ALL")
        t0 = time.monotonic()
        try:
            self.assertEqual(self.pair.slave_status(0), [], "db1 still has a connection")
            m, _ = self.wait_for(lambda m: m.get("mariadb_replica_link_up", **lk) == 0,
                                 what="link_up{db1<-db2} 0 after RESET SLAVE ALL",
                                 show=("link_",))
            self.record_timing("reset_slave_all", time.monotonic() - t0)
            print("    " + m.lines("link_", 'node="db1"').replace("\n", "\n    "))
            self.assertEqual(m.get("mariadb_replica_link_expected", **lk), 1)
            self.assertEqual(m.get("mariadb_replica_link_up", **link("db2")), 1)
        finally:
            self.pair.sql(0, change_master_sql(self.pair, 0) + "; START SLAVE")
        self.wait_for(lambda m: m.get("mariadb_replica_link_up", **lk) == 1,
                      what="link_up{db1<-db2} 1 again", show=("link_",))
        self.wait_healthy("reset slave all")

    def test_05_duplicate_key(self):
        lk = link("db2")
        dom = dict(domain=domain_of("db1"), **lk)
        key = self.pair.cause_duplicate_key()
        t0 = time.monotonic()
        try:
            m, _ = self.wait_for(
                lambda m: m.get("mariadb_replica_error_class",
                                **dict(lk, **{"class": "duplicate_key"})) == 1,
                what="error_class duplicate_key on db2", show=("error_class", "link_up"))
            self.record_timing("duplicate_key_class", time.monotonic() - t0)
            print("    " + m.lines("error_class", 'node="db2"').replace("\n", "\n    "))
            for c in ERROR_CLASSES:
                if c != "duplicate_key":
                    self.assertEqual(m.get("mariadb_replica_error_class",
                                           **dict(lk, **{"class": c})), 0,
                                     "error_class{class=%s} on db2" % c)
            self.assertEqual(m.get("mariadb_replica_link_up", **lk), 0, "link_up of a broken link")
            # db1's binlog position is the one of its last poll, which may have come before
            # the insert (the nodes are polled half an interval apart).
            m, _ = self.wait_for(
                lambda m: m.get("mariadb_replica_transactions_behind", **dom) >= 1,
                what="transactions_behind{db2<-db1,domain=1} at least 1",
                show=("transactions_behind", "gtid_"))
            before = m.get("mariadb_replica_transactions_behind", **dom)
            for k in range(5):
                self.pair.sql(0, "INSERT INTO app.t (id, v) VALUES (%d, 1)" % (key + 2 * (k + 1)))
            t1 = time.monotonic()
            m, _ = self.wait_for(
                lambda m: m.get("mariadb_replica_transactions_behind", **dom) >= before + 5,
                what="transactions_behind{db2<-db1,domain=1} up by 5",
                show=("transactions_behind", "gtid_"))
            self.record_timing("transactions_behind", time.monotonic() - t1)
            print("    transactions_behind %g before the 5 inserts, %g after" % (
                before, m.get("mariadb_replica_transactions_behind", **dom)))
        finally:
            self.pair.repair_duplicate_key(key)
        self.wait_for(lambda m: m.get("mariadb_replica_error_class",
                                      **dict(lk, **{"class": "duplicate_key"})) in (0, None) and
                      m.get("mariadb_replica_link_up", **lk) == 1 and
                      m.get("mariadb_replica_transactions_behind", **dom) == 0,
                      what="db2 applying again", show=("error_class", "link_up",
                                                       "transactions_behind"))
        self.wait_healthy("duplicate key")
        self.pair.sync(BOUND_S)
        self.assertEqual(self.pair.sql(1, "SELECT v FROM app.t WHERE id=%d" % key), [("1",)])

    def _check_fault(self, check, fault_sql, restore_sql):
        """Applies fault_sql on db2; check_ok{check} must go to 0 (and the others stay 1)
        with a warn line naming the check in the log (`check=NAME`, with the reason);
        restore_sql brings it back to 1."""
        since = len(self.replmon.log_text())
        self.pair.sql(1, fault_sql)
        t0 = time.monotonic()
        try:
            m, _ = self.wait_for(
                lambda m: m.get("mariadb_cluster_check_ok", cluster=CLUSTER, check=check) == 0,
                what="check_ok{check=%s} 0" % check, show=("check_ok",))
            self.record_timing(check, time.monotonic() - t0)
            for c in CHECKS:
                if c != check:
                    self.assertEqual(m.get("mariadb_cluster_check_ok", cluster=CLUSTER, check=c),
                                     1, "check_ok{check=%s} during the %s fault" % (c, check))
            line = self.wait_log(since, "level=warn", "check=" + check)
            print("    log: %s" % line[:400])
        finally:
            self.pair.sql(1, restore_sql)
        self.wait_for(lambda m: self.checks_ok(m), what="check_ok{check=%s} back to 1" % check,
                      show=("check_ok",))

    def test_06_check_auto_increment(self):
        self.assertEqual(self.pair.value(1, "SELECT @@global.auto_increment_offset"), "2")
        self._check_fault("auto_increment_safe", "SET GLOBAL auto_increment_offset=1",
                          "SET GLOBAL auto_increment_offset=2")
        self.wait_healthy("auto_increment_offset")

    def test_07_check_gtid_domain(self):
        self.assertEqual(self.pair.value(1, "SELECT @@global.gtid_domain_id"), "2")
        self._check_fault("gtid_domain_per_writer", "SET GLOBAL gtid_domain_id=1",
                          "SET GLOBAL gtid_domain_id=2")
        self.wait_healthy("gtid_domain_id")

    def test_08_unexpected_link(self):
        config = write_config(self.pair, os.path.join(self.workdir, "replmon-links.yml"),
                              self.workdir, links=["db1 <- db2"])
        t0 = time.monotonic()
        rm = Replmon(self.workdir, config, "links")
        try:
            rm.wait_serving()
            unexpected, expected = link("db2"), link("db1")
            m, _ = self.wait_for(
                lambda m: m.get("mariadb_replica_link_expected", **unexpected) == 0 and
                m.get("mariadb_replica_link_up", **unexpected) is not None and
                m.get("mariadb_replica_link_expected", **expected) == 1 and
                m.get("mariadb_replica_link_up", **expected) == 1,
                what="links [db1 <- db2]: db2 <- db1 reported as unexpected", replmon=rm,
                show=("link_",))
            self.record_timing("unexpected_link", time.monotonic() - t0, contract=False)
            print("    " + m.lines("link_").replace("\n", "\n    "))
            self.assertEqual(m.get("mariadb_replica_link_up", **unexpected), 1,
                             "the unexpected link is running")
            self.assertEqual(len(m.find("mariadb_replica_link_expected", cluster=CLUSTER)), 2,
                             m.lines("link_expected"))
            rc, out = promtool_check(m.text)
            self.assertEqual((rc, out), (0, ""), "promtool check metrics (links instance)")
        finally:
            rc = rm.stop()
        self.assertEqual(rc, 0, "replmon (links) exit status on SIGTERM; log tail:\n%s"
                         % rm.log_text()[-2000:])

    def test_09_lag_without_heartbeat(self):
        """A cluster without a heartbeat table is judged by Master_Slave_time_diff on
        MariaDB 11.6+ (`make compat`), by Seconds_Behind_Master on 10.11; the lag_info series
        of each link names which, and under MASTER_DELAY that figure reads the delay."""
        version = self.pair.value(0, "SELECT VERSION()")
        major_minor = tuple(int(x) for x in version.split("-")[0].split(".")[:2])
        has_time_diff = major_minor >= (11, 6)
        method = "time_diff" if has_time_diff else "seconds_behind_master"
        raw_family = ("mariadb_replica_time_diff_seconds" if has_time_diff
                      else "mariadb_replica_seconds_behind_master")
        cluster = "nohb"
        config = self.pair.write_replmon_config(
            os.path.join(self.workdir, "replmon-nohb.yml"), "monitor",
            os.path.join(self.workdir, "monitor.pass"), poll_interval="%gs" % POLL_S,
            connect_timeout="%gs" % CONNECT_S, query_timeout="%gs" % QUERY_S, cluster=cluster,
            lag_warning="30s", lag_critical="60s")
        rm = Replmon(self.workdir, config, "nohb")

        def nohb_link(node):
            return dict(cluster=cluster, node=node, source=peer(node))

        def raw(m, node):
            return m.get(raw_family, connection="", **nohb_link(node))

        def health_lag(node):
            status, _, body, _ = http(rm.port, "/health/" + node)
            found = re.search(r"lag (-?[0-9.]+)s", body.decode())
            return found and float(found.group(1)), body.decode().strip()

        try:
            rm.wait_serving()
            m, _ = self.wait_for(
                lambda m: all(m.get("mariadb_replica_lag_info", method=method,
                                    **nohb_link(n)) == 1 for n in NODES),
                what="%s: lag_info method=%s on both links" % (version, method), replmon=rm,
                show=("lag_info", "time_diff", "seconds_behind"))
            print("\n    %s: %s" % (version, m.lines("lag_info").replace("\n", "\n    ")))
            for n in NODES:
                self.assertEqual(len(m.find("mariadb_replica_lag_info", **nohb_link(n))), 1,
                                 m.lines("lag_info"))
            self.assertEqual(len(m.find("mariadb_replica_time_diff_seconds")),
                             2 if has_time_diff else 0, m.lines("time_diff"))
            # The main replmon's cluster, with its heartbeat table, says heartbeat.
            self.assertEqual(
                self.scrape().get("mariadb_replica_lag_info", method="heartbeat", **link("db2")),
                1, "the heartbeat cluster's link")

            # The main replmon's heartbeats write on db1 every second: the delayed link
            # always has events in flight, as a busy one would.
            self.pair.set_master_delay(1, DELAY_S)
            t0 = time.monotonic()
            time.sleep(DELAY_SETTLE_S)
            rows = []
            for _ in range(SAMPLES):
                before = self.scrape(rm.port)
                lag_s, text = health_lag("db2")
                after = self.scrape(rm.port)
                rows.append((time.monotonic() - t0, raw(before, "db2"), lag_s, raw(after, "db2"),
                             before.get("mariadb_replica_seconds_behind_master", connection="",
                                        **nohb_link("db2")), text,
                             before.find("mariadb_replica_lag_info", **nohb_link("db2"))))
                time.sleep(SAMPLE_EVERY_S)
            print("    MASTER_DELAY=%d on %s, %s / health lag / seconds_behind_master: %s"
                  % (DELAY_S, version, raw_family, ", ".join(
                      "%s/%s/%s" % (fmt(r[1]), fmt(r[2]), fmt(r[4])) for r in rows)))
            self.note("MASTER_DELAY=%d without heartbeat on %s: %s %s..%s s" % (
                DELAY_S, version, method, fmt(min(r[1] for r in rows)),
                fmt(max(r[1] for r in rows))))
            for t, figure, lag_s, figure_after, _, text, infos in rows:
                self.assertEqual([(lb.get("method"), v) for _, lb, v in infos], [(method, 1)],
                                 "lag_info at +%.1f s" % t)
                self.assertLessEqual(abs(figure - DELAY_S), 1.5,
                                     "%s of the delayed link at +%.1f s: %r (want %d +/- 1.5)"
                                     % (raw_family, t, figure, DELAY_S))
                # The health lag is that figure, read from a snapshot between the two scrapes
                # (less the connection's SQL_Delay where delayed replicas are judged by the
                # lag beyond their delay).
                judged = {f - d for f in (figure, figure_after) for d in (0, DELAY_S)}
                self.assertIn(lag_s, judged | {max(0.0, f) for f in judged},
                              "/health/db2 at +%.1f s: %s (%s %r..%r)"
                              % (t, text, raw_family, figure, figure_after))
        finally:
            self.pair.set_master_delay(1, 0)
            rc = rm.stop()
        self.assertEqual(rc, 0, "replmon (nohb) exit status on SIGTERM")
        self.wait_healthy("master delay without heartbeat")


def main(argv):
    return common.run_suite(
        TestReplication, argv, "integration-replication", sys.modules[__name__],
        cleanup=TestReplication._cleanup,
        timings_title="fault timings (seconds from the fault to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
