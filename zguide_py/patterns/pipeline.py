"""Pipeline (divide and conquer): a ventilator PUSHes tasks to workers, workers PUSH results to a sink.

    ventilator (PUSH, bind) --> worker 1..N (PULL, connect | PUSH, connect) --> sink (PULL, bind)

PUSH deals messages out round-robin to the workers connected to it, and PULL fair-queues what
comes in, so the work spreads evenly and the results gather in one place. Adding workers adds
capacity without changing the ventilator or the sink: they bind, the workers connect.

What PUSH does *not* do: it never looks back. A task handed to a worker's queue belongs to that
worker. If the worker dies, the task it was working on and every task still queued for it are
gone; nobody re-sends them. (Notebook 05 and the reliable patterns later are the answer.)

Messages: the ventilator sends ``[b"start", batch, n]`` to the sink, then each task as
``[batch, task id, seconds of work]`` to the workers; a worker sends ``[batch, task id, worker]``
to the sink when the task is done.
"""
from __future__ import annotations

import struct

import zmq


def ventilator(peer, endpoint: str, sink: str, tasks: int | None = 100, work: float = 0.01,
               batch: int = 0, interval: float = 0.0):
    """PUSH ``tasks`` tasks (``None``: forever), each ``work`` seconds long, to whoever connects to
    ``endpoint``; first tell the ``sink`` that batch ``batch`` of ``tasks`` tasks begins. Then stay
    up until killed: closing at once (linger 0) would drop tasks still on their way."""
    to_workers = peer.socket(zmq.PUSH)
    to_workers.bind(endpoint)
    to_sink = peer.socket(zmq.PUSH)
    to_sink.connect(sink)
    to_sink.send_multipart([b"start", b"%d" % batch, b"%d" % (tasks if tasks is not None else -1)])
    work_b = struct.pack("!d", work)
    task_id = 0
    while peer.running and (tasks is None or task_id < tasks):
        # PUSH blocks while no worker is connected (or every queue is full): poll for room first
        if not to_workers.poll(50, zmq.POLLOUT):
            continue
        to_workers.send_multipart([b"%d" % batch, b"%d" % task_id, work_b])
        peer.count("sent")
        task_id += 1
        peer.throttle()
        if interval:
            peer.sleep(interval)
    if peer.running:
        peer.data["done"] = True
        peer.log("done", f"batch {batch}: {task_id} tasks sent")
    while peer.running:
        peer.sleep(0.05)


def worker(peer, endpoint: str, sink: str):
    """PULL a task, work on it (a sleep that releases the GIL, as real I/O or C code would), PUSH
    the result to the sink. Keeps the ids it received and finished in ``peer.data``."""
    tasks = peer.socket(zmq.PULL)
    tasks.connect(endpoint)
    results = peer.socket(zmq.PUSH)
    results.connect(sink)
    received = peer.data.setdefault("received", [])
    finished = peer.data.setdefault("finished", [])
    peer.data["connected"] = True
    in_hand = None
    try:
        while peer.running:
            if not tasks.poll(50):
                continue
            batch, task_id, work_b = tasks.recv_multipart()
            in_hand = (int(batch), int(task_id))
            received.append(in_hand)
            peer.count("received")
            peer.throttle()                        # a kill during throttle or sleep ends the role here
            if not peer.sleep(struct.unpack("!d", work_b)[0]):
                break                              # the lab is closing
            while peer.running and not results.poll(50, zmq.POLLOUT):
                pass                               # no sink yet, or its queue is full
            if not peer.running:
                break
            results.send_multipart([batch, task_id, peer.name.encode()])
            finished.append(in_hand)
            in_hand = None
            peer.count("finished")
    finally:
        # The worker is dead. A real crash could not look back; this one takes note, for the notebook
        # only, of the task in its hands and of the tasks still waiting in its queue. All of them
        # die with it: nothing here sends them anywhere.
        peer.data["in_hand"] = [in_hand] if in_hand is not None else []
        queued = peer.data["queued"] = []
        try:
            while tasks.poll(0):
                batch, task_id, _ = tasks.recv_multipart()
                queued.append((int(batch), int(task_id)))
        except zmq.ZMQError:                       # the context is being torn down
            pass


def sink(peer, endpoint: str):
    """PULL results; time each batch from its start message to its last result.

    ``peer.data["batches"][batch]`` holds ``expected``, ``results`` (task id -> worker),
    ``started`` and, once every task is in, ``seconds``."""
    pull = peer.socket(zmq.PULL)
    pull.bind(endpoint)
    batches = peer.data.setdefault("batches", {})
    now = peer.lab.now
    while peer.running:
        if not pull.poll(50):
            continue
        first, *rest = pull.recv_multipart()
        batch = int(rest[0]) if first == b"start" else int(first)
        record = batches.get(batch)
        if record is None:
            record = batches[batch] = {"expected": None, "results": {}, "started": now(), "seconds": None}
        if first == b"start":
            record["expected"] = int(rest[1])
        else:
            task_id, worker_name = int(rest[0]), rest[1].decode()
            record["results"][task_id] = worker_name
            peer.count("results")
        if record["seconds"] is None and len(record["results"]) == record["expected"]:
            record["seconds"] = now() - record["started"]
            peer.log("batch done", batch)
        peer.throttle()


# ---- helper for the notebook and the tests --------------------------------------------------------

def tally(lab, batch: int, workers, sink: str = "sink", ventilator: str = "ventilator") -> dict:
    """Where every task of ``batch`` went, from what the peers recorded.

    ``settled`` is True once the ventilator has sent every task, every task has been picked up by
    a worker (or was found still queued at a killed one), every live worker has finished what it
    picked up, and the sink holds every finished result."""
    def mine(items):
        return {t for b, t in items if b == batch}

    vent = lab.peer(ventilator)
    record = lab.peer(sink).data.get("batches", {}).get(batch, {"results": {}, "expected": None})
    at_sink = set(record["results"])
    per_worker, picked_up, finished, settled = {}, 0, set(), bool(vent.data.get("done"))
    for name in workers:
        data = lab.peer(name).data
        got, done = mine(data.get("received", [])), mine(data.get("finished", []))
        dead = not lab.peer(name).alive
        in_hand = mine(data.get("in_hand", [])) if dead else set()
        queued = mine(data.get("queued", [])) if dead else set()
        per_worker[name] = {"received": len(got), "finished": len(done), "in_hand": sorted(in_hand),
                            "queued": sorted(queued), "alive": not dead}
        picked_up += len(got) + len(queued)
        finished |= done
        if not dead and done != got:
            settled = False
    sent = vent.get("sent")
    settled = settled and picked_up >= sent and finished <= at_sink
    held = set()
    for w in per_worker.values():
        held |= set(w["in_hand"]) | set(w["queued"])
    return {"sent": sent, "at_sink": len(at_sink), "missing": sorted(set(range(sent)) - at_sink),
            "held": sorted(held), "workers": per_worker, "settled": settled}


ROLES = {"ventilator": ventilator, "worker": worker, "sink": sink}
