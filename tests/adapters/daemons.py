"""A real daemon for tests: ``aiguillage serve`` in a subprocess, on a free loopback port.

The daemon runs the reference configuration with test tokens added, its journal in a
temporary directory. Tests talk to it over HTTP and WebSocket like any client, and may kill
it with SIGKILL: nothing here is a mock.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from aiguillage.adapters.daemon.auth import digest_of

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin-token-for-tests"
SUPERVISOR = "supervisor-token-for-tests"
INTEGRATOR = "integrator-token-for-tests"
ADVISOR = "advisor-token-for-tests"
ADVISOR_ID = "camille.laurent"
"""A digital advisor of the reference roster: written and social, French and English."""
ERASURE = {"reason": "subject_request"}
"""The query of an erasure (``DELETE …/personal-data``): why, a code of ``[reasons] erase``."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(directory: Path, extra: str = "") -> Path:
    """Write the reference configuration plus test tokens (and ``extra`` TOML) to a file."""
    text = (ROOT / "config.toml").read_text()
    tokens = "".join(
        f'\n[[tokens]]\nsha256 = "{digest_of(token)}"\nrole = "{role}"\n'
        + (f'advisor = "{ADVISOR_ID}"\n' if role == "advisor" else "")
        for token, role in (
            (SUPERVISOR, "supervisor"),
            (INTEGRATOR, "integrator"),
            (ADVISOR, "advisor"),
        )
    )
    # The tests' interactions carry fixed dates: accept ten years back, whenever they run.
    window = "backfill_days = 90 "
    assert window in text
    text = text.replace(window, "backfill_days = 3660", 1)
    # Tables after the last one would land inside [simulation]: put ours before it.
    text = text.replace("# --- simulation ---", tokens + extra + "\n# --- simulation ---", 1)
    path = directory / "config.toml"
    path.write_text(text)
    return path


class Daemon:
    """One ``aiguillage serve`` process; ``start`` waits until ``/readyz`` answers 200."""

    def __init__(
        self,
        directory: Path,
        config: Path | None = None,
        *,
        store: str | None = None,
        standby: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.env = dict(env or {})
        """More environment for the process (a plugin's path, its secrets)."""
        self.config = config or write_config(directory)
        self.journal = directory / "journal.sqlite"
        self.store = store or f"sqlite:///{self.journal}"
        self.standby = standby
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0, *, ready: bool = True) -> Daemon:
        """Start the process; wait until ``/readyz`` answers 200 (or answers at all)."""
        env = dict(os.environ, AIGUILLAGE_ADMIN_TOKEN=ADMIN, PYTHONUNBUFFERED="1", **self.env)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aiguillage.adapters.cli.main",
                    "serve",
                    "--config",
                    str(self.config),
                    "--store",
                    self.store,
                    "--port",
                    str(self.port),
                    *(["--standby"] if self.standby else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the daemon exited: {self.log.read_text()[-3000:]}")
            try:
                status = httpx.get(self.url + "/readyz", timeout=1).status_code
                if status == 200 or not ready:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the daemon did not become ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the process stands still, as in a long GC pause or a frozen VM."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def readyz(self) -> httpx.Response:
        return httpx.get(self.url + "/readyz", timeout=5)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, and wait for a clean exit; return the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def client(self, token: str | None = ADMIN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def running(directory: Path) -> Iterator[Daemon]:
    daemon = Daemon(directory).start()
    try:
        yield daemon
    finally:
        daemon.kill()
