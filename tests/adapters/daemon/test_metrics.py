"""Tests for the daemon's metrics: counters from a real engine's events, gauges from its state."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiguillage.adapters.daemon.metrics import CONTENT_TYPE, Metrics
from aiguillage.engine.commands import (
    Accept,
    Close,
    Command,
    Decline,
    Move,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import ChannelClosed
from aiguillage.engine.events import Event
from aiguillage.engine.instants import SECOND, Instant
from tests.engine.conftest import TUESDAY_10H, add_advisor, make_policies


def _value(text: bytes, name: str, **labels: str) -> float:
    """Return the value of the one sample with that name and those labels."""
    found = [
        sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
        if sample.name == name and sample.labels == labels
    ]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return found[0]


def _names(text: bytes) -> set[str]:
    return {
        sample.name
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


class _Day:
    """A real engine driven by commands, whose events all reach the metrics, as the runtime does."""

    def __init__(self, metrics: Metrics) -> None:
        self.engine = Engine()
        self.metrics = metrics
        self.run(SetPolicies(policies=make_policies()), 0)
        add_advisor(self.engine, "alice", TUESDAY_10H, capacity={"voice": 1})
        add_advisor(self.engine, "bob", TUESDAY_10H, capacity={"written": 2}, available=False)
        add_advisor(self.engine, "carol", TUESDAY_10H, capacity={"social": 1})
        self.run(SetAdvisorState(advisor_id="carol", state="not_ready"), 0)

    def channel_of(self, interaction_id: int) -> str | None:
        interaction = self.engine.state.interactions.get(interaction_id)
        return None if interaction is None else interaction.channel

    def _observe(self, events: list[Event]) -> list[Event]:
        self.metrics.observe(events, self.channel_of)
        return events

    def run(self, command: Command, seconds: float) -> list[Event]:
        now = self.at(seconds)
        return self._observe(self.engine.advance(now) + self.engine.handle(command, now))

    def advance(self, seconds: float) -> list[Event]:
        return self._observe(self.engine.advance(self.at(seconds)))

    @staticmethod
    def at(seconds: float) -> Instant:
        return TUESDAY_10H + round(seconds * SECOND)


@pytest.fixture
def day() -> _Day:
    """Three minutes of a morning with every kind of offer outcome, a breach and a close.

    Calls c1 and c2 arrive for alice (voice); she declines c1, lets c2's offer expire, then
    takes c1 and closes it, and logs out. Carol (social) is offered s1 and pauses at once,
    which revokes the offer. Bob (written) stays logged out. c2 (voice), w1 (written) and s1
    (social) are left waiting; c2 breaches its 180 s deadline.
    """
    day = _Day(Metrics())
    day.run(Submit(channel="voice", source="phone", external_id="c1"), 0)  # offer 1
    day.run(Decline(advisor_id="alice", offer_id=1), 5)
    day.run(Submit(channel="voice", source="phone", external_id="c2"), 10)  # offer 2
    day.run(Submit(channel="written", source="email", external_id="w1"), 20)
    day.run(Submit(channel="social", source="x", external_id="s1"), 30)  # offer 2 expires
    day.advance(40)  # c1 again to alice: offer 3
    day.run(Accept(advisor_id="alice", offer_id=3), 41)
    day.run(SetAdvisorState(advisor_id="carol", state="available"), 45)  # offer 4
    day.run(SetAdvisorState(advisor_id="carol", state="not_ready"), 46)  # offer 4 revoked
    day.run(Close(advisor_id="alice", interaction_id=1), 50)
    day.run(SetAdvisorState(advisor_id="alice", state="offline"), 50)
    day.advance(200)  # c2: SLA warning at 154 s, breach at 190 s
    return day


def _render(day: _Day, seconds: float = 200, *, ready: bool = True) -> bytes:
    return day.metrics.render(day.engine.state, day.at(seconds), ready=ready, journal_ok=True)


def test_arrivals_are_counted_by_channel(day: _Day) -> None:
    text = _render(day)
    assert _value(text, "aiguillage_interactions_arrived_total", channel="voice") == 2
    assert _value(text, "aiguillage_interactions_arrived_total", channel="written") == 1
    assert _value(text, "aiguillage_interactions_arrived_total", channel="social") == 1


def test_refusals_are_counted_by_channel_and_reason() -> None:
    day = _Day(Metrics())
    sunday = TUESDAY_10H + 5 * 86_400 * SECOND
    with pytest.raises(ChannelClosed) as refused:
        day.engine.handle(Submit(channel="voice", source="phone", external_id="c1"), sunday)
    day.metrics.observe([refused.value.event], day.channel_of)
    text = day.metrics.render(day.engine.state, sunday, ready=True, journal_ok=True)
    refusals = "aiguillage_interactions_refused_total"
    assert _value(text, refusals, channel="voice", reason="closed") == 1
    assert _value(text, refusals, channel="written", reason="closed") == 0
    assert _value(text, "aiguillage_interactions_arrived_total", channel="voice") == 0


@pytest.mark.parametrize(
    ("channel", "outcome", "count"),
    [
        ("voice", "made", 3),
        ("voice", "accepted", 1),
        ("voice", "declined", 1),
        ("voice", "expired", 1),
        ("voice", "revoked", 0),
        ("social", "made", 1),
        ("social", "revoked", 1),
        ("written", "made", 0),
    ],
)
def test_offers_are_counted_by_channel_and_outcome(
    day: _Day, channel: str, outcome: str, count: int
) -> None:
    text = _render(day)
    assert _value(text, "aiguillage_offers_total", channel=channel, outcome=outcome) == count


def test_sla_warnings_breaches_and_closes_are_counted_by_channel(day: _Day) -> None:
    text = _render(day)
    assert _value(text, "aiguillage_sla_warnings_total", channel="voice") == 1
    assert _value(text, "aiguillage_sla_breaches_total", channel="voice") == 1
    assert _value(text, "aiguillage_sla_breaches_total", channel="written") == 0
    assert _value(text, "aiguillage_interactions_closed_total", channel="voice") == 1


def test_queue_gauges_read_the_waiting_work_at_scrape_time(day: _Day) -> None:
    text = _render(day, 200)
    for channel in ("voice", "written", "social"):
        assert _value(text, "aiguillage_queue_waiting", channel=channel) == 1
    # c2 arrived at 10 s (an expired offer does not restart its wait), w1 at 20 s, s1 at 30 s.
    assert _value(text, "aiguillage_queue_oldest_wait_seconds", channel="voice") == 190
    assert _value(text, "aiguillage_queue_oldest_wait_seconds", channel="written") == 180
    assert _value(text, "aiguillage_queue_oldest_wait_seconds", channel="social") == 170
    later = _render(day, 260)
    assert _value(later, "aiguillage_queue_oldest_wait_seconds", channel="voice") == 250


def test_the_oldest_wait_is_zero_for_an_empty_queue() -> None:
    day = _Day(Metrics())
    text = _render(day, 0)
    assert _value(text, "aiguillage_queue_waiting", channel="voice") == 0
    assert _value(text, "aiguillage_queue_oldest_wait_seconds", channel="voice") == 0


def test_a_transferred_interaction_waits_from_its_transfer() -> None:
    day = _Day(Metrics())
    day.run(Submit(channel="voice", source="phone", external_id="c1"), 0)
    day.run(Accept(advisor_id="alice", offer_id=1), 1)
    day.run(Transfer(advisor_id="alice", interaction_id=1, channel="written"), 60)
    text = _render(day, 100)
    assert _value(text, "aiguillage_queue_waiting", channel="written") == 1
    assert _value(text, "aiguillage_queue_oldest_wait_seconds", channel="written") == 40
    assert _value(text, "aiguillage_queue_waiting", channel="voice") == 0


def test_advisors_are_counted_by_state(day: _Day) -> None:
    text = _render(day)
    assert _value(text, "aiguillage_advisors", state="offline") == 2
    assert _value(text, "aiguillage_advisors", state="not_ready") == 1
    assert _value(text, "aiguillage_advisors", state="available") == 0
    assert _value(text, "aiguillage_advisors", state="wrap_up") == 0


def test_readiness_and_journal_health_are_reported(day: _Day) -> None:
    state = day.engine.state
    up = day.metrics.render(state, day.at(200), ready=True, journal_ok=True)
    assert _value(up, "aiguillage_ready") == 1
    assert _value(up, "aiguillage_journal_up") == 1
    down = day.metrics.render(state, day.at(200), ready=False, journal_ok=False)
    assert _value(down, "aiguillage_ready") == 0
    assert _value(down, "aiguillage_journal_up") == 0


def test_without_a_state_the_state_gauges_are_left_out_not_stale(day: _Day) -> None:
    _render(day)
    text = day.metrics.render(None, day.at(200), ready=False, journal_ok=False)
    names = _names(text)
    assert "aiguillage_queue_waiting" not in names
    assert "aiguillage_queue_oldest_wait_seconds" not in names
    assert "aiguillage_advisors" not in names
    assert _value(text, "aiguillage_ready") == 0
    assert _value(text, "aiguillage_interactions_arrived_total", channel="voice") == 2
    assert _value(_render(day), "aiguillage_queue_waiting", channel="voice") == 1


def test_an_event_without_its_channel_takes_it_from_its_batch_then_the_lookup() -> None:
    day = _Day(Metrics())
    events = day.engine.handle(
        Submit(channel="voice", source="phone", external_id="c1"), TUESDAY_10H
    )
    offer_made = events[1]
    metrics = Metrics()
    metrics.observe(events)  # the arrival in the batch tells the offer's channel
    metrics.observe([offer_made], lambda _: "social")
    metrics.observe([offer_made])  # nobody can tell
    text = metrics.render(None, 0, ready=True, journal_ok=True)
    assert _value(text, "aiguillage_offers_total", channel="voice", outcome="made") == 1
    assert _value(text, "aiguillage_offers_total", channel="social", outcome="made") == 1
    assert _value(text, "aiguillage_offers_total", channel="unknown", outcome="made") == 1


def test_an_offer_after_a_move_to_another_channel_is_counted_in_that_channel() -> None:
    day = _Day(Metrics())
    add_advisor(day.engine, "A1", TUESDAY_10H)
    day.engine.handle(Submit(channel="written", source="email", external_id="m1"), TUESDAY_10H)
    add_advisor(day.engine, "A2", TUESDAY_10H)  # takes it: A1 just lost it
    events = day.engine.handle(
        Move(interaction_id=1, channel="social", by="token:1", reason="rebalance"), TUESDAY_10H
    )
    assert [type(e).__name__ for e in events] == ["OfferRevoked", "InteractionMoved", "OfferMade"]
    metrics = Metrics()
    metrics.observe(events, lambda _: "written")  # what the state said before the move
    text = metrics.render(None, 0, ready=True, journal_ok=True)
    assert _value(text, "aiguillage_offers_total", channel="written", outcome="revoked") == 1
    assert _value(text, "aiguillage_offers_total", channel="social", outcome="made") == 1


def test_every_counter_series_exists_at_zero_from_the_start() -> None:
    text = Metrics().render(None, 0, ready=False, journal_ok=False)
    assert _value(text, "aiguillage_offers_total", channel="written", outcome="revoked") == 0
    assert _value(text, "aiguillage_sla_breaches_total", channel="social") == 0
    assert _value(text, "aiguillage_journal_events_total") == 0


def test_journal_commits_fill_the_histogram_and_count_events() -> None:
    metrics = Metrics()
    metrics.observe_commit(0.003, 5)
    metrics.observe_commit(0.0004, 2)
    text = metrics.render(None, 0, ready=True, journal_ok=True)
    assert _value(text, "aiguillage_journal_events_total") == 7
    assert _value(text, "aiguillage_journal_commit_seconds_count") == 2
    assert _value(text, "aiguillage_journal_commit_seconds_bucket", le="0.0005") == 1
    assert _value(text, "aiguillage_journal_commit_seconds_bucket", le="0.0025") == 1
    assert _value(text, "aiguillage_journal_commit_seconds_bucket", le="0.005") == 2
    assert _value(text, "aiguillage_journal_commit_seconds_bucket", le="1.0") == 2


def test_two_instances_keep_separate_series() -> None:
    first, second = Metrics(), Metrics()
    first.observe_commit(0.001, 3)
    text = second.render(None, 0, ready=True, journal_ok=True)
    assert _value(text, "aiguillage_journal_events_total") == 0


def test_ten_thousand_waiting_interactions_render_as_two_gauges_per_channel() -> None:
    day = _Day(Metrics())
    for number in range(10_000):
        day.engine.handle(
            Submit(channel="written", source="webform", external_id=f"w{number}"),
            day.at(number / 100),
        )
    text = _render(day, 200)
    assert _value(text, "aiguillage_queue_waiting", channel="written") == 10_000
    assert _value(text, "aiguillage_queue_oldest_wait_seconds", channel="written") == 200
    # Aggregates, not a series per interaction: the scrape does not grow with the queue.
    assert b"w9999" not in text
    assert text.count(b"aiguillage_queue_waiting{") == 3


def test_the_content_type_names_the_text_format() -> None:
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
