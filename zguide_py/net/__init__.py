"""A network of hosts on one machine: real Linux network namespaces, veth links, a bridge, iptables
and tc, for faults that a loopback thread cannot have (partitions, loss, slow links, links down).

    net = Net(lab)                              # needs root or CAP_NET_ADMIN, iproute2 and iptables
    a, b = net.host("a"), net.host("b")         # each a namespace with one address in 198.18.0.0/15
    net.cut("a", "b")                           # a DROP rule each way: TCP stays half-open
    net.heal("a", "b")
    net.loss("b", 5)                            # 5 % of b's packets dropped, each way (seeded by the kernel)
    net.rate("b", "100mbit")                    # a tbf queue on b's link, each way
    net.link("b", up=False)                     # b's interface down
    net.close()                                 # every namespace, link and rule gone

The layout: every host's ``eth0`` is one end of a veth pair whose other end hangs on a bridge, and
the bridge lives in a namespace of the Net's own. Nothing is ever created in, or routed to, the
machine's root namespace: every command runs inside one of the Net's namespaces (``ip -n NS``),
addresses come from the RFC 2544 benchmarking range, and no host has a route beyond its own /24.

Names carry a prefix with this process's pid (``zg<pid>n<k>-a``), so two notebooks never collide
and ``python -m zguide_py net clean`` can remove what a crashed run left (namespaces whose pid is gone).
Removing a namespace removes its links and its iptables rules with it.
"""
from __future__ import annotations

import atexit
import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import LabError

NETWORK = ipaddress.ip_network("198.18.0.0/15")     # RFC 2544: for benchmarks, never routed
PREFIX = "zg"
_NAME = re.compile(rf"^{PREFIX}(\d+)n(\d+)-")
_COUNTER = itertools.count(1)
_LIVE: dict[str, "Net"] = {}
_LOCK = threading.Lock()
RATE = re.compile(r"^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$")
CHAIN_OUT, CHAIN_IN = "ZG-OUT", "ZG-IN"


class NetError(LabError):
    """A network control was used wrongly, or the machine cannot do it: the message says which."""


def missing() -> str | None:
    """What this machine lacks to build a Net, as one line with how to get it; None if nothing."""
    if not _has_cap_net_admin():           # root without it (a container, setpriv) cannot either
        return ("network namespaces need root or CAP_NET_ADMIN: run with sudo, or in a container "
                "started with --cap-add NET_ADMIN")
    for tool, package in (("ip", "iproute2"), ("tc", "iproute2"), ("iptables", "iptables")):
        if shutil.which(tool) is None:
            return f"{tool} is missing: apt-get install {package}"
    return None


def _has_cap_net_admin() -> bool:
    try:
        with open("/proc/self/status") as f:
            caps = next(line for line in f if line.startswith("CapEff:"))
        return bool(int(caps.split()[1], 16) & (1 << 12))
    except (OSError, StopIteration, ValueError):
        return False


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=20)
    if check and out.returncode != 0:
        raise NetError(f"{' '.join(argv)} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out


def namespaces() -> list[str]:
    """Every network namespace on the machine, by name."""
    out = _run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _kill_processes_in(ns: str) -> None:
    for pid in _run("ip", "netns", "pids", ns, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _delete_namespace(ns: str) -> None:
    _kill_processes_in(ns)
    _run("ip", "netns", "delete", ns, check=False)


def clean(everything: bool = False) -> list[str]:
    """Remove what Nets left behind: the namespaces of processes that are gone (all of ours with
    ``everything=True``). Returns the names removed. ``python -m zguide_py net clean`` runs this."""
    removed = []
    for ns in namespaces():
        m = _NAME.match(ns)
        if not m:
            continue
        pid = int(m.group(1))
        if everything or not _pid_alive(pid) or pid == os.getpid() and ns not in _owned():
            _delete_namespace(ns)
            removed.append(ns)
    return removed


def _owned() -> set[str]:
    return {ns for net in list(_LIVE.values()) for ns in net.namespaces()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Host:
    """One host: a network namespace with ``eth0`` at ``address``."""

    net: "Net"
    name: str
    ns: str
    address: str
    port: str                                   # the bridge's end of its link
    faults: list[tuple[str, ...]] = field(default_factory=list)

    def exec_prefix(self) -> list[str]:
        """What runs a command on this host: ``ip netns exec NS``."""
        return ["ip", "netns", "exec", self.ns]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a command on this host and wait for it."""
        return _run(*self.exec_prefix(), *argv, check=check)

    def endpoint(self, port: int) -> str:
        """``tcp://ADDRESS:PORT`` on this host."""
        return f"tcp://{self.address}:{port}"

    def __repr__(self) -> str:
        return f"<Host {self.name} {self.address} ns={self.ns}>"


class Net:
    """Hosts on a bridge, each in its own namespace; faults as methods (and Scenario steps)."""

    def __init__(self, lab: Any = None, subnet: int | None = None):
        problem = missing()
        if problem:
            raise NetError(problem)
        self.lab = lab
        self.id = f"{PREFIX}{os.getpid()}n{next(_COUNTER)}"
        index = (subnet if subnet is not None else int(self.id.rsplit("n", 1)[1])) % 512
        self.subnet = list(NETWORK.subnets(new_prefix=24))[index]
        self.hosts: dict[str, Host] = {}
        self.closed = False
        self.bridge_ns = f"{self.id}-bridge"
        _LIVE[self.id] = self
        try:
            _run("ip", "netns", "add", self.bridge_ns)
            _run("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _run("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        except Exception:
            self.close()
            raise
        if lab is not None:
            lab.on_close(self.close)

    # ---- hosts -------------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        """A new host called ``name``, with the next address of this Net's /24."""
        self._check_open()
        if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", name or ""):
            raise NetError(f"a host name is 1-12 lowercase letters or digits, starting with a letter, not {name!r}")
        if name in self.hosts:
            raise NetError(f"host {name!r} exists already in this net")
        n = len(self.hosts) + 1
        if n > 250:
            raise NetError("a Net holds at most 250 hosts")
        ns, port = f"{self.id}-{name}", f"p{n}"
        address = str(self.subnet.network_address + n)
        _run("ip", "netns", "add", ns)
        # made inside the bridge's namespace and moved to the host's: never in the root namespace
        _run("ip", "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "-n", self.bridge_ns, "link", "set", port, "master", "br0")
        _run("ip", "-n", self.bridge_ns, "link", "set", port, "up")
        _run("ip", "-n", ns, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _run("ip", "-n", ns, "link", "set", "eth0", "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        host = Host(self, name, ns, address, port)
        for chain, hook in ((CHAIN_OUT, "OUTPUT"), (CHAIN_IN, "INPUT")):
            host.run("iptables", "-w", "-N", chain)
            host.run("iptables", "-w", "-A", hook, "!", "-o" if hook == "OUTPUT" else "-i", "lo", "-j", chain)
        self.hosts[name] = host
        self._record("host", name, name=name, address=address)
        return host

    def __getitem__(self, name: str) -> Host:
        try:
            return self.hosts[name]
        except KeyError:
            raise NetError(f"no host {name!r} in this net (hosts: {', '.join(self.hosts) or 'none'})") from None

    def namespaces(self) -> list[str]:
        return [self.bridge_ns] + [h.ns for h in self.hosts.values()]

    # ---- faults --------------------------------------------------------------------------------
    def cut(self, a: str, b: str, direction: str = "both") -> None:
        """Drop every packet from ``a`` to ``b`` (``direction="a->b"``), the other way ("b->a"),
        or both. No RST, no FIN: TCP connections across the cut stay open, and silent."""
        for src, dst in self._directions(a, b, direction):
            self[src].run("iptables", "-w", "-A", CHAIN_OUT, "-d", self[dst].address, "-j", "DROP")
            self[src].faults.append(("cut", dst))
        self._record("cut", self._link_name(a, b, direction), a=a, b=b, direction=direction)

    def heal(self, a: str, b: str, direction: str = "both") -> None:
        """Undo ``cut`` between ``a`` and ``b``."""
        for src, dst in self._directions(a, b, direction):
            if ("cut", dst) in self[src].faults:
                self[src].run("iptables", "-w", "-D", CHAIN_OUT, "-d", self[dst].address, "-j", "DROP")
                self[src].faults.remove(("cut", dst))
        self._record("heal", self._link_name(a, b, direction), a=a, b=b, direction=direction)

    def isolate(self, name: str) -> None:
        """Cut a host from every other host (its loopback still works)."""
        host = self[name]
        if ("isolate",) not in host.faults:
            for chain in (CHAIN_OUT, CHAIN_IN):
                host.run("iptables", "-w", "-A", chain, "-j", "DROP")
            host.faults.append(("isolate",))
        self._record("isolate", name, host=name)

    def rejoin(self, name: str) -> None:
        """Undo ``isolate``."""
        host = self[name]
        if ("isolate",) in host.faults:
            for chain in (CHAIN_OUT, CHAIN_IN):
                host.run("iptables", "-w", "-D", chain, "-j", "DROP")
            host.faults.remove(("isolate",))
        self._record("rejoin", name, host=name)

    def loss(self, name: str, percent: float) -> None:
        """Drop ``percent`` % of the packets leaving and of those reaching a host, at random
        (iptables' statistic match). ``loss(name, 0)`` ends it."""
        host = self[name]
        try:
            p = float(percent)
        except (TypeError, ValueError):
            raise NetError(f"loss is a percentage between 0 and 100, not {percent!r}") from None
        if not 0 <= p <= 100:
            raise NetError(f"loss is a percentage between 0 and 100, not {percent!r}")
        for fault in [f for f in host.faults if f[0] == "loss"]:
            for chain in (CHAIN_OUT, CHAIN_IN):
                host.run("iptables", "-w", "-D", chain, "-m", "statistic", "--mode", "random",
                         "--probability", fault[1], "-j", "DROP")
            host.faults.remove(fault)
        if p > 0:
            probability = f"{p / 100:.4f}"
            for chain in (CHAIN_OUT, CHAIN_IN):
                host.run("iptables", "-w", "-A", chain, "-m", "statistic", "--mode", "random",
                         "--probability", probability, "-j", "DROP")
            host.faults.append(("loss", probability))
        self._record("loss", f"{name} {p:g}%", host=name, percent=p)

    def rate(self, name: str, rate: str | None) -> None:
        """Limit a host's link to ``rate`` ("100mbit", "1mbit", ...) each way with a tbf queue;
        ``None`` removes the limit."""
        host = self[name]
        for dev_ns, dev in ((host.ns, "eth0"), (self.bridge_ns, host.port)):
            _run("ip", "netns", "exec", dev_ns, "tc", "qdisc", "del", "dev", dev, "root", check=False)
        if rate is not None:
            if not isinstance(rate, str) or not RATE.match(rate):
                raise NetError(f"a rate is like '100mbit' or '512kbit', not {rate!r}")
            for dev_ns, dev in ((host.ns, "eth0"), (self.bridge_ns, host.port)):
                _run("ip", "netns", "exec", dev_ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                     "rate", rate, "burst", "64kb", "latency", "50ms")
        self._record("rate", f"{name} {rate or 'off'}", host=name, rate=rate or "off")

    def link(self, name: str, up: bool) -> None:
        """Take a host's interface down (the kernel sees its link go) or bring it back up."""
        host = self[name]
        _run("ip", "-n", host.ns, "link", "set", "eth0", "up" if up else "down")
        self._record("link", f"{name} {'up' if up else 'down'}", host=name, up=bool(up))

    def on(self, host: str, target: str) -> Callable[..., Any]:
        """A role that runs ``target`` ("pattern.role") as a process on ``host``, as notebook 17's
        process peers do: ``lab.start("w1", net.on("b", "paranoidpirate.worker"), endpoint=...)``.
        Kill is a real SIGKILL; restart starts a new process on the same host."""
        from .. import procs
        prefix = self[host].exec_prefix()
        procs.warm(target)

        def role(peer, **params: Any):
            return procs.process(peer, target, prefix=prefix, **params)
        role.__name__ = role.__qualname__ = f"{target}@{host}"
        return role

    def step(self, action: str, *args: Any, **kwargs: Any) -> Callable[[Any], None]:
        """A fault as a Scenario step: ``sc.at(1.0, net.step("cut", "a", "b"))``."""
        method = getattr(self, action, None)
        if action not in ("cut", "heal", "isolate", "rejoin", "loss", "rate", "link") or method is None:
            raise NetError(f"unknown network fault {action!r}: use cut, heal, isolate, rejoin, loss, rate or link")

        def do(_lab: Any) -> None:
            method(*args, **kwargs)
        do.__name__ = " ".join([action, *map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])
        return do

    # ---- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Remove every namespace of this Net (their links and rules go with them). Idempotent."""
        if self.closed:
            return
        self.closed = True
        for ns in reversed(self.namespaces()):
            _delete_namespace(ns)
        _LIVE.pop(self.id, None)

    def __enter__(self) -> "Net":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise NetError(f"net {self.id} is closed: make a new Net")

    def _directions(self, a: str, b: str, direction: str) -> list[tuple[str, str]]:
        self._check_open()
        self[a], self[b]
        ways = {"both": [(a, b), (b, a)], f"{a}->{b}": [(a, b)], f"{b}->{a}": [(b, a)]}
        if direction not in ways:
            raise NetError(f"direction is 'both', '{a}->{b}' or '{b}->{a}', not {direction!r}")
        return ways[direction]

    @staticmethod
    def _link_name(a: str, b: str, direction: str) -> str:
        return f"{a}-{b}" if direction == "both" else direction

    def _record(self, kind: str, what: str, **fields: Any) -> None:
        """A lab event whose "peer" is the link or host the fault hit ("sub-pub", "b 5%")."""
        if self.lab is not None and not self.lab.closed:
            self.lab.record(kind, what, **fields)

    def __repr__(self) -> str:
        return f"<Net {self.id} {self.subnet}: {', '.join(self.hosts) or 'no hosts'}>"


def _close_all() -> None:
    for net in list(_LIVE.values()):
        net.close()


atexit.register(_close_all)
