"""Run the daemon and a load generator beside it; print its throughput and latencies.

The daemon (``aiguillage serve``: the reference config.toml with benchmark tokens added, a fresh
journal, ``--log-level warning`` so that logging does not weigh) runs on loopback, pinned to the
first CPU; the load generator (``benchmarks/daemon_load.py``: asyncio on uvloop, hand-written
HTTP/1.1 over keep-alive connections) and this script run on the second. Each store in
``--stores`` is measured in turn, in one run: ``sqlite`` (a fresh file in a temporary
directory) and ``redis`` (a ``redis-server`` from PATH started for the run on a free port, with
``appendonly yes``, ``appendfsync always``, ``maxmemory-policy noeviction``, pinned to the
second CPU with the load generator, since it stands for another machine). Each
``POST /v1/interactions`` creates an interaction with a short text and a customer, so the
personal-data store is written too; the daemon answers 201 once both hold it.

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

(e) On Redis, the takeover: once the loads are done, a standby (``--standby``) starts on the
same store and follows the journal (the whole journal of the loads); once it has caught up,
as a standby in service would have long before, the leader is killed with SIGKILL, and the
time from the kill to the standby's first ``/readyz`` 200 is measured, ``--takeovers`` times
(each new leader is killed in turn by the next standby). The time the standby took to catch
up from nothing (the snapshot and the tail) is printed too. Its lease is ``--lease`` seconds
(``[daemon] lease_s``); aim: a takeover within twice the lease.

    python benchmarks/daemon.py [--stores sqlite,redis] [--duration S] [--connections N]
        [--rate R] [--offers M] [--lease S] [--takeovers K] [--log-level L] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
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

from aiguillage.adapters.daemon.auth import digest_of

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


def write_config(directory: Path, lease_s: float) -> Path:
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
    if "\nlease_s = " not in text:
        raise SystemExit("config.toml: no lease_s line in [daemon] to set the lease")
    text = re.sub(r"\nlease_s = [0-9.]+", f"\nlease_s = {lease_s:g}", text, count=1)
    path = directory / "config.toml"
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A ``redis-server`` for the run: durable as the Redis journal requires, on a free port."""

    def __init__(self, directory: Path, cpu: int | None) -> None:
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not on PATH (Debian: apt-get install redis-server)")
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(directory), "--appendonly", "yes", "--appendfsync", "always"]
        command += ["--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
        )
        self.version = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[2]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def info(self) -> dict[str, str]:
        import redis

        with redis.Redis.from_url(self.url, decode_responses=True) as client:
            info: dict[str, Any] = client.info()
            return {key: str(value) for key, value in info.items()}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Daemon:
    """``aiguillage serve`` in a subprocess, on a free loopback port, ready to serve."""

    def __init__(
        self,
        directory: Path,
        cpu: int | None,
        log_level: str,
        *,
        lease_s: float,
        store: str | None = None,
        standby: bool = False,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.journal, self.cpu = directory / "journal.sqlite", cpu
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "aiguillage.adapters.cli.main", "serve"]
        command += ["--config", str(write_config(directory, lease_s)), "--port", str(self.port)]
        command += ["--store", store or f"sqlite:///{self.journal}", "--log-level", log_level]
        command += ["--standby"] if standby else []
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
                health = httpx.get(self.url + "/readyz", timeout=1)
                if health.status_code == 200 or (standby and health.json()["role"] == "standby"):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.process.kill()
        raise SystemExit(f"the daemon did not become ready: {log.read_text()[-3000:]}")

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

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


def journal_stats(daemon: Daemon, redis_server: RedisServer | None) -> dict[str, Any]:
    if redis_server is not None:
        return redis_stats(redis_server)
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


def redis_stats(server: RedisServer) -> dict[str, Any]:
    import redis

    from aiguillage.adapters.stores.redis.keys import keys_of

    keys = keys_of(tomllib.loads((ROOT / "config.toml").read_text())["deployment"]["domain"])
    with redis.Redis.from_url(server.url) as client:
        events = client.xlen(keys.events)
        interactions = client.hlen(keys.views)
        snapshots = [client.strlen(keys.snapshot(int(seq))) for seq in client.hkeys(keys.snapshots)]
        personal = client.memory_usage(keys.personal) or 0
    info = server.info()
    return {
        "interactions": interactions,
        "events": events,
        "bytes": int(info["used_memory"]),
        "aof_bytes": int(info.get("aof_current_size", 0)),
        "aof_rewrites": int(info.get("aof_rewrites", 0)),
        "snapshots": len(snapshots),
        "snapshot_bytes": sum(snapshots),
        "personal_bytes": personal,
    }


def cpus() -> tuple[int | None, int | None]:
    mine = sorted(os.sched_getaffinity(0))
    return (mine[0], mine[1]) if len(mine) >= 2 else (None, None)


async def bench(
    args: argparse.Namespace, directory: Path, store: str, redis_server: RedisServer | None
) -> dict[str, Any]:
    daemon_cpu, load_cpu = cpus()
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})  # this script too: it times the offers
    results: dict[str, Any] = {"store": store}
    url = None if redis_server is None else redis_server.url
    daemon = Daemon(directory, daemon_cpu, args.log_level, lease_s=args.lease, store=url)
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
        if redis_server is not None and args.takeovers:
            results["takeovers"] = takeovers(args, directory, daemon, redis_server)
            daemon = results["takeovers"].pop("leader")
    finally:
        results["exit_status"] = daemon.stop()
    results["journal"] = journal_stats(daemon, redis_server)
    return results


def takeovers(
    args: argparse.Namespace, directory: Path, leader: Daemon, server: RedisServer
) -> dict[str, Any]:
    """Kill the leader, time until a standby serves; ``--takeovers`` times in a row."""
    times, catch_ups = [], []
    for n in range(args.takeovers):
        standby = Daemon(
            directory / f"standby-{n}",
            leader.cpu,
            args.log_level,
            lease_s=args.lease,
            store=server.url,
            standby=True,
        )
        started = time.perf_counter()
        written = httpx.get(leader.url + "/readyz").json()["last_seq"]
        while httpx.get(standby.url + "/readyz").json()["followed_seq"] != written:
            if time.perf_counter() - started > 600:
                raise SystemExit("the standby did not catch up with the leader")
            time.sleep(0.05)
        catch_ups.append(time.perf_counter() - started)
        time.sleep(args.lease / 2)  # the kill falls somewhere in the leader's renewal cycle
        leader.process.send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        leader.process.wait()
        while not standby.ready():
            if time.perf_counter() - killed > 10 * args.lease:
                raise SystemExit("the standby did not take over")
            time.sleep(0.01)
        times.append(time.perf_counter() - killed)
        leader = standby
    return {"leader": leader, "seconds": times, "catch_up_s": catch_ups, "lease_s": args.lease}


def ms(s: dict[str, Any]) -> str:
    missing = f", {s['missing']} never offered" if s.get("missing") else ""
    return (
        f"median {s['median_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, "
        f"max {s['max_ms']:.1f} ms ({s['count']:,}{missing})"
    )


def show(run: dict[str, Any], args: argparse.Namespace) -> None:
    m = run["machine"]
    print(f"machine: {m['platform']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in m['load_average'])}")
    print(f"{run['pinning']}; daemon at --log-level {args.log_level}")
    print(f"rerun: {run['command']}")
    print(
        f"load: POST /v1/interactions (text and customer, no received_at) over "
        f"{args.connections} keep-alive connections, {args.warmup:g} s warm-up then "
        f"{args.duration:g} s measured"
    )
    for results in run["stores"]:
        print()
        show_store(results, args)
    if len(run["stores"]) > 1:
        print()
        print("side by side:  acknowledged/s (open, closed)   p99 ms (open, closed)")
        for r in run["stores"]:
            o, c = r.get("open"), r["closed"]
            rates = f"{o['acknowledged_per_s'] if o else 0:>7,.0f} {c['acknowledged_per_s']:>7,.0f}"
            p99 = f"{o['p99_ms'] if o else 0:>7.1f} {c['p99_ms']:>7.1f}"
            print(f"    {r['store']:>6}: {rates}            {p99}")


def show_store(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"== store: {results['store']}; {results['advisors_available']} advisors available")
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
    where = "Redis memory" if "aof_bytes" in j else "files"
    print(
        f"journal: {j['interactions']:,} interactions, {j['events']:,} events "
        f"({j['events'] / max(1, j['interactions']):.2f} each); {where} {j['bytes'] / 1e6:.1f} "
        f"MB: {j['snapshots']} snapshots {j['snapshot_bytes'] / 1e6:.1f} MB, the rest "
        f"{per:,.0f} B an interaction; personal data {j['personal_bytes'] / 1e6:.1f} MB"
        + (
            f"; AOF {j['aof_bytes'] / 1e6:.1f} MB, rewritten {j['aof_rewrites']} times"
            if "aof_bytes" in j
            else ""
        )
    )
    if "takeovers" in results:
        t = results["takeovers"]
        seconds = ", ".join(f"{x:.2f}" for x in t["seconds"])
        worst = max(t["seconds"])
        print(
            f"(e) takeover after SIGKILL of the leader, lease {t['lease_s']:g} s: {seconds} s "
            f"(worst {worst / t['lease_s']:.2f} leases); aim within 2 leases: "
            f"{'met' if worst <= 2 * t['lease_s'] else 'NOT met'}"
        )
        catch_up = ", ".join(f"{x:.2f}" for x in t["catch_up_s"])
        print(f"    a new standby caught up with the journal (snapshot and tail) in: {catch_up} s")
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
    parser.add_argument("--stores", default="sqlite,redis", help="sqlite, redis or both")
    parser.add_argument("--lease", type=float, default=10.0, help="[daemon] lease_s, seconds")
    parser.add_argument("--takeovers", type=int, default=3, help="standby takeovers timed")
    parser.add_argument("--log-level", default="warning", help="the daemon's (info: a line each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the journal and the daemon log")
    args = parser.parse_args()
    stores = [x.strip() for x in args.stores.split(",") if x.strip()]
    if not stores or set(stores) - {"sqlite", "redis"}:
        parser.error("--stores: sqlite, redis, or both separated by a comma")
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-bench-"))
    run: dict[str, Any] = {"machine": machine(), "command": " ".join(["python", *sys.argv])}
    daemon_cpu, load_cpu = cpus()
    run["pinning"] = (
        f"daemon on CPU {daemon_cpu}, load generator (and redis-server) on CPU {load_cpu}"
        if load_cpu is not None
        else "not pinned (one CPU)"
    )
    run["stores"] = []
    try:
        for store in stores:
            server = RedisServer(directory / "redis", load_cpu) if store == "redis" else None
            try:
                run["stores"].append(asyncio.run(bench(args, directory / store, store, server)))
                if server is not None:
                    run["stores"][-1]["redis_version"] = server.version
            finally:
                if server is not None:
                    server.stop()
    finally:
        if args.keep:
            print(f"kept: {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(run)) if args.json else show(run, args)
    failed = [r["store"] for r in run["stores"] if r["exit_status"] != 0]
    if failed:
        raise SystemExit(f"the daemon exited with a non-zero status on: {', '.join(failed)}")


if __name__ == "__main__":
    main()
