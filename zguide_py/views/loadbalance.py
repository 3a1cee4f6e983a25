"""Notebook 05 (load balancing): one scripted run of a balancer, its numbers, and the figure that
compares the simple balancer with the LRU broker."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..metrics import summarize
from ..patterns import loadbalance as lb
from ..plots import new_figure


@dataclass
class BalancerRun:
    """What one run of :func:`run_balancer` measured."""

    broker: str
    workers: list[str]
    slow: str | None
    tasks: dict[str, int]                  # tasks each worker served
    arrived_while_busy: dict[str, int]     # tasks that reached a worker while it was busy / not ready
    latencies: list[float] = field(repr=False)   # seconds, every answered request of every client
    requests: int = 0
    answered: int = 0
    lost: int = 0
    seconds: float = 0.0

    @property
    def violations(self) -> int:
        return sum(self.arrived_while_busy.values())

    def share(self, worker: str) -> float:
        """The fraction of all served tasks that ``worker`` served."""
        total = sum(self.tasks.values())
        return self.tasks.get(worker, 0) / total if total else 0.0


def run_balancer(lab, broker: str = "lru", workers: int = 3, clients: int = 6, requests: int = 30,
                 work: float = 0.002, slow: str | None = "worker3", slow_delay: float = 0.02,
                 timeout: float = 30.0) -> BalancerRun:
    """Start a broker (``"simple"`` or ``"lru"``), ``workers`` workers (``slow`` throttled by
    ``slow_delay`` s per task) and ``clients`` REQ clients with ``requests`` requests each; wait
    until every client is done; collect the numbers; remove the peers again (so the next run can use
    the same names)."""
    if broker not in lb.BROKERS:
        raise ValueError(f"broker must be one of {', '.join(lb.BROKERS)}, not {broker!r}")
    frontend, backend = lab.endpoint(f"{broker}-frontend"), lab.endpoint(f"{broker}-backend")
    worker_names = [f"worker{i + 1}" for i in range(workers)]
    client_names = [f"client{i + 1}" for i in range(clients)]
    lab.start("broker", lb.BROKERS[broker], frontend=frontend, backend=backend)
    try:
        for name in worker_names:
            lab.start(name, lb.worker, endpoint=backend, work=work, ready=(broker == "lru"))
        lab.wait_for(lambda: all(lab.peer(w).data.get("ready") for w in worker_names), 5, "workers to connect")
        if broker == "lru":
            lab.wait_for(lambda: lab.peer("broker").get("ready") >= workers, 5, "every worker's READY")
        if slow is not None:
            lab.throttle(slow, slow_delay)
        started = time.perf_counter()
        for name in client_names:
            lab.start(name, lb.client, endpoint=frontend, requests=requests, timeout=5.0)
        lab.wait_for(lambda: all(lab.peer(c).data.get("done") for c in client_names), timeout,
                     f"{clients} clients to finish {requests} requests each")
        seconds = time.perf_counter() - started
        lab.check()
        return BalancerRun(
            broker=broker, workers=worker_names, slow=slow,
            tasks={w: lab.peer(w).get("tasks") for w in worker_names},
            arrived_while_busy={w: lab.peer(w).get("arrived_while_busy") for w in worker_names},
            latencies=[s for c in client_names for s in lab.peer(c).latencies.get("rtt", ())],
            requests=sum(lab.peer(c).get("requests") for c in client_names),
            answered=sum(lab.peer(c).get("replies") for c in client_names),
            lost=sum(lab.peer(c).get("lost") for c in client_names),
            seconds=seconds)
    finally:
        for name in [*client_names, *worker_names, "broker"]:
            if name in lab.peers:
                lab.remove(name)


def latency_line(latencies: list[float]) -> str:
    """Round-trip percentiles in ms, each measured number after a ``~`` (see the notebooks' rules)."""
    s = summarize(latencies)
    return (f"round trips: n={s.count}, p50 ~{s.p50 * 1e3:.1f} ms, p90 ~{s.p90 * 1e3:.1f} ms, "
            f"p99 ~{s.p99 * 1e3:.1f} ms, max ~{s.max * 1e3:.1f} ms")


def compare_figure(runs: list[BalancerRun], title: str = "one slow worker: simple vs LRU balancer"):
    """Side by side: tasks per worker (grouped bars per broker) and latency percentiles (ms)."""
    fig = new_figure(10, 3.8)
    load_ax, lat_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    colours = {"simple": "tab:red", "lru": "tab:green"}
    labels = {"simple": "simple (DEALER round-robin)", "lru": "LRU broker (workers say READY)"}
    width = 0.8 / max(1, len(runs))
    workers = runs[0].workers
    for i, run in enumerate(runs):
        xs = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(workers))]
        bars = load_ax.bar(xs, [run.tasks[w] for w in workers], width, label=labels.get(run.broker, run.broker),
                           color=colours.get(run.broker))
        load_ax.bar_label(bars, fontsize=8)
    load_ax.set_xticks(range(len(workers)),
                       [f"{w}\n(slow)" if w == runs[0].slow else w for w in workers])
    load_ax.set_xlabel("worker")
    load_ax.set_ylabel("tasks served")
    load_ax.set_title("load per worker")
    load_ax.grid(True, axis="y", alpha=0.3)
    load_ax.set_ylim(0, max(max(r.tasks.values()) for r in runs) * 1.15)     # room for the bar labels

    names = ["p50", "p90", "p99", "max"]
    for i, run in enumerate(runs):
        s = summarize(run.latencies)
        values = [s.p50 * 1e3, s.p90 * 1e3, s.p99 * 1e3, s.max * 1e3]
        xs = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(names))]
        bars = lat_ax.bar(xs, values, width, label=labels.get(run.broker, run.broker),
                          color=colours.get(run.broker))
        lat_ax.bar_label(bars, fmt="%.0f", fontsize=8)
    lat_ax.set_xticks(range(len(names)), names)
    lat_ax.set_yscale("log")
    lat_ax.set_ylim(top=lat_ax.get_ylim()[1] * 2)          # room for the bar labels
    lat_ax.set_xlabel("percentile of request round trips")
    lat_ax.set_ylabel("round trip (ms, log scale)")
    lat_ax.set_title("request latency")
    lat_ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    # one legend for both panels, below them: inside a panel it would cover a bar's label
    fig.legend(*load_ax.get_legend_handles_labels(), loc="outside lower center", ncols=len(runs),
               fontsize=8)
    return fig
