"""The Net: hosts in network namespaces, and faults that are real (iptables, tc, links down).

These tests need root (or CAP_NET_ADMIN), iproute2 and iptables. Without them they are skipped with
the reason, unless ZGUIDE_REQUIRE_NET is set (CI sets it: there they must run).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from zguide_py import net as znet
from zguide_py.net import Net, NetError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

if znet.missing():
    if os.environ.get("ZGUIDE_REQUIRE_NET"):
        pytest.fail(f"the network tests must run here (ZGUIDE_REQUIRE_NET): {znet.missing()}",
                    pytrace=False)
    pytest.skip(znet.missing(), allow_module_level=True)


def root_namespace() -> dict[str, str]:
    """What a Net must never change: the root namespace's links, addresses, routes, rules, iptables."""
    def out(*argv):
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout
    return {"links": out("ip", "-o", "link", "show"), "addresses": out("ip", "-o", "addr", "show"),
            "routes": out("ip", "route", "show", "table", "all"), "rules": out("ip", "rule", "show"),
            "iptables": "\n".join(line for line in out("iptables-save").splitlines() if not line.startswith("#")),
            "forwarding": open("/proc/sys/net/ipv4/ip_forward").read()}


def ours() -> list[str]:
    return [ns for ns in znet.namespaces() if ns.startswith(znet.PREFIX)]


ECHO = textwrap.dedent("""
    import sys, zmq
    with zmq.Context() as ctx, ctx.socket(zmq.REP) as rep:
        rep.bind(sys.argv[1])
        print("ready", flush=True)
        while rep.poll(20_000):
            rep.send(rep.recv())
""")

ASK = textwrap.dedent("""
    import sys, zmq
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
        req.linger = 0
        req.connect(sys.argv[1])
        req.send(b"ping")
        print("answered" if req.poll(int(float(sys.argv[2]) * 1000)) and req.recv() == b"ping" else "silent")
""")


def ask(host, endpoint: str, timeout: float) -> str:
    return host.run(sys.executable, "-c", ASK, endpoint, str(timeout), check=False).stdout.strip()


@pytest.fixture
def pair():
    net = Net()
    a, b = net.host("a"), net.host("b")
    server = subprocess.Popen(b.exec_prefix() + [sys.executable, "-c", ECHO, f"tcp://{b.address}:5555"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        yield net, a, b
    finally:
        server.kill()
        server.wait(10)
        net.close()


def test_hosts_talk_and_cut_heal_isolate_loss_and_link_do_what_they_say(pair):
    net, a, b = pair
    ep = f"tcp://{b.address}:5555"
    assert a.address != b.address and a.address.startswith("198.1")
    assert ask(a, ep, 5) == "answered"
    net.cut("a", "b")
    assert ask(a, ep, 0.5) == "silent"                 # no error: the request just goes nowhere
    net.heal("a", "b")
    assert ask(a, ep, 5) == "answered"
    net.cut("a", "b", direction="b->a")                 # requests arrive, replies are dropped
    assert ask(a, ep, 0.5) == "silent"
    net.heal("a", "b", direction="b->a")
    net.isolate("b")
    assert ask(a, ep, 0.5) == "silent"
    net.rejoin("b")
    net.loss("b", 100)
    assert ask(a, ep, 0.5) == "silent"
    net.loss("b", 0)
    net.link("b", up=False)
    assert ask(a, ep, 0.5) == "silent"
    net.link("b", up=True)
    net.rate("b", "1mbit")
    assert ask(a, ep, 5) == "answered"
    net.rate("b", None)
    assert ask(a, ep, 5) == "answered"


def test_a_net_never_touches_the_root_namespace_and_leaves_nothing():
    before = root_namespace()
    net = Net()
    for name in "abc":
        net.host(name)
    net.cut("a", "c")
    net.loss("b", 5)
    net.rate("c", "100mbit")
    net.isolate("c")
    assert root_namespace() == before
    net.close()
    assert not [ns for ns in ours() if ns.startswith(net.id)]
    assert root_namespace() == before


def test_net_clean_removes_what_a_killed_run_left(tmp_path):
    before = root_namespace()
    script = textwrap.dedent("""
        import os, signal
        from zguide_py.net import Net
        net = Net()
        net.host("a"); net.host("b"); net.cut("a", "b"); net.rate("b", "10mbit")
        print(net.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)              # a crash: no close, no atexit
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    left = out.stdout.strip()
    assert left and [ns for ns in ours() if ns.startswith(left)], out.stderr
    cleaned = subprocess.run([sys.executable, "-m", "zguide_py", "net", "clean"], capture_output=True,
                             text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    assert cleaned.returncode == 0, cleaned.stderr
    assert left in cleaned.stdout
    assert not [ns for ns in ours() if ns.startswith(left)]
    assert root_namespace() == before


def test_bad_input_to_a_net_gets_one_clear_line():
    with Net() as net:
        net.host("a")
        with pytest.raises(NetError, match="no host 'z'"):
            net.cut("a", "z")
        for bad in ("A", "", "a-b", "x" * 13):
            with pytest.raises(NetError, match="a host name is"):
                net.host(bad)
        with pytest.raises(NetError, match="exists already"):
            net.host("a")
        with pytest.raises(NetError, match="between 0 and 100"):
            net.loss("a", 120)
        with pytest.raises(NetError, match="like '100mbit'"):
            net.rate("a", "fast")
        with pytest.raises(NetError, match="direction is"):
            net.cut("a", "a", direction="up")
        with pytest.raises(NetError, match="unknown network fault"):
            net.step("explode", "a")
    with pytest.raises(NetError, match="is closed"):
        net.host("b")


def test_faults_are_lab_events_and_scenario_steps(lab):
    from zguide_py import Scenario
    net = Net(lab)
    net.host("a"), net.host("b")
    sc = Scenario("partition").at(0.0, net.step("cut", "a", "b")).at(0.1, net.step("heal", "a", "b"))
    report = lab.run(sc, seconds=0.3)
    assert [s.label for s in report.steps] == ["cut a b", "heal a b"] and not any(s.error for s in report.steps)
    kinds = [(e.kind, e.peer, e.fields.get("b")) for e in report.events if e.kind in ("cut", "heal")]
    assert kinds == [("cut", "a-b", "b"), ("heal", "a-b", "b")]
    ids = net.namespaces()
    lab.close()                                          # the lab's close closes its Net
    assert not [ns for ns in ids if ns in znet.namespaces()]


UNPRIVILEGED = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"]   # root, minus NET_ADMIN


@pytest.mark.skipif(not os.path.exists("/usr/bin/setpriv"), reason="setpriv (util-linux) is missing")
def test_without_net_admin_one_clear_line_and_the_network_notebook_skips_its_sections():
    env = {k: v for k, v in os.environ.items() if k != "ZGUIDE_REQUIRE_NET"}
    said = subprocess.run(UNPRIVILEGED + [sys.executable, "-c", "from zguide_py import net; print(net.missing())"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert said.stdout.strip().startswith("network namespaces need root or CAP_NET_ADMIN")
    assert len(said.stdout.strip().splitlines()) == 1 and not said.stderr
    run = subprocess.run(UNPRIVILEGED + [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                                         "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
                                         "notebooks/19_unreliable_network.ipynb"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout[-2000:]
    assert " skipped" in run.stdout and " failed" not in run.stdout
    required = subprocess.run(UNPRIVILEGED + [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                              "--nbval", "--nbval-current-env", "notebooks/19_unreliable_network.ipynb"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT, env={**env, "ZGUIDE_REQUIRE_NET": "1"})
    assert required.returncode != 0 and "must run here" in required.stdout + required.stderr
