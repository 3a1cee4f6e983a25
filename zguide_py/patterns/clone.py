"""Clone: pub-sub that keeps state. A server holds a key-value map; clients hold exact copies.

Plain pub-sub forgets: a subscriber that joins late, or crashes and comes back, has missed every
update published while it was away, and no later update tells it what it missed. The guide's
Clone pattern fixes that with three ideas:

* **Every update carries a sequence number.** The server numbers updates 1, 2, 3... and keeps, for
  each key, the latest update it published. The sequence number of the newest one is "the version
  of the state".
* **A snapshot on request (model 2).** A client first subscribes to the updates (SUB -> PUB),
  then asks for the whole state over a second socket (DEALER -> ROUTER): it sends ``ICANHAZ?``,
  the server answers with one message per key and ends with a ``KTHXBAI`` message whose sequence
  number is the version of that snapshot. The client then applies only the updates from the PUB
  stream that are newer than the snapshot, and skips the older ones that were already queued.
* **Clients write through the server (model 3).** A client that wants to change a key pushes the
  update to the server (PUSH -> PULL) with no sequence number. The server gives it the next
  number, stores it and republishes it to everyone, the writer included. Because one server
  decides the order, every client applies the same updates in the same order and they converge.

On the wire every update is the guide's five-frame ``kvmsg``: key, sequence (8 bytes, network byte
order), uuid (16 bytes), properties (``name=value`` lines) and body. The guide's first models use
only key, sequence and body; we use the full framing from the start so the wire format never
changes between the two notebooks.

One thing here goes beyond the guide's models 2 and 3: a client checks that the updates it
applies are consecutive. A PUB socket drops updates for a subscriber whose queue is full (its
high-water mark), and a fresh subscription takes a moment to reach the publisher; either way the
client would silently miss an update. A gap in the sequence numbers shows it, and the client
simply asks for a new snapshot. A gap shows only when a later update arrives, so the servers also
publish a heartbeat, the guide's ``HUGZ`` message (from its later Clone models), every
``heartbeat`` seconds, carrying the current sequence number: a client that hears ``HUGZ`` with a
number above its own has missed the last update(s) and asks for a new snapshot, even when the
stream has gone quiet. Notebooks 06 (model 2) and 07 (model 3) use this module; their figures and
analysis are in ``zguide_py.views.clone``.
"""
from __future__ import annotations

import random
import struct
import time
import uuid as _uuid
from collections import deque
from dataclasses import dataclass, field

import zmq

ICANHAZ = b"ICANHAZ?"     # "I can has snapshot?": the request a client sends to the ROUTER
KTHXBAI = "KTHXBAI"       # the key of the message that ends a snapshot; its sequence = version
HUGZ = "HUGZ"             # the key of the server's heartbeat; its sequence = the current version
TICK = 0.01              # a role that sends at a steady rate wakes this often to send what is due
RESERVED = (KTHXBAI, HUGZ)  # keys that are protocol, never state: a client may not push them
MAX_KEY = 255             # bytes in a key (the guide's C kvmsg: KVMSG_KEY_MAX)
MAX_BODY = 32 * 1024      # bytes in an update's body and properties, as the server takes them
MAX_KEYS = 10_000         # keys a server keeps: its map is bounded, whoever writes to it


# ---- the message: kvmsg -------------------------------------------------------------------------

@dataclass
class KVMsg:
    """One key-value update, in the guide's Clone framing (five frames).

    ``sequence`` is 0 for an update a client sends to the server; the server numbers it.
    ``uuid`` identifies one update (16 random bytes), so a client can recognise its own update
    when the server republishes it; it may be empty (the guide's C kvmsg sends an empty uuid frame
    when none was set, in KTHXBAI and HUGZ). ``properties`` are free ``name=value`` pairs.
    """

    key: str
    sequence: int = 0
    body: bytes = b""
    uuid: bytes = field(default_factory=lambda: _uuid.uuid4().bytes)
    properties: dict[str, str] = field(default_factory=dict)

    def encode(self) -> list[bytes]:
        """The five frames: key, sequence (int64, network order), uuid, properties, body."""
        props = "".join(f"{name}={value}\n" for name, value in self.properties.items())
        return [self.key.encode(), struct.pack("!q", self.sequence), self.uuid, props.encode(),
                self.body]

    @classmethod
    def decode(cls, frames: list[bytes]) -> "KVMsg":
        """Parse the five frames of a kvmsg; a clear ValueError says what is wrong (a key or
        properties that are not UTF-8 too: UnicodeDecodeError is a ValueError)."""
        if len(frames) != 5:
            raise ValueError(f"a kvmsg has 5 frames (key, sequence, uuid, properties, body), "
                             f"not {len(frames)}")
        key, seq, uid, props, body = frames
        if len(seq) != 8:
            raise ValueError(f"the sequence frame holds 8 bytes, not {len(seq)}")
        if len(uid) not in (0, 16):
            raise ValueError(f"the uuid frame holds 16 bytes (or none), not {len(uid)}")
        sequence = struct.unpack("!q", seq)[0]
        if sequence < 0:
            raise ValueError(f"the sequence is a number from 0 up, not {sequence}")
        properties = {}
        for line in props.decode().splitlines():
            name, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"a property line looks like name=value, not {line!r}")
            properties[name] = value
        return cls(key.decode(), sequence, bytes(body), bytes(uid), properties)

    def send(self, sock: zmq.Socket, flags: int = 0) -> None:
        sock.send_multipart(self.encode(), flags)

    @classmethod
    def recv(cls, sock: zmq.Socket) -> "KVMsg":
        return cls.decode(sock.recv_multipart())

    @property
    def uuid_str(self) -> str:
        return str(_uuid.UUID(bytes=self.uuid)) if len(self.uuid) == 16 else ""

    def __repr__(self) -> str:
        props = "".join(f" {k}={v}" for k, v in self.properties.items())
        return f"KVMsg(key={self.key!r}, seq={self.sequence}, body={self.body!r}{props})"


# ---- checking what comes in: every message is checked before it is acted on -----------------------

def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol, and log it (the lab clips the frames it keeps)."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


def recv_kvmsg(peer, sock: zmq.Socket) -> KVMsg | None:
    """The next kvmsg on ``sock``, or None if the message was not one (counted and logged)."""
    frames = sock.recv_multipart()
    try:
        return KVMsg.decode(frames)
    except ValueError as exc:
        malformed(peer, frames, str(exc))
        return None


def update_problem(msg: KVMsg, kvmap: dict[str, KVMsg], max_keys: int = MAX_KEYS,
                   max_body: int = MAX_BODY) -> str | None:
    """Why a server must refuse an update a client pushed (None: take it). The key must be a
    plain key, not empty, not a protocol key, at most MAX_KEY bytes; body and properties at most
    ``max_body`` bytes; a new key only while the map holds fewer than ``max_keys``."""
    if not msg.key or msg.key in RESERVED or len(msg.key.encode()) > MAX_KEY:
        return f"not a key a client may write: {msg.key[:40]!r}"
    size = len(msg.body) + sum(len(k) + len(v) + 2 for k, v in msg.properties.items())
    if size > max_body:
        return f"update of {size} bytes, more than {max_body}"
    if msg.key not in kvmap and len(kvmap) >= max_keys:
        return f"the map is full ({max_keys} keys)"
    return None


def recv_update(peer, pull: zmq.Socket, kvmap: dict[str, KVMsg], max_keys: int = MAX_KEYS,
                max_body: int = MAX_BODY, check=None) -> KVMsg | None:
    """Model 3's collector: the next update a client pushed, checked, or None (counted, logged).
    ``check`` replaces :func:`update_problem` (later models add their own checks)."""
    frames = pull.recv_multipart()
    try:
        msg = KVMsg.decode(frames)
    except ValueError as exc:
        malformed(peer, frames, str(exc))
        return None
    why = (check or update_problem)(msg, kvmap, max_keys, max_body)
    if why is not None:
        malformed(peer, frames, why)
        return None
    return msg


def snapshot_request(peer, router: zmq.Socket) -> bytes | None:
    """The identity of a client asking ICANHAZ? on the ROUTER, or None for anything else.
    ``[identity, ICANHAZ?, subtree]`` (the guide's later models) is accepted: we send every key."""
    frames = router.recv_multipart()
    if len(frames) in (2, 3) and frames[1] == ICANHAZ:
        return frames[0]
    malformed(peer, frames, "a snapshot request is ICANHAZ? (and a subtree)")
    return None


# ---- shared by both clients ----------------------------------------------------------------------

def request_snapshot(peer, endpoint: str, timeout: float = 1.0):
    """Ask the server for its whole state: ICANHAZ? -> one kvmsg per key ... KTHXBAI.

    Returns ``(kvmap, sequence)``, or None if the peer was stopped while waiting. If the answer
    stalls for ``timeout`` seconds (the server is down), the DEALER is closed and a new one asks
    again, as Lazy Pirate does: an old answer can then never mix with a new one.
    """
    while peer.running:
        dealer = peer.socket(zmq.DEALER)
        dealer.connect(endpoint)
        peer.send(dealer, ICANHAZ)
        peer.count("snapshot requests")
        kvmap: dict[str, KVMsg] = {}
        while peer.poll(dealer, timeout):
            msg = recv_kvmsg(peer, dealer)
            if msg is None:
                continue
            if msg.key == KTHXBAI:
                peer.close_socket(dealer)
                return kvmap, msg.sequence
            why = update_problem(msg, kvmap)
            if why is not None:
                malformed(peer, msg.encode(), why)
                continue
            kvmap[msg.key] = msg
        peer.close_socket(dealer)
        if peer.running:
            peer.log("snapshot timeout", after=timeout)      # then ask again, on a new socket
    return None


def send_snapshot(peer, router: zmq.Socket, kvmap: dict[str, KVMsg], sequence: int) -> None:
    """Answer one ICANHAZ? on a ROUTER: every key, then KTHXBAI carrying the state's version."""
    identity = snapshot_request(peer, router)
    if identity is None:
        return
    peer.count("snapshots")
    for msg in list(kvmap.values()):
        router.send_multipart([identity, *msg.encode()])
    router.send_multipart([identity, *KVMsg(KTHXBAI, sequence, uuid=bytes(16)).encode()])


def _publish_state(peer, kvmap: dict[str, KVMsg], sequence: int) -> None:
    """Leave a client's state where the notebook can see it (replaced, never mutated in place
    from two threads at once: the notebook reads it with ``state_of``)."""
    peer.data["kvmap"] = kvmap
    _at(peer, sequence)


def _at(peer, sequence: int) -> None:
    """The sequence number this peer has reached, for the notebook (data) and the plots (counter)."""
    peer.data["sequence"] = sequence
    peer.counter("sequence").value = sequence


def send_hugz(pub: zmq.Socket, sequence: int) -> None:
    """The server's heartbeat on the PUB socket: key ``HUGZ``, the current sequence, empty body."""
    KVMsg(HUGZ, sequence, uuid=bytes(16)).send(pub)


def heard_hugz(peer, msg: KVMsg, sequence: int) -> bool:
    """A client's check of a ``HUGZ``: True when the server is ahead of us, which means we missed
    the newest update(s) and need a new snapshot."""
    peer.count("hugz")
    if msg.sequence > sequence:
        resync(peer, "behind", server=msg.sequence, sequence=sequence)
        return True
    return False


def resync(peer, why: str, **fields) -> None:
    """A client must take a new snapshot: counted (``resyncs``) and logged (``why``: ``gap`` or
    ``behind``, with ``fields``)."""
    peer.count("resyncs")
    peer.log(why, **fields)


def follow(peer, msg: KVMsg, kvmap: dict[str, KVMsg], sequence: int) -> int | None:
    """A client's step on one message of the PUB stream: skip it if the snapshot had it, apply
    it if it is the next one. Returns the sequence reached, or None when the client must ask for
    a new snapshot: a gap (an update is missing) or a HUGZ from a server ahead of it."""
    if msg.key == HUGZ:                     # the server's heartbeat: are we behind?
        return None if heard_hugz(peer, msg, sequence) else sequence
    if msg.sequence <= sequence:            # already in the snapshot: skip it
        peer.count("skipped")
        return sequence
    if msg.sequence > sequence + 1:         # missed at least one update: start over
        resync(peer, "gap", expected=sequence + 1, got=msg.sequence)
        return None
    why = update_problem(msg, kvmap)        # what no server would have taken
    if why is not None:
        malformed(peer, msg.encode(), why)
        return sequence                     # dropped: the next update shows the gap
    kvmap[msg.key] = msg                    # the next update: apply it
    _at(peer, msg.sequence)
    peer.count("applied")
    peer.throttle()
    return msg.sequence


class Recent(set):
    """A set that keeps only the ``limit`` items added last (what a long run must not pin)."""

    def __init__(self, limit: int = 100_000):
        super().__init__()
        self.limit, self.order = limit, deque()

    def add(self, item) -> None:
        if item not in self:
            self.order.append(item)
            if len(self.order) > self.limit:
                self.discard(self.order.popleft())
        super().add(item)


class Pacer:
    """Paces sends at ``rate`` per second: ``due()`` says how many are due now, at most ``burst``
    at once (a peer that was held up does not then flood), none while ``hold`` is true."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.credit, self.last = 0.0, time.monotonic()

    def due(self, hold: bool = False, left: int | None = None) -> int:
        now = time.monotonic()
        self.credit = 0.0 if hold else min(self.credit + (now - self.last) * self.rate, self.burst)
        self.last = now
        n = int(self.credit) if left is None else max(0, min(int(self.credit), left))
        self.credit -= n
        return n


# ---- model 2: the server publishes, clients take a snapshot then follow --------------------------

def clonesrv2(peer, snapshot: str, publisher: str, count: int | None = None, rate: float = 500.0,
              keys: int = 100, seed: int | None = 0, sndhwm: int = 1000, heartbeat: float | None = 0.5):
    """Clone server, model 2: publishes ``count`` random updates (``None``: forever) at ``rate``
    per second on a PUB socket, keeps the latest update of each key, and answers snapshot
    requests on a ROUTER socket. ``lab.set(name, paused=True)`` pauses the updates (the
    notebook's "pause updates" button does that); snapshots are still answered.
    Every ``heartbeat`` seconds (``None``: never) it publishes ``HUGZ`` with the current sequence."""
    router = peer.socket(zmq.ROUTER)
    router.bind(snapshot)
    pub = peer.socket(zmq.PUB, sndhwm=sndhwm)
    pub.bind(publisher)
    rng = random.Random(seed)
    kvmap: dict[str, KVMsg] = {}
    sequence = 0
    peer.data.update(kvmap=kvmap, sequence=0, done=False)
    pacer = Pacer(rate, burst=max(10.0, rate / 5))
    next_hugz = time.monotonic() + (heartbeat or 0)
    while peer.running:
        if peer.poll(router, TICK):         # 1. answer snapshot requests
            send_snapshot(peer, router, kvmap, sequence)
        if heartbeat and time.monotonic() >= next_hugz:
            send_hugz(pub, sequence)
            next_hugz = time.monotonic() + heartbeat
        # 2. publish the updates that are due at this rate
        left = None if count is None else count - sequence
        peer.data["done"] = left == 0
        for _ in range(pacer.due(hold=peer.inputs.get("paused"), left=left)):
            sequence += 1
            msg = KVMsg(f"key-{rng.randrange(keys):03d}", sequence, str(rng.randrange(10**6)).encode())
            # store, then publish: whoever reads the server's map after a client has this update
            # finds it there too. Snapshots are answered by this same thread, between updates,
            # so a snapshot's version is still always the last update sent.
            kvmap[msg.key] = msg
            _at(peer, sequence)
            msg.send(pub)
            peer.count("published")
            peer.throttle()


def clonecli2(peer, snapshot: str, publisher: str, rcvhwm: int = 1000, timeout: float = 1.0):
    """Clone client, model 2: subscribe first, then get a snapshot, then apply only newer updates.

    A gap in the sequence numbers (an update dropped at the high-water mark, or published before
    the subscription reached the server) makes the client ask for a new snapshot.
    """
    sub = peer.socket(zmq.SUB, rcvhwm=rcvhwm)
    sub.setsockopt(zmq.SUBSCRIBE, b"")     # 1. subscribe first, so no update can slip past...
    sub.connect(publisher)
    kvmap, sequence = None, 0
    _publish_state(peer, {}, 0)             # a restart starts from nothing, as a crash would
    while peer.running:
        if kvmap is None:                   # 2. ...then ask for the state
            got = request_snapshot(peer, snapshot, timeout)
            if got is None:
                return
            kvmap, sequence = got
            _publish_state(peer, kvmap, sequence)
            peer.count("snapshots")
            peer.log("snapshot", keys=len(kvmap), sequence=sequence)
        if not peer.poll(sub):
            continue
        msg = recv_kvmsg(peer, sub)
        if msg is None:                     # not a kvmsg: counted, logged, dropped
            continue
        reached = follow(peer, msg, kvmap, sequence)   # 3. skip, apply, or notice a gap
        if reached is None:                 # missed at least one update: start over
            kvmap = None
        else:
            sequence = reached


# ---- model 3: clients write through the server -----------------------------------------------------

def clonesrv3(peer, snapshot: str, publisher: str, collector: str, heartbeat: float | None = 0.5,
              max_keys: int = MAX_KEYS, max_body: int = MAX_BODY):
    """Clone server, model 3: numbers each update that clients push (PULL), stores it,
    republishes it (PUB), and answers snapshot requests (ROUTER). One thread, one poll loop.
    Every ``heartbeat`` seconds (``None``: never) it publishes ``HUGZ`` with the current sequence.
    An update that is not a kvmsg, writes a protocol key, is over ``max_body`` bytes or would make
    the map hold more than ``max_keys`` keys is dropped (counted and logged as "malformed")."""
    router = peer.socket(zmq.ROUTER)
    router.bind(snapshot)
    pub = peer.socket(zmq.PUB)
    pub.bind(publisher)
    pull = peer.socket(zmq.PULL)
    pull.bind(collector)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    poller.register(pull, zmq.POLLIN)
    kvmap: dict[str, KVMsg] = {}
    sequenced = Recent()                    # uuids of the updates numbered (the last 100 000)
    sequence = 0
    peer.data.update(kvmap=kvmap, sequence=0, sequenced=sequenced)
    next_hugz = time.monotonic() + (heartbeat or 0)
    while peer.running:
        events = peer.poll(poller, next_hugz - time.monotonic() if heartbeat else None)
        if heartbeat and time.monotonic() >= next_hugz:
            send_hugz(pub, sequence)
            next_hugz = time.monotonic() + heartbeat
        if pull in events and (msg := recv_update(peer, pull, kvmap, max_keys, max_body)):
            sequence += 1
            msg.sequence = sequence         # the server alone decides the order
            kvmap[msg.key] = msg            # store first, then publish (see clonesrv2)
            sequenced.add(msg.uuid)
            _at(peer, sequence)
            msg.send(pub)
            peer.count("updates")
            peer.throttle()
        if router in events:
            send_snapshot(peer, router, kvmap, sequence)


def clonecli3(peer, snapshot: str, publisher: str, collector: str, count: int = 100,
              rate: float = 50.0, keys: int = 20, seed: int | None = 0, timeout: float = 1.0):
    """Clone client, model 3: follows the state like model 2, and pushes ``count`` updates of its
    own (per start) at ``rate`` per second to the server, which numbers and republishes them.
    ``lab.set(name, paused=True)`` stops the writing (the notebook's "pause writers" button).

    The client does not apply its own update when it sends it: it waits to see it come back on
    the PUB stream with its number, like every other client. The ``uuid`` of each update lets
    anyone match it later: ``peer.data["sent_uuids"]`` lists every update this client pushed,
    ``peer.data["life_uuids"]`` those of the current start, ``"mine back"`` counts its own
    updates seen back in the stream.
    """
    sub = peer.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(publisher)
    push = peer.socket(zmq.PUSH)
    push.connect(collector)
    rng = random.Random(f"{seed}:{peer.name}:{peer.starts}") if seed is not None else random.Random()
    sent_uuids = peer.data.setdefault("sent_uuids", [])   # every update this client ever pushed
    life_uuids: list[bytes] = []                          # ... and those of this start
    pending: set[bytes] = set()
    peer.data.update(life_uuids=life_uuids, idle=False)
    kvmap, sequence = None, 0
    _publish_state(peer, {}, 0)
    pacer = Pacer(rate, burst=10)
    while peer.running:
        if kvmap is None:
            got = request_snapshot(peer, snapshot, timeout)
            if got is None:
                return
            kvmap, sequence = got
            _publish_state(peer, kvmap, sequence)
            peer.count("snapshots")
            peer.log("snapshot", keys=len(kvmap), sequence=sequence)
        # write: push the updates that are due (fire and forget: never waits)
        for _ in range(pacer.due(hold=peer.inputs.get("paused"), left=count - len(life_uuids))):
            msg = KVMsg(f"key-{rng.randrange(keys):03d}", 0, str(rng.randrange(10**6)).encode(),
                        properties={"from": peer.name})
            if not peer.send(push, msg.encode(), timeout=0):   # no server to take it: lost
                peer.count("not sent")
                break
            sent_uuids.append(msg.uuid)
            life_uuids.append(msg.uuid)
            pending.add(msg.uuid)
            peer.count("sent")
        # read: apply the numbered updates, in order
        if peer.poll(sub, TICK) and (msg := recv_kvmsg(peer, sub)):
            reached = follow(peer, msg, kvmap, sequence)
            if reached is None:
                kvmap = None
                continue
            if reached > sequence and msg.uuid in pending:
                pending.discard(msg.uuid)
                peer.count("mine back")
            sequence = reached
        peer.data["idle"] = len(life_uuids) >= count or bool(peer.inputs.get("paused"))


ROLES = {"clonesrv2": clonesrv2, "clonecli2": clonecli2, "clonesrv3": clonesrv3, "clonecli3": clonecli3}


# ---- tallies: read states safely, compare them (tests and views) ---------------------------------

def state_of(peer) -> tuple[int, dict[str, tuple[int, bytes]]]:
    """A peer's state as ``(sequence, {key: (sequence, body)})``, copied safely from another
    thread (the role may be adding a key while we copy)."""
    for _ in range(100):
        try:
            kvmap = peer.data.get("kvmap") or {}
            seq = peer.data.get("sequence", 0)
            return seq, {k: (m.sequence, m.body) for k, m in list(kvmap.items())}
        except RuntimeError:
            time.sleep(0)
    raise RuntimeError(f"could not copy the state of {peer.name}")


def same_state(lab, server: str, clients: list[str]) -> dict[str, bool]:
    """{client: its map equals the server's map, key by key, sequence and body}."""
    _, expected = state_of(lab.peer(server))
    return {c: state_of(lab.peer(c))[1] == expected for c in clients}


def caught_up(lab, server: str, clients: list[str]) -> bool:
    """True when every client is running and has reached the server's sequence number."""
    target = lab.peer(server).data.get("sequence", 0)
    return all(lab.peer(c).alive and lab.peer(c).data.get("sequence", -1) == target for c in clients)


def writes_settled(lab, server: str, clients: list[str]) -> bool:
    """Model 3: every running client has stopped writing (sent its ``count`` or paused), and the
    server has numbered every update of its current start (matched by uuid). Updates a client had queued when it was
    killed died with its socket: they never reach the server, so they are not waited for."""
    sequenced = lab.peer(server).data.get("sequenced", set())
    for c in clients:
        peer = lab.peer(c)
        if not (peer.alive and peer.data.get("idle")):
            return False
        if not all(u in sequenced for u in list(peer.data.get("life_uuids", []))):
            return False
    return True
