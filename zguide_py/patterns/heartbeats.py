"""Heartbeats: how a connection that died without a word is noticed, and how it comes back.

A cable pulled, a firewall that starts dropping, a host that froze: TCP sends nothing to say so, and
ZeroMQ, which hides the connection, says nothing either. A subscriber just stops getting messages.
It cannot tell "the publisher has nothing to say" from "the link is gone" unless something on the
link is *expected*:

* **ZMTP heartbeats** (libzmq >= 4.2): ``HEARTBEAT_IVL`` sends a PING every so often on an idle
  link; no PONG (or any traffic) within ``HEARTBEAT_TIMEOUT`` closes the connection, and ZeroMQ
  reconnects by itself every ``RECONNECT_IVL``.
* **TCP keepalive** (``TCP_KEEPALIVE``, ``_IDLE``, ``_INTVL``, ``_CNT``): the kernel probes an idle
  connection; the kernel counts whole seconds, so this is slower.
* **An application heartbeat**, as the Paranoid Pirate does: the peers send HEARTBEAT messages
  themselves and give up after a number of silent intervals.

``CONNECT_TIMEOUT`` matters too: a reconnect attempt made while the link is still cut waits for the
kernel's SYN retries (seconds, doubling) unless it is bounded.

Roles: ``ticker`` (PUB, a numbered tick at a steady rate) and ``listener`` (SUB, with the options
above, logging the socket's own connection events as they happen).

    python -m zguide_py run heartbeats.ticker --bind tcp://127.0.0.1:5556 rate=50
    python -m zguide_py run heartbeats.listener --connect tcp://127.0.0.1:5556 heartbeat=0.1
"""
from __future__ import annotations

import time

import zmq
from zmq.utils.monitor import recv_monitor_message

#: The socket events a listener logs (its connection coming and going), by their ZeroMQ name.
WATCHED = {zmq.EVENT_CONNECTED: "connected", zmq.EVENT_DISCONNECTED: "disconnected",
           zmq.EVENT_CONNECT_RETRIED: "retried", zmq.EVENT_CLOSED: "closed"}


def ticker(peer, endpoint: str, rate: float = 100.0):
    """PUB: send ``b"tick", seq`` ``rate`` times a second, for as long as it lives."""
    pub = peer.socket(zmq.PUB)
    pub.bind(endpoint)
    every, seq = 1.0 / rate, 0
    next_at = time.monotonic()
    while peer.sleep(max(0.0, next_at - time.monotonic())):    # a kill ends the sleep
        pub.send_multipart([b"tick", str(seq).encode()])
        peer.count("sent")
        seq += 1
        next_at += every
        peer.throttle()


def listener(peer, endpoint: str, heartbeat: float | None = None, keepalive: int | None = None,
             reconnect: float = 0.1, connect_timeout: float = 0.5):
    """SUB to every tick. ``heartbeat`` (seconds) turns on ZMTP heartbeats with a timeout of three
    intervals; ``keepalive`` (whole seconds) turns on TCP keepalive probing after that much idle
    time, one probe a second, one unanswered probe enough. Logs ``connected`` / ``disconnected`` /
    ``retried`` as the socket reports them, and ``tick`` gaps as ``gap``."""
    sub = peer.socket(zmq.SUB, reconnect_ivl=int(reconnect * 1000),
                      connect_timeout=int(connect_timeout * 1000))
    if heartbeat:
        sub.heartbeat_ivl = int(heartbeat * 1000)
        sub.heartbeat_timeout = int(3 * heartbeat * 1000)
    if keepalive:
        sub.tcp_keepalive, sub.tcp_keepalive_idle = 1, int(keepalive)
        sub.tcp_keepalive_intvl, sub.tcp_keepalive_cnt = 1, 1
    sub.subscribe(b"tick")
    monitor = sub.get_monitor_socket(sum(WATCHED))
    sub.connect(endpoint)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    poller.register(monitor, zmq.POLLIN)
    last = None
    try:
        while peer.running:
            ready = peer.poll(poller, 1.0)
            if monitor in ready:
                event = recv_monitor_message(monitor)
                peer.log(WATCHED.get(event["event"], "socket"), endpoint=endpoint)
            if sub in ready:
                frames = sub.recv_multipart()
                seq = int(frames[1]) if len(frames) == 2 and frames[1].isdigit() else None
                if seq is None:
                    peer.count("malformed")
                    continue
                if last is not None and seq > last + 1:
                    peer.log("gap", missed=seq - last - 1)
                last = seq
                peer.count("received")
    finally:
        sub.disable_monitor()
        monitor.close(linger=0)


ROLES = {"ticker": ticker, "listener": listener}
