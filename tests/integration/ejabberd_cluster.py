#!/usr/bin/env python3
"""A two-node ejabberd 23.01 cluster on the MariaDB pair, all on 127.0.0.1.

    with EjabberdCluster(workdir) as cl:          # pair, schema, epmd, ejc1 + ejc2 joined
        cl.register("alice", "pw")                # POST /api/register on ejc1, replicated
        c = cl.client("alice", node=1)            # a slixmpp session on ejc2
        cl.node(1).kill(); cl.wait_cluster({0: ["ejc1@localhost"]})

What start() builds (each phase timed in `timings`; about 4-6 s in all):
- the MariaDB 10.11 pair of mariadb_pair.py (or `pair=`, an already started Pair that the
  cluster then leaves running), database `ejabberd` (utf8mb4) created on db1 with the
  account SQL_USER@127.0.0.1 (ALL on ejabberd.*) and ejabberd's
  /usr/share/ejabberd/sql/mysql.sql; all of it replicates to db2;
- a private epmd (`epmd -port P -address 127.0.0.1`, also on [::1]:P as epmd always is),
  so that nothing else on the machine (other test runs, a system ejabberd) sees or clashes
  with these nodes: a node name is only unique per epmd;
- nodes ejc1@localhost and ejc2@localhost (indexes 0 and 1, like the pair's db1 and db2),
  each in its own directory (ejabberd.yml, ejabberdctl.cfg, inetrc, spool/, logs/,
  ejabberd-foreground.log) with its own c2s, HTTP API and distribution ports. ejabberd.yml:
  `default_db: sql`, `auth_method: sql`, `sql_type: mysql`; by default node N uses dbN
  (db_for=(0, 1), as in the field: each host runs ejabberd on its own MariaDB, so losing
  db1 takes ejc1's logins away and leaves ejc2's), db_for=(0, 0) puts both on db1 (one
  writer: no replication lag between a registration and a login on the other node);
  `sql_query_timeout: 5` and `auth_use_cache: false` (a lost database fails logins within
  seconds instead of the default 59 s, and a cached login cannot hide it);
  `sql_start_interval: 2` (a restored database is used again within 2 s instead of 30);
  c2s offers STARTTLS (not required) with a throwaway certificate made by openssl in the
  workdir; mod_http_api on /api, api_permissions: "console commands" (ejabberdctl), the
  read-only commands replmon calls plus list_cluster, and register/change_password, all
  from 127.0.0.1; modules mod_admin_extra, mod_muc, mod_muc_admin, mod_ping, mod_offline,
  mod_roster, mod_disco, and no mod_stream_mgmt (a killed client's session ends at once
  instead of lingering for the 300 s resume timeout). net_ticktime=N (default: Erlang's
  60 s) goes both to the VM (`-kernel net_ticktime`) and to ejabberd.yml (ejabberd sets
  the tick time itself at start-up, overriding the VM's flag);
- ejc2 joined to ejc1 (`ejabberdctl join_cluster ejc1@localhost`, run against ejc2; it
  restarts ejabberd inside the same VM, whose PID stays); ready when `POST
  /api/list_cluster` on both nodes lists both.

For the fault tests: node(i) is a ClusterNode with stop() (SIGTERM to the VM, graceful),
begin_stop() (the SIGTERM alone), kill() (SIGKILL), freeze()/thaw() (SIGSTOP/SIGCONT to
the VM; freeze() returns once all its threads are stopped), start(), list_cluster(),
register(), change_password(), call()/api() (any API command), ctl() (ejabberdctl); the
cluster has wait_cluster(), join(), start_node() (with its spool: it rejoins by itself),
restart_alone() (wiped spool, no join: each node lists only itself),
register()/change_password() (and wait for the pair to have them), client() and
xmpp_config() (replmon's `xmpp:` section); the databases' faults are the pair's
(cl.pair.freeze(0)/thaw(0)/kill(0)/restart(0)). Measured here (2 cores): a stopped or
killed ejc2 leaves ejc1's list_cluster in about 25 ms; a frozen one only after the tick
time (63 s with the default, 10 s with net_ticktime=10), and after thaw each node lists
only itself until join(); db1 frozen: logins on ejc1 fail (SASL not-authorized) after
about 4.3 s, registered_users answers 200 [] after 4 s, register answers 409 "already
registered" after 8 s, ejc2 (on db2) is unaffected; db1 killed: ejc1's logins fail after
about 5 s; after db1's restart they work again within a second.

Processes: epmd and each node's `ejabberdctl foreground` shell are started with
common.spawn (own session, PR_SET_PDEATHSIG) and stopped by PID. The Erlang VM is the
shell's child, started through a wrapper (`setpriv --pdeathsig KILL erl`) so that it dies
with the shell even when the runner is SIGKILLed; the fixture stops it by PID (SIGTERM:
the VM's own graceful shutdown; SIGKILL after a bound). stop() runs from the context
manager, from common's atexit/signal clean-up and from EjabberdClusterCase's tearDownClass.

Self-check: python3 tests/integration/ejabberd_cluster.py (starts it, prints the timings
and both nodes' list_cluster, stops it).
"""

import json
import os
import shutil
import signal
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import (FixtureCase, free_port, register_cleanup, replmon_path,  # noqa: E402
                    spawn, stop_process, tail, unregister_cleanup)
from mariadb_pair import Pair  # noqa: E402
from xmpp_servers import (DOMAIN, READ_ONLY_COMMANDS, Client, Ejabberd,  # noqa: E402
                          _alive, _wait_port, ejabberd_api_permissions, ejabberd_modules,
                          ejabberd_yml_head, make_certificate, replmon_xmpp_node, write_pem)

__all__ = ["EjabberdCluster", "ClusterNode", "EjabberdClusterCase", "ApiError",
           "SQL_USER", "SQL_PASSWORD", "SCHEMA", "NODE_NAMES", "prerequisites_missing"]

SQL_DATABASE = "ejabberd"
SQL_USER = "ejabberd"
SQL_PASSWORD = "ejabberd-Secret-12"
SCHEMA = "/usr/share/ejabberd/sql/mysql.sql"
NODE_NAMES = ("ejc1@localhost", "ejc2@localhost")
START_BOUND_S = 60.0
STOP_BOUND_S = 15.0
CLUSTER_BOUND_S = 30.0
EPMD = os.environ.get("EPMD", "epmd")
ERL = os.environ.get("ERL", "/usr/bin/erl")
ERLANG_LIB = "/usr/lib/erlang/lib"

# list_cluster is what the cluster view needs; register and change_password are the tests'.
API_READ_ONLY = READ_ONLY_COMMANDS + ("list_cluster",)
API_ACCOUNTS = ("register", "change_password")


class ApiError(RuntimeError):
    def __init__(self, node, command, status, body):
        super().__init__("%s: POST /api/%s answered %s: %r"
                         % (node, command, status, body[:300]))
        self.status, self.body = status, body


def prerequisites_missing():
    """Why the cluster cannot start here (a string), or None."""
    for tool in ("ejabberdctl", EPMD, "setpriv", "openssl", "mariadbd", "mariadb"):
        if not shutil.which(tool):
            return "%s not found" % tool
    if not os.path.exists(SCHEMA):
        return "%s not found (Debian package ejabberd)" % SCHEMA
    if not (os.path.isdir(ERLANG_LIB)
            and any(d.startswith("p1_mysql-") for d in os.listdir(ERLANG_LIB))):
        return "no p1_mysql in %s (Debian package erlang-p1-mysql)" % ERLANG_LIB
    return None


def _all_threads_stopped(pid):
    """True when every thread of pid is stopped (state T or t), or pid is gone."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return True
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid), "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue  # the thread ended
        if stat[stat.rfind(")") + 2] not in "Tt":
            return False
    return True


def epmd_names(port, timeout=2.0):
    """{name: port} registered with the epmd on 127.0.0.1:port (NAMES_REQ); None when
    nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack(">HB", 1, 110))
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    names = {}
    for line in data[4:].decode("utf-8", "replace").splitlines():
        parts = line.split()  # name NAME at port PORT
        if len(parts) == 5 and parts[0] == "name":
            names[parts[1]] = int(parts[4])
    return names


# --------------------------------------------------------------------------------------

class ClusterNode(Ejabberd):
    """One node of the cluster: xmpp_servers.Ejabberd (api(), ctl(), freeze(), thaw(),
    running(), c2s_address(), api_url(), vm_pid) with the cluster's configuration, stopped
    by signals to the VM's PID, and the account and cluster calls through the HTTP API."""

    def __init__(self, cluster, index, db_index):
        super().__init__(os.path.join(cluster.workdir, "ejc%d" % (index + 1)),
                         domain=cluster.domain, verbose=cluster.verbose)
        self.cluster = cluster
        self.index = index
        self.name = NODE_NAMES[index].split("@")[0]
        self.node = NODE_NAMES[index]
        self.cookie = cluster.cookie
        self.db_index = db_index
        self.pid_file = os.path.join(self.dir, "ejabberd.pid")

    # ----------------------------------------------------------------- config
    def _write_config(self):
        cl = self.cluster
        for d in (self.spool, self.logs):
            os.makedirs(d, exist_ok=True)
        self.cert, self.key, self.cert_not_after = cl.cert, cl.key, cl.cert_not_after
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            f.write('{lookup,["file","native"]}.\n{host,{127,0,0,1},["localhost"]}.\n')
        wrapper = os.path.join(self.dir, "erl")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n# The VM dies with the ejabberdctl shell (which dies with the "
                    "test runner).\nexec setpriv --pdeathsig KILL %s \"$@\"\n" % ERL)
        os.chmod(wrapper, 0o755)
        cfg = """# Written by tests/integration/ejabberd_cluster.py
ERLANG_NODE=%(node)s
ERL=%(wrapper)s
export ERL_EPMD_PORT=%(epmd)d
ERL_OPTIONS="-setcookie %(cookie)s -start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
%(tick)scase "$1" in
  start|foreground|foreground-quiet|live) FIREWALL_WINDOW=%(dist)d-%(dist)d ;;
  *) ERL_OPTIONS="$ERL_OPTIONS -dist_listen false" ;;
esac
EXEC_CMD=as_current_user
EJABBERD_PID_PATH=%(pid)s
EJABBERD_BYPASS_WARNINGS=true
""" % dict(node=self.node, wrapper=wrapper, epmd=cl.epmd_port, cookie=self.cookie,
           dist=self.dist_port, pid=self.pid_file,
           tick=('ERL_OPTIONS="$ERL_OPTIONS -kernel net_ticktime %d"\n' % cl.net_ticktime
                 if cl.net_ticktime else ""))
        with open(self.ctl_config, "w") as f:
            f.write(cfg)
        yml = ejabberd_yml_head("tests/integration/ejabberd_cluster.py: node %s" % self.node,
                                self.domain, cl.pem, self.c2s_port, self.http_port) + """\
default_db: sql
auth_method: sql
auth_use_cache: false
sql_type: mysql
sql_server: "127.0.0.1"
sql_port: %(sql_port)d
sql_database: %(db)s
sql_username: %(user)s
sql_password: "%(password)s"
sql_query_timeout: %(query_timeout)d
sql_start_interval: %(start_interval)d
%(tick)sacl:
  loopback:
    ip:
      - 127.0.0.1/32
access_rules:
  local:
    allow: all
  c2s:
    allow: all
  muc_create:
    allow: local
""" % dict(sql_port=cl.pair.port(self.db_index), db=SQL_DATABASE,
           user=SQL_USER, password=SQL_PASSWORD, query_timeout=cl.sql_query_timeout,
           start_interval=cl.sql_start_interval,
           tick="net_ticktime: %d\n" % cl.net_ticktime if cl.net_ticktime else "")
        yml += ejabberd_api_permissions(
            ("replmon read-only", ["mod_http_api"], ["ip: 127.0.0.1/32"], API_READ_ONLY),
            ("test accounts", ["mod_http_api"], ["ip: 127.0.0.1/32"], API_ACCOUNTS))
        yml += ejabberd_modules("mod_offline: {}", "mod_ping: {}")
        with open(self.config, "w") as f:
            f.write(yml)
        self._written = True

    # ----------------------------------------------------------------- lifecycle
    def launch(self):
        """Starts the node without waiting (from the main thread); wait_ready() next. Waits
        (bounded) until the private epmd has forgotten an earlier run of the same name:
        ejabberdctl refuses to start a name that is still registered."""
        if self.running():
            return
        deadline = time.monotonic() + 10
        while self.name in (epmd_names(self.cluster.epmd_port) or {}):
            if time.monotonic() > deadline:
                raise RuntimeError("%s still registered with epmd 10 s after it stopped"
                                   % self.node)
            time.sleep(0.05)
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass
        super().launch()

    def wait_ready(self, bound=START_BOUND_S):
        """Waits until the API answers `status` with 200 (the VM's PID is known by then)."""
        t0 = self._t0 or time.monotonic()
        try:
            _wait_port("127.0.0.1", self.http_port, bound, self.proc, "ejabberd " + self.name,
                       self.log)
            self.vm_pid = self._find_vm()
            while True:
                try:
                    status, body = self.api("status", timeout=2.0)
                    if status == 200:
                        break
                except OSError:
                    status, body = None, b""
                if self.proc.poll() is not None or time.monotonic() > t0 + bound:
                    raise RuntimeError("%s: API not answering status (last %s %r); log:\n%s"
                                       % (self.node, status, body[:200], tail(self.log)))
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        self._say("ready in %.1f s (vm pid %s)" % (time.monotonic() - t0, self.vm_pid))

    def start(self, bound=START_BOUND_S):
        self.launch()
        self.wait_ready(bound)

    def begin_stop(self):
        """SIGCONT (in case it is frozen) and SIGTERM to the VM: Erlang's graceful stop."""
        vm = self._live_vm()
        if vm:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.kill(vm, sig)
                except ProcessLookupError:
                    pass

    def stop(self, bound=STOP_BOUND_S):
        """Stops the node by PID: SIGTERM to the VM, SIGKILL after bound, then the shell
        is reaped. Returns the shell's exit status (None when it was not running).
        Idempotent."""
        unregister_cleanup(self.stop)
        if self.proc is None:
            return None
        self.begin_stop()
        self._wait_vm_gone(bound, signal.SIGKILL)
        rc = stop_process(self.proc, bound=5)
        self.proc, self.vm_pid = None, None
        return rc

    def kill(self):
        """SIGKILL to the VM (no goodbye to the peer: the TCP connections just close), then
        the shell is reaped. Returns the shell's exit status."""
        unregister_cleanup(self.stop)
        if self.proc is None:
            return None
        vm = self.vm_pid
        if vm and _alive(vm):
            try:
                os.kill(vm, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_vm_gone(10, None)
        rc = stop_process(self.proc, bound=5)
        self.proc, self.vm_pid = None, None
        return rc

    def _wait_vm_gone(self, bound, then):
        vm = self.vm_pid
        if not vm:
            return
        deadline = time.monotonic() + bound
        while _alive(vm) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(vm) and then is not None:
            try:
                os.kill(vm, then)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 5
            while _alive(vm) and time.monotonic() < deadline:
                time.sleep(0.02)

    def freeze(self, bound=5.0):
        """SIGSTOP to the VM; returns once every thread of it is stopped. kill() only
        queues the signal: one thread starts the group stop when it is next scheduled, and
        on a busy machine another one can still answer a request in between."""
        os.kill(self.vm_pid, signal.SIGSTOP)
        deadline = time.monotonic() + bound
        while not _all_threads_stopped(self.vm_pid):
            if time.monotonic() > deadline:
                raise RuntimeError("%s: VM pid %d not stopped %.0f s after SIGSTOP"
                                   % (self.node, self.vm_pid, bound))
            time.sleep(0.002)

    def wipe_spool(self):
        """Deletes the node's Mnesia directory (only while it is stopped)."""
        if self.running():
            raise RuntimeError("%s is running: stop it before wiping its spool" % self.node)
        shutil.rmtree(self.spool, ignore_errors=True)
        os.makedirs(self.spool)

    # ----------------------------------------------------------------- API
    def call(self, command, args=None, timeout=5.0):
        """POST /api/<command> with a JSON body; the decoded JSON answer. ApiError unless
        200."""
        status, body = self.api(command, args or {}, timeout=timeout)
        if status != 200:
            raise ApiError(self.node, command, status, body)
        return json.loads(body) if body else None

    def register(self, user, password):
        """POST /api/register; the server's answer (a string)."""
        out = self.call("register", {"user": user, "host": self.domain,
                                     "password": password})
        self.registered[user] = password
        return out

    def change_password(self, user, password):
        """POST /api/change_password; the server's answer (0 when done)."""
        out = self.call("change_password", {"user": user, "host": self.domain,
                                            "newpass": password})
        self.registered[user] = password
        return out

    def list_cluster(self, timeout=5.0):
        """POST /api/list_cluster: the sorted node names this node sees running."""
        return sorted(self.call("list_cluster", timeout=timeout))

    def join(self, other):
        """`ejabberdctl join_cluster OTHER` against this node (it restarts its ejabberd
        application inside the same VM); the command's output."""
        return self.ctl("join_cluster", other.node)


# --------------------------------------------------------------------------------------

class EjabberdCluster:
    """The pair, epmd and two ejabberd nodes joined (see the module docstring).

    Attributes: pair (mariadb_pair.Pair), nodes ([ClusterNode] ejc1, ejc2), node(i),
    epmd_port, domain, cookie, cert/key/cert_not_after/pem, timings [(phase, seconds)]."""

    def __init__(self, workdir, pair=None, db_for=(0, 1), domain=DOMAIN, verbose=False,
                 sql_query_timeout=5, sql_start_interval=2, net_ticktime=None):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.own_pair = pair is None
        self.pair = pair if pair is not None else Pair(os.path.join(self.workdir, "pair"))
        self.db_for = tuple(db_for)
        self.domain = domain
        self.verbose = verbose
        self.sql_query_timeout = sql_query_timeout
        self.sql_start_interval = sql_start_interval
        self.net_ticktime = net_ticktime
        self.cookie = "c" + os.urandom(12).hex()
        self.epmd_port = None
        self.epmd = None
        self.epmd_log = os.path.join(self.workdir, "epmd.log")
        self.cert = self.key = self.cert_not_after = self.pem = None
        self.nodes = [ClusterNode(self, i, self.db_for[i]) for i in range(2)]
        self.clients = []
        self.timings = []

    def node(self, i):
        return self.nodes[i]

    def jid(self, user):
        return "%s@%s" % (user, self.domain)

    def _say(self, msg):
        if self.verbose:
            print("ejabberd_cluster: " + msg, file=sys.stderr, flush=True)

    def _phase(self, name, t0):
        secs = time.monotonic() - t0
        self.timings.append((name, secs))
        self._say("%-8s %.2f s" % (name, secs))
        return time.monotonic()

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        """Builds everything (see the module docstring); returns self. On failure stops
        whatever it started and raises."""
        register_cleanup(self.stop)
        t_all = t = time.monotonic()
        try:
            if self.own_pair:
                self.pair.start()
                self.pair.wait_replicating(30)
                t = self._phase("pair", t)
            self.create_database()
            t = self._phase("schema", t)
            self.start_epmd()
            self.cert, self.key, self.cert_not_after = make_certificate(self.workdir,
                                                                        self.domain)
            self.pem = write_pem(os.path.join(self.workdir, "server.pem"), self.cert, self.key)
            t = self._phase("epmd+cert", t)
            for n in self.nodes:
                n.launch()
            for n in self.nodes:
                n.wait_ready()
            t = self._phase("nodes", t)
            self.nodes[1].join(self.nodes[0])
            t = self._phase("join", t)
            self.wait_cluster()
            t = self._phase("cluster", t)
        except BaseException:
            self.stop()
            raise
        self.timings.append(("total", time.monotonic() - t_all))
        self._say("ready in %.1f s" % (time.monotonic() - t_all))
        return self

    def create_database(self):
        """Database `ejabberd`, its account on 127.0.0.1 and ejabberd's schema, on db1
        (binlogged: it replicates to db2), then waits until db2 has it."""
        self.pair.sql(0, "CREATE DATABASE %s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
                         "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; "
                         "GRANT ALL ON %s.* TO '%s'@'127.0.0.1'"
                      % (SQL_DATABASE, SQL_USER, SQL_PASSWORD, SQL_DATABASE, SQL_USER))
        self.pair.sql(0, "USE %s;\nSOURCE %s" % (SQL_DATABASE, SCHEMA))  # a client command
        self.pair.sync()

    def start_epmd(self):
        self.epmd_port = free_port()
        self.epmd = spawn([EPMD, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                          self.epmd_log)
        deadline = time.monotonic() + 10
        while epmd_names(self.epmd_port) is None:
            if self.epmd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("epmd on port %d did not start; log:\n%s"
                                   % (self.epmd_port, tail(self.epmd_log)))
            time.sleep(0.02)

    def stop(self):
        """Stops the clients, both nodes (in parallel), epmd and the pair if it is the
        cluster's own; by PID. Idempotent; keeps the workdir."""
        unregister_cleanup(self.stop)
        for c in self.clients:
            c.disconnect()
        self.clients = []
        if self.own_pair:  # a frozen database would hold up the nodes' graceful stop
            for i in (0, 1):
                if self.pair.nodes[i].frozen:
                    self.pair.thaw(i)
        for n in self.nodes:
            n.begin_stop()
        for n in self.nodes:
            n.stop()
        if self.epmd is not None:
            stop_process(self.epmd, bound=5)
            self.epmd = None
        if self.own_pair:
            self.pair.stop()

    # ----------------------------------------------------------------- cluster
    def list_cluster(self, i, timeout=5.0):
        """Node i's `list_cluster`: sorted node names."""
        return self.nodes[i].list_cluster(timeout=timeout)

    def wait_cluster(self, expected=None, bound=CLUSTER_BOUND_S):
        """Waits until list_cluster on each node i in expected lists exactly expected[i]
        (default: both nodes list both). Returns the seconds it took; RuntimeError with the
        last answers after bound."""
        if expected is None:
            expected = {0: list(NODE_NAMES), 1: list(NODE_NAMES)}
        t0 = time.monotonic()
        last = {}
        while True:
            ok = True
            for i, want in expected.items():
                try:
                    last[i] = self.list_cluster(i, timeout=2.0)
                except (OSError, ApiError, ValueError) as e:
                    last[i] = "error: %s" % e
                if last[i] != sorted(want):
                    ok = False
            if ok:
                return time.monotonic() - t0
            if time.monotonic() - t0 > bound:
                raise RuntimeError("list_cluster not as expected after %.0f s: want %s, got %s"
                                   % (bound, expected, last))
            time.sleep(0.02)

    def join(self, i=1, to=0):
        """Node i joins node `to`'s cluster; waits until both list both. Seconds."""
        t0 = time.monotonic()
        self.nodes[i].join(self.nodes[to])
        self.wait_cluster()
        return time.monotonic() - t0

    def start_node(self, i, bound=START_BOUND_S):
        """Starts a stopped node with its spool as it is (after stop() or kill(), it rejoins
        the cluster by itself). Seconds until its API answers."""
        t0 = time.monotonic()
        self.nodes[i].start(bound)
        return time.monotonic() - t0

    def restart_alone(self, i=1, bound=START_BOUND_S):
        """Stops node i, wipes its spool and starts it again with a fresh Mnesia of its
        own and no join: each node then lists only itself. Waits for that; seconds."""
        t0 = time.monotonic()
        n = self.nodes[i]
        n.stop()
        n.wipe_spool()
        n.start(bound)
        self.wait_cluster({0: [self.nodes[0].node], 1: [self.nodes[1].node]})
        return time.monotonic() - t0

    # ----------------------------------------------------------------- accounts, clients
    def register(self, user, password, node=0, replicated=True):
        """Registers user through node's API; with replicated=True waits until both
        databases have the row (the pair synchronized)."""
        out = self.nodes[node].register(user, password)
        if replicated:
            self.pair.sync()
        for n in self.nodes:
            n.registered[user] = password
        return out

    def change_password(self, user, password, node=0, replicated=True):
        out = self.nodes[node].change_password(user, password)
        if replicated:
            self.pair.sync()
        for n in self.nodes:
            n.registered[user] = password
        return out

    def client(self, user, node=0, password=None, starttls=False, presence=False, send=None,
               connect=True):
        """An xmpp_servers.Client for user@domain on node's c2s port (connected unless
        connect=False); disconnected by stop()."""
        n = self.nodes[node]
        if password is None:
            password = n.registered[user]
        c = Client(n.c2s_address(), self.jid(user), password, logdir=self.workdir,
                   starttls=starttls, presence=presence, send=send)
        self.clients.append(c)
        if connect:
            c.connect()
        return c

    def xmpp_config(self, cluster="chat", names=("ej1", "ej2"), probe_users=None,
                    password_file=None, relogin_interval=None):
        """The `xmpp:` section of a replmon configuration for both nodes (type ejabberd,
        api_url, c2s_address, domain). With probe_users (one registered account per node)
        and password_file, every probe is on: `clustered: true`, a `probe_account` on each
        node, `delivery` between the two and `depends_on` each node's database. Each node's
        certificate is its `tls.ca_file` (the stream probe verifies it)."""
        text = "xmpp:\n  - cluster: %s\n" % cluster
        if probe_users:
            text += "    clustered: true\n    delivery: [%s]\n" % ", ".join(names)
        text += "    nodes:\n"
        for i, (name, n) in enumerate(zip(names, self.nodes)):
            if not probe_users:
                text += replmon_xmpp_node(name, n, ca_file=n.cert)
                continue
            account = (probe_users[i], password_file) + ((relogin_interval,)
                                                         if relogin_interval else ())
            text += replmon_xmpp_node(name, n, ca_file=n.cert, probe_account=account,
                                      depends_on="[%s]" % self.pair.name(self.db_for[i]))
        return text


# --------------------------------------------------------------------------------------

class EjabberdClusterCase(FixtureCase):
    """common.FixtureCase whose fixture is an EjabberdCluster (cls.cluster, in
    workdir/cluster; DB_FOR chooses the databases) and, when make_config() returns a path,
    one replmon on it (cls.replmon; None otherwise). set-up fails with the reason when
    prerequisites_missing() finds something missing (tests/ensure-packages.sh test)."""

    KEPT = "logs, configs and datadirs"
    WORKDIR_PREFIX = "replmon-ejc-"
    DB_FOR = (0, 1)
    CLUSTER_ARGS = {}  # more EjabberdCluster arguments (net_ticktime=10, ...)
    cluster = None

    @classmethod
    def check_prerequisites(cls):
        why = prerequisites_missing()
        if why:
            raise RuntimeError(why)
        if cls._with_replmon():
            binary = replmon_path()
            if not os.access(binary, os.X_OK):
                raise RuntimeError("replmon binary not found at %s (run make, or set REPLMON)"
                                   % binary)

    @classmethod
    def start_fixture(cls):
        cls.cluster = EjabberdCluster(os.path.join(cls.workdir, "cluster"), db_for=cls.DB_FOR,
                                      **cls.CLUSTER_ARGS)
        cls.cluster.start()
        path = cls.make_config(os.path.join(cls.workdir, "replmon.yml"))
        if path:
            cls.start_replmon(path)

    @classmethod
    def _with_replmon(cls):
        """True when a subclass overrides make_config()."""
        return cls.make_config.__func__ is not EjabberdClusterCase.make_config.__func__

    @classmethod
    def make_config(cls, path):
        """Hook: write replmon's YAML (cls.cluster.pair.write_replmon_config() and
        cls.cluster.xmpp_config() help) and return its path; None: no replmon."""
        return None

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()
        if cls.cluster is not None:
            cls.cluster.stop()
            cls.cluster = None

    def setUp(self):
        if self._with_replmon():
            super().setUp()
        self.assertIsNotNone(self.cluster, "the cluster was stopped by an earlier test")


if __name__ == "__main__":
    import tempfile
    from common import install_signal_handlers
    install_signal_handlers()
    why = prerequisites_missing()
    if why:
        print("ejabberd_cluster: cannot run: %s" % why)
        sys.exit(1)
    wd = tempfile.mkdtemp(prefix="ejabberd-cluster-")
    ok = False
    cl = EjabberdCluster(wd, verbose=True)
    try:
        cl.start()
        for i in (0, 1):
            print("%s lists %s" % (cl.nodes[i].node, cl.list_cluster(i)))
        print("timings: " + ", ".join("%s %.2f s" % t for t in cl.timings))
        ok = True
    finally:
        t0 = time.monotonic()
        cl.stop()
        print("stopped in %.2f s" % (time.monotonic() - t0))
        if ok and os.environ.get("KEEP_WORKDIR") != "1":
            shutil.rmtree(wd, ignore_errors=True)
        else:
            print("ejabberd_cluster: files kept in %s" % wd)
    print("ejabberd_cluster self-check: %s" % ("OK" if ok else "FAILED"))
    sys.exit(0 if ok else 1)
