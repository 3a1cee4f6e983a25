"""Proxies for publish-subscribe: XSUB/XPUB forwarding, a steerable proxy, Espresso, a last value cache.

A SUB socket subscribes by *sending* a frame to its publisher: ``b"\\x01" + prefix`` to subscribe,
``b"\\x00" + prefix`` to unsubscribe. PUB and SUB hide these frames. Their raw twins show them:

* **XPUB** is a PUB whose ``recv`` hands over the subscription frames that arrive from downstream.
  By default it passes only the *first* subscription to each prefix and the *last* unsubscription
  (``XPUB_VERBOSE`` passes every subscription, ``XPUB_VERBOSER`` every unsubscription too).
* **XSUB** is a SUB that subscribes by ``send(b"\\x01" + prefix)``, and passes whatever else it is
  given upstream as it is.

So a proxy with an XSUB frontend (publishers connect to it) and an XPUB backend (subscribers connect)
forwards data down and subscriptions up: a publisher two hops away still filters at the source.

``zmq.proxy_steerable(frontend, backend, capture, control)`` runs such a proxy in C. It copies every
message it forwards, both ways, to ``capture`` (the **Espresso** pattern: a listener sees the whole
traffic), and obeys ``PAUSE``, ``RESUME``, ``TERMINATE`` and ``STATISTICS`` on ``control``. It
blocks the thread that calls it, so :func:`steerable_proxy` runs it in a thread of its own and steers
it over a PAIR pipe. The libzmq that pyzmq 27 bundles (4.3.5) has PAUSE and RESUME the wrong way
round (libzmq PR 4600, fixed after that release): :func:`probe_pause` measures what this libzmq
does, and the role sends whichever word pauses.

A **last value cache** (:func:`lvcache`) sits where a proxy would, remembers the last message on
each topic, and answers each new subscription (``\\x01prefix`` on its XPUB, with ``XPUB_VERBOSE`` so
that no subscription is hidden) with the cached messages of that prefix: a subscriber that joins
late gets the current values at once, instead of waiting for the next update.

Data messages have two frames, ``[topic, sequence number within that topic]``.
"""
from __future__ import annotations

import functools
import threading
import time
from typing import Iterable

import zmq

from .pubsub import _as_list, _b, malformed    # the same small helpers as the pub-sub roles

TOPICS = ("weather.london", "weather.paris", "sport.football", "sport.tennis")
#: The words ``zmq.proxy_steerable`` knows on its control socket (libzmq up to 4.3.4 aborts the whole
#: process on any other: the role refuses anything else before it gets there).
COMMANDS = ("PAUSE", "RESUME", "TERMINATE", "STATISTICS")
STAT_NAMES = ("frontend in", "frontend in bytes", "frontend out", "frontend out bytes",
              "backend in", "backend in bytes", "backend out", "backend out bytes")


def subscription(frames: list[bytes]) -> tuple[str, bytes] | None:
    """``[b"\\x01weather."]`` -> ``("subscribe", b"weather.")``, ``[b"\\x00..."]`` -> ``("unsubscribe", ...)``;
    anything else (an empty frame, another first byte, several frames) -> None."""
    if len(frames) != 1 or not frames[0] or frames[0][0] not in (0, 1):
        return None
    return ("subscribe" if frames[0][0] == 1 else "unsubscribe"), frames[0][1:]


def parse_update(frames: list[bytes]) -> tuple[str, int] | None:
    """A data message ``[topic, seq]`` -> ``("weather.paris", 17)``, or None if it is not one."""
    if len(frames) != 2 or not (0 < len(frames[1]) <= 18 and frames[1].isdigit()):
        return None
    try:
        return frames[0].decode(), int(frames[1])
    except UnicodeDecodeError:
        return None


def kind_of(frames: list[bytes]) -> str:
    """What a captured message is: subscribe, unsubscribe, data, or other."""
    sub = subscription(frames)
    if sub is not None:
        return sub[0]
    return "data" if parse_update(frames) is not None else "other"


# ---- the ends: a publisher that hears subscriptions, a subscriber that notes its first values ------

def publisher(peer, endpoint, topics: Iterable[str] = TOPICS, interval: float = 0.01,
              rounds: int | None = None, subscribers: int = 0):
    """XPUB: connect to ``endpoint`` (or to each of a list), publish ``[topic, seq]`` every
    ``interval`` seconds, cycling through ``topics``, ``rounds`` times each (None: for ever), and
    read the subscription frames that arrive from downstream. With ``subscribers``, publish only
    once that many subscription frames have come: an XPUB knows when somebody listens.

    ``peer.data``: ``heard`` ((lab time, frame) for the first 10 000 subscription frames), ``last``
    ({topic: the last seq published}; a restart carries on from there), ``done`` once the rounds are
    sent. A frame that is not ``\\x01prefix`` or ``\\x00prefix`` is counted as malformed.
    """
    pub = peer.socket(zmq.XPUB)
    if isinstance(endpoint, str):
        endpoint = [endpoint]
    for ep in endpoint:
        pub.connect(ep)
    names = [_b(t) for t in _as_list(topics)]
    heard = peer.data.setdefault("heard", [])
    last = peer.data.setdefault("last", {})
    total = None if rounds is None else rounds * len(names)
    sent, due = 0, time.monotonic()
    while peer.running:
        idle = (total is not None and sent >= total) or len(heard) < subscribers
        wait = None if idle else max(0.0, due - time.monotonic())
        if peer.poll(pub, wait):                         # a frame from downstream comes first
            frames = pub.recv_multipart()
            if (sub := subscription(frames)) is None:
                malformed(peer, frames, "XPUB expects \\x01prefix or \\x00prefix")
                continue
            if len(heard) < 10_000:
                heard.append((peer.now(), frames[0]))
            peer.count(sub[0])
            continue
        if not peer.running:
            break
        topic = names[sent % len(names)]
        seq = last.get(topic.decode(), -1) + 1
        pub.send_multipart([topic, b"%d" % seq])         # only to subscribers of a matching prefix
        last[topic.decode()] = seq
        peer.count("sent")
        sent += 1
        if total is not None and sent == total:
            peer.data["done"] = True
            peer.log("done", sent=sent)
        due = time.monotonic() + interval
        peer.throttle()


def subscriber(peer, endpoint: str, topics: Iterable[str] = ("",), messages: int | None = None):
    """SUB: connect, subscribe to ``topics`` (prefixes), receive until killed (or ``messages`` in all).

    ``peer.data``: ``first`` ({topic: (seq, seconds from subscribing to its first message)}, afresh
    at each start: a late joiner's wait), ``last`` ({topic: seq}). A message whose seq is not above
    the last one on its topic counts as a repeat (a cache sent a value we already had); a jump over
    some numbers counts them as lost.
    """
    sub = peer.socket(zmq.SUB)
    sub.connect(endpoint)
    for topic in _as_list(topics):
        sub.subscribe(_b(topic))
    joined = peer.now()
    first = peer.data["first"] = {}
    last = peer.data.setdefault("last", {})
    peer.data["status"] = lambda: first_values(first)
    received = 0
    while peer.poll(sub):
        frames = sub.recv_multipart()
        if (update := parse_update(frames)) is None:
            malformed(peer, frames, "data is [topic, seq]")
            continue
        topic, seq = update
        first.setdefault(topic, (seq, peer.now() - joined))
        if topic in last and seq <= last[topic]:
            peer.count("repeats")
        elif topic in last and seq > last[topic] + 1:
            peer.count("lost", seq - last[topic] - 1)   # a gap in the topic's numbers
        last[topic] = seq
        peer.count("received")
        received += 1
        if messages is not None and received >= messages:
            peer.data["done"] = True
            return
        peer.throttle()


def first_values(first: dict) -> str:
    """A subscriber's line on the panel: how soon it heard each of its topics after joining."""
    if not first:
        return "no value yet"
    slowest = max(wait for _, wait in list(first.values()))
    return f"first values of {len(first)} topics, the last after {slowest * 1000:.0f} ms"


def rogue(peer, endpoint: str, frames: Iterable[bytes] = (b"", b"\x02odd", b"hello"),
          interval: float = 0.2, rounds: int | None = 1):
    """XSUB that sends frames no SUB would send, ``rounds`` times (None: for ever), ``interval``
    seconds apart, then stays connected. An XSUB passes anything that is not a subscription upstream
    as it is: the proxy and the publisher must survive it."""
    xsub = peer.socket(zmq.XSUB)
    xsub.connect(endpoint)
    done = 0
    while peer.running and (rounds is None or done < rounds):
        for frame in frames:
            xsub.send(_b(frame))
            peer.count("sent")
        done += 1
        peer.sleep(interval)
    while peer.sleep(1):
        pass


# ---- the steerable proxy, and Espresso -------------------------------------------------------------

def steerable_proxy(peer, frontend: str, backend: str, capture: str | None = None,
                    max_pause: float | None = None):
    """XSUB ``frontend`` (publishers connect), XPUB ``backend`` (subscribers connect), and
    ``zmq.proxy_steerable`` between them in a thread of its own, which owns those sockets until it
    returns. With ``capture``, a PUB socket there gets a copy of everything forwarded, both ways.

    The notebook steers it with :func:`steer` (a numbered word in ``peer.inputs``); this peer
    sends the word on a PAIR pipe to the proxy's control socket, asks ``STATISTICS`` 20 times a
    second for its counters ``down`` (frames to subscribers) and ``up`` (frames to publishers), and
    sends ``TERMINATE`` when the lab kills it. ``max_pause``: resume by itself after that long.
    """
    xsub = peer.socket(zmq.XSUB)
    xsub.bind(frontend)
    xpub = peer.socket(zmq.XPUB)
    xpub.bind(backend)
    tap = None
    if capture is not None:
        tap = peer.socket(zmq.PUB)                  # a PUB never blocks the proxy, listener or not
        tap.bind(capture)
    pipe = f"inproc://{peer.name}-control-{peer.starts}-{id(xpub):x}"
    control = peer.socket(zmq.PAIR)
    control.bind(pipe)
    steer_end = peer.socket(zmq.PAIR)
    steer_end.connect(pipe)
    proxy = threading.Thread(target=_run_proxy, args=(peer, xsub, xpub, tap, control),
                             name=f"{peer.thread_name}:proxy", daemon=True)
    proxy.start()
    books = Books(peer, steering_words(), proxy, steer_end)
    handled = 0
    try:
        while peer.running and proxy.is_alive():
            for number, word, start in peer.inputs.get("commands", ()):
                if start == peer.starts and number > handled:   # given to this start, and new
                    handled = number
                    books.command(word)
            if books.paused_too_long(max_pause):
                books.command("RESUME", why=f"paused for {max_pause:g} s")
            books.refresh()
            proxy.join(0.05)
    finally:
        if proxy.is_alive():
            steer_end.send(books.words["TERMINATE"])
            proxy.join(1.0)


def _run_proxy(peer, xsub, xpub, tap, control) -> None:
    """The proxy thread: zmq.proxy_steerable until TERMINATE (or the end of the context)."""
    try:
        zmq.proxy_steerable(xsub, xpub, tap, control)
        peer.data["proxy"] = "returned after TERMINATE"
    except zmq.ZMQError as exc:
        peer.data["proxy"] = f"ended: {exc}"


class Books:
    """The steerable proxy's peer-side state: what it told the proxy, and its counters."""

    def __init__(self, peer, words: dict[str, bytes], proxy: threading.Thread, steer_end):
        self.peer, self.words, self.proxy, self.steer_end = peer, words, proxy, steer_end
        self.base = {name: peer.get(name) for name in ("down", "up")}   # counters carry on over restarts
        self.paused_at: float | None = None
        peer.data.update(state="active", stats={})
        peer.data["status"] = self.status

    def command(self, word: str, why: str = "") -> None:
        """Send one steering word (the bytes that do it in this libzmq), between two STATISTICS:
        the proxy answers in order, so ``before`` and ``after`` frame the word. Unknown words are refused."""
        peer = self.peer
        if word not in COMMANDS:
            peer.count("refused")
            peer.log("refused", command=word, why=f"the proxy knows only {', '.join(COMMANDS)}")
            return
        before = self.refresh()
        sent_at, cpu = peer.now(), thread_cpu(self.proxy)
        self.steer_end.send(self.words[word])
        after = self.refresh() if word != "TERMINATE" else None
        if word in ("PAUSE", "RESUME"):
            peer.data["state"] = "paused" if word == "PAUSE" else "active"
            self.paused_at = time.monotonic() if word == "PAUSE" else None
        peer.lab.record("steer", peer.name, at=sent_at, command=word, sent=self.words[word].decode(), cpu=cpu,
                        down_before=(before or {}).get("backend out"),
                        down_after=(after or {}).get("backend out"), **({"why": why} if why else {}))

    def paused_too_long(self, max_pause: float | None) -> bool:
        return (max_pause is not None and self.paused_at is not None
                and time.monotonic() - self.paused_at >= max_pause)

    def refresh(self) -> dict[str, int] | None:
        """Ask the proxy for its counters, and show them as this peer's ``down`` and ``up``."""
        stats = statistics(self.peer, self.steer_end, self.words, self.proxy)
        if stats is not None:
            self.peer.data["stats"] = stats
            self.peer.counter("down").value = self.base["down"] + stats["backend out"]
            self.peer.counter("up").value = self.base["up"] + stats["frontend out"]
        return stats

    def status(self) -> str:
        stats = self.peer.data.get("stats") or {}
        return (f"{self.peer.data.get('state')}: {stats.get('backend out', 0)} frames down, "
                f"{stats.get('frontend out', 0)} up")


def statistics(peer, steer_end, words: dict[str, bytes], proxy: threading.Thread) -> dict[str, int] | None:
    """Ask the proxy for its counters: ``STATISTICS`` is answered with 8 frames of 8 bytes (messages
    and bytes, in and out, frontend and backend). Empty one-frame replies (libzmq 4.3.5 answers
    every command) are skipped. None once the proxy has ended, or on a kill."""
    steer_end.send(words["STATISTICS"])
    while peer.running:
        if not peer.poll(steer_end, 0.05):
            if proxy.is_alive():
                continue
            return None
        frames = steer_end.recv_multipart()
        if frames == [b""]:
            continue
        if len(frames) != 8 or any(len(f) != 8 for f in frames):
            malformed(peer, frames, "STATISTICS is answered with 8 frames of 8 bytes")
            continue
        return {name: int.from_bytes(f, "little") for name, f in zip(STAT_NAMES, frames)}
    return None


def steer(word: str, proxy: str = "proxy"):
    """A panel button or scenario step that makes peer ``proxy`` send ``word`` to its proxy:
    ``Panel(lab, actions={"PAUSE": steer("PAUSE")})``. The words queue up in the peer's input
    ``commands`` as (number, word, which start of the peer they are for): a word twice is sent
    twice, and a restarted proxy does not replay the words its previous run was given."""
    def action(lab) -> str:
        peer = lab.peer(proxy)
        given = peer.inputs.get("commands", ())
        lab.set(proxy, commands=(*given, (len(given) + 1, word, peer.starts)))
        return f"{proxy} sends {word}"
    action.__name__ = word
    return action


def thread_cpu(thread: threading.Thread) -> float | None:
    """CPU seconds a live thread has used (POSIX thread clocks), None where that cannot be read."""
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError, TypeError, ProcessLookupError):
        return None


def espresso(peer, endpoint: str, keep: int = 5000):
    """SUB to a proxy's capture socket: every message the proxy forwards, whichever way it went.
    ``peer.data["captured"]``: (lab time, kind, frames) for the first ``keep`` messages, the kind being
    subscribe, unsubscribe, data or other; each kind is counted."""
    tap = peer.socket(zmq.SUB)
    tap.connect(endpoint)
    tap.subscribe(b"")
    captured = peer.data.setdefault("captured", [])
    while peer.poll(tap):
        frames = tap.recv_multipart()
        kind = kind_of(frames)
        if len(captured) < keep:
            captured.append((peer.now(), kind, frames))
        peer.count(kind)


# ---- what PAUSE does in this libzmq ----------------------------------------------------------------

def probe_pause(timeout: float = 2.0) -> dict[str, int]:
    """Measure what PAUSE and RESUME do to this libzmq's ``zmq.proxy_steerable``, on a private
    context: a proxy between two PAIR pipes gets PAUSE, then one message, then RESUME and one more.
    After each word it is asked STATISTICS twice; the second answer comes after the proxy has dealt
    with the message, so it says whether the message went through. Returns {word: messages
    forwarded after it}: ``{"PAUSE": 0, "RESUME": 2}`` where PAUSE pauses (the held message goes on
    RESUME), ``{"PAUSE": 1, "RESUME": 0}`` where the two are swapped."""
    ctx = zmq.Context()
    ctx.linger = 0
    ends = {}
    for name in ("front", "back", "control"):
        bound, connected = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        bound.bind(f"inproc://probe-{name}")
        connected.connect(f"inproc://probe-{name}")
        ends[name] = (bound, connected)
    (front, feed), (back, _), (control, steer_end) = ends["front"], ends["back"], ends["control"]
    proxy = threading.Thread(target=zmq.proxy_steerable, args=(front, back, None, control),
                             name="zguide-probe:proxy", daemon=True)
    proxy.start()
    forwarded, before = {}, 0
    try:
        for word in ("PAUSE", "RESUME"):
            steer_end.send(word.encode())
            feed.send(b"probe")
            out = [_probe_stats(steer_end, timeout) for _ in range(2)][-1]
            forwarded[word] = out - before
            before = out
        steer_end.send(b"TERMINATE")
        proxy.join(timeout)
    finally:
        if not proxy.is_alive():          # sockets a running proxy still uses must not be closed
            ctx.destroy(linger=0)
    return forwarded


def _probe_stats(steer_end, timeout: float) -> int:
    """The proxy's count of messages sent out of its backend (skipping one-frame empty replies)."""
    deadline = time.monotonic() + timeout
    steer_end.send(b"STATISTICS")
    while steer_end.poll(max(1, int((deadline - time.monotonic()) * 1000))):
        frames = steer_end.recv_multipart()
        if len(frames) == 8:
            return int.from_bytes(frames[6], "little")
    raise TimeoutError("the probe proxy did not answer STATISTICS")


@functools.cache
def steering_words() -> dict[str, bytes]:
    """The bytes that make this libzmq's proxy do each command: the words themselves, except where
    :func:`probe_pause` finds PAUSE and RESUME swapped (libzmq 4.3.5). Measured once per process."""
    forwarded = probe_pause()
    swapped = forwarded == {"PAUSE": 1, "RESUME": 0}
    words = {word: word.encode() for word in COMMANDS}
    if swapped:
        words.update(PAUSE=b"RESUME", RESUME=b"PAUSE")
    return words


# ---- the last value cache --------------------------------------------------------------------------

def lvcache(peer, frontend: str, backend: str, verbose: bool = True):
    """Last value cache: SUB ``frontend`` (publishers connect; it takes everything), XPUB ``backend``
    (subscribers connect). Each update is cached by topic and passed on; each subscription
    (``\\x01prefix``) is answered at once with the cached message of every topic it matches.

    ``verbose`` sets ``XPUB_VERBOSE``: without it the XPUB hides a subscription to a prefix that
    another subscriber already has, and the second late joiner gets nothing from the cache.
    ``peer.data["cached"]``: {topic: the cached seq}. Counters: forwarded, subscriptions, replayed.
    """
    updates = peer.socket(zmq.SUB)
    updates.bind(frontend)
    updates.subscribe(b"")
    xpub = peer.socket(zmq.XPUB, xpub_verbose=int(verbose))
    xpub.bind(backend)
    cache: dict[bytes, list[bytes]] = {}
    cached = peer.data["cached"] = {}
    poller = zmq.Poller()
    poller.register(updates, zmq.POLLIN)
    poller.register(xpub, zmq.POLLIN)
    while ready := peer.poll(poller):
        if updates in ready:
            frames = updates.recv_multipart()
            if (update := parse_update(frames)) is None:
                malformed(peer, frames, "an update is [topic, seq]")
            else:
                cache[frames[0]] = frames
                cached[update[0]] = update[1]
                xpub.send_multipart(frames)
                peer.count("forwarded")
        if xpub in ready:
            frames = xpub.recv_multipart()
            if (sub := subscription(frames)) is None:
                malformed(peer, frames, "XPUB expects \\x01prefix or \\x00prefix")
                continue
            kind, prefix = sub
            peer.count("subscriptions" if kind == "subscribe" else "unsubscriptions")
            if kind == "subscribe":
                for topic, message in list(cache.items()):
                    if topic.startswith(prefix):
                        xpub.send_multipart(message)   # to every subscriber of that topic
                        peer.count("replayed")
        peer.throttle()


ROLES = {"publisher": publisher, "subscriber": subscriber, "rogue": rogue,
         "steerable_proxy": steerable_proxy, "espresso": espresso, "lvcache": lvcache}
