"""Notebook 26 (inter-broker routing): clusters started and stopped in one call, where the work went,
and the figure of a run (work done per cluster, requests lent per peer)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..patterns import peering as pr
from ..plots import FAULTS, mark_events, new_figure

ENDPOINTS = ("frontend", "backend", "cloud", "state")


@dataclass
class Clusters:
    """The peers of a set of peered clusters: one broker each, its workers, its clients."""

    names: list[str]                                     # the brokers, one per cluster
    endpoints: dict[str, dict[str, str]]                 # broker -> frontend, backend, cloud, state
    workers: dict[str, list[str]]
    clients: dict[str, list[str]] = field(default_factory=dict)
    monitor: str | None = None                           # the monitor's endpoint ("monitor" is its peer)

    def all_clients(self) -> list[str]:
        return [c for names in self.clients.values() for c in names]

    def peers(self) -> list[str]:
        return [*self.all_clients(), *(w for ws in self.workers.values() for w in ws), *self.names] + \
            (["monitor"] if self.monitor else [])


def broker_params(clusters: Clusters, name: str, **params) -> dict:
    """What ``lab.start(name, peering.broker, ...)`` needs: its own endpoints and every peer's."""
    others = [n for n in clusters.names if n != name]
    return dict(**clusters.endpoints[name], peer_clouds=[clusters.endpoints[o]["cloud"] for o in others],
                peer_states=[clusters.endpoints[o]["state"] for o in others], monitor=clusters.monitor, **params)


def start_clusters(lab, workers: dict[str, int], work: float = 0.005, monitor: bool = True, flow=None,
                   state_interval: float = 0.1, transport: str = "tcp") -> Clusters:
    """A broker per cluster (``{"dc1": 1, "dc2": 2}``: names and their number of workers), every
    broker peered with every other, a monitor if asked. Returns once every worker has said READY
    and every broker has heard every other one's state."""
    names = list(workers)
    clusters = Clusters(names, {n: {k: lab.endpoint(f"{n}-{k}", transport) for k in ENDPOINTS} for n in names},
                        {n: [f"{n}-worker{i + 1}" for i in range(k)] for n, k in workers.items()},
                        monitor=lab.endpoint("monitor", transport) if monitor else None)
    if monitor:
        lab.start("monitor", pr.monitor, endpoint=clusters.monitor)
    for name in names:
        lab.start(name, pr.broker, flow=flow, state_interval=state_interval, **broker_params(clusters, name))
    for name, ws in clusters.workers.items():
        for w in ws:
            lab.start(w, pr.worker, endpoint=clusters.endpoints[name]["backend"], work=work)
    lab.wait_for(lambda: all(lab.peer(n).get("ready") >= len(clusters.workers[n]) for n in names), 5,
                 "every worker's READY")
    lab.wait_for(lambda: all({e.get("broker") for e in lab.events_of("peer_up", n)} >= set(names) - {n}
                             for n in names), 5, "every broker to hear every other")
    return clusters


def start_clients(lab, clusters: Clusters, clients: dict[str, int], **params) -> list[str]:
    """``{"dc1": 3}``: three clients on dc1's frontend (``dc1-client1``...), with ``params``."""
    for name, k in clients.items():
        names = [f"{name}-client{i + 1}" for i in range(k)]
        clusters.clients[name] = names
        for c in names:
            lab.start(c, pr.client, endpoint=clusters.endpoints[name]["frontend"], **params)
    return clusters.all_clients()


def stop_clients(lab, clusters: Clusters, timeout: float = 15.0) -> None:
    """Ask every client to stop after the request in hand; wait until they have."""
    for c in clusters.all_clients():
        lab.set(c, stop=True)
    lab.wait_for(lambda: all(lab.peer(c).data.get("done") for c in clusters.all_clients()), timeout,
                 "every client to finish its last request")


def remove(lab, clusters: Clusters) -> None:
    """Remove every peer of the clusters (so another run can use the same names)."""
    for name in clusters.peers():
        if name in lab.peers:
            lab.remove(name)


def lent(events, since: float = float("-inf"), until: float = float("inf")) -> Counter:
    """How many requests each broker lent to each peer: Counter of (broker, peer)."""
    return Counter((e.peer, e.get("via")) for e in pr.routes(events)
                   if e.get("to") == "cloud" and since <= e.t <= until)


def cluster_rates(series: dict, cluster: str, counter: str = "tasks") -> tuple[list[float], list[float]]:
    """The summed rate of ``counter`` over a cluster's workers (``<cluster>-worker*``)."""
    total: dict[float, float] = {}
    for (peer, name), (times, rates) in series.items():
        if name == counter and peer.startswith(f"{cluster}-worker"):
            for t, r in zip(times, rates):
                total[round(t, 2)] = total.get(round(t, 2), 0.0) + r
    ticks = sorted(total)
    return ticks, [total[t] for t in ticks]


def run_figure(report, clusters: Clusters, title: str, bin_s: float = 0.25):
    """Two plots on one time axis: tasks per second done by each cluster's workers (top), and
    requests lent per second to each peer, by whoever lent them (bottom); faults marked."""
    fig = new_figure(9, 7.2)
    strip, top, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1.6, 2, 1.6]})
    end = report.duration
    for i, name in enumerate(clusters.names):
        times, rates = cluster_rates(report.series, name)
        top.plot(times, rates, color=f"C{i}", linewidth=2, label=f"{name}'s workers")
    bins = int(end / bin_s)                              # whole bins only: a last part-bin would dip
    for i, name in enumerate(clusters.names):
        counts = [0] * bins
        for e in pr.routes(report.events):
            if e.get("to") == "cloud" and e.get("via") == name and 0 <= e.t < bins * bin_s:
                counts[int(e.t / bin_s)] += 1
        xs = [(k + 0.5) * bin_s for k in range(bins)]
        bottom.plot(xs, [c / bin_s for c in counts], color=f"C{i}", linewidth=2, marker=".",
                    label=f"lent to {name}")
    for ax in (top, bottom):
        ax.set_xlim(0, end)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    mark_events([top, bottom], report.events, kinds=FAULTS, strip=strip)
    top.set_ylabel("tasks done\nper second")
    bottom.set_ylabel("requests lent\nper second")
    bottom.set_xlabel("time since the run started (s)")
    strip.set_title(title)
    return fig
