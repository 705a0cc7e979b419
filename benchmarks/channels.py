"""The mail channel against a real Dovecot and a real SMTP server: intake rate, answer latency.

Everything runs on loopback: Debian's Dovecot (``tests/adapters/channels/mail/dovecot.py``, its
own configuration and Maildir in a temporary directory), aiosmtpd in a thread of this script
(``tests/adapters/channels/mail/smtp_server.py``) and the daemon (``aiguillage serve``: the
reference config.toml with the test tokens and an ``[adapters.mail]`` table, a fresh SQLite
journal, ``--log-level warning`` so that logging does not weigh).

(1) Intake. ``--mails`` complaints, each from its own sender with its own Message-ID and a
    French text of 1 to 3 KB, are appended to the inbox (one IMAP connection, APPEND in a loop)
    before the daemon starts. From the daemon's first ``/readyz`` 200, the time until all are
    durable interactions (``aiguillage_interactions_arrived_total{channel="written"}`` in
    ``/metrics``); then the check that each external id is listed once, that the count is the
    number of mails and that the inbox is empty. The daemon's resident memory (VmRSS) at
    ``/readyz`` and after the drain; the acknowledgements of receipt (the product's default,
    one per new sender, sent through the outbox) the SMTP server had accepted by the end of the
    drain, and the time until all of them were. Aim: RSS growth under 150 MB.
(2) Answer latency. The digital advisor camille.laurent (capacity 2 for written) becomes
    available; ``--answers`` times: accept an offer, ``POST`` an answer, and time from just
    before that ``POST`` until the SMTP server accepts the mail with the answer's Message-ID
    (``message_id_for(idempotency_key(deployment, message id), domain)``); then close the
    interaction. Aim: a 99th percentile under 1 s.

    python benchmarks/channels.py [--mails N] [--answers M] [--log-level L] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiguillage.adapters.channels.mail.smtp import message_id_for  # noqa: E402
from aiguillage.adapters.daemon.outbox import idempotency_key  # noqa: E402
from tests.adapters.channels.mail.dovecot import (  # noqa: E402
    INSTALL,
    Dovecot,
    available,
    executable,
)
from tests.adapters.channels.mail.smtp_server import Received, SmtpServer  # noqa: E402
from tests.adapters.daemons import (  # noqa: E402
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    Daemon,
    write_config,
)

FROM = "reclamations@idfm.example"
DOMAIN = FROM.rpartition("@")[2]
DEPLOYMENT = "Île-de-France Mobilités — service client en débordement"
ARRIVED = re.compile(r'^aiguillage_interactions_arrived_total\{channel="written"\} (\S+)$', re.M)
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.M | re.I)
AIM_RSS_MB, AIM_P99_S = 150, 1.0

SENTENCES = [
    "Bonjour, je me permets de vous écrire au sujet de mon abonnement Navigo annuel.",
    "Mon passe a été débité deux fois ce mois-ci alors que je n'ai qu'un seul contrat.",
    "Le RER B était à l'arrêt pendant plus d'une heure à Châtelet-Les Halles mardi matin.",
    "J'ai reçu une amende dans le bus 91 alors que ma carte était bien validée.",
    "Le contrôleur n'a pas voulu regarder l'historique de validation de mon passe.",
    "Je demande le remboursement des jours où la ligne 13 était fermée pour travaux.",
    "L'ascenseur de la gare de Saint-Denis est en panne depuis trois semaines.",
    "Avec une poussette, il m'est impossible d'accéder au quai sans aide.",
    "L'application indiquait un train à l'heure, qui n'est jamais arrivé.",
    "J'ai dû prendre un taxi pour arriver à mon entretien d'embauche, à mes frais.",
    "Je joins à ce courriel la copie de mon relevé bancaire et de l'attestation employeur.",
    "Votre service client ne répond pas au téléphone aux heures indiquées sur le site.",
    "Je souhaiterais savoir sous quel délai ma demande pourra être traitée.",
    "Le conducteur a été particulièrement désagréable lorsque je lui ai demandé un ticket.",
    "Le forfait Imagine R de ma fille n'a toujours pas été renouvelé malgré le paiement.",
    "Merci de me confirmer la bonne réception de cette réclamation par retour de courriel.",
    "Les annonces sonores en gare sont inaudibles et aucun affichage n'est mis à jour.",
    "Je suis usager quotidien depuis quinze ans et je n'avais jamais eu à me plaindre.",
    "La borne de rechargement de la station Nation refuse systématiquement ma carte.",
    "Je conteste formellement ce procès-verbal et demande son annulation.",
]


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
        "dovecot": subprocess.run(
            [executable("dovecot") or "dovecot", "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }


def french_text(rng: random.Random) -> str:
    """Sentences drawn at random until the text weighs between 1 and 3 KB."""
    wanted = rng.randint(1000, 2900)
    parts: list[str] = []
    while len("\n".join(parts).encode()) < wanted:
        parts.append(rng.choice(SENTENCES))
    parts.append("Cordialement,")
    return "\r\n".join(parts)


def complaint(run_id: str, n: int, rng: random.Random) -> tuple[str, bytes]:
    """One mail: its Message-ID and its bytes, from a sender of its own."""
    message_id = f"bench-{run_id}-{n}@example.org"
    raw = (
        f"From: Client {n} <client.{n}@example.org>\r\nTo: {FROM}\r\n"
        f"Subject: Réclamation n° {n}\r\nMessage-ID: <{message_id}>\r\n"
        "Date: Fri, 04 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + french_text(rng)
        + "\r\n"
    ).encode()
    return message_id, raw


def fill_inbox(dovecot: Dovecot, count: int, run_id: str) -> tuple[set[str], int, float]:
    """APPEND ``count`` complaints over one connection; their ids, their bytes, the seconds."""
    rng = random.Random(1)
    ids, size = set(), 0
    started = time.perf_counter()
    client = dovecot.connect()
    try:
        for n in range(count):
            message_id, raw = complaint(run_id, n, rng)
            status, data = client.append("INBOX", None, None, raw)
            if status != "OK":
                raise SystemExit(f"APPEND refused: {data!r}")
            ids.add(message_id)
            size += len(raw)
    finally:
        client.logout()
    return ids, size, time.perf_counter() - started


def start_daemon(
    directory: Path, dovecot: Dovecot, smtp: SmtpServer, log_level: str
) -> tuple[Daemon, float]:
    """The daemon with the mail channel; the perf_counter instant of its first /readyz 200."""
    extra = (
        f'\n[adapters.mail]\nimap_host = "127.0.0.1"\nimap_port = {dovecot.port}\n'
        f'imap_user = "{dovecot.user}"\nimap_password_env = "MAIL_PASSWORD"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nfrom_address = "{FROM}"\n'
    )
    daemon = Daemon(directory, write_config(directory, extra))
    env = dict(os.environ, AIGUILLAGE_ADMIN_TOKEN=ADMIN, MAIL_PASSWORD=dovecot.password)
    command = [sys.executable, "-m", "aiguillage.adapters.cli.main", "serve"]
    command += ["--config", str(daemon.config), "--store", daemon.store]
    command += ["--port", str(daemon.port), "--log-level", log_level]
    with daemon.log.open("ab") as log:
        daemon.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=directory
        )
    deadline = time.monotonic() + 60
    while daemon.process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(daemon.url + "/readyz", timeout=1).status_code == 200:
                return daemon, time.perf_counter()
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    daemon.kill()
    raise SystemExit(f"the daemon did not become ready: {daemon.log.read_text()[-3000:]}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def arrived(http: httpx.Client) -> int:
    found = ARRIVED.search(http.get("/metrics").text)
    return int(float(found.group(1))) if found else 0


def external_ids(http: httpx.Client) -> list[str]:
    """Every written interaction's external id, page after page."""
    ids: list[str] = []
    after: int | None = 0
    while after is not None:
        page = http.get(
            "/v1/interactions", params={"channel": "written", "after": after, "limit": 1000}
        ).json()
        ids += [i["external_id"] for i in page["interactions"]]
        after = page["next_after"]
    return ids


class Acceptances:
    """What the SMTP server accepted, by Message-ID, with the instant; acknowledgements apart."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.at: dict[str, float] = {}
        self.acknowledgements = 0

    def __call__(self, received: Received) -> None:
        now = time.perf_counter()
        found = MESSAGE_ID.search(received.raw.split(b"\r\n\r\n", 1)[0])
        automatic = b"\nAuto-Submitted: auto-replied" in received.raw.split(b"\r\n\r\n", 1)[0]
        with self.lock:
            if automatic:
                self.acknowledgements += 1
            if found:
                self.at[found.group(1).decode()] = now
            self.lock.notify_all()

    def wait_for(self, message_id: str, timeout: float) -> float | None:
        with self.lock:
            self.lock.wait_for(lambda: message_id in self.at, timeout)
            return self.at.pop(message_id, None)


def intake(
    args: argparse.Namespace, directory: Path, dovecot: Dovecot, smtp: SmtpServer
) -> tuple[Daemon, dict[str, Any]]:
    run_id = f"{random.getrandbits(32):08x}"
    ids, size, filled = fill_inbox(dovecot, args.mails, run_id)
    result: dict[str, Any] = {"mails": len(ids), "bytes": size, "append_s": filled}
    acceptances = Acceptances()
    smtp.on_message = acceptances
    daemon, ready = start_daemon(directory, dovecot, smtp, args.log_level)
    assert daemon.process is not None
    result["rss_ready_mb"] = rss_mb(daemon.process.pid)
    with daemon.client() as http:
        result["arrived_at_ready"] = arrived(http)
        deadline = ready + args.timeout
        while (count := arrived(http)) < args.mails:
            if time.perf_counter() > deadline or daemon.process.poll() is not None:
                raise SystemExit(f"only {count} of {args.mails} mails arrived; see {daemon.log}")
            time.sleep(0.02)
        result["drain_s"] = time.perf_counter() - ready
        result["rss_drained_mb"] = rss_mb(daemon.process.pid)
        result["acks_at_drain"] = acceptances.acknowledgements
        listed = external_ids(http)
    result["listed"] = len(listed)
    result["duplicates"] = len(listed) - len(set(listed))
    result["missing"] = len(ids - set(listed))
    result["inbox_left"] = _inbox_after(dovecot, 30)
    acks_deadline = time.perf_counter() + args.timeout
    with acceptances.lock:
        acceptances.lock.wait_for(
            lambda: acceptances.acknowledgements >= args.mails,
            acks_deadline - time.perf_counter(),
        )
        result["acks"] = acceptances.acknowledgements
    result["acks_s"] = time.perf_counter() - ready
    result["rss_acked_mb"] = rss_mb(daemon.process.pid)
    with acceptances.lock:
        acceptances.at.clear()
    result["acceptances"] = acceptances
    return daemon, result


def _inbox_after(dovecot: Dovecot, timeout: float) -> int:
    """The inbox's count once it is empty, or when ``timeout`` runs out (the last MOVE lags)."""
    deadline = time.monotonic() + timeout
    while (left := len(dovecot.uids("INBOX"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def answers(daemon: Daemon, acceptances: Acceptances, count: int) -> dict[str, Any]:
    advisor_path = f"/v1/advisors/{ADVISOR_ID}"
    latencies: list[float] = []
    lost = 0
    with daemon.client(ADVISOR) as http:
        ok(http.put(f"{advisor_path}/state", json={"state": "available"}))
        for _ in range(count):
            offer = _next_offer(http, advisor_path)
            events = ok(http.post(f"{advisor_path}/offers/{offer}/accept"))["events"]
            interaction_id = next(e["interaction_id"] for e in events if "interaction_id" in e)
            sent = time.perf_counter()
            posted = ok(
                http.post(
                    f"/v1/interactions/{interaction_id}/messages",
                    json={"text": "Bonjour,\n\nNous vous remboursons sous huit jours.\n"},
                )
            )
            ours = message_id_for(idempotency_key(DEPLOYMENT, posted["message"]["id"]), DOMAIN)
            accepted = acceptances.wait_for(ours, 30)
            if accepted is None:
                lost += 1
            else:
                latencies.append(accepted - sent)
            ok(http.post(f"/v1/interactions/{interaction_id}/close", json={"reason": "answered"}))
    return summary(latencies) | {"lost": lost}


def _next_offer(http: httpx.Client, advisor_path: str) -> int:
    deadline = time.monotonic() + 30
    while not (offers := http.get(advisor_path).json()["offers"]):
        if time.monotonic() > deadline:
            raise SystemExit("no offer came to the advisor within 30 s")
        time.sleep(0.005)
    return int(offers[0])


def ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples) or [float("nan")]
    return {
        "count": len(samples),
        "p50_s": statistics.median(ordered),
        "p99_s": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max_s": ordered[-1],
    }


def show(run: dict[str, Any], args: argparse.Namespace) -> None:
    m, i, a = run["machine"], run["intake"], run["answers"]
    print(f"rerun: {run['command']}")
    print(f"machine: {m['platform']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in m['load_average'])}")
    print(f"Dovecot {m['dovecot']}; aiosmtpd in this process; daemon --log-level {args.log_level}")
    print()
    print(
        f"(1) intake: {i['mails']:,} mails ({i['bytes'] / i['mails']:,.0f} B each on average) "
        f"appended in {i['append_s']:.1f} s before the daemon started"
    )
    rate = i["mails"] / i["drain_s"]
    print(
        f"    all durable {i['drain_s']:.2f} s after /readyz: {rate:,.0f} mails/s "
        f"({i['arrived_at_ready']} had arrived by /readyz)"
    )
    print(
        f"    listed: {i['listed']:,} written interactions, {i['duplicates']} duplicates, "
        f"{i['missing']} missing; inbox left: {i['inbox_left']}"
    )
    growth = i["rss_drained_mb"] - i["rss_ready_mb"]
    print(
        f"    daemon RSS: {i['rss_ready_mb']:.0f} MB at /readyz, {i['rss_drained_mb']:.0f} MB "
        f"drained (+{growth:.0f} MB), {i['rss_acked_mb']:.0f} MB once acknowledged"
    )
    print(
        f"    acknowledgements accepted by SMTP: {i['acks_at_drain']:,} by the end of the "
        f"drain; {i['acks']:,} after {i['acks_s']:.1f} s from /readyz"
    )
    good = not (i["duplicates"] or i["missing"] or i["inbox_left"]) and i["listed"] == i["mails"]
    print(f"    exactly once, inbox empty: {'yes' if good else 'NO'}")
    verdict = "met" if growth < AIM_RSS_MB else "NOT met"
    print(f"    aim, RSS growth under {AIM_RSS_MB} MB: {verdict}")
    print()
    lost = f", {a['lost']} never accepted" if a["lost"] else ""
    print(
        f"(2) answer latency, POST of the answer to its acceptance by SMTP ({a['count']} answers"
        f"{lost}): p50 {a['p50_s'] * 1000:.0f} ms, p99 {a['p99_s'] * 1000:.0f} ms, "
        f"max {a['max_s'] * 1000:.0f} ms"
    )
    met = a["p99_s"] < AIM_P99_S and not a["lost"]
    print(f"    aim, p99 under {AIM_P99_S:g} s: {'met' if met else 'NOT met'}")
    print(f"daemon stopped with SIGTERM: exit status {run['exit_status']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=5000, help="complaints in the inbox")
    parser.add_argument("--answers", type=int, default=300, help="answers timed")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a phase may take")
    parser.add_argument("--log-level", default="warning", help="the daemon's (info: a line each)")
    parser.add_argument("--keep", action="store_true", help="keep the journal and the daemon log")
    args = parser.parse_args()
    if not available():
        raise SystemExit(f"dovecot is not installed: {INSTALL}")
    run: dict[str, Any] = {"machine": machine(), "command": " ".join(["python", *sys.argv])}
    directory = Path(tempfile.mkdtemp(prefix="aiguillage-bench-mail-"))
    dovecot = Dovecot().start()
    smtp = SmtpServer().start()
    daemon: Daemon | None = None
    try:
        daemon, run["intake"] = intake(args, directory, dovecot, smtp)
        run["answers"] = answers(daemon, run["intake"].pop("acceptances"), args.answers)
    finally:
        run["exit_status"] = daemon.stop(timeout=60) if daemon else None
        smtp.stop()
        dovecot.stop()
        if args.keep:
            print(f"kept: {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    show(run, args)
    if run["exit_status"] != 0:
        raise SystemExit(f"the daemon exited with status {run['exit_status']}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
