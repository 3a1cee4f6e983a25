"""Inter-broker routing (the guide's "peering"): clusters that lend each other their idle workers.

A cluster is a load-balancing broker (notebook 05) with its own clients and workers. Several clusters
(one per building, say) run one broker each, and the brokers *peer*: each knows the others by name and
talks to them over two flows of its own, beside its local frontend and backend.

* **State flow** (PUB -> SUB): each broker publishes ``[name, free]``, its count of idle workers, when
  it changes and at least every ``state_interval`` seconds, and subscribes to every peer's. A peer not
  heard for ``liveness`` intervals counts as having no free worker.
* **Cloud flow** (ROUTER -> ROUTER): ``cloudbe`` connects to every peer's ``cloudfe``; both sockets
  carry the broker's name as routing id, so ``cloudbe.send_multipart([peer, ...])`` reaches that peer.
  A local client's request goes to a local worker when one is free; only when none is (local capacity
  0) does it go to the peer that said it has the most free workers. A request that came from a peer
  is served by a local worker or waits for one: it is never passed on again, so nothing loops.
* **Monitor** (PUSH -> PULL): every routing decision, with the capacities the broker saw.

Frames (``''`` is the empty delimiter; names are routing ids)::

    client -> localfe          [client, '', request]               (a REQ client fits too)
    broker -> its worker       [worker, '', client, '', request]   on localbe
    broker -> peer (cloudbe)   [peer, client, '', request], which the peer's cloudfe hands over as
                               [broker, client, '', request]
    peer -> its worker         [worker, '', broker, client, '', request]
    worker -> broker           [worker, '', envelope..., reply]  or  [worker, '', READY]
    state (PUB)                [broker, free workers in decimal]
    monitor (PUSH)             [broker, 'route', 'local'|'cloud', worker|peer, local free, cloud free, request]

A reply whose first address is a peer's name goes back on ``cloudfe``; any other goes to a local
client on ``localfe``. Every message is checked first: a malformed one is counted and dropped.

    python -m zguide_py run peering.broker --name dc1 --bind frontend=5551 --bind backend=5552 \\
        --bind cloud=5553 --bind state=5554 --connect peer_clouds=5563 --connect peer_states=5564
    python -m zguide_py run peering.worker --connect 5552 --name dc1-worker1
    python -m zguide_py run peering.client --connect 5551 --name dc1-client1 requests=20
"""
from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NamedTuple

import zmq

from ..sockets import drain
from .loadbalance import READY, has_envelope, malformed, worker_says

TIMEOUT = 1.0           # a client's wait for a reply before it sends the request again
RETRIES = 10            # tries in all before a client abandons a request
MAX_BROKERS = 64        # the monitor counts for this many brokers at most (names come from the network)


# ---- the broker ------------------------------------------------------------------------------------

class Sockets(NamedTuple):
    """A broker's sockets, named as in the guide (passed to the helpers together)."""

    localfe: zmq.Socket      # ROUTER, bound: our clients
    localbe: zmq.Socket      # ROUTER, bound: our workers
    cloudfe: zmq.Socket      # ROUTER, bound: requests from peers
    cloudbe: zmq.Socket      # ROUTER, connected to every peer's cloudfe: our requests to them
    statebe: zmq.Socket      # PUB, bound: our free workers
    statefe: zmq.Socket      # SUB, connected to every peer's statebe
    monitor: zmq.Socket | None   # PUSH: our routing decisions


@dataclass
class Books:
    """What a broker knows about where work can go (the sockets are elsewhere)."""

    name: bytes
    silence: float                                           # a peer unheard this long has no capacity
    workers: deque = field(default_factory=deque)            # idle local workers, least recently used first
    peers: dict = field(default_factory=dict)                # peer -> [free as we count it, when heard, free it said]
    brokers: set = field(default_factory=set)                # every peer name seen (replies to them go back on cloudfe)
    waiting: deque = field(default_factory=deque)            # (peer or None, request) read but not yet routed
    silent: set = field(default_factory=set)                 # peers we have said are silent
    last_lent: dict = field(default_factory=dict)            # peer -> when we last lent it a request
    published: int = -1
    next_beat: float = 0.0

    def alive(self, now: float) -> dict[bytes, int]:
        """Free workers of every peer heard lately (a silent peer has none)."""
        return {n: max(0, e[0]) for n, e in self.peers.items() if now - e[1] <= self.silence}

    def best_peers(self, now: float) -> list[bytes]:
        """Peers with free workers: the most free first; on a tie, the one we lent to least recently."""
        free = self.alive(now)
        return sorted((n for n, f in free.items() if f > 0), key=lambda n: (-free[n], self.last_lent.get(n, 0.0), n))

    def status(self) -> str:
        now = time.monotonic()
        free = self.alive(now)
        peers = ", ".join(f"{n.decode(errors='replace')} {free[n] if n in free else 'silent'}"
                          for n in sorted(self.peers))
        return f"free workers: {len(self.workers)} | peers: {peers or 'none heard yet'}"


def broker(peer, frontend: str, backend: str, cloud: str, state: str, peer_clouds: list[str] = (),
           peer_states: list[str] = (), monitor: str | None = None, state_interval: float = 0.1,
           liveness: int = 3, flow=None):
    """One cluster's broker, peered with others: LRU to its own workers, lends to and borrows from
    peers (see the module's text). ``peer.name`` is the broker's name on the cloud and state flows.
    ``flow`` (a :class:`zguide_py.flow.Flow`, optional) records the messages of one request's trip."""
    if not (state_interval > 0 and liveness >= 1):
        raise ValueError(f"state_interval must be > 0 and liveness >= 1, not {state_interval!r}, {liveness!r}")
    me = peer.name.encode()
    localfe = peer.socket(zmq.ROUTER, router_mandatory=1, router_handover=1)
    localfe.bind(frontend)
    localbe = peer.socket(zmq.ROUTER, router_mandatory=1, router_handover=1)
    localbe.bind(backend)
    cloudfe = peer.socket(zmq.ROUTER, routing_id=me, router_mandatory=1, router_handover=1)
    cloudfe.bind(cloud)
    cloudbe = peer.socket(zmq.ROUTER, routing_id=me, router_mandatory=1)
    for cloud_endpoint in peer_clouds:
        cloudbe.connect(cloud_endpoint)
    statebe = peer.socket(zmq.PUB)
    statebe.bind(state)
    statefe = peer.socket(zmq.SUB, subscribe=b"")
    for state_endpoint in peer_states:
        statefe.connect(state_endpoint)
    pusher = peer.socket(zmq.PUSH, sndhwm=10_000) if monitor else None
    if pusher is not None:
        pusher.connect(monitor)
    s = Sockets(localfe, localbe, cloudfe, cloudbe, statebe, statefe, pusher)
    books = Books(me, state_interval * liveness)
    peer.data["status"] = lambda: books.status()            # the panel's line
    poller = zmq.Poller()
    for sock in (localbe, cloudbe, statefe):
        poller.register(sock, zmq.POLLIN)
    while peer.running:
        free_here, free_there = len(books.workers), sum(books.alive(time.monotonic()).values())
        idle = not books.waiting
        # a peer's request only when one of our workers is free; a client's when anyone's is
        poller.register(cloudfe, zmq.POLLIN if idle and free_here else 0)
        poller.register(localfe, zmq.POLLIN if idle and (free_here or free_there) else 0)
        events = peer.poll(poller, state_interval)
        for frames in drain(localbe) if localbe in events else ():
            from_worker(peer, books, s, frames, flow)
        for frames in drain(cloudbe) if cloudbe in events else ():
            from_peer(peer, books, s, frames, flow)
        for frames in drain(statefe) if statefe in events else ():
            hear_state(peer, books, frames, flow)
        for sender, *request in drain(cloudfe, free_here) if cloudfe in events else ():
            if not has_envelope(request):
                malformed(peer, [sender, *request], "a peer's request is not [client..., '', body]")
                continue
            books.brokers.add(sender)
            books.waiting.append((sender, request))
            peer.count("from_peers")
            record(flow, sender, me, [sender, *request])
        for request in drain(localfe, free_here + free_there) if localfe in events else ():
            if not has_envelope(request):
                malformed(peer, request, "a request is not [client, '', body]")
                continue
            books.waiting.append((None, request))
            peer.count("requests")
            record(flow, request[0], me, request)
        while books.waiting and route(peer, books, s, *books.waiting[0], flow):
            books.waiting.popleft()
        tick(peer, books, statebe, state_interval)


def route(peer, books: Books, s: Sockets, origin: bytes | None, request: list[bytes], flow=None) -> bool:
    """Send one request on, or say it must wait (False). A free local worker first, least recently
    used; only when there is none, and only for our own client's request (``origin`` None), the peer
    that said it has the most free workers. Each decision is logged with the capacity it saw."""
    while books.workers:
        free_here = len(books.workers)
        worker = books.workers.popleft()
        task = [b"", *request] if origin is None else [b"", origin, *request]
        if send(s.localbe, [worker, *task]):
            decided(peer, books, s, "local", worker, free_here, request)
            record(flow, books.name, worker, task)
            return True
        peer.count("vanished")                   # that worker is gone: the next one
    if origin is not None:
        return False                             # a peer's request is served here, or waits here
    for name in books.best_peers(time.monotonic()):
        free_there = sum(books.alive(time.monotonic()).values())
        if send(s.cloudbe, [name, *request]):
            books.peers[name][0] -= 1            # one fewer, until its next state message says
            books.last_lent[name] = time.monotonic()
            decided(peer, books, s, "cloud", name, 0, request, free_there)
            return True
        books.peers[name][0] = 0                 # not connected (yet, or any more)
        peer.count("unreachable")
        peer.log("unreachable", broker=name.decode(errors="replace"))
    return False


def decided(peer, books: Books, s: Sockets, to: str, via: bytes, free_here: int, request: list[bytes],
            free_there: int | None = None) -> None:
    """Count, log and tell the monitor one routing decision, with the capacities it was made on."""
    if free_there is None:
        free_there = sum(books.alive(time.monotonic()).values())
    peer.count(f"to_{to}")
    peer.log("route", to=to, via=via.decode(errors="replace"), local=free_here, cloud=free_there,
             request=request[-1])
    if s.monitor is not None:
        report = [books.name, b"route", to.encode(), via, b"%d" % free_here, b"%d" % free_there, request[-1][:64]]
        if not send(s.monitor, report):
            peer.count("monitor_dropped")


def from_worker(peer, books: Books, s: Sockets, frames: list[bytes], flow=None) -> None:
    """A worker says READY or sends a reply: either way it is free again. The reply goes back to
    the peer broker it came from (on cloudfe) or to our client (on localfe)."""
    worker, *message = frames
    kind = worker_says(message)
    if kind is None:
        malformed(peer, frames, "not ['', READY] nor ['', envelope..., '', reply]")
        return
    record(flow, worker, books.name, frames)
    if worker not in books.workers:
        books.workers.append(worker)
    if kind == "ready":
        peer.count("ready")
        return
    reply = message[1:]
    if reply[0] in books.brokers:
        peer.count("lent" if send(s.cloudfe, reply) else "unroutable")
    elif send(s.localfe, reply):
        peer.count("replies")
        record(flow, books.name, reply[0], reply[1:])
    else:
        peer.count("unroutable")                 # the client has gone


def from_peer(peer, books: Books, s: Sockets, frames: list[bytes], flow=None) -> None:
    """A reply from a peer to a request we lent it: ``[peer, client, '', reply]``."""
    name, *reply = frames
    if not has_envelope(reply) or reply[0] in books.brokers:
        malformed(peer, frames, "a peer's reply is not [peer, client, '', reply]")
        return
    record(flow, name, books.name, frames)
    if send(s.localfe, reply):
        peer.count("replies")
        record(flow, books.name, reply[0], reply[1:])
    else:
        peer.count("unroutable")


def hear_state(peer, books: Books, frames: list[bytes], flow=None) -> None:
    """A peer's ``[name, free]``: believe it (it replaces our own count of what we sent it)."""
    if len(frames) != 2 or not frames[0] or frames[0] == books.name or not frames[1].isdigit() \
            or len(frames[1]) > 6:
        malformed(peer, frames, "a state message is [peer name, free workers in decimal]")
        return
    name, free, now = frames[0], int(frames[1]), time.monotonic()
    old = books.peers.get(name)
    if old is None or name in books.silent:
        books.silent.discard(name)
        peer.log("peer_up", broker=name.decode(errors="replace"), free=free)
    if old is None or old[2] != free:
        record(flow, name, books.name, frames, note="state")
    books.peers[name] = [free, now, free]
    books.brokers.add(name)


def tick(peer, books: Books, statebe: zmq.Socket, interval: float) -> None:
    """Publish our free workers when the count changed or a beat is due; note peers gone silent."""
    now = time.monotonic()
    free = len(books.workers)
    if free != books.published or now >= books.next_beat:
        statebe.send_multipart([books.name, b"%d" % free])     # a PUB never blocks
        books.published, books.next_beat = free, now + interval
    for name, entry in books.peers.items():
        if name not in books.silent and now - entry[1] > books.silence:
            books.silent.add(name)
            peer.log("peer_silent", broker=name.decode(errors="replace"))


def send(sock: zmq.Socket, frames: list[bytes]) -> bool:
    """Send without waiting: False when the peer is unknown (ROUTER_MANDATORY) or has no room."""
    try:
        sock.send_multipart(frames, zmq.NOBLOCK)
        return True
    except zmq.Again:
        return False
    except zmq.ZMQError as exc:
        if exc.errno == zmq.EHOSTUNREACH:
            return False
        raise


def record(flow, sender, receiver, frames, note: str = "") -> None:
    if flow is not None:
        flow.record(sender, receiver, frames, note=note)


# ---- clients, workers, the monitor -----------------------------------------------------------------

def client(peer, endpoint: str, requests: int | None = 100, timeout: float = TIMEOUT, retries: int = RETRIES,
           pause: float = 0.0):
    """DEALER client, Lazy Pirate style: send ``<name>:<seq>``, wait ``timeout`` seconds for its reply
    (``<request> by <worker>``), send it again on the same socket, up to ``retries`` tries, then
    abandon it. The first reply to a request is its answer; a later one (to an earlier try) is a
    duplicate, dropped; a late reply to an abandoned request is ``late``; any other is mismatched.
    ``peer.data``: ``answered`` {seq: worker}, ``abandoned`` [seq], ``done``. ``requests=None``: until
    ``lab.set(name, stop=True)``, which lets it finish the request in hand first."""
    dealer = peer.socket(zmq.DEALER, routing_id=peer.name.encode())
    dealer.connect(endpoint)
    answered: dict[int, str] = {}
    abandoned: list[int] = []
    peer.data.update(answered=answered, abandoned=abandoned, done=False)
    for name in ("requests", "replies", "retries", "duplicates", "late", "abandoned", "mismatched"):
        peer.counter(name)                       # every counter shows, even at 0
    for seq in itertools.count() if requests is None else range(requests):
        peer.count("requests")
        started = time.perf_counter()
        for attempt in range(retries):
            if attempt:
                peer.count("retries")
            if not peer.send(dealer, [b"", f"{peer.name}:{seq}".encode()]):
                return
            if await_reply(peer, dealer, seq, timeout, answered):
                peer.latency("rtt", time.perf_counter() - started)
                break
            if not peer.running:
                return
        else:
            abandoned.append(seq)
            peer.count("abandoned")
            peer.log("abandoned", seq=seq)
        if pause and not peer.sleep(pause):
            return
        peer.throttle()
        if peer.inputs.get("stop"):
            break
    peer.data["done"] = True


def await_reply(peer, dealer: zmq.Socket, seq: int, timeout: float, answered: dict[int, str]) -> bool:
    """Wait up to ``timeout`` for the answer to request ``seq``; count whatever else comes."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and peer.poll(dealer, left):
        frames = dealer.recv_multipart()
        got = parse_reply(peer.name, frames)
        if got is None or got[0] > seq:
            peer.count("mismatched")
            peer.log("mismatched", frames=frames)
        elif got[0] in answered:
            peer.count("duplicates")
        elif got[0] < seq:
            peer.count("late")                   # the answer to a request we had abandoned
        else:
            answered[seq] = got[1]
            peer.count("replies")
            return True
    return False


def parse_reply(name: str, frames: list[bytes]) -> tuple[int, str] | None:
    """``['', b"<name>:<seq> by <worker>"]`` -> (seq, worker); None if it is not a reply of ours."""
    if len(frames) != 2 or frames[0] != b"":
        return None
    request, by, worker = frames[1].partition(b" by ")
    owner, colon, seq = request.rpartition(b":")
    if not by or not colon or owner != name.encode() or not seq.isdigit() or len(seq) > 12:
        return None
    return int(seq), worker.decode(errors="replace")


_HANDSHAKES = itertools.count()                  # a fresh inproc name for each worker's monitor


def worker(peer, endpoint: str, work: float = 0.005):
    """DEALER worker that says READY each time its connection to the broker is made (a socket
    monitor tells it), so a broker that restarts learns it again. Then: a task, ``work`` seconds,
    the reply ``<request> by <name>`` with the task's envelope in front."""
    dealer = peer.socket(zmq.DEALER, routing_id=peer.name.encode())
    address = f"inproc://peering-handshakes-{next(_HANDSHAKES)}"
    dealer.monitor(address, zmq.EVENT_HANDSHAKE_SUCCEEDED)
    handshakes = peer.socket(zmq.PAIR)
    handshakes.connect(address)
    dealer.connect(endpoint)
    poller = zmq.Poller()
    poller.register(dealer, zmq.POLLIN)
    poller.register(handshakes, zmq.POLLIN)
    while peer.running:
        events = peer.poll(poller)
        if handshakes in events:
            handshakes.recv_multipart()          # connected (again): say so
            if peer.send(dealer, [b"", READY], timeout=1.0):
                peer.count("ready")
        if dealer in events:
            task = dealer.recv_multipart()       # ['', envelope..., '', request]
            if task[:1] != [b""] or not has_envelope(task[1:]):
                malformed(peer, task, "a task is ['', envelope..., '', request]")
                continue
            peer.count("tasks")
            if work:
                peer.sleep(work)
            peer.throttle()
            if peer.send(dealer, [*task[:-1], task[-1] + b" by " + peer.name.encode()]):
                peer.count("replies")


def monitor(peer, endpoint: str, keep: int = 20_000):
    """PULL: the brokers' routing decisions. Counts ``<broker>.local`` and ``<broker>.cloud``, and
    ``violations``: a request sent to the cloud while its broker saw a free local worker.
    ``peer.data["routes"]``: the last ``keep`` decisions, as dicts."""
    pull = peer.socket(zmq.PULL)
    pull.bind(endpoint)
    routes: deque[dict] = deque(maxlen=keep)
    seen: Counter = Counter()
    peer.data.update(routes=routes, status=lambda: " | ".join(
        f"{b}: {seen[(b, 'local')]} local, {seen[(b, 'cloud')]} cloud" for b in sorted({b for b, _ in seen})))
    peer.counter("violations")
    while peer.poll(pull):
        for frames in drain(pull):
            decision = parse_route(frames)
            if decision is None or (len(seen) >= 2 * MAX_BROKERS and (decision["broker"], decision["to"]) not in seen):
                malformed(peer, frames, "not [broker, 'route', 'local'|'cloud', via, local, cloud, request]"
                          if decision is None else f"more than {MAX_BROKERS} brokers")
                continue
            decision["t"] = peer.now()
            routes.append(decision)
            seen[(decision["broker"], decision["to"])] += 1
            peer.count(f"{decision['broker']}.{decision['to']}")
            if decision["to"] == "cloud" and decision["local"] > 0:
                peer.count("violations")


def parse_route(frames: list[bytes]) -> dict | None:
    """A monitor message as a dict, or None if it is not one."""
    if len(frames) != 7 or frames[1] != b"route" or frames[2] not in (b"local", b"cloud") \
            or not frames[4].isdigit() or not frames[5].isdigit():
        return None
    return {"broker": frames[0].decode(errors="replace"), "to": frames[2].decode(), "via": frames[3].decode(
        errors="replace"), "local": int(frames[4]), "cloud": int(frames[5]), "request": frames[6]}


# ---- the verdicts ----------------------------------------------------------------------------------

@dataclass
class Tally:
    """Every request of every client, accounted for."""

    requests: int = 0
    answered: int = 0                  # answered exactly once (each client takes one answer a request)
    abandoned: int = 0
    duplicates: int = 0                # later replies to a request already answered, dropped
    late: int = 0
    mismatched: int = 0
    served_in: Counter = field(default_factory=Counter)      # cluster (worker name's prefix) -> requests

    @property
    def ok(self) -> bool:
        return self.requests == self.answered and not self.abandoned and not self.mismatched


def tally(lab, clients: list[str]) -> Tally:
    """Add up what the clients saw. A cluster is the part of a worker's name before its first '-'."""
    t = Tally()
    for name in clients:
        p = lab.peer(name)
        answered = p.data.get("answered", {})
        t.requests += p.get("requests")
        t.answered += len(answered)
        t.abandoned += p.get("abandoned")
        t.duplicates += p.get("duplicates")
        t.late += p.get("late")
        t.mismatched += p.get("mismatched")
        t.served_in.update(w.split("-", 1)[0] for w in answered.values())
    return t


def routes(events, broker: str | None = None) -> list:
    """The routing decisions in a list of events (``lab.events_of()``, a report's events)."""
    return [e for e in events if e.kind == "route" and (broker is None or e.peer == broker)]


ROLES = {"broker": broker, "worker": worker, "client": client, "monitor": monitor}
