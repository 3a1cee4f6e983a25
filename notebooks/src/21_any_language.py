# Source of notebooks/21_any_language.ipynb - build with: python tools/nbbuild.py notebooks/src/21_any_language.py
# %% [markdown]
# # 21 · Any code to any code: peers in C and JavaScript
#
# *Before this: [12 · Majordomo](12_majordomo.ipynb) and [17 · processes](17_processes.ipynb); next, [22 ·
# Threads that share nothing but messages](22_threads.ipynb). The guide:
# chapter 1, [Why We Needed ZeroMQ](https://zguide.zeromq.org/docs/chapter1/) ("any code to any code"), and
# chapter 4, [Service-Oriented Reliable Queuing](https://zguide.zeromq.org/docs/chapter4/)
# ([7/MDP](https://rfc.zeromq.org/spec/7/)). Words used
# here: [language binding](glossary.ipynb#Language-binding), [ZMTP](glossary.ipynb#ZMTP),
# [MMI](glossary.ipynb#MMI), [heartbeat](glossary.ipynb#Heartbeat) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** every peer so far was Python. ZeroMQ's claim is bigger: *connect any code to any code,
# anywhere*. A broker written in Python should serve a worker written in C and a client written in
# JavaScript, and neither should be able to tell. That works only if two things hold: the **wire** is the
# same (ZMTP, [23/ZMTP](https://rfc.zeromq.org/spec/23/), the protocol libzmq speaks on tcp), and the **messages** mean the same to both sides (here
# 7/MDP, the Majordomo protocol, which is written down so that any language can implement it).
#
# This notebook keeps our **Python Majordomo broker** in the lab, and adds two programs written for the
# workbook in other languages (in `peers/`, built by `make peers`):
#
# * `peers/c/mdworker.c`: a Majordomo **worker in C**, on libzmq directly;
# * `peers/js/mdclient.mjs`: a Majordomo **client in JavaScript** (Node.js), on the zeromq npm package,
#   with a Lazy Pirate retry.
#
# ```mermaid
# flowchart LR
#     subgraph X["child processes"]
#         direction TB
#         J["jsclient (JavaScript)<br/>REQ (connect)<br/>Lazy Pirate"]
#         C1["cworker1 (C)<br/>DEALER (connect)"]
#         C2["cworker2 (C)<br/>DEALER (connect)"]
#     end
#     subgraph K["Jupyter kernel (Python)"]
#         direction TB
#         P["pyclient<br/>REQ (connect)"]
#         B["broker<br/>ROUTER (bind, tcp)"]
#         W["pyworker<br/>DEALER (connect)"]
#     end
#     J -- "MDPC01 'echo'" --> B
#     P -- "MDPC01 'echo'" --> B
#     C1 -- "MDPW01 READY / REPLY / HEARTBEAT" --> B
#     C2 --> B
#     W --> B
# ```
#
# A number printed after a `~` is a measurement that changes from run to run; everything else a cell
# prints is the same on every run.

# %%
import os
import shutil
import subprocess
from collections import deque
from pathlib import Path

import zmq
from IPython.display import Markdown

import zguide_py
from zguide_py import Lab, Scenario, live_labs, procs, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import majordomo
from zguide_py.patterns.majordomo import worker_name
from zguide_py.peer import Killed
from zguide_py.plots import mark_events, new_figure
from zguide_py.widgets import Panel

ROOT = Path(zguide_py.__file__).resolve().parent.parent
MDWORKER = ROOT / "build" / "mdworker"
MDCLIENT = ROOT / "peers" / "js" / "mdclient.mjs"
HEARTBEAT, LIVENESS = 0.1, 3            # short, and the same on every side, in every language
print(f"heartbeat every {HEARTBEAT * 1000:g} ms, liveness {LIVENESS}, for the broker and every worker")

# %% [markdown]
# ## 1. The peers, built
#
# `make peers` compiles the C worker with `cc ... -lzmq` into `build/`, and installs the JavaScript
# client's one dependency, the `zeromq` package, into `peers/js/node_modules` at the version that
# `peers/js/package-lock.json` pins. Without a C compiler and libzmq's headers, or without Node.js,
# this cell says what is missing and the notebook stops here.

# %%
# NBVAL_PEERS
def build_peers() -> list[str]:
    """Run `make peers`; what is still missing after it (an empty list: all there)."""
    if shutil.which("make"):
        subprocess.run(["make", "-s", "--no-print-directory", "peers"], cwd=ROOT, capture_output=True,
                       timeout=600)
    missing = []
    if not MDWORKER.is_file():
        missing.append("the C worker (make peers needs cc and libzmq3-dev)")
    if not shutil.which("node") or not (ROOT / "peers" / "js" / "node_modules" / "zeromq").is_dir():
        missing.append("the JavaScript client (make peers needs nodejs and npm)")
    return missing


MISSING = build_peers()
if MISSING:
    raise SystemExit("missing: " + "; ".join(MISSING))
print("C worker:", MDWORKER.relative_to(ROOT), "| JavaScript client:", MDCLIENT.relative_to(ROOT))

# %% [markdown]
# ### What a binding is
#
# There is one ZeroMQ library, **libzmq**, written in C++ with a C interface. Every other language reaches
# it through a **binding**: a thin layer that turns its C calls into that language's idioms. **pyzmq** is
# the Python binding (its wheels carry a libzmq inside), **zeromq.js** the one for Node.js (its package
# carries a libzmq inside, as a native addon). The C worker needs no binding: it calls libzmq's C API
# itself, here Debian's libzmq. Three copies of libzmq, perhaps of three versions, one wire protocol:

# %%
# NBVAL_PEERS
def first_line(argv: list[str], cwd: Path = ROOT) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    return (result.stdout or result.stderr).strip().splitlines()[0]


js_libzmq = first_line(["node", "--input-type=module", "-e", "import {version} from 'zeromq'; console.log(version)"],
                       ROOT / "peers" / "js")
print(f"pyzmq ~{zmq.pyzmq_version()} on libzmq ~{zmq.zmq_version()} (Python)")
print(f"zeromq.js on libzmq ~{js_libzmq} (JavaScript); the C worker prints its own below")

# %% [markdown]
# ## 2. The code
#
# The C worker's heart, after it said `READY`: wait for a message with `zmq_poll` for one heartbeat
# interval, check it against 7/MDP, and turn a `REQUEST` into a `REPLY` **by changing one frame**, the
# command, and sending the same frames back (the worker's 7/MDP loop in Python, `majordomo.worker`, does
# the same in notebook 12):

# %%
def excerpt(path: Path, start: str, end: str, language: str) -> Markdown:
    """The lines of ``path`` from the one that contains ``start`` up to the one that contains ``end``."""
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if start in line)
    last = next(i for i, line in enumerate(lines) if i > first and end in line)
    return Markdown(f"`{path.relative_to(ROOT)}`, lines {first + 1}-{last + 1}:\n```{language}\n"
                    + "\n".join(lines[first:last + 1]) + "\n```")


excerpt(ROOT / "peers" / "c" / "mdworker.c", "while (!interrupted)", "the reply was our heartbeat", "c")

# %% [markdown]
# The JavaScript client's request, Lazy Pirate style: `await` the reply; when none comes within the
# timeout, `receive()` throws `EAGAIN`, and a REQ socket that sent and got nothing cannot send again, so
# it closes it and tries on a new one:

# %%
excerpt(MDCLIENT, "async function request", "return { reply: null", "javascript")

# %% [markdown]
# ## 3. A program in any language as a peer of the lab
#
# Notebook 17 ran **Python** roles as processes: the child was our own command line and sent JSON status
# lines. A C or JavaScript program knows nothing of the lab. What it has is what every program has: it
# prints lines. Our two peers print one line per event (`served n=17`, `retry n=7 try=2`,
# `broker-lost`...), and this role turns each line into a counter (its first word) and an event, so the
# panel, the plots and the verdict see them like any peer's. `lab.kill` is a real `SIGKILL`.

# %%
def heard(peer, line: str) -> None:
    """One line a program printed: its first word is a counter, the rest are fields (``n=17``)."""
    kind, *rest = line.split()
    fields = dict(item.split("=", 1) for item in rest if "=" in item)
    peer.count(kind)
    peer.data["lines"].append(line)
    if kind == "reply":                          # the client's requests, by number: none twice
        peer.data["answered"].append(int(fields["n"]))
    elif kind == "done":
        peer.data["done"] = {key: int(value) for key, value in fields.items()}
    elif kind == "mmi":
        peer.data["mmi"][fields["service"]] = fields["answer"]
    if kind not in ("served", "reply"):          # thousands of those: counted, not logged
        peer.log(kind, **fields)


def program(peer, argv: list[str]):
    """A peer that is a program in any language, run as a child process; its output lines are
    counters and events (``heard``). A kill is a SIGKILL; the lab's close a SIGTERM."""
    proc = procs.spawn([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
    peer.data.update(pid=proc.pid, exit=None, lines=deque(maxlen=20), answered=[], mmi={})
    peer.data.setdefault("pids", []).append(proc.pid)
    os.set_blocking(proc.stdout.fileno(), False)
    buffer, killed = b"", False
    try:
        while peer.sleep(0.02):                  # a kill raises Killed here
            ended = proc.poll() is not None
            buffer += proc.stdout.read() or b""
            *lines, buffer = buffer.split(b"\n")
            for line in filter(None, (raw.decode(errors="replace").strip() for raw in lines)):
                heard(peer, line)
            if ended:
                break
        peer.sleep(0)                            # a kill that came just as a wait ended: Killed here
    except Killed:
        killed = True
        raise
    finally:
        status = procs.reap(proc, None if killed else procs.GRACE)
        peer.data["exit"] = procs.signal_name(status)
        peer.data.setdefault("exits", []).append(peer.data["exit"])
    if status not in (0, None) and peer.running:
        raise procs.ProcessFailed(f"{Path(str(argv[0])).name} ended with {peer.data['exit']}: "
                                  + " | ".join(peer.data["lines"]))


def c_worker(endpoint: str, service: str = "echo", **params) -> list:
    params = {"heartbeat": HEARTBEAT, "liveness": LIVENESS, "reconnect": HEARTBEAT, **params}
    return [MDWORKER, endpoint, service, *(f"{k}={v}" for k, v in params.items())]


def js_client(endpoint: str, *args: str) -> list:
    return ["node", MDCLIENT, endpoint, *args]

# %% [markdown]
# ## 4. The same bytes on the wire
#
# ZeroMQ carries **frames**: it delivers each multipart message whole, and it knows nothing of what the
# frames mean. To see what each language sends we put a bare ROUTER socket where the broker would be,
# and let a C worker and a Python worker, then a JavaScript client and a Python client, talk to it. We
# send each worker the same `REQUEST` and look at its `REPLY`.

# %%
# NBVAL_PEERS
wire = Lab("any_language_wire")
fake = wire.socket(zmq.ROUTER)                  # plays the broker: we see every frame
fake_endpoint = f"tcp://127.0.0.1:{fake.bind_to_random_port('tcp://127.0.0.1')}"


def next_message(timeout: float = 30) -> list[bytes]:
    """The next message the fake broker gets, heartbeats left out."""
    while fake.poll(int(timeout * 1000)):
        frames = fake.recv_multipart()
        if frames[2:4] != [majordomo.MDPW, majordomo.HEARTBEAT]:
            return frames
    raise TimeoutError(f"nothing within {timeout} s")


seen = {}
for name, language, role, params in (
        ("cworker", "C", program, {"argv": c_worker(fake_endpoint, "upper", heartbeat=1, liveness=30, name="cworker")}),
        ("pyworker", "Python", majordomo.worker, {"broker": fake_endpoint, "service": "upper", "heartbeat": 1,
                                                 "liveness": 30})):
    wire.start(name, role, **params)
    identity, *ready = next_message()
    fake.send_multipart([identity, b"", majordomo.MDPW, majordomo.REQUEST, b"client1", b"", b"hello, wire"])
    reply_from, *reply = next_message()
    seen[f"{language} worker"] = {"READY": ready, "REPLY": reply}
    print(f"{language:>10} worker ({worker_name(identity)}) READY: {ready}")
    print(f"{'':>17} REPLY: {reply}")
same = verdict(seen["C worker"] == seen["Python worker"], "READY and REPLY were identical from C and from Python.")

# %%
# NBVAL_PEERS
for name, language, role, params in (
        ("jsclient", "JavaScript", program, {"argv": js_client(fake_endpoint, "upper", "requests=1", "timeout=10", "retries=1")}),
        ("pyclient", "Python", majordomo.client, {"broker": fake_endpoint, "service": "upper", "requests": 1,
                                                 "timeout": 10})):
    wire.start(name, role, **params)
    identity, *request = next_message()
    fake.send_multipart([identity, b"", majordomo.MDPC, b"upper", request[-1].upper()])
    seen[f"{language} client"] = request
    print(f"{language:>10} client ({worker_name(identity)}) request: {request}")
    wire.wait_done(name, timeout=30)
verdict(seen["JavaScript client"] == seen["Python client"], "The requests were identical from JavaScript and from Python.")
print("the JavaScript client took the reply:", wire.peer("jsclient").data["done"])
assert seen["C worker"] == seen["Python worker"] and seen["JavaScript client"] == seen["Python client"]
wire.close()

# %% [markdown]
# Byte for byte the same, in three languages: the empty delimiter, the protocol header `MDPW01` or
# `MDPC01`, the command, the service name, the body. Only the **routing identity** differs: the ROUTER
# puts it in front of each message, and each peer chose its own (`name.pid.connection`).
#
# That is what **interoperable messages** means, and what it does not mean:
#
# * ZeroMQ guarantees the **frames**: every language gets the same bytes, in the same frames, whole or
#   not at all. Sockets of every binding speak to each other (a zeromq.js REQ to a pyzmq ROUTER here).
# * ZeroMQ knows nothing of **what the frames mean**. That the second frame is `MDPW01`, that `0x02` is
#   a request, that a body is text: this is a **protocol on top**, 7/MDP, which both sides must agree
#   on. A C worker speaking another version of MDP, or putting the service in the wrong frame, would
#   connect fine and be refused by the broker as malformed (`tests/test_peers.py` sends the C worker
#   such frames: it counts them and carries on).
# * Neither does ZeroMQ settle the **encoding** of a body (text, JSON, protobuf, msgpack...): the
#   protocol must say that too. Ours are ASCII strings, which C, Python and JavaScript agree on.

# %% [markdown]
# ## 5. A scripted run: a C worker killed mid-stream
#
# The Python broker and a Python worker are threads of this kernel; two C workers and a JavaScript client
# are processes; a Python client is a thread. Every worker takes ~10 ms per request (the C workers'
# `delay=0.01`, the Python worker's throttle), so that a worker is busy most of the time. Both clients
# send 250 requests, one at a time, with a timeout of 0.25 s (less than the 0.3 s in which the broker
# purges a silent worker), then retry on a new socket.
#
# * once the JavaScript client has 60 replies, the lab **kills cworker1**: a real `SIGKILL`;
# * once it has 150, the lab **restarts** it: a new process, with a new pid.

# %%
# NBVAL_PEERS
lab = Lab("any_language")
endpoint = lab.endpoint("broker", "tcp")
lab.start("broker", majordomo.broker, endpoint=endpoint, heartbeat=HEARTBEAT, liveness=LIVENESS)
broker = lab.peer("broker")
for name in ("cworker1", "cworker2"):
    lab.start(name, program, argv=c_worker(endpoint, delay=0.01, name=name))
lab.start("pyworker", majordomo.worker, throttle=0.01, broker=endpoint, heartbeat=HEARTBEAT, liveness=LIVENESS)
WORKERS, CLIENTS = ["cworker1", "cworker2", "pyworker"], ["jsclient", "pyclient"]
lab.wait_for(lambda: sorted(worker_name(w) for w in broker.data["workers"]) == sorted(WORKERS), timeout=30,
             what="three workers READY at the broker")
print("workers at the broker:", sorted(worker_name(w) for w in broker.data["workers"]))
hello = lab.wait_for(lambda: [e for e in lab.events_of("start", "cworker1") if e.get("libzmq")], timeout=10,
                     what="the C worker's first line")[0]          # "start libzmq=4.3.4 pid=..."
print(f"the C worker's libzmq (Debian's): ~{hello.get('libzmq')}")
same = verdict(hello.get("pid") == str(lab.peer("cworker1").data["pid"]), "The pid it printed is the child's.")

# %%
# NBVAL_PEERS
REQUESTS = 250
chaos = Scenario("a C worker dies", seed=21)
chaos.at(0, "start", "jsclient", program,
         argv=js_client(endpoint, "echo", f"requests={REQUESTS}", "timeout=0.25", "retries=20", "name=jsclient"))
chaos.at(0, "start", "pyclient", majordomo.client, broker=endpoint, requests=REQUESTS, timeout=0.25, retries=20)
chaos.after(60, "jsclient", "reply", "kill", "cworker1")
chaos.after(150, "jsclient", "reply", "restart", "cworker1")
print(chaos.describe())


def finished() -> bool:
    return (not any(lab.peer(n).alive for n in CLIENTS)
            and "cworker1" in {worker_name(w) for w in broker.data["workers"]})


report = lab.run(chaos, seconds=40, until=finished)
print(f"the run took ~{report.duration:.1f} s")
same = verdict([e.kind for e in report.events if e.peer == "cworker1" and e.kind in ("kill", "restart")] == ["kill", "restart"],
               "cworker1 was killed, then restarted.")

# %% [markdown]
# ## 6. The verdict: every request answered exactly once, per language

# %%
# NBVAL_PEERS
js, py = lab.peer("jsclient"), lab.peer("pyclient")
js_once = sorted(js.data["answered"]) == list(range(REQUESTS))
py_once = [request for request, _reply in py.data["replies"]] == [f"echo {n}" for n in range(REQUESTS)]
print(f"JavaScript client: {js.data['done']}")
verdict(js_once, "The JavaScript client had every request answered exactly once.")
print(f"Python client: replies {py.get('replies')}, failed {len(py.data['failed'])}, mismatched {py.get('mismatched')}")
verdict(py_once, "The Python client had every request answered exactly once.")
removed = [e for e in report.events_of("worker removed", "broker") if worker_name(e.get("worker")) == "cworker1"]
killed_at = report.events_of("kill", "cworker1")[0].t
print("cworker1's first process ended by:", lab.peer("cworker1").data["exits"])
verdict([e.get("why") for e in removed] == ["silent"],
        f"The broker purged it as 'silent', ~{removed[0].t - killed_at:.2f} s after the kill.")
print(f"requests the broker gave to another worker: ~{broker.get('requeued')}, "
      f"retries: JavaScript ~{js.get('retry')}, Python ~{py.get('retries')}")
served = {"C": lab.peer("cworker1").get("served") + lab.peer("cworker2").get("served"),
          "Python": lab.peer("pyworker").get("requests")}
print(f"requests served by the C workers ~{served['C']}, by the Python worker ~{served['Python']}")
verdict(not procs.pid_alive(lab.peer("cworker1").data["pids"][0]), "The old cworker1 process is gone.")
assert js_once and py_once and js.data["done"] == {"replies": REQUESTS, "failed": 0, "mismatched": 0}
assert [e.get("why") for e in removed] == ["silent"] and lab.peer("cworker1").data["exits"] == ["SIGKILL"]
assert not report.errors

# %% [markdown]
# The C worker died without a word, mid-stream. The broker noticed the silence after three heartbeat
# intervals and purged it; the request it held went back to the front of the queue for another worker
# (this workbook's broker does that, as notebook 12 says; the guide's `mdbroker` drops it and leaves it
# to the client's retry). Meanwhile both clients had given up waiting after 0.25 s and sent that request again on a new socket;
# the late answer to the old socket went nowhere (a ROUTER drops a message for an identity that is
# gone), so nothing was answered twice. The broker never knew which worker was C and which Python, nor
# the client's language: only frames.

# %%
# NBVAL_PEERS
fig = new_figure(9, 5.2)
top, bottom = fig.subplots(2, 1, sharex=True)
for name, counter, language in (("jsclient", "reply", "JavaScript"), ("pyclient", "replies", "Python")):
    times, values = lab.sampler.values(name, counter, since=report.start)
    top.step([t - report.start for t in times], values, where="post", linewidth=1.5, label=f"{name} ({language})")
for name, counter, language in (("cworker1", "served", "C"), ("cworker2", "served", "C"),
                                ("pyworker", "requests", "Python")):
    times, values = lab.sampler.values(name, counter, since=report.start)
    bottom.step([t - report.start for t in times], [v - values[0] for v in values], where="post",
                linewidth=1.5, linestyle="--" if language == "Python" else "-", label=f"{name} ({language})")
retries = [e.t for e in report.events_of("retry")]           # report times: since the run started
for ax in (top, bottom):
    mark_events(ax, [e for e in report.events if e[2] in WORKERS], kinds=("kill", "restart"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_ylim(0, max(ax.get_ylim()[1], 1) * 1.3)
top.plot(retries, [0] * len(retries), "|", color="black",
         markersize=18, markeredgewidth=2, label="a retry (either client)")
top.set_title("Majordomo in three languages: a C worker killed with SIGKILL, then restarted")
top.set_ylabel("replies received\n(cumulative)")
bottom.set_ylabel("requests served\n(cumulative)")
bottom.set_xlabel("time since start of run (s)")
bottom.set_xlim(0, report.duration)
top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
fig

# %% [markdown]
# Top: the replies each client received; the black ticks at the bottom are retries. Bottom: the requests
# each worker served. When cworker1 (C) flattens at the red line, cworker2 (C) and pyworker (Python) grow
# steeper: its share went to the others, whatever their language. After the green line a new cworker1
# process says `READY` and takes its share again.

# %% [markdown]
# ## 7. MMI from JavaScript
#
# The broker also answers the management interface [8/MMI](https://rfc.zeromq.org/spec/8/) itself: `mmi.service` says `200` when a worker
# offers the service and `404` when none does. The JavaScript client asks, and a C worker for `reverse`
# comes and goes:

# %%
# NBVAL_PEERS
def mmi(name: str, services: str) -> dict:
    lab.start(name, program, argv=js_client(endpoint, f"mmi={services}", "timeout=2", f"name={name}"))
    return lab.wait_done(name, timeout=30).data["mmi"]


print("JavaScript asks:", mmi("jsmmi1", "echo,reverse,mmi.nope"))
lab.start("creverse", program, argv=c_worker(endpoint, "reverse", name="creverse"))
lab.wait_for(lambda: "creverse" in {worker_name(w) for w in broker.data["workers"]}, timeout=30,
             what="the reverse worker at the broker")
print("after a C worker for 'reverse' said READY:", mmi("jsmmi2", "reverse"))
lab.kill("creverse")
lab.wait_for(lambda: "creverse" not in {worker_name(w) for w in broker.data["workers"]}, timeout=10,
             what="the reverse worker purged")
print("after it was killed and purged:", mmi("jsmmi3", "reverse"))

# %% [markdown]
# ## 8. Play with it
#
# A lab of its own for you: the Python broker and worker, two C workers, and a JavaScript client that
# never stops (`requests=0`, one request every 20 ms). **kill** sends a C worker's process `SIGKILL`,
# **restart** starts a new one. (The throttle slider reaches only the Python peers: the C and JavaScript
# programs read no commands.) The broker's row lists each service with its workers and its queue. This
# lab stays open after the notebook ends (`play.close()` stops its programs); re-running the cell starts
# it afresh.

# %%
def playground(name):
    """The Python broker and worker, two C workers and a JavaScript client that never stops, under a panel."""
    play = Lab(name)
    endpoint = play.endpoint("broker", "tcp")
    play.start("broker", majordomo.broker, endpoint=endpoint, heartbeat=HEARTBEAT, liveness=LIVENESS)
    for worker in ("cworker1", "cworker2"):
        play.start(worker, program, argv=c_worker(endpoint, delay=0.01, name=worker))
    play.start("pyworker", majordomo.worker, throttle=0.01, broker=endpoint, heartbeat=HEARTBEAT, liveness=LIVENESS)
    play.start("jsclient", program, argv=js_client(endpoint, "echo", "requests=0", "interval=0.02", "timeout=0.25",
                                                   "retries=1000", "name=jsclient"))
    return play, Panel(play, counters=["served", "requests", "reply", "retry"], max_throttle=0.1,
                       title="Majordomo in Python, C and JavaScript: kill = SIGKILL for a program")


# %%
# NBVAL_PEERS
play, panel = playground("any_language-play")

# %%
# NBVAL_PEERS
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried those buttons for you on a twin of this lab, so your panel is fresh (the code
# is folded). What it saw: a kill ended a C worker's process and the broker purged it; a restart
# brought a new process, with a new pid, back to the broker; the JavaScript client went on, and no reply
# answered the wrong request.

# %%
# NBVAL_PEERS
# FOLDED
rehearsal, twin = playground("any_language-rehearsal")
its_broker, its_client, c2 = (rehearsal.peer(n) for n in ("broker", "jsclient", "cworker2"))
at_broker = lambda: {worker_name(w) for w in its_broker.data["workers"]}
rehearsal.wait_for(lambda: its_client.get("reply") >= 10, timeout=30, what="10 replies")
old = c2.data["pid"]
twin.rows["cworker2"].kill.click()
rehearsal.wait_for(lambda: "cworker2" not in at_broker(), timeout=10, what="cworker2 purged")
verdict(not procs.pid_alive(old), f"The kill ended cworker2's process ({c2.data['exit']}), and the broker purged it.")
twin.rows["cworker2"].restart.click()
rehearsal.wait_for(lambda: "cworker2" in at_broker(), timeout=30, what="a new cworker2 at the broker")
verdict(c2.data["pid"] != old, "The restart started a new C process, with a new pid, READY at the broker.")
replies = its_client.get("reply")
rehearsal.wait_for(lambda: its_client.get("reply") >= replies + 10, timeout=30, what="10 more replies")
verdict(its_client.get("mismatched") == 0, "The JavaScript client went on, and no reply answered the wrong request.")
assert its_client.get("mismatched") == 0 and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 9. What you saw, and questions
#
# * A C worker, a JavaScript client and Python peers took part in one Majordomo service through one
#   Python broker. The frames each language sent were the same bytes.
# * The languages agree because two layers are written down: **ZMTP** (how libzmq frames bytes on tcp,
#   the same in every binding) and **7/MDP** (what the frames mean). ZeroMQ gives the first; the second is
#   the protocol you choose, and every side must implement it.
# * A C worker killed with `SIGKILL` was purged by its silence, and its work went to the others. The
#   JavaScript client's Lazy Pirate retry is the same idea as the Python one of notebook 9, in 30 lines of
#   `async`/`await`.
#
# **Questions**
#
# 1. The C worker changes a `REQUEST` into a `REPLY` by replacing one frame and sending the same frames
#    back. Why can it send back the client's address without understanding it?
#
# <details><summary>Answer</summary>
#
# The address is an opaque frame that the broker's ROUTER put there (the client's routing identity).
# The worker only has to return it unchanged; the broker's ROUTER uses it to route the reply. That is
# why 7/MDP can be implemented in any language: nothing in it needs more than bytes and frames.
# </details>
#
# 2. The JavaScript client and the Python client run in different event models (a Node.js event loop
#    with `await`, a Python thread polling). Does the broker see any difference?
#
# <details><summary>Answer</summary>
#
# No. Each is a REQ socket sending `MDPC01`, a service and a body, and waiting for the reply. How a
# program waits (a thread, an event loop, a callback) stays inside it; only the frames cross.
# </details>
#
# 3. Suppose the C worker sent the body as a UTF-16 string and the Python client expected UTF-8. Would
#    ZeroMQ notice?
#
# <details><summary>Answer</summary>
#
# No: ZeroMQ delivers the frames whole and never looks inside. The client would get a reply that does
# not match its request (ours count it as `mismatched`). The encoding of the body belongs to the
# protocol on top, and must be written down there.
# </details>

# %% [markdown]
# **Exercise.** Every worker here heartbeats every 0.1 s, as the broker expects. Predict what happens to
# a C worker started with `heartbeat=2.5` (the spec's default), offering a service that nobody calls,
# against this broker, which purges a worker it has not heard for 3 × 0.1 s:
#
# * **a** — nothing special: it is served like the others, just with fewer heartbeats;
# * **b** — it is purged, comes back, is purged again: it flaps in and out;
# * **c** — the broker refuses its `READY`, and it never joins.
#
# Put the letter in `my_guess`, run that cell, then the check. The folded cell between them starts such
# a worker for about three seconds and watches the broker and the worker's own lines. (You can also try
# it in a terminal: `build/mdworker tcp://127.0.0.1:PORT reverse heartbeat=2.5`, with the broker's port.)

# %%
# NBVAL_PEERS
my_guess = None      # "a", "b" or "c"

# %%
# NBVAL_PEERS
# FOLDED
before = sum(1 for e in broker.data["removed"] if worker_name(e[0]) == "cslow")
lab.start("cslow", program, argv=c_worker(endpoint, "reverse", heartbeat=2.5, name="cslow"))
lab.wait_for(lambda: lab.peer("cslow").get("ready") >= 2, timeout=15, what="the slow worker's second READY")
purges = sum(1 for e in broker.data["removed"] if worker_name(e[0]) == "cslow") - before
lab.kill("cslow")
answer = "b" if purges >= 1 and lab.peer("cslow").get("ready") >= 2 else "a" if purges == 0 else "c"
assert answer == "b", (purges, list(lab.peer("cslow").data["lines"]))

# %%
# NBVAL_PEERS
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **b**, it flaps. Idle, the worker says nothing for 2.5 s; after 0.3 s of silence the broker purges it.
# Its next heartbeat reaches a broker that no longer knows it, which answers `DISCONNECT`; the worker
# reconnects and says `READY` again, and the cycle starts over, about once every 2.5 s. Were it busy, its
# replies would count as signs of life and hide the problem until the first quiet moment. Heartbeat
# settings are part of the agreement between the two sides, like the protocol itself.
# </details>

# %% [markdown]
# ## Teardown
#
# Closing the lab stops every program (SIGTERM, then SIGKILL after a short grace) and waits for it; the
# C worker says `DISCONNECT` and exits with status 0.

# %%
# NBVAL_PEERS
pids = [pid for peer in lab.peers.values() for pid in peer.data.get("pids", [])]
lab.close()
print("threads left:", len(lab.threads()), "| child processes left:", sum(procs.pid_alive(p) for p in pids))
print("the C workers ended with:", [lab.peer(n).data["exit"] for n in ("cworker1", "cworker2")],
      "(SIGTERM: they said DISCONNECT and exited cleanly)")
assert not lab.threads() and not any(procs.pid_alive(p) for p in pids)
assert [lab.peer(n).data["exit"] for n in ("cworker1", "cworker2")] == ["exit 0", "exit 0"]
yours = {pid for peer in play.peers.values() for pid in peer.data.get("pids", [])}
assert set(procs.live_pids()) <= yours                 # no program left but your playground's
print("labs still open:", live_labs(), "(your playground: play.close() ends it and its programs)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [22 · Threads that share nothing but messages](22_threads.ipynb).
