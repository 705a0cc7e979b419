"""Measure memory: a simulated year, and the daemon holding 100,000 waiting interactions.

(a) One year (``--days``) of the reference deployment (``config.toml``) through
``simulations.run.simulate``, in a child process of its own: its resident memory once the
simulator is imported and the configuration loaded, then its peak (``VmHWM``, which the kernel's
``ru_maxrss`` for the child confirms) and what it holds at the end, so that the simulation's
own share shows. Aim: a peak under 300 MB.

(b) A real ``aiguillage serve`` on a fresh SQLite journal in a temporary folder: the reference
config.toml with an integrator's token, its opening hours widened to every day from 00:00 to
23:59:59 with no holiday closing, so that the voice line takes calls whenever this runs (it
refuses them outside its hours); ``--log-level warning``. No advisor is made available (they
start offline), so every interaction stays queued. ``--interactions`` are submitted through
``POST /v1/interactions`` over ``--connections`` keep-alive connections (the API has no batch
submit), across the sources in the proportions of ``[simulation.volumes]`` (phone, e-mail, web
form, X, Facebook, ...), the motives in turn: a call with the caller's number, a message with
a customer and a text (and a subject when written), so the personal-data store is written too.
Prints how long that took, the daemon's resident memory and peak then (``/proc/PID/status``),
and the queues' counts (``GET /v1/queues``).

Then SIGTERM: the daemon answers its inbox, writes a snapshot and exits 0. Printed: how long it
took, the peak of its whole life (``ru_maxrss`` from ``wait4``), the snapshot written on the way
out included, and the sizes of the journal and of that snapshot. It is started again on the
same folder; printed: the time from the process's start to its first ``/readyz`` answer (503
while it recovers) and to its first 200 (aim: under 10 s), the CPU seconds it had used by then
(on a busy machine the wall time is also time spent waiting for a CPU), whether ``/v1/queues``
counts the same interactions waiting, its memory then, and once it is stopped again the peak
of its life.
Aim for either life: a peak under 1 GB. MB are 10^6 bytes.

    python benchmarks/memory.py [--days 365] [--interactions 100000] [--connections 32]
        [--skip-year] [--skip-daemon] [--keep]

It says whether the engine it imports is the pure-Python one or the compiled build (setup.py);
run it from each build's environment to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import machine  # noqa: E402

MB = 1_000_000
OPEN_ALWAYS = """[calendar.hours]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
opens = 00:00:00
closes = 23:59:59
closed_on_holidays = false
"""
"""Replaces the reference hours: a call outside them is refused (409), not queued."""


def memory_of(pid: int | str = "self") -> dict[str, int]:
    """``VmRSS`` (resident now) and ``VmHWM`` (its peak) of a process, in bytes."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines if line.startswith(("VmRSS", "VmHWM")))
    return {name: int(value.split()[0]) * 1024 for name, value in fields.items()}


# -- (a) a simulated year -------------------------------------------------------------------------


def year_child(days: float) -> None:
    """In the child: load the deployment, simulate, print what memory held (one JSON object)."""
    from aiguillage.adapters.cli.simulate import deployment_of
    from aiguillage.adapters.config.settings import default_config_path, load_config
    from aiguillage.simulations.run import simulate

    deployment = deployment_of(load_config(default_config_path()))
    loaded = memory_of()
    started = time.perf_counter()
    result = simulate(deployment, days=days)
    wall = time.perf_counter() - started
    done = memory_of()
    offered = {c.channel: c.offered for c in result.channels}
    print(json.dumps({"loaded": loaded, "done": done, "wall_s": wall, "offered": offered}))


def measure_year(days: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--year-child", str(days)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the simulated year failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    result["ru_maxrss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return result


def show_year(r: dict[str, Any], days: float) -> None:
    loaded, done = r["loaded"], r["done"]
    offered = sum(r["offered"].values())
    split = ", ".join(f"{channel} {n:,}" for channel, n in r["offered"].items())
    print(f"(a) {days:g} days of the reference deployment, simulated in a child process")
    print(f"    {offered:,} interactions ({split}) in {r['wall_s']:.1f} s")
    print(f"    resident after imports and configuration: {loaded['VmRSS'] / MB:.0f} MB")
    print(
        f"    peak: {done['VmHWM'] / MB:.0f} MB (ru_maxrss {r['ru_maxrss'] / MB:.0f} MB), of which "
        f"the simulation {(done['VmHWM'] - loaded['VmRSS']) / MB:.0f} MB; resident at the end "
        f"{done['VmRSS'] / MB:.0f} MB"
    )
    met = done["VmHWM"] < 300 * MB
    print(f"    aim, a peak under 300 MB: {'met' if met else 'NOT met'}")


# -- (b) the daemon holding the work --------------------------------------------------------------


def write_config(directory: Path) -> Path:
    """The reference config.toml, open every day at any hour, with the integrator's token."""
    from daemon import INTEGRATOR

    from aiguillage.adapters.daemon.auth import digest_of

    text = (ROOT / "config.toml").read_text()
    head, marker, rest = text.partition("[calendar.hours]")
    _, blank, tail = rest.partition("\n\n")
    if not (marker and blank and "# --- simulation ---" in tail):
        raise SystemExit("config.toml: no [calendar.hours] table, or no simulation section")
    token = f'[[tokens]]\nsha256 = "{digest_of(INTEGRATOR)}"\nrole = "integrator"\n'
    # Tables after the last one would land inside [simulation]: put ours before it.
    tail = tail.replace("# --- simulation ---", token + "\n# --- simulation ---", 1)
    path = directory / "config.toml"
    path.write_text(head + OPEN_ALWAYS + "\n" + tail)
    return path


def sources() -> list[tuple[str, str]]:
    """(channel, source) per submission, in the proportions of ``[simulation.volumes]``,
    interleaved (each source spread evenly over the cycle)."""
    config = tomllib.loads((ROOT / "config.toml").read_text())
    channel_of = {s: c for c, t in config["channels"].items() for s in t.get("sources", [])}
    volumes: dict[str, int] = config["simulation"]["volumes"]
    unit = math.gcd(*volumes.values())
    slots = sorted(
        ((k + 0.5) / (volume // unit), source)
        for source, volume in volumes.items()
        for k in range(volume // unit)
    )
    return [(channel_of[source], source) for _, source in slots]


class Submitter:
    """POST /v1/interactions ``count`` times over keep-alive connections; raw HTTP/1.1, as
    ``daemon_load.py`` does, so that the client spends little of the machine's CPU."""

    def __init__(self, port: int, token: str, count: int, prefix: str) -> None:
        self.port, self.count, self.prefix = port, count, prefix
        self.head = (
            f"POST /v1/interactions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.numbers = iter(range(count))
        self.cycle = sources()
        config = tomllib.loads((ROOT / "config.toml").read_text())
        self.motives = list(config["motives"])
        self.statuses: dict[int, int] = {}
        self.refusals: list[bytes] = []

    def body(self, n: int) -> bytes:
        channel, source = self.cycle[n % len(self.cycle)]
        fields: dict[str, Any] = {
            "channel": channel,
            "source": source,
            "external_id": f"{self.prefix}-{n}",
            "motive": self.motives[n % len(self.motives)],
            "language": "fr",
        }
        if channel == "voice":
            fields["customer"] = {"phone": f"+33 6 {n // 10000 % 100:02d} {n % 10000:04d} 00"}
        else:
            fields["customer"] = {"name": f"Client {n}", "email": f"client{n}@example.org"}
            fields["text"] = (
                f"Bonjour, ma demande numéro {n} attend une réponse : le prélèvement de mon "
                "forfait a été fait deux fois ce mois-ci. Merci de me rembourser."
            )
        if channel == "written":
            fields["subject"] = f"Demande {n}"
        return json.dumps(fields).encode()

    async def connection(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for n in self.numbers:
                body = self.body(n)
                writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                answer = await reader.readexactly(length) if length else b""
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status != 201 and len(self.refusals) < 3:
                    self.refusals.append(answer)
        finally:
            writer.close()

    async def run(self, connections: int) -> None:
        await asyncio.gather(*(self.connection() for _ in range(connections)))


class Daemon:
    """``aiguillage serve`` on a folder's SQLite journal; started again on the same folder."""

    def __init__(self, directory: Path) -> None:
        from daemon import free_port

        self.directory, self.config = directory, write_config(directory)
        self.journal = directory / "journal.sqlite"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> tuple[float, float, float]:
        """Start the process; return the seconds until its ``/readyz`` answered at all (503
        while it recovers), until it answered 200, and the CPU seconds it had used by then
        (on a busy machine, the wall time is also the time spent waiting for a CPU)."""
        import httpx
        from daemon import ADMIN

        command = [sys.executable, "-m", "aiguillage.adapters.cli.main", "serve"]
        command += ["--config", str(self.config), "--store", f"sqlite:///{self.journal}"]
        command += ["--port", str(self.port), "--log-level", "warning"]
        log = self.directory / "daemon.log"
        started, answered = time.perf_counter(), None
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, AIGUILLAGE_ADMIN_TOKEN=ADMIN),
                cwd=self.directory,
            )
        while self.process.poll() is None and time.perf_counter() - started < 600:
            try:
                status = httpx.get(self.url + "/readyz", timeout=5).status_code
                answered = answered or time.perf_counter() - started
                if status == 200:
                    return answered, time.perf_counter() - started, self.cpu_seconds()
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        self.process.kill()
        raise SystemExit(f"the daemon did not become ready: {log.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        """User and system CPU seconds of the daemon so far, all its threads."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory(self) -> dict[str, int]:
        assert self.process is not None
        return memory_of(self.process.pid)

    def waiting(self) -> dict[str, int]:
        import httpx
        from daemon import ADMIN

        headers = {"Authorization": f"Bearer {ADMIN}"}
        queues = httpx.get(self.url + "/v1/queues", headers=headers, timeout=120).json()
        return {channel: q["waiting"] for channel, q in queues["channels"].items()}

    def stop(self) -> dict[str, Any]:
        """SIGTERM; return the exit status, the seconds the daemon took to exit and the peak
        resident memory of its whole life, the snapshot written on the way out included."""
        assert self.process is not None
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        # wait4, not Popen.wait: the kernel's account of the child's peak comes with its exit.
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return {
            "exit_status": self.process.returncode,
            "stop_s": time.perf_counter() - started,
            "lifetime_peak": usage.ru_maxrss * 1024,
        }

    def sizes(self) -> dict[str, int]:
        with sqlite3.connect(self.journal) as db:
            events, snapshots, image = db.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM snapshots), "
                "(SELECT length(image) FROM snapshots ORDER BY seq DESC LIMIT 1)"
            ).fetchone()
        db.close()
        files = list(self.directory.glob("journal*sqlite*"))
        return {
            "events": events,
            "snapshots": snapshots,
            "latest_snapshot_bytes": image or 0,
            "journal_bytes": sum(f.stat().st_size for f in files if "personal" not in f.name),
            "personal_bytes": sum(f.stat().st_size for f in files if "personal" in f.name),
        }


def measure_daemon(count: int, connections: int, directory: Path) -> dict[str, Any]:
    import uvloop
    from daemon import INTEGRATOR

    r: dict[str, Any] = {}
    daemon = Daemon(directory)
    _, r["first_start_s"], _ = daemon.start()
    r["idle"] = daemon.memory()
    submitter = Submitter(daemon.port, INTEGRATOR, count, f"memory-{time.time_ns()}")
    started = time.perf_counter()
    try:
        uvloop.run(submitter.run(connections))
        r["submit_s"] = time.perf_counter() - started
        r["statuses"], r["refusals"] = submitter.statuses, submitter.refusals
        r["held"] = daemon.memory()
        r["waiting"] = daemon.waiting()
        r["after_read"] = daemon.memory()
    finally:
        r["first"] = daemon.stop()
    r["sizes"] = daemon.sizes()
    r["restart_answered_s"], r["restart_s"], r["restart_cpu_s"] = daemon.start()
    try:
        r["restarted"] = daemon.memory()
        r["waiting_again"] = daemon.waiting()
    finally:
        r["second"] = daemon.stop()
    return r


def show_daemon(r: dict[str, Any], count: int, connections: int) -> None:
    def mb(figures: dict[str, int]) -> str:
        return f"resident {figures['VmRSS'] / MB:.0f} MB, peak {figures['VmHWM'] / MB:.0f} MB"

    first, second = r["first"], r["second"]
    print(f"(b) the daemon on SQLite, no advisor available: {count:,} interactions submitted")
    print(f"    first start to /readyz 200: {r['first_start_s']:.2f} s; idle: {mb(r['idle'])}")
    statuses = ", ".join(f"{n:,} answered {status}" for status, n in sorted(r["statuses"].items()))
    print(
        f"    POST /v1/interactions over {connections} connections: {r['submit_s']:.1f} s, "
        f"{count / r['submit_s']:,.0f} a second ({statuses})"
    )
    for refusal in r["refusals"]:
        print(f"        refused: {refusal.decode(errors='replace')[:300]}")
    waiting = r["waiting"]
    print(f"    waiting (/v1/queues): {sum(waiting.values()):,} ({json.dumps(waiting)})")
    held = r["after_read"]
    each = (held["VmRSS"] - r["idle"]["VmRSS"]) / count
    print(
        f"    holding them: {mb(r['held'])}; after reading the queues: {mb(held)} "
        f"({each:,.0f} bytes resident per interaction)"
    )
    s = r["sizes"]
    print(
        f"    SIGTERM: exit status {first['exit_status']} in {first['stop_s']:.2f} s; peak of its "
        f"whole life, the snapshot written on the way out included: "
        f"{first['lifetime_peak'] / MB:.0f} MB"
    )
    print(
        f"    journal {s['events']:,} events, {s['journal_bytes'] / MB:.0f} MB, "
        f"{s['snapshots']} snapshots, the latest {s['latest_snapshot_bytes'] / MB:.1f} MB; "
        f"personal data {s['personal_bytes'] / MB:.0f} MB"
    )
    again = r["waiting_again"]
    same = "the same" if again == waiting else f"NOT the same: {json.dumps(again)}"
    print(
        f"    restart to /readyz 200: {r['restart_s']:.2f} s (its first answer, recovering: "
        f"{r['restart_answered_s']:.2f} s); the daemon's CPU by then {r['restart_cpu_s']:.2f} s; "
        f"waiting: {same}"
    )
    print(
        f"    after restart: {mb(r['restarted'])}; SIGTERM again: exit status "
        f"{second['exit_status']}, peak of its life {second['lifetime_peak'] / MB:.0f} MB"
    )
    peak = max(first["lifetime_peak"], second["lifetime_peak"])
    print(f"    aim, a peak under 1 GB, either life: {'met' if peak < 1000 * MB else 'NOT met'}")
    print(f"    aim, a restart under 10 s: {'met' if r['restart_s'] < 10 else 'NOT met'}")


def build() -> str:
    from simulate import build as engine_build

    return engine_build()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365, help="days simulated in (a)")
    parser.add_argument("--interactions", type=int, default=100_000, help="queued in (b)")
    parser.add_argument("--connections", type=int, default=32, help="to submit them")
    parser.add_argument("--skip-year", action="store_true", help="measure the daemon only")
    parser.add_argument("--skip-daemon", action="store_true", help="measure the year only")
    parser.add_argument("--keep", action="store_true", help="keep the journal and the daemon log")
    parser.add_argument("--year-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.year_child is not None:
        year_child(args.year_child)
        return
    if args.days <= 0 or args.interactions < 1 or args.connections < 1:
        parser.error("--days, --interactions and --connections must be positive")
    m = machine()
    print(f"machine: {m['platform']}, {m['cpu']}, {m['cpu_count']} CPUs, Python {m['python']}")
    print(f"load average before the run: {' '.join(map(str, m['load_average']))}")
    print(f"build: {build()}")
    print(f"rerun: python {' '.join(sys.argv)}")
    if not args.skip_year:
        show_year(measure_year(args.days), args.days)
    if args.skip_daemon:
        return
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-memory-"))
    try:
        result = measure_daemon(args.interactions, args.connections, directory)
    finally:
        if args.keep:
            print(f"kept: {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    show_daemon(result, args.interactions, args.connections)
    print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if result["first"]["exit_status"] != 0 or result["second"]["exit_status"] != 0:
        raise SystemExit("the daemon exited with a non-zero status")


if __name__ == "__main__":
    main()
