#!/usr/bin/env python3
"""Fault suite: a network partition between the two MariaDB nodes, and hostile XMPP APIs.
replmon must report each fault and keep answering every scrape fast.

Run:  python3 tests/integration/test_faults.py [-v] [TestPartition ...]
Env:  REPLMON (default build/replmon), FAULT_TIMINGS, KEEP_WORKDIR=1 (as the other suites);
      FAULTS_TRACE=1 prints every scrape of the partition; FAULTS_WATCH_S shortens the
      minute of hostile polling (for debugging only: the RSS bound is meant for a minute)

TestPartition: each node of the pair in a network namespace of its own (rmf<PID>a,
rmf<PID>b), joined by one veth pair (10.231.1.1/24 - 10.231.1.2/24, the only addresses
this suite adds, both inside its namespaces); each node's peer is known by a name
(db1-f<PID>, db2-f<PID>) that /etc/netns/<ns>/hosts maps to the peer's veth address.
replmon runs in the root namespace and reaches each node over 127.0.0.1:<port>, relayed by
this runner to the node's unix socket; its configuration uses the same names, which a
hosts file bind-mounted in replmon's own mount namespace (unshare) maps to 127.0.0.1, so
the `source` labels are the node names. slave_net_timeout is 5 s, stall_after 2 s. The
fault deletes the route between the nodes in both namespaces: their replication
connections stall without an RST (checked with ss: established, the sources' binlog events
unacknowledged) while replmon still reaches both. Shown through /metrics: the heartbeat
lag grows, the link is reported stalled, the IO thread goes to `connecting` after
slave_net_timeout and the link down; every scrape (every 0.2 s) answers fast; after the
route is back the pair is healthy again.

TestHostileXMPP: replmon, the servers and the scrapes all in a namespace with only lo
(rmf<PID>x; its /etc/netns resolv.conf says nameserver 127.0.0.1, where a stub answers
NXDOMAIN and notes the names asked), so no packet can leave the machine. replmon starts
with one well-behaved Openfire replay; then a reload (SIGHUP) adds five hostile API nodes:
one that accepts the connection and never answers, one that dribbles a byte a second, one
that sends a 100 MB body (streamed), one whose api_url names a host that does not resolve
(NXDOMAIN), and one whose host the resolver never answers. The first three also serve the
c2s stream probe. For a minute: each is xmpp_up 0 with the right
replmon_probe_errors_total reason and no probe overruns its timeouts, the well-behaved
node stays up, every scrape answers fast, replmon's RSS stays within 8 MiB of what it was
before and its open fds and threads stay flat. /probe?target= of every node at once
answers each within its scrape timeout. A reload back to the well-behaved node alone
completes within one poll and gives back every fd and thread the hostile nodes took. Then
SIGTERM: exit 0 within one poll.

Needs root and iproute2 (ip netns); Python standard library, the `mariadb` client,
mariadbd, unshare. Every namespace is deleted (finally, atexit, SIGTERM/SIGINT). Prints
`integration-faults: N passed, M failed` last. About 2 minutes.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import netns  # noqa: E402
from common import FixtureCase, Metrics, Replmon, TcpStandIn, http, is_nan, scrape  # noqa: E402
from mariadb_pair import Pair, PairReplmonCase  # noqa: E402
from xmpp_servers import OpenfireReplay  # noqa: E402

LABEL = "integration-faults"
CLUSTER = "chatdb"
NODES = ("db1", "db2")
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
SLAVE_NET_TIMEOUT_S = 5
STALL_AFTER_S = 2            # a link is stalled between this and slave_net_timeout
SUBNET = "10.231.1."
SCRAPE_EVERY_S = 0.2
SCRAPE_FAST_S = 0.1          # every scrape during a fault answers within this
LAG_S = 3.0                  # the partition's heartbeat lag passes this ...
LAG_BOUND_S = 6.0            # ... within this long of the cut
LAG_EARLY_S = 1.5            # and passes this while the IO thread still says Yes
IO_BOUND_S = SLAVE_NET_TIMEOUT_S + 2 * POLL_S + 3.0  # the IO thread notices by then
HOSTILE_WATCH_S = float(os.environ.get("FAULTS_WATCH_S", 60))  # polling the hostile nodes
RSS_GROWTH_BOUND = 8 << 20   # bytes above the RSS before the hostile nodes came
FD_SLACK_PER_NODE = 3        # open fds per hostile API node: its connection, curl's pair
# Resolver threads left waiting for the silent resolver (10 s) by polls that gave up after
# 1 s, backing off up to 5 s.
RESOLVERS_WAITING = 3
HUGE_BYTES = 100 << 20
TIMINGS = []


def peer(node):
    return "db2" if node == "db1" else "db1"


def link(node):
    return dict(cluster=CLUSTER, node=node, source=peer(node))


def conn(node):
    return dict(link(node), connection="")


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def sanitized(pid):
    """True when the process runs with AddressSanitizer (make asan): its quarantine keeps
    freed memory resident, so an RSS bound means nothing there."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads for pid %d" % pid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_kinds(pid):
    """What the open fds are: {"socket": 5, "anon_inode:[eventfd]": 2, "/dev/null": 1}."""
    kinds = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        kind = target.split(":[")[0] if target.startswith(("socket:", "pipe:")) else target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


class _Watch:
    """Scrapes every SCRAPE_EVERY_S; keeps every latency and the failures."""

    def __init__(self, port):
        self.port = port
        self.latencies, self.failures = [], []
        self.t0 = time.monotonic()

    def scrape(self):
        t = time.monotonic()
        try:
            m, secs = scrape(self.port, timeout=5)
        except Exception as e:  # a failed scrape is a finding, not the end of the watch
            self.failures.append("%.1f s: %s" % (t - self.t0, e))
            self.latencies.append(time.monotonic() - t)
            return None
        self.latencies.append(secs)
        return m

    def elapsed(self):
        return time.monotonic() - self.t0

    def summary(self):
        lat = sorted(self.latencies)
        return "%d scrapes, max %.1f ms, median %.1f ms, %d failed" % (
            len(lat), lat[-1] * 1000, lat[len(lat) // 2] * 1000, len(self.failures))

    def assert_fast(self, case):
        case.assertEqual(self.failures, [], "failed scrapes")
        case.assertLess(max(self.latencies), SCRAPE_FAST_S,
                        "slowest scrape during the fault (%s)" % self.summary())


# --------------------------------------------------------------------------------------
# Part 1: a partition between the two nodes

def hosts_prefix(hosts_file):
    """A command prefix that runs replmon in a mount namespace of its own (unshare) where
    hosts_file is /etc/hosts: the names of the nodes resolve to 127.0.0.1 for replmon only.
    unshare and sh exec, so the PID is replmon's."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', hosts_file]


class TestPartition(PairReplmonCase):
    LABEL = LABEL
    WORKDIR_PREFIX = "replmon-faults-"
    KEPT = "logs and datadirs"
    CLUSTER = CLUSTER
    timings = TIMINGS
    BOUND_S = 30.0
    CONTRACT_S = LAG_BOUND_S
    SCRAPE_EVERY_S = SCRAPE_EVERY_S
    ns = ()
    forwarders = ()
    cut_at = None

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        why = netns.available() or (None if shutil.which("unshare") else "unshare not found")
        if why:
            raise unittest.SkipTest(why)

    @classmethod
    def start_fixture(cls):
        pid = os.getpid()
        a, b = netns.Netns("a"), netns.Netns("b")
        cls.ns = (a, b)
        cls.ifaces = netns.veth(a, SUBNET + "1/24", b, SUBNET + "2/24")
        cls.names = ("db1-f%d" % pid, "db2-f%d" % pid)
        a.etc("hosts", "127.0.0.1 localhost\n%s2 %s\n" % (SUBNET, cls.names[1]))
        b.etc("hosts", "127.0.0.1 localhost\n%s1 %s\n" % (SUBNET, cls.names[0]))
        cls.pair = Pair(os.path.join(cls.workdir, "pair"), prefix=(a.prefix(), b.prefix()),
                        bind=(SUBNET + "1", SUBNET + "2"), host=cls.names,
                        client_hosts=(SUBNET + "%",),
                        mariadbd_args=["--slave-net-timeout=%d" % SLAVE_NET_TIMEOUT_S])
        cls.pair.start()
        cls.pair.wait_replicating(30)
        cls.pair.setup_heartbeat()
        cls.forwarders = [netns.UnixForwarder(cls.pair.port(i), cls.pair.nodes[i].socket)
                          for i in (0, 1)]
        hosts = os.path.join(cls.workdir, "replmon.hosts")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost %s %s\n" % cls.names)
        config = cls.pair.write_replmon_config(
            os.path.join(cls.workdir, "replmon.yml"), "monitor",
            os.path.join(cls.workdir, "monitor.pass"), poll_interval="%gs" % POLL_S,
            connect_timeout="%gs" % CONNECT_S, query_timeout="%gs" % QUERY_S, cluster=CLUSTER,
            cluster_extra="    heartbeat: {table: replmon.heartbeat, write: true}\n"
                          "    stall_after: %gs\n" % STALL_AFTER_S)
        cls.config = config
        cls.replmon = Replmon(cls.workdir, config, cls.REPLMON_TAG, hosts_prefix(hosts))
        cls.replmon.wait_serving()

    @classmethod
    def stop_fixture(cls):
        try:
            super().stop_fixture()  # replmon, then the pair
        finally:
            for fw in cls.forwarders:
                fw.close()
            cls.forwarders = ()
            for ns in cls.ns:
                ns.delete()
            cls.ns = ()

    # ------------------------------------------------------------------ helpers
    def cut(self):
        for ns, iface in zip(self.ns, self.ifaces):
            ns.ip("route", "del", SUBNET + "0/24", "dev", iface)
        type(self).cut_at = time.monotonic()

    def heal(self):
        for ns, iface, me in zip(self.ns, self.ifaces, ("1", "2")):
            ns.ip("route", "replace", SUBNET + "0/24", "dev", iface, "src", SUBNET + me)
        type(self).cut_at = None

    def replication_sockets(self, i):
        """Node i's established TCP connections of replication (ss in its namespace):
        {"to_source": [(recv_q, send_q)], "to_replica": [(recv_q, send_q)]}."""
        source = "%s%d:%d" % (SUBNET, 2 - i, self.pair.port(1 - i))
        me = "%s%d:%d" % (SUBNET, i + 1, self.pair.port(i))
        r = subprocess.run(self.ns[i].prefix() + ["ss", "-Htn", "state", "established"],
                           capture_output=True, text=True, timeout=10)
        out = {"to_source": [], "to_replica": []}
        for line in r.stdout.splitlines():
            f = line.split()  # Recv-Q Send-Q Local Peer
            if len(f) >= 4 and f[3] == source:
                out["to_source"].append((int(f[0]), int(f[1])))
            elif len(f) >= 4 and f[2] == me and f[3].startswith(SUBNET):
                out["to_replica"].append((int(f[0]), int(f[1])))
        return out

    def lag(self, m, node):
        return m.get("mariadb_heartbeat_lag_seconds", **link(node))

    def healthy(self, m):
        return self.replicating(m) and all(
            m.get("mariadb_replica_link_up", **link(n)) == 1 and
            m.get("mariadb_replica_stalled", **link(n)) == 0 and
            m.get("mariadb_replica_io_state", state="yes", **conn(n)) == 1 and
            not is_nan(self.lag(m, n)) and self.lag(m, n) < 1.0 for n in NODES)

    def tearDown(self):
        if self.cut_at is not None:  # a failed test must not leave the pair cut
            self.heal()

    # ------------------------------------------------------------------ tests
    def test_01_healthy_across_namespaces(self):
        m, _ = self.wait_for(self.healthy, what="pair healthy across the namespaces",
                             show=("link_up", "stalled", "heartbeat_lag", "io_state", "_up"))
        for n in NODES:
            # The peer's MASTER_HOST is a name replmon knows: the source label is the node.
            self.assertEqual(len(m.find("mariadb_replica_link_up", cluster=CLUSTER, node=n)), 1,
                             m.lines("link_up"))
        st = self.pair.slave_status(1)[0]
        self.assertEqual((st["Master_Host"], st["Master_Port"]),
                         (self.names[0], str(self.pair.port(0))))

    def test_02_partition(self):
        self.wait_for(self.healthy, what="healthy before the cut",
                      show=("link_up", "stalled", "heartbeat_lag", "io_state"))
        self.cut()
        w = _Watch(self.replmon.port)
        seen = {}  # event -> (seconds after the cut, what else /metrics said then)
        error_class = None  # mariadb_replica_error_class{class="connect"} when IO noticed
        lag_max = {}
        stalled_tcp = None  # the replication connections, 2 s after the cut
        while w.elapsed() < self.BOUND_S:
            m = w.scrape()
            t = w.elapsed()
            if stalled_tcp is None and t >= 2.0:
                stalled_tcp = [self.replication_sockets(i) for i in (0, 1)]
            if m is not None:
                lags = {n: self.lag(m, n) for n in NODES}
                if os.environ.get("FAULTS_TRACE"):
                    print("    %5.2f lag %s io %s stalled %s probe_ts %s" % (
                        t, [lags[n] for n in NODES],
                        [m.get("mariadb_replica_io_running", **conn(n)) for n in NODES],
                        [m.get("mariadb_replica_stalled", **link(n)) for n in NODES],
                        [m.get("replmon_last_success_timestamp_seconds", kind="mariadb",
                               cluster=CLUSTER, node=n) for n in NODES]))
                for n in NODES:
                    if lags[n] is not None and not is_nan(lags[n]):
                        lag_max[n] = max(lag_max.get(n, 0), lags[n])
                io_yes = all(m.get("mariadb_replica_io_running", **conn(n)) == 1 for n in NODES)
                if "lag_early" not in seen and all(lags[n] is not None and
                                                   lags[n] >= LAG_EARLY_S for n in NODES):
                    seen["lag_early"] = (t, io_yes)
                if "lag" not in seen and all(lags[n] is not None and lags[n] >= LAG_S
                                             for n in NODES):
                    seen["lag"] = (t, io_yes)
                if "stalled" not in seen and any(
                        m.get("mariadb_replica_stalled", **link(n)) == 1 for n in NODES):
                    seen["stalled"] = (t, io_yes)
                if "io" not in seen and all(
                        m.get("mariadb_replica_io_state", state="connecting", **conn(n)) == 1
                        for n in NODES):
                    seen["io"] = (t, m.lines("last_io_errno"))
                    error_class = [m.get("mariadb_replica_error_class",
                                         **dict(link(n), **{"class": "connect"}))
                                   for n in NODES]
                if "link_down" not in seen and all(
                        m.get("mariadb_replica_link_up", **link(n)) == 0 for n in NODES):
                    seen["link_down"] = (t, None)
                if len(seen) == 5 and t > seen["io"][0] + 2:
                    break
            time.sleep(max(0.0, SCRAPE_EVERY_S - (time.monotonic() - w.t0 - t)))
        # Both nodes still answer replmon: only the link between them is cut.
        self.assertTrue(all(m.get("mariadb_up", cluster=CLUSTER, node=n) == 1 for n in NODES),
                        m.lines("mariadb_up"))
        print("\n    partition: %s" % w.summary())
        print("    2 s after the cut, (Recv-Q, Send-Q) of the replication connections: %s"
              % stalled_tcp)
        # No RST: both ends are still established, the sources' binlog events unacknowledged.
        for i, conns in enumerate(stalled_tcp):
            self.assertEqual(len(conns["to_source"]), 1, "%s: %s" % (NODES[i], stalled_tcp))
            self.assertEqual(len(conns["to_replica"]), 1, "%s: %s" % (NODES[i], stalled_tcp))
            self.assertGreater(conns["to_replica"][0][1], 0, "nothing queued towards the "
                               "replica of %s: %s" % (NODES[i], stalled_tcp))
        for ev in ("lag_early", "lag", "stalled", "io", "link_down"):
            if ev in seen:
                print("    %-10s after %.2f s (%s)" % (ev, seen[ev][0], seen[ev][1]))
        print("    heartbeat lag max: %s" % ", ".join("%s %.1f s" % kv for kv in lag_max.items()))
        self.assertIn("lag", seen, "heartbeat lag never passed %.0f s on both links: %s"
                      % (LAG_S, lag_max))
        self.record_timing("partition_lag_3s", seen["lag"][0])
        self.assertTrue(seen["lag_early"][1], "the heartbeat lag shows the partition while the "
                        "IO thread still says Yes (for slave_net_timeout)")
        self.assertIn("stalled", seen, "mariadb_replica_stalled never 1")
        self.record_timing("partition_stalled", seen["stalled"][0])
        self.assertIn("io", seen, "IO threads never connecting")
        self.record_timing("partition_io_connecting", seen["io"][0], contract=False)
        self.assertGreater(seen["io"][0], SLAVE_NET_TIMEOUT_S - 2 * POLL_S,
                           "the IO thread noticed before slave_net_timeout: not a silent stall")
        self.assertLess(seen["io"][0], IO_BOUND_S)
        self.assertEqual(error_class, [1, 1], "error class connect once the IO thread noticed")
        self.assertIn("link_down", seen, "link_up never 0 on both")
        # The lag keeps growing for as long as the partition lasts.
        self.assertTrue(all(lag_max.get(n, 0) >= seen["io"][0] - 2 * POLL_S for n in NODES),
                        "heartbeat lag stopped growing: %s" % lag_max)
        w.assert_fast(self)

    def test_03_heal(self):
        if self.cut_at is None:
            self.cut()
            time.sleep(SLAVE_NET_TIMEOUT_S + 2)
        self.heal()
        w = _Watch(self.replmon.port)
        while True:
            m = w.scrape()
            if m is not None and self.healthy(m):
                break
            self.assertLess(w.elapsed(), self.BOUND_S, "not healthy after the heal:\n%s" % (
                "\n".join(m.lines(s) for s in ("link_up", "stalled", "heartbeat_lag", "io_state"))
                if m else ""))
            time.sleep(SCRAPE_EVERY_S)
        self.record_timing("partition_healed", w.elapsed())
        print("    heal: %s" % w.summary())
        self.pair.sql(0, "INSERT INTO app.t (id, v) VALUES (71, 1)")
        self.pair.sync()
        self.assertEqual(self.pair.sql(1, "SELECT v FROM app.t WHERE id=71"), [("1",)])
        w.assert_fast(self)


# --------------------------------------------------------------------------------------
# Part 2: hostile XMPP APIs

def silent(server, c):
    """(a) accepts and never answers: reads the request, keeps the connection open until
    the client gives up."""
    while not server.stopping:
        if not c.recv(4096):  # reads what comes, answers nothing
            return


def dribble(server, c):
    """(b) answers, one byte a second, forever (whatever was asked: an HTTP request or a
    stream opening)."""
    if not c.recv(4096):
        return
    text = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"x" * 100000
    for i in range(len(text)):
        if server.stopping:
            return
        server.send(c, text[i:i + 1])
        time.sleep(1.0)


def huge(server, c):
    """(c) a 100 MB body, streamed from one 64 KiB block, to whatever was asked (an HTTP
    request or a stream opening: then it is 100 MB without stream features)."""
    while not server.stopping:
        if not c.recv(65536):
            return
        server.send(c, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % HUGE_BYTES)
        block, left = b"7" * 65536, HUGE_BYTES
        while left > 0 and not server.stopping:
            n = min(left, len(block))
            server.send(c, block[:n])
            left -= n


class DnsStub:
    """UDP 127.0.0.1:53 (in the namespace): answers every query NXDOMAIN, notes the names."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.names = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer_addr = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(data) < 12:
                continue
            qid, flags, qd = struct.unpack("!HHH", data[:6])
            labels, i = [], 12
            while i < len(data) and data[i] and len(labels) < 64:
                labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
                i += 1 + data[i]
            self.names.append(".".join(labels))
            if labels and labels[0].startswith("blackhole-"):
                continue  # a resolver that never answers
            question = data[12:i + 5]
            reply = struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x0100) | 0x0080 | 3,
                                1 if qd else 0, 0, 0, 0) + question
            try:
                self.sock.sendto(reply, peer_addr)
            except OSError:
                pass

    def close(self):
        self.sock.close()


class TestHostileXMPP(FixtureCase):
    LABEL = LABEL
    WORKDIR_PREFIX = "replmon-faults-xmpp-"
    REPLMON_TAG = "xmpp"
    timings = TIMINGS
    BOUND_S = 20.0
    SCRAPE_EVERY_S = SCRAPE_EVERY_S
    ns = None
    servers = {}
    calm = None
    dns = None
    baseline = None
    baseline_kinds = None
    watched = None

    HOSTILE = (  # node, type, server handler (None: no server), expected reason
        ("silent", "ejabberd", silent, "timeout"),
        ("dribble", "prosody", dribble, "timeout"),
        ("huge", "ejabberd", huge, "parse"),
        ("nxdomain", "openfire", None, "connect"),
        ("dnsdrop", "prosody", None, "connect"),
    )

    # Also the c2s stream probe on the same server: node -> its expected reason.
    STREAM_PROBED = {"silent": "timeout", "dribble": "timeout", "huge": "parse"}

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        netns.skip_unless_available()

    @classmethod
    def start_fixture(cls):
        cls.ns = netns.Netns("x")  # only lo: nothing can leave the machine from here
        cls.ns.etc("resolv.conf", "nameserver 127.0.0.1\n")  # glibc's defaults: 5 s, 2 tries
        cls.ns.etc("hosts", "127.0.0.1 localhost\n")
        cls.ns.enter()  # this (main) thread: servers, scrapes, replmon's netns
        cls.dns = DnsStub()
        cls.calm = OpenfireReplay(local_sessions=3, cluster_sessions=5)
        cls.calm.start()
        cls.servers = {name: TcpStandIn(h) for name, _, h, _ in cls.HOSTILE if h is not None}
        cls.bad_host = "nowhere-%d.invalid" % os.getpid()
        cls.config = cls.write_config(hostile=False)
        # `ip netns exec` bind-mounts the namespace's /etc/netns files and execs.
        cls.replmon = Replmon(cls.workdir, cls.config, cls.REPLMON_TAG, cls.ns.prefix())
        cls.replmon.wait_serving()

    @classmethod
    def write_config(cls, hostile):
        path = os.path.join(cls.workdir, "replmon.yml")
        secret = os.path.join(cls.workdir, "openfire.secret")
        with open(secret, "w") as f:
            f.write(cls.calm.secret + "\n")
        os.chmod(secret, 0o600)
        text = ("global:\n  poll_interval: %gs\n  connect_timeout: %gs\n  query_timeout: %gs\n"
                "xmpp:\n  - cluster: chat\n    nodes:\n"
                "      - name: calm\n        type: openfire\n        api_url: %s\n"
                "        auth: {secret_file: %s}\n"
                % (POLL_S, CONNECT_S, QUERY_S, cls.calm.base_url(), secret))
        if hostile:
            for name, typ, _, _ in cls.HOSTILE:
                if name in cls.servers:
                    host = "127.0.0.1:%d" % cls.servers[name].port
                elif name == "dnsdrop":
                    host = "blackhole-%d.invalid:5280" % os.getpid()
                else:
                    host = "%s:5280" % cls.bad_host
                path_part = {"ejabberd": "/api", "prosody": "/metrics",
                             "openfire": "/plugins/restapi/v1"}[typ]
                text += ("      - name: %s\n        type: %s\n        api_url: http://%s%s\n"
                         % (name, typ, host, path_part))
                if name in cls.STREAM_PROBED:  # the same server answers the c2s port
                    text += "        c2s_address: %s\n        domain: chat.test\n" % host
        with open(path, "w") as f:
            f.write(text)
        return path

    @classmethod
    def stop_fixture(cls):
        try:
            super().stop_fixture()
        finally:
            for s in cls.servers.values():
                s.stop()
            cls.servers = {}
            if cls.calm is not None:
                cls.calm.stop()
                cls.calm = None
            if cls.dns is not None:
                cls.dns.close()
                cls.dns = None
            if cls.ns is not None:
                cls.ns.delete()
                cls.ns = None

    def up(self, m, node):
        return m.get("xmpp_up", cluster="chat", node=node)

    def errors(self, m, node, reason):
        return m.get("replmon_probe_errors_total", kind="xmpp", cluster="chat", node=node,
                     reason=reason)

    def test_01_calm(self):
        self.wait_for(lambda m: self.up(m, "calm") == 1 and
                      m.get("xmpp_c2s_sessions", cluster="chat", node="calm") == 3,
                      what="the well-behaved node up", show=("xmpp_",))
        time.sleep(3)  # a few polls, so that the baseline is replmon's steady state
        pid = self.replmon.proc.pid
        type(self).baseline = (vm_rss(pid), fd_count(pid), threads(pid))
        type(self).baseline_kinds = fd_kinds(pid)
        print("\n    before the hostile nodes: RSS %.1f MiB, %d fds"
              % (self.baseline[0] / 1048576, self.baseline[1]))

    def test_02_hostile_nodes(self):
        pid = self.replmon.proc.pid
        if self.baseline is None:
            type(self).baseline = (vm_rss(pid), fd_count(pid), threads(pid))
            type(self).baseline_kinds = fd_kinds(pid)
        rss0, fds0, _ = self.baseline
        self.write_config(hostile=True)
        os.kill(pid, signal.SIGHUP)
        w = _Watch(self.replmon.port)
        samples = []  # (seconds, rss, fds, threads)
        first_down = {}
        m = None
        next_sample = 0.0
        while w.elapsed() < HOSTILE_WATCH_S:
            got = w.scrape()
            m = got or m
            t = w.elapsed()
            if got is not None:
                for name, _, _, reason in self.HOSTILE:
                    if (name not in first_down and self.up(got, name) == 0 and
                            (self.errors(got, name, reason) or 0) >= 1):
                        first_down[name] = t
            if t >= next_sample:
                self.assertIsNone(self.replmon.proc.poll(), "replmon exited; log tail:\n%s"
                                  % self.replmon.log_text()[-3000:])
                samples.append((t, vm_rss(pid), fd_count(pid), threads(pid)))
                next_sample += 1.0
            time.sleep(max(0.0, SCRAPE_EVERY_S - (w.elapsed() - t)))
        type(self).watched = samples
        rss_max = max(s[1] for s in samples)
        kinds_after = fd_kinds(pid)

        print("\n    hostile nodes: %s" % w.summary())
        print("    RSS before %.1f MiB, max %.1f MiB, last %.1f MiB; fds before %d, min %d, "
              "max %d, last %d" % (rss0 / 1048576, rss_max / 1048576, samples[-1][1] / 1048576,
                                   fds0, min(s[2] for s in samples),
                                   max(s[2] for s in samples), samples[-1][2]))
        print("    fds before %s, after %s" % (self.baseline_kinds, kinds_after))
        print("    threads before %d, min %d, max %d, last %d" % (
            self.baseline[2], min(s[3] for s in samples), max(s[3] for s in samples),
            samples[-1][3]))
        print("    huge sent %.1f MiB in %d connections; silent holds %d; dns asked %s"
              % (self.servers["huge"].sent / 1048576, self.servers["huge"].accepted,
                 len(self.servers["silent"].conns), sorted(set(self.dns.names))))
        for name, _, _, reason in self.HOSTILE:
            errs = {r: self.errors(m, name, r) for r in ("connect", "timeout", "http", "parse")}
            print("    %-8s down after %s s, errors %s, last probe took %s s" % (
                name, "%.1f" % first_down[name] if name in first_down else "-", errs,
                m.get("replmon_probe_duration_seconds", kind="xmpp", cluster="chat",
                      node=name)))
        self.assertEqual(self.up(m, "calm"), 1, "the well-behaved node stays up")
        for name, _, _, reason in self.HOSTILE:
            self.assertEqual(self.up(m, name), 0, "xmpp_up of %s" % name)
            self.assertLessEqual(
                m.get("replmon_probe_duration_seconds", kind="xmpp", cluster="chat", node=name),
                CONNECT_S + QUERY_S + 0.5, "%s: the probe keeps its timeouts" % name)
            self.assertIn(name, first_down, "%s never down with reason %s:\n%s"
                          % (name, reason, m.lines('node="%s"' % name)))
            self.assertGreaterEqual(self.errors(m, name, reason), 2,
                                    "%s: errors{reason=%s}" % (name, reason))
        for name, reason in self.STREAM_PROBED.items():
            labels = dict(kind="xmpp_stream", cluster="chat", node=name)
            print("    %-8s stream probe: success %s, errors{%s} %s, last took %s s" % (
                name, m.get("xmpp_stream_probe_success", cluster="chat", node=name), reason,
                m.get("replmon_probe_errors_total", reason=reason, **labels),
                m.get("replmon_probe_duration_seconds", **labels)))
            self.assertEqual(m.get("xmpp_stream_probe_success", cluster="chat", node=name), 0)
            self.assertGreaterEqual(
                m.get("replmon_probe_errors_total", reason=reason, **labels), 2,
                m.lines('node="%s"' % name, "xmpp_stream"))
            self.assertLessEqual(m.get("replmon_probe_duration_seconds", **labels),
                                 CONNECT_S + QUERY_S + 0.5, "the stream probe keeps its timeout")
        self.assertIn(self.bad_host, self.dns.names,
                      "the unresolvable name was not asked of the loopback resolver")
        if sanitized(pid):
            print("    (AddressSanitizer: its quarantine holds freed memory; RSS not bounded)")
        else:
            self.assertLess(rss_max - rss0, RSS_GROWTH_BOUND, "RSS growth with hostile nodes")
        # Each API node holds a connection and curl's socketpair, each stream probe its
        # connection while it runs, a resolver its pair: bounded, and no growth over time.
        late = [s[2] for s in samples if s[0] > 10]
        bound = (fds0 + FD_SLACK_PER_NODE * len(self.HOSTILE) + len(self.STREAM_PROBED) +
                 2 * RESOLVERS_WAITING)
        self.assertLessEqual(max(late), bound, "open fds with hostile nodes")
        half = len(late) // 2
        self.assertLessEqual(max(late[half:]), max(late[:half]) + 1, "open fds keep growing")
        late_threads = [s[3] for s in samples if s[0] > 10]
        self.assertLessEqual(max(late_threads[half:]), max(late_threads[:half]) + 1,
                             "threads keep growing")
        self.assertGreater(self.servers["huge"].sent, 10 << 20, "the huge server was read")
        w.assert_fast(self)

    def test_03_probe_endpoint(self):
        """/probe?target= of each node at once, with a 3 s scrape timeout: each answers in
        time (hostile ones as down), and /metrics stays fast meanwhile."""
        names = ["calm"] + [name for name, _, _, _ in self.HOSTILE]
        results = {}

        def probe(name):
            try:
                results[name] = http(self.replmon.port, "/probe?target=" + name, timeout=10,
                                     headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"})
            except Exception as e:  # reported below
                results[name] = e

        workers = [threading.Thread(target=probe, args=(n,), daemon=True) for n in names]
        for t in workers:  # threads inherit this thread's namespace
            t.start()
        w = _Watch(self.replmon.port)
        while any(t.is_alive() for t in workers) and w.elapsed() < 15:
            w.scrape()
            time.sleep(SCRAPE_EVERY_S)
        print("\n    /probe of %d nodes at once; /metrics meanwhile: %s"
              % (len(names), w.summary()))
        for name in names:
            r = results.get(name)
            self.assertIsInstance(r, tuple, "/probe?target=%s: %r" % (name, r))
            status, _, body, secs = r
            up = Metrics(body.decode()).get("xmpp_up", cluster="chat", node=name)
            print("    /probe %-8s %d in %.2f s, xmpp_up %s" % (name, status, secs, up))
            self.assertEqual(status, 200, body[:300])
            self.assertLess(secs, 3.0, "/probe?target=%s within the scrape timeout" % name)
            self.assertEqual(up, 1 if name == "calm" else 0, name)
        w.assert_fast(self)

    def test_04_reload_away(self):
        """A reload back to the well-behaved node alone, while hostile polls are in flight:
        it completes within one poll, scrapes stay fast meanwhile, and once the abandoned
        resolver threads are done (resolv.conf's 10 s) replmon is back to the fds and
        threads it had before the hostile nodes."""
        pid = self.replmon.proc.pid
        _, fds0, threads0 = self.baseline
        since = len(self.replmon.log_text())
        self.write_config(hostile=False)
        os.kill(pid, signal.SIGHUP)
        w = _Watch(self.replmon.port)
        reloaded = None
        while w.elapsed() < 15:
            m = w.scrape()
            log = self.replmon.log_text()[since:]
            if reloaded is None and 'msg="configuration reloaded"' in log:
                reloaded = w.elapsed()
            if (reloaded is not None and m is not None and not m.find("xmpp_up", node="silent")
                    and fd_count(pid) <= fds0 + 1 and threads(pid) <= threads0 + 1):
                break
            time.sleep(0.05)
        fds, nthreads = fd_count(pid), threads(pid)
        print("\n    reload away: done after %s s; %s; then %d fds (before the hostile nodes "
              "%d), %d threads (%d) after %.1f s" % (
                  "%.2f" % reloaded if reloaded is not None else "-", w.summary(), fds, fds0,
                  nthreads, threads0, w.elapsed()))
        self.assertIsNotNone(reloaded, "no 'configuration reloaded' in the log:\n%s"
                             % self.replmon.log_text()[since:][-2000:])
        self.assertLess(reloaded, QUERY_S + 1.0, "the reload waits at most one poll")
        self.assertEqual(m.find("xmpp_up", node="silent"), [], "hostile series after the reload")
        self.assertEqual(self.up(m, "calm"), 1)
        self.assertLessEqual(fds, fds0 + 1, "fds left by the hostile nodes: %s" % fd_kinds(pid))
        self.assertLessEqual(nthreads, threads0 + 1, "threads left by the hostile nodes")
        w.assert_fast(self)

    def test_05_sigterm(self):
        self.stop_replmon_cleanly(max_secs=QUERY_S + 3)


def main(argv):
    names = [a for a in argv if not a.startswith("-")]
    if not names:
        argv = list(argv) + ["TestPartition", "TestHostileXMPP"]
    return common.run_suite(TestPartition, argv, LABEL, sys.modules[__name__],
                            timings_title="fault timings (seconds from the fault to /metrics):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
