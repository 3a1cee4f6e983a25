#!/usr/bin/env python3
"""Titanic: requests stored on disk before they are accepted, on top of Majordomo (9/TSP).

Taught in notebooks/13_titanic.ipynb. One process, one poll loop, five sockets: three Majordomo
workers (DEALERs, 7/MDP) offering the Titanic services, and a dispatcher (a Majordomo client).

* ``titanic.request`` [service, body...] -> stores the request, then ``[b"200", ticket]``
* ``titanic.reply``   [ticket] -> ``[b"200", reply...]``, ``[b"300"]`` pending, ``[b"400"]`` unknown
* ``titanic.close``   [ticket] -> deletes request and reply, ``[b"200"]``
* the dispatcher sends each stored request without a reply to its service (after asking
  ``mmi.service`` whether anyone offers it) and stores the reply beside it.

Everything is in ``--folder`` (``<ticket>.req`` / ``.rep``, written to a temporary name, fsynced
and renamed), so Titanic can be killed and restarted without losing an accepted request.

    python examples/mdbroker.py &  python examples/mdworker.py --service echo &
    python examples/titanic.py --folder /tmp/titanic &  python examples/ticlient.py --count 5
"""
from __future__ import annotations

import argparse
import os
import struct
import time
import uuid

import zmq

MDPC, MDPW = b"MDPC01", b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
SERVICES = (b"titanic.request", b"titanic.reply", b"titanic.close")


def write(path: str, frames: list[bytes]) -> None:
    """Frames to a file, durably: temporary name, fsync, rename (a reader never sees half a file)."""
    with open(path + ".tmp", "wb") as f:
        f.write(b"".join(struct.pack("!I", len(frame)) + frame for frame in frames))
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def read(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    frames, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("!I", data, at)
        frames.append(data[at + 4:at + 4 + size])
        at += 4 + size
    return frames


def handle(folder: str, service: bytes, body: list[bytes]) -> list[bytes]:
    """What the three Titanic services answer."""
    if service == b"titanic.request":
        if len(body) < 2:
            return [b"500"]
        ticket = uuid.uuid4().hex                # 32 hex digits
        write(os.path.join(folder, ticket + ".req"), body)
        return [b"200", ticket.encode()]         # only once the request is on disk
    ticket = body[0].decode(errors="replace") if body else ""
    base = os.path.join(folder, ticket)
    if not (len(ticket) == 32 and ticket.isalnum()):
        return [b"400"] if service == b"titanic.reply" else [b"200"]
    if service == b"titanic.reply":
        if os.path.exists(base + ".rep"):
            return [b"200", *read(base + ".rep")]
        return [b"300"] if os.path.exists(base + ".req") else [b"400"]
    for suffix in (".req", ".rep"):              # titanic.close: the request first
        if os.path.exists(base + suffix):
            os.remove(base + suffix)
    return [b"200"]


def pending(folder: str) -> list[str]:
    """Tickets with a request and no reply yet, oldest first."""
    names = set(os.listdir(folder))
    tickets = [n[:-4] for n in names if n.endswith(".req") and n[:-4] + ".rep" not in names]
    return sorted(tickets, key=lambda t: os.stat(os.path.join(folder, t + ".req")).st_mtime_ns)


def main() -> int:
    parser = argparse.ArgumentParser(description="Titanic (9/TSP) on a Majordomo broker")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the Majordomo broker")
    parser.add_argument("--folder", default="titanic")
    parser.add_argument("--heartbeat", type=float, default=2.5, help="MDP heartbeat (s)")
    parser.add_argument("--liveness", type=int, default=3, help="silent heartbeats before the broker is dead")
    parser.add_argument("--timeout", type=float, default=2.5, help="dispatcher: seconds to wait for a service")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))
    os.makedirs(args.folder, exist_ok=True)

    def socket(service: bytes | None) -> zmq.Socket:
        """A worker DEALER for ``service`` (READY sent), or with None the dispatcher's DEALER."""
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(args.connect)
        if service is not None:
            sock.send_multipart([b"", MDPW, READY, service])
        return sock

    with zmq.Context() as ctx:
        workers = {socket(s): s for s in SERVICES}
        dispatcher = socket(None)
        job: tuple[str, str, float] | None = None    # (ticket, "mmi" or "request", give up at)
        todo: list[str] = []                          # tickets to dispatch, oldest first
        print(f"titanic: ready, folder {args.folder}")
        try:
            now = scan_at = time.monotonic()
            broker_expiry, heartbeat_at = now + args.heartbeat * args.liveness, now + args.heartbeat
            while now < deadline:
                poller = zmq.Poller()
                for sock in (*workers, dispatcher):
                    poller.register(sock, zmq.POLLIN)
                wake = min(heartbeat_at, deadline, job[2] if job else now if todo else scan_at)
                events = dict(poller.poll(max(0, round((wake - time.monotonic()) * 1000))))
                for sock, service in workers.items():        # 1. the three services
                    if sock in events:                        # [b"", MDPW, command, ...]
                        frames = sock.recv_multipart()
                        broker_expiry = time.monotonic() + args.heartbeat * args.liveness
                        if frames[1:3] == [MDPW, REQUEST] and len(frames) >= 6:   # [.., client, b"", body..]
                            answer = handle(args.folder, service, frames[5:])
                            sock.send_multipart([b"", MDPW, REPLY, frames[3], b"", *answer])
                            if service == SERVICES[0]:
                                scan_at = time.monotonic()    # new work for the dispatcher
                        elif frames[1:3] == [MDPW, DISCONNECT]:
                            broker_expiry = 0.0               # the broker forgot us: start over
                if dispatcher in events and job is not None:  # 2. [b"", MDPC, service, reply...]
                    reply, (ticket, stage, _) = dispatcher.recv_multipart()[3:], job
                    job = None
                    if stage == "mmi" and reply == [b"200"]:  # someone offers that service: send it
                        service, *body = read(os.path.join(args.folder, ticket + ".req"))
                        dispatcher.send_multipart([b"", MDPC, service, *body])
                        job = (ticket, "request", time.monotonic() + args.timeout)
                    elif stage == "request" and os.path.exists(os.path.join(args.folder, ticket + ".req")):
                        write(os.path.join(args.folder, ticket + ".rep"), reply)
                now = time.monotonic()
                if job is not None and now > job[2]:          # no answer: a new socket, no stale reply
                    dispatcher.close()
                    dispatcher, job, todo = socket(None), None, []
                if job is None and (todo or now >= scan_at):  # 3. the next stored request
                    if not todo:
                        todo, scan_at = pending(args.folder), now + 1.0
                    ticket = todo.pop(0) if todo else ""
                    if ticket and os.path.exists(os.path.join(args.folder, ticket + ".req")):   # still open
                        service = read(os.path.join(args.folder, ticket + ".req"))[0]
                        dispatcher.send_multipart([b"", MDPC, b"mmi.service", service])
                        job = (ticket, "mmi", now + args.timeout)
                if now > broker_expiry:                       # the broker is gone: start over
                    print("titanic: broker silent or said DISCONNECT, reconnecting")
                    for sock in workers:
                        sock.close()
                    workers = {socket(s): s for s in SERVICES}
                    broker_expiry = now + args.heartbeat * args.liveness
                if now >= heartbeat_at:
                    for sock in workers:
                        sock.send_multipart([b"", MDPW, HEARTBEAT])
                    heartbeat_at = now + args.heartbeat
        finally:
            for sock in (*workers, dispatcher):
                sock.close()
    print("titanic: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
