#!/usr/bin/env python3
"""MariaDB TLS per cluster on the real daemon against one real mariadbd (10.11) on 127.0.0.1
with a throwaway CA made with openssl. One replmon watches the same node as several
clusters, each with its own tls block:

    good     monitor (REQUIRE SSL), the right CA, verify_server_cert: TLS, up 1
    plain    monitor without tls: refused by the server (REQUIRE SSL), reason auth
    wrongca  monitor, another throwaway CA: up 0, reason tls
    x509     x509mon (REQUIRE X509) with cert_file/key_file: up 1
    nocert   x509mon without a client certificate: refused, reason auth
    aliencert      x509mon with a client certificate of another CA: refused, reason tls
    wronghost      the right CA but the node as localhost (not in its certificate): reason tls
    nohostcheck    the same with verify_server_cert: false: up 1
    anyuser  anymon (no REQUIRE) with tls: up 1, and up 0 (reason tls) once the node offers
             no TLS, where a plaintext fallback would have logged in
    noverify       anymon with only verify_server_cert: false (no CA, so only SSL_ENFORCE
                   asks for TLS): the same

then: a reload with a missing key file (refused, the running configuration stays), a reload
that gives wrongca the right CA, the node restarted without TLS (every cluster with tls: up 0,
reason tls), errors in the tls block at start-up, no password or key in the log,
replmon-check on the same file, and a clean SIGTERM.

    python3 tests/integration/test_mariadb_tls.py [-v] [TestMariaDBTLS.test_03_wrong_ca ...]

Env: REPLMON (binary, default build/replmon), REPLMON_CHECK (default build/replmon-check),
KEEP_WORKDIR=1. The last line is
`integration-mariadb-tls: N passed, M failed`.
"""

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import FixtureCase, replmon_path, run_suite  # noqa: E402
from mariadb_pair import PASSWORDS, Pair  # noqa: E402
from test_operator import run_check  # noqa: E402

X509_PASSWORD = "x509mon-Secret-4"
ANY_PASSWORD = "anymon-Secret-5"
USERS = {"monitor": PASSWORDS["monitor"], "x509mon": X509_PASSWORD, "anymon": ANY_PASSWORD}
CLUSTERS = ("good", "plain", "wrongca", "x509", "nocert", "wronghost", "nohostcheck", "anyuser",
            "noverify", "aliencert")
USER_OF = {"x509": "x509mon", "nocert": "x509mon", "aliencert": "x509mon", "anyuser": "anymon",
           "noverify": "anymon"}
POLL_S, CONNECT_S, QUERY_S = 0.5, 1, 2


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    """A throwaway CA: name.pem and name.key (EC keys: quick to make)."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
            "-subj", "/CN=replmon test " + name, cwd=d)


def make_cert(d, name, ca, ext):
    """name.pem and name.key signed by ca, with the one extension line ext."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext",
            cwd=d)
    os.chmod(os.path.join(d, name + ".key"), 0o600)


class TlsNode(Pair):
    """One node of mariadb_pair.Pair (its start, stop, restart and sql), started with the
    server certificate while self.tls is true, with the accounts of this suite only."""

    def __init__(self, workdir, certs):
        super().__init__(workdir, shared=(certs,))
        self.nodes = self.nodes[:1]
        self.certs = certs
        self.tls = True

    def _argv(self, n):
        argv = super()._argv(n)
        if self.tls:
            argv += ["--ssl-ca=" + os.path.join(self.certs, "ca.pem"),
                     "--ssl-cert=" + os.path.join(self.certs, "server.pem"),
                     "--ssl-key=" + os.path.join(self.certs, "server.key")]
        else:
            # 10.11 offers no TLS without a certificate; 11.8 makes one of its own unless
            # told not to.
            argv.append("--skip-ssl")
        return argv

    def _configure(self):
        stmts = ["SET sql_log_bin=0"]
        for user, require in (("monitor", " REQUIRE SSL"), ("x509mon", " REQUIRE X509"),
                              ("anymon", "")):
            stmts += ["CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'%s"
                      % (user, USERS[user], require),
                      "GRANT SLAVE MONITOR ON *.* TO '%s'@'127.0.0.1'" % user]
        self.sql(0, ";\n".join(stmts))
        self._configured = True


class TestMariaDBTLS(FixtureCase):
    LABEL = "integration-mariadb-tls"
    KEPT = "logs, certificates and the datadir"
    WORKDIR_PREFIX = "replmon-tls-"
    BOUND_S = 15.0
    SCRAPE_EVERY_S = 0.2
    timings = []
    node = None

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        for tool in ("openssl", "mariadbd", "mariadb-install-db", "mariadb"):
            if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
                raise RuntimeError("%s not found" % tool)

    @classmethod
    def start_fixture(cls):
        d = cls.certs = os.path.join(cls.workdir, "certs")
        os.makedirs(d)
        make_ca(d, "ca")
        make_ca(d, "other-ca")
        make_cert(d, "server", "ca", "subjectAltName=IP:127.0.0.1")
        make_cert(d, "client", "ca", "extendedKeyUsage=clientAuth")
        make_cert(d, "alien", "other-ca", "extendedKeyUsage=clientAuth")
        with open(os.path.join(d, "client.key")) as f:
            cls.client_key = f.read()
        cls.node = TlsNode(os.path.join(cls.workdir, "node"), d)
        cls.node.start()
        for user, password in USERS.items():
            path = os.path.join(cls.workdir, user + ".pass")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
        cls.start_replmon(cls.write_config(os.path.join(cls.workdir, "replmon.yml")))

    @classmethod
    def stop_fixture(cls):
        super().stop_fixture()
        if cls.node is not None:
            cls.node.stop()
            cls.node = None

    @classmethod
    def write_config(cls, path, wrongca_ca="other-ca.pem", x509_key="client.key"):
        """One cluster per case, all on the one node (node names are unique per file)."""
        c = cls.certs
        tls = {
            "good": "{ca_file: %s/ca.pem, verify_server_cert: true}" % c,
            "plain": None,
            "wrongca": "{ca_file: %s/%s}" % (c, wrongca_ca),
            "x509": "{ca_file: %s/ca.pem, cert_file: %s/client.pem, key_file: %s/%s}"
                    % (c, c, c, x509_key),
            "nocert": "{ca_file: %s/ca.pem}" % c,
            "wronghost": "{ca_file: %s/ca.pem}" % c,
            "nohostcheck": "{ca_file: %s/ca.pem, verify_server_cert: false}" % c,
            "anyuser": "{ca_file: %s/ca.pem}" % c,
            "noverify": "{verify_server_cert: false}",
            "aliencert": "{ca_file: %s/ca.pem, cert_file: %s/alien.pem, key_file: %s/alien.key}"
                         % (c, c, c),
        }
        # The server's certificate names IP:127.0.0.1 only.
        host = {"wronghost": "localhost", "nohostcheck": "localhost"}
        text = ("global: {poll_interval: %dms, connect_timeout: %ds, query_timeout: %ds}\n"
                "mariadb:\n" % (POLL_S * 1000, CONNECT_S, QUERY_S))
        for name in CLUSTERS:
            user = USER_OF.get(name, "monitor")
            text += ("  - cluster: %s\n    user: %s\n    password_file: %s/%s.pass\n"
                     % (name, user, cls.workdir, user))
            if tls[name]:
                text += "    tls: %s\n" % tls[name]
            text += ("    nodes: [{name: %s-db1, address: '%s:%d'}]\n"
                     % (name, host.get(name, "127.0.0.1"), cls.node.port(0)))
        with open(path, "w") as f:
            f.write(text)
        return path

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def up(m, cluster):
        return m.get("mariadb_up", cluster=cluster, node=cluster + "-db1")

    @staticmethod
    def errors(m, cluster, reason):
        return m.get("replmon_probe_errors_total", kind="mariadb", cluster=cluster,
                     node=cluster + "-db1", reason=reason)

    def wait_up(self, cluster, value, what):
        return self.wait_for(lambda m: self.up(m, cluster) == value, what=what,
                             show=('cluster="%s"' % cluster,))[0]

    def wait_errors(self, cluster, reason, what, more_than=0):
        """mariadb_up 0 and errors_total{reason} above more_than: the metrics."""
        return self.wait_for(
            lambda m: self.up(m, cluster) == 0 and self.errors(m, cluster, reason) > more_than,
            what=what, show=('cluster="%s"' % cluster,))[0]

    def sighup(self, what):
        """SIGHUP, then waits for the log line the reload leaves."""
        log_before = len(self.replmon.log_text())
        os.kill(self.replmon.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + self.BOUND_S
        while time.monotonic() < deadline:
            new = self.replmon.log_text()[log_before:]
            if "configuration reloaded" in new or "reload failed" in new:
                return new
            time.sleep(0.05)
        self.fail("%s: no reload logged after SIGHUP:\n%s"
                  % (what, self.replmon.log_text()[-2000:]))

    # ------------------------------------------------------------------ tests
    def test_01_right_ca_is_tls(self):
        m = self.wait_up("good", 1, "good: up with the right CA")
        for reason in ("tls", "auth", "connect"):
            self.assertEqual(self.errors(m, "good", reason), 0, reason)
        # The account is REQUIRE SSL and replmon keeps its session open: the server holds a
        # session of it, which it only admits over TLS; the same account without tls is
        # refused (ERROR 1045, reason auth), so the requirement is real.
        rows = self.node.sql(0, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                "WHERE USER='monitor'")
        self.assertGreaterEqual(int(rows[0][0]), 1, "no monitor session on the server")
        self.wait_up("anyuser", 1, "anyuser: up over TLS")
        self.wait_up("noverify", 1, "noverify: up over TLS without verification")
        m = self.wait_errors("plain", "auth", "plain: the REQUIRE SSL account refused without TLS")
        self.assertEqual(self.errors(m, "plain", "tls"), 0)
        accepts = self.node.value(0, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                     "WHERE VARIABLE_NAME='SSL_ACCEPTS'")
        self.assertGreater(int(accepts), 0)

    def test_02_config_check(self):
        """Errors in the tls block stop start-up with one FILE:LINE:COL line."""
        bad = os.path.join(self.workdir, "bad.yml")
        cases = {
            "tls: {ca_file: %s/ca.pem, key_file: %s/client.key}" % (self.certs, self.certs):
                "tls.key_file: needs cert_file",
            "tls: {ca_file: %s/nothere.pem}" % self.certs: "tls.ca_file: cannot read",
            "tls: {ca_fil: x}": "tls: unknown key 'ca_fil'",
            "tls: {ca_file: %s/ca.pem, verify_server_cert: yes}" % self.certs:
                "tls.verify_server_cert: expected true or false",
        }
        for block, message in cases.items():
            with open(bad, "w") as f:
                f.write("mariadb:\n  - cluster: c\n    user: u\n    %s\n"
                        "    nodes: [{name: n, address: '127.0.0.1:1'}]\n" % block)
            r = subprocess.run([replmon_path(), "--config.file=" + bad, "--config.check"],
                               capture_output=True, timeout=30)
            err = r.stderr.decode()
            self.assertEqual(r.returncode, 2, err)
            self.assertRegex(err, r"^%s:4:\d+: " % bad)
            self.assertIn(message, err)
            self.assertEqual(err.count("\n"), 1, err)

    def test_03_wrong_ca(self):
        m = self.wait_errors("wrongca", "tls", "wrongca: up 0 with reason tls")
        first = self.errors(m, "wrongca", "tls")
        self.assertEqual(self.errors(m, "wrongca", "connect"), 0)
        self.assertEqual(self.errors(m, "wrongca", "auth"), 0)
        self.wait_errors("wrongca", "tls", "wrongca: tls errors keep counting", more_than=first)
        log = self.replmon.log_text()
        self.assertRegex(log, r'level=error msg="probe failed".*cluster=wrongca.*reason=tls')

    def test_04_host_name(self):
        """verify_server_cert checks the name too: localhost is not in the certificate."""
        m = self.wait_errors("wronghost", "tls", "wronghost: up 0 with reason tls")
        self.assertEqual(self.errors(m, "wronghost", "connect"), 0)
        self.wait_up("nohostcheck", 1, "nohostcheck: up with verify_server_cert: false")

    def test_05_client_certificate(self):
        self.wait_up("x509", 1, "x509: up with cert_file and key_file")
        m = self.wait_errors("nocert", "auth", "nocert: REQUIRE X509 refused without a certificate")
        self.assertEqual(self.up(m, "x509"), 1)
        self.assertEqual(self.errors(m, "nocert", "tls"), 0)
        # A certificate the server does not trust: with TLS 1.3 the server refuses it only
        # once the client has sent its login, and replmon still says tls.
        m = self.wait_errors("aliencert", "tls", "aliencert: reason tls for a refused certificate")
        self.assertEqual(self.errors(m, "aliencert", "connect"), 0)

    def test_06_reload_carries_tls(self):
        path = self.config
        try:
            self.write_config(path, x509_key="missing.key")
            new = self.sighup("missing key")
            self.assertIn("reload failed", new)
            self.assertIn("tls.key_file: cannot read", new)
            self.assertIn("missing.key", new)
            m = self.scrape()
            self.assertEqual(self.up(m, "x509"), 1, "the running configuration stays")
            # The right CA for wrongca: its poller is replaced and connects over TLS.
            self.write_config(path, wrongca_ca="ca.pem")
            new = self.sighup("right CA")
            self.assertIn("configuration reloaded", new)
            m = self.wait_up("wrongca", 1, "wrongca: up after the reload with the right CA")
            self.assertEqual(self.up(m, "good"), 1)
            self.assertEqual(self.up(m, "x509"), 1)
        finally:
            self.write_config(path)
        new = self.sighup("back to the wrong CA")
        self.assertIn("configuration reloaded", new)
        self.wait_errors("wrongca", "tls", "wrongca: reason tls again after the reload")

    def test_07_no_plaintext_fallback(self):
        """The node restarted without TLS: the clusters that ask for TLS get reason tls, and
        no session of theirs is plaintext."""
        m = self.scrape()
        before = self.errors(m, "good", "tls")
        self.node.tls = False
        try:
            self.node.restart(0)
            self.assertEqual(self.node.value(0, "SELECT @@have_ssl"), "DISABLED")
            self.wait_errors("good", "tls",
                             "good: up 0 with reason tls against a server without TLS",
                             more_than=before)
            for cluster in ("x509", "anyuser", "noverify"):
                self.wait_errors(cluster, "tls", cluster + ": up 0 with reason tls")
            m = self.scrape()
            self.assertEqual(self.errors(m, "anyuser", "auth"), 0)
            self.assertEqual(self.errors(m, "noverify", "auth"), 0)
            m = self.wait_for(lambda m: self.errors(m, "good", "tls") > before + 1,
                              what="good: reconnects fail with reason tls",
                              show=('cluster="good"',))[0]
            self.assertEqual(self.up(m, "good"), 0)
            self.assertRegex(self.replmon.log_text(),
                             r'msg="probe failed".*cluster=good.*reason=tls.*'
                             r'SSL is required, but the server does not support it')
        finally:
            self.node.tls = True
            self.node.restart(0)
        self.wait_up("good", 1, "good: up again once the node offers TLS")

    def test_08_no_secret_in_the_log(self):
        log = self.replmon.log_text()
        for secret in USERS.values():
            self.assertNotIn(secret, log)
        body = [line for line in self.client_key.splitlines()
                if line and not line.startswith("-----")]
        self.assertTrue(body)
        for line in body:
            self.assertNotIn(line, log)

    def test_09_replmon_check(self):
        """replmon-check builds its probes from the same configuration: TLS included."""
        r = run_check("--config.file=" + self.config, "--node=x509-db1", "--format=nagios")
        self.assertEqual(r.status, 0, r)
        r = run_check("--config.file=" + self.config, "--node=wrongca-db1", "--format=nagios")
        self.assertEqual(r.status, 2, r)
        self.assertIn("TLS/SSL error", r.out, r)

    def test_10_sigterm(self):
        self.stop_replmon_cleanly()


if __name__ == "__main__":
    sys.exit(run_suite(TestMariaDBTLS, sys.argv[1:], "integration-mariadb-tls",
                       sys.modules[__name__], cleanup=TestMariaDBTLS._cleanup))
