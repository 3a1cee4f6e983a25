# Source of notebooks/16_performance.ipynb - build with: python tools/nbbuild.py notebooks/src/16_performance.py
# %% [markdown]
# # 16 · Performance: throughput and latency from 1 B to 8 MB
#
# **The question:** how many messages a second can ZeroMQ move, how many bits is that, and how long
# does one message take, as messages grow from 1 byte to 8 megabytes? The talk this workbook grew from
# measured it in C# on Windows, over loopback and over 100 Mbit Ethernet. Here we measure the same
# sweep from Python, over the three transports, and put the talk's numbers beside ours.
#
# Two classic measurements, as in libzmq's `local_thr`/`remote_thr` and `local_lat`/`remote_lat`:
#
# ```mermaid
# flowchart LR
#     subgraph throughput
#     S["sender<br/>PUSH (connect)"] -- "N messages of size s, back to back" --> R["receiver<br/>PULL (bind)"]
#     end
#     subgraph latency
#     C["pinger<br/>REQ (connect)"] -- "ping / pong, one at a time" --> E["echo<br/>REP (bind)"]
#     end
# ```
#
# *Throughput* is messages per second (and megabits per second) of a stream; *latency* is half the
# mean round-trip time of a ping-pong. Numbers printed after a `~` are measurements: they differ on
# every machine and every run.

# %%
import platform

import zmq

from zguide_py import Lab, show_source
from zguide_py import perf
from zguide_py.plots import new_figure

lab = Lab("performance")

# %%
# NBVAL_IGNORE_OUTPUT
print(platform.python_implementation(), platform.python_version(), "| libzmq", zmq.zmq_version(),
      "| pyzmq", zmq.__version__, "|", platform.machine())

# %% [markdown]
# ## 1. The measuring code
#
# Plain pyzmq, sender and receiver in two threads of this process. Messages of 64 kB and more are
# sent and received **without copying** (`copy=False` on both sides): below that size copying is
# cheaper than zero-copy's bookkeeping. Each measurement first makes a short trial run, then sizes
# the real one to last about 0.1 s.

# %%
show_source(perf._throughput, perf._latency)

# %% [markdown]
# ## 2. The sweep
#
# Ten sizes from the talk's tables, three transports, throughput and latency each: 60 measurements.

# %%
rows = perf.sweep(seconds=0.1)
by = {(r["transport"], r["size"]): r for r in rows}
print(f"{len(rows)} rows of throughput + latency: {len(perf.SIZES)} sizes x 3 transports")
for transport in ("inproc", "ipc", "tcp"):
    small, big = by[(transport, 1)], by[(transport, 8 << 20)]
    print(f"{transport:>6}: 1 B ~{small['msgs_per_s']:,.0f} msg/s, ~{small['latency_us']:.0f} µs | "
          f"8 MB ~{big['msgs_per_s']:,.0f} msg/s, ~{big['mbit_per_s']:,.0f} Mbit/s, ~{big['latency_us']:,.0f} µs")

# %%
def sweep_figure(rows):
    fig = new_figure(11, 3.6)
    axes = fig.subplots(1, 3)
    styles = {"inproc": "tab:green", "ipc": "tab:orange", "tcp": "tab:blue"}
    for transport, colour in styles.items():
        rs = [r for r in rows if r["transport"] == transport]
        sizes = [r["size"] for r in rs]
        axes[0].plot(sizes, [r["msgs_per_s"] for r in rs], "o-", color=colour, label=f"{transport} (Python, here)")
        axes[1].plot(sizes, [r["mbit_per_s"] for r in rs], "o-", color=colour, label=f"{transport} (Python, here)")
        axes[2].plot(sizes, [r["latency_us"] for r in rs], "o-", color=colour, label=f"{transport} (Python, here)")
    for ax, local, remote in ((axes[0], perf.SEED_LOCALHOST_MSGS, perf.SEED_REMOTE_MSGS),
                              (axes[1], perf.SEED_LOCALHOST_MBIT, perf.SEED_REMOTE_MBIT),
                              (axes[2], perf.SEED_LOCALHOST_LATENCY_US, perf.SEED_REMOTE_LATENCY_US)):
        ax.plot(list(local), list(local.values()), "s--", color="gray", label="talk: localhost (C#)")
        ax.plot(list(remote), list(remote.values()), "^:", color="black", label="talk: 100 Mbit LAN (C#)")
        ax.set_xscale("log", base=2)
        ticks = [1, 64, 4 << 10, 256 << 10, 8 << 20]
        ax.set_xticks(ticks, [perf.human_size(t) for t in ticks])
        ax.set_yscale("log")
        ax.set_xlabel("message size (log scale)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("messages per second")
    axes[0].set_title("throughput: messages")
    axes[1].set_ylabel("megabits per second")
    axes[1].set_title("throughput: bits")
    axes[2].set_ylabel("one-way latency (µs)")
    axes[2].set_title("latency (half a round trip)")
    axes[2].legend(fontsize=7, loc="upper left")
    return fig

sweep_figure(rows)

# %% [markdown]
# ## 3. What the sweep shows
#
# The verdicts below are the shapes of the curves, which hold on any machine; the numbers themselves
# are shown with `~` and never compared.

# %%
verdicts = {
    "across the kernel (ipc, tcp), 1 B messages go at least 100x as often as 8 MB ones":
        all(by[(t, 1)]["msgs_per_s"] > 100 * by[(t, 8 << 20)]["msgs_per_s"] for t in ("ipc", "tcp")),
    "bits per second grow with size: 512 kB moves more Mbit/s than 1 B, on every transport":
        all(by[(t, 512 << 10)]["mbit_per_s"] > 100 * by[(t, 1)]["mbit_per_s"] for t in ("inproc", "ipc", "tcp")),
    "big messages take longer: 8 MB latency over tcp exceeds 1 B latency":
        by[("tcp", 8 << 20)]["latency_us"] > by[("tcp", 1)]["latency_us"],
    "tcp loopback moves more than the talk's 100 Mbit LAN could carry, from 4 kB up":
        all(by[("tcp", s)]["mbit_per_s"] > perf.SEED_REMOTE_MBIT[s] for s in perf.SIZES if s >= 4096),
}
for text, ok in verdicts.items():
    print(f"{text}: {ok}")
assert all(verdicts.values())

# %% [markdown]
# **Reading it.** Small messages are bound by the cost *per message*: in Python, a few hundred
# nanoseconds to a microsecond of interpreter work per `send` and `recv` on each side, which caps us
# near a million messages a second, a quarter of what the talk's compiled code reached on loopback.
# Big messages are bound by the cost *per byte*: copying through the kernel for ipc and tcp, so the
# megabits flatten out. Over `inproc` with zero-copy nothing is copied at all, only a pointer is
# handed over, so its "megabits" from 64 kB up measure hand-overs, not bytes moved. The talk's LAN
# curve is flat at ~95 Mbit/s from 64 B up: the wire, not ZeroMQ, was the limit.
#
# ## 4. Beating the per-message cost: pack records into frames
#
# If the per-message cost caps you, send fewer, bigger messages. Packing many small records into one
# frame costs one `send` for all of them. (`send_multipart` does not help: each frame costs about one
# send.) Here 8-byte records go over inproc, 1, 10, 100 and 1 000 to a frame.

# %%
batches = [perf.batched_records(records=400_000, per_frame=n) for n in (1, 10, 100, 1000)]
for b in batches:
    print(f"{b['per_frame']:>5} records per frame: ~{b['records_per_s']:,.0f} records/s (~{b['frames_per_s']:,.0f} frames/s)")
print("1 000 per frame carries at least 10x the records of 1 per frame:",
      batches[-1]["records_per_s"] > 10 * batches[0]["records_per_s"])
assert batches[-1]["records_per_s"] > 10 * batches[0]["records_per_s"]

# %%
fig = new_figure(6, 3.4)
ax = fig.add_subplot()
ax.plot([b["per_frame"] for b in batches], [b["records_per_s"] for b in batches], "o-", label="records/s")
ax.plot([b["per_frame"] for b in batches], [b["frames_per_s"] for b in batches], "s--", label="frames/s")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("8-byte records packed per frame (log scale)")
ax.set_ylabel("per second (log scale)")
ax.set_title("batching: records/s multiply, frames/s fall only slowly")
ax.grid(True, alpha=0.3)
ax.legend()
fig

# %% [markdown]
# ## 5. What the lab costs
#
# Every other notebook runs its roles inside the lab: killable, throttleable and counted. The
# benchmark (`make bench`) runs the same PUSH/PULL transfer bare and as two lab roles; on this
# machine the lab costs well under 10 %. Here are three short rounds of it (median):

# %%
import statistics
bare = statistics.median(perf.bare_pushpull(100_000) for _ in range(3))
inside = statistics.median(perf.lab_pushpull(100_000) for _ in range(3))
print(f"bare pyzmq: ~{bare:,.0f} msg/s | as lab roles: ~{inside:,.0f} msg/s | overhead ~{(bare - inside) / bare * 100:.0f} %")
show_source(perf.bench_receiver)

# %% [markdown]
# ## 6. Play with it
#
# A sender and a receiver as lab roles, streaming 64-byte messages over tcp. Throttle the receiver and
# watch the sender stall once the queues between them are full (the high-water marks, notebook 08);
# kill the receiver and the sender's rate drops to zero.

# %%
endpoint = lab.endpoint("stream", "tcp")
lab.start("receiver", perf.bench_receiver, endpoint=endpoint, messages=10**9)
lab.start("sender", perf.bench_sender, endpoint=endpoint, messages=10**9, size=64)
lab.wait_for(lambda: lab.peer("receiver").get("received") > 10_000, timeout=10, what="traffic")
panel = lab.panel(counters=["sent", "received"], max_throttle=0.01, title="a stream you can slow down")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %%
panel.rows["receiver"].throttle.value = 0.001        # 1 ms per message: at most ~1 000 msg/s
lab.wait_for(lambda: lab.peer("receiver").delay == 0.001, timeout=2)
before = lab.peer("sender").get("sent")
lab.wait_for(lambda: lab.sampler.series("sender", "sent", since=lab.now() - 0.3)[1]
             and max(lab.sampler.series("sender", "sent", since=lab.now() - 0.3)[1]) < 5_000,
             timeout=10, what="the sender to stall behind the slow receiver")
print("with the receiver throttled, the sender is held back to the receiver's pace: True")
panel.rows["receiver"].kill.click()
print("kill button ->", lab.peer("receiver").state, "| panel:", panel.last_message)
panel.rows["receiver"].throttle.value = 0.0
panel.rows["receiver"].restart.click()
lab.wait_for(lambda: lab.peer("receiver").get("received") > 0 and lab.peer("receiver").state == "running",
             timeout=5, what="the receiver back")
print("restart button ->", lab.peer("receiver").state)

# %% [markdown]
# ## 7. What you saw, and questions
#
# * Per-message cost rules small messages, per-byte cost rules big ones; the crossover is around a few
#   kilobytes.
# * Python reaches about a million small messages a second, a quarter of compiled code; packing records
#   into frames wins that back and more.
# * Over a real 100 Mbit network (the talk's "remote" curves) the wire is the limit from 64 B up.
#
# **Questions**
# 1. Why is tcp latency for 1 B messages tens of microseconds when inproc's is a few? What does tcp do
#    per message that inproc does not?
# 2. The talk's 1 B localhost rate was ~4 M msg/s but its 1 B *latency* was ~41 µs. How can both be
#    true? (Hint: how many messages are in flight at once in each test?)
# 3. At which size does zero-copy start to pay on this machine? Change `perf.ZERO_COPY_FROM` and re-run.
#
# **Exercise.** Guess the records/s with 10 000 records per frame, then run the check.

# %%
my_guess = None

# %%
result = perf.batched_records(records=400_000, per_frame=10_000)
print(f"~{result['records_per_s']:,.0f} records/s at 10 000 per frame | your guess: {my_guess}")

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
