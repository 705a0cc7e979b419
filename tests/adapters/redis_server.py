"""A real ``redis-server`` for tests: started from PATH on a free loopback port, killable.

Durable as the Redis journal requires (``appendonly yes``, ``appendfsync always``,
``maxmemory-policy noeviction``), its data in a directory of the test's own, so that a test can
SIGKILL it and restart it on the same port and files. Never the machine's own Redis.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.adapters.daemons import free_port

INSTALL = "install it: apt-get install redis-server (Debian), or put redis-server on PATH"


def available() -> bool:
    return shutil.which("redis-server") is not None


class RedisServer:
    """One ``redis-server`` process; ``start`` waits until it answers PING with its data loaded."""

    def __init__(self, directory: Path, *settings: str) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.directory), "--daemonize", "no", "--save", ""]
        command += ["--appendonly", "yes", "--appendfsync", "always"]
        command += ["--maxmemory-policy", "noeviction", "--logfile", str(self.log)]
        command += list(self.settings)
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self._log_tail()}")
            if self._answers():
                return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer: {self._log_tail()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")  # -LOADING while it loads
        except OSError:
            return False

    def _log_tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: what was acknowledged is in the AOF, the rest is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
