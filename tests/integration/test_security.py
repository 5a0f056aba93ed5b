#!/usr/bin/env python3
"""The web configuration on the real daemon: TLS (with and without client certificates),
basic auth with a bcrypt hash, /-/healthy left open, promtool's view of the same file, and
refused files at start-up. No database is needed: the one node points at a closed port.

    python3 tests/integration/test_security.py [-v]
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import base64
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import (ReplmonCase, free_port, replmon_path, run_suite, spawn,  # noqa: E402
                    stop_process)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (libxcrypt's bcrypt, as replmon uses it)

PASSWORD = "s3cret-Planted-7"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class TestSecurity(ReplmonCase):
    workdir = None

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="replmon-sec-")
        d = cls.workdir
        # A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it.
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", "/CN=replmon test CA", cwd=d)
        for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                          ("client", "extendedKeyUsage=clientAuth")):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                    name + ".csr", "-subj", "/CN=" + name, cwd=d)
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write(ext + "\n")
            openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                    name + ".ext", cwd=d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cls.hash = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
        with open(os.path.join(d, "replmon.yml"), "w") as f:
            f.write("mariadb: [{cluster: c, user: u, password_env: REPLMON_SEC_PW, "
                    "nodes: [{name: db1, address: '127.0.0.1:1'}]}]\n")
        cls.procs = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            stop_process(p)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def start(self, web_yaml, tag):
        path = os.path.join(self.workdir, tag + ".web.yml")
        with open(path, "w") as f:
            f.write(web_yaml)
        port = free_port()
        log = os.path.join(self.workdir, tag + ".log")
        env = dict(os.environ, REPLMON_SEC_PW=PASSWORD)
        proc = spawn([replmon_path(), "--config.file=" + os.path.join(self.workdir, "replmon.yml"),
                      "--web.config.file=" + path, "--web.listen-address=127.0.0.1:%d" % port],
                     log, env=env)
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port, path, log, proc
            except OSError:
                if proc.poll() is not None:
                    self.fail("replmon exited %s: %s" % (proc.returncode, open(log).read()))
                time.sleep(0.05)
        self.fail("replmon not listening")

    def get(self, port, path, user=None, password=None, cert=None):
        ctx = ssl.create_default_context(cafile=os.path.join(self.workdir, "ca.pem"))
        if cert:
            ctx.load_cert_chain(os.path.join(self.workdir, cert + ".pem"),
                                os.path.join(self.workdir, cert + ".key"))
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path))
        if user:
            token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_01_tls_and_basic_auth(self):
        web = ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
               "basic_auth_users:\n  prometheus: %s\n" % self.hash)
        port, path, log, proc = self.start(web, "auth")
        r = subprocess.run(["promtool", "check", "web-config", path], capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        status, headers, _ = self.get(port, "/metrics")
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("WWW-Authenticate", ""))
        self.assertEqual(self.get(port, "/metrics", "prometheus", "wrong")[0], 401)
        self.assertEqual(self.get(port, "/", "nobody", PASSWORD)[0], 401)
        status, _, body = self.get(port, "/metrics", "prometheus", PASSWORD)
        self.assertEqual(status, 200)
        self.assertIn(b"mariadb_up", body)
        self.assertEqual(self.get(port, "/-/healthy")[0], 200)  # open, as in every exporter
        for p in ("/", "/health/db1", "/probe?target=db1"):
            self.assertEqual(self.get(port, p)[0], 401, p)
        # Plain HTTP on the TLS port gets no metrics.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            try:
                data = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                data = b""
        self.assertNotIn(b"mariadb_up", data)
        # No planted secret in any answer or in the log.
        for p in ("/", "/metrics"):
            self.assertNotIn(PASSWORD.encode(), self.get(port, p, "prometheus", PASSWORD)[2])
        self.assertNotIn(PASSWORD, open(log).read())

    def test_02_client_certificates(self):
        web = ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
               "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n")
        port, path, _, _ = self.start(web, "mtls")
        try:
            status = self.get(port, "/metrics")[0]
        except (ssl.SSLError, ConnectionResetError, urllib.error.URLError):
            status = "refused"
        self.assertIn(status, (403, "refused"))
        self.assertEqual(self.get(port, "/metrics", cert="client")[0], 200)

    def test_03_bad_files_stop_start_up(self):
        cases = {
            "tls_server_config:\n  cert_file: server.pem\n  key_file: nokey.pem\n":
                "key_file: cannot read",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n":
                "not a matching PEM certificate and key",
            "basic_auth_users:\n  prometheus: plain\n": "expected a bcrypt hash",
            "tls_server_config:\n  cert_fil: x\n": "unknown key 'cert_fil'",
        }
        for text, message in cases.items():
            path = os.path.join(self.workdir, "bad.web.yml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([replmon_path(), "--config.file=" + os.path.join(
                self.workdir, "replmon.yml"), "--web.config.file=" + path],
                capture_output=True, timeout=30, env=dict(os.environ, REPLMON_SEC_PW="x"))
            self.assertEqual(r.returncode, 2, r.stderr)
            err = r.stderr.decode()
            self.assertTrue(err.startswith(path + ":"), err)
            self.assertIn(message, err)
            self.assertEqual(err.count("\n"), 1, err)


if __name__ == "__main__":
    sys.exit(run_suite(TestSecurity, sys.argv[1:], "integration-security",
                       sys.modules[__name__]))
