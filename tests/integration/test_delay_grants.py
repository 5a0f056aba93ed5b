#!/usr/bin/env python3
"""Integration tests of two things an admin does on purpose that replmon must not take for a
fault, against a throwaway MariaDB pair: a replica delayed with MASTER_DELAY, and a GRANT (or
a fixed password) given while replmon is running.

Run:  python3 tests/integration/test_delay_grants.py [-v] [TestDelayGrants.test_03_grant ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      REPLMON_CHECK  path of replmon-check (default build/replmon-check)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

The pair of mariadb_pair.py with the heartbeat table replmon.heartbeat; the suite's replmon
polls every 1 s with the monitor account, heartbeat writes on, lag_warning 3s and
lag_critical 5s.

- test_01_delay_is_not_lag: MASTER_DELAY=10 on db2. Once db2 applies with its delay, for 5 s:
  mariadb_heartbeat_lag_seconds of db2 <- db1 reads about 10 (the raw figure),
  mariadb_replica_lag_beyond_delay_seconds about 0, db2 is not critical (its state is ok),
  /health/db2 answers 200, and replmon-check --node=db2 exits 0.
- test_02_delayed_and_behind: still delayed, a session on db2 holds db1's heartbeat row
  (SELECT ... FOR UPDATE), so that db2's SQL thread, which keeps running, waits on it and
  falls behind its delay. Once it trails by more than delay + lag_critical: the lag beyond
  delay reads over 5 s, db2 is critical, /health/db2 answers 503 and replmon-check exits 2.
  The lock is released and the delay removed.
- test_03_grant: a second replmon with the account nomon (USAGE only): mariadb_up 0 with
  reason privilege on both nodes. Then GRANT SLAVE MONITOR to nomon (both hosts it exists
  for, on each node): each node must read mariadb_up 1 within two poll intervals of its
  GRANT (plus 1 s of slack for the scrape cadence and the statement), and the log must hold
  exactly one "target answers again" line per node, with reason=privilege.
- test_04_password_fixed: a third replmon with an account whose server-side password differs
  from the configured one: reason auth. Right after a refused attempt (the auth error
  counter moved), ALTER USER gives it the configured password: mariadb_up 1 within two poll
  intervals (plus slack), and one "target answers again" line per node, with reason=auth.

Prints `integration-delay-grants: N passed, M failed` last; exits non-zero on failure.
Python standard library and the `mariadb` client; all traffic on 127.0.0.1; every process
started is stopped by PID (finally, atexit, SIGTERM/SIGINT). About 90 s.
"""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import Replmon, http, is_nan, replmon_check_path, scrape  # noqa: E402
import mariadb_pair  # noqa: E402
from mariadb_pair import PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
NODES = ("db1", "db2")
POLL_S = 1.0
LAG_WARNING_S, LAG_CRITICAL_S = 3, 5
DELAY_S = 10
DELAY_TOLERANCE_S = 1.5     # the raw heartbeat lag of the delayed link is DELAY_S +/- this
BEYOND_DELAY_MAX_S = 1.0    # and its lag beyond the delay at most this
SAMPLE_S, SAMPLE_EVERY_S = 5.0, 0.25
# From a GRANT (or the fixed password) to mariadb_up 1: two poll intervals, plus the scrape
# cadence, the statement's own time and the publish.
RECOVERY_S = 2 * POLL_S + 1.0
CHECK_BOUND_S = 30.0        # replmon-check's own wait is a few seconds
FIXME_USER = "fixme"
FIXME_OLD, FIXME_NEW = "fixme-Old-4", "fixme-New-5"


def link(node):
    return dict(cluster=CLUSTER, node=node, source="db2" if node == "db1" else "db1")


def state_of(m, node):
    """The node's health state, from replmon_target_state."""
    for state in ("ok", "warning", "critical", "unknown"):
        if m.get("replmon_target_state", cluster=CLUSTER, node=node, state=state) == 1:
            return state
    return None


def known(v):
    return v is not None and not is_nan(v)


def recoveries(log, node):
    """The "target answers again" lines of the MariaDB node."""
    return [line for line in log.splitlines()
            if "target answers again" in line and "kind=mariadb" in line
            and re.search(r"\bnode=%s\b" % node, line)]


class TestDelayGrants(PairReplmonCase):
    LABEL = "integration-delay-grants"
    WORKDIR_PREFIX = "replmon-delay-grants-"
    timings = []
    BOUND_S = 30.0
    CONTRACT_S = RECOVERY_S

    @classmethod
    def prepare_pair(cls):
        cls.pair.setup_heartbeat()

    @classmethod
    def make_config(cls, path):
        return cls.pair.write_replmon_config(
            path, "monitor", os.path.join(cls.workdir, "monitor.pass"), poll_interval="1s",
            connect_timeout="1s", query_timeout="2s", lag_warning="%ds" % LAG_WARNING_S,
            lag_critical="%ds" % LAG_CRITICAL_S, cluster=CLUSTER,
            cluster_extra="    heartbeat: {table: replmon.heartbeat, write: true}\n")

    # ------------------------------------------------------------------ helpers
    def health(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/%s" % node)
        return status, body.decode("utf-8", "replace").strip()

    def check(self, node):
        """(exit status, output) of replmon-check --node=node on the suite's configuration."""
        r = subprocess.run([replmon_check_path(), "--config.file=" + self.config,
                            "--node=" + node, "--format=nagios"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=CHECK_BOUND_S)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace").strip()

    def lags(self, m):
        """(raw heartbeat lag, lag beyond delay) of db2 <- db1."""
        return (m.get("mariadb_heartbeat_lag_seconds", **link("db2")),
                m.get("mariadb_replica_lag_beyond_delay_seconds", **link("db2")))

    def wait_delayed(self):
        """Until db2 applies db1's heartbeats with its delay: the raw lag near DELAY_S."""
        t0 = time.monotonic()
        m, _ = self.wait_for(
            lambda m: m.get("mariadb_replica_sql_delay_seconds", cluster=CLUSTER, node="db2",
                            connection="", source="db1") == DELAY_S and
            known(self.lags(m)[0]) and abs(self.lags(m)[0] - DELAY_S) <= DELAY_TOLERANCE_S and
            self.replicating(m),
            timeout=DELAY_S + 20, what="db2 delayed by %d s" % DELAY_S,
            show=("heartbeat_lag", "beyond_delay", "sql_delay", "target_state"))
        print("\n    db2 applies with its delay %.1f s after MASTER_DELAY=%d"
              % (time.monotonic() - t0, DELAY_S), flush=True)
        return m

    def grant_and_watch(self, replmon, grant, reason):
        """Runs grant(i) on each node and scrapes until each node is up; asserts that each
        came up within RECOVERY_S of its own grant, with one recovery line for reason."""
        granted, up = {}, {}
        for i, node in enumerate(NODES):
            grant(i)
            granted[node] = time.monotonic()
        while len(up) < len(NODES):
            m = scrape(replmon.port)[0]
            now = time.monotonic()
            for node in NODES:
                if node not in up and m.get("mariadb_up", cluster=CLUSTER, node=node) == 1:
                    up[node] = now - granted[node]
            if now - min(granted.values()) > self.BOUND_S:
                break
            time.sleep(0.1)
        for node in NODES:
            self.assertIn(node, up, "%s: mariadb_up not 1 %.0f s after the fix; log tail:\n%s"
                          % (node, self.BOUND_S, replmon.log_text()[-3000:]))
            self.record_timing("%s_%s" % (reason, node), up[node])
        time.sleep(2 * POLL_S)  # more polls: no second recovery line may follow
        log = replmon.log_text()
        for node in NODES:
            lines = recoveries(log, node)
            print("    %s" % (lines[0] if lines else "(no recovery line for %s)" % node))
            self.assertEqual(len(lines), 1, "%s: not exactly one recovery line:\n%s"
                             % (node, "\n".join(lines)))
            self.assertIn("reason=%s" % reason, lines[0])

    # ------------------------------------------------------------------ tests
    def test_01_delay_is_not_lag(self):
        self.wait_restored("before the delay")
        self.pair.set_master_delay(1, DELAY_S)
        self.wait_delayed()
        raws, beyonds, t0 = [], [], time.monotonic()
        while time.monotonic() - t0 < SAMPLE_S:
            m = self.scrape()
            self.assertEqual(state_of(m, "db2"), "ok", "db2 delayed on purpose:\n%s"
                             % m.lines("target_state", "lag"))
            raw, beyond = self.lags(m)
            raws.append(raw)
            beyonds.append(beyond)
            self.assertTrue(known(raw) and abs(raw - DELAY_S) <= DELAY_TOLERANCE_S,
                            "raw heartbeat lag %r, not %d +/- %g" % (raw, DELAY_S,
                                                                     DELAY_TOLERANCE_S))
            self.assertTrue(known(beyond) and 0 <= beyond <= BEYOND_DELAY_MAX_S,
                            "lag beyond delay %r, not 0..%g" % (beyond, BEYOND_DELAY_MAX_S))
            time.sleep(SAMPLE_EVERY_S)
        print("    over %.0f s: heartbeat lag %.2f..%.2f s, beyond delay %.2f..%.2f s"
              % (SAMPLE_S, min(raws), max(raws), min(beyonds), max(beyonds)))
        status, body = self.health("db2")
        print("    /health/db2: %d %s" % (status, body))
        self.assertEqual(status, 200, body)
        rc, out = self.check("db2")
        print("    replmon-check --node=db2: exit %d: %s" % (rc, out))
        self.assertEqual(rc, 0, out)

    def test_02_delayed_and_behind(self):
        try:
            if self.pair.slave_status(1)[0].get("SQL_Delay") != str(DELAY_S):
                self.pair.set_master_delay(1, DELAY_S)  # run on its own
            self.wait_delayed()
            lock = mariadb_pair.HeldSession(
                self.pair, 1, "BEGIN; SELECT server_id FROM replmon.heartbeat "
                "WHERE server_id=1 FOR UPDATE;", "1", "ROLLBACK;")
            t0 = time.monotonic()
            try:
                m, secs = self.wait_for(
                    lambda m: state_of(m, "db2") == "critical",
                    timeout=DELAY_S + LAG_CRITICAL_S + 10,
                    what="db2 critical once behind its delay by %d s" % LAG_CRITICAL_S,
                    show=("heartbeat_lag", "beyond_delay", "target_state"))
                raw, beyond = self.lags(m)
                print("\n    db2 critical %.1f s after its SQL thread was held: heartbeat lag "
                      "%.2f s, beyond delay %.2f s" % (time.monotonic() - t0, raw, beyond))
                self.assertTrue(known(beyond) and beyond >= LAG_CRITICAL_S, beyond)
                self.assertTrue(raw >= DELAY_S + LAG_CRITICAL_S, raw)
                self.assertEqual(m.get("mariadb_replica_sql_running", cluster=CLUSTER,
                                       node="db2", connection="", source="db1"), 1,
                                 "the SQL thread keeps running: only the lag makes it critical")
                status, body = self.health("db2")
                print("    /health/db2: %d %s" % (status, body))
                self.assertEqual(status, 503, body)
                rc, out = self.check("db2")
                print("    replmon-check --node=db2: exit %d: %s" % (rc, out))
                self.assertEqual(rc, 2, out)
            finally:
                lock.release()
        finally:
            self.pair.set_master_delay(1, 0)
        self.wait_for(lambda m: state_of(m, "db2") == "ok" and self.replicating(m),
                      timeout=DELAY_S + 20, what="db2 ok without the delay",
                      show=("heartbeat_lag", "beyond_delay", "target_state"))

    def test_03_grant(self):
        config = self.pair.write_replmon_config(
            os.path.join(self.workdir, "replmon-nomon.yml"), "nomon",
            os.path.join(self.workdir, "nomon.pass"), cluster=CLUSTER)
        rm = Replmon(self.workdir, config, "nomon")
        try:
            rm.wait_serving()
            self.wait_for(lambda m: all(
                m.get("mariadb_up", cluster=CLUSTER, node=n) == 0 and
                (m.get("replmon_probe_errors_total", kind="mariadb", cluster=CLUSTER, node=n,
                       reason="privilege") or 0) >= 2 for n in NODES),
                what="nomon: up 0 and privilege errors", show=("mariadb_up", "probe_errors"),
                replmon=rm)
            # The account exists for 127.0.0.1 and localhost on each node (not replicated).
            self.grant_and_watch(rm, lambda i: self.pair.sql(i, "SET sql_log_bin=0; " + "; ".join(
                "GRANT SLAVE MONITOR ON *.* TO 'nomon'@'%s'" % host
                for host in self.pair.client_hosts)), "privilege")
        finally:
            rc = rm.stop()
        self.assertEqual(rc, 0, "replmon (nomon) exit status on SIGTERM")

    def test_04_password_fixed(self):
        for i in (0, 1):
            self.pair.sql(i, "SET sql_log_bin=0; " + "; ".join(
                "CREATE USER '%s'@'%s' IDENTIFIED BY '%s'; GRANT SLAVE MONITOR ON *.* TO "
                "'%s'@'%s'" % (FIXME_USER, host, FIXME_OLD, FIXME_USER, host)
                for host in self.pair.client_hosts))
        secret = os.path.join(self.workdir, "fixme.pass")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(FIXME_NEW + "\n")
        config = self.pair.write_replmon_config(
            os.path.join(self.workdir, "replmon-fixme.yml"), FIXME_USER, secret,
            cluster=CLUSTER)
        rm = Replmon(self.workdir, config, "fixme")

        def auth_errors(m):
            return [m.get("replmon_probe_errors_total", kind="mariadb", cluster=CLUSTER,
                          node=n, reason="auth") or 0 for n in NODES]

        try:
            rm.wait_serving()
            # Long enough refused for a backoff to reach its cap (1, 2, 4, 5 s).
            m, _ = self.wait_for(lambda m: min(auth_errors(m)) >= 5,
                                 what="fixme: refused credentials, again and again",
                                 show=("mariadb_up", "probe_errors"), replmon=rm)
            self.assertEqual([m.get("mariadb_up", cluster=CLUSTER, node=n) for n in NODES],
                             [0, 0])
            # Right after a refused attempt on db1, so that a backoff would wait its longest.
            before = auth_errors(m)[0]
            while auth_errors(scrape(rm.port)[0])[0] == before:
                time.sleep(0.05)
            self.grant_and_watch(rm, lambda i: self.pair.sql(i, "SET sql_log_bin=0; " + "; ".join(
                "ALTER USER '%s'@'%s' IDENTIFIED BY '%s'" % (FIXME_USER, host, FIXME_NEW)
                for host in self.pair.client_hosts)), "auth")
        finally:
            rc = rm.stop()
        self.assertEqual(rc, 0, "replmon (fixme) exit status on SIGTERM")


def main(argv):
    return common.run_suite(TestDelayGrants, argv, "integration-delay-grants",
                            sys.modules[__name__], cleanup=TestDelayGrants._cleanup,
                            timings_title="recovery timings (seconds from the fix to "
                            "mariadb_up 1):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
