"""The lab's context and socket classes: plain pyzmq sockets with two lifecycle fixes.

Role code calls ``sock.bind(endpoint)`` and ``sock.close()`` as usual. Underneath:

* ``close()`` first unbinds what the socket bound. libzmq releases an endpoint asynchronously after
  close, so a restarted peer that binds the same name at once would get "Address already in use".
* ``bind()`` retries "Address already in use" for up to one second, for the same reason (a TCP
  listener of a killed peer may take a moment to go away).

Everything else is pyzmq's own ``zmq.Socket``. :func:`drain` is the busy role's read: after
``peer.poll`` said a message waits, it takes every message that waits, without waiting for more.
"""
from __future__ import annotations

import errno
import time
from typing import Iterator

import zmq

BIND_RETRY_SECONDS = 1.0
#: :func:`drain` takes at most this many messages; then the role gets back to its poll and its
#: timers (a heartbeat is never more than one batch late).
DRAIN = 100
_NOBLOCK = int(zmq.NOBLOCK)        # plain ints: pyzmq's enum flags cost microseconds on each use
_POLLIN = int(zmq.POLLIN)


class LabSocket(zmq.Socket):
    _bound_endpoints: list | None = None   # class attribute, so pyzmq treats it as an attribute

    def bind(self, addr: str):
        deadline = time.monotonic() + BIND_RETRY_SECONDS
        while True:
            try:
                result = super().bind(addr)
                break
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)
        if self._bound_endpoints is None:
            self._bound_endpoints = []
        self._bound_endpoints.append(self.last_endpoint.decode() if "*" in addr else addr)
        return result

    def close(self, linger: int | None = None) -> None:
        if not self.closed:
            for endpoint in self._bound_endpoints or ():
                try:
                    self.unbind(endpoint)
                except zmq.ZMQError:
                    pass
        super().close(linger=linger)


class LabContext(zmq.Context):
    """A private context whose sockets all start with linger 0: closing one drops what it queued,
    as a crash would, and ``term()`` never waits for undelivered messages."""

    _socket_class = LabSocket

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setsockopt(zmq.LINGER, 0)    # a default for every socket made on this context


def new_socket(ctx: zmq.Context, socket_type: int, options: dict, keep: list) -> zmq.Socket:
    """A socket on ``ctx`` with ``options`` set by name (``rcvhwm=10``), remembered in ``keep`` so
    that its owner (a peer, or the lab) closes it. The one socket factory of the lab."""
    sock = ctx.socket(socket_type)
    try:
        for key, value in options.items():
            setattr(sock, key, value)
    except (AttributeError, zmq.ZMQError, TypeError, ValueError):
        sock.close(linger=0)
        raise
    keep.append(sock)
    return sock


def drain(sock: zmq.Socket, limit: int = DRAIN) -> Iterator[list[bytes]]:
    """The messages (lists of frames) waiting on ``sock`` now, at most ``limit``, received without
    waiting. ``for frames in drain(sock):`` after a ``peer.poll`` that said one waits serves a whole
    burst for one poll: under load, a poll for each message costs more than the message. It never
    waits, so it keeps the lab's kill contract (the next ``peer.poll`` sees the kill). After the
    first message it asks with a zero-timeout poll whether another waits (a receive that fails
    raises ``zmq.Again``, which costs several times more)."""
    recv, ready = sock.recv_multipart, [(sock, _POLLIN)]
    for n in range(limit):
        if n and not zmq.zmq_poll(ready, 0):
            return
        try:
            frames = recv(_NOBLOCK)
        except zmq.Again:
            return
        yield frames
