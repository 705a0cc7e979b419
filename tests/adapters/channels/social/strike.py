"""A strike afternoon's social deliveries, drawn from the configuration and built as the
platforms send them.

The arrival instants come from the configuration's traffic (``[simulation.volumes]`` of ``x``,
``facebook`` and ``instagram``, their ``social`` profile) and its surge (``[[simulation.surges]]``:
five times the usual for six hours), drawn by the simulator's own arrival process with the
configuration's seed. Each arrival becomes a customer's message: a Messenger or Instagram
Direct message, a Facebook or Instagram comment, an X direct message or mention, about one in
five of them a customer's follow-up in a conversation already open (the same turn: nobody
answers here). Each delivery is the platform's JSON, signed with its real algorithm; Meta's
may carry several customers' messages (``batch``).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from aiguillage.adapters.config.settings import Settings, load_config
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.instants import Instant, from_datetime
from aiguillage.simulations.workload import Mix, arrivals, streams_of
from tests.adapters.channels.meta import fake_graph
from tests.adapters.channels.x import fake_x
from tests.adapters.daemons import ROOT

MILLISECOND = 1_000
SECOND = 1_000_000
HOUR = 3600 * SECOND

NETWORKS = ("x", "facebook", "instagram")
"""The sources whose deliveries come through a webhook (LinkedIn and YouTube are polled)."""

KINDS = {"facebook": ("dm", "comment"), "instagram": ("dm", "comment"), "x": ("dm", "mention")}
FOLLOW_UP = 0.2
"""The share of arrivals that are a customer's next message in a conversation already open."""


@dataclass
class Message:
    """One customer message, and the conversation (thread) it belongs to."""

    source: str
    kind: str
    external_id: str
    received_at: Instant
    """As the platform states it (to the millisecond; a Facebook comment to the second)."""
    customer: str
    thread: str
    top: str = ""
    """A comment's top-level comment (its thread), its own id when it is one."""


@dataclass
class Delivery:
    """One POST to a webhook: its path, body and headers, and the messages it carries."""

    webhook: str
    """``meta`` or ``x``."""
    body: bytes
    headers: dict[str, str]
    messages: list[Message] = field(default_factory=list)


def surge_from_reference(start: datetime) -> str:
    """The reference configuration's surge example, as TOML, moved to ``start``."""
    text = (ROOT / "config.toml").read_text()
    match = re.search(r"^# \[\[simulation\.surges\]\]\n((?:# \w+ = .*\n)+)", text, re.MULTILINE)
    assert match is not None, "config.toml no longer gives a surge example"
    lines = ["[[simulation.surges]]"]
    for line in match.group(1).splitlines():
        key, _, value = line.removeprefix("# ").partition(" = ")
        lines.append(f"{key} = {start.isoformat() if key == 'start' else value}")
    return "\n" + "\n".join(lines) + "\n"


def settings_of(config: Path) -> Settings:
    return load_config(config).settings


def arrival_instants(
    settings: Settings, begin: datetime, end: datetime, *, surged: bool
) -> list[tuple[Instant, str]]:
    """Draw ``(instant, source)`` between ``begin`` and ``end`` as the simulator does."""
    policies = settings.policies()
    calendar = BusinessCalendar(policies.calendar)
    scenario = settings.simulation
    streams = [s for s in streams_of(policies, scenario, calendar) if s.source in NETWORKS]
    surges = scenario.surges if surged else ()
    rng = np.random.default_rng([scenario.seed, from_datetime(begin) // SECOND])
    drawn = arrivals(
        streams, Mix(), from_datetime(begin), from_datetime(end), rng, calendar, surges
    )
    return [(instant, submit.source) for instant, submit in drawn]


class Customers:
    """Who writes: new customers, and now and then one writing again in their open thread."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.open: dict[tuple[str, str], list[Message]] = {}
        self.counter = 0

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def edge(self, source: str, at: Instant) -> Message:
        """A new customer's direct message at exactly ``at``."""
        n = self.next_id()
        customer = f"{7_200_000_000_000_000 + n}"
        external_id = f"m_edge{n:06d}" if source != "x" else f"{1_830_000_000_000_000_000 + n}"
        return Message(source, "dm", external_id, at, customer, f"dm:{customer}")

    def message(self, source: str, at: Instant) -> Message:
        kind = self.rng.choice(KINDS[source])
        # A customer writes again within three hours of opening the conversation.
        earlier = [
            m for m in self.open.get((source, kind), [])[-20:] if at - m.received_at < 3 * HOUR
        ]
        n = self.next_id()
        if kind != "mention" and earlier and self.rng.random() < FOLLOW_UP:
            first = self.rng.choice(earlier)
            customer, thread, top = first.customer, first.thread, first.top
        else:
            customer = f"{7_100_000_000_000_000 + n}"
            top = ""
            thread = ""
        if kind == "dm":
            external_id = (
                f"m_strike{n:06d}" if source != "x" else f"{1_810_000_000_000_000_000 + n}"
            )
            thread = f"dm:{customer}"
        elif kind == "mention":
            external_id = f"{1_820_000_000_000_000_000 + n}"
            thread = f"post:{external_id}"
        else:
            external_id = f"1790000{n:06d}" if source == "instagram" else f"{POST_ID}_{n:06d}"
            top = top or external_id
            thread = f"comment:{top}"
        precision = SECOND if (source, kind) == ("facebook", "comment") else MILLISECOND
        message = Message(source, kind, external_id, at - at % precision, customer, thread, top)
        self.open.setdefault((source, kind), []).append(message)
        return message


POST_ID = f"{fake_graph.PAGE_ID}_880000000000001"


def delivery(message: Message) -> Delivery:
    """The platform's delivery of one message, signed."""
    body = _meta(message) if message.source != "x" else _x(message)
    if message.source == "x":
        raw = json.dumps(body, separators=(",", ":")).encode()
        return Delivery("x", raw, fake_x.signed(raw), [message])
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()
    return Delivery("meta", raw, fake_graph.signed(raw), [message])


def batch(messages: list[Message]) -> Delivery:
    """One Meta delivery of several customers' messages (Meta batches entries), signed."""
    (kind,) = {_meta(m)["object"] for m in messages}
    body = {"object": kind, "entry": [_meta(m)["entry"][0] for m in messages]}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()
    return Delivery("meta", raw, fake_graph.signed(raw), list(messages))


def _meta(message: Message) -> dict[str, Any]:
    instagram = message.source == "instagram"
    ours = fake_graph.INSTAGRAM_ID if instagram else fake_graph.PAGE_ID
    at_ms = message.received_at // MILLISECOND
    text = f"Grève : mon train est-il supprimé ? ({message.external_id})"
    entry: dict[str, Any] = {"id": ours, "time": at_ms}
    if message.kind == "dm":
        entry["messaging"] = [
            {
                "sender": {"id": message.customer},
                "recipient": {"id": ours},
                "timestamp": at_ms,
                "message": {"mid": message.external_id, "text": text},
            }
        ]
    elif instagram:
        value: dict[str, Any] = {
            "from": {"id": message.customer, "username": "usager.en.colere"},
            "media": {"id": "17900000000000001", "media_product_type": "FEED"},
            "id": message.external_id,
            "text": text,
        }
        if message.top != message.external_id:
            value["parent_id"] = message.top
        entry["changes"] = [{"field": "comments", "value": value}]
    else:
        parent = POST_ID if message.top == message.external_id else message.top
        entry["changes"] = [
            {
                "field": "feed",
                "value": {
                    "from": {"id": message.customer, "name": "Usager"},
                    "post": {"status_type": "added_photos", "id": POST_ID},
                    "message": text,
                    "post_id": POST_ID,
                    "comment_id": message.external_id,
                    "created_time": message.received_at // SECOND,
                    "item": "comment",
                    "parent_id": parent,
                    "verb": "add",
                },
            }
        ]
    return {"object": "instagram" if instagram else "page", "entry": [entry]}


def _x(message: Message) -> dict[str, Any]:
    at_ms = str(message.received_at // MILLISECOND)
    text = f"@reseau_transport grève : des bus ce soir ? ({message.external_id})"
    if message.kind == "dm":
        return {
            "for_user_id": fake_x.USER_ID,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": message.external_id,
                    "created_timestamp": at_ms,
                    "message_create": {
                        "target": {"recipient_id": fake_x.USER_ID},
                        "sender_id": message.customer,
                        "message_data": {"text": text, "entities": {"hashtags": [], "urls": []}},
                    },
                }
            ],
        }
    return {
        "for_user_id": fake_x.USER_ID,
        "tweet_create_events": [
            {
                "id_str": message.external_id,
                "text": text,
                "in_reply_to_status_id_str": None,
                "user": {"id_str": message.customer, "screen_name": "usager_en_colere"},
                "timestamp_ms": at_ms,
            }
        ],
    }
