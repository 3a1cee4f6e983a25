"""Freelance: reliable request-reply with no broker, in three models (10/FLP for the third).

Several identical servers, each at its own address, and clients that know all the addresses.
There is no broker to die: a client copes with dead servers itself.

* **Model 1, sequential failover** (``server_rep`` + ``client_sequential``): a REQ socket to one
  server at a time. On a timeout the client closes it and tries the next server with the same
  request. Simple; each dead server costs one timeout.
* **Model 2, shotgun** (``server_rep`` + ``client_shotgun``): one DEALER connected to every
  server sends each request once *per server*, and takes the first reply; replies to older
  requests (from slower or restarted servers) are recognised by their sequence number and
  dropped. No timeout to wait while one server lives, at the price of N times the work.
* **Model 3, ROUTER to ROUTER with pings** (``server_router`` + ``client_router``), per 10/FLP:
  servers use ROUTER sockets whose identity is their public endpoint, so a client ROUTER can
  address a server by name. The client pings every server (``PING`` -> ``PONG``) and treats one
  as alive while it heard from it within ``server_ttl``; it sends each request
  ``[control frame, body...]`` to the first server it believes alive and, every ``retry`` seconds
  without a reply, to the next one it believes alive, until a reply with the same control frame
  (here: the sequence number) arrives or ``timeout`` passes. Replies to older copies are dropped.
"""
from __future__ import annotations

import time

import zmq

PING, PONG = b"PING", b"PONG"


def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol, and log it (the lab clips the frames it keeps)."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


def echoes(peer, frames: list[bytes], expected: list[bytes]) -> bool:
    """True when a reply is the echo we wait for; anything else is counted and logged."""
    if frames == expected:
        return True
    malformed(peer, frames, f"the reply echoes the request {expected!r}")
    return False


def outcome(peer, n: int, answered: bool, started: float) -> None:
    """Count how request ``n`` ended, for every model: ``replies`` and its latency since
    ``started`` (``peer.latencies["request"]``), or ``failed`` and a ``failed`` event."""
    if answered:
        peer.count("replies")
        peer.latency("request", time.perf_counter() - started)
    else:
        peer.count("failed")
        peer.log("failed", request=n)


def parse_reply(frames: list[bytes]) -> tuple[bytes, list[bytes]] | None:
    """Model 2's reply on the DEALER: ``[b"", control, body...]`` -> ``(control, body)``, else None."""
    if len(frames) >= 3 and frames[0] == b"":
        return frames[1], frames[2:]
    return None


# ---- servers ----------------------------------------------------------------------------------
def server_rep(peer, endpoint: str):
    """Models 1 and 2: a REP server that echoes every request (all its frames)."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    while peer.poll(rep):
        request = rep.recv_multipart()
        peer.throttle()
        rep.send_multipart(request)
        peer.count("requests")


def server_router(peer, endpoint: str):
    """Model 3 (10/FLP): a ROUTER whose identity is its endpoint. PING -> PONG; a request
    [control, body...] -> [control, body...] (the control frame comes back unchanged)."""
    router = peer.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTING_ID, endpoint.encode())   # clients address us by our endpoint
    router.bind(endpoint)
    while peer.poll(router):
        client, *frames = router.recv_multipart()
        if frames == [PING]:
            router.send_multipart([client, PONG])
            peer.count("pings")
        elif len(frames) >= 2:
            peer.throttle()
            router.send_multipart([client, *frames])
            peer.count("requests")
        else:
            malformed(peer, frames, "FLP: PING, or [control, body...]")   # dropped


# ---- model 1 ----------------------------------------------------------------------------------
def client_sequential(peer, servers: list[str], requests: int = 100, timeout: float = 0.1,
                      rounds: int = 2, interval: float = 0.0):
    """Model 1: one server at a time; after a timeout, the next server, same request.

    A request fails after ``rounds`` times around all the servers without a reply. The client
    stays with a server while it answers.
    """
    index = 0
    req = None
    for n in range(requests):
        body = str(n).encode()
        started = time.perf_counter()
        answered = False
        for _attempt in range(rounds * len(servers)):
            if req is None:
                req = peer.socket(zmq.REQ)
                req.connect(servers[index])
                peer.data["server"] = servers[index]   # the server we are talking to now
            req.send(body)
            if peer.poll(req, timeout) and echoes(peer, req.recv_multipart(), [body]):
                answered = True
                break
            if not peer.running:
                return
            peer.close_socket(req)                 # a REQ that got no reply cannot send again
            req = None
            index = (index + 1) % len(servers)
            peer.count("switches")
        outcome(peer, n, answered, started)
        if interval and not peer.sleep(interval):
            return
    peer.data["done"] = True


# ---- model 2 ----------------------------------------------------------------------------------
def client_shotgun(peer, servers: list[str], requests: int = 100, timeout: float = 0.5,
                   retries: int = 3, interval: float = 0.0):
    """Model 2: send each request to every server at once; the first reply wins.

    A DEALER deals outgoing messages round-robin over its connections, so sending the request
    ``len(servers)`` times gives each server one copy. Each request carries a sequence number;
    replies for an older number are late duplicates and are dropped.
    """
    dealer = peer.socket(zmq.DEALER)
    for endpoint in servers:
        dealer.connect(endpoint)
    sequence = 0
    for n in range(requests):
        body = str(n).encode()
        started = time.perf_counter()
        answered = False
        for _attempt in range(retries):
            sequence += 1
            control = str(sequence).encode()
            for _server in servers:
                dealer.send_multipart([b"", control, body])   # b"": the delimiter a REP expects
            deadline = time.monotonic() + timeout
            while not answered and peer.poll(dealer, deadline - time.monotonic()):
                frames = dealer.recv_multipart()      # [b"", control, body]
                reply = parse_reply(frames)
                if reply is not None and reply[0] != control:
                    peer.count("late duplicates")     # an answer to an older copy: drop it
                else:
                    answered = echoes(peer, frames, [b"", control, body])
            if answered or not peer.running:
                break
            peer.count("retries")
        if not peer.running:
            return
        outcome(peer, n, answered, started)
        if interval and not peer.sleep(interval):
            return
    peer.data["done"] = True


# ---- model 3 ----------------------------------------------------------------------------------
def client_router(peer, servers: list[str], requests: int = 100, timeout: float = 2.0,
                  ping_interval: float = 0.1, server_ttl: float = 0.3, retry: float = 0.1,
                  interval: float = 0.0):
    """Model 3 (10/FLP): a ROUTER connected to every server, addressing them by endpoint.

    Pings each server every ``ping_interval``; a server is alive while it answered something
    within ``server_ttl``. Each request goes to the first server alive (in the order of
    ``servers``); if no reply comes within ``retry`` s, that server is presumed dead until it answers
    again (a ping will tell), and the request is resent to the next server alive, until its reply
    arrives or ``timeout`` passes. (The guide resends to the first alive server each time, so a
    request waits for a dead server's ping expiry.)
    ``peer.data["alive"]`` shows which servers the client believes in.
    """
    router = peer.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)   # to a server not connected yet: raise, don't drop
    router.setsockopt(zmq.ROUTER_HANDOVER, 1)    # a restarted server takes its identity back
    for endpoint in servers:
        router.connect(endpoint)
    pool = ServerPool(peer, router, servers, ping_interval, server_ttl)
    sequence = 0
    for n in range(requests):
        body = str(n).encode()
        sequence += 1
        control = str(sequence).encode()
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        resend_at = 0.0
        tried: set[bytes] = set()
        answered = False
        while not answered and peer.running and time.monotonic() < deadline:
            if time.monotonic() >= resend_at:      # no reply within `retry`: the next server alive
                pool.resend(tried, [control, body])
                resend_at = time.monotonic() + retry
            frames = pool.receive(min(deadline, resend_at))
            if frames is None or frames == [PONG]:
                continue
            if frames[0] != control:
                peer.count("late duplicates")      # an answer to an older copy: drop it
            else:
                answered = echoes(peer, frames, [control, body])
        if not peer.running:
            return
        outcome(peer, n, answered, started)
        pool.idle(interval)                    # between requests: keep pinging
    peer.data["done"] = True


class ServerPool:
    """Model 3's view of the servers: pings each every ``ping_interval``, and believes one alive
    while it heard from it within ``server_ttl`` (``peer.data["alive"]``, in the given order)."""

    def __init__(self, peer, router: zmq.Socket, servers: list[str], ping_interval: float,
                 server_ttl: float):
        self.peer, self.router = peer, router
        self.names = [s.encode() for s in servers]
        self.ping_interval, self.server_ttl = ping_interval, server_ttl
        self.expiry = dict.fromkeys(self.names, 0.0)     # server -> alive until
        self.ping_at = dict.fromkeys(self.names, 0.0)    # server -> next ping due
        peer.data["alive"] = []

    def send(self, server: bytes, frames: list[bytes]) -> bool:
        try:
            self.router.send_multipart([server, *frames], flags=zmq.NOBLOCK)
            return True
        except zmq.ZMQError as exc:   # EHOSTUNREACH: never connected yet; EAGAIN: queue full
            if exc.errno not in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                raise
            return False

    def alive(self, now: float) -> list[bytes]:
        return [s for s in self.names if now < self.expiry[s]]

    def housekeeping(self) -> None:
        """Ping the servers that are due, and note any change in who is alive."""
        now = time.monotonic()
        for server in self.names:
            if now >= self.ping_at[server]:
                self.send(server, [PING])
                self.ping_at[server] = now + self.ping_interval
        alive = [s.decode() for s in self.alive(now)]
        if alive != self.peer.data["alive"]:
            self.peer.data["alive"] = alive
            self.peer.log("alive", servers=[a.rsplit(":", 1)[-1] for a in alive])

    def resend(self, tried: set[bytes], frames: list[bytes]) -> None:
        """Send a request to a server alive that has not had it yet (else to any server alive).
        The servers tried before, which did not answer within ``retry``, are dead until they do."""
        now = time.monotonic()
        for silent in tried:
            self.expiry[silent] = min(self.expiry[silent], now)
        alive = self.alive(now)
        for target in [s for s in alive if s not in tried] or alive:
            if self.send(target, frames):
                tried.add(target)
                self.peer.count("sent")
                return

    def receive(self, until: float) -> list[bytes] | None:
        """The next message from a server (its frames after the identity), waiting until
        ``until`` at most and pinging meanwhile; None if nothing came (or the peer was killed)."""
        self.housekeeping()
        wake = min(until, min(self.ping_at.values()))
        if not self.peer.poll(self.router, wake - time.monotonic()):
            return None
        server, *frames = self.router.recv_multipart()
        if server not in self.expiry:          # not one of our servers (its identity is not its endpoint)
            malformed(self.peer, [server, *frames], "not from a server we know")
            return None
        self.expiry[server] = time.monotonic() + self.server_ttl   # any message proves it is alive
        return frames

    def idle(self, seconds: float) -> None:
        """Wait ``seconds``, answering pongs and dropping late replies, so pings go on."""
        end = time.monotonic() + seconds
        while seconds and self.peer.running and time.monotonic() < end:
            frames = self.receive(end)
            if frames is not None and frames != [PONG]:
                self.peer.count("late duplicates")


ROLES = {"server_rep": server_rep, "server_router": server_router,
         "client_sequential": client_sequential, "client_shotgun": client_shotgun,
         "client_router": client_router}
