#!/usr/bin/env python3
"""Smoke suite of the two-node ejabberd cluster fixture (ejabberd_cluster.py).

Run:  python3 tests/integration/test_ejabberd_cluster.py [-v] [TestEjabberdCluster.test_03...]
Env:  KEEP_WORKDIR=1 keep the temporary directory (configs, server logs, client logs)
      XMPP_PYTHON    a Python with slixmpp for the clients (default: this one if it has
                     it, else /usr/bin/python3, where Debian's python3-slixmpp lives)

Starts the MariaDB pair, a private epmd and ejabberd nodes ejc1 (on db1) and ejc2 (on
db2) joined in one cluster (no replmon), then proves what the chat probes of issue 13
build on: both nodes list each other and answer the API calls replmon makes; an account
registered through ejc1's API logs in on ejc2 over STARTTLS (accounts are in SQL,
replicated to db2) and a password changed on ejc2 is the one ejc1 accepts (no auth
cache); a message from a user on ejc1 reaches a user on ejc2, and with one session on
each node connected_users_number says 2 on both (the session table is the cluster's)
while stats onlineusersnode says 1; ejc1's list_cluster drops ejc2 within seconds of its
SIGTERM and of its SIGKILL, and ejc2 restarted with its spool rejoins by itself; a short
freeze changes nothing; ejc2 restarted with a wiped spool splits the cluster (each lists
only itself) until join_cluster heals it. Every phase is timed and the timings are
printed at the end. Prints `integration-ejabberd-cluster: N passed, M failed` last; exit
status non-zero on failure. About 15 s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from ejabberd_cluster import NODE_NAMES, EjabberdClusterCase  # noqa: E402

LABEL = "integration-ejabberd-cluster"
PASSWORDS = {"alice": "alice-Secret-21", "bob": "bob-Secret-22"}
DROP_BOUND_S = 5.0      # list_cluster on ejc1 must drop a stopped or killed ejc2 by then
DELIVERY_BOUND_S = 2.0  # a message across the nodes arrives within this (loopback)
BOTH = {0: list(NODE_NAMES), 1: list(NODE_NAMES)}
ALONE = {0: [NODE_NAMES[0]], 1: [NODE_NAMES[1]]}


class TestEjabberdCluster(EjabberdClusterCase):
    LABEL = LABEL
    timings = []

    @classmethod
    def start_fixture(cls):
        super().start_fixture()
        for phase, secs in cls.cluster.timings:
            cls.timings.append(("set-up " + phase, secs))

    @classmethod
    def timing(cls, name, seconds):
        print("\n    %-34s %.4f s" % (name, seconds), end="", flush=True)
        cls.timings.append((name, seconds))

    def cl(self):
        return type(self).cluster

    # ------------------------------------------------------------------------------
    def test_01_both_nodes_list_each_other(self):
        cl = self.cl()
        for i in (0, 1):
            self.assertEqual(cl.list_cluster(i), list(NODE_NAMES), cl.nodes[i].node)
            self.assertNotEqual(cl.nodes[i].vm_pid, None)
        self.assertIn("started", cl.nodes[0].call("status"))
        # The API permissions replmon needs answer 200 on both nodes.
        for i in (0, 1):
            n = cl.nodes[i]
            self.assertEqual(n.call("connected_users_number"), {"num_sessions": 0})
            self.assertIn("stat", n.call("stats", {"name": "registeredusers"}))
            self.assertIsInstance(n.call("muc_online_rooms", {"service": "global"}), list)
            self.assertEqual(n.call("incoming_s2s_number"), {"s2s_incoming": 0})
            self.assertEqual(n.call("outgoing_s2s_number"), {"s2s_outgoing": 0})
        # ejabberdctl works too (the "console commands" permission).
        self.assertIn(NODE_NAMES[1], cl.nodes[0].ctl("list_cluster"))

    def test_02_account_from_node1_logs_in_on_node2(self):
        cl = self.cl()
        t0 = time.monotonic()
        cl.register("alice", PASSWORDS["alice"], node=0)
        self.timing("register on ejc1 + pair sync", time.monotonic() - t0)
        self.assertEqual(cl.pair.sql(1, "SELECT username FROM ejabberd.users "
                                        "WHERE username='alice'"), [("alice",)],
                         "the account replicated to db2")
        self.assertEqual(cl.nodes[1].call("registered_users", {"host": cl.domain}), ["alice"])
        t0 = time.monotonic()
        c = cl.client("alice", node=1, starttls=True)
        self.timing("login on ejc2 (STARTTLS)", time.monotonic() - t0)
        self.assertTrue(c.full_jid.startswith(cl.jid("alice") + "/"), c.full_jid)
        c.disconnect()
        # A password changed through ejc2 (written to db2, replicated to db1) is the one
        # ejc1 accepts at once: accounts live in SQL and logins are not cached.
        cl.change_password("alice", "alice-Changed-24", node=1)
        cl.client("alice", node=0).disconnect()
        old = cl.client("alice", node=0, password=PASSWORDS["alice"], connect=False)
        with self.assertRaisesRegex(RuntimeError, "FAILED auth"):
            old.connect()
        cl.change_password("alice", PASSWORDS["alice"], node=0)

    def test_03_message_from_node1_reaches_node2(self):
        cl = self.cl()
        cl.register("bob", PASSWORDS["bob"], node=1)
        if "alice" not in cl.nodes[0].registered:
            cl.register("alice", PASSWORDS["alice"], node=0)
        bob = cl.client("bob", node=1, presence=True)
        body = "hello across the cluster %d" % os.getpid()
        t0 = time.monotonic()
        alice = cl.client("alice", node=0, send=(cl.jid("bob"), body))
        received, frm = bob.wait_message(body, bound=DELIVERY_BOUND_S + 20)
        sent = alice.sent_at()
        self.assertIsNotNone(sent, alice.log_text())
        self.timing("login on ejc1 + send + delivery", time.monotonic() - t0)
        self.timing("message ejc1 -> ejc2", received - sent)
        self.assertTrue(frm.startswith(cl.jid("alice") + "/"), frm)
        self.assertLess(received - sent, DELIVERY_BOUND_S)
        # One session on each node: the session table is the cluster's (Mnesia), so
        # connected_users_number and onlineusers count both; onlineusersnode is the node's.
        for n in cl.nodes:
            self.assertEqual(n.call("connected_users_number"), {"num_sessions": 2}, n.name)
            self.assertEqual(n.call("stats", {"name": "onlineusers"}), {"stat": 2}, n.name)
            self.assertEqual(n.call("stats", {"name": "onlineusersnode"}), {"stat": 1}, n.name)
        alice.disconnect()
        bob.disconnect()

    def test_04_stop_node2_drops_it(self):
        cl = self.cl()
        n2 = cl.nodes[1]
        t0 = time.monotonic()
        n2.begin_stop()  # SIGTERM to the VM
        secs = cl.wait_cluster({0: [NODE_NAMES[0]]}, bound=DROP_BOUND_S)
        self.timing("SIGTERM ejc2 -> ejc1 drops it", secs)
        n2.stop()
        self.timing("SIGTERM ejc2 -> VM gone", time.monotonic() - t0)
        self.timing("ejc2 restarted -> API up", cl.start_node(1))
        self.timing("ejc2 restarted -> rejoined", cl.wait_cluster(BOTH))

    def test_05_kill_node2_drops_it(self):
        cl = self.cl()
        n2 = cl.nodes[1]
        t0 = time.monotonic()
        n2.kill()
        secs = cl.wait_cluster({0: [NODE_NAMES[0]]}, bound=DROP_BOUND_S)
        self.timing("SIGKILL ejc2 -> ejc1 drops it", time.monotonic() - t0)
        self.assertLess(secs, DROP_BOUND_S)
        self.timing("ejc2 restarted -> API up", cl.start_node(1))
        self.timing("ejc2 restarted -> rejoined", cl.wait_cluster(BOTH))

    def test_06_short_freeze_changes_nothing(self):
        cl = self.cl()
        n2 = cl.nodes[1]
        n2.freeze()
        try:
            with self.assertRaises(OSError):
                n2.api("status", timeout=0.5)
            self.assertEqual(cl.list_cluster(0), list(NODE_NAMES),
                             "a frozen node stays listed (until the net tick, ~55 s)")
        finally:
            n2.thaw()
        self.assertIn("started", n2.call("status"))
        self.assertEqual(cl.list_cluster(1), list(NODE_NAMES))

    def test_07_wiped_spool_splits_until_joined(self):
        cl = self.cl()
        secs = cl.restart_alone(1)
        self.timing("restart ejc2 alone -> split", secs)
        for i in (0, 1):
            self.assertEqual(cl.list_cluster(i), ALONE[i])
        # Accounts are in SQL: both halves still know alice.
        if "alice" not in cl.nodes[0].registered:
            cl.register("alice", PASSWORDS["alice"], node=0)
        cl.client("alice", node=1).disconnect()
        self.timing("join_cluster -> healed", cl.join(1, 0))
        for i in (0, 1):
            self.assertEqual(cl.list_cluster(i), list(NODE_NAMES))


def main(argv):
    return common.run_suite(TestEjabberdCluster, argv, LABEL, sys.modules[__name__],
                            cleanup=TestEjabberdCluster._cleanup,
                            timings_title="timings (seconds):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
