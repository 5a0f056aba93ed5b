#!/usr/bin/env python3
"""Integration test of the status page (/): a real MariaDB pair, the real replmon, and the
page as headless Chromium renders it.

Run:  python3 tests/integration/test_status_page.py [-v] [TestStatusPage.test_02_broken ...]
Env:  REPLMON                     the binary (default build/replmon, relative to the repo root)
      CHROMIUM                    the browser (default /usr/bin/chromium, Debian package
                                  `chromium`: apt-get install -y chromium)
      REPLMON_UPDATE_SCREENSHOT=1 also copy the desktop screenshot to docs/status-page.png
      FAULT_TIMINGS               file to which `name seconds` lines are appended
      KEEP_WORKDIR=1              keep the temporary directory even when all pass

It starts the pair of mariadb_pair.py and replmon (poll 1 s), checks that both cards are
green, then stops db2's SQL thread with a duplicate key (as test_mariadb.py does), waits for
the page to say so, and asserts on the DOM Chromium dumps: db2's card is state-critical with
a reason that names error 1062, db1's is state-ok. Screenshots at 1200x900 and 390x844 (a
phone) are kept in build/artifacts/ (status-page.png, status-page-phone.png); their pixels
are checked for the layout: cards side by side on the desktop, one full-width column and
nothing cut off on the phone. Finally the conflict is repaired and db2 turns green again.

Every Chromium run logs the page's console (--enable-logging=stderr): the page must log
nothing, so no Content-Security-Policy violation under the policy replmon sends. Last, the
page's bytes as replmon served them are served again from a local server, once with
replmon's headers and once with none: the two screenshots must be the same pixels (the
policy changes nothing the page shows), while the same page under a policy that forbids its
style sheet must log a violation and look different (the checks can fail).

Prints `integration-status-page: N passed, M failed[, K skipped]` last and exits non-zero on
failure. Python standard library, the `mariadb` client and Chromium; every page is loaded
from 127.0.0.1 and Chromium runs with a fresh profile and without background networking;
every process started is stopped by PID (Chromium by its own process group). About 30 s.
"""

import html.parser
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import REPO, http  # noqa: E402
from mariadb_pair import PASSWORDS, PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0   # as in test_mariadb.py
BOUND_S = 2 * POLL_S + CONNECT_S + QUERY_S + 15.0
SCRAPE_EVERY_S = 0.2

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_TIMEOUT_S = 60.0
DESKTOP, PHONE = (1200, 900), (390, 844)
ARTIFACTS = os.path.join(REPO, "build", "artifacts")
DOCS_SCREENSHOT = os.path.join(REPO, "docs", "status-page.png")

# The page's colours (exporter/status_page.c, light scheme): the background and the cards.
PAGE_BG = (0xF3, 0xF5, 0xF7)
CARD_BG = (0xFF, 0xFF, 0xFF)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


# --------------------------------------------------------------------------------------
# The page as a list of cards

class Card:
    def __init__(self, attrs):
        self.node = attrs.get("data-node")
        self.state = attrs.get("data-state")
        self.classes = (attrs.get("class") or "").split()
        self.reason = None
        self.since = None
        self.text = ""

    def __repr__(self):
        return "Card(%s, %s, %s, reason=%r, since=%r)" % (self.node, self.state, self.classes,
                                                          self.reason, self.since)


class Page(html.parser.HTMLParser):
    """The cards (article elements with data-node), their reason and since texts, and the
    page's head: refresh, links, and anything loaded from elsewhere."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.cards = {}
        self.refresh = None
        self.viewport = None
        self.links = []         # (text, href)
        self.external = []      # tags that would load something
        self.title = ""
        self._card, self._depth = None, 0
        self._capture, self._capture_depth, self._buf = None, 0, []
        self._in_a, self._a_href, self._a_text = False, None, []
        self._in_title = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            self.refresh = a.get("content")
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = a.get("content")
        url = a.get("src") or a.get("href") or ""
        if tag in ("script", "img", "iframe", "object", "embed") or \
                (tag == "link" and "stylesheet" in (a.get("rel") or "")) or \
                (tag in ("link", "script", "img") and url and not url.startswith("data:")):
            self.external.append((tag, a))
        if tag == "title":
            self._in_title = True
        if tag == "a":
            self._in_a, self._a_href, self._a_text = True, a.get("href"), []
        if tag in VOID:
            return
        if self._card is None and tag == "article" and "data-node" in a:
            self._card, self._depth = Card(a), 0
            self.cards[self._card.node] = self._card
        if self._card is not None:
            self._depth += 1
            classes = (a.get("class") or "").split()
            if self._capture is None and ("reason" in classes or "since" in classes):
                self._capture = "reason" if "reason" in classes else "since"
                self._capture_depth, self._buf = self._depth, []

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "a" and self._in_a:
            self.links.append(("".join(self._a_text).strip(), self._a_href))
            self._in_a = False
        if tag in VOID or self._card is None:
            return
        if self._capture is not None and self._depth == self._capture_depth:
            setattr(self._card, self._capture, "".join(self._buf).strip())
            self._capture = None
        self._depth -= 1
        if self._depth == 0:
            self._card = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_a:
            self._a_text.append(data)
        if self._card is not None:
            self._card.text += data
            if self._capture is not None:
                self._buf.append(data)


# --------------------------------------------------------------------------------------
# Chromium

def chromium_missing():
    if os.access(CHROMIUM, os.X_OK):
        return None
    return ("%s not found: install the Debian package with `apt-get install -y chromium` "
            "(or set CHROMIUM)" % CHROMIUM)


# A message of the page's console in Chromium's log, e.g. `[1:1:1204/201254.088614:INFO:
# CONSOLE:1] "Applying inline style violates the following Content Security Policy ..."`.
CONSOLE_LINE = re.compile(r":INFO:CONSOLE[:(]")


def console_messages(log_text):
    return [line for line in log_text.splitlines() if CONSOLE_LINE.search(line)]


def run_chromium(workdir, args, tag):
    """Runs headless Chromium with a fresh profile; returns its stdout (bytes) and the
    messages of the page's console (lines of its log). It runs in a session of its own, so
    that it and its helper processes are stopped by that process group's id, whatever
    happens."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir)
    out_path = os.path.join(workdir, "chromium-%s.out" % tag)
    err_path = os.path.join(workdir, "chromium-%s.log" % tag)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--enable-logging=stderr", "--v=0", "--user-data-dir=" + profile] + args
    try:
        start = os.path.getsize(err_path)
    except OSError:
        start = 0
    proc = None
    try:
        with open(out_path, "wb") as out, open(err_path, "ab") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True, preexec_fn=common._pdeathsig,
                                    close_fds=True)
        try:
            rc = proc.wait(CHROMIUM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError("chromium %s: no result within %.0f s; log:\n%s"
                                 % (tag, CHROMIUM_TIMEOUT_S, common.tail(err_path)))
        if rc != 0:
            raise AssertionError("chromium %s exited with %s; log:\n%s"
                                 % (tag, rc, common.tail(err_path)))
        with open(out_path, "rb") as f:
            out = f.read()
        with open(err_path, "rb") as f:
            f.seek(start)
            return out, console_messages(f.read().decode("utf-8", "replace"))
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group it leads: helpers left over
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def assert_quiet_console(console, what):
    """The page logged nothing: no Content-Security-Policy violation, no failed load."""
    if console:
        raise AssertionError("%s: the page's console in Chromium is not empty:\n%s"
                             % (what, "\n".join(console)))


def dump_dom(workdir, url, tag, console=None):
    """The DOM Chromium builds; the page's console must stay empty, or, with a list for
    console, its messages are appended there."""
    out, messages = run_chromium(workdir, ["--dump-dom", url], tag)
    if console is None:
        assert_quiet_console(messages, "%s (%s)" % (url, tag))
    else:
        console.extend(messages)
    return out.decode("utf-8", "replace")


def screenshot(workdir, url, path, size, tag, console=None):
    """As dump_dom, for a screenshot of size written to path."""
    if os.path.exists(path):
        os.unlink(path)
    _, messages = run_chromium(workdir, ["--hide-scrollbars", "--screenshot=" + path,
                                         "--window-size=%d,%d" % size, url], tag)
    if not os.path.exists(path):
        raise AssertionError("chromium wrote no screenshot to %s" % path)
    if console is None:
        assert_quiet_console(messages, "%s (%s)" % (url, tag))
    else:
        console.extend(messages)
    return path


class ReplayServer:
    """Serves one page body on 127.0.0.1 with the headers its path names (a dict per path),
    so that Chromium sees the same bytes under different headers."""

    def __init__(self, body, variants):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                headers = variants.get(self.path)
                if headers is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


# --------------------------------------------------------------------------------------
# PNG pixels (8-bit RGB or RGBA, not interlaced: what Chromium writes)

def read_png(path):
    """(width, height, rows): rows[y] is a bytes object of width * channels."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s is not a PNG" % path)
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise AssertionError("%s: unsupported PNG (depth %d, colour %d, interlace %d)"
                             % (path, depth, colour, interlace))
    ch = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * ch
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 255
        elif ftype == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - ch] if i >= ch else 0
                b = prev[i]
                c = prev[i - ch] if i >= ch else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [(r, ch) for r in rows]


def pixel(row, x):
    data, ch = row
    return tuple(data[x * ch:x * ch + 3])


def runs_of(row, width, colour, min_len):
    """[(start, end)] of the horizontal runs of colour at least min_len pixels long."""
    runs, start = [], None
    for x in range(width + 1):
        inside = x < width and pixel(row, x) == colour
        if inside and start is None:
            start = x
        elif not inside and start is not None:
            if x - start >= min_len:
                runs.append((start, x))
            start = None
    return runs


# --------------------------------------------------------------------------------------

class TestStatusPage(PairReplmonCase):
    LABEL = "integration-status-page"
    KEPT = "logs"
    WORKDIR_PREFIX = "replmon-page-"
    REPLMON_TAG = "page"
    CLUSTER = CLUSTER
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def check_prerequisites(cls):
        missing = chromium_missing()
        if missing:
            raise RuntimeError(missing)
        super().check_prerequisites()

    # ------------------------------------------------------------------ helpers
    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.replmon.port

    def fetch(self):
        """The page as replmon serves it (status, content type, text)."""
        status, headers, body, _ = http(self.replmon.port, "/")
        return status, headers.get("Content-Type", ""), body.decode("utf-8", "replace")

    def wait_page(self, predicate, what):
        """Polls / until predicate(Page) holds; returns (Page, seconds)."""
        t0 = time.monotonic()
        last, err = None, None
        while True:
            try:
                status, _, text = self.fetch()
                last = text
                if status == 200:
                    page = Page(text)
                    if predicate(page):
                        return page, time.monotonic() - t0
                    err = "cards: %s" % list(page.cards.values())
                else:
                    err = "status %d" % status
            except (OSError, ValueError) as e:
                err = e
            if time.monotonic() - t0 > BOUND_S:
                hint = ""
                if last is not None and "data-node=" not in last:
                    hint = ("\n/ does not serve the status page (no card with data-node): is "
                            "this binary's / route wired to status_page_render?")
                self.fail("%s: not true after %.1f s (%s)%s\nreplmon log tail:\n%s"
                          % (what, BOUND_S, err, hint, self.replmon.log_text()[-2000:]))
            time.sleep(SCRAPE_EVERY_S)

    @staticmethod
    def states(page):
        return {n: c.state for n, c in page.cards.items()}

    def assert_card(self, page, node, state):
        card = page.cards.get(node)
        self.assertIsNotNone(card, "no card for %s: %s" % (node, list(page.cards)))
        self.assertIn("card", card.classes, card)
        self.assertIn("state-" + state, card.classes, card)
        self.assertEqual(card.state, state, card)
        self.assertTrue(card.reason, "%s: no reason on its card: %r" % (node, card))
        return card

    def assert_no_secret(self, text):
        for user in ("monitor", "repl"):
            self.assertNotIn(PASSWORDS[user], text, "a password is on the page")

    # ------------------------------------------------------------------ tests
    def test_01_healthy(self):
        self.wait_page(lambda p: self.states(p) == {"db1": "ok", "db2": "ok"},
                       "both cards ok")
        status, ctype, text = self.fetch()
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/html"), ctype)
        self.assert_no_secret(text)
        # The page's security headers: a policy that allows only what the page uses.
        _, headers, _, _ = http(self.replmon.port, "/")
        self.assertRegex(headers.get("Content-Security-Policy", ""),
                         r"^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]{43}='; "
                         r"img-src data:; form-action 'self'; frame-ancestors 'none'; "
                         r"base-uri 'none'$")
        self.assertEqual(headers.get("X-Frame-Options"), "DENY")
        dom = dump_dom(self.workdir, self.url, "healthy-dom")
        page = Page(dom)
        for node in ("db1", "db2"):
            card = self.assert_card(page, node, "ok")
            self.assertIn("replicating", card.reason)
            self.assertIn(CLUSTER, card.text)
        self.assertEqual(page.refresh, "1", "refresh every poll interval (1 s)")
        self.assertIn("width=device-width", page.viewport or "")
        self.assertEqual(page.external, [], "the page must load nothing from elsewhere")
        self.assert_no_secret(dom)
        # The header's links lead somewhere that answers.
        self.assertIn(("Metrics", "/metrics"), page.links)
        hrefs = [href for _, href in page.links]
        for href in ("/", "/metrics", "/-/healthy", "/health/db1", "/probe?target=db1",
                     "/nosuch"):
            if href not in ("/", "/nosuch"):
                self.assertIn(href, hrefs, "link %s on the page" % href)
            st, headers, _, _ = http(self.replmon.port, href)
            self.assertEqual(st, 404 if href == "/nosuch" else 200, "GET %s" % href)
            # Every answer: no type sniffing, no Referer from replmon's pages.
            self.assertEqual(headers.get("X-Content-Type-Options"), "nosniff", href)
            self.assertEqual(headers.get("Referrer-Policy"), "no-referrer", href)
        print("\n    title: %s" % page.title.strip(), flush=True)

    def test_02_broken_sql_thread(self):
        # The row exists on db2 only; the same row written on db1 stops db2's SQL thread.
        key = self.pair.cause_duplicate_key(base=2000)
        t0 = time.monotonic()
        try:
            def broken(p):
                db2 = p.cards.get("db2")
                return db2 is not None and db2.state == "critical" and "1062" in (db2.reason or "")

            self.wait_page(broken, "db2 critical with error 1062")
            self.record_timing("status_page_critical", time.monotonic() - t0)
            # The since-line comes from the watcher's board, one poll later at most.
            self.wait_page(
                lambda p: ((p.cards.get("db2") or Card({})).since or "").startswith("down for"),
                "db2's card says since when it is down")

            dom = dump_dom(self.workdir, self.url, "broken-dom")
            page = Page(dom)
            db2 = self.assert_card(page, "db2", "critical")
            db1 = self.assert_card(page, "db1", "ok")
            print("    db2: %s | %s\n    db1: %s | %s" % (db2.since, db2.reason, db1.since,
                                                          db1.reason), flush=True)
            self.assertIn("1062", db2.reason)
            self.assertIn("SQL no", db2.reason)
            self.assertIn("Duplicate entry", db2.text, "the SQL error text is on the card")
            self.assertTrue(db1.since and db1.since.startswith("ok for"), db1)
            self.assertTrue(page.title.startswith("replmon: 1 critical"), page.title)
            self.assert_no_secret(dom)

            os.makedirs(ARTIFACTS, exist_ok=True)
            desktop = screenshot(self.workdir, self.url,
                                 os.path.join(ARTIFACTS, "status-page.png"), DESKTOP, "desktop")
            phone = screenshot(self.workdir, self.url,
                               os.path.join(ARTIFACTS, "status-page-phone.png"), PHONE, "phone")
            print("    screenshots: %s, %s" % (desktop, phone), flush=True)
            self.check_desktop(desktop)
            self.check_phone(phone)
            if os.environ.get("REPLMON_UPDATE_SCREENSHOT") == "1":
                os.makedirs(os.path.dirname(DOCS_SCREENSHOT), exist_ok=True)
                shutil.copyfile(desktop, DOCS_SCREENSHOT)
                print("    copied to %s" % DOCS_SCREENSHOT, flush=True)
        finally:
            self.pair.repair_duplicate_key(key)
        self.pair.wait_replicating(BOUND_S)
        self.wait_page(lambda p: self.states(p) == {"db1": "ok", "db2": "ok"},
                       "db2 green again after the repair")

    def test_03_policy_in_chromium(self):
        """The page under the policy replmon sends: nothing in the console, the same pixels
        as without any header; and the check can fail (a policy that forbids the style)."""
        self.wait_page(lambda p: self.states(p) == {"db1": "ok", "db2": "ok"}, "both cards ok")
        status, headers, body, _ = http(self.replmon.port, "/")
        self.assertEqual(status, 200)
        policy = headers.get("Content-Security-Policy", "")
        print("\n    Content-Security-Policy: %s" % policy, flush=True)
        self.assertTrue(policy.startswith("default-src 'none'"), policy)
        sent = {name: headers[name] for name in ("Content-Security-Policy", "X-Frame-Options",
                                                 "X-Content-Type-Options", "Referrer-Policy")}
        strict = dict(sent, **{"Content-Security-Policy": "default-src 'none'; style-src 'none'"})
        # The live page as replmon serves it: nothing in the console.
        dump_dom(self.workdir, self.url, "policy-live")
        replay = ReplayServer(body, {"/with": sent, "/without": {}, "/strict": strict})
        try:
            shots = {}
            for variant in ("with", "without", "strict"):
                console = []
                shots[variant] = screenshot(
                    self.workdir, replay.url("/" + variant),
                    os.path.join(ARTIFACTS, "status-page-%s-headers.png" % variant), DESKTOP,
                    "replay-" + variant, console=console)
                if variant == "strict":
                    violations = [c for c in console if "Content Security Policy" in c]
                    self.assertTrue(violations, "a policy that forbids the style sheet logged "
                                    "no violation; console: %s" % console)
                else:
                    assert_quiet_console(console, "the replayed page, %s headers" % variant)
        finally:
            replay.close()
        with_policy, without, strict_shot = (read_png(shots[v]) for v in
                                             ("with", "without", "strict"))
        self.assertEqual(with_policy[:2], DESKTOP)
        differing = sum(a != b for a, b in zip(with_policy[2], without[2]))
        self.assertEqual(differing, 0, "the page under its policy differs from the page "
                         "without headers on %d of %d rows (%s, %s)"
                         % (differing, DESKTOP[1], shots["with"], shots["without"]))
        self.assertNotEqual(strict_shot[2], without[2],
                            "without its style sheet the page should look different")
        self.check_desktop(shots["with"])
        print("    under the policy: console empty, %dx%d pixels the same as without headers"
              % DESKTOP, flush=True)

    # ------------------------------------------------------------------ layout checks
    def check_desktop(self, path):
        """1200x900: the two cards stand side by side (two white runs on one line)."""
        width, height, rows = read_png(path)
        self.assertEqual((width, height), DESKTOP, "desktop screenshot size")
        best = max((runs_of(rows[y], width, CARD_BG, 250) for y in range(0, height, 4)),
                   key=len)
        self.assertGreaterEqual(len(best), 2, "desktop: cards should stand side by side; "
                                "widest line of white runs: %s" % best)

    def check_phone(self, path):
        """390x844: one column of full-width cards, and nothing cut off at the right edge
        (an overflowing card would reach it: the edge shows only the page and the header)."""
        width, height, rows = read_png(path)
        self.assertEqual((width, height), PHONE, "phone screenshot size")
        full = 0
        for y in range(height):
            edge = pixel(rows[y], width - 1)
            self.assertNotEqual(edge, CARD_BG, "phone: a card reaches the right edge at y=%d "
                                "(the layout overflows 390 px)" % y)
            runs = runs_of(rows[y], width, CARD_BG, 1)
            if runs and runs[0][0] <= 30 and runs[-1][1] >= width - 30 and len(runs) == 1:
                full += 1
        self.assertGreater(full, 100, "phone: the cards should span the width (one column)")
        self.assertEqual(pixel(rows[height // 2], 2), PAGE_BG, "phone: page margin on the left")


def main(argv):
    return common.run_suite(
        TestStatusPage, argv, "integration-status-page", sys.modules[__name__],
        cleanup=TestStatusPage._cleanup,
        timings_title="fault timings (seconds from the fault to the status page):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
