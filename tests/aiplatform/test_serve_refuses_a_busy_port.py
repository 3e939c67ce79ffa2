"""bin/serve on a port something already listens on stops at once, saying so (it never shares the port)."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.smoke
def test_a_second_server_on_a_busy_port_refuses_to_start():
    listener = socket.socket()
    # As a running granian holds it: with SO_REUSEPORT, which let a second granian bind beside it unnoticed.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        result = subprocess.run(
            [str(ROOT / "bin/serve")], cwd=ROOT, capture_output=True, text=True, timeout=20,
            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("bin/serve kept running on a port that was already in use")
    finally:
        listener.close()
    assert result.returncode != 0
    assert f"port {port} is already in use" in result.stderr
