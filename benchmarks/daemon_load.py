"""The load generator of ``benchmarks/daemon.py``: POST /v1/interactions over keep-alive sockets.

Run by ``daemon.py`` as its own process, pinned to its own core; it prints one JSON object.
Each of ``--connections`` connections is a tiny HTTP/1.1 client on asyncio streams (uvloop):
it writes a request, reads the status line, the headers and a ``Content-Length`` body. Every
request submits a new interaction (a unique external id; written/e-mail and social/X
alternately; motive ``general``; a short text and a customer, so the personal-data store is
written too), with no ``received_at``: the daemon stamps it.

``--rate 0``: closed loop, each connection sends its next request when the previous one is
answered, for ``--duration`` seconds after ``--warmup`` seconds (warm-up requests are not
counted). ``--rate R``: open loop, requests are due every 1/R s whether or not earlier ones
were answered, and a latency runs from the instant its request was due, so a stalled daemon
shows as latency rather than as fewer requests (no coordinated omission).

    python benchmarks/daemon_load.py URL TOKEN PREFIX [--duration S] [--warmup S]
        [--connections N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlsplit

import uvloop

CHANNELS = ((b"written", b"email"), (b"social", b"x"))


class Load:
    def __init__(self, host: str, port: int, token: str, prefix: str) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.head = (
            f"POST /v1/interactions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.number = 0
        self.measured_from = float("inf")
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.acknowledged_all = 0

    def request(self) -> bytes:
        self.number += 1
        n = self.number
        channel, source = CHANNELS[n % 2]
        body = (
            b'{"channel":"%s","source":"%s","external_id":"%s-%d","motive":"general",'
            b'"language":"fr","text":"Bonjour, ma demande num\\u00e9ro %d est en attente.",'
            b'"customer":{"name":"Client %d","email":"client%d@example.org"}}'
            % (channel, source, self.prefix.encode(), n, n, n, n)
        )
        return self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    async def exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, since: float
    ) -> None:
        writer.write(self.request())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        if status == 201:
            self.acknowledged_all += 1
        if since >= self.measured_from:
            self.latencies.append(time.perf_counter() - since)
            self.statuses[status] += 1

    async def closed(self, until: float) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while (now := time.perf_counter()) < until:
                await self.exchange(reader, writer, now)
        finally:
            writer.close()

    async def open_worker(self, due: asyncio.Queue[float | None]) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while (since := await due.get()) is not None:
                await self.exchange(reader, writer, since)
        finally:
            writer.close()

    async def run(self, duration: float, warmup: float, connections: int, rate: float) -> float:
        """Run the load; return the measured window's length in seconds."""
        start = time.perf_counter()
        self.measured_from = start + warmup
        if rate <= 0:
            until = self.measured_from + duration
            await asyncio.gather(*(self.closed(until) for _ in range(connections)))
            return time.perf_counter() - self.measured_from
        due: asyncio.Queue[float | None] = asyncio.Queue()
        workers = [asyncio.create_task(self.open_worker(due)) for _ in range(connections)]
        for n in range(int((warmup + duration) * rate)):
            at = start + n / rate
            delay = at - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            due.put_nowait(at)
        for _ in workers:
            due.put_nowait(None)
        await asyncio.gather(*workers)
        return time.perf_counter() - self.measured_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("prefix")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args()
    parts = urlsplit(args.url)
    load = Load(parts.hostname or "127.0.0.1", parts.port or 80, args.token, args.prefix)
    cpu, wall = time.process_time(), time.perf_counter()
    window = uvloop.run(load.run(args.duration, args.warmup, args.connections, args.rate))
    samples = sorted(load.latencies) or [float("nan")]

    def at(q: float) -> float:
        return samples[min(len(samples) - 1, int(q * len(samples)))] * 1000

    result = {
        "window_s": window,
        "count": len(load.latencies),
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "acknowledged_all": load.acknowledged_all,
        "median_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_ms": samples[-1] * 1000,
        "cpu_share": (time.process_time() - cpu) / (time.perf_counter() - wall),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
