"""200 advisors signed in at once while work flows: how fast do their offers reach them?

A real daemon (``aiguillage serve``, a fresh SQLite journal in a temporary directory) runs the
reference configuration with its roster replaced by ``--advisors`` generated advisors:
``--voice-advisors`` take calls only (one at a time, then a wrap-up), the others written and
social work side by side (two of each, four at most, as ``[routing.mixing]`` allows). Two
settings are changed so that an evening run behaves like a working day compressed in time:
voice does not refuse calls outside opening hours, and its wrap-up is ``--wrap-up`` seconds.

Every advisor signs in as its browser would: its own token (minted by the admin through
``POST /v1/tokens``) is posted once to ``POST /app/session``; from then on it holds only the
session cookie and the CSRF token (no ``Authorization`` header), gets a ticket
(``POST /v1/tickets``) and opens its offers WebSocket, then sets itself available. Each advisor
has its own HTTP connection pool and cookie jar, as each person has a browser.

An integrator then submits ``--rate`` interactions a second (Poisson arrivals by default, or
``--paced``) for ``--seconds`` seconds, from each source in proportion to its yearly volume in
``[simulation.volumes]`` (about a fifth calls, a fifth written, three fifths social); each is
posted when due, whether or not earlier ones were answered. An advisor accepts each
``offer.made`` at once, handles the work for ``--handle`` seconds on average (uniform, half to
one and a half times), and closes it. After the submissions, the run waits up to ``--drain``
seconds for the work to be closed.

Measured:

- offer push latency: the instant an ``offer.made`` is read from the advisor's socket minus
  the event's ``at`` (the engine's decision instant), one machine, one clock;
- the wallboard's lag: a supervisor signed in the same way opens ``GET /v1/wallboard/live``,
  which sends JSON objects each with ``seq``, the last journal sequence it reflects; for every
  ``offer.made`` of sequence S, the instant the first wallboard message with ``seq >= S`` was
  read minus that event's ``at``. If the route is not there, the run says so and carries on;
- the client's own event-loop lag (a 10 ms ticker's delay) and CPU: all of the above runs in
  this one process, and a late ticker means late reading, which would otherwise be taken for
  a slow daemon;
- the daemon's CPU, and the integrator's ``POST /v1/interactions`` latency from each
  submission's due instant (no coordinated omission);
- how long the daemon's threads and this process's waited for a CPU (the scheduler's count):
  on a machine shared with other work, late offers may be the machine's doing.

    python benchmarks/people.py [--seconds 60] [--rate 50] [--advisors 200]
        [--voice-advisors 60] [--handle 2] [--wrap-up 1] [--paced] [--drain 15]
        [--seed 1] [--log-level warning] [--pin] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
from measure import machine, pressure, quantiles

try:
    import uvloop
except ImportError:  # pragma: no cover - a dependency of the daemon, but stay runnable without
    uvloop = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
ADMIN = secrets.token_urlsafe(24)
MOTIVES = ("general", "fares_passes", "disruptions", "lost_property")
SKILLS = "{ general = 3, fares_passes = 3, disruptions = 3, lost_property = 3 }"
TICKER_S = 0.010


def sources() -> list[tuple[str, str, int]]:
    """``(channel, source, volume)`` of config.toml: the yearly volumes of its simulation."""
    config = tomllib.loads((ROOT / "config.toml").read_text())
    volumes = config["simulation"]["volumes"]
    return [
        (channel, source, int(volumes[source]))
        for channel, settings in config["channels"].items()
        for source in settings["sources"]
        if volumes.get(source)
    ]


def roster(advisors: int, voice: int) -> str:
    """``advisors`` ``[[advisors]]`` tables: the first ``voice`` take calls, the rest the rest."""
    tables = []
    for n in range(advisors):
        capacity = (
            "{ voice = 1, written = 0, social = 0 }"
            if n < voice
            else "{ voice = 0, written = 2, social = 2 }"
        )
        tables.append(
            f'[[advisors]]\nid = "{advisor_id(n)}"\nname = "Conseiller {n + 1}"\n'
            f'languages = ["fr", "en"]\nskills = {SKILLS}\ncapacity = {capacity}\n'
        )
    return "\n".join(tables)


def advisor_id(n: int) -> str:
    return f"advisor.{n + 1:03d}"


def replace(text: str, pattern: str, new: str) -> str:
    changed, count = re.subn(pattern, new, text, count=1, flags=re.MULTILINE | re.DOTALL)
    if count != 1:
        raise SystemExit(f"config.toml: no match for {pattern!r}; this script needs updating")
    return changed


def write_config(directory: Path, args: argparse.Namespace) -> Path:
    """The reference configuration with a generated roster and the two voice settings changed."""
    text = (ROOT / "config.toml").read_text()
    text = replace(
        text,
        r"^(# --- roster -+\n).*?(?=^# --- daemon -+\n)",
        r"\g<1>" + roster(args.advisors, args.voice_advisors).replace("\\", r"\\") + "\n",
    )
    voice = r"(^\[channels\.voice\][^\n]*\n(?:(?!^\[).)*?)"
    text = replace(text, voice + r"^wrap_up_s = \d+", rf"\g<1>wrap_up_s = {args.wrap_up}")
    text = replace(text, voice + r"^refuse_when_closed = true", r"\g<1>refuse_when_closed = false")
    path = directory / "config.toml"
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Daemon:
    """``aiguillage serve`` in a subprocess, on a free loopback port, ready to serve."""

    def __init__(self, directory: Path, config: Path, log_level: str, cpu: int | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "daemon.log"
        command = [sys.executable, "-m", "aiguillage.adapters.cli.main", "serve"]
        command += ["--config", str(config), "--port", str(self.port), "--log-level", log_level]
        command += ["--store", f"sqlite:///{directory / 'journal.sqlite'}"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, AIGUILLAGE_ADMIN_TOKEN=ADMIN),
                cwd=directory,
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
        raise SystemExit(f"the daemon did not become ready: {self.log.read_text()[-3000:]}")

    def commits(self) -> list[float]:
        """The journal's [commits, seconds committing, events] so far, from /metrics."""
        names = ["aiguillage_journal_commit_seconds_" + x for x in ("count", "sum")]
        names.append("aiguillage_journal_events_total")
        lines = httpx.get(self.url + "/metrics", timeout=10).text.splitlines()
        values = dict(x.split(" ", 1) for x in lines if x and not x.startswith("#"))
        return [float(values.get(name, 0)) for name in names]

    def cpu_seconds(self) -> float:
        """User and system CPU seconds of the daemon so far, all its threads."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def waited_for_cpu(pid: int) -> float:
    """Seconds the threads of ``pid`` have spent ready to run but waiting for a CPU.

    The scheduler's own count (``/proc/PID/task/*/schedstat``, its second field), so that
    other processes on the machine taking the cores show as such, not as a slow program.
    """
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def instant(iso: str) -> float:
    """Seconds since the epoch of an ISO-8601 instant with an offset, as the API writes them."""
    return datetime.fromisoformat(iso).timestamp()


@dataclass
class Tally:
    """What the whole run saw; all instants are ``time.time()`` (the daemon's clock too)."""

    offer_latencies: list[float] = field(default_factory=list)
    offers: list[tuple[int, float]] = field(default_factory=list)
    """``(seq, at)`` of every ``offer.made``: the wallboard's lag is measured against them."""
    statuses: Counter[str] = field(default_factory=Counter)
    submit_latencies: list[float] = field(default_factory=list)
    submitted: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)
    reconnect_closes: int = 0
    ticker_lags: list[float] = field(default_factory=list)
    wallboard: list[tuple[float, int]] = field(default_factory=list)
    wallboard_status: str = "not tried"
    window_s: float = 0.0
    """How long the submissions took; ``elapsed_s`` adds the drain."""
    elapsed_s: float = 0.0
    daemon_cpu: float = 0.0
    """CPU seconds per second of ``elapsed_s``, the daemon's and this process's."""
    client_cpu: float = 0.0
    daemon_waited: float = 0.0
    """Seconds waiting for a CPU per second of ``elapsed_s``, summed over threads."""
    client_waited: float = 0.0
    load_before: list[float] = field(default_factory=list)
    pressure: dict[str, float] = field(default_factory=dict)
    """The share of ``elapsed_s`` some task of the machine waited for a CPU, for I/O."""
    commits: list[float] = field(default_factory=list)
    """Journal commits, seconds spent committing, events, over ``elapsed_s``."""


async def request(
    client: httpx.AsyncClient, tally: Tally, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """Send a request; once more if the daemon had closed the connection as it went out.

    The daemon closes a keep-alive connection idle for a few seconds (uvicorn's default: 5 s);
    a request sent on it at that very moment is met with a close (or a reset) and no answer.
    A browser then sends it again on a new connection, and so does this client, once, and
    counts it.
    """
    try:
        return await client.request(method, path, **kwargs)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        tally.statuses["sent again on a new connection"] += 1
        return await client.request(method, path, **kwargs)


async def check(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        raise SystemExit(f"{what}: {response.status_code} {response.text}")
    return response.json()


class Browser:
    """One person's browser: its own cookie jar and connections, signed in with a session."""

    def __init__(self, url: str, tally: Tally) -> None:
        self.url, self.tally = url, tally
        self.http = httpx.AsyncClient(base_url=url, timeout=30)
        self.csrf = ""

    async def sign_in(self, token: str) -> dict[str, Any]:
        answer = await check(await self.http.post("/app/session", json={"token": token}), "sign-in")
        self.csrf = answer["csrf"]
        return dict(answer)

    async def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A request as the page makes it: the cookie (from the jar) and the CSRF header."""
        headers = {"X-CSRF-Token": self.csrf}
        return await request(self.http, self.tally, method, path, json=body, headers=headers)

    async def socket_url(self, path: str) -> str:
        ticket = (await check(await self.send("POST", "/v1/tickets"), "ticket"))["ticket"]
        return self.url.replace("http://", "ws://", 1) + f"{path}?ticket={ticket}"

    async def close(self) -> None:
        await self.http.aclose()


class Advisor:
    """An advisor at its screen: takes every offer at once, works on it, closes it."""

    def __init__(self, advisor: str, browser: Browser, tally: Tally, args: argparse.Namespace):
        self.id, self.browser, self.tally = advisor, browser, tally
        self.handle_s = args.handle
        self.random = random.Random(f"{args.seed}-{advisor}")
        self.tasks: set[asyncio.Task[None]] = set()
        self.socket: Any = None

    async def connect(self) -> None:
        url = await self.browser.socket_url("/v1/offers")
        self.socket = await websockets.connect(url, ping_interval=None, max_size=None)

    async def listen(self) -> None:
        try:
            async for raw in self.socket:
                received = time.time()  # first thing: the instant the message was read
                message = json.loads(raw)
                event = message["event"]
                if event["type"] != "offer.made":
                    continue
                at = instant(event["at"])
                self.tally.offer_latencies.append(received - at)
                self.tally.offers.append((message["seq"], at))
                task = asyncio.create_task(self.work(event["offer_id"], event["interaction_id"]))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == 1013:
                self.tally.reconnect_closes += 1

    async def work(self, offer_id: int, interaction_id: int) -> None:
        try:
            await self._work(offer_id, interaction_id)
        except httpx.HTTPError as failed:
            self.tally.statuses[f"work failed: {type(failed).__name__}"] += 1

    async def _work(self, offer_id: int, interaction_id: int) -> None:
        accept = f"/v1/advisors/{self.id}/offers/{offer_id}/accept"
        answer = await self.browser.send("POST", accept)
        self.tally.statuses[f"accept {answer.status_code}"] += 1
        if answer.status_code != 200:
            return
        await asyncio.sleep(self.handle_s * self.random.uniform(0.5, 1.5))
        answer = await self.browser.send("POST", f"/v1/interactions/{interaction_id}/close", {})
        self.tally.statuses[f"close {answer.status_code}"] += 1
        if answer.status_code == 200:
            self.tally.closed.add(interaction_id)


async def mint(admin: httpx.AsyncClient, role: str, advisor: str | None = None) -> str:
    body = {"role": role, "label": "benchmark"} | ({"advisor": advisor} if advisor else {})
    return str((await check(await admin.post("/v1/tokens", json=body), "mint"))["token"])


async def ticker(tally: Tally, stop: asyncio.Event) -> None:
    """Sleep 10 ms over and over; how late each wake-up is, is how late any reading was."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(TICKER_S)
        # A timer may fire up to a millisecond early (uvloop rounds to it): early is not late.
        tally.ticker_lags.append(max(0.0, loop.time() - before - TICKER_S))


async def open_wallboard(browser: Browser, tally: Tally) -> Any:
    """The supervisor's live wallboard socket; ``None`` if the daemon has no such route."""
    try:
        url = await browser.socket_url("/v1/wallboard/live")
        connection = await websockets.connect(url, ping_interval=None, max_size=None)
    except websockets.InvalidStatus as refused:
        # The server refuses the handshake of a path it has no WebSocket route for (uvicorn
        # answers 403); a plain GET of the path says whether the route is there at all.
        plain = await browser.http.get("/v1/wallboard/live")
        status = refused.response.status_code
        tally.wallboard_status = (
            "not available (404)"
            if plain.status_code == 404
            else f"not available (handshake answered {status}, GET {plain.status_code})"
        )
        return None
    tally.wallboard_status = "connected"
    return connection


async def wallboard(connection: Any, tally: Tally, stop: asyncio.Event) -> None:
    """Read the wallboard until ``stop``, noting when each ``seq`` arrived."""
    if connection is None:
        return
    async with connection:
        reader = asyncio.ensure_future(_read_wallboard(connection, tally))
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        waiter.cancel()


async def _read_wallboard(connection: Any, tally: Tally) -> None:
    try:
        async for raw in connection:
            received = time.time()
            seq = json.loads(raw).get("seq")
            if isinstance(seq, int):
                tally.wallboard.append((received, seq))
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
        tally.wallboard_status = f"closed by the daemon ({code})"
        return
    tally.wallboard_status = "closed by the daemon"


def wallboard_lags(tally: Tally) -> tuple[list[float], int]:
    """For each offer's (seq S, at): the first wallboard message with seq >= S, minus at."""
    reached: list[int] = []
    for _, seq in tally.wallboard:
        reached.append(max(seq, reached[-1]) if reached else seq)
    lags, unmatched = [], 0
    first = tally.wallboard[0][1] if tally.wallboard else None
    for seq, at in tally.offers:
        if first is None or seq <= first:
            continue  # before the wallboard's first message: nothing to compare with
        index = bisect.bisect_left(reached, seq)
        if index == len(reached):
            unmatched += 1
        else:
            lags.append(tally.wallboard[index][0] - at)
    return lags, unmatched


async def submit_all(
    integrator: httpx.AsyncClient, tally: Tally, args: argparse.Namespace
) -> list[asyncio.Task[None]]:
    """Post ``rate`` interactions a second for ``seconds``, each when due (open loop)."""
    rng = random.Random(args.seed)
    mix = sources()
    weights = [volume for _, _, volume in mix]
    run = secrets.token_hex(4)
    loop = asyncio.get_running_loop()
    start = loop.time()
    due, n, tasks = 0.0, 0, []

    async def one(number: int, due_at: float) -> None:
        channel, source, _ = rng.choices(mix, weights)[0]
        body = {
            "channel": channel,
            "source": source,
            "external_id": f"people-{run}-{number}",
            "motive": rng.choice(MOTIVES),
            "language": "fr",
            "text": f"Bonjour, ma demande numéro {number} est en attente.",
            "customer": {"name": f"Client {number}", "email": f"client{number}@example.org"},
        }
        try:
            answer = await request(integrator, tally, "POST", "/v1/interactions", json=body)
        except httpx.HTTPError as failed:
            tally.statuses[f"submit failed: {type(failed).__name__}"] += 1
            return
        tally.submit_latencies.append(loop.time() - due_at)
        tally.statuses[f"submit {answer.status_code}"] += 1
        if answer.status_code == 201:
            tally.submitted.add(answer.json()["id"])

    while due < args.seconds:
        delay = start + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        tasks.append(asyncio.create_task(one(n, start + due)))
        due += 1 / args.rate if args.paced else rng.expovariate(args.rate)
    return tasks


async def run(args: argparse.Namespace, daemon: Daemon) -> Tally:
    url = daemon.url
    tally = Tally()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    admin = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30, limits=limits
    )
    gate = asyncio.Semaphore(16)
    ids = [advisor_id(n) for n in range(args.advisors)]

    async def minted(role: str, advisor: str | None = None) -> str:
        async with gate:
            return await mint(admin, role, advisor)

    started = time.perf_counter()
    tokens = await asyncio.gather(*(minted("advisor", a) for a in ids))
    integrator_token, supervisor_token = await minted("integrator"), await minted("supervisor")
    print(f"minted {len(tokens) + 2} tokens in {time.perf_counter() - started:.1f} s")

    advisors = [Advisor(a, Browser(url, tally), tally, args) for a in ids]

    async def arrive(advisor: Advisor, token: str) -> None:
        async with gate:
            signed = await advisor.browser.sign_in(token)
            if (signed["role"], signed["advisor_id"]) != ("advisor", advisor.id):
                raise SystemExit(f"{advisor.id} signed in as {signed}")
            await advisor.connect()
            state = f"/v1/advisors/{advisor.id}/state"
            await check(await advisor.browser.send("PUT", state, {"state": "available"}), state)

    started = time.perf_counter()
    await asyncio.gather(*(arrive(a, t) for a, t in zip(advisors, tokens, strict=True)))
    print(
        f"{len(advisors)} advisors signed in, sockets open, available in "
        f"{time.perf_counter() - started:.1f} s"
    )
    listeners = [asyncio.create_task(a.listen()) for a in advisors]

    stop = asyncio.Event()
    supervisor = Browser(url, tally)
    await supervisor.sign_in(supervisor_token)
    board = asyncio.create_task(wallboard(await open_wallboard(supervisor, tally), tally, stop))
    tick = asyncio.create_task(ticker(tally, stop))
    integrator = httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {integrator_token}"},
        timeout=30,
        limits=limits,
    )

    tally.load_before = [round(x, 2) for x in os.getloadavg()]
    commits = await asyncio.to_thread(daemon.commits)
    stalled = pressure()
    daemon_cpu = daemon.cpu_seconds()
    daemon_waited, client_waited = waited_for_cpu(daemon.process.pid), waited_for_cpu(os.getpid())
    client_cpu, wall = time.process_time(), time.perf_counter()
    submissions = await submit_all(integrator, tally, args)
    await asyncio.gather(*submissions)
    window = time.perf_counter() - wall
    drain_until = time.monotonic() + args.drain
    while tally.submitted - tally.closed and time.monotonic() < drain_until:
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - wall
    tally.pressure = {k: (v - stalled[k]) / elapsed for k, v in pressure().items() if k in stalled}
    tally.daemon_cpu = (daemon.cpu_seconds() - daemon_cpu) / elapsed
    tally.client_cpu = (time.process_time() - client_cpu) / elapsed
    tally.daemon_waited = (waited_for_cpu(daemon.process.pid) - daemon_waited) / elapsed
    tally.client_waited = (waited_for_cpu(os.getpid()) - client_waited) / elapsed
    tally.window_s, tally.elapsed_s = window, elapsed
    after = await asyncio.to_thread(daemon.commits)
    tally.commits = [b - a for a, b in zip(commits, after, strict=True)]

    stop.set()
    await asyncio.gather(board, tick)
    for advisor in advisors:
        await advisor.socket.close()
    await asyncio.gather(*listeners)
    for advisor in advisors:
        for task in list(advisor.tasks):
            task.cancel()
        await advisor.browser.close()
    await supervisor.close()
    await integrator.aclose()
    await admin.aclose()
    return tally


def report(args: argparse.Namespace, tally: Tally, exit_status: int) -> None:
    print()
    print(f"machine: {json.dumps(machine())}; load average before the run {tally.load_before}")
    loop_kind = "uvloop" if uvloop is not None else "asyncio"
    print(
        f"run: {args.advisors} advisors ({args.voice_advisors} voice), {args.rate:g}/s "
        f"{'paced' if args.paced else 'Poisson'} for {args.seconds:g} s (submitted over "
        f"{tally.window_s:.1f} s, {tally.elapsed_s:.1f} s with the drain); handling "
        f"{args.handle:g} s on average, voice wrap-up {args.wrap_up} s; client on {loop_kind}"
    )
    print(f"statuses: {dict(sorted(tally.statuses.items()))}")
    left = len(tally.submitted - tally.closed)
    print(
        f"work: {len(tally.submitted)} submitted, {len(tally.closed)} closed, "
        f"{left} not closed at the end"
        + (f", {tally.reconnect_closes} sockets closed 1013" if tally.reconnect_closes else "")
    )
    print(f"offer push latency (socket read - event at): {quantiles(tally.offer_latencies)}")
    if tally.wallboard_status.startswith("not available"):
        print(f"wallboard: {tally.wallboard_status}")
    else:
        lags, unmatched = wallboard_lags(tally)
        print(
            f"wallboard lag (first message with seq >= S - at of S): {quantiles(lags)}; "
            f"{len(tally.wallboard)} messages, {unmatched} offers never reflected; "
            f"{tally.wallboard_status}"
        )
    print(f"submit latency (POST /v1/interactions, from due): {quantiles(tally.submit_latencies)}")
    print(
        f"client loop lag (10 ms ticker's delay): {quantiles(tally.ticker_lags)}; "
        f"client CPU {tally.client_cpu:.0%} of a core, waited for a CPU "
        f"{tally.client_waited * 1000:.0f} ms/s"
    )
    print(
        f"daemon CPU: {tally.daemon_cpu:.0%} of a core, waited for a CPU "
        f"{tally.daemon_waited * 1000:.0f} ms/s (all its threads); exit status {exit_status}"
    )
    count, seconds, events = tally.commits
    print(
        f"journal: {count:.0f} commits ({count / tally.elapsed_s:.1f}/s), "
        f"{seconds / max(1, count) * 1000:.1f} ms each on average, "
        f"{events / max(1, count):.1f} events each"
    )
    print(
        "machine pressure during the run (PSI, some task waiting): "
        + ", ".join(f"{k} {v:.0%}" for k, v in tally.pressure.items())
    )
    print(f"rerun: python benchmarks/people.py {shlex.join(sys.argv[1:])}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--advisors", type=int, default=200)
    parser.add_argument("--voice-advisors", type=int, default=60)
    parser.add_argument("--handle", type=float, default=2.0, help="mean handling time, s")
    parser.add_argument("--wrap-up", type=int, default=1, help="voice wrap-up, s")
    parser.add_argument("--paced", action="store_true", help="evenly spaced, not Poisson")
    parser.add_argument("--drain", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--pin", action="store_true", help="daemon on CPU 0, client on CPU 1")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not 0 <= args.voice_advisors <= args.advisors:
        parser.error("--voice-advisors must be between 0 and --advisors")
    pinned = args.pin and (os.cpu_count() or 1) >= 2
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-people-"))
    daemon = Daemon(directory, write_config(directory, args), args.log_level, 0 if pinned else None)
    if pinned:
        os.sched_setaffinity(0, {1})
    try:
        tally = (asyncio.run if uvloop is None else uvloop.run)(run(args, daemon))
    except BaseException:
        print(f"the run failed; the daemon's log: {daemon.log}", file=sys.stderr)
        raise
    finally:
        exit_status = daemon.stop()
    report(args, tally, exit_status)
    if args.keep:
        print(f"kept: {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
