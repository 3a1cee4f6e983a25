"""Security: CURVE encryption and ZAP authentication for a request-reply server.

Without security, ZeroMQ over tcp sends every frame as it is (anybody on the path reads it) and
accepts any peer that connects (anybody who can reach the port gets answers). Two mechanisms fix it:

* **CURVE** (RFC 26, CurveZMQ) encrypts every frame with elliptic-curve keys. Each side has a key
  pair: a *public* key, shared freely, and a *secret* key, kept. A client must know the server's
  public key to connect at all, and proves that it holds its own secret key in the handshake.
  Keys are 32 bytes, written as 40 printable characters (Z85 encoding).
* **ZAP** (RFC 27, the ZeroMQ Authentication Protocol) lets the server decide *who* may connect:
  during each handshake, libzmq asks a handler bound at ``inproc://zeromq.zap.01`` on the same
  context, "may this client key in?". pyzmq's ``zmq.auth.thread.ThreadAuthenticator`` is such a
  handler; ``configure_curve(location=folder)`` lets in exactly the clients whose public
  certificates are in that folder.

ZAP also sees each peer's IP *address* before any key or password, so a server can keep an allow
list or a deny list of addresses (``allow_ips=`` / ``deny_ips=``), with or without encryption. And
there is a third mechanism, **PLAIN**: a user name and password, checked by the same handler, but
sent in the clear. It says who you are; it hides nothing (the wiretap shows the password).

A refused client never reaches the application: its handshake fails, its REQ socket never gets a
reply, and the server's REP socket never sees its request. A client with no CURVE at all fails
earlier still: the two sides do not even agree on a security mechanism.

Roles (``python -m zguide_py run security ROLE ...``):

* ``keygen``  - writes a certificate pair (``OWNER.key`` public, ``OWNER.key_secret`` secret) into a folder;
* ``server``  - REP echo server; with ``cert=`` it is a CURVE server and runs the authenticator,
  with ``passwords=`` a PLAIN server, and ``allow_ips=``/``deny_ips=`` filter by address;
* ``client``  - REQ client; with ``server_key=`` and ``cert=`` it talks CURVE, with ``username=`` and
  ``password_file=`` (or ``password_env=``, or ``password=`` in a notebook) PLAIN; retries like Lazy Pirate;
* ``sink`` / ``source`` - PULL/PUSH stream, for plaintext against CURVE throughput (measured by
  ``zguide_py.views.security.measure_throughput``; ``tools/bench_security.py`` prints the table);
* ``wiretap`` - a tcp relay with plain Python sockets that keeps the bytes it passes on, to see
  what an eavesdropper sees.

Keys travel as files, as in pyzmq's "Ironhouse" example (examples/security in pyzmq): a process is given the *path* of its
secret certificate and of the server's public one, never a secret key on its command line. A
password too: ``password_file=`` or ``password_env=``, since a command line is visible to every
local user (``/proc/PID/cmdline``). Secret key files are created readable by their owner only
(0600) from the first byte, in folders that are 0700 when this module creates them.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import select
import socket as pysocket
import time
from collections import Counter
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import parse_monitor_message

from ..peer import SLICE

ZAP_ENDPOINT = "inproc://zeromq.zap.01"    # where libzmq looks for the context's ZAP handler

HANDSHAKE_EVENTS = {
    zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshake_ok",
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "refused_auth",          # the ZAP handler said no
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "refused_protocol",  # e.g. CURVE against no security
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "refused_other",
}
_MONITOR_MASK = sum(HANDSHAKE_EVENTS)
#: parameters whose values are secrets: whoever echoes a role's parameters masks these
SECRET_PARAMS = frozenset({"password"})
MAX_SENDERS = 100     # distinct first words the server tallies; the rest count as "(other)"
_monitor_ids = itertools.count()


# ---- keys ----------------------------------------------------------------------------------------
def create_keys(folder: str, clients: tuple[str, ...] = ("alice",), strangers: tuple[str, ...] = ("mallory",)) -> dict:
    """Certificates for a server, the clients it knows and some it does not, in ``folder``.

    Layout (as pyzmq's Ironhouse example): ``folder/server.key`` and ``server.key_secret``;
    ``folder/allowed/NAME.key`` holds the public certificate of each known client (the folder the
    authenticator reads); ``folder/private/NAME.key_secret`` each client's secret certificate,
    strangers' too; a stranger's public certificate stays in ``private``, out of the authenticator's
    sight. Returns paths: {"server": secret cert, "server_public": public cert, "allowed": folder,
    NAME: secret cert and NAME_public: public cert of each client and stranger}.
    """
    allowed = os.path.join(folder, "allowed")
    private = os.path.join(folder, "private")
    for path in (folder, allowed, private):
        make_private_folder(path)
    server_public, server_secret = create_certificates(folder, "server")
    paths = {"server": server_secret, "server_public": server_public, "allowed": allowed}
    for name in (*clients, *strangers):
        public, secret = create_certificates(private, name)
        if name in clients:
            public = os.path.join(allowed, os.path.basename(public))
            os.replace(os.path.join(private, os.path.basename(public)), public)
        paths[name] = secret
        paths[f"{name}_public"] = public
    return paths


def make_private_folder(path: str) -> None:
    """Create ``path`` (and its parents) if need be; a folder created here is 0700 from the start
    (an existing one is left as it is: it is the owner's)."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700, exist_ok=True)


def create_certificates(folder: str, name: str) -> tuple[str, str]:
    """pyzmq's ``zmq.auth.create_certificates``, with no moment when the secret key file is
    readable by others: the file is made 0600 (``os.open`` with a mode) before pyzmq writes the
    key into it (pyzmq opens it for writing, which keeps the mode). Returns (public, secret) paths."""
    secret = os.path.join(folder, f"{name}.key_secret")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(secret, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)       # a file that was already there, with a looser mode
    finally:
        os.close(fd)
    return zmq.auth.create_certificates(folder, name)


def read_password(password: str | None, password_file: str | None, password_env: str | None) -> str | None:
    """The PLAIN password from exactly one of: the value itself (in a notebook), a file (its first
    line), or an environment variable. Never from a command line: every local user can read those."""
    given = [x for x in (password, password_file, password_env) if x is not None]
    if len(given) > 1:
        raise ValueError("give the password one way: password_file=, password_env= or password=")
    if password_file is not None:
        with open(password_file) as f:
            return f.readline().rstrip("\r\n")
    if password_env is not None:
        if password_env not in os.environ:
            raise ValueError(f"password_env={password_env!r}: no such environment variable")
        return os.environ[password_env]
    return password


def load_keys(cert: Any) -> tuple[bytes, bytes | None]:
    """(public, secret) Z85 keys from a certificate file path, a (public, secret) pair, or a bare
    40-character Z85 public key. Secret is None when only a public key is given."""
    if isinstance(cert, (tuple, list)):
        public, secret = cert
        return _z85(public), _z85(secret)
    if isinstance(cert, (str, bytes)) and len(cert) == 40 and not os.path.exists(cert):
        return _z85(cert), None
    return zmq.auth.load_certificate(cert)


def _z85(key: Any) -> bytes:
    return key.encode() if isinstance(key, str) else key


# ---- ZAP: the authenticator and what it records -----------------------------------------------------
class _ZapRecorder(logging.Handler):
    """Turns the authenticator's decisions (its log lines, logger ``zmq.auth``) into lab events
    and counters. An event keeps the line as ``said``, and its ``name=value`` parts as fields:
    ``address``, ``client_key``, ``username``... A password never reaches an event."""

    def __init__(self, peer):
        super().__init__(logging.DEBUG)
        self.peer = peer

    def emit(self, record: logging.LogRecord) -> None:
        text = re.sub(r"\bb'([^']*)'", r"\1", record.getMessage())     # "b'Invalid password'" -> "Invalid password"
        text = re.sub(r"password=.*", "password=***", text, flags=re.DOTALL)   # last: all of it goes
        decision = {"DENIED": "zap_denied", "ALLOWED": "zap_allowed"}.get(text.split(" ", 1)[0])
        if decision is not None:
            self.peer.count(decision)
            self.peer.log(decision, said=text, **dict(re.findall(r"(\w+)=(\S+)", text)))


def _addresses(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    addresses = (value,) if isinstance(value, str) else tuple(value)
    for address in addresses:
        if not isinstance(address, str) or not re.fullmatch(r"[0-9A-Fa-f.:]+", address):
            raise ValueError(f"{name} takes IP addresses such as '127.0.0.1', not {address!r}")
    return addresses


def _passwords(value: Any) -> dict[str, str] | None:
    """``passwords=`` as a {user: password} dict, or the path of a file of ``user:password`` lines."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str) and os.path.isfile(value):
        with open(value) as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        if not all(":" in line for line in lines):
            raise ValueError(f"passwords file {value!r}: every line must be user:password")
        return dict(line.split(":", 1) for line in lines)
    raise ValueError(f"passwords={value!r} must be a dict {{user: password}} or a file of user:password lines")


def _say_who(cert: Any, allow: str | None) -> None:
    if cert is not None and allow is None:
        raise ValueError("say who may connect: allow=FOLDER of the clients' public certificates (*.key), "
                         "or allow='*' for any client that knows the server's public key")


def start_authenticator(peer, allow: str | None = None, passwords: dict[str, str] | None = None,
                        allow_ips: tuple[str, ...] = (), deny_ips: tuple[str, ...] = ()) -> ThreadAuthenticator:
    """pyzmq's ZAP handler on the lab's context.

    ``allow``: CURVE clients whose public certificates are in this folder ("*" = any client that
    knows the server's public key). ``passwords``: {user: password} for PLAIN. ``allow_ips``: only
    these addresses may connect; ``deny_ips``: these may not (one list or the other, not both).

    Its log records go to the lab's events; its thread is named after the peer, so that
    ``lab.threads()`` sees it. Stop it with ``stop_authenticator`` before the context ends."""
    if allow_ips and deny_ips:
        raise ValueError("give allow_ips (only these may connect) or deny_ips (these may not), not both")
    if allow is not None and allow != "*" and not os.path.isdir(allow):
        raise ValueError(f"allow={allow!r} must be a folder of client public certificates (*.key) or '*'")
    log = logging.getLogger(f"zmq.auth.{peer.lab.name}.{peer.name}")
    log.setLevel(logging.DEBUG)
    log.propagate = False                # no thread prints: the records go to the lab, not to stderr
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.addHandler(_ZapRecorder(peer))
    auth = ThreadAuthenticator(peer.lab.ctx, log=log)
    for attempt in range(100):   # a restarted server: the last handler's inproc name may not be free yet
        try:
            auth.start()
            break
        except zmq.ZMQError as exc:
            auth.stop()
            if exc.errno != zmq.EADDRINUSE or not peer.running:
                raise
            if attempt == 99:
                raise RuntimeError(f"{ZAP_ENDPOINT} is taken: another authenticator runs on this context "
                                   "(one ZAP handler per context: run this server in another lab or process)") from exc
            peer.sleep(0.01)
    auth.thread.name = f"zguide:{peer.lab.name}:{peer.name}:zap"
    if allow_ips:
        auth.allow(*allow_ips)           # every other address is refused, whatever its key
    if deny_ips:
        auth.deny(*deny_ips)
    if allow == "*":
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    elif allow is not None:
        auth.configure_curve(domain="*", location=allow)
    if allow is not None:
        peer.data["allowed_keys"] = len(auth.certs.get("*", {})) if allow != "*" else "any"
    if passwords is not None:
        auth.configure_plain(domain="*", passwords=passwords)
        peer.data["users"] = sorted(passwords)
    return auth


def stop_authenticator(auth: ThreadAuthenticator | None) -> None:
    if auth is not None:
        auth.stop()                      # joins its thread, closes its sockets
        for handler in list(auth.log.handlers):
            auth.log.removeHandler(handler)


# ---- socket monitor: handshake events ----------------------------------------------------------------
def monitor(peer, sock: zmq.Socket) -> zmq.Socket:
    """A PAIR socket receiving ``sock``'s handshake events (see HANDSHAKE_EVENTS)."""
    address = f"inproc://monitor.{peer.name}.{next(_monitor_ids)}"
    sock.monitor(address, _MONITOR_MASK)
    mon = peer.socket(zmq.PAIR)
    mon.connect(address)
    return mon


def drain_monitor(peer, mon: zmq.Socket) -> None:
    """Count and log the handshake events waiting on a monitor socket (fields: ``status``, the
    ZAP status of a refused_auth; ``code``, the protocol error of another refusal)."""
    while peer.poll(mon, 0):
        event = parse_monitor_message(mon.recv_multipart())
        name = HANDSHAKE_EVENTS.get(event["event"])
        if name is None:
            continue
        peer.count(name)
        if name == "handshake_ok":
            peer.log(name)
        elif name == "refused_auth":
            peer.log(name, status=event["value"])       # the ZAP status code: 400, say
        else:
            peer.log(name, code=event["value"])         # a ZMQ_PROTOCOL_ERROR_* code


# ---- roles -----------------------------------------------------------------------------------------
def keygen(peer, folder: str, owner: str = "client"):
    """Write a certificate pair OWNER.key (public: give it to whoever must know you) and
    OWNER.key_secret (secret: keep it) into ``folder``. Run once, from the command line."""
    make_private_folder(folder)          # 0700 when created here
    public, secret = create_certificates(folder, owner)   # the secret key: 0600 from the start
    peer.data["public_cert"] = public
    peer.data["secret_cert"] = secret
    peer.data["public_key"] = zmq.auth.load_certificate(public)[0].decode()


def server(peer, endpoint: str, cert: Any = None, allow: str | None = None, passwords: Any = None,
           allow_ips: Any = None, deny_ips: Any = None):
    """REP echo server. ``cert``: the server's secret certificate (a ``.key_secret`` file or a
    (public, secret) pair); None serves plaintext. ``allow`` (required with ``cert``): folder of the
    public certificates of the clients let in, or "*" for any client that knows the server's public
    key (encryption without authentication).
    ``passwords``: {user: password} (or a file of ``user:password`` lines) makes it a PLAIN server
    instead: clients must log in, and nothing is encrypted.
    ``allow_ips`` / ``deny_ips``: IP addresses let in / kept out, checked by ZAP before any key or
    password, with any of the three mechanisms.
    ``peer.data["senders"]`` counts the requests that reached the application by their first word."""
    allow_ips, deny_ips = _addresses(allow_ips, "allow_ips"), _addresses(deny_ips, "deny_ips")
    passwords = _passwords(passwords)
    if cert is not None and passwords is not None:
        raise ValueError("a server speaks one mechanism: CURVE (cert=) or PLAIN (passwords=), not both")
    _say_who(cert, allow)
    auth = None
    try:
        rep = peer.socket(zmq.REP)
        if cert is not None or passwords is not None or allow_ips or deny_ips:
            # before the first client can knock
            auth = start_authenticator(peer, allow, passwords, allow_ips, deny_ips)
        if cert is not None:
            public, secret = load_keys(cert)
            if secret is None:
                raise ValueError("the server needs its secret certificate (.key_secret), not the public one")
            rep.curve_publickey = public
            rep.curve_secretkey = secret
            rep.curve_server = True                      # this side holds the long-term key
        elif passwords is not None:
            rep.plain_server = True                      # clients must send a user name and password
        elif auth is not None:
            rep.zap_domain = b"global"                   # NULL security asks ZAP only with a domain set
        mon = monitor(peer, rep)
        rep.bind(endpoint)
        peer.data["endpoint"] = rep.last_endpoint.decode()
        senders = peer.data.setdefault("senders", Counter())   # first word of each request body
        poller = zmq.Poller()
        poller.register(rep, zmq.POLLIN)
        poller.register(mon, zmq.POLLIN)
        while peer.running:
            events = peer.poll(poller)
            if mon in events:
                drain_monitor(peer, mon)
            if rep in events:
                request = rep.recv_multipart()
                peer.count("requests")
                tally_sender(senders, request)
                peer.throttle()
                rep.send_multipart(request)
                peer.count("replies")
    finally:
        stop_authenticator(auth)


def tally_sender(senders: Counter, request: list[bytes]) -> None:
    """Count a request by the first word of its body; at most MAX_SENDERS words, then "(other)"
    (a client sending a new word each time cannot grow the tally without bound)."""
    word = request[-1][:64].split(b" ", 1)[0].decode(errors="replace")
    senders[word if word in senders or len(senders) < MAX_SENDERS else "(other)"] += 1


def echoed(peer, req: zmq.Socket, request: bytes) -> bool:
    """Read the reply waiting on ``req``: True when it echoes ``request``; anything else is counted
    and logged as malformed (the client then retries as after a timeout)."""
    frames = req.recv_multipart()
    if frames == [request]:
        return True
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=f"the reply echoes {request!r}")
    return False


def client(peer, endpoint: str, server_key: Any = None, cert: Any = None, requests: int = 10,
           timeout: float = 1.0, retries: int = 0, body: str = "request",
           username: str | None = None, password: str | None = None, password_file: str | None = None,
           password_env: str | None = None):
    """REQ client. With ``server_key`` (the server's public certificate ``server.key`` or its
    Z85 key) and ``cert`` (this client's ``.key_secret``, or a (public, secret) pair) it talks
    CURVE; with ``username`` and a password, PLAIN; with none of them, plaintext. The password comes
    from ``password_file`` (its first line) or the environment variable ``password_env``; a
    notebook may pass ``password`` itself. A reply that is not the echo counts as "malformed". Each request
    waits ``timeout`` s for its reply; then, like Lazy Pirate, the client closes its socket, opens a
    new one and resends, ``retries`` times, before it gives up (``peer.data["gave_up"]``)."""
    answered = peer.data.setdefault("answered", [])
    curve = None
    if server_key is not None:
        server_public = load_keys(server_key)[0]
        if cert is None:
            raise ValueError("a CURVE client needs its own certificate too: cert=NAME.key_secret")
        public, secret = load_keys(cert)
        curve = (server_public, public, secret)
    password = read_password(password, password_file, password_env)
    if (username is None) != (password is None):
        raise ValueError("PLAIN needs both username= and a password (password_file= or password_env=)")
    if username is not None and curve is not None:
        raise ValueError("a client speaks one mechanism: CURVE (server_key=, cert=) or PLAIN (username=, password=)")

    def open_req():
        req = peer.socket(zmq.REQ)
        if curve is not None:
            req.curve_serverkey, req.curve_publickey, req.curve_secretkey = curve
        elif username is not None:
            req.plain_username, req.plain_password = username.encode(), password.encode()
        mon = monitor(peer, req)
        req.connect(endpoint)
        return req, mon

    def reply_within(seconds: float) -> bool:
        """Wait for the reply, logging the handshake events meanwhile."""
        poller = zmq.Poller()
        poller.register(req, zmq.POLLIN)
        poller.register(mon, zmq.POLLIN)
        deadline = time.monotonic() + seconds
        while events := peer.poll(poller, deadline - time.monotonic()):
            if mon in events:
                drain_monitor(peer, mon)
            if req in events:
                return True
        drain_monitor(peer, mon)
        return False

    req, mon = open_req()
    for n in range(requests):
        request = f"{body} {n}".encode()
        for tries in range(retries + 1):
            req.send(request)
            peer.count("requests")
            if reply_within(timeout) and echoed(peer, req, request):
                break
            if not peer.running:
                return
            peer.count("timeouts")           # no reply (or not the echo) in time
            peer.log("timeout", request=n, after=timeout)
            peer.close_socket(req)          # a REQ that got no reply cannot send again: start over
            peer.close_socket(mon)
            if tries == retries:
                peer.data["gave_up"] = n
                return
            req, mon = open_req()
        answered.append(n)
        peer.count("replies")
        peer.throttle()
    peer.data["done"] = True


def _hwm(size: int) -> int:
    """A queue limit of about 16 MB of messages (at most 10 000), so big messages cannot pile up GBs."""
    return max(16, min(10_000, (16 << 20) // max(size, 1)))


def sink(peer, endpoint: str, cert: Any = None, allow: str | None = None):
    """PULL: bind, count messages and bytes. CURVE server when ``cert`` is given (as ``server``).
    ``peer.data["marks"]`` gets (time, messages so far) every 10 ms or so while messages flow."""
    _say_who(cert, allow)
    auth = None
    try:
        pull = peer.socket(zmq.PULL, rcvhwm=1000)
        if cert is not None:
            auth = start_authenticator(peer, allow)
            public, secret = load_keys(cert)
            pull.curve_publickey, pull.curve_secretkey = public, secret
            pull.curve_server = True
        pull.bind(endpoint)
        messages = peer.counter("messages")
        nbytes = peer.counter("bytes")
        marks = peer.data.setdefault("marks", [])
        last_mark = 0.0
        while peer.running:
            if not peer.poll(pull):
                continue
            try:
                for _ in range(10_000):              # drain what is there, then look at peer.running
                    frame = pull.recv(zmq.NOBLOCK, copy=False)
                    messages.value += 1
                    nbytes.value += len(frame)
            except zmq.Again:
                pass
            now = time.perf_counter()
            if now - last_mark >= 0.01:
                marks.append((now, messages.value))
                last_mark = now
    finally:
        stop_authenticator(auth)


def source(peer, endpoint: str, size: int = 64, count: int | None = None, server_key: Any = None, cert: Any = None):
    """PUSH messages of ``size`` bytes as fast as the socket takes them, ``count`` of them or until
    killed (None); CURVE with ``server_key`` and ``cert`` (as ``client``)."""
    push = peer.socket(zmq.PUSH, sndhwm=_hwm(size))
    if server_key is not None:
        push.curve_serverkey = load_keys(server_key)[0]
        push.curve_publickey, push.curve_secretkey = load_keys(cert)
    push.connect(endpoint)
    payload = b"x" * size
    sent = peer.counter("sent")
    left = float("inf") if count is None else count
    while peer.running and sent.value < left:
        if not peer.poll(push, flags=zmq.POLLOUT):
            continue
        try:
            for _ in range(int(min(1000, left - sent.value))):
                push.send(payload, zmq.NOBLOCK)
                sent.value += 1
        except zmq.Again:
            pass
    peer.data["done"] = sent.value >= left
    while peer.running:     # stay: closing now (linger 0) would drop what is still queued
        peer.sleep(1.0)     # (a kill ends the sleep at once)


def wiretap(peer, listen: str, target: str, keep: int = 65_536):
    """An eavesdropper in the middle: a tcp relay (plain Python sockets, no ZeroMQ) that accepts on
    ``listen``, connects each client on to ``target``, passes the bytes both ways unchanged and
    keeps the first ``keep`` bytes of each direction in ``peer.data["to_server"]`` / ``["to_client"]``."""
    def address(endpoint: str) -> tuple[str, int]:
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        return host, int(port)

    kept = {"to_server": peer.data.setdefault("to_server", bytearray()),
            "to_client": peer.data.setdefault("to_client", bytearray())}
    listener = pysocket.socket()
    other: dict[pysocket.socket, pysocket.socket] = {}    # each socket -> the one its bytes go to
    direction: dict[pysocket.socket, str] = {}

    def hang_up(sock: pysocket.socket) -> None:            # one side went: the other goes too
        for s in (sock, other.get(sock)):
            if s is not None:
                other.pop(s, None)
                direction.pop(s, None)
                s.close()

    try:
        listener.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_REUSEADDR, 1)
        listener.bind(address(listen))
        listener.listen()
        while peer.running:
            for sock in select.select([listener, *other], [], [], SLICE)[0]:    # a kill ends it
                if sock is listener:
                    client_side, _ = listener.accept()
                    try:
                        server_side = pysocket.create_connection(address(target), timeout=1.0)
                    except OSError:
                        client_side.close()           # nobody at the target: the client will retry
                        peer.count("target_down")
                        continue
                    other[client_side], other[server_side] = server_side, client_side
                    direction[client_side], direction[server_side] = "to_server", "to_client"
                    peer.count("connections")
                    continue
                if sock not in other:
                    continue
                try:
                    data = sock.recv(65_536)
                    if data:
                        other[sock].sendall(data)
                except OSError:
                    data = b""
                if not data:
                    hang_up(sock)
                    continue
                way = direction[sock]
                buffer = kept[way]
                if len(buffer) < keep:
                    buffer.extend(data[: keep - len(buffer)])
                peer.count(f"bytes_{way}", len(data))
    finally:
        for sock in list(other):
            sock.close()
        listener.close()


_CURVE_COMMAND = re.compile(rb"\x05(HELLO|READY|ERROR)|\x07(WELCOME|MESSAGE)|\x08(INITIATE)")


def curve_commands(data: bytes) -> list[bytes]:
    """The CurveZMQ command names in captured bytes (HELLO, WELCOME, INITIATE, READY, MESSAGE...):
    the part of a CURVE connection that an eavesdropper can read. What the commands carry is not."""
    return [b"".join(m.groups(b"")) for m in _CURVE_COMMAND.finditer(data)]


ROLES = {"keygen": keygen, "server": server, "client": client, "sink": sink, "source": source, "wiretap": wiretap}
