"""Clone, models 4 to 6: subtrees, ephemeral values, and a reliable pair of servers.

Notebook 25 builds on the Clone roles of notebooks 06-07 (``clone.py``: the five-frame kvmsg, the
snapshot, ``HUGZ``) and on the Binary Star pair of notebook 14 (``binarystar.py``: its state machine).

* **Model 4, subtrees.** Keys are paths (``/red/key-003``) and a client names the part of the map it
  wants, a key prefix (``/red/``). It subscribes to that prefix only (a PUB socket filters for its
  subscribers, so the rest never crosses the wire) and sends the prefix with ``ICANHAZ?``: the
  snapshot holds only those keys, and ``KTHXBAI`` carries the subtree in its body, as 12/CHP says.
  The price: such a client sees only some of the sequence numbers, so it can no longer tell a
  missed update from an update of another subtree (only a client of the whole map checks for gaps).
* **Model 5, ephemeral values.** An update may carry a property ``ttl=SECONDS``. The server deletes
  the key when that time has run out, and publishes the deletion: an update of that key with an
  empty body (and a number of its own). An empty body from a client is a deletion too.
* **Model 6, a reliable pair.** A primary and a backup server, with Binary Star's state machine;
  the snapshot ROUTER is the "voter": a client's ``ICANHAZ?`` is the client request that lets a
  passive server take over once its peer has been silent for two heartbeats. Clients publish each
  update to *both* servers (PUB to each one's SUB collector, 12/CHP). The active server numbers and
  publishes it. The passive one keeps it on a **pending list** until it sees it come back from the
  active server, matched by uuid; it also follows the active server's stream, so it has the same
  map and the same sequence numbers. When it takes over, it numbers what is still pending: the
  updates that the dead server never published. A client that hears nothing (no update, no
  ``HUGZ``) for ``server_ttl`` seconds fails over: it subscribes to the other server, asks it for a
  new snapshot, and carries on from that snapshot's sequence number.

What goes beyond the guide's model 6: updates with the same uuid are numbered once (its C server
would number an update twice if the dead server's copy and the client's copy both reached the
backup); only the active server expires keys and sends ``HUGZ``; a passive server that misses an
update of the active one (a gap) takes a new snapshot; and a client waits, before it writes, until
both servers' collectors have subscribed (its XPUB socket hears each subscription), so that no update
is dropped by a subscription still on its way. The views are in ``zguide_py.views.clonepair``.
"""
from __future__ import annotations

import math
import random
import time
from collections import deque
from dataclasses import dataclass, field, replace

import zmq

from . import binarystar as bstar
from . import clone
from .clone import (HUGZ, ICANHAZ, KTHXBAI, MAX_BODY, MAX_KEY, MAX_KEYS, TICK, KVMsg, Pacer, Recent, _at,
                    heard_hugz, malformed, recv_kvmsg, resync, send_hugz, update_problem)

MAX_TTL = 24 * 3600.0      # seconds: the longest life an ephemeral value may ask for


# ---- checking what comes in ----------------------------------------------------------------------

def ttl_of(msg: KVMsg) -> float | None:
    """The update's time to live in seconds (its ``ttl`` property), None when it has none.
    ValueError when it is not a number of seconds above 0 and at most a day."""
    text = msg.properties.get("ttl")
    if text is None:
        return None
    ttl = float(text)
    if not (0 < ttl <= MAX_TTL) or math.isnan(ttl):
        raise ValueError(f"ttl is a number of seconds in (0, {MAX_TTL:g}], not {text[:20]!r}")
    return ttl


def problem(msg: KVMsg, kvmap: dict, max_keys: int = MAX_KEYS, max_body: int = MAX_BODY) -> str | None:
    """Why an update must be refused (None: take it): model 3's checks, and a ttl that is not one."""
    try:
        ttl_of(msg)
    except ValueError as exc:
        return str(exc)
    return update_problem(msg, kvmap, max_keys, max_body)


def recv_update(peer, sock: zmq.Socket, kvmap: dict, max_keys: int = MAX_KEYS,
                max_body: int = MAX_BODY) -> KVMsg | None:
    """The next update a client published to the collector, checked (None: counted and logged)."""
    return clone.recv_update(peer, sock, kvmap, max_keys, max_body, check=problem)


def snapshot_request(peer, router: zmq.Socket) -> tuple[bytes, str] | None:
    """``[identity, ICANHAZ?, subtree]`` on the ROUTER -> (identity, subtree); the subtree frame may be
    missing (the whole map). Anything else: None, counted and logged."""
    frames = router.recv_multipart()
    if len(frames) in (2, 3) and frames[1] == ICANHAZ and len(frames[-1]) <= MAX_KEY:
        try:
            return frames[0], frames[2].decode() if len(frames) == 3 else ""
        except UnicodeDecodeError:
            pass
    malformed(peer, frames, "a snapshot request is ICANHAZ? and a subtree (a key prefix)")
    return None


# ---- a server's state: the map, its sequence number, when each ephemeral key expires ---------------

@dataclass
class Hashmap:
    """What a server holds: the latest update of each key, the sequence number of the newest one, the
    time (``time.monotonic()``) at which each ephemeral key expires, and the uuids of what it stored."""

    kvmap: dict[str, KVMsg] = field(default_factory=dict)
    sequence: int = 0
    expires: dict[str, float] = field(default_factory=dict)
    sequenced: Recent = field(default_factory=Recent)         # uuids stored (the last 100 000)
    history: deque = field(default_factory=lambda: deque(maxlen=100_000))   # (sequence, uuid) stored

    def store(self, msg: KVMsg) -> None:
        """Apply one numbered update: set its key, or delete it when the body is empty. A ``ttl``
        property says when the key expires, counted from now."""
        self.sequence = msg.sequence
        if msg.uuid:
            self.sequenced.add(msg.uuid)
        self.history.append((msg.sequence, msg.uuid))
        self.expires.pop(msg.key, None)
        if not msg.body:
            self.kvmap.pop(msg.key, None)
            return
        self.kvmap[msg.key] = msg
        if (ttl := ttl_of(msg)) is not None:
            self.expires[msg.key] = time.monotonic() + ttl

    def next_expiry(self) -> float:
        return min(self.expires.values(), default=math.inf)


def shown(peer, hm: Hashmap) -> Hashmap:
    """Leave a server's state where the notebook reads it (``clone.state_of`` and the views)."""
    peer.data.update(hashmap=hm, kvmap=hm.kvmap, sequenced=hm.sequenced)
    at(peer, hm.sequence, hm.kvmap)
    return hm


def n_keys(kvmap: dict) -> str:
    """'1 key', '7 keys': for status lines."""
    return f"{len(kvmap)} key{'' if len(kvmap) == 1 else 's'}"


def at(peer, sequence: int, kvmap: dict) -> None:
    """The sequence number and the number of keys this peer has reached (data, and counters that
    the lab samples for the plots)."""
    _at(peer, sequence)
    peer.counter("keys").value = len(kvmap)


def publish(peer, pub: zmq.Socket, hm: Hashmap, msg: KVMsg) -> None:
    """The one way an active server changes the state: the next number, store, publish."""
    msg.sequence = hm.sequence + 1
    hm.store(msg)
    msg.send(pub)
    at(peer, msg.sequence, hm.kvmap)
    peer.count("updates")
    peer.throttle()


def expire(peer, pub: zmq.Socket, hm: Hashmap) -> None:
    """Model 5: delete every key whose time is up, and publish each deletion (an empty body)."""
    now = time.monotonic()
    for key in [k for k, t in hm.expires.items() if t <= now]:
        publish(peer, pub, hm, KVMsg(key, properties={"expired": "ttl"}))
        peer.count("expired")


def send_snapshot(peer, router: zmq.Socket, identity: bytes, subtree: str, hm: Hashmap) -> None:
    """Model 4's snapshot: every key under ``subtree`` (an ephemeral one with the time it has left as
    its ttl), then ``KTHXBAI`` with the state's sequence number and the subtree as its body."""
    now = time.monotonic()
    for key, msg in list(hm.kvmap.items()):
        if key.startswith(subtree):
            if key in hm.expires:
                msg = replace(msg, properties={**msg.properties, "ttl": f"{max(hm.expires[key] - now, 1e-3):.3f}"})
            router.send_multipart([identity, *msg.encode()])
    router.send_multipart([identity, *KVMsg(KTHXBAI, hm.sequence, subtree.encode(), uuid=b"").encode()])
    peer.count("snapshots")


def fresh(peer, hm: Hashmap, msg: KVMsg) -> bool:
    """False for an update this server has already stored (same uuid): it is not numbered twice."""
    if msg.uuid and msg.uuid in hm.sequenced:
        peer.count("duplicates")
        return False
    return True


# ---- models 4 and 5: one server ----------------------------------------------------------------------

def clonesrv5(peer, snapshot: str, publisher: str, collector: str, hugz: float = 0.5,
              max_keys: int = MAX_KEYS, max_body: int = MAX_BODY):
    """Clone server, models 4 and 5: model 3's server with subtrees in its snapshots, ephemeral
    values that it expires and deletes everywhere, and a SUB collector (clients publish to it).
    ``HUGZ`` every ``hugz`` seconds."""
    router = peer.socket(zmq.ROUTER)
    router.bind(snapshot)
    pub = peer.socket(zmq.PUB)
    pub.bind(publisher)
    updates = peer.socket(zmq.SUB)
    updates.setsockopt(zmq.SUBSCRIBE, b"")
    updates.bind(collector)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    poller.register(updates, zmq.POLLIN)
    hm = shown(peer, Hashmap())
    peer.data["status"] = lambda: f"seq {hm.sequence}, {n_keys(hm.kvmap)} ({len(hm.expires)} ephemeral)"
    next_hugz = time.monotonic() + hugz
    while peer.running:
        events = peer.poll(poller, max(0.0, min(next_hugz, hm.next_expiry()) - time.monotonic()))
        if updates in events and (msg := recv_update(peer, updates, hm.kvmap, max_keys, max_body)):
            if fresh(peer, hm, msg):
                publish(peer, pub, hm, msg)
        if router in events and (request := snapshot_request(peer, router)):
            send_snapshot(peer, router, *request, hm)
        expire(peer, pub, hm)                     # model 5: ephemeral values whose time is up
        if time.monotonic() >= next_hugz:
            send_hugz(pub, hm.sequence)
            next_hugz = time.monotonic() + hugz


# ---- model 6: the pair --------------------------------------------------------------------------------

def ask_snapshot(peer, endpoint: str, subtree: str, timeout: float) -> tuple[dict, int] | None:
    """``ICANHAZ?`` + subtree to one server: ``(kvmap, sequence)``, or None when no ``KTHXBAI`` came
    within ``timeout`` (the server is dead, or passive and refusing) or the peer was stopped."""
    dealer = peer.socket(zmq.DEALER)
    dealer.connect(endpoint)
    try:
        peer.send(dealer, [ICANHAZ, subtree.encode()], timeout=timeout)
        kvmap: dict[str, KVMsg] = {}
        while peer.poll(dealer, timeout):
            msg = recv_kvmsg(peer, dealer)
            if msg is None:
                continue
            if msg.key == KTHXBAI:
                return kvmap, msg.sequence
            if not msg.key.startswith(subtree) or (why := problem(msg, kvmap)) or not msg.body:
                malformed(peer, msg.encode(), f"not a key of subtree {subtree!r}: {why or 'empty'}")
                continue
            kvmap[msg.key] = msg
        return None
    finally:
        peer.close_socket(dealer)


def adopt(peer, got: tuple[dict, int], pending: dict, updates: zmq.Socket) -> Hashmap:
    """A passive server takes the active one's snapshot as its state. What it held is dropped: the
    snapshot has it, or the active server has yet to publish it (and the stream will bring it)."""
    kvmap, sequence = got
    hm, now = Hashmap(kvmap=kvmap, sequence=sequence), time.monotonic()
    for msg in kvmap.values():
        if msg.uuid:
            hm.sequenced.add(msg.uuid)
        if (ttl := ttl_of(msg)) is not None:
            hm.expires[msg.key] = now + ttl
    pending.clear()
    while updates.poll(0):                      # clients' copies that waited meanwhile: the same
        updates.recv_multipart()
    peer.count("synced")
    peer.log("synced", keys=len(kvmap), sequence=sequence)
    return shown(peer, hm)


def hold(peer, hm: Hashmap, pending: dict[bytes, KVMsg], msg: KVMsg) -> None:
    """A passive server's collector: keep a client's update until the active server publishes it."""
    if not msg.uuid:
        peer.count("no uuid")      # it cannot be matched: left to the active server
    elif fresh(peer, hm, msg):     # not seen from the active server yet: pending
        pending[msg.uuid] = msg
        peer.count("held")


def mirror(peer, hm: Hashmap, pending: dict[bytes, KVMsg], msg: KVMsg) -> bool:
    """A passive server's step on the active server's stream: store the next update, and take it off
    the pending list. False when this server must take a new snapshot (a gap, or a ``HUGZ`` ahead)."""
    if msg.key == HUGZ:
        return not heard_hugz(peer, msg, hm.sequence)
    if msg.sequence <= hm.sequence:
        return True
    if msg.sequence > hm.sequence + 1 or (msg.body and problem(msg, hm.kvmap) is not None):
        peer.log("gap", expected=hm.sequence + 1, got=msg.sequence)
        return False
    pending.pop(msg.uuid, None)
    hm.store(msg)
    at(peer, msg.sequence, hm.kvmap)
    peer.count("mirrored")
    return True


def take_over(peer, pub: zmq.Socket, hm: Hashmap, pending: dict[bytes, KVMsg]) -> None:
    """Becoming active: number and publish every update still pending, oldest first. They reached
    this server from their clients, but never came back from the dead one: without this, lost."""
    log_takeover(peer, hm, pending)
    for msg in list(pending.values()):
        if fresh(peer, hm, msg):
            publish(peer, pub, hm, msg)
            peer.count("pending numbered")
    pending.clear()


def log_takeover(peer, hm: Hashmap, pending: dict) -> None:
    """A "takeover" event, and ``(time, sequence, pending)`` in ``peer.data["takeovers"]`` for the views."""
    peer.log("takeover", pending=len(pending), sequence=hm.sequence)
    peer.data.setdefault("takeovers", []).append((peer.now(), hm.sequence, len(pending)))


def change(peer, state: int, new: int, why: str, hm: Hashmap, pub: zmq.Socket, pending: dict) -> int:
    """Move to Binary Star's ``new`` state (logged). Becoming active numbers the pending list."""
    if new != state:
        peer.data["state"] = bstar.STATE_NAMES[new]
        peer.log("state", state=bstar.STATE_NAMES[new], why=why)
        if new == bstar.ACTIVE:
            take_over(peer, pub, hm, pending)
    return new


def clonesrv6(peer, side: str, snapshot: str, publisher: str, collector: str, statepub: str,
              peer_statepub: str, peer_snapshot: str, peer_publisher: str, heartbeat: float = 0.1,
              hugz: float = 0.1, timeout: float = 0.5, alone_after: float | None = None):
    """Clone server, model 6: one of a Binary Star pair (``side`` "primary" or "backup"). Active: as
    ``clonesrv5``. Passive: takes a snapshot of the active one (``peer_snapshot``), follows its stream
    (``peer_publisher``) and keeps clients' updates on its pending list until it sees them there."""
    if side not in ("primary", "backup"):
        raise ValueError(f"side must be 'primary' or 'backup', not {side!r}")
    router, pub, updates = peer.socket(zmq.ROUTER), peer.socket(zmq.PUB), peer.socket(zmq.SUB)
    router.bind(snapshot)                       # the voter: ICANHAZ? is Binary Star's client request
    pub.bind(publisher)
    updates.bind(collector)
    state_pub, state_sub, follow = peer.socket(zmq.PUB), peer.socket(zmq.SUB), peer.socket(zmq.SUB)
    state_pub.bind(statepub)
    state_sub.connect(peer_statepub)
    follow.connect(peer_publisher)
    poller = zmq.Poller()
    for sock in (router, updates, state_sub, follow):
        poller.register(sock, zmq.POLLIN)
    for sock in (updates, state_sub, follow):
        sock.setsockopt(zmq.SUBSCRIBE, b"")
    hm, pending = shown(peer, Hashmap()), {}
    state = bstar.PRIMARY if side == "primary" else bstar.BACKUP
    in_sync = side == "primary"                 # its map is the truth: the primary's first (empty) one
    peer_expiry = time.monotonic() + alone_after if alone_after is not None else math.inf
    peer.data.update(state=bstar.STATE_NAMES[state], pending=pending)
    peer.data["status"] = lambda: (f"{bstar.STATE_NAMES[state]}, seq {hm.sequence}, {n_keys(hm.kvmap)}"
                                   + (f", {len(pending)} pending" if state == bstar.PASSIVE else ""))
    peer.log("state", state=bstar.STATE_NAMES[state], why="started")
    beat_at = hugz_at = sync_at = time.monotonic()
    try:
        while peer.running:
            wake = min(beat_at, hugz_at, hm.next_expiry()) if state == bstar.ACTIVE else beat_at
            events = peer.poll(poller, max(0.0, wake - time.monotonic()))
            was = state
            if state_sub in events and (event := bstar.recv_state(peer, state_sub)):   # the peer's state
                peer_expiry = time.monotonic() + 2 * heartbeat
                new = bstar.next_state(state, event, peer_silent=False)[0]
                state = change(peer, state, new, f"heard {bstar.EVENT_NAMES[event]}", hm, pub, pending)
            if router in events and (request := snapshot_request(peer, router)):          # the voter
                new, accept = bstar.next_state(state, bstar.CLIENT_REQUEST, time.monotonic() >= peer_expiry)
                state = change(peer, state, new, "client request", hm, pub, pending)
                send_snapshot(peer, router, *request, hm) if accept else peer.count("rejected")
            if state != was:
                in_sync = state == bstar.ACTIVE     # a new passive server first takes a snapshot
            if updates in events and (msg := recv_update(peer, updates, hm.kvmap)):       # a client's update
                if state != bstar.ACTIVE:
                    hold(peer, hm, pending, msg)
                elif fresh(peer, hm, msg):
                    publish(peer, pub, hm, msg)
            if follow in events and (msg := recv_kvmsg(peer, follow)) and state == bstar.PASSIVE and in_sync:
                in_sync = mirror(peer, hm, pending, msg)            # the active server's stream
            if state == bstar.PASSIVE and not in_sync and time.monotonic() >= sync_at:
                if (got := ask_snapshot(peer, peer_snapshot, "", timeout)) is not None:
                    hm, in_sync = adopt(peer, got, pending, updates), True
                sync_at = time.monotonic() + timeout
            if state == bstar.ACTIVE:
                expire(peer, pub, hm)
                if time.monotonic() >= hugz_at:
                    send_hugz(pub, hm.sequence)
                    hugz_at = time.monotonic() + hugz
            if time.monotonic() >= beat_at:
                state_pub.send(str(state).encode())
                beat_at = time.monotonic() + heartbeat
    finally:
        peer.data["state"] = "down"
        peer.log("state", state="down", why="stopped")


# ---- model 6: the client ---------------------------------------------------------------------------------

def subscribe(peer, endpoint: str, subtree: str) -> zmq.Socket:
    """A SUB to one server's updates: its subtree (and ``HUGZ``), or everything."""
    sub = peer.socket(zmq.SUB)
    for topic in ([subtree, HUGZ] if subtree else [""]):
        sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sub.connect(endpoint)
    return sub


def apply(peer, msg: KVMsg, kvmap: dict[str, KVMsg], sequence: int, subtree: str, strict: bool) -> int | None:
    """A client's step on one message of its SUB: skip what the snapshot had, apply a set or a delete.
    Returns the sequence reached, or None when it must take a new snapshot. ``strict``: check that
    the numbers follow each other (a gap) and that a ``HUGZ`` is not ahead of us. A client of the
    whole map always checks; a subtree's client sees only some numbers, so it checks only the first
    message after a snapshot (its subscription might have reached the server after the snapshot)."""
    if msg.key == HUGZ:
        return None if strict and heard_hugz(peer, msg, sequence) else sequence
    if not msg.key.startswith(subtree):     # never, if the publisher filtered as it should
        peer.count("not mine")
        return sequence
    if msg.sequence <= sequence:
        peer.count("skipped")
        return sequence
    if strict and msg.sequence > sequence + 1:
        resync(peer, "gap", expected=sequence + 1, got=msg.sequence)
        return None
    if msg.body and (why := problem(msg, kvmap)) is not None:
        malformed(peer, msg.encode(), why)
        return sequence
    if msg.body:
        kvmap[msg.key] = msg
    elif kvmap.pop(msg.key, None) is not None:
        peer.count("deleted")
    peer.count("applied")
    peer.throttle()
    return msg.sequence


def clonecli6(peer, snapshot: list[str], publisher: list[str], collector: list[str], subtree: str = "",
              count: int = 0, rate: float = 20.0, keys: int = 10, ttl: float | None = None,
              seed: int | None = 0, server_ttl: float = 0.3, timeout: float = 0.25):
    """Clone client, models 4-6: keeps a copy of ``subtree`` (a key prefix; "" is the whole map) from
    one server of the list and publishes ``count`` updates of its own to every server's collector,
    at ``rate`` per second, to keys under its subtree (each with a ``ttl`` property if one is given).
    Fails over to the next server after ``server_ttl`` seconds without a word from its server."""
    updates = peer.socket(zmq.XPUB, xpub_verbose=1, immediate=1)   # hears each collector subscribe
    for endpoint in collector:
        updates.connect(endpoint)
    rng = random.Random(f"{seed}:{peer.name}:{peer.starts}") if seed is not None else random.Random()
    books = ClientBooks(peer)                 # for the views: what it sent, snapshots, failovers
    sub, index, kvmap, sequence, listening, began = None, 0, None, 0, 0, time.monotonic()
    pacer, extra = Pacer(rate, burst=10), ({"ttl": f"{ttl:g}"} if ttl else {})
    peer.data["status"] = lambda: f"seq {sequence}, {n_keys(kvmap or {})}, server {index + 1}"
    while peer.running:
        if sub is None:                                        # subscribe first...
            sub, proven = subscribe(peer, publisher[index], subtree), False
        if kvmap is None:                                      # ...then ask for the state
            if (got := ask_snapshot(peer, snapshot[index], subtree, timeout)) is None:
                peer.close_socket(sub)                         # dead, or passive: the next server
                sub, index = None, (index + 1) % len(snapshot)
                peer.count("switches")
                continue
            kvmap, sequence = got
            books.snapshot(kvmap, sequence, index)
            heard = time.monotonic()
        if listening >= len(collector) or time.monotonic() - began > 4 * timeout:
            for _ in range(pacer.due(hold=peer.inputs.get("paused"), left=count - len(books.life))):
                msg = KVMsg(f"{subtree}key-{rng.randrange(keys):03d}", 0, str(rng.randrange(10**6)).encode(),
                            properties={"from": peer.name, **extra})
                updates.send_multipart(msg.encode())          # to every server (PUB never blocks)
                books.sent(msg)
        if updates.poll(0):                                    # a collector subscribed: one more listening
            listening += updates.recv()[:1] == b"\x01"
        if peer.poll(sub, TICK) and (msg := recv_kvmsg(peer, sub)):
            heard = time.monotonic()
            reached = apply(peer, msg, kvmap, sequence, subtree, strict=not subtree or not proven)
            proven = True
            kvmap, sequence = (None, sequence) if reached is None else (kvmap, reached)
            at(peer, sequence, kvmap or {})
        elif time.monotonic() - heard > server_ttl:            # the server is silent: fail over
            books.failover(sequence, index)
            peer.close_socket(sub)
            sub, kvmap, index = None, None, (index + 1) % len(snapshot)
        peer.data["idle"] = len(books.life) >= count or bool(peer.inputs.get("paused"))


class ClientBooks:
    """A model-6 client's records in ``peer.data`` (``sent_uuids`` over all its starts, ``life_uuids``
    of this start, ``kvmap``, ``sequence``, ``server``, ``failovers``), its counters and events."""

    def __init__(self, peer):
        self.peer = peer
        self.sent_uuids, self.life = peer.data.setdefault("sent_uuids", []), []
        peer.data.update(life_uuids=self.life, idle=False, kvmap={}, sequence=0, server=0, failovers=[])

    def snapshot(self, kvmap: dict[str, KVMsg], sequence: int, index: int) -> None:
        """The state of server ``index`` taken: shown, counted (``snapshots``) and logged."""
        self.peer.data.update(kvmap=kvmap, server=index)
        at(self.peer, sequence, kvmap)
        self.peer.count("snapshots")
        self.peer.log("snapshot", keys=len(kvmap), sequence=sequence, server=index)

    def sent(self, msg: KVMsg) -> None:
        """One update published: its uuid kept (for the views' lost-update check), counted."""
        self.sent_uuids.append(msg.uuid)
        self.life.append(msg.uuid)
        self.peer.count("sent")

    def failover(self, sequence: int, index: int) -> None:
        """Server ``index`` fell silent at ``sequence``: kept, logged and counted."""
        self.peer.data["failovers"].append((self.peer.now(), sequence))
        self.peer.log("failover", sequence=sequence, server=index)
        self.peer.count("failovers")


ROLES = {"clonesrv5": clonesrv5, "server": clonesrv6, "client": clonecli6}


def pair_endpoints(lab, transport: str = "tcp") -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Endpoints for a pair and its clients: ``({"primary": {...}, "backup": {...}}, {...})``, ready
    for ``lab.start(side, clonesrv6, side=side, **servers[side])`` and ``lab.start(name, clonecli6,
    **clients)`` (each client list names the primary's endpoint first)."""
    names = ("snapshot", "publisher", "collector", "statepub")
    servers = {s: {n: lab.endpoint(f"{s}-{n}", transport) for n in names} for s in ("primary", "backup")}
    for side, other in (("primary", "backup"), ("backup", "primary")):
        servers[side].update(peer_statepub=servers[other]["statepub"], peer_snapshot=servers[other]["snapshot"],
                             peer_publisher=servers[other]["publisher"])
    return servers, {n: [servers["primary"][n], servers["backup"][n]] for n in names[:3]}


# ---- tallies (tests and views) -----------------------------------------------------------------------

def keys_of(peer, subtree: str = "") -> dict[str, tuple[int, bytes]]:
    """A peer's map under ``subtree`` as {key: (sequence, body)}, copied safely from another thread."""
    for _ in range(100):
        try:
            return {k: (m.sequence, m.body) for k, m in list((peer.data.get("kvmap") or {}).items())
                    if k.startswith(subtree)}
        except RuntimeError:
            time.sleep(0)
    raise RuntimeError(f"could not copy the map of {peer.name}")


def active_server(lab, servers=("primary", "backup")) -> str | None:
    """The name of the server that is active now, if one is."""
    return next((s for s in servers if lab.peer(s).alive and lab.peer(s).data.get("state") == "active"), None)


def settled(lab, server: str, clients: list[str], uuids: bool = True) -> bool:
    """Every client has written all it will (or is paused), the server has stored each of those
    updates (matched by uuid; ``uuids=False``: not checked, for a server that restarted since), and
    every client is level with the server: at its sequence number, or for a subtree's client (which
    sees only some numbers), holding the server's keys of that subtree."""
    srv = lab.peer(server)
    sequenced, target = srv.data.get("sequenced", set()), srv.data.get("sequence", -1)
    for name in clients:
        c = lab.peer(name)
        subtree = c.params.get("subtree", "")
        if not (c.alive and c.data.get("idle")):
            return False
        if not subtree and c.data.get("sequence") != target or subtree and keys_of(c) != keys_of(srv, subtree):
            return False
        if uuids and not all(u in sequenced for u in list(c.data.get("life_uuids", []))):
            return False
    return True


def same_maps(lab, server: str, clients: list[str]) -> dict[str, bool]:
    """{client: its map equals the server's map, key by key (sequence and body)}."""
    expected = keys_of(lab.peer(server))
    return {c: keys_of(lab.peer(c)) == expected for c in clients}


def lost_updates(lab, server: str, clients: list[str]) -> set[bytes]:
    """The uuids the clients published that the server never stored."""
    sequenced = lab.peer(server).data["sequenced"]
    return {u for c in clients for u in lab.peer(c).data.get("sent_uuids", []) if u not in sequenced}


def numbered_twice(lab, server: str) -> list[bytes]:
    """Uuids that appear under two sequence numbers in the server's history (deletions have their own)."""
    seen, twice = set(), []
    for _seq, uid in list(lab.peer(server).data["hashmap"].history):
        if uid and uid in seen:
            twice.append(uid)
        seen.add(uid)
    return twice
