"""Prometheus metrics: counters fed by committed events, gauges read from the state at scrape time.

Counters move only when the runtime tells ``Metrics.observe`` about events it has made durable,
so a metric never counts work the journal could still lose; events replayed at start-up are not
observed again (a counter starts at zero with the process, and Prometheus reads the reset as
one). Gauges (queue lengths, the oldest wait, advisors by state) are not kept up to date event
by event: ``render`` reads them from the engine's state when Prometheus scrapes, which costs one
pass over the waiting interactions (about a millisecond for ten thousand) every scrape instead
of work on every event.

Each ``Metrics`` has its own ``CollectorRegistry``, not prometheus_client's global one, so that
tests and several runtimes in one process never share or collide on a series.

Metrics (label values in braces)::

    aiguillage_interactions_arrived_total{channel}          interactions received
    aiguillage_interactions_refused_total{channel,reason}   submissions turned away (closed:
                                                            outside opening hours), each key
                                                            once
    aiguillage_offers_total{channel, outcome}               offers made, accepted, declined,
                                                            expired, revoked
    aiguillage_sla_warnings_total{channel}                  SLA warning timers fired
    aiguillage_sla_breaches_total{channel}                  SLA deadlines missed
    aiguillage_interactions_closed_total{channel}           interactions closed
    aiguillage_journal_commit_seconds                       time to make a batch durable
    aiguillage_journal_events_total                         events made durable
    aiguillage_queue_waiting{channel}                       interactions waiting now
    aiguillage_queue_oldest_wait_seconds{channel}           wait of the longest waiting one
    aiguillage_advisors{state}                              advisors by state
    aiguillage_ready                                        1 when the daemon accepts commands
    aiguillage_journal_up                                   1 when the journal accepts writes
    aiguillage_adapter_up{adapter}                          1 when the adapter runs, 0 while it
                                                            waits to restart after a failure
    aiguillage_adapter_restarts_total{adapter}              restarts after a failure
    aiguillage_messages_total{channel,outcome}              answers and acknowledgements:
                                                            posted, sent, failed (each failed
                                                            attempt), gave_up, bounced
    aiguillage_outbox_waiting{channel}                      answers posted and not sent yet
    aiguillage_channel_health{adapter,health}               1 for the health a channel reports
    aiguillage_channel_quota_left{adapter}                  units of its daily quota a polling
                                                            channel has left
    aiguillage_channel_requests_total{adapter,status}       deliveries to a channel's public
                                                            routes, by the status answered
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aiguillage.engine.commands import AdvisorState
from aiguillage.engine.errors import ChannelClosed
from aiguillage.engine.events import (
    Event,
    InteractionArrived,
    InteractionClosed,
    InteractionMoved,
    InteractionRefused,
    InteractionTransferred,
    MessageBounced,
    MessageFailed,
    MessagePosted,
    MessageSent,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferRevoked,
    SlaBreached,
    SlaWarning,
)
from aiguillage.engine.instants import SECOND, Instant
from aiguillage.engine.policies import CHANNELS
from aiguillage.engine.state import State

__all__ = [
    "ADVISOR_STATES",
    "COMMIT_BUCKETS",
    "CONTENT_TYPE",
    "MESSAGE_OUTCOMES",
    "OFFER_OUTCOMES",
    "UNKNOWN_CHANNEL",
    "ChannelOf",
    "Metrics",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of what ``Metrics.render`` returns (Prometheus text format 0.0.4)."""

COMMIT_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
"""Seconds: from a write-back cache's fsync (half a millisecond) to a struggling disk (1 s)."""

OFFER_OUTCOMES: tuple[str, ...] = ("made", "accepted", "declined", "expired", "revoked")
MESSAGE_OUTCOMES: tuple[str, ...] = ("posted", "sent", "failed", "gave_up", "bounced")
_MESSAGE_OUTCOME: dict[type, str] = {
    MessageSent: "sent",
    MessageFailed: "failed",
    MessageBounced: "bounced",
}

UNKNOWN_CHANNEL = "unknown"
"""The channel label of an event whose interaction's channel nobody could tell."""

ADVISOR_STATES: tuple[str, ...] = get_args(AdvisorState)

ChannelOf = Callable[[int], str | None]
"""Interaction id -> its channel, or ``None`` when unknown (the runtime reads the state)."""

_OFFER_OUTCOME: dict[type[Event], str] = {
    OfferMade: "made",
    OfferAccepted: "accepted",
    OfferDeclined: "declined",
    OfferExpired: "expired",
    OfferRevoked: "revoked",
}


class Metrics:
    """The daemon's metrics, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.arrived = Counter(
            "aiguillage_interactions_arrived",
            "Interactions received, by channel.",
            ["channel"],
            registry=registry,
        )
        self.refused = Counter(
            "aiguillage_interactions_refused",
            "Submissions turned away, by channel and reason (closed: outside opening hours).",
            ["channel", "reason"],
            registry=registry,
        )
        self.offers = Counter(
            "aiguillage_offers",
            "Offers by channel and outcome (made, accepted, declined, expired, revoked).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.sla_warnings = Counter(
            "aiguillage_sla_warnings",
            "SLA warning timers fired, by channel.",
            ["channel"],
            registry=registry,
        )
        self.sla_breaches = Counter(
            "aiguillage_sla_breaches",
            "SLA deadlines missed before a first response, by channel.",
            ["channel"],
            registry=registry,
        )
        self.closed = Counter(
            "aiguillage_interactions_closed",
            "Interactions closed, by channel.",
            ["channel"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "aiguillage_journal_commit_seconds",
            "Seconds to make one batch of events durable in the journal.",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self.journal_events = Counter(
            "aiguillage_journal_events",
            "Events made durable in the journal.",
            registry=registry,
        )
        self.waiting = Gauge(
            "aiguillage_queue_waiting",
            "Interactions waiting in the channel's queue now.",
            ["channel"],
            registry=registry,
        )
        self.oldest_wait = Gauge(
            "aiguillage_queue_oldest_wait_seconds",
            "Seconds the longest waiting interaction of the channel has waited in its queue "
            "(since it last entered it: arrival, transfer or the principal's answer); 0 when "
            "none waits.",
            ["channel"],
            registry=registry,
        )
        self.advisors = Gauge(
            "aiguillage_advisors",
            "Advisors in the roster, by state.",
            ["state"],
            registry=registry,
        )
        self.ready = Gauge(
            "aiguillage_ready",
            "1 when the daemon accepts commands, else 0.",
            registry=registry,
        )
        self.journal_up = Gauge(
            "aiguillage_journal_up",
            "1 when the journal accepts writes, else 0.",
            registry=registry,
        )
        self.leader = Gauge(
            "aiguillage_leader",
            "1 while this daemon leads (writes) its journal; 0 for a standby, or while rebuilding.",
            registry=registry,
        )
        self.epoch = Gauge(
            "aiguillage_journal_epoch",
            "The writer's epoch (fencing token) under which this daemon last led its journal.",
            registry=registry,
        )
        # The adapters' series: the supervisor creates one per enabled adapter, by its name.
        self.adapter_up = Gauge(
            "aiguillage_adapter_up",
            "1 when the adapter runs, 0 while it waits to be restarted after a failure.",
            ["adapter"],
            registry=registry,
        )
        self.adapter_restarts = Counter(
            "aiguillage_adapter_restarts",
            "Restarts of the adapter after a failure.",
            ["adapter"],
            registry=registry,
        )
        self.messages = Counter(
            "aiguillage_messages",
            "Answers and acknowledgements: posted, sent, failed (each failed attempt), "
            "gave_up (failed for good), bounced.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.retention_removed = Counter(
            "aiguillage_retention_removed",
            "What the daily retention pass removed, per category of personal data (pieces of "
            "messages, pieces with attachments, access-log entries).",
            ["category"],
            registry=registry,
        )
        self.outbox_waiting = Gauge(
            "aiguillage_outbox_waiting",
            "Answers and acknowledgements posted and not sent yet.",
            ["channel"],
            registry=registry,
        )
        self.channel_health = Gauge(
            "aiguillage_channel_health",
            "1 for the health a channel reports: ok, degraded or needs_reauthorisation.",
            ["adapter", "health"],
            registry=registry,
        )
        self.channel_quota_left = Gauge(
            "aiguillage_channel_quota_left",
            "Units of its platform's daily quota a polling channel has left (answers included).",
            ["adapter"],
            registry=registry,
        )
        self.channel_requests = Counter(
            "aiguillage_channel_requests",
            "Deliveries to a channel's routes on the public listener, by the status answered.",
            ["adapter", "status"],
            registry=registry,
        )
        # Every series exists from the start at zero, so that rate() and alerts see the first
        # increase instead of a series appearing from nowhere.
        for channel in CHANNELS:
            for counter in (self.arrived, self.sla_warnings, self.sla_breaches, self.closed):
                counter.labels(channel=channel)
            self.refused.labels(channel=channel, reason=ChannelClosed.reason)
            for outcome in OFFER_OUTCOMES:
                self.offers.labels(channel=channel, outcome=outcome)
            for outcome in MESSAGE_OUTCOMES:
                self.messages.labels(channel=channel, outcome=outcome)

    def observe(self, events: Sequence[Event], channel_of: ChannelOf | None = None) -> None:
        """Count events the journal has made durable.

        An event that does not carry its channel takes it from an arrival, a transfer or a move
        earlier in the same batch, else from ``channel_of``, else it is counted under
        ``unknown``.
        """
        learned: dict[int, str] = {}

        def channel(interaction_id: int) -> str:
            known = learned.get(interaction_id)
            if known is None and channel_of is not None:
                known = channel_of(interaction_id)
            return UNKNOWN_CHANNEL if known is None else known

        for event in events:
            if isinstance(event, InteractionArrived):
                learned[event.interaction_id] = event.channel
                self.arrived.labels(channel=event.channel).inc()
            elif isinstance(event, InteractionRefused):
                self.refused.labels(channel=event.channel, reason=event.reason).inc()
            elif isinstance(event, InteractionTransferred | InteractionMoved):
                learned[event.interaction_id] = event.channel
            elif isinstance(
                event, OfferMade | OfferAccepted | OfferDeclined | OfferExpired | OfferRevoked
            ):
                self.offers.labels(
                    channel=channel(event.interaction_id), outcome=_OFFER_OUTCOME[type(event)]
                ).inc()
            elif isinstance(event, SlaWarning):
                self.sla_warnings.labels(channel=channel(event.interaction_id)).inc()
            elif isinstance(event, SlaBreached):
                self.sla_breaches.labels(channel=channel(event.interaction_id)).inc()
            elif isinstance(event, InteractionClosed):
                self.closed.labels(channel=channel(event.interaction_id)).inc()
            elif isinstance(event, MessagePosted):
                if event.kind in ("answer", "acknowledgement"):
                    self.messages.labels(
                        channel=channel(event.interaction_id), outcome="posted"
                    ).inc()
            elif isinstance(event, MessageSent | MessageFailed | MessageBounced):
                outcome = _MESSAGE_OUTCOME[type(event)]
                if isinstance(event, MessageFailed) and event.retry_at is None:
                    outcome = "gave_up"
                self.messages.labels(channel=channel(event.interaction_id), outcome=outcome).inc()

    def observe_commit(self, seconds: float, events: int) -> None:
        """Record one durable append: how long it took and how many events it held."""
        self.commit_seconds.observe(seconds)
        self.journal_events.inc(events)

    def render(self, state: State | None, now: Instant, *, ready: bool, journal_ok: bool) -> bytes:
        """Refresh the gauges from the state at ``now`` and return the text exposition.

        ``state`` is ``None`` while the daemon has none it trusts (starting, or rebuilding
        after the journal failed): the queue and advisor gauges are then left out rather than
        reported stale.
        """
        self.ready.set(1 if ready else 0)
        self.journal_up.set(1 if journal_ok else 0)
        if state is None:
            self.waiting.clear()
            self.oldest_wait.clear()
            self.advisors.clear()
            self.outbox_waiting.clear()
        else:
            self._refresh_queues(state, now)
            self._refresh_advisors(state)
            self._refresh_outbox(state)
        return generate_latest(self.registry)

    def _refresh_queues(self, state: State, now: Instant) -> None:
        # One pass over the waiting interactions only (the queue index), never all of them.
        since: dict[str, Instant] = {}
        interactions = state.interactions
        for interaction_id, (_, subqueue) in state.queues.live.items():
            interaction = interactions[interaction_id]
            entered = max(interaction.received_at, interaction.relax_from)
            channel = subqueue.channel
            oldest = since.get(channel)
            if oldest is None or entered < oldest:
                since[channel] = entered
        for channel in CHANNELS:
            self.waiting.labels(channel=channel).set(state.queues.waiting(channel))
            first = since.get(channel)
            wait = 0.0 if first is None else max(0, now - first) / SECOND
            self.oldest_wait.labels(channel=channel).set(wait)

    def _refresh_outbox(self, state: State) -> None:
        counts = dict.fromkeys(CHANNELS, 0)
        for message in state.outbox.values():
            interaction = state.interactions.get(message.interaction_id)
            if interaction is not None:
                counts[interaction.channel] = counts.get(interaction.channel, 0) + 1
        for channel, count in counts.items():
            self.outbox_waiting.labels(channel=channel).set(count)

    def _refresh_advisors(self, state: State) -> None:
        counts = dict.fromkeys(ADVISOR_STATES, 0)
        for advisor in state.advisors.values():
            counts[advisor.state] = counts.get(advisor.state, 0) + 1
        for advisor_state, count in counts.items():
            self.advisors.labels(state=advisor_state).set(count)
