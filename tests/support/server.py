"""Start the real suite server (``python -m apps``) in a subprocess, on a free port.

Used by the server, browser, fault and hostile-input tests, which all need a live
HTTP server started the way a user starts it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT

STARTUP_TIMEOUT_S = 180.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerStartError(RuntimeError):
    """The server exited or did not answer /healthz in time; carries its output."""


@dataclass
class ServerProcess:
    """A running ``python -m apps``; ``base`` is its URL. Output goes to ``log_path``."""

    proc: subprocess.Popen
    base: str
    log_path: Path
    env: dict = field(repr=False, default_factory=dict)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush; what a crash or the OOM killer does."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> str:
        """Terminate politely and return everything the server printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.output()


def start_server(
    data_dir: Path,
    *args: str,
    env: dict | None = None,
    timeout_s: float = STARTUP_TIMEOUT_S,
) -> ServerProcess:
    """Start the suite with ``data_dir`` as its data directory and wait until it answers.

    Extra ``args`` go to ``python -m apps`` (``--apps``, ``--warmup``...), ``env`` adds
    environment variables (``SPRINGBOARD_*`` settings). The converted-weight cache is
    shared with the test session (``SPRINGBOARD_CACHE_DIR``) so no model is converted twice.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {
        **os.environ,
        "SPRINGBOARD_DATA_DIR": str(data_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "SPRINGBOARD_CACHE_DIR": os.environ.get(
            "SPRINGBOARD_CACHE_DIR", str(PROJECT_ROOT / "data" / "cache")
        ),
        **(env or {}),
    }
    log_path = data_dir / f"server-{port}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "apps", "--port", str(port), *args],
        cwd=PROJECT_ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.close()
    server = ServerProcess(proc=proc, base=f"http://127.0.0.1:{port}", log_path=log_path, env=full_env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(f"server exited early:\n{server.output()}")
        try:
            if httpx.get(server.base + "/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise ServerStartError(f"server did not answer within {timeout_s:.0f} s:\n{server.output()}")
