#!/usr/bin/env python3
"""The README's scale-out example, run for real: two replmon instances with the same
configuration and one Prometheus 2.42 whose scrape configuration is
exporter/prometheus-scaleout.example.yml (the README quotes it), sharding the /probe
targets between the two with `hashmod`.

Run:  python3 tests/integration/test_scaleout.py [-v] [TestScaleOut.test_02_each_target_once]
Env:  REPLMON (default build/replmon), PROMETHEUS (default prometheus), KEEP_WORKDIR=1

The fixture: one real MariaDB pair; replmon.yml with the four targets of the example, two
clusters of two nodes on the same pair (db1 and db3 on the pair's first node, db2 and db4
on its second); replmon A and replmon B on it, each on a free port; Prometheus on a free
port with its own TSDB in the workdir, global scrape_interval and scrape_timeout 2s, and
the example's text with only `replmon-a:9873` and `replmon-b:9873` replaced by A's and
B's 127.0.0.1 addresses. Checked through Prometheus's HTTP API: every target is scraped,
by exactly one instance, the one its hash names; both instances get a share; the values
come from the node the target names (mariadb_up 1, its server_id).

Prints `integration-scaleout: N passed, M failed` last and exits non-zero on failure.
Python 3 standard library, the `mariadb` client, `prometheus` and `promtool`; everything on
127.0.0.1; every process is stopped by PID (finally, atexit, SIGTERM/SIGINT). About 15 s.
"""

import hashlib
import os
import re
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "dashboards"))
import common  # noqa: E402
from common import REPO, Replmon  # noqa: E402
from mariadb_pair import PairReplmonCase  # noqa: E402
from promstack import Prometheus  # noqa: E402

EXAMPLE = os.path.join(REPO, "exporter", "prometheus-scaleout.example.yml")
README = os.path.join(REPO, "README.md")
JOB = "replmon-probe"
# The example's placeholders for the two instances, each replaced exactly once.
PLACEHOLDERS = ("replmon-a:9873", "replmon-b:9873")
SCRAPE_S = 2
# target -> (cluster, index of the pair's node it points at)
TARGETS = {"db1": ("chatdb", 0), "db2": ("chatdb", 1),
           "db3": ("chatdb-b", 0), "db4": ("chatdb-b", 1)}


def example_body():
    """The example without its leading comment: the part the README quotes."""
    with open(EXAMPLE) as f:
        text = f.read()
    return text[text.index("scrape_configs:"):]


def hashmod(value, modulus):
    """Prometheus's hashmod: the last 8 bytes of the MD5 of the value, big-endian, mod."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


class TestScaleOut(PairReplmonCase):
    LABEL = "integration-scaleout"
    WORKDIR_PREFIX = "replmon-scaleout-"
    REPLMON_TAG = "a"
    timings = []
    replmon_b = None
    prom = None

    @classmethod
    def make_config(cls, path):
        pwfile = cls.pair.write_password_file(os.path.join(cls.workdir, "monitor.pass"),
                                              "monitor")
        text = ("global:\n  poll_interval: 1s\n  connect_timeout: 1s\n  query_timeout: 2s\n"
                "mariadb:\n")
        for cluster in ("chatdb", "chatdb-b"):
            text += ("  - cluster: %s\n    user: monitor\n    password_file: %s\n    nodes:\n"
                     % (cluster, pwfile))
            for name, (c, i) in sorted(TARGETS.items()):
                if c == cluster:
                    text += "      - name: %s\n        address: %s\n" % (
                        name, cls.pair.address(i))
        with open(path, "w") as f:
            f.write(text)
        return path

    @classmethod
    def start_fixture(cls):
        super().start_fixture()  # the pair and replmon A
        cls.replmon_b = Replmon(cls.workdir, cls.config, "b")
        cls.replmon_b.wait_serving()
        cls.prom = Prometheus(cls.workdir)
        text = example_body()
        for placeholder, rm in zip(PLACEHOLDERS, (cls.replmon, cls.replmon_b)):
            if text.count(placeholder) != 1:
                raise RuntimeError("%s: %r found %d times, expected once"
                                   % (EXAMPLE, placeholder, text.count(placeholder)))
            text = text.replace(placeholder, "127.0.0.1:%d" % rm.port)
        with open(cls.prom.config, "w") as f:
            f.write("global:\n  scrape_interval: %ds\n  scrape_timeout: %ds\n%s"
                    % (SCRAPE_S, SCRAPE_S, text))
        cls.prom.start()
        cls.prom.wait_ready()

    @classmethod
    def stop_fixture(cls):
        if cls.prom is not None:
            cls.prom.stop()
            cls.prom = None
        if cls.replmon_b is not None:
            cls.replmon_b.stop()
            cls.replmon_b = None
        super().stop_fixture()

    def instances(self):
        """{port: name} of the two replmons."""
        return {self.replmon.port: "A", self.replmon_b.port: "B"}

    def active_targets(self):
        status, answer = self.prom.get_json("/api/v1/targets?state=active")
        self.assertEqual(status, 200, answer)
        return [t for t in answer["data"]["activeTargets"] if t["scrapePool"] == JOB]

    def query(self, expr):
        status, answer = self.prom.query(expr)
        self.assertEqual((status, answer.get("status")), (200, "success"), answer)
        return answer["data"]["result"]

    def wait_scraped(self, bound=30.0):
        """Until every active target of the job was scraped twice (its second scrape is
        the first whose series are all in the head); returns the targets."""
        deadline = time.monotonic() + bound
        while True:
            targets = self.active_targets()
            ups = self.query('count_over_time(up{job="%s"}[1m])' % JOB)
            if len(targets) >= len(TARGETS) and len(ups) >= len(TARGETS) and \
                    all(float(u["value"][1]) >= 2 for u in ups):
                return targets
            if time.monotonic() > deadline:
                self.fail("not every target scraped twice after %.0f s: %r\nup: %r\n"
                          "prometheus log:\n%s" % (bound, targets, ups,
                                                   common.tail(self.prom.log)))
            time.sleep(0.5)

    # ------------------------------------------------------------------
    def test_01_example_is_what_the_readme_quotes(self):
        """One text: the README shows the example file as it is, and promtool accepts the
        configuration the test runs."""
        with open(README) as f:
            readme = f.read()
        body = example_body()
        self.assertIn("```yaml\n" + body + "```", readme,
                      "README.md no longer quotes %s verbatim" % os.path.relpath(EXAMPLE, REPO))
        listed = re.search(r"targets: \[([^\]]*)\]", body).group(1)
        self.assertEqual(sorted(t.strip() for t in listed.split(",")), sorted(TARGETS),
                         "the example's targets are the nodes of this test's replmon.yml")
        r = subprocess.run(["promtool", "check", "config", self.prom.config],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode("utf-8", "replace"))

    def test_02_each_target_once(self):
        """Every target is scraped by exactly one instance, the one its hash picks, and both
        instances get a share."""
        t0 = time.monotonic()
        targets = self.wait_scraped()
        print("\n    every target scraped twice after %.1f s" % (time.monotonic() - t0))
        by_port = self.instances()
        seen = {}
        for t in targets:
            url = urllib.parse.urlsplit(t["scrapeUrl"])
            query = urllib.parse.parse_qs(url.query)
            name = t["labels"]["instance"]
            self.assertEqual(query.get("target"), [name], t["scrapeUrl"])
            self.assertEqual(url.path, "/probe", t["scrapeUrl"])
            self.assertEqual(url.hostname, "127.0.0.1", t["scrapeUrl"])
            self.assertIn(url.port, by_port, "%s goes to neither replmon" % t["scrapeUrl"])
            self.assertNotIn(name, seen, "%s is scraped twice: %s" % (name, targets))
            self.assertEqual(t["health"], "up", t)
            seen[name] = by_port[url.port]
            expected = "AB"[hashmod(name, 2)]
            self.assertEqual(seen[name], expected, "%s: on %s, hashmod says %s"
                             % (name, seen[name], expected))
        self.assertEqual(sorted(seen), sorted(TARGETS))
        self.assertEqual(set(seen.values()), {"A", "B"}, "one instance got every target")
        print("    shards: %s" % ", ".join("%s -> %s" % kv for kv in sorted(seen.items())))
        # One up series per target, all 1: no target has a second series from the other
        # instance or from an address that was never replaced.
        ups = self.query('up{job="%s"}' % JOB)
        self.assertEqual(sorted(u["metric"]["instance"] for u in ups), sorted(TARGETS), ups)
        self.assertTrue(all(u["value"][1] == "1" for u in ups), ups)
        status, answer = self.prom.get_json("/api/v1/targets?state=dropped")
        self.assertEqual(answer["data"]["droppedTargets"], [], "no target is dropped")

    def test_03_values_come_from_the_named_node(self):
        """What Prometheus stored through /probe is each target's own node, polled for
        real: mariadb_up 1, probe success 1, and the server_id of the node it points at."""
        self.wait_scraped()
        server_ids = {i: int(self.pair.value(i, "SELECT @@server_id")) for i in (0, 1)}
        for family in ("mariadb_up", "replmon_probe_success", "mariadb_server_id"):
            found = {r["metric"]["instance"]: r for r in
                     self.query('%s{job="%s"}' % (family, JOB))}
            self.assertEqual(sorted(found), sorted(TARGETS), "%s: %r" % (family, found))
            for name, (cluster, i) in TARGETS.items():
                labels, value = found[name]["metric"], float(found[name]["value"][1])
                self.assertEqual((labels["node"], labels["cluster"]), (name, cluster), labels)
                want = server_ids[i] if family == "mariadb_server_id" else 1
                self.assertEqual(value, want, "%s{instance=%s}" % (family, name))
        links = self.query('mariadb_replica_io_running{job="%s"}' % JOB)
        self.assertEqual(sorted(r["metric"]["instance"] for r in links), sorted(TARGETS),
                         links)
        self.assertTrue(all(r["value"][1] == "1" for r in links), links)

    def test_99_shutdown(self):
        """Both instances stop cleanly on SIGTERM."""
        rc_b = self.replmon_b.stop()
        log_b = self.replmon_b.log_text()
        type(self).replmon_b = None
        self.assertEqual(rc_b, 0, "replmon B's exit status; log tail:\n%s" % log_b[-2000:])
        self.stop_replmon_cleanly()


def main(argv):
    return common.run_suite(TestScaleOut, argv, "integration-scaleout", sys.modules[__name__],
                            cleanup=TestScaleOut._cleanup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
