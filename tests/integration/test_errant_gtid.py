#!/usr/bin/env python3
"""Integration tests of errant transactions on a real pair: mariadb_gtid_errant_transactions
and the pair check no_errant_gtid.

Run:  python3 tests/integration/test_errant_gtid.py [-v] [TestErrantGtid.test_02_...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

A throwaway MariaDB 10.11 pair (mariadb_pair.py: server_id 1/2, gtid_domain_id 1/2) with the
heartbeat table replmon.heartbeat, and one replmon polling every 1 s that writes heartbeats on
both nodes (so each writes in its own domain once a poll).

- test_01_healthy_under_load: while a client inserts into app.t on db1 as fast as it can
  (db2's gtid_slave_pos in domain 1 moves thousands of times a second, and the two nodes are
  polled half an interval apart), every node reads 0 in both writer domains and
  no_errant_gtid passes, in every scrape for LOAD_S. Comparing db2's applied position with
  an older read of db1's binlog would count it ahead of its source here.
- test_02_write_in_another_domain: on db2, `SET SESSION gtid_domain_id=1; INSERT ...`: a
  transaction of db2's server_id 2 in db1's domain 1, which replicates to db1 too (both
  nodes' @@gtid_binlog_state then hold 1-2-N). Both nodes must read 1 in domain 1 (0 in
  domain 2), no_errant_gtid 0, and keep those while heartbeats go on being written in both
  domains for HOLD_S; the log must have exactly one `cluster check failed` line for
  no_errant_gtid, naming the GTID (not one per poll).
- test_03_cleanup: README.md's clean-up (both nodes read-only and in sync, replication
  stopped, on each node RESET MASTER, gtid_binlog_state without the errant entry and
  gtid_slave_pos at the last GTID left in each domain, START SLAVE): the pair replicates
  again, new writes on both nodes replicate, every node reads 0, and the log says that
  no_errant_gtid passes again.

Prints `integration-errant-gtid: N passed, M failed` last; exits non-zero on failure. Python
standard library and the `mariadb` client; all traffic on 127.0.0.1 and unix sockets; every
process is started and stopped by PID (finally, atexit, SIGTERM/SIGINT). About 30 s.
"""

import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from mariadb_pair import MARIADB_CLIENT, NODE_NAMES, PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
POLL_S = 1.0
BOUND_S = 15.0          # a state not shown by then fails the test
LOAD_S = 8.0            # how long the healthy pair is scraped under write load
HOLD_S = 5.0            # how long the errant state is watched once shown
SCRAPE_EVERY_S = 0.1
DOMAINS = ("1", "2")
FAMILY = "mariadb_gtid_errant_transactions"
CHECK = "no_errant_gtid"


def errant(m, node, domain):
    return m.get(FAMILY, cluster=CLUSTER, node=node, domain=domain)


def check_ok(m):
    return m.get("mariadb_cluster_check_ok", cluster=CLUSTER, check=CHECK)


def values(m):
    return {(n, d): errant(m, n, d) for n in NODE_NAMES for d in DOMAINS}


class Inserter:
    """A `mariadb` client on db1 fed INSERTs as fast as it takes them, until stop()."""

    def __init__(self, pair):
        self.argv = [MARIADB_CLIENT, "--no-defaults", "--batch", "--user=root",
                     "--protocol=SOCKET", "--socket=" + pair.nodes[0].socket]
        self.proc = self.thread = None
        self.count = 0
        self.running = False

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        common.register_cleanup(self.stop)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        key = 1000001  # odd keys: db1's auto_increment offset, far from anything else
        try:
            while self.running:
                batch = "".join("INSERT INTO app.t VALUES (%d, 1);\n" % (key + 2 * k)
                                for k in range(50))
                self.proc.stdin.write(batch.encode())
                self.proc.stdin.flush()
                key += 100
                self.count += 50
        except (BrokenPipeError, OSError):
            pass

    def stop(self):
        self.running = False
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            common.stop_process(self.proc, bound=5)
            common.unregister_cleanup(self.stop)
            self.proc = None


class TestErrantGtid(PairReplmonCase):
    LABEL = "integration-errant-gtid"
    WORKDIR_PREFIX = "replmon-errant-"
    CLUSTER = CLUSTER
    timings = []
    BOUND_S, SCRAPE_EVERY_S = BOUND_S, SCRAPE_EVERY_S

    @classmethod
    def prepare_pair(cls):
        cls.pair.setup_heartbeat()

    @classmethod
    def make_config(cls, path):
        return cls.pair.write_replmon_config(
            path, "monitor", os.path.join(cls.workdir, "monitor.pass"),
            poll_interval="%gs" % POLL_S, connect_timeout="1s", query_timeout="2s",
            cluster=CLUSTER,
            cluster_extra="    heartbeat: {table: replmon.heartbeat, write: true}\n")

    def healthy(self, m):
        return (all(v == 0 for v in values(m).values()) and check_ok(m) == 1
                and m.get("mariadb_up", cluster=CLUSTER, node="db1") == 1
                and m.get("mariadb_up", cluster=CLUSTER, node="db2") == 1)

    def failed_check_lines(self):
        return [line for line in self.replmon.log_text().split("\n")
                if "cluster check failed" in line and "check=" + CHECK in line]

    def test_01_healthy_under_load(self):
        self.wait_for(self.healthy, what="every node 0 errant and no_errant_gtid 1",
                      show=(FAMILY, CHECK, "mariadb_up"))
        inserter = Inserter(self.pair).start()
        bad, scrapes = [], 0
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < LOAD_S:
                m = self.scrape()
                scrapes += 1
                if not self.healthy(m):
                    bad.append("+%.2f s: %s, %s %s" % (time.monotonic() - t0, values(m), CHECK,
                                                       check_ok(m)))
                time.sleep(SCRAPE_EVERY_S)
        finally:
            inserter.stop()
        applied = int(self.pair.value(1, "SELECT COUNT(*) FROM app.t WHERE id > 1000000"))
        print("\n    %d inserts on db1 in %.0f s (%d applied on db2 when it ended); %d scrapes"
              % (inserter.count, LOAD_S, applied, scrapes), flush=True)
        self.assertGreater(applied, 1000, "the load must move db2's applied position")
        self.assertFalse(bad, "a healthy pair under write load read errant transactions in "
                         "%d of %d scrapes, first ones:\n%s\nlog tail:\n%s"
                         % (len(bad), scrapes, "\n".join(bad[:5]),
                            self.replmon.log_text()[-2000:]))
        self.assertEqual(self.failed_check_lines(), [])

    def test_02_write_in_another_domain(self):
        self.wait_for(self.healthy, what="healthy before the errant write",
                      show=(FAMILY, CHECK, "mariadb_up"))
        t0 = time.monotonic()
        gtid = self.pair.value(1, "SET SESSION gtid_domain_id=1; "
                                  "INSERT INTO app.t VALUES (2000002, 2); SELECT @@last_gtid")
        self.assertRegex(gtid, r"^1-2-\d+$", "db2's write in domain 1 has server_id 2")
        self.pair.sync()
        for i in (0, 1):
            state = self.pair.value(i, "SELECT @@GLOBAL.gtid_binlog_state")
            self.assertIn(gtid, state.split(","), "%s's gtid_binlog_state" % NODE_NAMES[i])

        def errant_shown(m):
            return (errant(m, "db1", "1") == 1 and errant(m, "db2", "1") == 1
                    and errant(m, "db1", "2") == 0 and errant(m, "db2", "2") == 0
                    and check_ok(m) == 0)

        _, secs = self.wait_for(errant_shown, what="errant 1 in domain 1 on both nodes, "
                                "no_errant_gtid 0", show=(FAMILY, CHECK))
        self.record_timing("errant_write", time.monotonic() - t0, contract=False)
        seq_before = self.pair.value(0, "SELECT @@GLOBAL.gtid_binlog_pos")
        t1 = time.monotonic()
        while time.monotonic() - t1 < HOLD_S:
            m = self.scrape()
            self.assertTrue(errant_shown(m), "the errant state must stay: %s, %s %s"
                            % (values(m), CHECK, check_ok(m)))
            time.sleep(SCRAPE_EVERY_S * 3)
        seq_after = self.pair.value(0, "SELECT @@GLOBAL.gtid_binlog_pos")
        self.assertNotEqual(seq_before, seq_after, "heartbeats went on being written")
        lines = self.failed_check_lines()
        self.assertEqual(len(lines), 1, "one log line for the failed check, not one per poll:"
                         "\n%s" % "\n".join(lines))
        self.assertIn(gtid, lines[0], "the log line names the errant GTID")
        print("    %s: %s" % (gtid, lines[0]), flush=True)

    def test_03_cleanup(self):
        """README's clean-up: with both nodes read-only and in sync and replication stopped,
        RESET MASTER and the states without the errant entry; replmon reads 0 again and logs
        that the check passes."""
        def foreign(entry):
            domain, server, _ = entry.split("-")
            return domain == "1" and server != "1" or domain == "2" and server != "2"

        self.wait_for(lambda m: check_ok(m) == 0, what="the errant write of test_02 shown",
                      show=(FAMILY, CHECK))
        p = self.pair
        for i in (0, 1):
            p.sql(i, "SET GLOBAL read_only=1")
        p.sync()
        for i in (0, 1):
            p.sql(i, "STOP SLAVE")
        states = [p.value(i, "SELECT @@GLOBAL.gtid_binlog_state").split(",") for i in (0, 1)]
        clean = [",".join(e for e in st if not foreign(e)) for st in states]
        # The position to resume from in each domain: the last GTID left there.
        last = {}
        for e in clean[0].split(","):
            domain, _, seq = e.split("-")
            if domain not in last or int(seq) > int(last[domain].split("-")[2]):
                last[domain] = e
        slave_pos = ",".join(last[d] for d in sorted(last))
        # Both binlogs are reset before either replica starts again: a replica that connects
        # while its source still has the old binlog, which is then reset under it, may stop
        # following (seen under ASan as a sync that never came).
        for i in (0, 1):
            p.sql(i, "RESET MASTER; SET GLOBAL gtid_binlog_state='%s'; "
                     "SET GLOBAL gtid_slave_pos='%s'" % (clean[i], slave_pos))
        for i in (0, 1):
            p.sql(i, "START SLAVE; SET GLOBAL read_only=0")
        print("\n    cleaned: %s -> %s; gtid_slave_pos %s" % (states[0], clean[0], slave_pos),
              flush=True)
        self.wait_restored("clean-up")
        self.wait_for(self.healthy, what="0 errant and no_errant_gtid 1 after the clean-up",
                      show=(FAMILY, CHECK))
        p.sql(0, "INSERT INTO app.t VALUES (3000001, 3)")
        p.sql(1, "INSERT INTO app.t VALUES (3000002, 3)")
        p.sync()
        self.wait_for(self.replicating, what="replicating after new writes",
                      show=("mariadb_up", "_running"))
        self.assertTrue(self.healthy(self.scrape()))
        # The state-change log looks at the latest analysis once a poll interval.
        deadline = time.monotonic() + BOUND_S
        while not any("cluster check passes again" in line and "check=" + CHECK in line
                      for line in self.replmon.log_text().split("\n")):
            self.assertLess(time.monotonic(), deadline, "the log says the check passes again")
            time.sleep(0.2)


def main(argv):
    return common.run_suite(TestErrantGtid, argv, "integration-errant-gtid",
                            sys.modules[__name__], cleanup=TestErrantGtid._cleanup,
                            timings_title="timings (seconds from the write to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
