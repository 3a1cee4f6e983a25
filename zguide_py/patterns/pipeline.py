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
    if not peer.send(to_sink, [b"start", b"%d" % batch, b"%d" % (tasks if tasks is not None else -1)]):
        return
    work_b = struct.pack("!d", work)
    task_id = 0
    while tasks is None or task_id < tasks:
        # PUSH waits while no worker is connected (or every queue is full); peer.send waits too,
        # but not past a kill
        if not peer.send(to_workers, [b"%d" % batch, b"%d" % task_id, work_b]):
            return
        peer.count("sent")
        task_id += 1
        peer.throttle()
        if interval:
            peer.sleep(interval)
    peer.data["done"] = True
    peer.log("done", batch=batch, tasks=task_id)
    while peer.sleep(1):      # stay up until killed
        pass


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
        while peer.poll(tasks):
            batch, task_id, work_b = tasks.recv_multipart()
            in_hand = (int(batch), int(task_id))
            received.append(in_hand)
            peer.count("received")
            peer.throttle()                        # a kill during throttle or work ends the role here
            peer.sleep(struct.unpack("!d", work_b)[0])              # the work
            if not peer.send(results, [batch, task_id, peer.name.encode()]):
                break                              # killed while waiting for the sink
            finished.append(in_hand)
            in_hand = None
            peer.count("finished")
    finally:
        note_lost_tasks(peer, tasks, in_hand)


def note_lost_tasks(peer, tasks, in_hand) -> None:
    """The worker is dead. A real crash could not look back; this one takes note, for the notebook
    only, of the task in its hands and of the tasks still waiting in its queue. All of them die
    with it: nothing here sends them anywhere."""
    peer.data["in_hand"] = [in_hand] if in_hand is not None else []
    queued = peer.data["queued"] = []
    try:
        while tasks.poll(0):
            batch, task_id, _ = tasks.recv_multipart()
            queued.append((int(batch), int(task_id)))
    except zmq.ZMQError:                           # the context is being torn down
        pass


def sink(peer, endpoint: str):
    """PULL results; time each batch from its start message to its last result.

    ``peer.data["batches"][batch]`` holds ``expected``, ``results`` (task id -> worker),
    ``started`` and, once every task is in, ``seconds``."""
    pull = peer.socket(zmq.PULL)
    pull.bind(endpoint)
    batches = peer.data.setdefault("batches", {})
    while peer.poll(pull):
        first, *rest = pull.recv_multipart()
        batch = int(rest[0]) if first == b"start" else int(first)
        record = batches.get(batch)
        if record is None:
            record = batches[batch] = {"expected": None, "results": {}, "started": peer.now(), "seconds": None}
        if first == b"start":
            record["expected"] = int(rest[1])
        else:
            task_id, worker_name = int(rest[0]), rest[1].decode()
            record["results"][task_id] = worker_name
            peer.count("results")
        if record["seconds"] is None and len(record["results"]) == record["expected"]:
            record["seconds"] = peer.now() - record["started"]
            peer.log("batch done", batch=batch, seconds=round(record["seconds"], 4))
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
