"""Contract test: a strike afternoon replayed through the real webhook endpoints on loopback.

The configuration's surge (``[[simulation.surges]]``: social traffic five times the usual for six
hours) is placed on a recent working day from 15:00, Paris time, so that it runs past the 20:00
close; the usual traffic of a Sunday evening and of a public holiday morning comes with it, and
four messages a millisecond before and at the closing and opening instants. Every message is a
Meta (Messenger, Instagram Direct, Facebook and Instagram comments; some deliveries carry
several customers' messages, as Meta batches them) or X (direct messages, mentions) delivery,
signed with the platform's real algorithm, posted concurrently to one daemon with the ``meta``
and ``x`` channels on a real SQLite journal; a tenth of the first deliveries of a conversation
race a copy of themselves, and a twentieth of all are delivered again once everything was
taken, as platforms retry. Then the journal is read: every delivery was acknowledged, each
message is in it once, each conversation is one interaction (no answer was given, so every
message of a customer is the same turn), and each interaction's deadline is the contract's,
computed here from the contract's words and the public-holiday calendar.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import httpx
import pytest

from aiguillage.adapters.stores.personal import keyed_id
from aiguillage.adapters.stores.sqlite.journal import read_file
from aiguillage.adapters.stores.urls import personal_path_of
from aiguillage.engine.events import InteractionArrived, InteractionRefused, MessageReceived
from aiguillage.engine.instants import Instant
from aiguillage.engine.policies import BusinessHoursSla
from tests.adapters.channels.meta import fake_graph as graph
from tests.adapters.channels.meta.fake_graph import FakeGraph
from tests.adapters.channels.social import strike
from tests.adapters.channels.social.strike import SECOND, Customers, Delivery, Message
from tests.adapters.channels.x import fake_x as x
from tests.adapters.channels.x.fake_x import FakeX
from tests.adapters.daemons import Daemon, free_port, write_config

PARIS = ZoneInfo("Europe/Paris")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = 3600 * SECOND


def contract_deadline(received: Instant) -> Instant:
    """S2 and V2 of the tender, read literally: a message received within opening hours
    (Monday to Saturday, 07:00 to 20:00 in Paris, public holidays closed) is due two hours
    later, any other four hours later; hours elapsed, whatever the wall clock does."""
    local = (EPOCH + timedelta(microseconds=received)).astimezone(PARIS)
    open_ = (
        local.weekday() <= 5
        and time(7) <= local.time() < time(20)
        and local.date() not in holidays.France(years=local.year)
    )
    return received + (2 if open_ else 4) * HOUR


def _instant(local: datetime) -> Instant:
    return (local - EPOCH) // timedelta(microseconds=1)


def _open_day(day: date) -> bool:
    return day.weekday() <= 4 and day not in holidays.France(years=day.year)


class Afternoon:
    """The days the test places its traffic on, relative to today (the journal takes
    ``received_at`` in the past only, up to ``backfill_days``)."""

    def __init__(self, today: date) -> None:
        day = today - timedelta(days=14)
        while not _open_day(day):
            day -= timedelta(days=1)
        self.strike = datetime.combine(day, time(15), PARIS)
        self.sunday = datetime.combine(day - timedelta(days=day.weekday() + 1), time(16), PARIS)
        past = sorted(
            (d for d in holidays.France(years=[today.year - 1, today.year]) if d < today),
            reverse=True,
        )
        holiday = next(d for d in past if d.weekday() <= 5 and d < today - timedelta(days=1))
        self.holiday = datetime.combine(holiday, time(10), PARIS)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeGraph, FakeX]]:
    meta, x_api = FakeGraph().start(), FakeX().start()
    try:
        yield meta, x_api
    finally:
        meta.stop()
        x_api.stop()
    assert meta.violations == [], "\n".join(meta.violations)
    assert x_api.violations == [], "\n".join(x_api.violations)


def _config(directory: Path, fakes: tuple[FakeGraph, FakeX], afternoon: Afternoon) -> Path:
    meta, x_api = fakes
    token = directory / "page-token"
    token.write_text("page-token-1\n")
    user_token = directory / "x-user-token"
    user_token.write_text("user-token-1\n")
    extra = (
        "\n[adapters.meta]\n"
        f'page_id = "{graph.PAGE_ID}"\ninstagram_id = "{graph.INSTAGRAM_ID}"\n'
        f'app_id = "{graph.APP_ID}"\npage_token_file = "{token}"\ngraph_url = "{meta.url}"\n'
        f'\n[adapters.x]\nuser_id = "{x.USER_ID}"\napp_id = "{x.APP_ID}"\nmode = "webhook"\n'
        f'user_token_file = "{user_token}"\napi_url = "{x_api.url}"\n'
        f'webhook_id = "{x.WEBHOOK_ID}"\nbearer_token_env = "AIGUILLAGE_X_BEARER"\n'
    )
    config = write_config(directory, extra)
    text = config.read_text()
    assert "\npublic_port = 8081 " in text
    text = text.replace("\npublic_port = 8081 ", f"\npublic_port = {free_port()} ", 1)
    config.write_text(text + strike.surge_from_reference(afternoon.strike))
    return config


def _messages(config: Path, afternoon: Afternoon) -> list[Message]:
    settings = strike.settings_of(config)
    (surge,) = settings.simulation.surges
    assert (surge.channel, surge.hours, surge.factor) == ("social", 6, 5)
    # The contract the expected deadlines are computed from is the configuration's.
    social = settings.channels["social"]
    assert social.sla == BusinessHoursSla(within_s=7200, outside_s=14400, reading="literal")
    hours = social.hours or settings.calendar.hours
    assert hours is not None
    assert (hours.days, hours.opens, hours.closes) == (
        ("mon", "tue", "wed", "thu", "fri", "sat"),
        time(7),
        time(20),
    )
    assert hours.closed_on_holidays
    assert settings.calendar.country == "FR"
    drawn = [
        *strike.arrival_instants(
            settings, surge.start, surge.start + timedelta(hours=6), surged=True
        ),
        *strike.arrival_instants(
            settings, afternoon.sunday, afternoon.sunday + timedelta(hours=4), surged=False
        ),
        *strike.arrival_instants(
            settings, afternoon.holiday, afternoon.holiday + timedelta(hours=4), surged=False
        ),
    ]
    customers = Customers(settings.simulation.seed)
    messages = [customers.message(source, at) for at, source in sorted(drawn)]
    closing = afternoon.strike.replace(hour=20)
    opening = (afternoon.strike + timedelta(days=1)).replace(hour=7)
    one_ms = timedelta(milliseconds=1)
    messages += [
        customers.edge("facebook", _instant(closing - one_ms)),
        customers.edge("instagram", _instant(closing)),
        customers.edge("x", _instant(opening - one_ms)),
        customers.edge("x", _instant(opening)),
    ]
    return messages


def _send(daemon_port: int, tasks: list[list[Delivery]]) -> list[tuple[Delivery, int]]:
    """Post every task's deliveries in order, the tasks side by side; return the statuses."""
    local = threading.local()
    clients: list[httpx.Client] = []
    done: list[tuple[Delivery, int]] = []
    lock = threading.Lock()

    def run(task: list[Delivery]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=10)
            with lock:
                clients.append(client)
        for delivery in task:
            url = f"http://127.0.0.1:{daemon_port}/channels/{delivery.webhook}/webhook"
            response = client.post(url, content=delivery.body, headers=delivery.headers)
            with lock:
                done.append((delivery, response.status_code))

    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(run, tasks))
    finally:
        for client in clients:
            client.close()
    return done


def test_a_strike_afternoon_through_the_webhooks_loses_nothing_and_keeps_each_clock(
    tmp_path: Path, fakes: tuple[FakeGraph, FakeX]
) -> None:
    afternoon = Afternoon(datetime.now(PARIS).date())
    config = _config(tmp_path, fakes, afternoon)
    messages = _messages(config, afternoon)
    threads: dict[tuple[str, str], list[Message]] = {}
    for message in messages:
        threads.setdefault((message.source, message.thread), []).append(message)
    rng = random.Random(17)
    deliveries: dict[str, Delivery] = {}
    lonely: dict[str, list[Message]] = {"facebook": [], "instagram": []}
    for thread in threads.values():
        first = thread[0]
        if len(thread) == 1 and first.source in lonely and rng.random() < 0.3:
            lonely[first.source].append(first)  # to share a delivery with other customers'
        else:
            deliveries |= {m.external_id: strike.delivery(m) for m in thread}
    for group in lonely.values():
        for n in range(0, len(group), 3):
            batched = strike.batch(group[n : n + 3])
            deliveries |= {m.external_id: batched for m in batched.messages}
    # Each conversation's deliveries in order, the conversations side by side; a tenth of the
    # first deliveries race their retry.
    tasks: list[list[Delivery]] = []
    scheduled: set[int] = set()
    for thread in threads.values():
        task = [deliveries[m.external_id] for m in thread]
        task = [d for d in task if id(d) not in scheduled]
        scheduled |= {id(d) for d in task}
        if task:
            tasks.append(task)
            if rng.random() < 0.1:
                tasks.append([task[0]])
    rng.shuffle(tasks)
    unique = list({id(d): d for d in deliveries.values()}.values())
    retried = rng.sample(unique, len(unique) // 20)

    daemon = Daemon(
        tmp_path,
        config,
        env={
            "AIGUILLAGE_META_APP_SECRET": graph.APP_SECRET,
            "AIGUILLAGE_META_VERIFY_TOKEN": "verify-token-for-tests",
            "AIGUILLAGE_X_CONSUMER_SECRET": x.CONSUMER_SECRET,
            "AIGUILLAGE_X_BEARER": "app-bearer-1",
        },
    )
    public_port = int(config.read_text().split("\npublic_port = ", 1)[1].split()[0])
    daemon.start()
    try:
        statuses = _send(public_port, tasks)
        statuses += _send(public_port, [[d] for d in retried])
    finally:
        assert daemon.stop() == 0

    posted = sum(len(task) for task in tasks) + len(retried)
    assert len(statuses) == posted
    refused = [(d.messages[0].external_id, status) for d, status in statuses if status != 200]
    assert refused == [], "every delivery acknowledged"

    arrived: dict[int, InteractionArrived] = {}
    received: Counter[tuple[str, str]] = Counter()
    interaction_of: dict[tuple[str, str], int] = {}
    for record in read_file(daemon.journal):
        event = record.event
        assert not isinstance(event, InteractionRefused), event
        if isinstance(event, InteractionArrived):
            arrived[event.interaction_id] = event
        elif isinstance(event, MessageReceived):
            received[(event.source, event.external_id)] += 1
            interaction_of[(event.source, event.external_id)] = event.interaction_id

    # The journal holds each platform's id keyed (personal data): key the ones sent alike.
    with sqlite3.connect(personal_path_of(daemon.journal)) as personal:
        ((key,),) = personal.execute(
            "SELECT value FROM secrets WHERE name = 'external_id_key'"
        ).fetchall()
    journaled = {m.external_id: keyed_id(bytes(key), m.external_id) for m in messages}
    sent = {(m.source, journaled[m.external_id]) for m in messages}
    assert set(received) == sent, "none lost, none taken that was not sent"
    assert [key for key, n in received.items() if n > 1] == [], "none twice"
    assert len(arrived) == len(threads), "one interaction per customer turn"
    kinds = Counter((m.source, m.kind) for m in messages)
    clocks: Counter[int] = Counter()
    for (source, thread), thread_messages in threads.items():
        first = thread_messages[0]
        (interaction_id,) = {
            interaction_of[(source, journaled[m.external_id])] for m in thread_messages
        }
        interaction = arrived[interaction_id]
        assert (interaction.source, interaction.thread) == (source, thread)
        assert interaction.external_id == journaled[first.external_id]
        assert interaction.received_at == first.received_at
        assert interaction.deadline == contract_deadline(first.received_at), first
        clocks[(interaction.deadline - interaction.received_at) // HOUR] += 1

    # The afternoon is what the configuration makes it: a surge of several hundred messages,
    # every kind of message, both clocks, and the edges of the opening hours on each side.
    assert len(messages) > 400, len(messages)
    assert set(kinds) == {
        ("facebook", "dm"),
        ("facebook", "comment"),
        ("instagram", "dm"),
        ("instagram", "comment"),
        ("x", "dm"),
        ("x", "mention"),
    }
    assert clocks[2] > 100, clocks
    assert clocks[4] > 100, clocks
    assert len(messages) > len(threads), "some customers wrote more than once in a turn"
    assert any(len(d.messages) > 1 for d in unique), "some deliveries carry several customers'"
