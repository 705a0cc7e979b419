"""Run the daemon and a load generator beside it; print its throughput and latencies.

The daemon (``aiguillage serve``: the reference config.toml with benchmark tokens added, a fresh
SQLite journal in a temporary directory, ``--log-level warning`` so that logging does not weigh)
runs on loopback, pinned to the first CPU; the load generator (``benchmarks/daemon_load.py``:
asyncio on uvloop, hand-written HTTP/1.1 over keep-alive connections) and this script run on the
second. Each ``POST /v1/interactions`` creates an interaction with a short text and a customer,
so the personal-data store is written too; the daemon answers 201 once both hold it.

Prints:

(a) at ``--rate`` per second (open loop: a latency counts from the instant its request was due,
    so a stall shows), acknowledged interactions per second and the median, 99th percentile and
    maximum latency of ``POST /v1/interactions``;
(b) the same with as many requests as ``--connections`` keep-alive connections carry (closed
    loop: each sends its next request when answered);
(c) arrival to offer on an idle daemon: the time from sending an interaction to its
    ``offer.made`` reaching an advisor's WebSocket, one at a time (accepted and closed before
    the next), ``--offers`` times;
(d) the same during (a) and (b), for a probe advisor with a benchmark-only skill nobody else
    has: the flood waits in queue (an advisor holds four items at most), the probe's offers not.

With each load: the daemon's CPU (and what other processes took of its core), batches per
second and events per batch of the group commit (from ``/metrics``). At the end: SIGTERM, a
check that the daemon exits 0, the journal's size, snapshots and events per interaction.
Aim: 1,000 acknowledged interactions per second with a 99th percentile under 100 ms.

    python benchmarks/daemon.py [--duration S] [--connections N] [--rate R] [--offers M]
        [--log-level L] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import websockets

from aiguillage.adapters.auth import digest_of

ROOT = Path(__file__).resolve().parents[1]
LOAD = Path(__file__).with_name("daemon_load.py")
ADMIN, INTEGRATOR, ADVISOR = (secrets.token_urlsafe(24) for _ in range(3))
ADVISOR_ID = "camille.laurent"  # a digital advisor of the reference roster: written and social
PROBE_ID = "bench.probe"
EXTRA = f"""
[skills.bench_probe]
label = "Benchmark probe"

[motives.bench_probe]
skill = "bench_probe"
label = "Benchmark probe"

[[advisors]]
id = "{PROBE_ID}"
name = "Benchmark probe"
languages = ["fr"]
skills = {{ bench_probe = 5 }}
capacity = {{ voice = 0, written = 0, social = 3 }}
"""


def machine() -> dict[str, Any]:
    models = [
        x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("model name")
    ]
    return {
        "platform": platform.platform(),
        "cpu": models[0].split(":", 1)[1].strip() if models else platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def write_config(directory: Path) -> Path:
    tokens = "".join(
        f'\n[[tokens]]\nsha256 = "{digest_of(token)}"\nrole = "{role}"\n{extra}'
        for token, role, extra in (
            (INTEGRATOR, "integrator", ""),
            (ADVISOR, "advisor", f'advisor = "{ADVISOR_ID}"\n'),
        )
    )
    # Tables after the last one would land inside [simulation]: put ours before it.
    text = (ROOT / "config.toml").read_text()
    if "# --- simulation ---" not in text:
        raise SystemExit("config.toml: no '# --- simulation ---' line to add the tokens before")
    text = text.replace("# --- simulation ---", tokens + EXTRA + "\n# --- simulation ---", 1)
    path = directory / "config.toml"
    path.write_text(text)
    return path


class Daemon:
    """``aiguillage serve`` in a subprocess, on a free loopback port, ready to serve."""

    def __init__(self, directory: Path, cpu: int | None, log_level: str) -> None:
        self.journal, self.cpu = directory / "journal.sqlite", cpu
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "aiguillage.adapters.cli", "serve"]
        command += ["--config", str(write_config(directory)), "--port", str(self.port)]
        command += ["--store", f"sqlite:///{self.journal}", "--log-level", log_level]
        log = directory / "daemon.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, AIGUILLAGE_ADMIN_TOKEN=ADMIN),
                cwd=directory,
                # Pinned before it starts any thread: its SQLite threads share its core.
                preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
            )
        deadline = time.monotonic() + 60
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.process.kill()
        raise SystemExit(f"the daemon did not become ready: {log.read_text()[-3000:]}")

    def cpu_seconds(self) -> tuple[float, float]:
        """The (user, system) CPU seconds of the daemon, all its threads."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def core_busy(self) -> float:
        """CPU seconds its core has been busy since boot, whoever ran on it (/proc/stat)."""
        lines = Path("/proc/stat").read_text().splitlines()
        line = next(x for x in lines if x.startswith(f"cpu{self.cpu} "))
        user, nice, system, _, _, irq, softirq, steal = map(int, line.split()[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

    def commits(self) -> list[float]:
        """The journal's [commits, seconds committing, events] so far, from /metrics."""
        names = ["aiguillage_journal_commit_seconds_" + x for x in ("count", "sum")]
        names.append("aiguillage_journal_events_total")
        lines = httpx.get(self.url + "/metrics").text.splitlines()
        values = dict(x.split(" ", 1) for x in lines if not x.startswith("#"))
        return [float(values.get(name, 0)) for name in names]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples) or [float("nan")]
    return {
        "count": len(samples),
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


class OfferClock:
    """Submit one interaction at a time; time it until its offer reaches the advisor's socket."""

    def __init__(self, daemon: Daemon, advisor_id: str, token: str, motive: str) -> None:
        self.daemon, self.advisor_id, self.motive = daemon, advisor_id, motive
        self.auth = {"Authorization": f"Bearer {token}"}
        self.arrived: dict[int, tuple[float, int]] = {}
        self.news = asyncio.Event()
        self.offers: list[float] = []
        self.acks: list[float] = []
        self.missing = 0
        self.run_id = secrets.token_hex(4)  # a known external id is answered 200: no new offer

    async def listen(self, socket: Any) -> None:
        async for raw in socket:  # the arrival is timed here, not when the POST returns
            event = json.loads(raw)["event"]
            if event["type"] == "offer.made":
                self.arrived[event["interaction_id"]] = (time.perf_counter(), event["offer_id"])
                self.news.set()

    async def run(self, count: int, stop: asyncio.Event | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.daemon.url, timeout=30) as http:
            ticket = (await check(http.post("/v1/tickets", headers=self.auth)))["ticket"]
            query = f"ticket={ticket}&advisor={self.advisor_id}"
            url = f"ws://127.0.0.1:{self.daemon.port}/v1/offers?{query}"
            async with websockets.connect(url, ping_interval=None) as ws:
                listener = asyncio.create_task(self.listen(ws))
                state = f"/v1/advisors/{self.advisor_id}/state"
                await check(http.put(state, json={"state": "available"}, headers=self.auth))
                n = 0
                while n < count and not (stop and stop.is_set()):
                    n += 1
                    await self.once(http, f"offer-{self.run_id}-{n}")
                listener.cancel()
        return summary(self.offers) | {"missing": self.missing}

    async def once(self, http: httpx.AsyncClient, external_id: str) -> None:
        body = {"channel": "social", "source": "facebook", "external_id": external_id}
        body |= {"motive": self.motive, "language": "fr", "text": "Où est mon sac ?"}
        integrator = {"Authorization": f"Bearer {INTEGRATOR}"}
        sent = time.perf_counter()
        answer = await check(http.post("/v1/interactions", json=body, headers=integrator))
        self.acks.append(time.perf_counter() - sent)
        try:
            while answer["id"] not in self.arrived:
                self.news.clear()
                await asyncio.wait_for(self.news.wait(), 10)
        except TimeoutError:
            self.missing += 1  # reported apart: an offer that never came is not a sample
            return
        arrived, offer_id = self.arrived.pop(answer["id"])
        self.offers.append(arrived - sent)
        accept = f"/v1/advisors/{self.advisor_id}/offers/{offer_id}/accept"
        await check(http.post(accept, headers=self.auth))
        close = f"/v1/interactions/{answer['id']}/close"
        await check(http.post(close, json={"advisor_id": self.advisor_id}, headers=self.auth))


async def check(request: Any) -> Any:
    response: httpx.Response = await request
    if response.status_code >= 300:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


async def load_phase(
    daemon: Daemon, cpu: int | None, args: argparse.Namespace, rate: float
) -> dict[str, Any]:
    """Run the load generator once, the probe advisor timing offers meanwhile."""
    command = [str(LOAD), daemon.url, INTEGRATOR, f"bench-{rate:g}-{secrets.token_hex(4)}"]
    command += ["--duration", str(args.duration), "--connections", str(args.connections)]
    command += ["--rate", str(rate), "--warmup", str(args.warmup)]
    commits = await asyncio.to_thread(daemon.commits)
    started, cpu_before = time.perf_counter(), daemon.cpu_seconds()
    busy = daemon.core_busy() if daemon.cpu is not None else 0.0
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, stdout=asyncio.subprocess.PIPE
    )
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    stop = asyncio.Event()
    await asyncio.sleep(args.warmup)
    probe = asyncio.create_task(OfferClock(daemon, PROBE_ID, ADMIN, "bench_probe").run(10**9, stop))
    output, _ = await process.communicate()
    elapsed = time.perf_counter() - started
    user, system = (b - a for a, b in zip(cpu_before, daemon.cpu_seconds(), strict=True))
    others = (daemon.core_busy() - busy - user - system) if daemon.cpu is not None else 0.0
    stop.set()
    if process.returncode != 0:
        raise SystemExit(f"the load generator failed ({process.returncode})")
    result: dict[str, Any] = json.loads(output)
    result["acknowledged_per_s"] = result["statuses"].get("201", 0) / result["window_s"]
    result["daemon_cpu"] = (user + system) / elapsed
    result["daemon_system"] = system / elapsed
    result["others_cpu"] = others / elapsed if daemon.cpu is not None else None
    after = await asyncio.to_thread(daemon.commits)
    count, seconds, events = (b - a for a, b in zip(commits, after, strict=True))
    result["batches_per_s"] = count / elapsed
    result["events_per_batch"] = events / max(1, count)
    result["commit_ms"] = seconds / max(1, count) * 1000
    result["offer_during_load"] = await probe
    return result


def journal_stats(daemon: Daemon) -> dict[str, Any]:
    db = sqlite3.connect(daemon.journal)
    events, interactions, snapshots, images = db.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM interactions), "
        "(SELECT count(*) FROM snapshots), (SELECT sum(length(image)) FROM snapshots)"
    ).fetchone()
    db.close()
    files = list(daemon.journal.parent.glob("journal.*sqlite*"))
    size = sum(f.stat().st_size for f in files if "personal" not in f.name)
    return {
        "interactions": interactions,
        "events": events,
        "bytes": size,
        "snapshots": snapshots,
        "snapshot_bytes": images or 0,
        "personal_bytes": sum(f.stat().st_size for f in files if "personal" in f.name),
    }


async def bench(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    daemon_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})  # this script too: it times the offers
    results: dict[str, Any] = {"machine": machine(), "command": " ".join(["python", *sys.argv])}
    results["pinning"] = (
        f"daemon on CPU {daemon_cpu}, load generator on CPU {load_cpu}"
        if load_cpu is not None
        else "not pinned (one CPU)"
    )
    daemon = Daemon(directory, daemon_cpu, args.log_level)
    try:
        light = OfferClock(daemon, ADVISOR_ID, ADVISOR, "general")
        results["idle_offer"] = await light.run(args.offers)
        results["idle_post"] = summary(light.acks)
        roster = [a["id"] for a in tomllib.loads((ROOT / "config.toml").read_text())["advisors"]]
        admin = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(base_url=daemon.url, headers=admin) as http:
            for advisor_id in roster:
                state = f"/v1/advisors/{advisor_id}/state"
                await check(http.put(state, json={"state": "available"}))
        results["advisors_available"] = len(roster) + 1  # and the probe, during the loads
        if args.rate > 0:
            results["open"] = await load_phase(daemon, load_cpu, args, args.rate)
        results["closed"] = await load_phase(daemon, load_cpu, args, 0)
    finally:
        results["exit_status"] = daemon.stop()
    results["journal"] = journal_stats(daemon)
    return results


def ms(s: dict[str, Any]) -> str:
    missing = f", {s['missing']} never offered" if s.get("missing") else ""
    return (
        f"median {s['median_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
        f"max {s['max_ms']:.1f} ms ({s['count']:,}{missing})"
    )


def show(results: dict[str, Any], args: argparse.Namespace) -> None:
    m = results["machine"]
    print(f"machine: {m['platform']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in m['load_average'])}")
    print(f"{results['pinning']}; daemon at --log-level {args.log_level}")
    print(f"rerun: {results['command']}")
    print(
        f"load: POST /v1/interactions (text and customer, no received_at) over "
        f"{args.connections} keep-alive connections, {args.warmup:g} s warm-up then "
        f"{args.duration:g} s measured; {results['advisors_available']} advisors available"
    )
    print()
    for key, title in (
        ("open", f"(a) open loop at {args.rate:g}/s"),
        ("closed", "(b) closed loop"),
    ):
        if key not in results:
            continue
        r = results[key]
        print(f"{title}: {r['acknowledged_per_s']:,.0f} acknowledged interactions/s")
        print(f"    POST /v1/interactions: {ms(r)}")
        failed = {k: v for k, v in r["statuses"].items() if k != "201"}
        others = "" if r["others_cpu"] is None else f", other processes {r['others_cpu']:.0%}"
        print(
            f"    answers other than 201: {failed or 'none'}; its core: daemon "
            f"{r['daemon_cpu']:.0%} (system {r['daemon_system']:.0%}){others}; "
            f"load generator {r['cpu_share']:.0%} of its own"
        )
        print(
            f"    group commit: {r['batches_per_s']:,.0f} batches/s, "
            f"{r['events_per_batch']:.1f} events each, {r['commit_ms']:.2f} ms to commit one"
        )
        print(f"    (d) arrival to offer on the WebSocket meanwhile: {ms(r['offer_during_load'])}")
    print(f"(c) arrival to offer on the WebSocket, idle daemon: {ms(results['idle_offer'])}")
    print(f"    POST /v1/interactions alone, by httpx: {ms(results['idle_post'])}")
    j = results["journal"]
    per = (j["bytes"] - j["snapshot_bytes"]) / max(1, j["interactions"])
    print(
        f"journal: {j['interactions']:,} interactions, {j['events']:,} events "
        f"({j['events'] / max(1, j['interactions']):.2f} each); {j['bytes'] / 1e6:.1f} MB: "
        f"{j['snapshots']} snapshots {j['snapshot_bytes'] / 1e6:.1f} MB, the rest {per:,.0f} B "
        f"an interaction; personal data {j['personal_bytes'] / 1e6:.1f} MB"
    )
    print(f"daemon stopped with SIGTERM: exit status {results['exit_status']}")
    aim = results["open"] if args.rate >= 1000 else results["closed"]
    met = aim["acknowledged_per_s"] >= 990 and aim["p99_ms"] < 100
    print(f"aim, 1,000/s with p99 < 100 ms: {'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured a load")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000.0, help="open loop; 0: skip it")
    parser.add_argument("--offers", type=int, default=200, help="offers timed on an idle daemon")
    parser.add_argument("--log-level", default="warning", help="the daemon's (info: a line each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the journal and the daemon log")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-bench-"))
    try:
        results = asyncio.run(bench(args, directory))
    finally:
        if args.keep:
            print(f"kept: {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(results)) if args.json else show(results, args)
    if results["exit_status"] != 0:
        raise SystemExit(f"the daemon exited with status {results['exit_status']}")


if __name__ == "__main__":
    main()
