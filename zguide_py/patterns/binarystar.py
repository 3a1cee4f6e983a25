"""Binary Star: a primary and a backup server, exactly one of them active.

Two servers, each with three sockets: a ROUTER ``frontend`` for clients, a PUB that tells the
other server this server's state every ``heartbeat`` seconds, and a SUB that hears the other's.
Each runs a small finite-state machine. States: ``primary`` and ``backup`` (just started, waiting
to hear the peer), ``active`` (answers clients) and ``passive`` (does not). Events: the four states
the *peer* says it is in, and ``client request``.

* At start the primary becomes active as soon as it hears the backup; the backup becomes passive
  as soon as it hears an active peer. A restarted server hears an active peer and goes passive:
  recovery is manual, nothing fails back by itself. Until it has heard its peer, a server does
  not serve at all (the guide's version lets a lone primary serve after two heartbeats; on a busy
  machine a *restarted* primary can then miss the active backup's first heartbeats and go active
  beside it, so here that takes ``alone_after`` seconds, and is off by default).
* The passive server takes over only when **a client request reaches it and the peer has been
  silent for two heartbeats**. Both conditions are needed: silence alone could be a broken
  link between two healthy servers (both would go active: *split brain*); a client turning to the
  backup shows that the client has given up on the primary too.
* Two actives, or two passives, is a fatal error: the server stops (here: the role raises).

Clients are Lazy Pirates over two endpoints: on a timeout they close the socket and resend the same
request to the *other* server, and so on, until one answers. The states over time, and the checks
that never two servers were active, are in ``zguide_py.views.binarystar``.
"""
from __future__ import annotations

import time

import zmq

# states (also what a server publishes) and the events that move them
PRIMARY, BACKUP, ACTIVE, PASSIVE = 1, 2, 3, 4
PEER_PRIMARY, PEER_BACKUP, PEER_ACTIVE, PEER_PASSIVE, CLIENT_REQUEST = 1, 2, 3, 4, 5
STATE_NAMES = {PRIMARY: "primary", BACKUP: "backup", ACTIVE: "active", PASSIVE: "passive"}
EVENT_NAMES = {PEER_PRIMARY: "peer primary", PEER_BACKUP: "peer backup", PEER_ACTIVE: "peer active",
               PEER_PASSIVE: "peer passive", CLIENT_REQUEST: "client request"}


#: what a server publishes on its state channel: its state as one ASCII digit, nothing else
STATE_FRAMES = {str(state).encode(): state for state in STATE_NAMES}


def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol, and log it (the lab clips the frames it keeps)."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


def parse_state(frames: list[bytes]) -> int | None:
    """The peer's state from a state-channel message (one frame, ``b"1"`` to ``b"4"``), else None.
    Exact bytes only: ``int()`` would take ``b" 3"``, ``b"+3"`` or ``b"99"`` and crash or lie."""
    return STATE_FRAMES.get(frames[0]) if len(frames) == 1 else None


def is_request(frames: list[bytes]) -> bool:
    """A client request on the ROUTER frontend: ``[identity, ..., b"", body...]``: an envelope that
    ends in the empty delimiter a REQ socket adds, and a body (one frame at least, maybe empty)."""
    return len(frames) >= 3 and b"" in frames[1:-1]


def recv_state(peer, sub: zmq.Socket) -> int | None:
    """The next state message from the peer, checked (None: malformed, counted and logged)."""
    frames = sub.recv_multipart()
    event = parse_state(frames)
    if event is None:
        malformed(peer, frames, "a state message is one frame, b'1' to b'4'")
    return event


def recv_request(peer, front: zmq.Socket) -> list[bytes] | None:
    """The next client request on the frontend, checked (None: malformed, counted and logged).
    A malformed message is not a client request: it never moves the state machine (no failover)."""
    frames = front.recv_multipart()
    if not is_request(frames):
        malformed(peer, frames, "a request is [identity, b'', body...]")
        return None
    return frames


class SplitBrain(RuntimeError):
    """Both servers active, or both passive: the pair is misconfigured or the network is split."""


def next_state(state: int, event: int, peer_silent: bool) -> tuple[int, bool]:
    """The Binary Star state machine: ``(new state, accept the client request?)``.

    ``peer_silent`` (only matters for client requests): in the passive state, nothing heard from
    the peer for two heartbeats; in the primary state, nothing heard from it at all for
    ``alone_after`` seconds. Raises SplitBrain for the two impossible combinations.
    """
    if state == PRIMARY:
        if event == PEER_BACKUP:
            return ACTIVE, False
        if event == PEER_ACTIVE:
            return PASSIVE, False
        if event == CLIENT_REQUEST:        # a primary that has been alone long enough serves
            return (ACTIVE, True) if peer_silent else (PRIMARY, False)
    elif state == BACKUP:
        if event == PEER_ACTIVE:
            return PASSIVE, False
        # a backup that has never heard an active primary never serves: it rejects clients
    elif state == ACTIVE:
        if event == PEER_ACTIVE:
            raise SplitBrain("dual actives: both servers think they are active")
        if event == CLIENT_REQUEST:
            return ACTIVE, True
    elif state == PASSIVE:
        if event in (PEER_PRIMARY, PEER_BACKUP):   # the peer restarted: we take over, it goes passive
            return ACTIVE, False
        if event == PEER_PASSIVE:
            raise SplitBrain("dual passives: nobody would serve")
        if event == CLIENT_REQUEST:                # failover, only if the peer has gone silent
            return (ACTIVE, True) if peer_silent else (PASSIVE, False)
    return state, False


def server(peer, side: str, frontend: str, statepub: str, peer_statepub: str,
           heartbeat: float = 0.1, alone_after: float | None = None):
    """One Binary Star server: ``side`` is "primary" or "backup".

    Answers client requests (an echo) only while active. Logs each state change as a "state" event
    (fields: ``state``, the new state, and ``why``) and keeps the current state in
    ``peer.data["state"]``. ``alone_after``: a primary that has heard nothing from its peer for
    this long since it started may serve alone when a client asks (None: never; it waits for its peer).
    """
    if side not in ("primary", "backup"):
        raise ValueError(f"side must be 'primary' or 'backup', not {side!r}")
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    pub = peer.socket(zmq.PUB)
    pub.bind(statepub)
    sub = peer.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(peer_statepub)
    poller = zmq.Poller()
    poller.register(front, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)

    state = PRIMARY if side == "primary" else BACKUP
    started = time.monotonic()
    # until we hear the peer, assume it may be alive (and active): a lone primary waits alone_after
    peer_expiry = started + alone_after if alone_after is not None else float("inf")
    last_heard = started
    peer.data["state"] = peer.data["status"] = STATE_NAMES[state]      # the panel shows "status"
    peer.log("state", state=STATE_NAMES[state], why="started")

    def change(new: int, why: str, **fields):
        nonlocal state
        if new != state:
            state = new
            peer.data["state"] = peer.data["status"] = STATE_NAMES[new]
            peer.log("state", state=STATE_NAMES[new], why=why, **fields)

    send_at = time.monotonic()                     # tell the peer our state at once, then every heartbeat
    try:
        while peer.running:
            events = peer.poll(poller, send_at - time.monotonic())
            # the peer's state first: fresh news about the peer before any client request
            for _ in range(100 if sub in events else 0):    # at most 100: a flood cannot starve clients
                if not peer.poll(sub, 0):
                    break
                if (event := recv_state(peer, sub)) is None:
                    continue
                last_heard = time.monotonic()
                peer_expiry = last_heard + 2 * heartbeat
                peer.data["last_heard"] = peer.now()
                change(next_state(state, event, peer_silent=False)[0], f"heard {EVENT_NAMES[event]}")
            if front in events and (frames := recv_request(peer, front)):   # [client, b"", request...]
                quiet = time.monotonic() - last_heard
                new, accept = next_state(state, CLIENT_REQUEST, time.monotonic() >= peer_expiry)
                if new != state:                   # a failover: note how long the peer was silent
                    change(new, "client request", silent=round(quiet, 3))
                    peer.data.setdefault("failovers", []).append((peer.now(), quiet))
                if accept:
                    peer.throttle()
                    front.send_multipart(frames)
                    peer.count("replies")
                else:
                    peer.count("rejected")         # dropped: the client will time out and switch
            if time.monotonic() >= send_at:
                pub.send(str(state).encode())
                send_at = time.monotonic() + heartbeat
    finally:
        peer.data["state"] = peer.data["status"] = "down"
        peer.log("state", state="down", why="stopped")


def client(peer, servers: list[str], timeout: float = 0.05, requests: int | None = None,
           interval: float = 0.0):
    """A Lazy Pirate over two servers: resend to the other server after each ``timeout``.

    Counts "replies" and "switches" (a timeout, then the other server). Each reply must echo its
    request. ``peer.latency("request", s)`` includes the time spent switching.
    """
    index = 0
    req = peer.socket(zmq.REQ)
    req.connect(servers[index])
    n = 0
    while peer.running and (requests is None or n < requests):
        body = str(n).encode()
        started = time.perf_counter()
        req.send(body)
        while not good_reply(peer, req, body, timeout):
            if not peer.running:
                return
            peer.close_socket(req)                # Lazy Pirate: a fresh socket, the other server
            index = 1 - index
            peer.count("switches")
            req = peer.socket(zmq.REQ)
            req.connect(servers[index])
            req.send(body)
        peer.count("replies")
        peer.latency("request", time.perf_counter() - started)
        n += 1
        if interval and not peer.sleep(interval):
            return
    peer.data["done"] = True


def good_reply(peer, req: zmq.Socket, body: bytes, timeout: float) -> bool:
    """True when the echo of ``body`` arrives within ``timeout``. Anything else that arrives is
    counted and logged as malformed, and treated as no reply (the client switches servers)."""
    if not peer.poll(req, timeout):
        return False
    frames = req.recv_multipart()
    if frames != [body]:
        malformed(peer, frames, f"the reply to {body!r} echoes it")
        return False
    return True


def watch(peer, lab, names=("primary", "backup"), every: float = 0.002):
    """A referee, not part of the pattern: samples the servers' states every ``every`` seconds.
    ``peer.data``: "samples", "max_active" (most servers seen active at once), "two_active_at"."""
    peer.data.update(helper=True, samples=0, max_active=0, two_active_at=[])    # helper: no panel row
    while peer.running:
        active = [lab.peers[n].data.get("state") for n in names if n in lab.peers].count("active")
        peer.data["samples"] += 1
        peer.data["max_active"] = max(peer.data["max_active"], active)
        if active > 1:
            peer.data["two_active_at"].append(lab.now())
        peer.sleep(every)


def pair_endpoints(lab) -> dict[str, dict[str, str]]:
    """tcp endpoints for a pair: {"primary": {...}, "backup": {...}} with frontend, statepub and
    peer_statepub, ready to pass to ``lab.start(name, server, side=name, **endpoints[name])``."""
    ep = {name: {"frontend": lab.endpoint(f"{name}-frontend", "tcp"),
                 "statepub": lab.endpoint(f"{name}-state", "tcp")} for name in ("primary", "backup")}
    ep["primary"]["peer_statepub"] = ep["backup"]["statepub"]
    ep["backup"]["peer_statepub"] = ep["primary"]["statepub"]
    return ep


ROLES = {"server": server, "client": client}
