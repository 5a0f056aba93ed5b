#!/usr/bin/env python3
"""One real XMPP client session (slixmpp), driven by xmpp_servers.Client.

    XMPP_CLIENT_PASSWORD=... python3 xmpp_client.py HOST:PORT JID [--starttls]
        [--presence] [--send TO BODY] [--ping JID] [--join ROOM/NICK]

Logs in (SCRAM over plain TCP by default; with --starttls it negotiates TLS and accepts
any certificate: the test servers use throwaway self-signed ones), prints `READY <full
JID>` once session_start fired, then stays online until SIGTERM/SIGINT, disconnects
cleanly (</stream:stream>) and exits 0. Prints
`FAILED <reason>` and exits non-zero when the login fails or takes over 20 s.

--presence sends initial presence (available), so that messages to the bare JID are
delivered to this session rather than stored offline. --send TO BODY sends one chat
message once the session started and prints `SENT <t>`. --join ROOM/NICK enters a
multi-user chat room (XEP-0045; entering creates it) and prints `JOINED <room>` once the
room sent our own presence back. Every message received with a
body prints `MESSAGE <t> <from full JID> <body>` (newlines in the body as spaces). <t> is
time.monotonic(), the same clock in every process of the machine, so the runner can
subtract a sender's SENT from a receiver's MESSAGE. --ping JID sends one XEP-0199 ping
once the session started and prints `PONG <rtt seconds>`, or `PING-FAILED <type/condition>`
(`PING-FAILED timeout` after 20 s without an answer).

Needs Debian's python3-slixmpp; the password comes from the environment, never argv.
"""

import asyncio
import logging
import os
import signal
import ssl
import sys
import time

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

LOGIN_BOUND_S = 20.0


def main(argv):
    if len(argv) < 2:
        print("usage: xmpp_client.py HOST:PORT JID [--starttls] [--presence] "
              "[--send TO BODY] [--ping JID] [--join ROOM/NICK]", file=sys.stderr)
        return 2
    host, _, port = argv[0].rpartition(":")
    jid = argv[1]
    starttls = "--starttls" in argv[2:]
    presence = "--presence" in argv[2:]
    send = None
    if "--send" in argv[2:]:
        i = argv.index("--send", 2)
        if len(argv) < i + 3:
            print("--send needs TO and BODY", file=sys.stderr)
            return 2
        send = (argv[i + 1], argv[i + 2])
    ping = None
    if "--ping" in argv[2:]:
        i = argv.index("--ping", 2)
        if len(argv) < i + 2:
            print("--ping needs a JID", file=sys.stderr)
            return 2
        ping = argv[i + 1]
    join = None
    if "--join" in argv[2:]:
        i = argv.index("--join", 2)
        room, _, nick = argv[i + 1].partition("/") if len(argv) > i + 1 else ("", "", "")
        if not room or not nick:
            print("--join needs ROOM/NICK", file=sys.stderr)
            return 2
        join = (room, nick)
    password = os.environ.get("XMPP_CLIENT_PASSWORD", "")
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = slixmpp.ClientXMPP(jid, password)
    xmpp.auto_reconnect = False
    xmpp.register_plugin("xep_0199")
    if join:
        xmpp.register_plugin("xep_0045")
        xmpp.add_event_handler("muc::%s::self-presence" % join[0],
                               lambda _pr: print("JOINED %s" % join[0], flush=True))
    if starttls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        xmpp.ssl_context = ctx
    result = {"rc": None}
    done = loop.create_future()

    def finish(rc, message=None):
        if message:
            print(message, flush=True)
        if result["rc"] is None:
            result["rc"] = rc
        if not done.done():
            done.set_result(rc)

    def on_session_start(_event):
        if presence:
            xmpp.send_presence()
        print("READY %s" % xmpp.boundjid.full, flush=True)
        if send:
            xmpp.send_message(mto=send[0], mbody=send[1], mtype="chat")
            print("SENT %.6f" % time.monotonic(), flush=True)
        if join:
            xmpp.plugin["xep_0045"].join_muc(join[0], join[1])
        if ping:
            asyncio.ensure_future(send_ping())

    async def send_ping():
        try:
            rtt = await xmpp["xep_0199"].ping(jid=ping, timeout=LOGIN_BOUND_S)
            print("PONG %.6f" % rtt, flush=True)
        except IqError as e:
            print("PING-FAILED %s/%s" % (e.iq["error"]["type"], e.iq["error"]["condition"]),
                  flush=True)
        except IqTimeout:
            print("PING-FAILED timeout", flush=True)

    def on_message(msg):
        body = msg["body"]
        if body:
            print("MESSAGE %.6f %s %s" % (time.monotonic(), msg["from"].full,
                                          " ".join(body.splitlines())), flush=True)

    def on_failed_auth(_event):
        finish(3, "FAILED auth")
        xmpp.abort()

    def on_disconnected(_event):
        finish(0 if result["rc"] is None and ready() else 4, None if ready() else
               "FAILED disconnected before the session started")

    def ready():
        return xmpp.sessionstarted

    def on_signal():
        if not ready():
            finish(5, "FAILED stopped before the session started")
            xmpp.abort()
            return
        xmpp.disconnect(wait=2.0)

    def login_timeout():
        if not ready():
            finish(6, "FAILED no session within %.0f s" % LOGIN_BOUND_S)
            xmpp.abort()

    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.add_event_handler("failed_auth", on_failed_auth)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("disconnected", on_disconnected)
    xmpp.add_event_handler("connection_failed",
                           lambda e: (finish(7, "FAILED connection: %s" % (e,)), xmpp.abort()))
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, on_signal)
    loop.call_later(LOGIN_BOUND_S, login_timeout)
    xmpp.connect(address=(host, int(port)), force_starttls=starttls,
                 disable_starttls=not starttls)
    rc = loop.run_until_complete(done)
    # Let the transport close cleanly.
    loop.run_until_complete(asyncio.sleep(0.05))
    if rc == 0:
        print("DISCONNECTED", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
