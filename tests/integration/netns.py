"""Network namespaces for the fault suite (test_faults.py): throwaway namespaces joined by
veth pairs, the calling thread moved into one and back, and a forwarder from 127.0.0.1 to a
unix socket (how a process in the root namespace reaches a server inside one), or to the
same port on 127.0.0.1 inside a namespace (NetnsForwarder).

    ns = Netns("a")                 # `ip netns add rmf<PID>a`, its lo up
    ns.etc("hosts", "10.231.1.2 db2\\n")   # /etc/netns/<name>/hosts, bind-mounted by
    argv = ns.prefix() + ["mariadbd", ...]  # `ip netns exec <name>`
    veth(ns_a, "10.231.1.1/24", ns_b, "10.231.1.2/24")
    with ns.entered(): socket.socket(...)   # created inside the namespace
    delete_all()                    # also atexit and from common.stop_all_live()

Names carry the PID (rmf<PID><tag>, interfaces rf<PID><tag>), so parallel runs do not
collide, and namespaces left by a run that was SIGKILLed (its PID gone) are deleted by the
next one. Addresses: only a private /24 on the veths inside these namespaces; nothing is
added to the root namespace. Needs root and iproute2. Python 3 standard library only.
"""

import atexit
import ctypes
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import unittest
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import register_cleanup  # noqa: E402

__all__ = ["Netns", "veth", "delete_all", "UnixForwarder", "NetnsForwarder", "available"]

PREFIX = "rmf"
CLONE_NEWNET = 0x40000000
_live = []  # Netns objects not yet deleted
_libc = ctypes.CDLL(None, use_errno=True)


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args),
                                          (r.stdout + r.stderr).decode(errors="replace").strip()))
    return r.stdout.decode(errors="replace")


def available():
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) not installed"
    return None


def skip_unless_available():
    """For a suite's check_prerequisites: unittest.SkipTest when namespaces cannot be made."""
    why = available()
    if why:
        raise unittest.SkipTest(why)


def _sweep_stale():
    """Deletes the namespaces of earlier runs whose process is gone (SIGKILLed runners)."""
    try:
        names = ip("netns", "list", check=False).split("\n")
    except (OSError, subprocess.SubprocessError):
        return
    for line in names:
        m = re.match(r"^(%s(\d+)[a-z])\b" % PREFIX, line)
        if m and int(m.group(2)) != os.getpid() and not os.path.exists("/proc/" + m.group(2)):
            ip("netns", "del", m.group(1), check=False)
            shutil.rmtree("/etc/netns/" + m.group(1), ignore_errors=True)


class Netns:
    """One namespace rmf<PID><tag> with lo up; deleted by delete() (idempotent)."""

    def __init__(self, tag):
        if not _live:
            _sweep_stale()
        self.name = "%s%d%s" % (PREFIX, os.getpid(), tag)
        self._stay = None  # enter()'s context
        self.iface_prefix = "rf%d%s" % (os.getpid(), tag)  # at most 15 characters with 1 more
        ip("netns", "add", self.name)
        _live.append(self)
        ip("-n", self.name, "link", "set", "lo", "up")

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def ip(self, *args, check=True):
        return ip("-n", self.name, *args, check=check)

    def etc(self, filename, text):
        """/etc/netns/<name>/<filename>: `ip netns exec` bind-mounts it over /etc/<filename>."""
        d = "/etc/netns/" + self.name
        for attempt in (1, 2):  # a parallel run may rmdir /etc/netns between the two steps
            os.makedirs(d, exist_ok=True)
            try:
                with open(os.path.join(d, filename), "w") as f:
                    f.write(text)
                return
            except FileNotFoundError:
                if attempt == 2:
                    raise

    @contextmanager
    def entered(self):
        """Runs the block with the calling thread in this namespace: sockets it creates
        (and processes it starts) belong to the namespace. Moves back in any case."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open("/run/netns/" + self.name, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, "setns(%s): %s" % (self.name, os.strerror(e)))
            try:
                yield self
            finally:
                if _libc.setns(home, CLONE_NEWNET) != 0:  # never stay in a dying namespace
                    e = ctypes.get_errno()
                    raise OSError(e, "setns(back): %s" % os.strerror(e))
        finally:
            os.close(target)
            os.close(home)

    def enter(self):
        """Moves the calling thread into this namespace until delete(): a fixture's main
        thread, so that its servers, scrapes and children live there."""
        self._stay = self.entered()
        self._stay.__enter__()

    def delete(self):
        if self._stay is not None:
            stay, self._stay = self._stay, None
            stay.__exit__(None, None, None)
        if self in _live:
            _live.remove(self)
            ip("netns", "del", self.name, check=False)  # its veths go with it
            shutil.rmtree("/etc/netns/" + self.name, ignore_errors=True)
            try:
                os.rmdir("/etc/netns")  # only when no other namespace has files there
            except OSError:
                pass


def veth(a, addr_a, b, addr_b, tag=""):
    """A veth pair from namespace a (address addr_a, e.g. 10.231.1.1/24) to b; both up.
    Returns the two interface names."""
    ia, ib = a.iface_prefix + tag, b.iface_prefix + tag
    ip("link", "add", ia, "netns", a.name, "type", "veth", "peer", "name", ib, "netns", b.name)
    for ns, iface, addr in ((a, ia, addr_a), (b, ib, addr_b)):
        ns.ip("addr", "add", addr, "dev", iface)
        ns.ip("link", "set", iface, "up")
    return ia, ib


def delete_all():
    for ns in list(_live):
        ns.delete()


atexit.register(delete_all)
register_cleanup(delete_all)


class UnixForwarder:
    """Listens on 127.0.0.1:port (in the namespace of the thread that creates it) and
    relays each connection to the unix socket at path: how replmon, in the root
    namespace, reaches a MariaDB node inside another one. Threads only; close() stops
    listening and cuts the relayed connections."""

    def __init__(self, port, path):
        self.port, self.path = port, path
        self.listener = socket.create_server(("127.0.0.1", port))
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            try:
                u = self._dial()
            except OSError:
                c.close()
                continue
            with self.lock:
                if self.closed:
                    c.close()
                    u.close()
                    return
                self.conns += [c, u]
            for src, dst in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _dial(self):
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            u.connect(self.path)
        except OSError:
            u.close()
            raise
        return u

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    def close(self):
        with self.lock:
            self.closed = True
            conns, self.conns = self.conns, []
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        self.listener.close()
        for s in conns:
            try:
                s.close()
            except OSError:
                pass


class NetnsForwarder(UnixForwarder):
    """Listens on 127.0.0.1:port of the calling thread's namespace and relays each
    connection to 127.0.0.1:port inside namespace ns: how the tests, in the root namespace,
    reach a replmon that runs in a namespace of its own."""

    def __init__(self, port, ns):
        self.ns = ns
        super().__init__(port, None)

    def _dial(self):
        with self.ns.entered():
            u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.connect(("127.0.0.1", self.port))
        except OSError:
            u.close()
            raise
        return u
