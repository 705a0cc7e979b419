"""SIGKILL at drawn points of a flow, and a restart: what the crash tests of the channels share.

A test names the points of its flow (``delivered``, ``posted``, ``taken``...) and plans kills at
the n-th passage of some of them; the flow calls ``at(point)`` as it passes, and a peer that
takes a message calls it from its own thread with ``restart_later`` (the daemon must not hear
the peer's answer, and the peer must not wait for the restart). A restart that fails is kept
with the daemon's log, and ``join`` raises it: a test never passes on a daemon that did not
come back.
"""

from __future__ import annotations

import threading
import time

from tests.adapters.daemons import Daemon

__all__ = ["Killer"]


class Killer:
    def __init__(self, daemon: Daemon, plan: set[tuple[str, int]]) -> None:
        self.daemon, self.plan = daemon, plan
        self.seen: dict[str, int] = {}
        self.done: list[tuple[str, int]] = []
        self.killed_at: list[float] = []
        """When each kill happened (``time.monotonic``)."""
        self.errors: list[str] = []
        self._lock = threading.Condition()
        self._down = False
        """Killed and not started again yet: a kill waits for the restart under way, so that
        each kill is of a running daemon and two restarts never overlap."""
        self._restarts: list[threading.Thread] = []

    def at(self, point: str, *, restart_later: bool = False) -> None:
        with self._lock:
            self.seen[point] = self.seen.get(point, 0) + 1
            if (point, self.seen[point]) not in self.plan:
                return
            while self._down:
                self._lock.wait()
            self.daemon.kill()
            self._down = True
            self.done.append((point, self.seen[point]))
            self.killed_at.append(time.monotonic())
        if not restart_later:
            self._restart()
            return
        thread = threading.Thread(target=self._restart, daemon=True)
        thread.start()
        self._restarts.append(thread)

    def crashes_since(self, instant: float) -> int:
        return sum(1 for killed in self.killed_at if killed >= instant)

    def _restart(self) -> None:
        with self._lock:
            try:
                self.daemon.start(timeout=60)
            except Exception as exc:
                self.daemon.kill()
                self.errors.append(f"{exc}")
            finally:
                self._down = False
                self._lock.notify_all()

    def join(self) -> None:
        """Wait for the restarts under way; raise if one failed; check every planned kill ran."""
        for thread in self._restarts:
            thread.join(timeout=90)
        assert not self.errors, self.errors
        assert sorted(self.done) == sorted(self.plan), "a planned kill did not happen"
