"""zmq.asyncio: the Lazy Pirate client and the Majordomo worker as ``async def`` roles.

The same protocols as :mod:`~zguide_py.patterns.lazypirate` and :mod:`~zguide_py.patterns.majordomo`,
the same frames, the same checks of every message, the same records for the notebook (so
``lazypirate.tally`` accounts for this client's requests, and the Majordomo broker cannot tell this
worker from the thread one). Only the waiting changes: ``await sock.recv_multipart()`` and ``await
sock.poll(ms)`` hand the thread back to the event loop instead of holding it.

The lab runs an ``async def`` role in its own thread with an event loop of its own (``asyncio.run``),
and ``peer.socket`` gives zmq.asyncio sockets on the lab's context. A kill cancels the role's task at
the ``await`` it is in; ``await peer.athrottle()`` is the throttle. What a role must not do is block
its loop (``time.sleep``, a plain socket's ``recv``, a plain ``zmq.Poller``): nothing else on that
loop runs meanwhile, the worker's heartbeat task included.

Roles: ``lazy_pirate_client`` (REQ), ``mdp_worker`` (DEALER, 7/MDP), and for measuring the cost of
each style on the same socket pair, ``echo_server`` (REP) and ``pinger`` (REQ), with ``thread_pinger``
the same client as a plain thread role (its server: ``reqrep.echo_server``).

    python -m zguide_py run lazypirate.server --bind tcp://127.0.0.1:5555
    python -m zguide_py run asyncpatterns.lazy_pirate_client --connect 5555 requests=20
    python -m zguide_py run majordomo.broker --bind tcp://127.0.0.1:5556
    python -m zguide_py run asyncpatterns.mdp_worker --connect 5556 service=echo
"""
from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque

import zmq

from .lazypirate import REQUEST_RETRIES, REQUEST_TIMEOUT, Requests
from .majordomo import (DISCONNECT, HEARTBEAT, MDPW, READY, REPLY, REQUEST, WORK, Malformed, malformed,
                        parse_at_worker)


# ---- Lazy Pirate ---------------------------------------------------------------------------------
async def lazy_pirate_client(peer, endpoint: str, requests: int = 200, timeout: float = REQUEST_TIMEOUT,
                             retries: int = REQUEST_RETRIES, pause: float = 0.0):
    """:func:`lazypirate.client` with ``await``: send, ``await req.poll(timeout)``; on a timeout close
    the REQ socket, open a new one and resend; after ``retries`` tries abandon the request.

    Keeps the same books as the thread client (a :class:`lazypirate.Requests`: the same
    ``peer.data``, counters and events), so ``lazypirate.tally`` reads both alike.
    """
    book = Requests(peer, retries=retries, timeout=timeout)
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    for seq in range(requests):
        request = f"{peer.name}:{seq}".encode()
        book.sent(seq)
        for attempt in range(1, retries + 1):
            await req.send(request)
            if await req.poll(round(timeout * 1000)):  # the loop runs on meanwhile; a kill cancels it
                reply = await req.recv_multipart()
                if reply == [request]:                 # the answer to this very request
                    book.answered(seq)
                    break
                book.mismatched(seq, reply)            # someone else's reply: never accept it
            # No (good) reply in time: the REQ socket is stuck waiting, so throw it away.
            peer.close_socket(req)
            req = peer.socket(zmq.REQ)
            req.connect(endpoint)
            if attempt == retries:
                book.abandoned(seq)
            else:
                book.retry(seq)
        await peer.athrottle()
        if pause:
            await asyncio.sleep(pause)
    book.done()


# ---- Majordomo worker ----------------------------------------------------------------------------
async def mdp_worker(peer, broker: str, service: str = "echo", heartbeat: float = 0.1, liveness: int = 3,
                     reconnect: float = 0.1, work=None):
    """:func:`majordomo.worker` with ``await``: a DEALER that says READY for ``service``, answers
    REQUESTs, and starts over on a new socket when the broker is silent for ``liveness`` heartbeats
    or says DISCONNECT. ``work(body)`` turns request frames into reply frames; it may be ``async``.

    The heartbeat is a task of its own, so it goes on while a request is being worked on, as long
    as the work awaits. ``peer.data["gaps"]``: (time, seconds since the previous heartbeat).
    """
    work = work or WORK[service]
    gaps = peer.data.setdefault("gaps", deque(maxlen=1000))
    dealer = None

    async def connect(delay: float = 0.0) -> float:
        """Start over: close the old socket, wait ``delay``, say READY on a new one. Returns when
        the broker counts as lost if it says nothing."""
        nonlocal dealer
        if dealer is not None:
            peer.close_socket(dealer)
            dealer = None                      # no heartbeats meanwhile
        await asyncio.sleep(delay)
        peer.count("connects")
        sock = peer.socket(zmq.DEALER)         # a readable identity, new for each connection
        sock.setsockopt(zmq.ROUTING_ID, f"{peer.name}.{peer.starts}.{peer.get('connects')}".encode())
        sock.connect(broker)
        await sock.send_multipart([b"", MDPW, READY, service.encode()])
        dealer = sock
        return time.monotonic() + heartbeat * liveness

    async def heartbeats():                    # every `heartbeat` seconds, whatever the worker does
        last = time.monotonic()
        while True:
            await asyncio.sleep(heartbeat)
            if dealer is not None:
                await dealer.send_multipart([b"", MDPW, HEARTBEAT])
                peer.count("heartbeats")
                now = time.monotonic()
                gaps.append((peer.now(), now - last))
                last = now

    broker_expiry = await connect()
    beating = asyncio.ensure_future(heartbeats())
    try:
        while True:
            if await dealer.poll(round(heartbeat * 1000)):
                frames = await dealer.recv_multipart()
                try:
                    command, rest = parse_at_worker(frames)
                except Malformed as why:           # dropped: not even a sign of life
                    malformed(peer, frames, why)
                    continue
                broker_expiry = time.monotonic() + heartbeat * liveness
                if command == REQUEST:
                    client, _empty, *body = rest
                    await peer.athrottle()         # slow, not frozen: the heartbeat task goes on
                    reply = work(body)
                    if inspect.isawaitable(reply):
                        reply = await reply
                    await dealer.send_multipart([b"", MDPW, REPLY, client, b"", *reply])
                    peer.count("requests")
                elif command == DISCONNECT:
                    peer.log("disconnected")
                    broker_expiry = await connect()
            elif time.monotonic() > broker_expiry:
                peer.log("broker lost", heartbeats=liveness)   # silent that long: start over
                broker_expiry = await connect(reconnect)
            if beating.done():                     # a task that died would take its error with it
                beating.result()
    finally:
        beating.cancel()


# ---- the cost of each style, on the same REQ/REP pair ----------------------------------------------
async def echo_server(peer, endpoint: str):
    """REP: echo every request (``reqrep.echo_server`` with ``await``)."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    while True:
        request = await rep.recv_multipart()
        peer.count("requests")
        await peer.athrottle()
        await rep.send_multipart(request)
        peer.count("replies")


def _rate(peer, n: int, started: float) -> None:
    peer.data["rate"] = n / (time.perf_counter() - started)
    peer.data["done"] = True


async def pinger(peer, endpoint: str, seconds: float = 0.5):
    """REQ: as many round trips as it can make in ``seconds`` (after a first one that waits for the
    connection). ``peer.data["rate"]``: round trips per second. A reply that is not the echo is
    counted as malformed."""
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    await req.send(b"hello")
    await req.recv()
    n, started = 0, time.perf_counter()
    deadline = started + seconds
    while n % 64 or time.perf_counter() < deadline:    # read the clock once in 64 round trips
        request = b"%d" % n
        await req.send(request)
        if await req.recv() != request:
            peer.count("malformed")
        n += 1
    peer.count("replies", n)
    _rate(peer, n, started)


def thread_pinger(peer, endpoint: str, seconds: float = 0.5):
    """:func:`pinger` as a plain thread role (``peer.poll`` so that a kill still lands)."""
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    req.send(b"hello")
    if not peer.poll(req):
        return
    req.recv()
    n, started = 0, time.perf_counter()
    deadline = started + seconds
    while n % 64 or time.perf_counter() < deadline:
        request = b"%d" % n
        req.send(request)
        if not peer.poll(req):
            return
        if req.recv() != request:
            peer.count("malformed")
        n += 1
    peer.count("replies", n)
    _rate(peer, n, started)


ROLES = {"lazy_pirate_client": lazy_pirate_client, "mdp_worker": mdp_worker, "echo_server": echo_server,
         "pinger": pinger, "thread_pinger": thread_pinger}
