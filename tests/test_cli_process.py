"""A role runs as its own process over tcp with the same code the notebook runs as a thread."""
from __future__ import annotations

import subprocess
import sys

from zguide_py import Lab
from zguide_py.patterns import reqrep


def test_echo_server_as_a_process_answers_a_lab_client():
    lab = Lab("cli-test")
    endpoint = lab.endpoint("echo", "tcp")
    server = subprocess.Popen([sys.executable, "-m", "zguide_py", "run", "reqrep", "echo_server",
                               f"endpoint={endpoint}", "--every", "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lab.start("client", reqrep.client, endpoint=endpoint, requests=25, timeout=10)
        lab.wait_done("client", 30)
        assert lab.peer("client").data["answered"] == list(range(25))
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)
        lab.close()
    assert "echo_server" in out and "replies=25" in out, (out, err)
