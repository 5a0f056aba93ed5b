#!/usr/bin/env python3
"""Integration tests: chat end to end on the real platform. A two-node ejabberd 23.01
cluster whose accounts live in the MariaDB 10.11 pair (ejc1 on db1, ejc2 on db2), and ONE
build/replmon watching all of it: the pair, both nodes' APIs with `clustered: true`, a
logged-in probe on each node, the delivery probe between them, and `depends_on` from each
node to its database.

Run:  python3 tests/integration/test_xmpp_cluster.py [-v] [TestXMPPCluster.test_01 ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory

Faults: ejc2 frozen (SIGSTOP), ejc2 stopped, ejc2 restarted outside the cluster, db1 frozen
then killed. Each shows within two poll intervals plus the timeouts (ejabberd's own SQL
timeout of 5 s added where the database is the fault), and every scrape meanwhile answers
within 100 ms. Prints `integration-xmpp-cluster: N passed, M failed` last. About 90 s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import http, promtool_check  # noqa: E402
from ejabberd_cluster import EjabberdClusterCase  # noqa: E402

POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0
SQL_TIMEOUT_S = 5.0  # ejabberd's sql_query_timeout in the fixture
BOUND_S = CONTRACT_S + SQL_TIMEOUT_S + 20.0
SCRAPE_EVERY_S = 0.2
FAST_SCRAPE_S = 0.100
MIN_SCRAPES = 20

CLUSTER = "chat"
NODES = ("ej1", "ej2")
MONITORS = ("probe1", "probe2")
PASSWORD = "probe-Secret-6"


def lab(node):
    return dict(cluster=CLUSTER, node=node)


def way(frm, to):
    return dict(cluster=CLUSTER, **{"from": frm, "to": to})


class TestXMPPCluster(EjabberdClusterCase):
    LABEL = "integration-xmpp-cluster"
    REPLMON_TAG = "cluster"
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def make_config(cls, path):
        cl = cls.cluster
        for user in MONITORS:
            cl.register(user, PASSWORD)
        secret = os.path.join(cls.workdir, "probe.pass")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(PASSWORD + "\n")
        cl.pair.write_replmon_config(path, "monitor",
                                     password_file=os.path.join(cls.workdir, "db.pass"),
                                     poll_interval="%ds" % POLL_S,
                                     connect_timeout="%ds" % CONNECT_S,
                                     query_timeout="%ds" % QUERY_S)
        text = cl.xmpp_config(CLUSTER, NODES, MONITORS, secret, relogin_interval="1s")
        with open(path, "a") as f:
            f.write(text)
        return path

    # ------------------------------------------------------------------ helpers
    def healthy(self, m):
        return (all(m.get("xmpp_login_success", **lab(n)) == 1 for n in NODES)
                and m.get("xmpp_delivery_success", **way("ej1", "ej2")) == 1
                and m.get("xmpp_delivery_success", **way("ej2", "ej1")) == 1
                and m.get("xmpp_cluster_check_ok", cluster=CLUSTER, check="members_agree") == 1
                and all(m.get("replmon_target_state", state="ok", **lab(n)) == 1
                        for n in NODES))

    def wait_healthy(self, what, name=None):
        t0 = time.monotonic()
        m, _ = self.wait_for(self.healthy, what=what, show=('cluster="chat"',))
        if name:
            self.record_timing(name, time.monotonic() - t0, contract=False)
        return m

    def fault(self, name, cause, detect, contract_extra=0.0):
        """cause(), then scrapes until detect(m) (recording the timing against the contract
        plus contract_extra) and for 3 s more; every scrape within FAST_SCRAPE_S."""
        cause()
        saved = type(self).CONTRACT_S
        type(self).CONTRACT_S = saved + contract_extra
        try:
            m, detected, latencies = self.watch_fault(name, detect, MIN_SCRAPES, name)
        finally:
            type(self).CONTRACT_S = saved
        self.assertIsNotNone(detected, "%s: not shown after %.0f s\n%s\n%s" % (
            name, BOUND_S, m.lines('cluster="chat"'), self.replmon.log_text()[-3000:]))
        self.assertLess(max(latencies), FAST_SCRAPE_S, "slowest scrape during " + name)
        self.assertEqual(promtool_check(m.text), (0, ""))
        return m

    def health_text(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/" + node)
        return status, body.decode("utf-8", "replace")

    # ------------------------------------------------------------------ tests
    def test_01_healthy(self):
        """Both nodes logged in, messages both ways, both list the two nodes."""
        m = self.wait_healthy("the cluster healthy", "first_healthy")
        for n in NODES:
            self.assertEqual(m.get("xmpp_cluster_members", **lab(n)), 2)
        for frm, to in (("ej1", "ej2"), ("ej2", "ej1")):
            secs = m.get("xmpp_delivery_seconds", **way(frm, to))
            self.assertTrue(0 < secs < QUERY_S, "delivery %s -> %s took %r" % (frm, to, secs))
            print("    delivery %s -> %s: %.2f ms" % (frm, to, secs * 1e3))
        self.assertEqual(m.get("xmpp_node_database_info", database="db1",
                               database_cluster="chatdb", **lab("ej1")), 1)
        self.assertEqual(promtool_check(m.text), (0, ""))

    def test_02_node_frozen(self):
        """ejc2 frozen (SIGSTOP): its login probe and the delivery time out; scrapes fast."""
        self.wait_healthy("healthy before the freeze")
        node = self.cluster.node(1)
        try:
            self.fault("ejc2_frozen", node.freeze,
                       lambda m: m.get("xmpp_login_success", **lab("ej2")) == 0
                       and m.get("xmpp_delivery_success", **way("ej1", "ej2")) == 0)
        finally:
            node.thaw()
        self.wait_healthy("healthy after the thaw", "ejc2_thawed")

    def test_03_node_stopped(self):
        """ejc2 stopped: delivery both ways fails, ejc1 lists only itself."""
        self.wait_healthy("healthy before the stop")
        cl = self.cluster
        try:
            m = self.fault("ejc2_stopped", cl.node(1).stop,
                           lambda m: m.get("xmpp_delivery_success", **way("ej1", "ej2")) == 0
                           and m.get("xmpp_cluster_members", **lab("ej1")) == 1
                           and m.get("xmpp_cluster_check_ok", cluster=CLUSTER,
                                     check="members_agree") == 0)
            self.assertGreater(m.get("xmpp_delivery_lost_total", **way("ej1", "ej2")), 0)
            self.assertEqual(m.get("xmpp_delivery_success", **way("ej2", "ej1")), 0)
            self.assertEqual(m.get("xmpp_login_success", **lab("ej1")), 1)
        finally:
            cl.start_node(1)
        self.wait_healthy("healthy after ejc2 rejoined", "ejc2_rejoined")

    def test_04_node_outside_the_cluster(self):
        """ejc2 restarted with a fresh Mnesia and no join: members_agree 0, both warning."""
        self.wait_healthy("healthy before the split")
        cl = self.cluster
        try:
            m = self.fault("cluster_split", lambda: cl.restart_alone(1),
                           lambda m: m.get("xmpp_cluster_check_ok", cluster=CLUSTER,
                                           check="members_agree") == 0
                           and all(m.get("xmpp_cluster_members", **lab(n)) == 1
                                   for n in NODES),
                           contract_extra=30.0)  # the restart itself takes seconds
            for n in NODES:
                self.assertEqual(m.get("replmon_target_state", state="ok", **lab(n)), 0)
            self.assertIn("members_agree", self.health_text("ej1")[1])
        finally:
            cl.join(1, 0)
        self.wait_healthy("healthy after the join", "cluster_joined")

    def test_05_database_down(self):
        """db1 frozen, then killed: ejc1's logins fail and its health names the database;
        ejc2 (on db2) keeps logging in."""
        self.wait_healthy("healthy before db1's fault")
        pair = self.cluster.pair

        def login_fails_db_named(m):
            return (m.get("xmpp_login_success", **lab("ej1")) == 0
                    and m.get("mariadb_up", cluster="chatdb", node="db1") == 0
                    and "database db1 down" in self.health_text("ej1")[1])
        try:
            m = self.fault("db1_frozen", lambda: pair.freeze(0), login_fails_db_named,
                           contract_extra=SQL_TIMEOUT_S)
            self.assertEqual(m.get("xmpp_login_success", **lab("ej2")), 1)
            status, text = self.health_text("ej1")
            self.assertEqual(status, 503, text)
            print("    /health/ej1: %s" % text.strip())
        finally:
            pair.thaw(0)
        pair.kill(0)
        try:
            self.fault("db1_killed", lambda: None, login_fails_db_named)
        finally:
            pair.restart(0)
            pair.wait_replicating(60)
        self.wait_healthy("healthy after db1's restart", "db1_restarted")

    def test_06_nothing_stored_offline(self):
        """The probe messages lost during the faults were not kept for offline delivery."""
        for i, user in enumerate(MONITORS):
            out = self.cluster.node(i).ctl("get_offline_count", user, self.cluster.domain)
            self.assertEqual(out.strip(), "0", "offline messages of %s" % user)


def main(argv):
    return common.run_suite(TestXMPPCluster, argv, "integration-xmpp-cluster",
                            sys.modules[__name__], cleanup=TestXMPPCluster._cleanup,
                            timings_title="timings (seconds from the fault to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
