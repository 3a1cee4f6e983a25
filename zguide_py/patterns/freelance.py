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


def _wait(sock, deadline: float, peer) -> bool:
    """Poll ``sock`` until ``deadline`` (in 50 ms slices so a kill is quick): True if readable."""
    while peer.running:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if sock.poll(max(1, int(min(left, 0.05) * 1000))):
            return True
    return False


# ---- servers ----------------------------------------------------------------------------------
def server_rep(peer, endpoint: str):
    """Models 1 and 2: a REP server that echoes every request (all its frames)."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    while peer.running:
        if rep.poll(50):
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
    while peer.running:
        if router.poll(50):
            client, *frames = router.recv_multipart()
            if frames == [PING]:
                router.send_multipart([client, PONG])
                peer.count("pings")
            elif len(frames) >= 2:
                peer.throttle()
                router.send_multipart([client, *frames])
                peer.count("requests")


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
            if _wait(req, time.monotonic() + timeout, peer):
                if req.recv() != body:
                    raise RuntimeError(f"request {n}: wrong reply")
                answered = True
                break
            if not peer.running:
                return
            peer.close_socket(req)                 # a REQ that got no reply cannot send again
            req = None
            index = (index + 1) % len(servers)
            peer.count("switches")
        if answered:
            peer.count("replies")
            peer.latency("request", time.perf_counter() - started)
        else:
            peer.count("failed")
            peer.log("failed", f"request {n}")
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
            while _wait(dealer, deadline, peer):
                _empty, reply_control, reply = dealer.recv_multipart()
                if reply_control == control:
                    if reply != body:
                        raise RuntimeError(f"request {n}: wrong reply")
                    answered = True
                    break
                peer.count("late duplicates")     # an answer to an older copy: drop it
            if answered or not peer.running:
                break
            peer.count("retries")
        if not peer.running:
            return
        if answered:
            peer.count("replies")
            peer.latency("request", time.perf_counter() - started)
        else:
            peer.count("failed")
            peer.log("failed", f"request {n}")
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
    names = [s.encode() for s in servers]
    expiry = dict.fromkeys(names, 0.0)           # server -> alive until
    ping_at = dict.fromkeys(names, 0.0)
    peer.data["alive"] = []

    def send(server: bytes, *frames: bytes) -> bool:
        try:
            router.send_multipart([server, *frames], flags=zmq.NOBLOCK)
            return True
        except zmq.ZMQError as exc:   # EHOSTUNREACH: never connected yet; EAGAIN: queue full
            if exc.errno not in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                raise
            return False

    def housekeeping(now: float):
        for server in names:
            if now >= ping_at[server]:
                send(server, PING)
                ping_at[server] = now + ping_interval
        alive = [s.decode() for s in names if now < expiry[s]]
        if alive != peer.data["alive"]:
            peer.data["alive"] = alive
            peer.log("alive", ", ".join(a.rsplit(":", 1)[-1] for a in alive) or "none")

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
        while peer.running and time.monotonic() < deadline:
            now = time.monotonic()
            housekeeping(now)
            if now >= resend_at:
                for silent in tried:             # no reply within retry: dead until it answers again
                    expiry[silent] = min(expiry[silent], now)
                alive = [s for s in names if now < expiry[s]]
                untried = [s for s in alive if s not in tried] or alive   # each resend: another server
                for target in untried:
                    if send(target, control, body):
                        tried.add(target)
                        peer.count("sent")
                        break
                resend_at = now + retry
            wake = min(deadline, resend_at, min(ping_at.values()))
            if _wait(router, wake, peer):
                server, *frames = router.recv_multipart()
                expiry[server] = time.monotonic() + server_ttl    # any message proves it is alive
                if frames == [PONG]:
                    continue
                if frames[0] == control:
                    if frames[1:] != [body]:
                        raise RuntimeError(f"request {n}: wrong reply")
                    answered = True
                    break
                peer.count("late duplicates")
        if not peer.running:
            return
        if answered:
            peer.count("replies")
            peer.latency("request", time.perf_counter() - started)
        else:
            peer.count("failed")
            peer.log("failed", f"request {n}")
        if interval:
            end = time.monotonic() + interval
            while peer.running and time.monotonic() < end:   # keep pinging while we wait
                housekeeping(time.monotonic())
                if _wait(router, min(end, min(ping_at.values())), peer):
                    server, *frames = router.recv_multipart()
                    expiry[server] = time.monotonic() + server_ttl
                    if frames != [PONG]:
                        peer.count("late duplicates")
    peer.data["done"] = True


ROLES = {"server_rep": server_rep, "server_router": server_router,
         "client_sequential": client_sequential, "client_shotgun": client_shotgun,
         "client_router": client_router}
