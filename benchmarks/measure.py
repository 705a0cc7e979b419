"""What the benchmarks that load a real daemon print about their run: the machine, how long
its tasks waited for a CPU (Linux pressure stall information), and latency quantiles."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["machine", "pressure", "quantiles"]


def machine() -> dict[str, Any]:
    models = [
        x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("model name")
    ]
    return {
        "cpu": models[0].split(":", 1)[1].strip() if models else platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def pressure() -> dict[str, float]:
    """Seconds some task of the machine has waited for a CPU, and for I/O, since boot (PSI)."""
    stalled = {}
    for resource in ("cpu", "io"):
        try:
            line = Path(f"/proc/pressure/{resource}").read_text().splitlines()[0]
        except OSError:
            continue
        stalled[resource] = int(line.rsplit("total=", 1)[1]) / 1e6
    return stalled


def quantiles(samples: list[float]) -> str:
    """``count, mean, p50, p99, max`` of ``samples`` (seconds), in milliseconds."""
    if not samples:
        return "count 0"
    ordered = sorted(samples)

    def ms(q: float) -> str:
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f} ms"

    mean = sum(ordered) / len(ordered) * 1000
    return f"count {len(ordered)}, mean {mean:.1f} ms, p50 {ms(0.5)}, p99 {ms(0.99)}, max {ms(1)}"
