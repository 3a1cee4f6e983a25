# Source of notebooks/16_performance.ipynb - build with: python tools/nbbuild.py notebooks/src/16_performance.py
# %% [markdown]
# # 16 · Performance: throughput and latency from 1 B to 8 MB
#
# *Where this sits: before this, [00 · Basics](00_basics.ipynb); next, [17 · Peers as
# processes](17_processes.ipynb); in the guide, chapter 2, [Unicast
# Transports](https://zguide.zeromq.org/docs/chapter2/). Words used here:
# [transports](glossary.ipynb#Transports), [frame](glossary.ipynb#Frame), [HWM](glossary.ipynb#HWM) (all
# in the [glossary](glossary.ipynb)).*
#
# **The question:** how many messages a second can ZeroMQ move, how many bits is that, and how long
# does one message take, as messages grow from 1 byte to 8 megabytes? The talk this workbook grew from,
# *Building distributed systems with ZeroMQ* (Vladimir Smida, 12 August 2014), answered it in C# on
# Windows, over loopback and over 100 Mbit Ethernet. Here we ask the same
# question of Python on this machine, over the three transports, with and without copying, and we
# put two things beside our numbers: the talk's own tables, and a small C program that runs the very
# same loops on the very same library.
#
# Two classic measurements, as libzmq's own `local_thr`/`remote_thr` and `local_lat`/`remote_lat`
# tools make them. Over `ipc` and `tcp` the two sides are **two processes**: this notebook's kernel
# measures, and a child process (`python -m zguide_py.perf peer`) plays the other side.
#
# ```mermaid
# flowchart LR
#     S["sender (child process)<br/>PUSH (connect)"] -- "throughput: N messages of s bytes, back to back" --> R["receiver (this kernel, measures)<br/>PULL (bind)"]
#     P["pinger (this kernel, measures)<br/>REQ (connect)"] -- "latency: ping, pong, one message in flight" --> E["echo (child process)<br/>REP (bind)"]
# ```
#
# * **Throughput** is counted at the receiver: its clock starts when the first message arrives and
#   stops at the last, so connecting and queueing can't flatter it. Result: messages/s, and
#   megabits/s (messages/s × size × 8).
# * **Latency** is the round trip of a ping-pong divided by two: one warm-up round trip, then N timed.
#
# Over `inproc` (in-process: two threads of one process exchange pointers, no kernel involved) the other
# side is a thread of this kernel instead. **Zero-copy** means pyzmq hands libzmq our buffer instead of
# copying the bytes; section 1 shows how it is asked for.
#
# Numbers printed after a `~` are measurements: they differ on every machine and every run.

# %%
import os
import platform

import zmq

from zguide_py import Lab, live_labs, show_source, verdict
from zguide_py.exercise import grade
from zguide_py import perf
from zguide_py.widgets import Panel

# %%
# NBVAL_IGNORE_OUTPUT
c_exe, c_reason = perf.c_baseline_status()          # builds tools/perf_c/zperf.c once, into build/perf_c/
print(platform.python_implementation(), platform.python_version(), "| pyzmq", zmq.__version__,
      "| libzmq", zmq.zmq_version(), "|", platform.machine(), "|", os.cpu_count(), "CPUs")
print("C baseline:", f"built ({c_exe.name}, system libzmq)" if c_exe else f"skipped: {c_reason}")

# %% [markdown]
# ## 1. The measuring loops
#
# Four plain pyzmq loops, all of `zguide_py/perf/loops.py`. The same functions run in a thread
# (inproc), in the child process, and here.
# `copy=False` asks pyzmq not to copy the bytes: the message points at our buffer on the way out, and
# we get a `zmq.Frame` (no new `bytes` object) on the way in.

# %%
show_source(perf.recv_stream, perf.send_stream, perf.echo, perf.ping)

# %% [markdown]
# One zero-copy message, by hand, on two sockets of this notebook's own lab (its own context): a 1 MB
# `bytearray` sent with `copy=False` and received with `copy=False`. (Use `copy=False` on both sides
# over inproc: a zero-copy send read by a plain `recv()` can hang there.)

# %%
lab = Lab("performance")                      # the notebook's own context, closed in the teardown
endpoint = lab.endpoint("frames")             # inproc: two sockets of this one process
pull, push = lab.socket(zmq.PULL), lab.socket(zmq.PUSH)
pull.bind(endpoint)
push.connect(endpoint)
buffer = bytearray(1 << 20)                   # 1 MB, above zmq.COPY_THRESHOLD: really not copied
push.send(buffer, copy=False)
frame = pull.recv(copy=False)
print(f"received a {type(frame).__name__} of {len(frame):,} bytes: memoryview(frame) reads it where it is,"
      " frame.bytes would copy it into a new bytes object")

# %% [markdown]
# The **C baseline** is `tools/perf_c/zperf.c`, a small program of this project built against the
# system's libzmq. It runs the same loops in two processes (two threads for inproc), with the same
# counting rules; its zero-copy mode hands libzmq a pointer to one prefilled buffer, its copy mode copies
# in and out, like pyzmq's `copy=True`. Here is its receiving side:

# %%
from IPython.display import Code
c_text = perf.C_SOURCE.read_text()
Code(c_text[c_text.index("static void *thr_recv"):c_text.index("static void *thr_send")], language="c")

# %% [markdown]
# ## 2. A quick sweep
#
# Ten sizes from the talk's tables, three transports, copying and zero-copy sends, throughput and
# latency: 120 Python measurements, plus the C baseline beside tcp. Each measurement sizes its message
# count with a few short trial runs so that it lasts about 0.03 s, whatever the size. The bar shows how
# far the sweep has got. (`make bench` runs the careful version: ~0.25 s per measurement, C beside every
# transport.)

# %%
# NBVAL_IGNORE_OUTPUT
result = perf.quick_sweep()

# %%
rows, took = result["rows"], sum(result["elapsed_s"].values())
by = {(r["transport"], r["size"], r["mode"]): r for r in rows}
print(f"{len(rows)} rows: {len(perf.SIZES)} sizes x {len(perf.MODES)} modes x {len(result['elapsed_s'])} transports,"
      f" in ~{took:.1f} s")
for transport in perf.TRANSPORTS:
    small, big = by[(transport, 1, "copy")], by[(transport, 8 << 20, "zero-copy")]
    print(f"{transport:>6}: 1 B ~{small['msgs_per_s']:,.0f} msg/s, ~{small['latency_us']:.0f} µs | "
          f"8 MB zero-copy ~{big['msgs_per_s']:,.0f} msg/s, ~{big['latency_us']:,.0f} µs")

# %% [markdown]
# That sweep has 60 rows of numbers (120 with its latencies), too many to read here, and each point
# lasts a few hundredths of a second, so single rows are noisy. The figures below show them all; section
# 5 compares Python with C carefully at five sizes. To read every row, Python beside C and tcp beside the
# talk's tables, print it here with `print(perf.sweep_table(result))`, or in a terminal run
# `python -m zguide_py perf` (add `--json perf.json` to keep it) or `make bench`, the careful version.

# %% [markdown]
# ## 3. Beside the talk
#
# tcp over loopback, our Python and our C, and the talk's two machines (Vladimir Smida's *Building
# distributed systems with ZeroMQ*, 2014): its localhost run and its 100 Mbit LAN run. Both axes are
# logarithmic: on the vertical axis each labelled line is ten times the one below it; along the size
# axis each label is 64 times the one before (32 times for the last).

# %%
perf.talk_figure(result)

# %% [markdown]
# **Reading it.** Two costs shape every curve:
#
# * **A cost per message.** Each `send` and `recv` is a little work that does not depend on the size:
#   a call into libzmq, some bookkeeping, in Python a few hundred nanoseconds of interpreter on each side.
#   For small messages it is all there is, so the message rate is flat from 1 B to about 512 B, and
#   the megabits climb in step with the size.
# * **A cost per byte.** Copying the bytes: into the kernel and out again for ipc and tcp, and into and
#   out of Python objects when we copy. From a few kB up it dominates, so megabits flatten out at the
#   speed of memory copies, and the message rate falls as the size grows.
#
# The talk's LAN curve shows a third limit: the wire. From 64 B up it is pinned near the cable's
# 100 Mbit/s (91 to 104 in the talk's table), and latency grows with the time the bytes spend on the
# cable. On loopback there is no wire, so from about 64 B up our curves and the talk's localhost one
# sit far above it. For the very smallest messages the wire is not yet the limit, the cost per message
# is: at 1 B the talk's C# over the LAN can move more messages a second than our Python over loopback
# (compare the first points of the left panel).
#
# ## 4. Three transports, copying or not
#
# Colour is the transport, the line style is copy (solid) against zero-copy (dashed).

# %%
perf.transports_figure(result)

# %% [markdown]
# **Where zero-copy starts to pay.** A zero-copy send saves a `memcpy`, but it costs bookkeeping: pyzmq
# must keep our buffer alive until libzmq is done with it, and tell a garbage-collector thread when it
# may let go. For small messages that bookkeeping costs more than the copy it saves, which is why pyzmq
# quietly copies anything under `zmq.COPY_THRESHOLD` (64 kB) even when you pass `copy=False`, and over
# ipc and tcp the dashed curves sit *below* the solid ones at small sizes (a `Frame` object per receive
# still costs). For big messages the copies dominate and zero-copy wins, clearest in the latency panel
# from a few hundred kB up. (inproc's small-message points are noisy: two threads share two busy cores.)
#
# **inproc with zero-copy** is a special case: no bytes move at all, one thread hands the other a
# pointer, so its "megabits per second" grow with the size without limit. They measure hand-overs.
#
# **Two threads or two processes?** Over inproc the two sides are two threads of this one Python
# process, and the threads of a process share one interpreter lock (the GIL): while the sender runs
# Python code the receiver cannot, so the two sides take turns. Over ipc and tcp the sender is a
# separate process with a lock of its own, and the two sides *can* run at once, if the machine has a
# free core for each. Whether that wins is a matter of measurement: the last line below compares the
# small-message rates of inproc (two threads) with the best of ipc and tcp (two processes). On this
# two-core machine that ratio has come out anywhere from about 1x to 3x from one run to the next,
# because the transport differs too; section 6 changes only where the sender runs.
#
# The verdicts below are the shapes of the curves, which hold on any machine; the numbers themselves
# are shown with `~` and never compared.

# %%
tcp_ipc = ("ipc", "tcp")
verdicts = {
    "1 B messages went at least 100 times as often as 8 MB ones (ipc, tcp).":
        all(by[(t, 1, m)]["msgs_per_s"] > 100 * by[(t, 8 << 20, m)]["msgs_per_s"] for t in tcp_ipc for m in perf.MODES),
    "512 kB messages moved at least 100 times the megabits of 1 B ones (every transport).":
        all(by[(t, 512 << 10, "copy")]["mbit_per_s"] > 100 * by[(t, 1, "copy")]["mbit_per_s"] for t in perf.TRANSPORTS),
    "Zero-copy paid for big messages: 2 MB and 8 MB round trips took less time in all without copies (ipc, tcp).":
        all(sum(by[(t, s, "zero-copy")]["latency_us"] for s in (2 << 20, 8 << 20))
            < sum(by[(t, s, "copy")]["latency_us"] for s in (2 << 20, 8 << 20)) for t in tcp_ipc),
    "From 4 kB up, tcp over loopback carried more megabits than the talk's 100 Mbit LAN.":
        all(by[("tcp", s, "copy")]["mbit_per_s"] > perf.SEED_REMOTE_MBIT[s] for s in perf.SIZES if s >= 4096),
}
for text, ok in verdicts.items():
    verdict(ok, text)
assert all(verdicts.values())
processes = max(by[(t, s, "copy")]["msgs_per_s"] for t in tcp_ipc for s in (1, 8))
threads = max(by[("inproc", s, "copy")]["msgs_per_s"] for s in (1, 8))
print(f"In this run, at 1-8 B, two processes (the best of ipc and tcp) moved ~{processes:,.0f} msg/s and two"
      f" threads (inproc) ~{threads:,.0f} msg/s: ~{processes / threads:.2f} times as many.")

# %% [markdown]
# ## 5. Python beside C
#
# The same loops in C, on the same machine: small messages show what the Python interpreter costs per
# message, big ones whether it still matters once the bytes dominate. The sweep's points are too short
# to compare one by one, so here five sizes are measured again over tcp with copying sends, Python and
# C taking turns, three runs each, and the best run of each kept (a busy machine can only slow a run
# down). The last column is Python's rate as a share of C's: 100% means as fast as C.

# %%
if c_exe:
    versus_c = perf.compare_with_c("tcp", sizes=(1, 64, 4 << 10, 128 << 10, 2 << 20))
    print("tcp, copying sends, best of 3 runs each:")
    for r in versus_c:
        print(f"{perf.human_size(r['size']):>7}: Python ~{r['py']:,.0f} msg/s, C ~{r['c']:,.0f} msg/s, "
              f"Python at ~{r['ratio'] * 100:.0f}% of C")
else:
    versus_c = []
    print("no C baseline on this machine:", c_reason)

# %%
if versus_c:
    small = [r for r in versus_c if r["size"] <= 64]
    large = [r for r in versus_c if r["size"] >= 4 << 10]
    checks = {"At 1 B and 64 B, C's best rate beat Python's best.":
                  max(r["c"] for r in small) > max(r["py"] for r in small),
              "From 4 kB up, Python moved at least half as many messages a second as C.":
                  all(r["ratio"] >= 0.5 for r in large)}
    for text, ok in checks.items():
        verdict(ok, text)
    assert all(checks.values())

# %% [markdown]
# Up to 64 B Python reaches a fraction of C's rate: each message costs a few hundred nanoseconds of
# interpreter on each side, and C pays none of it. From a few kB up Python keeps up: copying the bytes
# costs the same in both languages. The shares there are within the noise: two runs of the same code on
# this shared machine can differ by a factor of two or more at those sizes, and pyzmq ships its own build
# of libzmq while the C program uses the system's. A share above 100% is that noise, not Python beating
# C; read the shares from 4 kB up as "close to C", no more. (`make bench` repeats every size longer and
# sets Python a goal of 90% of C with zero-copy over tcp from 512 kB up.)

# %% [markdown]
# ## 6. The GIL, measured
#
# The sweep compared two threads over inproc with two processes over ipc and tcp, so the transport
# changed too. Here only the place of the sender changes: the same copying PUSH/PULL stream over tcp,
# with the sender once in a thread of this process, once in a child process (best of three short runs
# each).

# %%
gil = perf.threads_vs_processes("tcp", sizes=(1, 64, 512))
for g in gil:
    print(f"{perf.human_size(g['size']):>6}: sender in a thread ~{g['threads']:,.0f} msg/s | "
          f"in a process ~{g['processes']:,.0f} msg/s (~{g['processes'] / g['threads']:.1f}x)")

# %% [markdown]
# Read the ratios above as this run's, not as a rule. On this two-core machine they have swung between
# runs from below 1x to about 2.5x, at every size: the margin is too thin, and too variable, to call.
# The reason is in the machine. A process running ZeroMQ has more than one busy thread: the Python loop,
# and libzmq's I/O thread, which does the tcp work without needing the GIL. Two processes means four
# busy threads on two cores, so the machine is full either way. The GIL bites hardest where Python *is*
# all the work: over inproc there is no I/O thread, both loops are Python, and they take turns on one
# lock.
#
# What holds anywhere: a thread is the right tool to *wait* on a socket next to other work (the lab's
# peers are threads). Whether a busy sender gains from a process of its own depends on free cores:
# measure it on your machine with `perf.threads_vs_processes()`.
#
# ## 7. Beating the per-message cost: pack records into frames
#
# If the cost per message caps you, send fewer, bigger messages. Pack many small records into one
# frame and the per-message cost is paid once for all of them. (`send_multipart` does not do this:
# each frame of a multipart message costs about one send.) Here 64-byte records go over inproc between
# two threads, 1, 10, 100 and 1000 to a frame; the sender really joins record objects into a frame, the
# receiver really slices each frame back into records, so the packing is in the figure.

# %%
show_source(perf.batched_records)

# %%
batches = [perf.batched_records(records=100_000 if n == 1 else 600_000, per_frame=n) for n in (1, 10, 100, 1000)]
for b in batches:
    print(f"{b['per_frame']:>5} records per frame: ~{b['records_per_s']:,.0f} records/s "
          f"(~{b['frames_per_s']:,.0f} frames/s)")
verdict(batches[2]["records_per_s"] > 3 * batches[0]["records_per_s"],
        "100 records per frame carried more than 3 times the records of 1 per frame.")
assert batches[2]["records_per_s"] > 3 * batches[0]["records_per_s"]

# %%
perf.batching_figure(batches, goal=2_000_000)        # the dotted line: the goal of `make bench`

# %% [markdown]
# One record per frame is the per-message ceiling of Python. Ten per frame already multiplies the
# records; past a hundred or so the gain flattens and can even fall back, because packing and
# unpacking, not the socket, become the work (and a frame of tens of kB no longer sits in the CPU's
# caches). `make bench` checks the 64-byte, 100-per-frame case against the goal of 2 million records
# a second, which is C territory, reached from Python.
#
# ## 8. What the lab costs
#
# Every other notebook runs its roles inside the lab: killable, throttleable and counted. The same
# PUSH/PULL transfer bare and as two lab roles, five short rounds taking turns, the best round of each
# kept (a busy machine can only slow a round down):

# %%
rounds = [(perf.bare_pushpull(100_000), perf.lab_pushpull(100_000)) for _ in range(5)]
bare, inside = max(b for b, _ in rounds), max(i for _, i in rounds)
print(f"bare pyzmq: ~{bare:,.0f} msg/s | as lab roles: ~{inside:,.0f} msg/s | "
      f"overhead ~{(bare - inside) / bare * 100:.0f} %")
show_source(perf.bench_receiver)

# %% [markdown]
# Per message, a lab role adds a look at `peer.running` (a kill stops it even while messages keep
# coming), one counter increment and one check of its throttle. Its `recv` gives up after one slice
# (`rcvtimeo`, the lab's 50 ms kill slice) when nothing comes, so an idle receiver notices a kill too. On this
# shared two-core machine the figure moves from run to run (from about 0 to 20 % in our runs), about as
# much as two runs of the same code differ from each other; a negative overhead just means the lab's
# best round happened to be the faster one.

# %% [markdown]
# ## 9. What you saw, and questions
#
# * Per-message cost rules small messages, per-byte cost rules big ones; the crossover is around a few
#   kilobytes.
# * Copying is cheaper than zero-copy for small messages; zero-copy wins for big ones.
# * Python pays its interpreter per message: a fraction of C's rate for tiny messages, about C's rate
#   from a few kB up (section 5). Packing records into frames wins the difference back.
# * Two threads of one Python process share one lock (the GIL), so over inproc two Python loops take
#   turns. Whether a busy side gains from a process of its own depends on free cores: on this two-core
#   machine the gain measured in section 6 was thin and changed from run to run.
# * Over a real 100 Mbit network (the talk's "remote" curves) the wire is the limit from 64 B up.
#
# **Questions**
# 1. Why can tcp's latency for 1 B messages be several times inproc's? What does tcp do per message that
#    inproc does not? (On two shared cores the gap is smaller than on a big machine: waking the other
#    thread costs about as much as the kernel's work.)
# 2. The talk's 1 B localhost rate was ~4 M msg/s but its 8 B *latency* was ~41 µs. How can both be
#    true? (Hint: how many messages are in flight at once in each test?)
# 3. With zero-copy, pyzmq must know when libzmq is done with your buffer. What would go wrong if you
#    changed a `bytearray` right after `send(buf, copy=False)`?
#
# **Exercise 1 (read the sweep).** From which size up does a zero-copy round trip over tcp beat a
# copying one in this run, at that size and every bigger one? Read it off the latency panel of section 4
# (the blue lines), or print the sweep's table with `print(perf.sweep_table(result))`. Put the size in
# bytes in `my_guess`, run that cell, then the check; the folded cell between them reads the answer off
# this run's sweep. (The quick sweep is noisy: below a few hundred kB the two modes are close, so
# another run may give another size.)

# %%
my_guess = None      # bytes, one of the sweep's sizes, e.g. 64

# %%
# FOLDED
sizes = perf.SIZES
pays = [s for s in sizes if all(by[("tcp", t, "zero-copy")]["latency_us"] < by[("tcp", t, "copy")]["latency_us"]
                               for t in sizes if t >= s)]
answer = pays[0]      # never empty: at 8 MB zero-copy always wins
assert answer in sizes

# %%
print(grade(my_guess, answer, unit="bytes"))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# It depends on the run; on this machine it is usually **512 kB** (524,288 bytes), sometimes 128 kB or
# 2 MB. Below that the two modes are within each other's noise, or copying wins: pyzmq copies anything
# under 64 kB even with `copy=False`, and a zero-copy receive still builds a `Frame` object. From a few
# hundred kB up the two copies of every byte (into the message, out of it) cost more than that
# bookkeeping, and zero-copy pulls ahead for good. The folded cell keeps this run's size in `answer`.
#
# </details>

# %% [markdown]
# **Exercise 2 (predict, then measure).** Section 7 packed 64-byte records. Now the records are 1 kB, 16
# times bigger. Packing 100 of them into a frame: how many times the records per second of sending one
# per frame do you expect? Think about which cost a 100 kB frame adds that a 6.4 kB one hardly had, and
# look again at section 7's figures. Put a factor in `my_guess`, run that cell, then the check; the
# folded cell between them measures it.

# %%
my_guess = None      # a factor, e.g. 2.0: "100 per frame carries twice the records of 1 per frame"

# %%
# FOLDED
def best_rate(per_frame: int, records: int) -> float:
    """1 kB records per second, best of three short runs (the machine is shared: keep the best)."""
    return max(perf.batched_records(records=records, per_frame=per_frame, record_size=1024)["records_per_s"]
               for _ in range(3))


one, hundred = best_rate(1, 50_000), best_rate(100, 200_000)
factor = hundred / one
assert factor > 1.5              # packing 1 kB records still pays, however busy the machine

# %%
print(grade(my_guess, factor, relative=0.5))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# Still a large factor: in our runs **from about 5 to 25 times** (it swings with how busy the machine
# is), of the same order as the factor for 64-byte records in section 7, often somewhat below it. One record per frame is paid per message
# (a `send`, a `recv`, a Python object each), whatever its size, and that cost is the same for 1 kB as
# for 64 B: it is still what limits the one-per-frame case. Packing pays it once per 100 records. What a
# 100 kB frame adds is a cost per byte: 100 kB to join, carry and slice, and a frame that no longer sits
# in the CPU's fastest caches. That takes some of the gain back, not most of it. The folded cell
# keeps this run's figures in `one`, `hundred` and `factor`.
#
# </details>

# %% [markdown]
# ## 10. Play with it
#
# Last, because a stream that runs flat out takes a core from any measurement made beside it. A
# sender and a receiver as lab roles, in a lab of their own, streaming 64-byte messages over tcp.
# Throttle the receiver and watch the sender stall once the queues between them are full (the
# high-water marks, notebook 08); kill the receiver and the sender's rate drops to zero; restart it and
# the stream picks up. This lab stays open after the notebook ends (`play.close()` stops it); re-running
# the cell starts it afresh.

# %%
def playground(name):
    """A sender and a receiver streaming 64-byte messages over tcp, in a lab of their own, under a panel."""
    play = Lab(name)
    endpoint = play.endpoint("stream", "tcp")
    play.start("receiver", perf.bench_receiver, endpoint=endpoint, messages=10**9)
    play.start("sender", perf.bench_sender, endpoint=endpoint, messages=10**9, size=64)
    return play, Panel(play, counters=["sent", "received"], max_throttle=0.01, title="a stream you can slow down")


play, panel = playground("performance-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried those controls for you on a twin of this lab, so your panel is fresh (the code
# is folded). What it saw: with the receiver throttled to 1 ms a message the sender fell to the
# receiver's pace; after a kill the sender stopped once its queue was full; after a restart the
# messages flowed again.

# %%
# FOLDED
rehearsal, twin = playground("performance-rehearsal")
sender, receiver = rehearsal.peer("sender"), rehearsal.peer("receiver")
rehearsal.wait_for(lambda: receiver.get("received") > 10_000, timeout=10, what="traffic")
twin.rows["receiver"].throttle.value = 0.001        # 1 ms per message: at most ~1 000 msg/s


def sender_rate() -> float:
    """The sender's highest rate over the last 0.3 s (messages a second)."""
    rates = rehearsal.sampler.series("sender", "sent", since=rehearsal.now() - 0.3)[1]
    return max(rates) if rates else float("inf")


rehearsal.wait_for(lambda: sender_rate() < 5_000, timeout=10, what="the sender to stall behind the slow receiver")
verdict(sender_rate() < 5_000, "With the receiver throttled to 1 ms a message, the sender fell to its pace"
        " (under 5,000 msg/s).")
twin.rows["receiver"].kill.click()
stalled = rehearsal.wait_quiet(lambda: sender.get("sent"), quiet=0.3, timeout=5, what="the sender to stop")
verdict(sender.get("sent") == stalled and sender.state == "running",
        "Once the receiver was killed the sender sent nothing more (its queue was full), and waited.")
twin.rows["receiver"].throttle.value = 0.0
twin.rows["receiver"].restart.click()
rehearsal.wait_for(lambda: receiver.get("received") > 1_000 and sender.get("sent") > stalled + 1_000,
                   timeout=10, what="the stream to flow again")
verdict(sender.get("sent") > stalled, "After a restart of the receiver, the sender's messages flowed again.")
rehearsal.close()

# %% [markdown]
# ## Teardown
#
# Every measurement above made its own lab or process and closed it. Closing the notebook's own lab
# closes its two sockets; only your playground is left.

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [17 · Peers as processes](17_processes.ipynb).
