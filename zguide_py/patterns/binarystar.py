"""Binary Star: a primary server and a backup server, exactly one of them active.

Two servers, each with three sockets: a ROUTER ``frontend`` for clients, a PUB that tells the
other server this server's state every ``heartbeat`` seconds, and a SUB that hears the other's.
The primary server and the backup server are *names*, fixed at start (``side``). Each runs a small
finite-state machine whose *states* are PRIMARY and BACKUP (the starting states: just started,
waiting to hear the peer), ACTIVE (answers clients) and PASSIVE (does not). Events: the four states
the *peer* says it is in, and ``client request``.

* At start, state PRIMARY becomes ACTIVE as soon as it hears the peer say BACKUP; state BACKUP
  becomes PASSIVE as soon as it hears an ACTIVE peer. A restarted server hears an ACTIVE peer and
  goes PASSIVE: recovery is manual, nothing fails back by itself. Until it has heard its peer, a
  server does not serve at all (the guide's version lets a lone primary server serve after two
  heartbeats; on a busy machine a *restarted* primary server can then miss the active backup's
  first heartbeats and go ACTIVE beside it, so here that takes ``alone_after`` seconds, and is off
  by default).
* The PASSIVE server takes over only when **a client request reaches it and the peer has been
  silent for** ``SILENT_BEATS`` **heartbeats**. Both conditions are needed: silence alone could be a
  broken link between two healthy servers (both would go ACTIVE: *split brain*); a client turning
  to the backup shows that the client has given up on the primary too.
* Two ACTIVEs, or two PASSIVEs, is a fatal error: the server stops (here: the role raises).

Clients are Lazy Pirates over two endpoints: on a timeout they close the socket and resend the same
request to the *other* server, and so on, until one answers. What the lab sees of a server (its
state in ``peer.data``, a "state" event at each change) is :class:`StateReport`'s job; the states
over time, and the checks that never two servers were active, are in ``zguide_py.views.binarystar``.
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
#: heartbeats without a word from the peer after which a PASSIVE server may take over (if a client asks)
SILENT_BEATS = 2


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
    """The Binary Star state machine: ``(new state, answer the client request?)``.

    ``peer_silent`` only matters for a client request: the peer has missed its deadline (see
    ``server``). Raises SplitBrain for the two impossible combinations.
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
    """One Binary Star server, ``side`` "primary" or "backup": it echoes client requests while
    ACTIVE. ``alone_after``: a primary server that has heard nothing from its peer this long may
    serve alone when a client asks (None: never, it waits for its peer)."""
    state = starting_state(side)                   # PRIMARY or BACKUP
    front = peer.socket(zmq.ROUTER)                # clients' requests
    front.bind(frontend)
    pub = peer.socket(zmq.PUB)                     # our state, for the peer
    pub.bind(statepub)
    sub = peer.socket(zmq.SUB)                     # the peer's state
    sub.subscribe(b"")
    sub.connect(peer_statepub)
    poller = zmq.Poller()
    poller.register(front, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)

    heard_at = time.monotonic()                    # when we last heard the peer (so far: never)
    # until we hear the peer it may be alive, and active: only a primary told so may serve alone
    peer_expiry = heard_at + alone_after if alone_after is not None else float("inf")
    send_at = time.monotonic()                     # our state goes out at once, then every heartbeat
    with StateReport(peer, state) as report:       # the lab sees each change of state
        while peer.running:
            events = peer.poll(poller, send_at - time.monotonic())
            if sub in events:                      # the peer's state first: news before any client request
                for event in recv_states(peer, sub):
                    heard_at = time.monotonic()
                    peer_expiry = heard_at + SILENT_BEATS * heartbeat
                    state, _ = next_state(state, event, False)
                    report(state, f"heard {EVENT_NAMES[event]}")
            if front in events and (request := recv_request(peer, front)):   # [client, b"", body...]
                state, serve = next_state(state, CLIENT_REQUEST, time.monotonic() >= peer_expiry)
                report(state, "client request", silent=time.monotonic() - heard_at)
                if serve:
                    peer.throttle()
                    front.send_multipart(request)
                peer.count("replies" if serve else "rejected")   # rejected: dropped, the client will switch
            if time.monotonic() >= send_at:
                pub.send(str(state).encode())
                send_at = time.monotonic() + heartbeat


def client(peer, servers: list[str], timeout: float = 0.05, requests: int | None = None,
           interval: float = 0.0):
    """A Lazy Pirate over two servers: with no reply after ``timeout``, send the same request to the
    other server, and so on until one answers. Counts "replies" and "switches"."""
    index = 0                                      # the server in use: 0 or 1
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
            peer.close_socket(req)                 # no reply: the REQ socket is stuck, throw it away
            index = 1 - index                      # and send the same request to the other server
            peer.count("switches")
            req = peer.socket(zmq.REQ)
            req.connect(servers[index])
            req.send(body)
        answered(peer, started)
        n += 1
        if interval and not peer.sleep(interval):
            return
    peer.data["done"] = True


# ---- helpers of the roles (not shown in the notebook) -------------------------------------------

def starting_state(side: str) -> int:
    """A server's first state: PRIMARY for the primary server, BACKUP for the backup server."""
    if side not in ("primary", "backup"):
        raise ValueError(f"side must be 'primary' or 'backup', not {side!r}")
    return PRIMARY if side == "primary" else BACKUP


def recv_states(peer, sub: zmq.Socket, most: int = 100):
    """The peer's state messages waiting on ``sub``, each checked (a malformed one is counted,
    logged and skipped); at most ``most`` at a time, so that a flood cannot starve the clients."""
    for _ in range(most):
        if not peer.poll(sub, 0):
            return
        if (event := recv_state(peer, sub)) is not None:
            yield event


class StateReport:
    """What the lab sees of a server's state (not part of the pattern). Keeps it in
    ``peer.data["state"]`` (and ``"status"``, the panel's line) and logs a "state" event at each
    change, with the fields ``state`` (the new state) and ``why``. A change on a client request (a
    takeover) also has ``silent``, how long the peer had been silent, and is appended to
    ``peer.data["failovers"]`` as ``(lab time, silence)``. Used as a ``with`` block: when it ends
    (a kill, an error such as SplitBrain, the lab closing) the state becomes "down"."""

    def __init__(self, peer, state: int):
        self.peer, self.state = peer, state

    def __enter__(self) -> StateReport:
        self._show(STATE_NAMES[self.state], "started")
        return self

    def __exit__(self, *exc) -> bool:
        self._show("down", "stopped")
        return False                               # an error goes on up: the lab records it

    def __call__(self, state: int, why: str, silent: float | None = None) -> None:
        if state == self.state:
            return
        self.state = state
        if silent is None:
            self._show(STATE_NAMES[state], why)
        else:
            self._show(STATE_NAMES[state], why, silent=round(silent, 3))
            self.peer.data.setdefault("failovers", []).append((self.peer.now(), silent))

    def _show(self, name: str, why: str, **fields) -> None:
        self.peer.data["state"] = self.peer.data["status"] = name       # the panel shows "status"
        self.peer.log("state", state=name, why=why, **fields)


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


def answered(peer, started: float) -> None:
    """Count a reply, and record how long its request took, switches included ("request" latency)."""
    peer.count("replies")
    peer.latency("request", time.perf_counter() - started)


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
