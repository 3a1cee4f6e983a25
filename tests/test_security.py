"""Security (notebook 18): CURVE encryption and ZAP authentication with pyzmq's ThreadAuthenticator.

Guarantees: an allowed client is served; a client with an unknown key gets no reply and the
authenticator records the denial; a client with no CURVE at all is refused; the server keeps
serving the good client while bad ones knock; a wiretap sees plaintext but not CURVE; the roles run
as processes from the command line; and the authenticator's thread never outlives its server.
Every wait is bounded (lab.wait_for / wait_done); nothing sleeps to synchronise.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from zmq.auth.thread import AuthenticationThread

from zguide_py import Lab, PeerFailed
from zguide_py.patterns import security as sec
from zguide_py.views import security as secv

ROOT = Path(__file__).resolve().parent.parent


def auth_threads() -> list[threading.Thread]:
    """Every live pyzmq authenticator thread in this process."""
    return [t for t in threading.enumerate() if isinstance(t, AuthenticationThread) and t.is_alive()]


@pytest.fixture
def keys(tmp_path):
    return sec.create_keys(str(tmp_path / "keys"), clients=("alice",), strangers=("mallory",))


@pytest.fixture
def lab(lab):
    """conftest's lab; after it closes, no authenticator thread is left either."""
    yield lab
    lab.close()
    assert not auth_threads(), auth_threads()


def start_server(lab: Lab, keys: dict, name: str = "server") -> str:
    endpoint = lab.endpoint(name, "tcp")
    assert endpoint.startswith("tcp://127.0.0.1:")          # loopback only, never all interfaces
    lab.start(name, sec.server, endpoint=endpoint, cert=keys["server"], allow=keys["allowed"])
    lab.wait_for(lambda: "endpoint" in lab.peer(name).data, 5, "server to bind")
    return endpoint


def curve(keys: dict, who: str) -> dict:
    return {"server_key": keys["server_public"], "cert": keys[who]}


def public_z85(keys: dict, who: str) -> str:
    return sec.load_keys(keys[who])[0].decode()


@pytest.mark.timeout(60)
def test_allowed_client_is_served_and_stranger_is_refused(lab, keys):
    endpoint = start_server(lab, keys)
    lab.start("alice", sec.client, endpoint=endpoint, requests=20, timeout=5.0, **curve(keys, "alice"))
    lab.start("mallory", sec.client, endpoint=endpoint, requests=3, timeout=0.5, retries=1, **curve(keys, "mallory"))
    alice = lab.wait_done("alice", 20)
    mallory = lab.wait_done("mallory", 20)
    server = lab.peer("server")
    lab.check()

    assert alice.data["answered"] == list(range(20)) and alice.data.get("done")
    # the stranger: no reply at all, gave up on its first request after 1 + 1 tries
    assert mallory.data["answered"] == [] and mallory.data["gave_up"] == 0
    assert mallory.get("replies") == 0 and mallory.get("timeouts") == 2
    assert [(e.get("request"), e.get("after")) for e in lab.events_of("timeout", "mallory")] == [(0, 0.5)] * 2
    # the authenticator recorded the denial, naming mallory's key, and let alice's key in
    denied = lab.events_of("zap_denied", "server")
    assert denied and all(e.get("client_key") == public_z85(keys, "mallory") for e in denied)
    assert all(public_z85(keys, "mallory") in e.get("said") for e in denied)
    allowed = lab.events_of("zap_allowed", "server")
    assert allowed and all(e.get("client_key") == public_z85(keys, "alice") for e in allowed)
    # both sides' sockets saw the handshake fail on authentication (ZAP status 400)
    # (the server's monitor events are drained by its own loop, so its count may trail a moment)
    lab.wait_for(lambda: server.get("refused_auth") >= 1, 5, "the server's monitor to see the refusal")
    assert mallory.get("refused_auth") >= 1
    assert all(e.get("status") == 400 for e in lab.events_of("refused_auth"))
    # the REP socket never saw the stranger's request: only alice's reached the application
    assert server.get("requests") == 20


@pytest.mark.timeout(60)
def test_plaintext_client_is_refused_without_asking_the_authenticator(lab, keys):
    endpoint = start_server(lab, keys)
    lab.start("plain", sec.client, endpoint=endpoint, requests=2, timeout=0.5)
    plain = lab.wait_done("plain", 20)
    lab.wait_for(lambda: lab.peer("server").get("refused_protocol") >= 1, 5, "the server to refuse the mechanism")
    assert plain.data["answered"] == [] and plain.data["gave_up"] == 0 and plain.get("replies") == 0
    assert lab.peer("server").get("requests") == 0
    # NULL against CURVE: the handshake fails on the mechanism, before ZAP is consulted at all
    assert not lab.events_of("zap_denied") and not lab.events_of("zap_allowed")


@pytest.mark.timeout(60)
def test_server_keeps_serving_alice_while_strangers_knock(lab, keys):
    endpoint = start_server(lab, keys)
    alice = lab.start("alice", sec.client, endpoint=endpoint, requests=100_000, timeout=5.0, **curve(keys, "alice"))
    lab.wait_for(lambda: alice.get("replies") >= 10, 10, "alice's first replies")
    for round_ in range(3):
        before = alice.get("replies")
        knockers = {f"mallory{round_}": curve(keys, "mallory"), f"plain{round_}": {}}
        for name, creds in knockers.items():
            lab.start(name, sec.client, endpoint=endpoint, requests=1, timeout=0.3, **creds)
        for name in knockers:
            assert lab.wait_done(name, 10).get("replies") == 0
        # while they were refused, alice went on being answered
        lab.wait_for(lambda b=before: alice.get("replies") > b + 10, 10, "alice to be answered meanwhile")
    server = lab.peer("server")
    assert server.get("zap_denied") >= 3 and server.get("refused_protocol") >= 3
    assert alice.state == "running" and alice.get("timeouts") == 0
    lab.kill("alice")
    assert server.get("requests") - alice.get("replies") <= 1     # nobody else's request got through
    lab.check()


@pytest.mark.timeout(60)
def test_authenticator_thread_lives_and_dies_with_its_server(keys):
    lab = Lab("test-security-auth")
    try:
        endpoint = start_server(lab, keys)
        assert len(auth_threads()) == 1
        assert any(t.name.endswith(":server:zap") for t in lab.threads())   # visible to lab.threads()
        lab.kill("server")
        assert not auth_threads()
        lab.restart("server")             # a new authenticator re-binds the ZAP endpoint at once
        lab.wait_for(lambda: lab.peer("server").state == "running" and len(auth_threads()) == 1, 5,
                     "the restarted server's authenticator")
        lab.start("alice", sec.client, endpoint=endpoint, requests=3, timeout=5.0, **curve(keys, "alice"))
        assert lab.wait_done("alice", 20).data["answered"] == [0, 1, 2]
    finally:
        lab.close()
    assert not lab.threads() and lab.open_sockets() == 0
    assert not auth_threads()


@pytest.mark.timeout(60)
def test_bad_configuration_fails_clearly_and_leaks_no_authenticator(lab, keys):
    endpoint = lab.endpoint("server", "tcp")
    bad = {
        "the server needs its secret certificate": (sec.server, {"cert": keys["server_public"], "allow": keys["allowed"]}),
        "must be a folder of client public certificates": (sec.server, {"cert": keys["server"], "allow": "/no/such/dir"}),
        "say who may connect": (sec.server, {"cert": keys["server"]}),
        "a CURVE client needs its own certificate": (sec.client, {"server_key": keys["server_public"]}),
        "not both": (sec.server, {"allow_ips": "127.0.0.1", "deny_ips": ["10.0.0.1"]}),
        "takes IP addresses such as '127.0.0.1', not 'localhost'": (sec.server, {"deny_ips": "localhost"}),
        "CURVE (cert=) or PLAIN (passwords=), not both": (sec.server, {"cert": keys["server"], "allow": "*",
                                                                      "passwords": {"a": "b"}}),
        "must be a dict {user: password}": (sec.server, {"passwords": "/no/such/file"}),
        "PLAIN needs both username= and a password": (sec.client, {"username": "admin"}),
        "give the password one way": (sec.client, {"username": "admin", "password": "x", "password_env": "HOME"}),
        "no such environment variable": (sec.client, {"username": "admin", "password_env": "ZGUIDE_NO_SUCH_VAR"}),
    }
    for message, (role, params) in bad.items():
        lab.start("bad", role, endpoint=endpoint, **params)
        lab.wait_for(lambda: not lab.peer("bad").alive, 5, "the bad peer to fail", check=False)
        assert lab.peer("bad").state == "failed" and message in lab.errors()["bad"]
        with pytest.raises(PeerFailed, match=re.escape(message)):
            lab.check()
        lab.remove("bad")
        assert not auth_threads()


@pytest.mark.timeout(60)
def test_wiretap_reads_plaintext_but_not_curve(lab, keys):
    secret = "PIN 4711, pay Bob"
    seen = {}
    for mode in ("plaintext", "CURVE"):
        server_ep, tap_ep = lab.endpoint("server", "tcp"), lab.endpoint("tap", "tcp")
        server_keys = {"cert": keys["server"], "allow": keys["allowed"]} if mode == "CURVE" else {}
        lab.start("server", sec.server, endpoint=server_ep, **server_keys)
        lab.start("tap", sec.wiretap, listen=tap_ep, target=server_ep)
        creds = curve(keys, "alice") if mode == "CURVE" else {}
        lab.start("alice", sec.client, endpoint=tap_ep, requests=2, timeout=5.0, body=secret, **creds)
        assert lab.wait_done("alice", 20).data["answered"] == [0, 1]
        tap = lab.peer("tap")
        seen[mode] = (bytes(tap.data["to_server"]), bytes(tap.data["to_client"]))
        for name in ("alice", "tap", "server"):
            lab.remove(name)
    up, down = seen["plaintext"]
    assert secret.encode() in up and secret.encode() in down
    up, down = seen["CURVE"]
    assert secret.encode() not in up and secret.encode() not in down
    assert b"CURVE" in up[:64] and b"NULL" in seen["plaintext"][0][:64]     # the greeting names the mechanism
    assert len(up) > 100          # the bytes did pass through the tap: they are just unreadable


@pytest.mark.timeout(60)
def test_plain_lets_in_the_right_password_and_the_wiretap_reads_it(lab, keys, tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("# user:password\nadmin:s3cret pw\n")
    server_ep, tap_ep = lab.endpoint("server", "tcp"), lab.endpoint("tap", "tcp")
    lab.start("server", sec.server, endpoint=server_ep, passwords=str(users))
    lab.start("tap", sec.wiretap, listen=tap_ep, target=server_ep)
    lab.wait_for(lambda: "endpoint" in lab.peer("server").data, 5, "server to bind")
    assert lab.peer("server").data["users"] == ["admin"]
    good = lab.start("good", sec.client, endpoint=tap_ep, requests=3, timeout=5.0, username="admin", password="s3cret pw")
    assert lab.wait_done("good", 20).data["answered"] == [0, 1, 2]
    bad = lab.start("bad", sec.client, endpoint=server_ep, requests=2, timeout=0.5, username="admin", password="guess")
    lab.wait_done("bad", 20)
    assert bad.data["answered"] == [] and bad.data["gave_up"] == 0 and bad.get("replies") == 0
    lab.start("none", sec.client, endpoint=server_ep, requests=1, timeout=0.5)   # no login at all
    assert lab.wait_done("none", 20).get("replies") == 0
    server = lab.peer("server")
    lab.wait_for(lambda: server.get("refused_protocol") >= 1, 5, "the server to refuse the NULL client")
    assert server.get("requests") == 3 and good.get("replies") == 3
    denied = [e.get("said") for e in lab.events_of("zap_denied", "server")]
    assert denied and all("Invalid password" in text for text in denied)
    allowed = lab.events_of("zap_allowed", "server")
    assert allowed and all(e.get("username") == "admin" and e.get("password") == "***" for e in allowed)
    assert all(e.get("said").endswith("password=***") for e in allowed)
    assert not any("s3cret pw" in str(text) for *_, text in lab.events)       # never in the lab's events
    assert b"s3cret pw" in bytes(lab.peer("tap").data["to_server"])            # but in the clear on the wire
    assert good.data.get("done")


@pytest.mark.timeout(60)
def test_address_lists_are_checked_before_keys(lab, keys):
    """ZAP sees the peer's IP address first: a denied address is refused even with a good key,
    and an allow list that lacks 127.0.0.1 refuses even a plaintext client."""
    cases = [   # (server params, client params, served?)
        ({"cert": keys["server"], "allow": keys["allowed"], "deny_ips": "127.0.0.1"}, curve(keys, "alice"), False),
        ({"cert": keys["server"], "allow": keys["allowed"], "allow_ips": ["127.0.0.1"]}, curve(keys, "alice"), True),
        ({"cert": keys["server"], "allow": keys["allowed"], "allow_ips": ["127.0.0.1"]}, curve(keys, "mallory"), False),
        ({"allow_ips": ["10.9.8.7"]}, {}, False),
        ({"deny_ips": ["10.9.8.7"]}, {}, True),
    ]
    for n, (server_params, client_params, served) in enumerate(cases):
        endpoint = lab.endpoint(f"server{n}", "tcp")
        lab.start("server", sec.server, endpoint=endpoint, **server_params)
        lab.wait_for(lambda: "endpoint" in lab.peer("server").data, 5, "server to bind")
        client = lab.start("client", sec.client, endpoint=endpoint, requests=2, timeout=0.5 if not served else 5.0,
                           **client_params)
        lab.wait_done("client", 20)
        assert client.get("replies") == (2 if served else 0), (n, lab.events_of("zap_denied"))
        if not served:
            lab.wait_for(lambda: lab.peer("server").get("zap_denied") >= 1, 5, "the denial")
            text = lab.events_of("zap_denied", "server")[-1].get("said")
            expected = {0: "(denied) address=127.0.0.1", 2: "DENIED", 3: "(not allowed) address=127.0.0.1"}[n]
            assert expected in text, text
        assert lab.peer("server").get("requests") == (2 if served else 0)
        lab.remove("client")
        lab.remove("server")
        assert not auth_threads()


@pytest.mark.timeout(60)
def test_throughput_rows(keys):
    rows = secv.measure_throughput(keys, sizes=(64, 4096), seconds=0.05, lab_name="test-security-thr")
    assert [(r["size"], r["mode"]) for r in rows] == [(64, "plaintext"), (64, "CURVE"), (4096, "plaintext"), (4096, "CURVE")]
    assert all(r["msgs_per_s"] > 0 and r["messages"] > 0 for r in rows), rows   # a rate, not a speed target
    assert not auth_threads()
    table = secv.throughput_table(rows)
    assert table.splitlines()[1].lstrip().startswith("64 B") and "4,096 B" in table


@pytest.mark.timeout(90)
def test_command_line_keygen_server_and_clients(tmp_path):
    """The CLI workflow: each party makes its own keys; the server's owner copies alice's *public*
    certificate into the allowed folder; the server runs as a process; clients connect over tcp."""
    def cli(role: str, *args: str, **popen) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "zguide_py", "run", f"security.{role}", *args], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}, **popen)

    for who in ("server", "alice", "mallory"):
        proc = cli("keygen", f"folder={tmp_path / who}", f"owner={who}")
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert (tmp_path / who / f"{who}.key").exists() and (tmp_path / who / f"{who}.key_secret").exists()
    (tmp_path / "allowed").mkdir()
    shutil.copy(tmp_path / "alice" / "alice.key", tmp_path / "allowed")

    with Lab("test-security-cli") as lab:
        endpoint = lab.endpoint("server", "tcp")
        server = cli("server", "--bind", endpoint, f"cert={tmp_path / 'server' / 'server.key_secret'}",
                     f"allow={tmp_path / 'allowed'}", "--every", "0.2")
        try:
            # wait for the server's status line: a try that timed out while it started would be
            # retried, and the server would count a sixth reply
            def server_runs() -> bool:
                if not select.select([server.stdout], [], [], 0.05)[0]:
                    return False
                line = server.stdout.readline()
                if not line and server.poll() is not None:
                    raise AssertionError(f"the server exited {server.returncode}")
                return "] server running" in line
            lab.wait_for(server_runs, 30, "the server's status line")
            server_key = str(tmp_path / "server" / "server.key")
            lab.start("alice", sec.client, endpoint=endpoint, requests=5, timeout=1.0, retries=20,
                      server_key=server_key, cert=str(tmp_path / "alice" / "alice.key_secret"))
            alice = lab.wait_done("alice", 40)
            assert alice.data["answered"] == [0, 1, 2, 3, 4], (alice.data, lab.events_of(peer="alice"))
            lab.start("mallory", sec.client, endpoint=endpoint, requests=1, timeout=0.5,
                      server_key=server_key, cert=str(tmp_path / "mallory" / "mallory.key_secret"))
            mallory = lab.wait_done("mallory", 20)
            assert mallory.get("replies") == 0 and mallory.data["gave_up"] == 0
            assert mallory.get("refused_auth") >= 1
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
            try:
                out, _ = server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                out, _ = server.communicate(timeout=10)
    final = [line for line in out.splitlines() if line.startswith("server ")]
    assert final, out
    assert "zap_denied=" in final[-1] and "zap_allowed=" in final[-1] and "replies=5" in final[-1], out
    assert server.returncode == 0, out


# ---- secrets: passwords never on a command line, secret keys never readable by others ----------------

@pytest.mark.timeout(60)
def test_plain_password_from_a_file_or_the_environment_is_never_echoed(lab, tmp_path, monkeypatch):
    secret = "top\nsecret pw"                 # a newline: the masking must not stop at the line end
    server_ep = lab.endpoint("server", "tcp")
    lab.start("server", sec.server, endpoint=server_ep, passwords={"admin": secret, "bob": "s3cret"})
    lab.wait_for(lambda: "endpoint" in lab.peer("server").data, 5, "server to bind")
    monkeypatch.setenv("ZGUIDE_TEST_PW", secret)
    by_env = lab.start("env", sec.client, endpoint=server_ep, requests=2, timeout=5.0, username="admin",
                       password_env="ZGUIDE_TEST_PW")
    pw_file = tmp_path / "pw"
    pw_file.write_text("s3cret\n")
    by_file = lab.start("file", sec.client, endpoint=server_ep, requests=2, timeout=5.0, username="bob",
                        password_file=str(pw_file))
    assert lab.wait_done("env", 20).data["answered"] == [0, 1]
    assert lab.wait_done("file", 20).data["answered"] == [0, 1]
    for peer in (by_env, by_file):
        assert "password" not in peer.params and secret not in repr(peer.params)
        assert "secret" not in repr(peer.data) and "s3cret" not in repr(peer.data)
    allowed = lab.events_of("zap_allowed", "server")
    assert {e.get("username") for e in allowed} == {"admin", "bob"}
    shown = repr([tuple(e) for e in lab.events])
    assert "secret pw" not in shown and "s3cret" not in shown and "top" not in shown


def test_secret_key_files_are_0600_from_the_first_byte_and_key_folders_0700(tmp_path, monkeypatch):
    import zmq.auth.certs

    real = zmq.auth.certs._write_key_file
    seen = {}

    def watched(key_filename, *args, **kwargs):
        if key_filename.endswith("_secret"):          # pyzmq is about to write the secret key here
            seen[key_filename] = (os.stat(key_filename).st_mode & 0o777,)
        real(key_filename, *args, **kwargs)
        if key_filename.endswith("_secret"):          # ... and has just written it
            seen[key_filename] += (os.stat(key_filename).st_mode & 0o777,)

    monkeypatch.setattr(zmq.auth.certs, "_write_key_file", watched)
    old = os.umask(0)                                 # the loosest umask: modes come from the code
    try:
        paths = sec.create_keys(str(tmp_path / "keys"), clients=("alice",), strangers=("mallory",))
        lab = Lab("test-keygen-modes")
        try:
            lab.start("keygen", sec.keygen, folder=str(tmp_path / "new" / "mine"), owner="me")
            lab.wait_done("keygen", 10)
        finally:
            lab.close()
    finally:
        os.umask(old)
    secrets = [paths["server"], paths["alice"], paths["mallory"], str(tmp_path / "new" / "mine" / "me.key_secret")]
    assert sorted(seen) == sorted(secrets)
    assert all(modes == (0o600, 0o600) for modes in seen.values()), seen
    for folder in ("keys", "keys/allowed", "keys/private", "new/mine"):
        assert os.stat(tmp_path / folder).st_mode & 0o777 == 0o700, folder
    assert sec.load_keys(paths["alice"])[1] is not None          # still a certificate pyzmq reads
    # a secret file that was already there with a loose mode is tightened before the key goes in
    loose = tmp_path / "keys" / "server.key_secret"
    os.chmod(loose, 0o644)
    seen.clear()
    sec.create_certificates(str(tmp_path / "keys"), "server")
    assert seen[str(loose)] == (0o600, 0o600)
