"""Meta's webhook on loopback: signed deliveries acknowledged durably per second, and latency.

The daemon (``aiguillage serve``: the reference config.toml with the test tokens, an
``[adapters.meta]`` table, a fresh SQLite journal, ``--log-level warning``) serves the webhook
on its public listener. ``--concurrency`` keep-alive connections (a small HTTP/1.1 client on
asyncio streams, as ``daemon_load.py``'s) post ``--deliveries`` Messenger deliveries,
each a new customer's message with a French text, encoded and signed as Meta does
(``X-Hub-Signature-256`` over the raw body), as fast as they are answered; every
``--duplicate-every``-th one is posted again (Meta's retries), which must create nothing. A
delivery's acknowledgement latency runs from just before its POST until its 200, which the
channel gives once its message is durable (journal and personal-data store committed). Then
the check: ``aiguillage_interactions_arrived_total{channel="social"}`` equals the number of
distinct messages, and every delivery was answered 200.

Aims: 1,000 deliveries a second, a 99th percentile under 100 ms.

    python benchmarks/social.py [--deliveries N] [--concurrency C] [--duplicate-every K] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.measure import machine, pressure, quantiles  # noqa: E402
from tests.adapters.channels.meta import deliveries  # noqa: E402
from tests.adapters.channels.meta.fake_graph import (  # noqa: E402
    APP_ID,
    APP_SECRET,
    PAGE_ID,
    signed,
)
from tests.adapters.daemons import Daemon, free_port, write_config  # noqa: E402

ARRIVED = re.compile(r'^aiguillage_interactions_arrived_total\{channel="social"\} (\S+)$', re.M)
AIM_PER_S, AIM_P99_S = 1000.0, 0.100
TEXTS = [
    "Bonjour, le bus 91 n'est pas passé ce matin à 7 h 42, arrêt Gare d'Austerlitz.",
    "Mon passe Navigo a été débité deux fois ce mois-ci : pouvez-vous me rembourser ?",
    "Le RER B est à l'arrêt depuis 40 minutes à Châtelet, aucune annonce à bord.",
    "Où puis-je déclarer un objet perdu dans la ligne 13 hier soir ?",
]


def _daemon(directory: Path) -> tuple[Daemon, str]:
    public_port = free_port()
    token = directory / "page-token"
    token.write_text("page-token\n")
    extra = (
        f'\n[adapters.meta]\npage_id = "{PAGE_ID}"\napp_id = "{APP_ID}"\n'
        f'page_token_file = "{token}"\ngraph_url = "http://127.0.0.1:9"\n'
    )
    config = write_config(directory, extra)
    text = config.read_text()
    text = text.replace("\npublic_port = 8081 ", f"\npublic_port = {public_port} ", 1)
    config.write_text(text)
    env = {
        "AIGUILLAGE_META_APP_SECRET": APP_SECRET,
        "AIGUILLAGE_META_VERIFY_TOKEN": "benchmark-verify-token",
    }
    daemon = Daemon(directory, config, env=env)
    return daemon, f"http://127.0.0.1:{public_port}/channels/meta/webhook"


async def _load(
    host: str, port: int, path: str, requests: list[bytes], concurrency: int
) -> tuple[list[float], list[int], float]:
    """Send the prepared requests over ``concurrency`` keep-alive connections (a tiny
    HTTP/1.1 client on asyncio streams, so that the client's own work stays small)."""
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    request = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                statuses.append(int(head[9:12]))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


def _request(host: str, port: int, path: str, body: bytes) -> bytes:
    """A delivery as Meta posts it: the raw body and its signature."""
    headers = signed(body)
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: {headers['Content-Type']}\r\n"
        f"X-Hub-Signature-256: {headers['X-Hub-Signature-256']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duplicate-every", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the daemon's directory")
    args = parser.parse_args()
    print(json.dumps({"machine": machine()}, ensure_ascii=False))
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-social-"))
    daemon, url = _daemon(directory)
    daemon.start()
    try:
        at = deliveries.now_ms()
        bodies: list[bytes] = []
        distinct = 0
        for n in range(args.deliveries):
            if args.duplicate_every and n % args.duplicate_every == args.duplicate_every - 1:
                bodies.append(bodies[-1])  # Meta delivering the same message again
                continue
            delivery = deliveries.dm(f"26{n:08d}", f"m_bench_{n}", TEXTS[n % len(TEXTS)], at)
            bodies.append(deliveries.encoded(delivery))
            distinct += 1
        parts = urlsplit(url)
        host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        requests = [_request(host, port, path, body) for body in bodies]
        before = pressure()
        latencies, statuses, elapsed = uvloop.run(
            _load(host, port, path, requests, args.concurrency)
        )
        after = pressure()
        metrics = httpx.get(daemon.url + "/metrics", timeout=10).text
        found = ARRIVED.search(metrics)
        arrived = int(float(found.group(1))) if found else 0
        ok = sum(1 for s in statuses if s == 200)
        per_s = len(bodies) / elapsed
        ordered = sorted(latencies)
        p99 = ordered[int(0.99 * (len(ordered) - 1))]
        print(
            json.dumps(
                {
                    "deliveries": len(bodies),
                    "distinct_messages": distinct,
                    "concurrency": args.concurrency,
                    "answered_200": ok,
                    "interactions_arrived": arrived,
                    "seconds": round(elapsed, 2),
                    "deliveries_per_s": round(per_s, 1),
                    "ack_latency": quantiles(latencies),
                    "stalled_s": {k: round(after[k] - before.get(k, 0), 2) for k in after},
                },
                ensure_ascii=False,
            )
        )
        good = ok == len(bodies) and arrived == distinct
        print(
            f"none lost, none duplicated: {good}; "
            f"aim 1,000/s: {'met' if per_s >= AIM_PER_S else 'missed'} ({per_s:.0f}/s); "
            f"aim p99 < 100 ms: {'met' if p99 < AIM_P99_S else 'missed'} ({p99 * 1000:.1f} ms)"
        )
        return 0 if good else 1
    finally:
        daemon.kill()
        if args.keep:
            print(f"kept: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
