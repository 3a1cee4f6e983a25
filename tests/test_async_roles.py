"""async def roles (zmq.asyncio): the lab runs them as it runs thread roles. A kill cancels the
role's task within the lab's bound wherever it awaits, a throttle awaits, restart and close work,
and close() leaves no thread, task or socket behind."""
from __future__ import annotations

import asyncio
import threading

import pytest
import zmq

from zguide_py import Lab
from zguide_py.patterns import reqrep

pytestmark = pytest.mark.timeout(60)


async def echo(peer, endpoint: str):
    sock = peer.socket(zmq.REP)
    sock.bind(endpoint)
    peer.data["loop"] = id(asyncio.get_running_loop())
    while peer.running:
        request = await sock.recv_multipart()
        await peer.athrottle()
        await sock.send_multipart(request)
        peer.count("replies")


async def waits_forever(peer):
    sock = peer.socket(zmq.PULL)
    sock.bind("inproc://nobody-sends")
    await sock.recv()                        # nothing ever comes: only a kill ends this


def test_an_async_server_answers_a_thread_client_and_is_killed_within_the_bound():
    with Lab("async-echo") as lab:
        ep = lab.endpoint("echo", "tcp")
        server = lab.start("server", echo, endpoint=ep)
        lab.start("client", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
        lab.wait_for(lambda: server.get("replies") >= 50, 10, "50 replies from the async server")
        assert server.is_async and server.data["loop"]
        lab.kill("server")
        assert not server.alive and server.state == "killed"       # kill() joins within KILL_TIMEOUT
        frozen = lab.wait_quiet(lambda: lab.peer("client").get("replies"), quiet=0.3, timeout=5)
        lab.restart("server")
        lab.restart("client")                # a plain REQ client lost its request with the server
        lab.wait_for(lambda: lab.peer("client").get("replies") > frozen, 10, "replies after the restart")
        lab.check()


def test_a_kill_cancels_an_await_that_would_never_return():
    with Lab("async-kill") as lab:
        peer = lab.start("stuck", waits_forever)
        lab.wait_for(lambda: peer.open_sockets() == 1, 5, "the socket")
        lab.kill("stuck")
        assert peer.state == "killed" and not peer.alive and peer.open_sockets() == 0


def test_the_throttle_slows_an_async_role_without_blocking_its_loop():
    with Lab("async-throttle") as lab:
        ep = lab.endpoint("echo", "tcp")
        server = lab.start("server", echo, endpoint=ep, throttle=0.05)
        lab.start("client", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
        lab.wait_for(lambda: server.get("replies") >= 3, 5, "3 slow replies")
        start, t0 = server.get("replies"), lab.now()
        lab.wait_for(lambda: lab.now() - t0 >= 0.5, 2)
        assert server.get("replies") - start <= 0.5 / 0.05 + 2             # at most ~1 per 50 ms
        lab.throttle("server", 0)
        fast = server.get("replies")
        lab.wait_for(lambda: server.get("replies") >= fast + 100, 10, "fast replies again")


def test_close_leaves_no_thread_task_or_socket():
    lab = Lab("async-close")
    ep = lab.endpoint("echo", "tcp")
    lab.start("server", echo, endpoint=ep)
    lab.start("stuck", waits_forever)
    lab.start("client", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
    lab.wait_for(lambda: lab.peer("server").get("replies") > 10, 10)
    lab.close()
    assert lab.threads() == [] and lab.open_sockets() == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("zguide:async-close:")]


async def broken(peer):
    await asyncio.sleep(0)
    raise ValueError("a bug in the role")


def test_an_async_role_that_raises_fails_with_its_traceback():
    with Lab("async-fail") as lab:
        peer = lab.start("bug", broken)
        lab.wait_done("bug", 5)
        assert peer.state == "failed" and "ValueError: a bug in the role" in peer.error


async def misuses_peer_poll(peer):
    sock = peer.socket(zmq.PULL)
    sock.bind("inproc://misuse")
    peer.poll(sock, 0.1)                      # a thread role's call: refused with a clear line


def test_an_async_role_that_calls_peer_poll_is_told_to_await_instead():
    with Lab("async-misuse") as lab:
        peer = lab.start("wrong", misuses_peer_poll)
        lab.wait_done("wrong", 5)
        assert peer.state == "failed" and "await the socket itself" in peer.error.strip().splitlines()[-1]
