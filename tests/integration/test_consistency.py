#!/usr/bin/env python3
"""Integration test: within ONE scrape, `replmon_target_state` agrees with the replication
metrics of that same scrape, through faults and their repairs.

Run:  python3 tests/integration/test_consistency.py [-v]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

A throwaway MariaDB 10.11 pair (mariadb_pair.py) and one replmon polling every 500 ms with
lag thresholds of 1 h / 2 h (so that lag never decides a state). A scraper thread GETs
/metrics as fast as it can (keep-alive, bounded in count and time) while the main thread
breaks db2's replication and repairs it, CYCLES times each: `STOP SLAVE IO_THREAD` then
`START SLAVE`, and `STOP SLAVE` (both threads) then `START SLAVE`. Every scrape is then
judged on its own: from its mariadb_up, mariadb_replica_link_up of the expected links
(mariadb_replica_link_expected 1), the lag (heartbeat lag, else Seconds_Behind_Master) and
mariadb_cluster_check_ok, the README's rules give each node's state (critical: unreachable,
an expected link broken or missing, lag >= lag_critical; warning: lag >= lag_warning or a
pair check failing; ok otherwise), and the scrape's replmon_target_state{state=...} == 1
series must be exactly that state. Every disagreement is collected; the failure lists the
first scrape of the first few runs of them (scrape index, node, metrics, state). The test
also requires that the faults were seen (link_up 0 with the state critical, for both
kinds) and that the repairs were (ok again), so it cannot pass on scrapes that saw nothing.

Prints `integration-consistency: N passed, M failed` last and exits non-zero on failure.
Python standard library and the `mariadb` client; all traffic on 127.0.0.1; every process
is started and stopped by PID by the fixtures (finally, atexit, SIGTERM/SIGINT). About 25 s.
"""

import http.client
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import Metrics, is_nan  # noqa: E402
from mariadb_pair import NODE_NAMES, PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
POLL_S = 0.5
LAG_WARNING_S, LAG_CRITICAL_S = 3600.0, 7200.0   # lag never decides a state here
# Why fast scraping and several cycles: before the analysis moved into the snapshot, the
# state came from a board the main thread refreshed every poll interval, in step with
# the pollers; measured here, a window of a whole interval (500 ms) in the first seconds,
# then, as the two drift apart, windows of 0-10 ms, which only back-to-back scrapes and
# more transitions catch.
CYCLES = 4               # each: the IO-thread fault and its repair, then both threads'
HOLD_S = 1.0             # how long each state is held once a scrape showed it
BOUND_S = 15.0           # a fault or a repair not shown by then fails the test
MAX_SCRAPES = 2000000    # the scraper's bounds
MAX_SCRAPE_S = 60.0
SHOW_RUNS = 6            # disagreements listed in the failure (first scrape of each run)

FAULTS = (
    ("io_thread", "STOP SLAVE IO_THREAD"),
    ("both_threads", "STOP SLAVE"),
)
REPAIR = "START SLAVE"

# The families a scrape is judged on; the scraper keeps only their lines.
KEPT = frozenset((
    "mariadb_up", "mariadb_replica_link_up", "mariadb_replica_link_expected",
    "mariadb_replica_io_running", "mariadb_replica_sql_running",
    "mariadb_replica_seconds_behind_master", "mariadb_heartbeat_lag_seconds",
    "mariadb_cluster_check_ok", "replmon_target_state"))
STATES = ("ok", "warning", "critical", "unknown")


def keep_lines(body):
    """The sample lines of KEPT families, as one string (small enough to keep thousands)."""
    out = []
    for line in body.split("\n"):
        if line and line[0] != "#":
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in KEPT:
                out.append(line)
    return "\n".join(out)


def fmt(v):
    if v is None:
        return "absent"
    return "NaN" if is_nan(v) else "%g" % v


class Scraper(threading.Thread):
    """GETs /metrics back to back over one keep-alive connection until stop(), MAX_SCRAPES
    or MAX_SCRAPE_S. Consecutive scrapes whose kept lines are equal form one segment:
    segments is [[index of its first scrape, scrapes, seconds of the first, seconds of the
    last, kept lines]] (seconds since the start; thousands of scrapes a second would not
    fit in memory one by one). latest: the newest kept lines, for the main thread's waits."""

    def __init__(self, port):
        super().__init__(name="scraper", daemon=True)
        self.port = port
        self.segments = []
        self.count = 0
        self.errors = []
        self.latest = None
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        self.join(10)

    def run(self):
        conn, prev_body = None, None
        t0 = time.monotonic()
        while (not self._stop_event.is_set() and self.count < MAX_SCRAPES
               and time.monotonic() - t0 < MAX_SCRAPE_S and len(self.errors) < 20):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise http.client.HTTPException("status %d: %r" % (r.status, body[:200]))
                if r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.errors.append("+%.3f s: %s" % (time.monotonic() - t0, e))
                if conn is not None:
                    conn.close()
                    conn = None
                time.sleep(0.01)
                continue
            t = time.monotonic() - t0
            kept = self.latest
            if body != prev_body:
                prev_body, kept = body, keep_lines(body.decode("utf-8", "replace"))
            if self.segments and kept == self.segments[-1][4]:
                seg = self.segments[-1]
                seg[1] += 1
                seg[3] = t
            else:
                self.segments.append([self.count, 1, t, t, kept])
            self.count += 1
            self.latest = kept
        if conn is not None:
            conn.close()


def link_labels(m, node):
    """The labels of node's expected links (mariadb_replica_link_expected 1)."""
    return [l for _, l, v in m.find("mariadb_replica_link_expected", cluster=CLUSTER, node=node)
            if v == 1]


def expected_state(m, node):
    """(state, reason) by the README's rules, from this scrape's own samples only."""
    up = m.get("mariadb_up", cluster=CLUSTER, node=node)
    if up is None or is_nan(up):
        return "unknown", "mariadb_up %s" % fmt(up)
    if up == 0:
        return "critical", "mariadb_up 0"
    links = link_labels(m, node)
    if not links:
        return "unknown", "no expected link in the scrape"
    broken, lag = [], None
    for lk in links:
        lu = m.get("mariadb_replica_link_up", **lk)
        if lu != 1:
            broken.append("link_up{source=%s} %s" % (lk["source"], fmt(lu)))
            continue
        v = m.get("mariadb_heartbeat_lag_seconds", **lk)
        if v is None or is_nan(v):
            sbm = [x for _, _, x in m.find("mariadb_replica_seconds_behind_master", **lk)
                   if not is_nan(x)]
            v = max(sbm) if sbm else None
        if v is not None and (lag is None or v > lag):
            lag = v
    if broken:
        return "critical", ", ".join(broken)
    if lag is not None and lag >= LAG_CRITICAL_S:
        return "critical", "lag %g" % lag
    if lag is not None and lag >= LAG_WARNING_S:
        return "warning", "lag %g" % lag
    failed = [l["check"] for _, l, v in m.find("mariadb_cluster_check_ok", cluster=CLUSTER)
              if v == 0]
    if failed:
        return "warning", "check_ok 0: " + ",".join(failed)
    return "ok", "links up, lag %s, checks ok" % fmt(lag)


def actual_states(m, node):
    return [l["state"] for _, l, v in m.find("replmon_target_state", cluster=CLUSTER, node=node)
            if v == 1]


def summary(m, node):
    """One line of the scrape's metrics that decide node's state."""
    parts = ["mariadb_up=%s" % fmt(m.get("mariadb_up", cluster=CLUSTER, node=node))]
    for lk in link_labels(m, node):
        parts.append("link_up{source=%s}=%s" % (lk["source"],
                                                fmt(m.get("mariadb_replica_link_up", **lk))))
        for fam, short in (("mariadb_replica_io_running", "io_running"),
                           ("mariadb_replica_sql_running", "sql_running"),
                           ("mariadb_replica_seconds_behind_master", "sbm")):
            vals = [v for _, _, v in m.find(fam, **lk)]
            parts.append("%s=%s" % (short, "/".join(fmt(v) for v in vals) or "absent"))
    failed = [l["check"] for _, l, v in m.find("mariadb_cluster_check_ok", cluster=CLUSTER)
              if v == 0]
    parts.append("checks_failed=[%s]" % ",".join(failed))
    return " ".join(parts)


def judge(text):
    """Per node: (expected, reason, actual states) for one scrape's kept lines, plus db2's
    (link_up, io_running, sql_running) on its link from db1."""
    m = Metrics(text)
    verdicts = {}
    for node in NODE_NAMES:
        exp, why = expected_state(m, node)
        verdicts[node] = (exp, why, actual_states(m, node))
    lk = dict(cluster=CLUSTER, node="db2", source="db1")
    db2 = (m.get("mariadb_replica_link_up", **lk),
           m.get("mariadb_replica_io_running", connection="", **lk),
           m.get("mariadb_replica_sql_running", connection="", **lk))
    return verdicts, db2


def analyse(segments):
    """Judges every scrape (once per segment of equal ones). Returns a dict: bad (scrapes
    in which some node's state disagrees), runs (per node, consecutive disagreeing scrapes:
    node, first, n, t0, t1, expected, why, actual, text of the first), seen (scrapes with
    db2 critical and link_up 0 with only IO stopped / both threads stopped, and ok with
    link_up 1 after a critical one), ok_after_critical (db2's changes critical -> ok)."""
    cache, runs, open_run = {}, [], {}
    seen = {"io_thread": 0, "both_threads": 0, "repaired": 0}
    bad, ok_after_critical, prev_state, was_critical = 0, 0, None, False
    for first, n, t0, t1, text in segments:
        if text not in cache:
            cache[text] = judge(text)
        verdicts, (link_up, io, sql) = cache[text]
        any_bad = False
        for node in NODE_NAMES:
            exp, why, actual = verdicts[node]
            if actual == [exp]:
                continue
            any_bad = True
            run = open_run.get(node)
            if run is not None and run["last"] == first - 1:
                run.update(n=run["n"] + n, t1=t1, last=first + n - 1)
            else:
                run = dict(node=node, first=first, n=n, t0=t0, t1=t1, expected=exp, why=why,
                           actual=actual, text=text, last=first + n - 1)
                runs.append(run)
                open_run[node] = run
        if any_bad:
            bad += n
        state = verdicts["db2"][2]
        if link_up == 0 and state == ["critical"]:
            was_critical = True
            if io == 0 and sql == 1:
                seen["io_thread"] += n
            elif io == 0 and sql == 0:
                seen["both_threads"] += n
        if link_up == 1 and state == ["ok"] and was_critical:
            seen["repaired"] += n
        if state == ["ok"] and prev_state == ["critical"]:
            ok_after_critical += 1
        if state != prev_state:
            prev_state = state
    return dict(bad=bad, runs=runs, seen=seen, ok_after_critical=ok_after_critical)


class TestConsistency(PairReplmonCase):
    LABEL = "integration-consistency"
    WORKDIR_PREFIX = "replmon-consistency-"
    CLUSTER = CLUSTER
    timings = []
    BOUND_S = BOUND_S

    @classmethod
    def make_config(cls, path):
        return cls.pair.write_replmon_config(
            path, "monitor", os.path.join(cls.workdir, "monitor.pass"),
            poll_interval="%dms" % (POLL_S * 1000), connect_timeout="1s", query_timeout="2s",
            lag_warning="%ds" % LAG_WARNING_S, lag_critical="%ds" % LAG_CRITICAL_S,
            cluster=CLUSTER)

    def both_ok(self, m):
        return self.replicating(m) and all(actual_states(m, n) == ["ok"] for n in NODE_NAMES)

    def wait_latest(self, scraper, predicate, what):
        """Until the scraper's newest scrape satisfies predicate(Metrics)."""
        deadline = time.monotonic() + BOUND_S
        while True:
            text = scraper.latest
            if text is not None and predicate(Metrics(text)):
                return
            if not scraper.is_alive():
                self.fail("%s: the scraper stopped first (%d scrapes, errors %s)"
                          % (what, scraper.count, scraper.errors[-3:]))
            if time.monotonic() > deadline:
                self.fail("%s: not in /metrics after %.0f s; last scrape:\n%s\nlog tail:\n%s"
                          % (what, BOUND_S, text, self.replmon.log_text()[-2000:]))
            time.sleep(0.02)

    def test_state_agrees_with_metrics(self):
        self.wait_for(self.both_ok, what="healthy pair, both nodes ok",
                      show=("mariadb_up", "link_up", "_running", "target_state"))
        db2_link = dict(cluster=CLUSTER, node="db2", source="db1")

        def shows_fault(m):
            return (m.get("mariadb_replica_link_up", **db2_link) == 0
                    and actual_states(m, "db2") == ["critical"])

        def shows_repair(m):
            return (m.get("mariadb_replica_link_up", **db2_link) == 1
                    and actual_states(m, "db2") == ["ok"])

        scraper = Scraper(self.replmon.port)
        applied = []
        t_start = time.monotonic()
        scraper.start()
        try:
            for _ in range(CYCLES):
                for name, sql in FAULTS:
                    self.pair.sql(1, sql)
                    applied.append(name)
                    self.wait_latest(scraper, shows_fault, "%s fault on db2" % name)
                    time.sleep(HOLD_S)
                    self.pair.sql(1, REPAIR)
                    self.wait_latest(scraper, shows_repair, "repair of %s on db2" % name)
                    time.sleep(HOLD_S)
        finally:
            scraper.stop()
            if applied and self.pair.pid(1) is not None:
                self.pair.sql(1, REPAIR)  # leaves db2 replicating whatever happened
        elapsed = time.monotonic() - t_start

        r = analyse(scraper.segments)
        secs = scraper.segments[-1][3] if scraper.segments else 0.0
        print("\n    %d scrapes in %.1f s (%.0f/s, %d segments of equal scrapes), %d faults "
              "on db2 (%s) and their repairs in %.1f s" % (
                  scraper.count, secs, scraper.count / secs if secs else 0,
                  len(scraper.segments), len(applied), ", ".join(applied), elapsed))
        print("    scrapes with db2 critical and link_up 0: %d with only IO stopped, %d with "
              "both threads stopped; ok again after a fault: %d (%d times)" % (
                  r["seen"]["io_thread"], r["seen"]["both_threads"], r["seen"]["repaired"],
                  r["ok_after_critical"]))
        runs = r["runs"]
        print("    %d of %d scrapes disagree with their own metrics (%d runs, longest %s)" % (
              r["bad"], scraper.count, len(runs),
              "%.0f ms" % (1000 * max(x["t1"] - x["t0"] for x in runs)) if runs else "-"),
              flush=True)

        problems = []
        if scraper.count < 100:
            problems.append("only %d scrapes" % scraper.count)
        for name, _ in FAULTS:
            if not r["seen"][name]:
                problems.append("the %s fault was never seen: no scrape with db2's link_up 0 "
                                "and state critical for it" % name)
        if not r["seen"]["repaired"] or r["ok_after_critical"] < len(applied):
            problems.append("repairs not seen: %d of %d faults came back to ok in the scrapes"
                            % (r["ok_after_critical"], len(applied)))
        if runs:
            lines = ["%d of %d scrapes disagree with their own metrics (%d runs of consecutive "
                     "scrapes; the first scrape of the first %d):"
                     % (r["bad"], scraper.count, len(runs), min(SHOW_RUNS, len(runs)))]
            for x in runs[:SHOW_RUNS]:
                lines.append("  scrape #%d (+%.3f s) node %s: replmon_target_state %s, the "
                             "metrics say %s (%s); %d scrapes over %.0f ms like that\n"
                             "      %s" % (x["first"], x["t0"], x["node"],
                                           "/".join(x["actual"]) or "none", x["expected"],
                                           x["why"], x["n"], 1000 * (x["t1"] - x["t0"]),
                                           summary(Metrics(x["text"]), x["node"])))
            problems.append("\n".join(lines))
        if scraper.errors:
            problems.append("%d scrapes failed: %s" % (len(scraper.errors), scraper.errors[:3]))
        if problems:
            self.fail("\n".join(problems))


def main(argv):
    return common.run_suite(TestConsistency, argv, "integration-consistency",
                            sys.modules[__name__], cleanup=TestConsistency._cleanup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
