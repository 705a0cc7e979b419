"""April 2027's availability from a journal written by hand, every figure worked out by hand.

The calendar is the default one: Europe/Paris (+02:00 all April), open Monday to Saturday
07:00-20:00, closed on public holidays (none in April 2027: Easter Monday is 29 March). April
2027 starts on a Thursday and has four Sundays (4, 11, 18, 25): 26 open days of 13 h, so
338 h = 1,216,800 s of opening time.

The service's outages, and their part in April's opening hours:

- crashed Wednesday 31 March 19:00 (its last liveness mark), restarted Thursday 1 April 07:30:
  7 h 30 in April, 30 min open (07:00-07:30);
- crashed Tuesday 6 April 09:10, restarted 09:40: 30 min, all open;
- stopped Wednesday 7 April 19:30, started Thursday 8 April 07:15: 11 h 45, 45 min open
  (19:30-20:00 and 07:00-07:15);
- journal lost Tuesday 13 April 10:00, regained 10:20: 20 min, all open;
- crashed Tuesday 20 April 19:45, restarted Wednesday 21 April 08:00: 12 h 15, 75 min open;
- crashed Sunday 25 April 03:00, restarted 05:00: 2 h, none open (listed, costs nothing).

Down in opening hours: 30 + 30 + 45 + 20 + 75 = 200 min = 12,000 s.

The channels: ``mail`` down Wednesday 14 April 08:00-09:00 (60 min open); ``webhook`` down
Tuesday 20 April from 19:00, still down when the service crashed at 19:45 (45 min open, its
outage closed by the crash, which the service's covers from then on).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from aiguillage.adapters.config.reports import ChannelPenalties, PenaltySettings
from aiguillage.adapters.reports.month_figures import month_figures
from aiguillage.adapters.reports.penalties import (
    PenaltyRules,
    penalty_statement,
    rules_of,
)
from aiguillage.adapters.reports.penalty_render import render_statement
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.events import (
    ChannelDown,
    ChannelUp,
    Event,
    JournalRegained,
    PoliciesSet,
    ServiceAlive,
    ServiceStarted,
    ServiceStopped,
)
from aiguillage.engine.instants import Instant, from_datetime
from aiguillage.engine.policies import Policies
from tests.adapters.reports.month_journal import written_month

OPEN_S = 26 * 13 * 3600
DOWN_S = 200 * 60


def at(text: str) -> Instant:
    offset = "+01:00" if text < "2027-03-28" else "+02:00"
    return from_datetime(datetime.fromisoformat(text + offset))


def _journal() -> list[Record]:
    events: list[Event] = [
        PoliciesSet(at=at("2027-03-31T12:00:00"), policies=Policies()),
        ServiceStarted(at=at("2027-03-31T12:00:00"), previous="first", channels=("mail",)),
        ServiceAlive(at=at("2027-03-31T19:00:00")),
        ServiceStarted(
            at=at("2027-04-01T07:30:00"),
            previous="crashed",
            last_alive=at("2027-03-31T19:00:00"),
            channels=("mail", "webhook"),
        ),
        ServiceAlive(at=at("2027-04-06T09:10:00")),
        ServiceStarted(
            at=at("2027-04-06T09:40:00"), previous="crashed", last_alive=at("2027-04-06T09:10:00")
        ),
        ServiceStopped(at=at("2027-04-07T19:30:00"), reason="signal"),
        ServiceStarted(
            at=at("2027-04-08T07:15:00"), previous="stopped", last_alive=at("2027-04-07T19:30:00")
        ),
        JournalRegained(
            at=at("2027-04-13T10:20:00"), lost_at=at("2027-04-13T10:00:00"), reason="disk I/O"
        ),
        ChannelDown(
            at=at("2027-04-14T08:00:05"),
            channel="mail",
            since=at("2027-04-14T08:00:00"),
            reason="degraded: IMAP: refused",
        ),
        ChannelUp(at=at("2027-04-14T09:01:00"), channel="mail", since=at("2027-04-14T09:00:00")),
        ChannelDown(
            at=at("2027-04-20T19:00:00"),
            channel="webhook",
            since=at("2027-04-20T19:00:00"),
            reason="failed: WebhookError",
        ),
        ServiceAlive(at=at("2027-04-20T19:45:00")),
        ServiceStarted(
            at=at("2027-04-21T08:00:00"), previous="crashed", last_alive=at("2027-04-20T19:45:00")
        ),
        ServiceAlive(at=at("2027-04-25T03:00:00")),
        ServiceStarted(
            at=at("2027-04-25T05:00:00"), previous="crashed", last_alive=at("2027-04-25T03:00:00")
        ),
        ServiceAlive(at=at("2027-05-01T00:30:00")),
    ]
    return [Record(seq, event, f"h{seq}") for seq, event in enumerate(events, 1)]


def test_the_services_availability_counts_its_outages_in_opening_hours_only() -> None:
    shown = month_figures(_journal(), "2027-04").availability
    assert shown is not None
    assert (shown.open_s, shown.down_open_s) == (OPEN_S, DOWN_S)
    assert shown.availability == pytest.approx(1 - DOWN_S / OPEN_S)
    assert [
        (o.kind, o.start, o.end, o.seconds, o.open_seconds, o.reason) for o in shown.outages
    ] == [
        ("crashed", "2027-03-31T19:00:00+02:00", "2027-04-01T07:30:00+02:00", 27_000, 1_800, ""),
        ("crashed", "2027-04-06T09:10:00+02:00", "2027-04-06T09:40:00+02:00", 1_800, 1_800, ""),
        ("stopped", "2027-04-07T19:30:00+02:00", "2027-04-08T07:15:00+02:00", 42_300, 2_700, ""),
        (
            "journal_lost",
            "2027-04-13T10:00:00+02:00",
            "2027-04-13T10:20:00+02:00",
            1_200,
            1_200,
            "disk I/O",
        ),
        ("crashed", "2027-04-20T19:45:00+02:00", "2027-04-21T08:00:00+02:00", 44_100, 4_500, ""),
        ("crashed", "2027-04-25T03:00:00+02:00", "2027-04-25T05:00:00+02:00", 7_200, 0, ""),
    ]


def test_each_channel_is_down_in_its_own_outages_and_in_the_services() -> None:
    shown = month_figures(_journal(), "2027-04").availability
    assert shown is not None
    assert [(c.channel, c.down_open_s) for c in shown.channels] == [
        ("mail", DOWN_S + 3_600),
        ("webhook", DOWN_S + 2_700),
    ]
    assert shown.channels[0].availability == pytest.approx(1 - (DOWN_S + 3_600) / OPEN_S)
    assert [
        (o.channel, o.start, o.end, o.open_seconds, o.reason) for o in shown.channel_outages
    ] == [
        (
            "mail",
            "2027-04-14T08:00:00+02:00",
            "2027-04-14T09:00:00+02:00",
            3_600,
            "degraded: IMAP: refused",
        ),
        (
            "webhook",
            "2027-04-20T19:00:00+02:00",
            "2027-04-20T19:45:00+02:00",
            2_700,
            "failed: WebhookError",
        ),
    ]


def test_a_month_not_over_counts_its_opening_time_up_to_the_journals_end() -> None:
    records = [r for r in _journal() if r.event.at <= at("2027-04-06T09:40:00")]
    shown = month_figures(records, "2027-04").availability
    assert shown is not None
    # 1, 2 and 3 April (Thursday to Saturday), 5 April (Monday), then 6 April 07:00-09:40.
    assert shown.open_s == 4 * 13 * 3600 + (2 * 3600 + 40 * 60)
    assert shown.down_open_s == 1_800 + 1_800


def test_unavailability_beyond_the_share_allowed_is_charged_per_started_hour() -> None:
    figures = month_figures(_journal(), "2027-04")
    rules = PenaltyRules(unavailable_hour_cents=50_000, allowed_unavailable_share=0.005)
    found = penalty_statement(figures, rules)
    (line,) = found.lines
    # 0.5 % of 1,216,800 s allowed: 6,084 s; 12,000 s down: 5,916 s beyond, 2 started hours.
    assert (line.kind, line.count, line.unit_cents, line.amount_cents) == (
        "unavailability",
        2,
        50_000,
        100_000,
    )
    assert line.figures == {"open_s": OPEN_S, "down_open_s": DOWN_S, "allowed_s": 6_084}
    assert line.periods == [
        "2027-03-31T19:00:00+02:00/2027-04-01T07:30:00+02:00",
        "2027-04-06T09:10:00+02:00/2027-04-06T09:40:00+02:00",
        "2027-04-07T19:30:00+02:00/2027-04-08T07:15:00+02:00",
        "2027-04-13T10:00:00+02:00/2027-04-13T10:20:00+02:00",
        "2027-04-20T19:45:00+02:00/2027-04-21T08:00:00+02:00",
    ]
    assert found.total_cents == 100_000
    assert "2 h \u00d7 500.00 €" in render_statement(found, "csv").decode()


def test_unavailability_within_the_share_allowed_costs_nothing() -> None:
    figures = month_figures(_journal(), "2027-04")
    rules = PenaltyRules(unavailable_hour_cents=50_000, allowed_unavailable_share=0.01)
    assert penalty_statement(figures, rules).lines == []  # 12,000 s < 12,168 s allowed


def test_transfers_are_charged_only_where_the_contract_sets_an_amount() -> None:
    month = written_month()
    figures = month_figures(month.records(), "2027-03")
    # c5, a call, transferred once (month_journal.py); the other channels transferred nothing.
    assert [(t.interaction_id, t.channel) for t in figures.transfers] == [
        (month.ids["c5"], "voice")
    ]
    settings = PenaltySettings(channels={"voice": ChannelPenalties(transfer_eur=7.5)})
    charged = penalty_statement(figures, rules_of(settings, Policies()))
    (line,) = [line for line in charged.lines if line.kind == "transfers"]
    assert (line.channel, line.count, line.unit_cents, line.amount_cents) == ("voice", 1, 750, 750)
    assert line.interactions == [month.ids["c5"]]
    assert charged.total_cents == sum(line.amount_cents for line in charged.lines)
    free = penalty_statement(figures, rules_of(PenaltySettings(), Policies()))
    assert not [line for line in free.lines if line.kind == "transfers"]


def test_the_month_the_service_began_in_counts_from_its_first_start() -> None:
    shown = month_figures(_journal(), "2027-03").availability
    assert shown is not None
    # Started Wednesday 31 March at 12:00, open until 20:00; crashed at 19:00 (its last mark).
    assert (shown.open_s, shown.down_open_s) == (8 * 3600, 3600)
    assert [(o.kind, o.seconds, o.open_seconds) for o in shown.outages] == [
        ("crashed", 5 * 3600, 3600)
    ]


def test_a_journal_that_never_recorded_a_start_has_no_availability() -> None:
    records = [r for r in _journal() if not isinstance(r.event, ServiceStarted)]
    assert month_figures(records, "2027-04").availability is None
