"""A throwaway MariaDB master-master pair for integration tests (10.11 from the machine's
packages, or 11.8 from a Debian trixie tree: see REPLMON_MARIADB_ROOT below).

    pair = Pair("/tmp/some/workdir")
    try:
        pair.start()                      # both nodes in parallel, 2-4 s
        pair.wait_replicating(30)
        pair.sql(0, "INSERT INTO app.t VALUES (1, 1)")
        pair.write_replmon_config("/tmp/x/replmon.yml", "monitor", "/tmp/x/monitor.pass")
    finally:
        pair.stop()

Nodes are numbered 0 and 1 (named db1 and db2 in the replmon configuration). Each node
has its own datadir, unix socket, TCP port (127.0.0.1 only, picked free at start) and a
log file (mariadbd's stderr) under the workdir. The pair is built the way the field
builds it: server_id 1/2, log_bin, log_slave_updates, ROW binlog, gtid_domain_id 1/2,
auto_increment_increment 2 / offset 1/2, and on each node the default (unnamed)
replication connection towards the peer with MASTER_USE_GTID=slave_pos and
MASTER_CONNECT_RETRY=1. Setup objects are created with sql_log_bin=0 on each node.

Accounts (on both nodes, @127.0.0.1 and @localhost):
    repl     REPLICATION SLAVE          (used by the replication connections)
    monitor  SLAVE MONITOR only         (what replmon needs; 10.11 also lets SUPER read
                                         SHOW ALL SLAVES STATUS, 11.8 only SLAVE MONITOR)
    nomon    USAGE only                 (to test the missing-grant path)
Database `app` with table `t (id INT PRIMARY KEY, v INT)`.

Every process is started in its own session (so a terminal's Ctrl-C reaches only the test
runner), with PR_SET_PDEATHSIG so it dies if the runner is killed, and is stopped by PID:
explicitly by stop(), and by an atexit hook and (after install_signal_handlers()) on
SIGTERM/SIGINT otherwise. Only the Python standard library and the `mariadb` client are
used.

The process helpers (spawn, stop_process, free_port, install_signal_handlers) live in
common.py and are re-exported here.

Another MariaDB: with REPLMON_MARIADB_ROOT=DIR (or Pair(root=DIR)) mariadb-install-db and
mariadbd run from the system tree DIR (`make compat` builds a Debian trixie one with MariaDB
11.8 under build/compat/trixie), each as `unshare --mount sh -c '<bind mounts> && exec chroot
DIR "$@"' mariadbd ...`: the work directory (and the socket directory, and those given as
`shared`) are bind-mounted at the same paths inside DIR, so every path means the same inside
and out, and /etc/hosts as the process sees it is bind-mounted over DIR/etc/hosts, so the
server resolves names as one started outside would (a `prefix` of `ip netns exec NS` puts
the namespace's hosts file there). The mounts live in the server's own mount namespace and
end with it: nothing is ever mounted in the tree as the machine sees it (`make clean`
removes build/). The mountpoints are empty directories created under DIR and removed by stop().
sh and chroot exec, so the process started is still mariadbd itself (kill, freeze and thaw
by PID). The `mariadb` client and replmon stay the machine's own: they talk to 11.8
unchanged. MARIADBD, MARIADB_INSTALL_DB and MARIADB_CLIENT name other programs.

PairReplmonCase is the class fixture of the suites that watch the pair: a temporary
workdir, the pair, one replmon, the clean-up of common.FixtureCase, and the helpers
link(), replicating(), wait_restored().
"""

import atexit
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import (FixtureCase, forget, free_port, install_signal_handlers,  # noqa: E402,F401
                    spawn, stop_all_live, stop_process, tail as _tail)

__all__ = ["Pair", "SqlError", "free_port", "install_signal_handlers", "stop_process",
           "spawn", "NODE_NAMES", "PASSWORDS", "HEARTBEAT_DDL", "PairReplmonCase",
           "HeldSession"]

NODE_NAMES = ("db1", "db2")
PASSWORDS = {
    "repl": "repl-Secret-1",
    "monitor": "monitor-Secret-2",
    "nomon": "nomon-Secret-3",
}
START_BOUND_S = 60.0     # a node that is not accepting connections by then has failed
SQL_TIMEOUT_S = 30.0     # the client never waits longer than this for a statement
HEARTBEAT_DDL = ("CREATE DATABASE replmon; "
                 "CREATE TABLE replmon.heartbeat (server_id INT UNSIGNED NOT NULL PRIMARY KEY, "
                 "ts DATETIME(6) NOT NULL)")

MARIADBD = os.environ.get("MARIADBD", "mariadbd")
MARIADB_ROOT = os.environ.get("REPLMON_MARIADB_ROOT") or None
MARIADB_INSTALL_DB = os.environ.get("MARIADB_INSTALL_DB", "mariadb-install-db")
MARIADB_CLIENT = os.environ.get("MARIADB_CLIENT", "mariadb")


# --------------------------------------------------------------------------------------

_stop_all_live = stop_all_live  # the name older callers use


class SqlError(Exception):
    def __init__(self, errno, message, statement):
        super().__init__("ERROR %s: %s [statement: %s]" % (errno, message, statement))
        self.errno = errno
        self.message = message
        self.statement = statement


def _unescape(field):
    if field == "NULL":
        return None
    if "\\" not in field:
        return field
    out, i = [], 0
    table = {"t": "\t", "n": "\n", "0": "\0", "\\": "\\"}
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            out.append(table.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _Node:
    def __init__(self, index, workdir, sockdir):
        self.index = index
        self.name = NODE_NAMES[index]
        self.dir = os.path.join(workdir, self.name)
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(sockdir, "%s.sock" % self.name)
        self.pid_file = os.path.join(self.dir, "mariadbd.pid")
        self.log = os.path.join(self.dir, "mariadbd.log")
        self.tmpdir = os.path.join(self.dir, "tmp")  # not the shared /tmp
        self.port = None
        self.proc = None
        self.frozen = False


class Pair:
    """Two MariaDB nodes replicating from each other. Indexes 0/1 = db1/db2.

    Placement, per node (a pair of values, index 0/1), for nodes that do not both sit on
    127.0.0.1 (test_faults.py puts each in a network namespace of its own):
      prefix  argv before mariadbd's, e.g. ["ip", "netns", "exec", NS] (None: nothing)
      bind    its --bind-address
      host    the host name under which its peer (MASTER_HOST) and replmon's configuration
              reach it; its TCP port is the same everywhere
    client_hosts: more hosts ('10.231.1.%') for which the accounts are created;
    mariadbd_args: more mariadbd options for both nodes (--slave-net-timeout=5);
    root: the system tree the servers run from (default: $REPLMON_MARIADB_ROOT; None:
    this machine's own MariaDB); shared: more host directories the servers read (the
    certificates named in mariadbd_args), seen at the same paths inside root."""

    def __init__(self, workdir, verbose=False, prefix=(None, None),
                 bind=("127.0.0.1", "127.0.0.1"), host=("127.0.0.1", "127.0.0.1"),
                 client_hosts=(), mariadbd_args=(), root=MARIADB_ROOT, shared=()):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.verbose = verbose
        self.prefix = [list(p or ()) for p in prefix]
        self.bind, self.host = tuple(bind), tuple(host)
        self.client_hosts = ("127.0.0.1", "localhost") + tuple(client_hosts)
        self.mariadbd_args = list(mariadbd_args)
        # sun_path is limited to 107 bytes: keep the sockets short when workdir is long.
        sockdir = self.workdir
        if len(os.path.join(sockdir, "db1.sock")) > 100:
            sockdir = os.path.join("/tmp", "mp-%d-%d" % (os.getpid(), id(self) % 100000))
            os.makedirs(sockdir, exist_ok=True)
        self.sockdir = sockdir
        self.nodes = [_Node(i, self.workdir, sockdir) for i in range(2)]
        self.as_root = os.geteuid() == 0
        self.root = os.path.abspath(root) if root else None
        if self.root and not os.path.isfile(os.path.join(self.root, "etc", "hosts")):
            raise RuntimeError("REPLMON_MARIADB_ROOT %s: not a system tree (no etc/hosts); "
                               "`make compat` builds one" % self.root)
        self.shared = tuple(os.path.abspath(d) for d in shared)
        self._mountpoints = []  # directories created under root, deepest last
        self._installed = False
        self._configured = False
        atexit.register(self.stop)

    # ----------------------------------------------------------------- accessors
    def port(self, i):
        return self.nodes[i].port

    def name(self, i):
        return self.nodes[i].name

    def pid(self, i):
        p = self.nodes[i].proc
        return p.pid if p is not None and p.poll() is None else None

    def address(self, i):
        return "%s:%d" % (self.host[i], self.nodes[i].port)

    def log_path(self, i):
        return self.nodes[i].log

    @staticmethod
    def password(user):
        return PASSWORDS[user]

    def _say(self, msg):
        if self.verbose:
            print("mariadb_pair: " + msg, file=sys.stderr, flush=True)

    # ----------------------------------------------------------------- the system tree
    def _in_root(self, argv):
        """argv run inside self.root (see the module's doc), or argv itself without one."""
        if not self.root:
            return list(argv)
        mounts = ["mount --bind /etc/hosts %s" % shlex.quote(self.root + "/etc/hosts")]
        for d in sorted({self.workdir, self.sockdir} | set(self.shared)):
            self._mountpoint(d)
            mounts.append("mount --bind %s %s" % (shlex.quote(d), shlex.quote(self.root + d)))
        script = " && ".join(mounts + ['exec chroot %s "$@"' % shlex.quote(self.root)])
        return ["unshare", "--mount", "sh", "-c", script, "sh"] + list(argv)

    def _mountpoint(self, d):
        """Creates root + d (an absolute path), noting each directory it had to create."""
        path = self.root
        for part in d.strip("/").split("/"):
            path = os.path.join(path, part)
            if not os.path.isdir(path):
                os.mkdir(path)
                self._mountpoints.append(path)

    def _remove_mountpoints(self):
        """The directories _mountpoint created, once no server uses them any more; each
        only while empty (never the tree's own files)."""
        for path in reversed(self._mountpoints):
            try:
                os.rmdir(path)
            except OSError:
                pass
        self._mountpoints = [p for p in self._mountpoints if os.path.isdir(p)]

    # ----------------------------------------------------------------- lifecycle
    def _install(self):
        """mariadb-install-db for both datadirs, in parallel."""
        todo = [n for n in self.nodes if not os.path.isdir(os.path.join(n.datadir, "mysql"))]
        for attempt in (1, 2):  # one retry: a bootstrap can fail for reasons of its own
            procs = []
            for n in todo:
                os.makedirs(n.tmpdir, exist_ok=True)
                shutil.rmtree(n.datadir, ignore_errors=True)
                argv = [MARIADB_INSTALL_DB, "--no-defaults", "--datadir=" + n.datadir,
                        "--auth-root-authentication-method=normal", "--skip-test-db",
                        "--skip-name-resolve", "--tmpdir=" + n.tmpdir,
                        "--innodb-log-file-size=8M"]
                if self.as_root:
                    argv.append("--user=root")
                log = os.path.join(n.dir, "install-db.log")
                procs.append((n, log, spawn(self._in_root(argv), log)))
            failed = []
            for n, log, proc in procs:
                try:
                    rc = proc.wait(120)
                except subprocess.TimeoutExpired:
                    stop_process(proc, bound=5)
                    rc = "timeout"
                forget(proc)
                if rc != 0:
                    failed.append("mariadb-install-db for %s failed (%s, attempt %d); log %s:\n%s"
                                  % (n.name, rc, attempt, log, _tail(log, 12)))
                    print("mariadb_pair: " + failed[-1], file=sys.stderr, flush=True)
            if not failed:
                break
            todo = [n for n, _, proc in procs if proc.returncode != 0]
        else:
            raise RuntimeError("\n".join(failed))
        self._installed = True

    def _argv(self, n):
        i = n.index
        argv = self.prefix[i] + self._in_root([
                MARIADBD, "--no-defaults",
                "--datadir=" + n.datadir, "--socket=" + n.socket, "--port=%d" % n.port,
                "--pid-file=" + n.pid_file, "--bind-address=" + self.bind[i],
                "--tmpdir=" + n.tmpdir,
                "--skip-name-resolve",  # no --log-error: the log goes to stderr
                "--server-id=%d" % (i + 1), "--log-bin=mysql-bin",
                "--log-slave-updates=ON", "--binlog-format=ROW",
                "--gtid-domain-id=%d" % (i + 1),
                "--auto-increment-increment=2", "--auto-increment-offset=%d" % (i + 1),
                "--relay-log=relay-bin",
                "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M",
                "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0",
                "--max-connections=100"] + self.mariadbd_args)
        if self.as_root:
            argv.append("--user=root")
        return argv

    def _launch(self, n):
        if n.port is None:
            n.port = free_port()
        try:
            os.unlink(n.socket)
        except FileNotFoundError:
            pass
        with open(n.log, "ab") as f:
            f.write(("---- %s start %s on port %d\n" % (
                time.strftime("%H:%M:%S"), n.name, n.port)).encode())
        n.proc = spawn(self._argv(n), n.log)
        n.frozen = False
        self._say("%s: pid %d port %d" % (n.name, n.proc.pid, n.port))

    def _ready(self, n):
        """True once the server sends its greeting on the unix socket."""
        if not os.path.exists(n.socket):
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect(n.socket)
            return len(s.recv(64)) > 0
        except OSError:
            return False
        finally:
            s.close()

    def _wait_ready(self, nodes, bound=START_BOUND_S):
        deadline = time.monotonic() + bound
        pending = list(nodes)
        while pending:
            for n in list(pending):
                if n.proc.poll() is not None:
                    rc = n.proc.returncode
                    forget(n.proc)
                    raise RuntimeError("mariadbd %s exited with %s during start-up; log %s:\n%s"
                                       % (n.name, rc, n.log, _tail(n.log)))
                if self._ready(n):
                    pending.remove(n)
            if pending and time.monotonic() > deadline:
                names = ", ".join(n.name for n in pending)
                tails = "\n".join("== %s (%s):\n%s" % (n.name, n.log, _tail(n.log))
                                  for n in pending)
                raise RuntimeError("mariadbd %s not ready after %.0f s\n%s" % (names, bound, tails))
            if pending:
                time.sleep(0.05)

    def start(self):
        """Installs (first time), starts both nodes in parallel and, the first time,
        creates the accounts, the test table and the replication connections."""
        t0 = time.monotonic()
        try:
            if not self._installed:
                self._install()
            todo = [n for n in self.nodes if self.pid(n.index) is None]
            for n in todo:
                self._launch(n)
            self._wait_ready(todo)
            if not self._configured:
                self._configure()
        except BaseException:
            self.stop()
            raise
        self._say("started in %.1f s" % (time.monotonic() - t0))

    def _configure(self):
        for n in self.nodes:
            peer = self.nodes[1 - n.index]
            stmts = ["SET sql_log_bin=0"]
            for user, grant in (("repl", "REPLICATION SLAVE"), ("monitor", "SLAVE MONITOR"),
                                ("nomon", None)):
                for host in self.client_hosts:
                    stmts.append("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'"
                                 % (user, host, PASSWORDS[user]))
                    if grant:
                        stmts.append("GRANT %s ON *.* TO '%s'@'%s'" % (grant, user, host))
            # 11.8 replicates over TLS by default (a certificate the server made itself,
            # Master_SSL_Verify_Server_Cert Yes), 10.11 in plain text: neither needs a setting.
            stmts += [
                "CREATE DATABASE app",
                "CREATE TABLE app.t (id INT PRIMARY KEY, v INT)",
                "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='repl', "
                "MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1"
                % (self.host[peer.index], peer.port, PASSWORDS["repl"]),
            ]
            self.sql(n.index, ";\n".join(stmts))
        for n in self.nodes:
            self.sql(n.index, "START SLAVE")
        self._configured = True

    def stop(self):
        """Stops both nodes: SIGTERM by PID, SIGKILL after STOP_BOUND_S. Idempotent."""
        for n in self.nodes:
            if n.proc is not None:
                stop_process(n.proc)
                n.frozen = False
        if self.sockdir != self.workdir:
            for n in self.nodes:
                try:
                    os.unlink(n.socket)
                except OSError:
                    pass
            try:
                os.rmdir(self.sockdir)
            except OSError:
                pass
        if all(n.proc is None or n.proc.poll() is not None for n in self.nodes):
            self._remove_mountpoints()

    def kill(self, i):
        """SIGKILL node i (by PID) and reap it."""
        n = self.nodes[i]
        if n.proc is not None and n.proc.poll() is None:
            os.kill(n.proc.pid, signal.SIGKILL)
            n.proc.wait(10)
        if n.proc is not None:
            forget(n.proc)
        n.frozen = False

    def restart(self, i, bound=START_BOUND_S):
        """Starts node i again on the same port (after kill() or a stop); stops it first
        (SIGTERM) if it is still running."""
        n = self.nodes[i]
        if n.proc is not None and n.proc.poll() is None:
            stop_process(n.proc)
        if n.proc is not None:
            forget(n.proc)
        self._launch(n)
        self._wait_ready([n], bound)

    def freeze(self, i):
        n = self.nodes[i]
        os.kill(n.proc.pid, signal.SIGSTOP)
        n.frozen = True

    def thaw(self, i):
        n = self.nodes[i]
        if n.proc is not None and n.proc.poll() is None:
            os.kill(n.proc.pid, signal.SIGCONT)
        n.frozen = False

    # ----------------------------------------------------------------- SQL
    def sql(self, i, statement, user="root", password=None, tcp=False, columns=False,
            timeout=SQL_TIMEOUT_S):
        """Runs statement(s) on node i with the mariadb client (batch mode) and returns the
        rows of the last result set as tuples of str (None for NULL). As root over the
        unix socket by default; tcp=True connects to 127.0.0.1:port. columns=True returns
        a list of dicts (column name -> value) instead. Raises SqlError."""
        n = self.nodes[i]
        if password is None and user != "root":
            password = PASSWORDS[user]
        argv = [MARIADB_CLIENT, "--no-defaults", "--batch", "--user=" + user,
                "--connect-timeout=5"]
        if not columns:
            argv.append("--skip-column-names")
        if tcp:
            argv += ["--protocol=TCP", "--host=127.0.0.1", "--port=%d" % n.port]
        else:
            argv += ["--protocol=SOCKET", "--socket=" + n.socket]
        env = dict(os.environ)
        env.pop("MYSQL_PWD", None)
        if password:
            env["MYSQL_PWD"] = password  # keeps it off the command line
        argv += ["-e", statement]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise SqlError("timeout", "no answer from %s within %.0f s" % (n.name, timeout),
                           statement)
        err = r.stderr.decode("utf-8", "replace").strip()
        if r.returncode != 0:
            m = re.search(r"^ERROR (\d+)", err, re.M)
            errno = int(m.group(1)) if m else None
            raise SqlError(errno, err, statement)
        lines = r.stdout.decode("utf-8", "replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        rows = [tuple(_unescape(f) for f in line.split("\t")) for line in lines]
        if columns:
            if not rows:
                return []
            head = [h or "" for h in rows[0]]
            return [dict(zip(head, row)) for row in rows[1:]]
        return rows

    def value(self, i, statement, **kw):
        """The first column of the first row, or None."""
        rows = self.sql(i, statement, **kw)
        return rows[0][0] if rows else None

    def slave_status(self, i):
        """SHOW ALL SLAVES STATUS on node i as a list of dicts."""
        return self.sql(i, "SHOW ALL SLAVES STATUS", columns=True)

    def wait_replicating(self, timeout=30):
        """Waits until both nodes have IO and SQL threads running on every connection."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                ok = True
                last = []
                for n in self.nodes:
                    st = self.slave_status(n.index)
                    last.append((n.name, [(s.get("Connection_name"), s.get("Slave_IO_Running"),
                                           s.get("Slave_SQL_Running"), s.get("Last_IO_Error"),
                                           s.get("Last_SQL_Error")) for s in st]))
                    if not st or any(s.get("Slave_IO_Running") != "Yes"
                                     or s.get("Slave_SQL_Running") != "Yes" for s in st):
                        ok = False
                if ok:
                    return
            except SqlError as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise TimeoutError("pair not replicating after %.0f s: %s" % (timeout, last))
            time.sleep(0.1)

    def sync(self, timeout=30):
        """Waits until each node has applied everything its peer has binlogged so far."""
        for n in self.nodes:
            peer = self.nodes[1 - n.index]
            pos = self.value(peer.index, "SELECT @@gtid_binlog_pos") or ""
            if not pos:
                continue
            r = self.value(n.index, "SELECT MASTER_GTID_WAIT('%s', %d)" % (pos, timeout),
                           timeout=timeout + 10)
            if r != "0":
                raise TimeoutError("%s did not reach %s's position %s within %d s"
                                   % (n.name, peer.name, pos, timeout))

    # ----------------------------------------------------------------- faults and extras
    def setup_heartbeat(self, timeout=30):
        """The heartbeat table replmon.heartbeat (HEARTBEAT_DDL), created on db1 with
        sql_log_bin=1 so that it replicates, and the monitor's grant on it on every node
        (sql_log_bin=0, like the pair's other accounts), as README.md says."""
        self.sql(0, HEARTBEAT_DDL)
        self.sync(timeout)  # the table must be on db2 before the grant there
        for i in (0, 1):
            self.sql(i, "SET sql_log_bin=0; " + "; ".join(
                "GRANT SELECT, INSERT, UPDATE ON replmon.heartbeat TO 'monitor'@'%s'" % host
                for host in self.client_hosts))
        self.sync(timeout)
        for i in (0, 1):
            if self.sql(i, "SHOW TABLES FROM replmon") != [("heartbeat",)]:
                raise RuntimeError("replmon.heartbeat missing on %s" % self.name(i))

    def cause_duplicate_key(self, base=1000, replica=1):
        """Stops the SQL thread of node `replica` (db2 by default) on a duplicate key: a
        row inserted on it only (sql_log_bin=0), then the same key on its peer. Returns the
        key, for repair_duplicate_key()."""
        key = base + int(time.time()) % 100000
        self.sql(replica, "SET sql_log_bin=0; INSERT INTO app.t (id, v) VALUES (%d, %d)"
                 % (key, replica + 1))
        self.sql(1 - replica, "INSERT INTO app.t (id, v) VALUES (%d, %d)" % (key, 2 - replica))
        return key

    def repair_duplicate_key(self, key, replica=1):
        """Deletes the replica's own row (sql_log_bin=0) and restarts its SQL thread, which
        then applies its peer's insert."""
        self.sql(replica, "SET sql_log_bin=0; DELETE FROM app.t WHERE id=%d; START SLAVE" % key)

    def set_master_delay(self, i, seconds):
        """MASTER_DELAY of node i's replication connection (0: none)."""
        self.sql(i, "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=%d; START SLAVE" % seconds)

    # ----------------------------------------------------------------- replmon config
    def write_password_file(self, path, user):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(PASSWORDS[user] + "\n")
        return path

    def write_replmon_config(self, path, user, password_file=None, poll_interval="1s",
                             connect_timeout="1s", query_timeout="2s", lag_warning="5s",
                             lag_critical="30s", cluster="chatdb", password_env=None,
                             cluster_extra=""):
        """Writes replmon's YAML for this pair. If password_file does not exist yet and the
        user is one of the pair's accounts, it is created (mode 0600) with its password.
        With password_env instead, the config names that variable. cluster_extra: more
        keys of the cluster (lines indented by four spaces), before its nodes."""
        if (password_file is None) == (password_env is None):
            raise ValueError("give exactly one of password_file, password_env")
        if password_file is not None:
            password_file = os.path.abspath(password_file)
            if not os.path.exists(password_file) and user in PASSWORDS:
                self.write_password_file(password_file, user)
            secret = "    password_file: %s\n" % password_file
        else:
            secret = "    password_env: %s\n" % password_env
        text = ("global:\n"
                "  poll_interval: %s\n"
                "  connect_timeout: %s\n"
                "  query_timeout: %s\n"
                "  lag_warning: %s\n"
                "  lag_critical: %s\n"
                "mariadb:\n"
                "  - cluster: %s\n"
                "    user: %s\n"
                "%s"
                "%s"
                "    nodes:\n"
                % (poll_interval, connect_timeout, query_timeout, lag_warning, lag_critical,
                   cluster, user, secret, cluster_extra))
        for n in self.nodes:
            text += "      - name: %s\n        address: %s\n" % (n.name, self.address(n.index))
        with open(path, "w") as f:
            f.write(text)
        return path


# --------------------------------------------------------------------------------------

class HeldSession:
    """A root session on a pair's node that holds something (a row lock, a table lock) until
    release(): hold is sent, its one-line answer must be expect, and undo ends it.

        lock = HeldSession(pair, 1, "LOCK TABLES app.t READ; SELECT 'locked';", "locked",
                           "UNLOCK TABLES;")
    """

    def __init__(self, pair, node, hold, expect, undo):
        self.undo = undo
        self.proc = subprocess.Popen(
            [MARIADB_CLIENT, "--no-defaults", "--batch", "--skip-column-names", "--unbuffered",
             "--user=root", "--protocol=SOCKET", "--socket=" + pair.nodes[node].socket],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        common.register_cleanup(self.release)
        self.proc.stdin.write((hold + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().decode().strip()
        if line != expect:
            self.release()
            raise RuntimeError("%s: got %r, not %r" % (hold, line, expect))

    def release(self):
        if self.proc is not None:
            try:
                self.proc.stdin.write((self.undo + "\n").encode())
                self.proc.stdin.close()
            except OSError:
                pass
            common.stop_process(self.proc, bound=5)
            self.proc = None
        common.unregister_cleanup(self.release)


class PairReplmonCase(FixtureCase):
    """common.FixtureCase whose fixture is a Pair (cls.pair, in workdir/pair) and one
    replmon watching it as cluster CLUSTER. Hooks: prepare_pair() runs once the pair
    replicates (the heartbeat table, say); make_config(path) writes replmon's YAML and
    returns its path (by default write_replmon_config with poll 1 s, connect 1 s, query
    2 s and the monitor account)."""

    KEPT = "logs and datadirs"
    CLUSTER = "chatdb"
    pair = None

    @classmethod
    def start_fixture(cls):
        cls.pair = Pair(os.path.join(cls.workdir, "pair"))
        cls.pair.start()
        cls.pair.wait_replicating(30)
        cls.prepare_pair()
        cls.start_replmon(cls.make_config(os.path.join(cls.workdir, "replmon.yml")))

    @classmethod
    def prepare_pair(cls):
        pass

    @classmethod
    def make_config(cls, path):
        return cls.pair.write_replmon_config(
            path, "monitor", os.path.join(cls.workdir, "monitor.pass"), poll_interval="1s",
            connect_timeout="1s", query_timeout="2s", cluster=cls.CLUSTER)

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()
        if cls.pair is not None:
            cls.pair.stop()
            cls.pair = None

    def link(self, node):
        """Labels of the default replication connection on node (db1 reads from db2)."""
        return dict(cluster=self.CLUSTER, node=node, connection="",
                    source="db2" if node == "db1" else "db1")

    def replicating(self, m):
        return all(m.get("mariadb_replica_io_running", **self.link(n)) == 1 and
                   m.get("mariadb_replica_sql_running", **self.link(n)) == 1 and
                   m.get("mariadb_up", cluster=self.CLUSTER, node=n) == 1 for n in NODE_NAMES)

    def wait_restored(self, what):
        """The pair replicates again and /metrics says so: (metrics, seconds)."""
        self.pair.wait_replicating(self.BOUND_S)
        return self.wait_for(self.replicating, what=what + ": back to healthy",
                             show=("mariadb_up", "_running"))


if __name__ == "__main__":
    # Self-check: python3 mariadb_pair.py [workdir]
    import tempfile
    install_signal_handlers()
    wd = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mariadb-pair-")
    p = Pair(wd, verbose=True)
    try:
        t0 = time.monotonic()
        p.start()
        p.wait_replicating(30)
        print("replicating after %.1f s; ports %d %d"
              % (time.monotonic() - t0, p.port(0), p.port(1)))
        p.sql(0, "INSERT INTO app.t (id, v) VALUES (1, 10)")
        p.sql(1, "INSERT INTO app.t (id, v) VALUES (2, 20)")
        p.sync()
        for i in (0, 1):
            print(p.name(i), p.sql(i, "SELECT id, v FROM app.t ORDER BY id"))
        st = p.sql(0, "SHOW ALL SLAVES STATUS", user="monitor", tcp=True, columns=True)
        print("monitor sees", [(s["Connection_name"], s["Slave_IO_Running"]) for s in st])
        try:
            p.sql(0, "SHOW ALL SLAVES STATUS", user="nomon", tcp=True)
            print("nomon: UNEXPECTEDLY allowed")
        except SqlError as e:
            print("nomon refused with", e.errno)
    finally:
        p.stop()
        if len(sys.argv) <= 1:
            shutil.rmtree(wd, ignore_errors=True)
