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

import math
import struct

import zmq

MAX_WORK = 10.0       # seconds: a task asking for more is not one a worker takes
MAX_BATCHES = 1000    # batches the sink keeps a record of


def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol, and log it (the lab clips the frames it keeps)."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


def number(frame: bytes) -> int | None:
    """A decimal number frame (``b"17"``, ``b"-1"``), strictly: at most 18 digits; else None."""
    digits = frame[1:] if frame[:1] == b"-" else frame
    return int(frame) if 0 < len(digits) <= 18 and digits.isdigit() else None


def parse_task(frames: list[bytes], max_work: float = MAX_WORK) -> tuple[int, int, float] | None:
    """A task ``[batch, task id, work]`` -> ``(batch, task id, seconds)``, or None if it is not one
    (the work is a double, finite, from 0 to ``max_work`` seconds)."""
    if len(frames) != 3 or len(frames[2]) != 8:
        return None
    batch, task_id, work = number(frames[0]), number(frames[1]), struct.unpack("!d", frames[2])[0]
    if batch is None or task_id is None or not (math.isfinite(work) and 0 <= work <= max_work):
        return None
    return batch, task_id, work


def parse_result(frames: list[bytes]) -> tuple[str, int, int, str] | None:
    """What reaches the sink: ``("start", batch, tasks, "")`` or ``("result", batch, task id,
    worker)``, or None if it is neither."""
    if len(frames) != 3:
        return None
    if frames[0] == b"start":
        batch, tasks = number(frames[1]), number(frames[2])
        return None if batch is None or tasks is None else ("start", batch, tasks, "")
    batch, task_id = number(frames[0]), number(frames[1])
    if batch is None or task_id is None:
        return None
    return "result", batch, task_id, frames[2].decode(errors="replace")


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


def worker(peer, endpoint: str, sink: str, max_work: float = MAX_WORK):
    """PULL a task, work on it (a sleep that releases the GIL, as real I/O or C code would), PUSH
    the result to the sink. Keeps the ids it received and finished in ``peer.data``. A message that
    is not a task (or asks for more than ``max_work`` seconds) is counted and logged as malformed."""
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
            frames = tasks.recv_multipart()
            if (task := parse_task(frames, max_work)) is None:
                malformed(peer, frames, "a task is [batch, task id, seconds of work]")
                continue
            batch, task_id, _ = frames
            in_hand = task[:2]
            received.append(in_hand)
            peer.count("received")
            peer.throttle()                        # a kill during throttle or work ends the role here
            peer.sleep(task[2])                    # the work
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
            if (task := parse_task(tasks.recv_multipart())) is not None:
                queued.append(task[:2])
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
        frames = pull.recv_multipart()
        if (result := parse_result(frames)) is None or not may_record(batches, result):
            malformed(peer, frames, "[b'start', batch, tasks] or [batch, task id, worker], within bounds")
            continue
        kind, batch, n, worker_name = result
        record = batches.get(batch)
        if record is None:
            record = batches[batch] = {"expected": None, "results": {}, "started": peer.now(), "seconds": None}
        if kind == "start":
            record["expected"] = n
        else:
            record["results"][n] = worker_name
            peer.count("results")
        if record["seconds"] is None and len(record["results"]) == record["expected"]:
            record["seconds"] = peer.now() - record["started"]
            peer.log("batch done", batch=batch, seconds=round(record["seconds"], 4))
        peer.throttle()


def may_record(batches: dict, result: tuple[str, int, int, str]) -> bool:
    """The sink's bounds: at most MAX_BATCHES batches; a result's task id below the batch's
    expected count once that is known (-1: a batch that goes on forever)."""
    kind, batch, n, _ = result
    record = batches.get(batch)
    if record is None:
        return len(batches) < MAX_BATCHES
    expected = record["expected"]
    return kind == "start" or expected is None or expected < 0 or n < expected


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
