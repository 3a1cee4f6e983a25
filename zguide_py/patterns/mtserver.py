"""Threads that share nothing but messages: PAIR pipes, the multithreaded server, one socket per thread.

ZeroMQ's answer to threads is to give each thread its own sockets and let threads talk only by
messages over ``inproc://`` (in memory, within one context). No thread touches another thread's
sockets or data, so there is nothing to lock.

* **The relay** (the guide's "mtrelay"): steps that signal each other over PAIR sockets. Each step
  *binds* its PAIR before it *starts* the thread that connects to it, waits for that thread's
  signal, then passes a signal on. PAIR is exclusive: it takes one peer and refuses a second, so a
  stray thread cannot take half the signals, as a second PULL behind a PUSH would.
* **The multithreaded server** (the guide's "mtserver"): clients connect to a ROUTER frontend;
  ``zmq.proxy`` passes their requests to a DEALER backend on ``inproc://``, which deals them
  round-robin to REP worker threads; replies go back the same way. Here each worker thread is a lab
  peer (kill it, throttle it, add more), and the proxy runs in a thread of its own that the
  ``server`` peer starts and steers: ``zmq.proxy`` never returns by itself, so the server uses
  ``zmq.proxy_steerable`` and sends ``TERMINATE`` over a PAIR pipe when the lab kills it.
* **One socket, one thread.** A libzmq socket is not thread-safe. :func:`senders` sends from
  several threads, each through its own PUSH socket ("owned"), or all through one ("shared", the
  mistake); :func:`trials` runs it in child processes, so that what the mistake does (mixed
  messages, a crash of the whole process) stays there.

What a kill loses: a worker's REP socket closes with linger 0, so the request it was working on
and every request the backend had already dealt to it (queued in its pipe) are lost; the clients
that sent them get no reply. A Lazy Pirate client (notebook 09) sends those again after its
timeout; nothing else is lost. Killing the server closes the frontend and the backend: what they
held is lost too, and the workers' inproc connections do not come back when a new server binds
the same names (inproc does not reconnect): restart the workers after the server.

    python -m zguide_py run mtserver.server --bind frontend=tcp://127.0.0.1:5555 --bind backend=tcp://127.0.0.1:5556
    python -m zguide_py run mtserver.worker --connect tcp://127.0.0.1:5556
"""
from __future__ import annotations

import json
import os
import signal as _signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import zmq

from .pubsub import malformed                    # count and log a message that breaks the protocol

READY = b"READY"
#: What ``zmq.proxy_steerable`` answers to STATISTICS: eight 64-bit counts, frontend then backend,
#: each as frames in, bytes in, frames out, bytes out.
STATISTICS = ("front_frames_in", "front_bytes_in", "front_frames_out", "front_bytes_out",
              "back_frames_in", "back_bytes_in", "back_frames_out", "back_bytes_out")


# ---- the relay: PAIR pipes between threads -----------------------------------------------------

def relay_step(peer, step: int, last: int | None = None):
    """One step of the relay. Step ``step`` binds a PAIR at ``inproc://relay-step<step>``, and only
    then starts the thread of the step before it (a lab peer, ``step<step-1>``), which connects
    there; it waits for that step's READY, then connects to the next step and signals it. Step 1
    binds nothing and only signals. Start the last step, ``lab.start("step3", relay_step, step=3)``:
    it starts the others. A signal that is not READY is counted as malformed and ignored."""
    last = step if last is None else last
    if step > 1:
        inbox = peer.socket(zmq.PAIR)
        inbox.bind(f"inproc://relay-step{step}")              # 1. bind first...
        log_bind_and_start(peer, step)                        # (events: "bound", then "starts")
        peer.lab.start(f"step{step - 1}", relay_step, step=step - 1, last=last)   # 2. ...then start
        while peer.poll(inbox):                               # 3. wait for the step before
            signal = inbox.recv_multipart()
            if signal == [READY]:
                break
            malformed(peer, signal, "a relay signal is one frame, READY")
        else:
            return                                            # killed while waiting
        peer.log("heard", sender=f"step{step - 1}")
    if step < last:
        outbox = peer.socket(zmq.PAIR)
        outbox.connect(f"inproc://relay-step{step + 1}")
        peer.log("signals", receiver=f"step{step + 1}")
        peer.send(outbox, READY)                              # 4. pass the signal on
    else:
        relay_complete(peer)                                  # the last step: the signal got through


def log_bind_and_start(peer, step: int) -> None:
    """The relay's story, for the notebook: this step has bound its PAIR, and starts the step before."""
    peer.log("bound", endpoint=f"inproc://relay-step{step}")
    peer.log("starts", thread=f"step{step - 1}")


def relay_complete(peer) -> None:
    """The last step heard READY: ``peer.data["done"]`` for the notebook, and a "complete" event."""
    peer.data["done"] = True
    peer.log("complete")


# ---- the multithreaded server --------------------------------------------------------------------

def worker(peer, endpoint: str, work: float = 0.0):
    """A worker thread: REP, connected to the server's backend. Takes a request, works ``work``
    seconds (and the throttle), sends the request back. A request is one frame; anything else is
    counted as malformed and answered with an empty frame (a REP must answer before it reads again).
    A kill while it works loses that request, and what the backend had queued for this worker."""
    rep = peer.socket(zmq.REP)
    rep.connect(endpoint)
    connected(peer)                                           # for a notebook that waits for its workers
    while peer.poll(rep):                                     # False once the lab kills this worker
        request = rep.recv_multipart()
        if len(request) != 1:
            malformed(peer, request, "a request is one frame")
            rep.send(b"")
            continue
        peer.count("requests")
        if work:
            peer.sleep(work)                                  # the work: a kill here loses the request
        peer.throttle()
        rep.send_multipart(request)
        peer.count("replies")


def connected(peer) -> None:
    """A worker is connected: ``peer.data["connected"]``, and its counters exist from the start, at 0."""
    peer.data["connected"] = True
    for name in ("requests", "replies"):
        peer.counter(name)


def run_proxy(frontend: zmq.Socket, backend: zmq.Socket, control: zmq.Socket) -> None:
    """The proxy's thread: ``zmq.proxy_steerable`` until TERMINATE arrives on ``control`` (or the
    context ends). These three sockets belong to this thread while it runs."""
    try:
        zmq.proxy_steerable(frontend, backend, None, control)
    except zmq.ContextTerminated:
        pass


def server(peer, frontend: str, backend: str, every: float = 0.2):
    """The multithreaded server's main thread: ROUTER ``frontend`` for clients, DEALER ``backend``
    for worker threads, ``zmq.proxy_steerable`` between them in a thread of its own.

    The proxy blocks in C until its control socket hears TERMINATE, so this thread keeps the other
    end of that PAIR pipe: every ``every`` seconds it asks the proxy for STATISTICS (counters
    ``frames_in`` / ``frames_out``: frames from and to the clients), and when the lab kills it,
    it sends TERMINATE and waits for the proxy's thread to end. The three sockets the proxy used
    come back to this thread only then, and close with it."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.DEALER)
    back.bind(backend)
    pipe = f"inproc://{peer.name}-control-{peer.starts}"      # a fresh name for each start
    control = peer.socket(zmq.PAIR)                           # the proxy's end of the pipe
    control.bind(pipe)
    steer = peer.socket(zmq.PAIR)                             # this thread's end
    steer.connect(pipe)
    seen = statistics_seen(peer)                              # the proxy's last STATISTICS, at 0
    proxy = threading.Thread(target=run_proxy, args=(front, back, control), daemon=True,
                             name=f"{peer.thread_name}:proxy")
    proxy.start()                                # front, back and control are the proxy's from here
    peer.data["proxy"] = proxy
    try:
        while peer.sleep(every):                 # a kill raises here, and the finally ends the proxy
            steer.send(b"STATISTICS")
            if not peer.poll(steer, 1.0):
                continue
            reply = steer.recv_multipart()
            if len(reply) != len(STATISTICS) or any(len(frame) != 8 for frame in reply):
                malformed(peer, reply, "STATISTICS is eight 8-byte counts")
                continue
            now = dict(zip(STATISTICS, (struct.unpack("<Q", frame)[0] for frame in reply)))
            count_frames(peer, seen, now)                     # frames_in, frames_out since the last
    finally:
        steer.send(b"TERMINATE")                 # the proxy returns...
        proxy.join(timeout=2.0)                  # ...and its sockets are this thread's again


def statistics_seen(peer) -> dict[str, int]:
    """The proxy's counts as last seen (all 0 at first), in ``peer.data["statistics"]``, and the
    panel's status line that reads them."""
    seen = dict.fromkeys(STATISTICS, 0)
    peer.data["statistics"] = seen
    peer.data["status"] = lambda: f"proxy: {seen['front_frames_in']} frames in, {seen['front_frames_out']} out"
    return seen


def count_frames(peer, seen: dict[str, int], now: dict[str, int]) -> None:
    """Count the frames from and to the clients since the last STATISTICS (counters ``frames_in``,
    ``frames_out``), and keep ``now`` as the last seen."""
    peer.count("frames_in", now["front_frames_in"] - seen["front_frames_in"])
    peer.count("frames_out", now["front_frames_out"] - seen["front_frames_out"])
    seen.update(now)


ROLES = {"server": server, "worker": worker}


# ---- one socket, one thread: what sharing does, in a child process ------------------------------

def senders(mode: str, messages: int, threads: int = 2, seconds: float = 5.0) -> dict:
    """``threads`` threads each send ``messages`` three-frame messages ``[name, n, name]`` to one
    PULL socket: through a PUSH socket of their own (``mode="owned"``), or all through one shared
    PUSH socket (``"shared"``: the mistake). Each thread sends its frames one by one and lets the
    other threads run between them (``time.sleep(0)``), as a busy program does now and then.
    Returns how many messages arrived intact (three frames, the same name first and last) and how
    many mixed. Run it in a child process (:func:`trials`): a shared socket can crash the process."""
    with zmq.Context() as ctx:
        ctx.linger = 0
        sink = ctx.socket(zmq.PULL)
        sink.bind("inproc://sink")
        shared = ctx.socket(zmq.PUSH)            # used only in the "shared" mode
        shared.connect("inproc://sink")

        def send(k: int) -> None:
            own = mode != "shared"
            sock = ctx.socket(zmq.PUSH) if own else shared
            if own:
                sock.connect("inproc://sink")
            name = f"t{k}".encode()
            for n in range(messages):
                sock.send(name, zmq.SNDMORE)
                time.sleep(0)                    # another thread may run here...
                sock.send(str(n).encode(), zmq.SNDMORE)
                time.sleep(0)                    # ...and here
                sock.send(name)
            if own:
                sock.close()

        workers = [threading.Thread(target=send, args=(k,)) for k in range(threads)]
        for thread in workers:
            thread.start()
        intact = mixed = 0
        deadline = time.monotonic() + seconds
        while intact + mixed < threads * messages and time.monotonic() < deadline:
            if sink.poll(100):
                frames = sink.recv_multipart()
                if len(frames) == 3 and frames[0] == frames[2]:
                    intact += 1
                else:
                    mixed += 1
            elif not any(thread.is_alive() for thread in workers):
                break
        for thread in workers:
            thread.join()
        sink.close()
        shared.close()
    return {"intact": intact, "mixed": mixed, "sent": threads * messages}


_CHILD = ("import json, resource, sys\n"
          "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))   # a crash leaves no core file\n"
          "from zguide_py.patterns.mtserver import senders\n"
          "print(json.dumps(senders(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))), flush=True)\n")


@dataclass
class Trial:
    """One run of :func:`senders` in a child process, and how it ended."""

    mode: str
    outcome: str           # "intact" | "mixed" (some messages mixed) | "crashed" | "hung"
    intact: int = 0
    mixed: int = 0
    sent: int = 0
    how: str = ""          # a crash: the signal, and the first line the dying process wrote
    seconds: float = 0.0

    @property
    def went_wrong(self) -> bool:
        return self.outcome != "intact"


def trials(modes: list[str], messages: int = 2000, threads: int = 2, timeout: float = 15.0) -> list[Trial]:
    """Run :func:`senders` once per entry of ``modes`` (``"owned"`` or ``"shared"``), each in a
    child process of its own, all at once; a child still running after ``timeout`` seconds is
    killed and reported as hung. Whatever happens in a child stays there."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    children = [(mode, subprocess.Popen([sys.executable, "-c", _CHILD, mode, str(messages), str(threads)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
                for mode in modes]
    results = []
    for mode, child in children:
        try:
            out, err = child.communicate(timeout=max(0.1, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            results.append(Trial(mode, "hung", how=f"still running after {timeout:g} s",
                                 seconds=time.monotonic() - started))
            continue
        seconds = time.monotonic() - started
        lines = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
        if child.returncode == 0 and lines:
            counts = json.loads(lines[-1])
            results.append(Trial(mode, "mixed" if counts["mixed"] else "intact", counts["intact"],
                                 counts["mixed"], counts["sent"], seconds=seconds))
            continue
        said = next((line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()), "")
        code = child.returncode
        name = _signal.Signals(-code).name if code < 0 and -code in _signal.Signals._value2member_map_ \
            else f"exit status {code}"
        results.append(Trial(mode, "crashed", how=f"{name}" + (f": {said[:120]}" if said else ""),
                             seconds=seconds))
    return results
