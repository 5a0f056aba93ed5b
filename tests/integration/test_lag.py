#!/usr/bin/env python3
"""Integration tests of the heartbeat lag's accuracy on a real pair, at several phases of the
polls: the README's bound (within half a write interval of the true delay; 0 for a link that
keeps up) under MASTER_DELAY=10, and how soon a frozen source shows.

Run:  python3 tests/integration/test_lag.py [-v] [TestLag.test_02_master_delay ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

One throwaway MariaDB 10.11 pair (mariadb_pair.py) and ONE replmon polling every 1 s that
watches it as five clusters, each with a heartbeat table of its own (replmon.hb_<cluster>,
so that each cluster's writes are its own). replmon spreads the nodes of a heartbeat cluster
over the poll interval (node i of n at i/n), so extra nodes that nothing answers (a free
port on 127.0.0.1) put db2's reads at another phase of db1's writes in each cluster: 1/2,
1/3, 2/3, 1/10 and 9/10 of an interval after them. At phase p a delay of 10 s lies, as far
as replmon can tell, in (9 + p, 10 + p], and the estimate is the middle, 9.5 + p
(expected_lag()): the five clusters are five repetitions of MASTER_DELAY=10 at different
phases, run at the same time so that the suite stays short.

The truth to compare with is measured too (DelayWatch): a `mariadb` client on each node
polls the other's heartbeat row every 5 ms, and the time a row is first seen less its ts is
how long the pair took to apply it. Every estimate must be within the README's bound of
that (0 for a replica less than an interval behind, else within half an interval). The
nominal checks below also assume that the pair delays by what it is told; MariaDB counts
MASTER_DELAY in whole seconds, and after a stall of the machine its delay can settle
anywhere between 9 and 11 s: a window in which the measured delay left 10..10.1 s (or 0.1 s
for a healthy link) is sampled again, up to three times.

- test_01_healthy: every link of every cluster reads 0 +/- 0.05 s for 5 s.
- test_02_master_delay: MASTER_DELAY=10 on db2 (once: the five phases run at the same
  time); from 12 s after it (when db2 has applied heartbeats written after it), 20 s of
  samples: every delayed link within 10 +/- 0.6 s, every link in the other direction
  0 +/- 0.05 s; per phase min/max, its error from 10 s and from the measured delay.
- test_03_freeze: SIGSTOP of db1 twice, 0.15 and 0.75 s after one of replmon's heartbeat
  writes on it (read back from its row); for each phase of db2's reads, when db2's lag from
  db1 passes 3 s. Once db1's poll is late, the lag is the time since its last write less
  half an interval, and it grows with the clock (replmon analyses again 20 times an
  interval), not only at db2's reads: it passes 3 s at 3.5 s less the offset, whatever the
  phase of the reads, so always within half an interval of 3 s (freeze_window(): 2.5 to 3.5
  s, plus a refresh step and the scrape), and between 3.0 and 3.6 s (the issue's window)
  when the freeze falls in the first half of the write interval.
- test_04_freeze_quarter_second: a second replmon polling every 250 ms watches the pair as
  one cluster (replmon.hb_fast); db1 is frozen three times, 0.03, 0.115 and 0.2 s after
  one of replmon's heartbeat writes on it, and each time db2's lag must pass 3 s at
  3.125 s less the offset, within freeze_window() at 250 ms: 2.875 to 3.125 s, plus a
  refresh step and the scrape.

Prints the measured figures and `integration-lag: N passed, M failed` last; exits non-zero
on failure. Python standard library, the `mariadb` client; all traffic on 127.0.0.1; every
process started is stopped by PID (finally, atexit, SIGTERM/SIGINT). About 65 s.
"""

import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import Replmon, free_port, is_nan, scrape  # noqa: E402
from mariadb_pair import MARIADB_CLIENT, PairReplmonCase  # noqa: E402

POLL_S = 1.0
FAST_POLL_S = 0.25
DELAY_S = 10
BOUND_S = 0.6             # the delayed lag lies within DELAY_S +/- this ...
HEALTHY_S = 0.05          # ... and a healthy one within 0 +/- this
SAMPLE_S, SAMPLE_EVERY_S = 20.0, 0.25
SETTLE_BOUND_S = 10.0     # then until every delayed lag is near DELAY_S
FREEZE_LAG_S = 3.0
SCRAPE_FAST_S = 0.02      # scrape cadence while timing a freeze
FREEZE_LATENCY_S = 0.1    # from the analysis to a scrape that shows it
# A growing lag is analysed again every interval / ANALYSIS_REFRESH_STEPS, or every
# lag / ANALYSIS_REFRESH_RELATIVE when that is longer.
REFRESH_STEPS, REFRESH_RELATIVE = 20, 100
WATCH_EVERY_S = 0.005     # DelayWatch's polling period
TRUTH_SLACK_S = 0.02      # DelayWatch's resolution, and the clocks' offsets
# The nominal checks (0 +/- HEALTHY_S, DELAY_S +/- BOUND_S) assume the pair delays by what it
# is told. MariaDB counts MASTER_DELAY in whole seconds from the event's timestamp and the
# time its SQL thread reaches it, so a stall of the machine can leave the delay anywhere
# between 9 and 11 s: a window where the pair's own delay left these ranges is sampled again
# (the estimates are held to the bound against the measured delay in every window).
NOMINAL_HEALTHY_S = 0.1   # below the smallest gap between a write and a read (1/10)
NOMINAL_DELAY_S = (DELAY_S, DELAY_S + 0.1)
WINDOWS = 3
FAST_FREEZE_OFFSETS_S = (0.03, 0.115, 0.2)  # where in db1's 250 ms interval it freezes
FREEZE_OFFSETS_S = (0.15, 0.75)             # ... and in its 1 s interval
ISSUE_WINDOW_S = (3.0, 3.6)  # where the issue wants 3 s passed, for a freeze early enough

# Each cluster: the layout of its nodes (x: a node nothing answers), hence db2's phase.
PHASES = (
    ("half", ("db1", "db2")),
    ("third", ("db1", "db2", "x")),
    ("two_thirds", ("db1", "x", "db2")),
    ("tenth", ("db1", "db2") + ("x",) * 8),
    ("nine_tenths", ("db1",) + ("x",) * 8 + ("db2",)),
)
FAST = "fast"


def phase_of(layout):
    """Where db2's polls fall in db1's interval (db1 is always first)."""
    return layout.index("db2") / len(layout)


def expected_lag(layout, delay=DELAY_S):
    """What the estimator must say for a whole-second delay when db2 is read this phase after
    db1 wrote: the delay lies in (delay + phase - 1, delay + phase], and the estimate is that
    interval's middle (the pair's own delay is a few milliseconds over MASTER_DELAY)."""
    return delay + phase_of(layout) - 0.5


class DelayWatch:
    """The pair's own delay, to check the estimates against: a `mariadb` client on one node
    asks for the other node's row of replmon.hb_<table> every WATCH_EVERY_S, and each time
    the row changes, the time it was first seen less its ts (the writer's NOW(6), this
    machine's clock) is how long that heartbeat took to be applied, to within the polling
    period. start() and stop() from the main thread."""

    def __init__(self, pair, replica, table):
        self.argv = [MARIADB_CLIENT, "--no-defaults", "--batch", "--skip-column-names",
                     "--unbuffered", "--user=root", "--protocol=SOCKET",
                     "--socket=" + pair.nodes[replica].socket]
        self.query = ("SELECT COALESCE((SELECT UNIX_TIMESTAMP(ts) FROM replmon.hb_%s WHERE "
                      "server_id=%d), 0);\n" % (table, 2 - replica)).encode()
        self.delays = []  # [(seen, delay)]
        self.proc = self.thread = None
        self.running = False

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        common.register_cleanup(self.stop)
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        last = None
        while self.running:
            self.proc.stdin.write(self.query)
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            seen = time.time()
            if not line:
                return
            value = line.decode().strip()
            if value != last and last is not None and float(value) > 0:
                self.delays.append((seen, seen - float(value)))
            last = value
            time.sleep(WATCH_EVERY_S)

    def stop(self):
        self.running = False
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None
        if self.proc is not None:
            self.proc.stdin.close()
            common.stop_process(self.proc, bound=5)
            self.proc = None
        common.unregister_cleanup(self.stop)

    def between(self, start, end):
        """(lowest, highest) delay of the heartbeats seen applied from start to end
        (time.time()), or None when there was none."""
        d = [delay for seen, delay in self.delays if start <= seen <= end]
        return (min(d), max(d)) if d else None


def within_bound(value, truth, interval):
    """The README's bound against the pair's own delay (lowest, highest) over the window: 0
    for a replica less than an interval behind, else within half an interval."""
    lo, hi = truth
    if value == 0:
        return lo < interval
    return lo - interval / 2 - TRUTH_SLACK_S <= value <= hi + interval / 2 + TRUTH_SLACK_S


def freeze_window(poll_s):
    """When a frozen source's lag may pass FREEZE_LAG_S, in seconds after the SIGSTOP. The
    estimate is within half an interval of how long the replica has received nothing, and it
    grows with the clock a refresh step at a time: (3 - interval/2, 3 + interval/2], plus a
    step, the publish and the scrape (FREEZE_LATENCY_S)."""
    return (FREEZE_LAG_S - poll_s / 2 - 0.01,
            FREEZE_LAG_S + poll_s / 2 + refresh_step(poll_s) + FREEZE_LATENCY_S)


def refresh_step(poll_s):
    """How often replmon analyses a growing lag of FREEZE_LAG_S again."""
    return max(poll_s / REFRESH_STEPS, FREEZE_LAG_S / REFRESH_RELATIVE)


def expected_crossing(poll_s, offset):
    """When the lag passes FREEZE_LAG_S for a freeze `offset` seconds after the source's last
    write: the age of that write less half an interval passes it then (plus at most a step
    and the scrape: see freeze_window())."""
    return FREEZE_LAG_S + poll_s / 2 - offset


def node(cluster, name):
    return "%s_%s" % (cluster, name)


def lag(m, cluster, replica):
    source = "db2" if replica == "db1" else "db1"
    return m.get("mariadb_heartbeat_lag_seconds", cluster=cluster, node=node(cluster, replica),
                 source=node(cluster, source))


def heartbeat_tables(pair, tables):
    """The tables, created on db1 so that they replicate, and the monitor's grants on every
    node (sql_log_bin=0), as README.md says."""
    pair.sql(0, "CREATE DATABASE IF NOT EXISTS replmon; " + "; ".join(
        "CREATE TABLE replmon.hb_%s (server_id INT UNSIGNED NOT NULL PRIMARY KEY, "
        "ts DATETIME(6) NOT NULL)" % t for t in tables))
    for i in (0, 1):
        pair.sql(i, "SET sql_log_bin=0; " + "; ".join(
            "GRANT SELECT, INSERT, UPDATE ON replmon.hb_%s TO 'monitor'@'%s'" % (t, host)
            for t in tables for host in pair.client_hosts))
    pair.sync(30)


def write_config(pair, workdir, path, clusters, poll_s):
    """replmon's YAML: the pair as each of clusters [(name, layout)]."""
    secret = os.path.join(workdir, "monitor.pass")
    if not os.path.exists(secret):
        pair.write_password_file(secret, "monitor")
    text = ("global:\n  poll_interval: %dms\n  connect_timeout: 1s\n  query_timeout: 2s\n"
            "mariadb:\n" % round(poll_s * 1000))
    for name, layout in clusters:
        text += ("  - cluster: %s\n    user: monitor\n    password_file: %s\n"
                 "    heartbeat: {table: replmon.hb_%s, write: true}\n"
                 "    links: [\"%s <- %s\", \"%s <- %s\"]\n    nodes:\n"
                 % (name, secret, name, node(name, "db2"), node(name, "db1"),
                    node(name, "db1"), node(name, "db2")))
        extra = 0
        for n in layout:
            if n == "x":
                extra += 1
                text += "      - {name: %s, address: '127.0.0.1:%d'}\n" % (
                    node(name, "x%d" % extra), free_port())
            else:
                text += "      - {name: %s, address: '%s'}\n" % (
                    node(name, n), pair.address(0 if n == "db1" else 1))
    with open(path, "w") as f:
        f.write(text)
    return path


class TestLag(PairReplmonCase):
    LABEL = "integration-lag"
    WORKDIR_PREFIX = "replmon-lag-"
    timings = []
    notes = []
    BOUND_S = 20.0

    @classmethod
    def prepare_pair(cls):
        heartbeat_tables(cls.pair, [name for name, _ in PHASES] + [FAST])

    @classmethod
    def make_config(cls, path):
        return write_config(cls.pair, cls.workdir, path, PHASES, POLL_S)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.notes:
            print("\nmeasured:")
            for line in cls.notes:
                print("  " + line)

    @classmethod
    def note(cls, line):
        print("    " + line, flush=True)
        cls.notes.append(line)

    # ------------------------------------------------------------------ helpers
    def all_lags(self, m):
        """{(cluster, replica): lag} for every link of every cluster."""
        return {(c, r): lag(m, c, r) for c, _ in PHASES for r in ("db1", "db2")}

    def healthy(self, m):
        return all(v is not None and not is_nan(v) and v <= HEALTHY_S
                   for v in self.all_lags(m).values())

    def wait_healthy(self, what, replmon=None, clusters=None):
        self.pair.wait_replicating(30)
        names = [c for c, _ in (clusters or PHASES)]
        return self.wait_for(
            lambda m: all(v is not None and not is_nan(v) and v <= HEALTHY_S
                          for c in names for v in (lag(m, c, "db1"), lag(m, c, "db2"))),
            what=what, show=("heartbeat_lag",), replmon=replmon, timeout=30)

    def samples(self, seconds, every=SAMPLE_EVERY_S, port=None):
        """[(seconds since the first, Metrics)] every `every` seconds for `seconds`."""
        out, t0 = [], time.monotonic()
        k = 0
        while True:
            out.append((time.monotonic() - t0, scrape(port or self.replmon.port)[0]))
            k += 1
            if t0 + k * every > t0 + seconds:
                return out
            time.sleep(max(0.0, t0 + k * every - time.monotonic()))

    def freeze_crossings(self, port, clusters, bound_s, at=None):
        """SIGSTOP of db1 (at the time.time() `at`, if given); scrapes every SCRAPE_FAST_S
        until each cluster's db2 <- db1 lag passes FREEZE_LAG_S (or bound_s): {cluster:
        seconds from the SIGSTOP, or None}. Thaws db1 in any case."""
        crossed = {c: None for c in clusters}
        if at is not None:
            time.sleep(max(0.0, at - time.time()))
        self.pair.freeze(0)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < bound_s and None in crossed.values():
                m = scrape(port)[0]
                now = time.monotonic() - t0
                for c in clusters:
                    v = lag(m, c, "db2")
                    if crossed[c] is None and v is not None and v > FREEZE_LAG_S:
                        crossed[c] = now
                time.sleep(SCRAPE_FAST_S)
        finally:
            self.pair.thaw(0)
        return crossed

    # ------------------------------------------------------------------ tests
    def watches(self, table="half"):
        """DelayWatch of both directions: (db2 applying db1's heartbeats, db1 applying
        db2's)."""
        return DelayWatch(self.pair, 1, table).start(), DelayWatch(self.pair, 0, table).start()

    def window(self, seconds, watches):
        """Samples for `seconds` (every SAMPLE_EVERY_S) and the pair's own delays meanwhile:
        (rows, truth of db2 <- db1, truth of db1 <- db2). A truth is (lowest, highest)."""
        start = time.time()
        rows = self.samples(seconds)
        end = time.time()
        # The heartbeats the samples' reads had applied: seen applied before those reads.
        truths = [w.between(start - 2 * POLL_S, end) for w in watches]
        for w, t in zip(("db2 <- db1", "db1 <- db2"), truths):
            self.assertIsNotNone(t, "no heartbeat of %s seen applied" % w)
        return rows, truths[0], truths[1]

    def check_bound(self, rows, truth_db2, truth_db1):
        """Every estimate of every phase against the pair's own delay: a list of failures."""
        failures = []
        for t, m in rows:
            for (c, r), v in self.all_lags(m).items():
                truth = truth_db2 if r == "db2" else truth_db1
                if v is None or is_nan(v) or not within_bound(v, truth, POLL_S):
                    failures.append("%s: lag of %s at +%.2f s is %r, the pair's own delay "
                                    "%.3f..%.3f s" % (c, r, t, v, truth[0], truth[1]))
        return failures

    def test_01_healthy(self):
        self.wait_healthy("every link at 0")
        watches = self.watches()
        try:
            for attempt in range(1, WINDOWS + 1):
                rows, truth_db2, truth_db1 = self.window(5.0, watches)
                failures = self.check_bound(rows, truth_db2, truth_db1)
                self.assertEqual(failures, [], "\n".join(failures[:20]))
                worst = max(v for _, m in rows for v in self.all_lags(m).values())
                self.note("healthy, 10 links (5 phases, both directions) over 5 s: max %.3f s; "
                          "the pair's own delay %.3f..%.3f s (db2 <- db1), %.3f..%.3f s (db1 <- "
                          "db2)" % ((worst,) + truth_db2 + truth_db1))
                if max(truth_db2[1], truth_db1[1]) < NOMINAL_HEALTHY_S:
                    break
                self.note("the pair itself lagged: sampled again (%d of %d)"
                          % (attempt, WINDOWS))
            else:
                self.fail("the pair lagged by itself in every window")
        finally:
            for w in watches:
                w.stop()
        for t, m in rows:
            for (c, r), v in self.all_lags(m).items():
                self.assertTrue(0 <= v <= HEALTHY_S, "%s: lag of %s at +%.2f s is %r"
                                % (c, r, t, v))

    def test_02_master_delay(self):
        self.wait_healthy("every link at 0 before the delay")
        watches = self.watches()
        self.pair.set_master_delay(1, DELAY_S)
        t0 = time.monotonic()
        try:
            # Until db2 has applied a heartbeat written after the delay was set, its lag is
            # still growing (rightly: it applied everything written before): sample from then.
            time.sleep(max(0.0, t0 + DELAY_S + 2 * POLL_S - time.monotonic()))
            self.wait_for(lambda m: all(lag(m, c, "db2") >= DELAY_S - BOUND_S
                                        for c, _ in PHASES),
                          timeout=SETTLE_BOUND_S, what="every delayed lag near %d s" % DELAY_S,
                          show=("heartbeat_lag",))
            for attempt in range(1, WINDOWS + 1):
                settled = time.monotonic() - t0
                rows, truth_db2, truth_db1 = self.window(SAMPLE_S, watches)
                failures = self.check_bound(rows, truth_db2, truth_db1)
                self.assertEqual(failures, [], "\n".join(failures[:20]))
                self.report_delay(rows, settled, truth_db2, truth_db1)
                if (NOMINAL_DELAY_S[0] <= truth_db2[0] and truth_db2[1] <= NOMINAL_DELAY_S[1]
                        and truth_db1[1] < NOMINAL_HEALTHY_S):
                    break
                self.note("the pair's own delay left %g..%g s (db2 <- db1) or %g s (db1 <- "
                          "db2): sampled again (%d of %d)" % (NOMINAL_DELAY_S + (
                              NOMINAL_HEALTHY_S, attempt, WINDOWS)))
            else:
                self.fail("the pair's own delay was not MASTER_DELAY in any window")
        finally:
            self.pair.set_master_delay(1, 0)
            for w in watches:
                w.stop()
        failures = []
        for c, layout in PHASES:
            for t, m in rows:
                v, o = lag(m, c, "db2"), lag(m, c, "db1")
                if not abs(v - DELAY_S) <= BOUND_S:
                    failures.append("%s: delayed lag %r at +%.2f s" % (c, v, t))
                if not 0 <= o <= HEALTHY_S:
                    failures.append("%s: healthy lag %r at +%.2f s" % (c, o, t))
        self.assertEqual(failures, [], "\n".join(failures[:20]))
        self.wait_healthy("every link at 0 after MASTER_DELAY=0")

    def report_delay(self, rows, settled, truth_db2, truth_db1):
        print("\n    MASTER_DELAY=%d: %d samples over %.0f s from %.1f s after it; the pair's "
              "own delay %.3f..%.3f s (db2 <- db1), %.3f..%.3f s (db1 <- db2)"
              % ((DELAY_S, len(rows), SAMPLE_S, settled) + truth_db2 + truth_db1))
        worst, worst_truth, worst_healthy = 0.0, 0.0, 0.0
        for c, layout in PHASES:
            delayed = [lag(m, c, "db2") for _, m in rows]
            other = [lag(m, c, "db1") for _, m in rows]
            err = max(abs(v - DELAY_S) for v in delayed)
            # against the pair's own delay: the distance to its range
            err_truth = max(max(truth_db2[0] - v, v - truth_db2[1], 0) for v in delayed)
            worst, worst_truth = max(worst, err), max(worst_truth, err_truth)
            worst_healthy = max([worst_healthy] + other)
            self.note("MASTER_DELAY=%d, db2 read %.2f of an interval after db1 wrote (%s): "
                      "%.3f..%.3f s (estimator: %.3f), off %d s by %.3f s, off the pair's own "
                      "delay by %.3f s; other direction %.3f..%.3f s"
                      % (DELAY_S, phase_of(layout), c, min(delayed), max(delayed),
                         expected_lag(layout), DELAY_S, err, err_truth, min(other),
                         max(other)))
        self.note("MASTER_DELAY=%d: worst error over the %d phases %.3f s from %d s, %.3f s from "
                  "the pair's own delay %.3f..%.3f s (bound %.1f s); healthy direction max "
                  "%.3f s" % (DELAY_S, len(PHASES), worst, DELAY_S, worst_truth, truth_db2[0],
                              truth_db2[1], BOUND_S, worst_healthy))

    def last_writes(self, clusters):
        """{cluster: db1's newest heartbeat in it}, as its NOW(6) wrote it (this machine's
        clock)."""
        rows = self.pair.sql(0, " UNION ALL ".join(
            "SELECT '%s', UNIX_TIMESTAMP(ts) FROM replmon.hb_%s WHERE server_id=1" % (c, c)
            for c in clusters))
        return {c: float(t) for c, t in rows}

    def check_crossing(self, what, crossed, offset, poll_s):
        """The crossing of a freeze `offset` after the last write: not before
        expected_crossing(), within freeze_window() whatever the offset, and within the
        issue's window when the freeze falls early enough in the interval for the estimate to
        allow it."""
        self.assertIsNotNone(crossed, "%s: lag never passed %g s" % (what, FREEZE_LAG_S))
        low, high = freeze_window(poll_s)
        self.assertTrue(low <= crossed <= high, "%s: lag passed %g s after %.2f s, not within "
                        "[%.2f, %.2f]" % (what, FREEZE_LAG_S, crossed, low, high))
        # Never ahead of the age of that write less half an interval. (It may come later:
        # replmon dates a write at the middle of its INSERT, which on a loaded machine ends
        # well after the NOW(6) in the row the offset is measured from.)
        expected = expected_crossing(poll_s, offset)
        self.assertTrue(crossed >= expected - 0.05, "%s: lag passed %g s after %.2f s, before "
                        "%.2f s" % (what, FREEZE_LAG_S, crossed, expected))
        if 0.05 <= offset <= poll_s / 2 - 0.05:
            self.assertTrue(ISSUE_WINDOW_S[0] <= crossed <= ISSUE_WINDOW_S[1],
                            "%s: lag passed %g s after %.2f s, not within [%g, %g]"
                            % (what, FREEZE_LAG_S, crossed, *ISSUE_WINDOW_S))

    def test_03_freeze(self):
        names = [c for c, _ in PHASES]
        results = []
        for offset in FREEZE_OFFSETS_S:
            self.wait_healthy("every link at 0 before the freeze")
            # The freeze falls `offset` after one of replmon's writes on db1 in the first
            # cluster; the others' writes fall at their own phase (read back from the rows).
            written = self.last_writes(names)
            at = written[names[0]] + offset
            while at < time.time() + 0.1:
                at += POLL_S
            crossed = self.freeze_crossings(self.replmon.port, names, 3 * FREEZE_LAG_S, at)
            for c, layout in PHASES:
                off = (at - written[c]) % POLL_S
                results.append((c, off, crossed[c]))
                self.note("freeze of db1 at 1 s polls %.2f s after a write, db2 read %.2f after "
                          "db1 wrote (%s): lag passed %g s after %s s (expected %.2f)"
                          % (off, phase_of(layout), c, FREEZE_LAG_S, "never"
                             if crossed[c] is None else "%.2f" % crossed[c],
                             expected_crossing(POLL_S, off)))
        for c, off, crossed in results:
            self.check_crossing("%s, frozen %.2f s after a write" % (c, off), crossed, off,
                                POLL_S)
        self.wait_healthy("every link at 0 after the thaw")

    def test_04_freeze_quarter_second(self):
        config = write_config(self.pair, self.workdir, os.path.join(self.workdir, "fast.yml"),
                              [(FAST, ("db1", "db2"))], FAST_POLL_S)
        rm = Replmon(self.workdir, config, "fast")
        try:
            rm.wait_serving()
            crossings = []
            for offset in FAST_FREEZE_OFFSETS_S:
                self.wait_healthy("the 250 ms replmon at 0", replmon=rm,
                                  clusters=[(FAST, ("db1", "db2"))])
                # db1's last heartbeat, as its NOW(6) wrote it (this machine's clock): the
                # freeze falls `offset` after one of replmon's writes on db1.
                written = float(self.pair.value(
                    0, "SELECT UNIX_TIMESTAMP(ts) FROM replmon.hb_%s WHERE server_id=1" % FAST))
                at = written + offset
                while at < time.time() + 0.1:
                    at += FAST_POLL_S
                crossed = self.freeze_crossings(rm.port, [FAST], 3 * FREEZE_LAG_S, at)[FAST]
                crossings.append(crossed)
                self.note("freeze of db1 at 250 ms polls, %.2f s after a heartbeat write: lag "
                          "passed %g s after %s s (expected %.2f)"
                          % (offset, FREEZE_LAG_S, "never" if crossed is None
                             else "%.2f" % crossed, expected_crossing(FAST_POLL_S, offset)))
            for offset, crossed in zip(FAST_FREEZE_OFFSETS_S, crossings):
                self.check_crossing("frozen %.2f s after a write" % offset, crossed, offset,
                                    FAST_POLL_S)
            self.wait_healthy("the 250 ms replmon at 0 after the thaw", replmon=rm,
                              clusters=[(FAST, ("db1", "db2"))])
        finally:
            rc = rm.stop()
        self.assertEqual(rc, 0, "replmon (fast) exit status on SIGTERM; log tail:\n%s"
                         % rm.log_text()[-2000:])


def main(argv):
    return common.run_suite(TestLag, argv, "integration-lag", sys.modules[__name__],
                            cleanup=TestLag._cleanup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
