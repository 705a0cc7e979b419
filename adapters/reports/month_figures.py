"""A month's figures from the journal: what the authority's report shows, computed without I/O.

``month_figures(records, month)`` reads journal records in order (any iterable: a store's
pages, a list in a test) and returns ``MonthFigures`` for that Paris-time month (the zone of
the journaled calendar policy): per channel, and per channel and source, motive or written
typology, the work received, answered (within the SLA or not), abandoned (short abandons
apart, with the wait before abandoning), transferred, handed out, closed unanswered and refused
outside hours; the service level against the channel's target, the average speed of answer,
the waits at the 50th, 90th and 99th percentiles, breaches and handling time; the advisors'
occupancy; the callbacks asked for, apart; the same per day and per half-hour; and the work
still pending at the month's end.
Every ratio is computed by ``engine.figures``, the one definition the wallboard and the
simulator's report share.

Which month an interaction counts in: the month (local time) of its deadline, when it is
settled by the end of that month; otherwise it is pending at that month's end and counts, once,
in the month it is settled. Settled: answered (the first response), abandoned, closed without
an answer or handed to an outside party. Its deadline is the one in force when it was settled
(a wait for the principal that was credited moves it). Calls refused outside opening hours are
no interaction: they count in the month they were refused.

A call whose caller asked to be called back (``interaction.callback_requested``) is settled
then: it counts in the service level with the wait it had (``figures.service_level``'s
callbacks), neither as answered nor as closed unanswered, in the month of the call's own
deadline (the callback's does not move it). The callback is counted apart, in the same month
and rows as its call, as it stood at that month's end: reached, unreached (closed
``callback_unanswered``) or still open; made (its first attempt started) and in time or not;
overdue (never attempted, its deadline passed). A missed attempt releases the advisor.

Per day and per half-hour, work goes to the local day and half-hour it was received; refused
calls to when they were refused. Occupancy is each advisor's time busy (holding work, offered
or in hand, or wrapping up) over time staffed (available or busy; a pause with no work in hand
left out), summed over the advisors, within the month.

The availability of the service and of each channel, with the outages behind it, is
``month_availability``'s, from the same pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

import msgspec

from aiguillage.adapters.reports.exemptions import (
    EXEMPTION_EVENTS,
    Claims,
    MonthExemptions,
    month_exemptions,
)
from aiguillage.adapters.reports.month_availability import (
    AVAILABILITY_EVENTS,
    Availability,
    OutageLog,
    month_availability,
)
from aiguillage.adapters.reports.month_quality import (
    QUALITY_EVENTS,
    MonthQuality,
    QualityReader,
    month_quality,
)
from aiguillage.adapters.stores.journal import GENESIS, Record
from aiguillage.engine import figures
from aiguillage.engine.events import (
    AdvisorRemoved,
    AdvisorStateChanged,
    CallbackAnswered,
    CallbackMissed,
    CallbackRequested,
    InteractionAbandoned,
    InteractionArrived,
    InteractionClosed,
    InteractionMoved,
    InteractionRefused,
    InteractionResponded,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferRevoked,
    PoliciesSet,
    PrincipalAnswered,
    PrincipalAwaited,
    SlaBreached,
)
from aiguillage.engine.instants import SECOND, Instant, from_datetime, to_datetime
from aiguillage.engine.policies import CHANNELS, Policies

__all__ = [
    "Breach",
    "Figures",
    "JournalRange",
    "MonthFigures",
    "MonthReport",
    "Months",
    "Pending",
    "Slot",
    "YearReport",
    "as_month_report",
    "month_figures",
    "month_range",
    "month_report",
    "percentile",
    "previous_month",
    "report_months",
    "year_months",
    "year_report",
]

HALF_HOUR = 30 * 60 * SECOND

_ORDER: dict[str, int] = {name: index for index, name in enumerate(CHANNELS)}


class Figures(msgspec.Struct, kw_only=True):
    """One row of the report: a channel, or a channel and one source, motive or typology.

    Counts are of interactions; durations in seconds; ratios between 0 and 1, or ``None`` when
    nothing is there to divide (``engine.figures``).
    """

    channel: str
    source: str | None = None
    motive: str | None = None
    typology: str | None = None
    received: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    """Every abandon, the short ones included."""
    short_abandons: int = 0
    transferred: int = 0
    """Interactions an advisor sent back to a queue at least once (``interaction.transferred``)."""
    transferred_out: int = 0
    closed_unanswered: int = 0
    breaches: int = 0
    refused: int = 0
    """Submissions refused outside opening hours (not in ``received``)."""
    service_level: float | None = None
    target: float | None = None
    target_met: bool | None = None
    asa_s: float | None = None
    wait_p50_s: float | None = None
    wait_p90_s: float | None = None
    wait_p99_s: float | None = None
    abandonment: float | None = None
    abandon_wait_mean_s: float | None = None
    """The mean wait before abandoning, short abandons included."""
    abandon_wait_p90_s: float | None = None
    handled: int = 0
    """Interactions some advisor held in hand (accepted) and that are closed or handed on."""
    handling_mean_s: float | None = None
    callbacks_requested: int = 0
    """Calls whose caller asked to be called back: counted in ``service_level`` with the wait
    they had then (``figures.service_level``), not in ``answered`` nor in the waits."""
    callbacks_within: int = 0
    """Of those, asked for no later than the call's target."""
    callbacks_reached: int = 0
    """Callbacks that reached the customer (an attempt answered) by the month's end."""
    callbacks_unreached: int = 0
    """Closed unanswered after their last attempt (``callback_unanswered``)."""
    callbacks_open: int = 0
    """Neither reached nor closed at the month's end."""
    callbacks_made: int = 0
    """Callbacks whose first attempt started by the month's end."""
    callbacks_made_within: int = 0
    """Of those, first attempted by the callback's deadline."""
    callbacks_overdue: int = 0
    """Never attempted by the month's end, their deadline passed."""
    callback_service_level: float | None = None
    """``figures.callback_service_level(callbacks_made_within, callbacks_made,
    callbacks_overdue)``."""


class Slot(msgspec.Struct, kw_only=True):
    """One channel over one local day (``start`` its midnight) or half-hour."""

    start: str
    channel: str
    received: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    breaches: int = 0
    refused: int = 0
    callbacks_requested: int = 0
    callbacks_within: int = 0
    service_level: float | None = None


class Pending(msgspec.Struct, kw_only=True):
    """Work open at the month's end whose deadline had passed or fell in the month."""

    interaction_id: int
    channel: str
    received_at: str
    deadline: str
    breached: bool


class Breach(msgspec.Struct, kw_only=True):
    """An interaction counted in the month whose deadline was missed (``sla.breached``)."""

    interaction_id: int
    channel: str
    deadline: str


class JournalRange(msgspec.Struct, kw_only=True):
    """The records read: the first and last seq, and the hash of the last."""

    first_seq: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS


class MonthFigures(msgspec.Struct, kw_only=True):
    month: str
    """``YYYY-MM``."""
    zone: str
    start: str
    end: str
    """The month's first instant and the next month's, ISO-8601 with the zone's offset."""
    complete: bool
    """Whether the journal reaches past the month's end (else the figures are so far)."""
    as_of: str
    """The instant of the journal's last event read."""
    channels: list[Figures]
    sources: list[Figures]
    motives: list[Figures]
    typologies: list[Figures]
    days: list[Slot]
    half_hours: list[Slot]
    pending: list[Pending]
    occupancy: float | None
    busy_s: float
    staffed_s: float
    journal: JournalRange
    breaches: list[Breach] = []
    """The breaches counted in ``channels``, each with its interaction, by id."""
    exemptions: MonthExemptions = msgspec.field(default_factory=MonthExemptions)
    """The exemption claims meeting the month, and the work accepted ones excuse
    (``reports.exemptions``)."""
    availability: Availability | None = None
    """The service's and each channel's, with their outages (``month_availability``)."""
    transfers: list[Breach] = []
    """The interactions counted in ``channels``' ``transferred``, by id (their deadlines)."""
    quality: MonthQuality = msgspec.field(default_factory=MonthQuality)
    """Audits, mystery shoppers and customer satisfaction (``reports.month_quality``)."""


def month_range(month: str, zone: tzinfo) -> tuple[Instant, Instant]:
    """Return the first instant of a ``YYYY-MM`` month in ``zone`` and that of the next."""
    year, number = _parse_month(month)
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    return _midnight(date(year, number, 1), zone), _midnight(date(*following, 1), zone)


def percentile(values: list[float], share: float) -> float | None:
    """The value below which ``share`` of the values fall: the sorted values' element at
    index ``floor(share * n)`` (the last one past the end), as the simulator's results take it.
    ``None`` without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.floor(share * len(ordered)))]


# -- reading the journal ----------------------------------------------------------------------


@dataclass(slots=True)
class _Work:
    id: int
    channel: str
    source: str
    motive: str | None
    typology: str | None
    received_at: Instant
    deadline: Instant
    responded_at: Instant | None = None
    within: bool = False
    abandoned_at: Instant | None = None
    short: bool = False
    ended_at: Instant | None = None
    ended: str = ""
    """``closed``, ``out`` (handed to an outside party), or empty while open."""
    breached: bool = False
    transferred: bool = False
    handled_s: float = 0.0
    held_since: Instant | None = None
    accepted: bool = False
    callback_at: Instant | None = None
    """When the caller asked to be called back: the call's outcome."""
    callback_within: bool = False
    callback_deadline: Instant = 0
    first_dialled_at: Instant | None = None
    """When the callback's first attempt started."""
    first_on_time: bool = False
    reached_at: Instant | None = None
    unreached_at: Instant | None = None

    @property
    def settled_at(self) -> Instant | None:
        if self.responded_at is not None:
            return self.responded_at
        if self.abandoned_at is not None:
            return self.abandoned_at
        if self.callback_at is not None:
            return self.callback_at
        return self.ended_at


@dataclass(slots=True)
class _Advisor:
    state: str = "offline"
    since: Instant = 0
    holding: set[int] = field(default_factory=set)

    def busy(self) -> bool:
        return bool(self.holding) or self.state == "wrap_up"

    def staffed(self) -> bool:
        return self.state != "offline" and (self.busy() or self.state != "not_ready")


class _Reader:
    """One pass over the journal: each interaction's story, the advisors' time, refusals.

    The advisors' time is summed within each month asked for (``windows``, known once the
    journaled calendar's zone is: at the first record, the policies being the journal's first).
    """

    def __init__(self, months: Sequence[str]) -> None:
        self.months = list(months)
        self.windows: list[tuple[Instant, Instant]] = []
        self.zone: tzinfo = ZoneInfo("Europe/Paris")
        self.policies = Policies()
        self.policies_set: list[tuple[Instant, Policies]] = []
        """Each policy change, in journal order: a month is judged by those in force at its end."""
        self.work: dict[int, _Work] = {}
        self.refused: list[tuple[Instant, str, str, str | None]] = []
        self.advisors: dict[str, _Advisor] = {}
        self.holders: dict[int, str] = {}
        """Who holds each interaction offered or in hand."""
        self.busy_s: list[float] = []
        self.staffed_s: list[float] = []
        self.last_at: Instant = 0
        self.range = JournalRange()
        self.claims = Claims()
        self.outages = OutageLog()
        self.quality = QualityReader()

    def _place(self) -> None:
        """Fix the months' bounds in the zone of the policies read so far."""
        self.zone = ZoneInfo(self.policies.calendar.timezone)
        self.windows = [month_range(month, self.zone) for month in self.months]
        self.busy_s = [0.0] * len(self.windows)
        self.staffed_s = [0.0] * len(self.windows)

    def read(self, records: Iterable[Record]) -> None:
        for record in records:
            if not self.range.first_seq:
                self.range.first_seq = record.seq
            self.range.last_seq, self.range.last_hash = record.seq, record.hash
            event = record.event
            kind = type(event)
            if kind is PoliciesSet:
                assert isinstance(event, PoliciesSet)
                self.policies = event.policies
                self.policies_set.append((event.at, event.policies))
            if not self.windows:
                self._place()
            self.last_at = max(self.last_at, event.at)
            if kind is InteractionArrived:
                assert isinstance(event, InteractionArrived)
                self.work[event.interaction_id] = _Work(
                    id=event.interaction_id,
                    channel=event.channel,
                    source=event.source,
                    motive=event.motive,
                    typology=event.typology,
                    received_at=event.received_at,
                    deadline=event.deadline,
                )
            elif kind is OfferMade:
                assert isinstance(event, OfferMade)
                self._advisor_change(event.advisor_id, event.at, hold=event.interaction_id)
            elif kind is OfferAccepted:
                assert isinstance(event, OfferAccepted)
                work = self.work.get(event.interaction_id)
                if work is not None:
                    work.held_since, work.accepted = event.at, True
            elif kind in (OfferDeclined, OfferExpired, OfferRevoked):
                assert isinstance(event, OfferDeclined | OfferExpired | OfferRevoked)
                self._advisor_change(event.advisor_id, event.at, release=event.interaction_id)
            elif kind is InteractionResponded:
                assert isinstance(event, InteractionResponded)
                work = self.work.get(event.interaction_id)
                if work is not None and work.responded_at is None:
                    work.responded_at, work.within = event.at, event.within_sla
            elif kind is InteractionAbandoned:
                assert isinstance(event, InteractionAbandoned)
                work = self.work.get(event.interaction_id)
                self._release(event.interaction_id, event.at)
                if work is not None and work.responded_at is None and work.settled_at is None:
                    work.abandoned_at = event.at
                    limit = self._short_abandon_s(work.channel)
                    waited = (event.at - work.received_at) / SECOND
                    # An abandon after the deadline was missed already: never short.
                    late = work.breached or event.at > work.deadline
                    work.short = not late and figures.is_short_abandon(waited, limit)
            elif kind is SlaBreached:
                assert isinstance(event, SlaBreached)
                work = self.work.get(event.interaction_id)
                if work is not None and work.callback_at is None:  # else the callback's
                    work.breached = True
            elif kind is CallbackRequested:
                assert isinstance(event, CallbackRequested)
                work = self.work.get(event.interaction_id)
                if work is not None and work.settled_at is None:
                    work.callback_at, work.callback_within = event.at, event.within_sla
                    work.callback_deadline = event.deadline
            elif kind in (CallbackAnswered, CallbackMissed):
                assert isinstance(event, CallbackAnswered | CallbackMissed)
                work = self.work.get(event.interaction_id)
                if kind is CallbackMissed:
                    self._release(event.interaction_id, event.at)
                if work is not None and work.first_dialled_at is None:
                    work.first_dialled_at, work.first_on_time = event.dialled_at, event.on_time
                if work is not None and kind is CallbackAnswered and work.reached_at is None:
                    work.reached_at = event.at
            elif kind in (InteractionTransferred, InteractionMoved, PrincipalAwaited):
                interaction_id: int = event.interaction_id  # type: ignore[union-attr]
                work = self.work.get(interaction_id)
                self._release(interaction_id, event.at)
                if work is not None and kind is InteractionTransferred:
                    work.transferred = True
                if work is not None and kind is not PrincipalAwaited:
                    work.motive = event.motive or work.motive  # type: ignore[union-attr]
            elif kind is PrincipalAnswered:
                assert isinstance(event, PrincipalAnswered)
                work = self.work.get(event.interaction_id)
                if work is not None and work.settled_at is None:
                    work.deadline = event.deadline
            elif kind in (InteractionClosed, InteractionTransferredOut):
                interaction_id = event.interaction_id  # type: ignore[union-attr]
                work = self.work.get(interaction_id)
                self._release(interaction_id, event.at)
                if work is not None and not work.ended:
                    work.ended_at = event.at
                    work.ended = "closed" if kind is InteractionClosed else "out"
                    if kind is InteractionClosed:
                        assert isinstance(event, InteractionClosed)
                        work.motive = event.motive or work.motive
                        if event.reason == "callback_unanswered":
                            work.unreached_at = event.at
            elif kind is InteractionRefused:
                assert isinstance(event, InteractionRefused)
                self.refused.append((event.at, event.channel, event.source, event.motive))
            elif kind in AVAILABILITY_EVENTS:
                self.outages.read(event)
            elif kind is AdvisorStateChanged:
                assert isinstance(event, AdvisorStateChanged)
                self._advisor_change(event.advisor_id, event.at, state=event.state)
            elif kind is AdvisorRemoved:
                assert isinstance(event, AdvisorRemoved)
                self._advisor_change(event.advisor_id, event.at, state="offline")
                self.advisors.pop(event.advisor_id, None)
            elif kind in EXEMPTION_EVENTS:
                self.claims.read(event)  # type: ignore[arg-type]
            elif kind in QUALITY_EVENTS:
                self.quality.read(event)

    def finish(self) -> None:
        """Count the advisors' time up to the journal's end."""
        if not self.windows:
            self._place()
        for advisor in self.advisors.values():
            self._count(advisor, self.last_at)

    def _short_abandon_s(self, channel: str) -> float:
        policy = self.policies.channels.get(channel)  # type: ignore[call-overload]
        return policy.short_abandon_s if policy is not None else 0.0

    def _release(self, interaction_id: int, at: Instant) -> None:
        work = self.work.get(interaction_id)
        if work is not None and work.held_since is not None:
            work.handled_s += (at - work.held_since) / SECOND
            work.held_since = None
        advisor_id = self.holders.pop(interaction_id, None)
        if advisor_id is not None:
            self._advisor_change(advisor_id, at, release=interaction_id)

    def _advisor_change(
        self,
        advisor_id: str,
        at: Instant,
        *,
        state: str | None = None,
        hold: int | None = None,
        release: int | None = None,
    ) -> None:
        advisor = self.advisors.get(advisor_id)
        if advisor is None:
            advisor = self.advisors[advisor_id] = _Advisor(
                state="available" if state is None else state, since=at
            )
        self._count(advisor, at)
        if state is not None:
            advisor.state = state
            if state == "offline":
                advisor.holding.clear()
        if hold is not None:
            advisor.holding.add(hold)
            self.holders[hold] = advisor_id
        if release is not None:
            advisor.holding.discard(release)
            if self.holders.get(release) == advisor_id:
                del self.holders[release]

    def _count(self, advisor: _Advisor, at: Instant) -> None:
        staffed, busy = advisor.staffed(), advisor.busy()
        if staffed or busy:
            for index, (start, end) in enumerate(self.windows):
                first, last = max(advisor.since, start), min(at, end)
                if last > first:
                    seconds = (last - first) / SECOND
                    if staffed:
                        self.staffed_s[index] += seconds
                    if busy:
                        self.busy_s[index] += seconds
        advisor.since = max(advisor.since, at)


# -- the month --------------------------------------------------------------------------------


class MonthReport(msgspec.Struct, kw_only=True):
    """A month's figures, and the previous month's beside them."""

    month: MonthFigures
    previous: MonthFigures


class YearReport(msgspec.Struct, kw_only=True):
    """The twelve months of a year, each as its own month's report counts it."""

    year: int
    months: list[MonthFigures]


class Months:
    """The figures of some months, fed the journal's records a page at a time, in order.

    ``month_report`` and ``year_report`` read a whole iterable at once; a store read in pages
    (``records_after``) feeds each page here, then asks ``figures()``.
    """

    def __init__(self, months: Sequence[str]) -> None:
        for month in months:
            _parse_month(month)
        self._reader = _Reader(months)

    def feed(self, records: Iterable[Record]) -> None:
        self._reader.read(records)

    def figures(self) -> list[MonthFigures]:
        reader = self._reader
        reader.finish()
        return [
            _figures_of(reader, index, month, *reader.windows[index])
            for index, month in enumerate(reader.months)
        ]


def report_months(month: str) -> list[str]:
    """The months a month's report reads: the one before it, then it."""
    return [previous_month(month), month]


def year_months(year: int) -> list[str]:
    """The months of a year's review."""
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year}: give a year such as 2027")
    return [f"{year:04d}-{number:02d}" for number in range(1, 13)]


def month_figures(records: Iterable[Record], month: str) -> MonthFigures:
    """Return the figures of a ``YYYY-MM`` month from a journal's records, in journal order."""
    months = Months([month])
    months.feed(records)
    return months.figures()[0]


def month_report(records: Iterable[Record], month: str) -> MonthReport:
    """Return a month's figures and the previous month's, from one pass over the records."""
    months = Months(report_months(month))
    months.feed(records)
    return as_month_report(months.figures())


def as_month_report(found: list[MonthFigures]) -> MonthReport:
    """The report of ``Months(report_months(month)).figures()``."""
    return MonthReport(month=found[1], previous=found[0])


def year_report(records: Iterable[Record], year: int) -> YearReport:
    """Return the months of a year, from one pass over the records."""
    months = Months(year_months(year))
    months.feed(records)
    return YearReport(year=year, months=months.figures())


def previous_month(month: str) -> str:
    """The ``YYYY-MM`` month before ``month``."""
    year, number = _parse_month(month)
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def _figures_of(
    reader: _Reader, index: int, month: str, start: Instant, end: Instant
) -> MonthFigures:
    zone = reader.zone
    counted: list[_Work] = []
    pending: list[Pending] = []
    for work in reader.work.values():
        settled = work.settled_at
        if settled is not None and settled < end and start <= work.deadline < end:
            counted.append(work)  # settled by the end of its deadline's month
        elif settled is not None and start <= settled < end and work.deadline < start:
            counted.append(work)  # pending at an earlier month's end, settled in this one
        elif (settled is None or settled >= end) and work.deadline < end and work.received_at < end:
            pending.append(
                Pending(
                    interaction_id=work.id,
                    channel=work.channel,
                    received_at=_iso(work.received_at, zone),
                    deadline=_iso(work.deadline, zone),
                    breached=work.deadline < min(end, reader.last_at),
                )
            )
    refused = [r for r in reader.refused if start <= r[0] < end]
    in_force = next((p for at, p in reversed(reader.policies_set) if at < end), reader.policies)
    targets: dict[str, float] = {
        name: policy.target_share for name, policy in in_force.channels.items()
    }
    until = _Until(end, min(end, reader.last_at))
    channels = [
        _tally(channel, [w for w in counted if w.channel == channel], refused, targets, until)
        for channel in CHANNELS
    ]
    sources = _grouped(counted, refused, targets, "source", until)
    motives = _grouped(counted, refused, targets, "motive", until)
    written = [w for w in counted if w.channel == "written"]
    typologies = _grouped(written, [], targets, "typology", until)
    days = _slots(counted, refused, zone, daily=True)
    half_hours = _slots(counted, refused, zone, daily=False)
    pending.sort(key=lambda p: p.interaction_id)
    breaches = [
        Breach(interaction_id=work.id, channel=work.channel, deadline=_iso(work.deadline, zone))
        for work in sorted(counted, key=lambda w: w.id)
        if work.breached
    ]
    return MonthFigures(
        month=month,
        zone=str(zone),
        start=_iso(start, zone),
        end=_iso(end, zone),
        complete=reader.last_at >= end,
        as_of=_iso(reader.last_at, zone),
        channels=channels,
        sources=sources,
        motives=motives,
        typologies=typologies,
        days=days,
        half_hours=half_hours,
        pending=pending,
        occupancy=figures.occupancy(reader.busy_s[index], reader.staffed_s[index]),
        busy_s=reader.busy_s[index],
        staffed_s=reader.staffed_s[index],
        journal=reader.range,
        breaches=breaches,
        exemptions=month_exemptions(
            reader.claims,
            counted,
            (start, end, zone),
            lambda channel, works: _tally(channel, works, [], targets, until),
        ),
        availability=month_availability(reader.outages, in_force, start, end, reader.last_at),
        transfers=[
            Breach(interaction_id=work.id, channel=work.channel, deadline=_iso(work.deadline, zone))
            for work in sorted(counted, key=lambda w: w.id)
            if work.transferred
        ],
        quality=month_quality(reader.quality, start, end, zone),
    )


def _grouped(
    counted: list[_Work],
    refused: list[tuple[Instant, str, str, str | None]],
    targets: dict[str, float],
    by: str,
    until: _Until,
) -> list[Figures]:
    keys: dict[tuple[str, str | None], list[_Work]] = {}
    for work in counted:
        keys.setdefault((work.channel, getattr(work, by)), []).append(work)
    refused_keys = {(r[1], r[2] if by == "source" else r[3]) for r in refused}
    if by != "typology":
        for key in refused_keys:
            keys.setdefault(key, [])
    rows = []
    for (channel, value), works in sorted(
        keys.items(),
        key=lambda kv: (_ORDER.get(kv[0][0], len(_ORDER)), kv[0][1] or ""),
    ):
        matching = [
            r for r in refused if r[1] == channel and (r[2] if by == "source" else r[3]) == value
        ]
        row = _tally(channel, works, matching if by != "typology" else [], targets, until)
        setattr(row, by, value)
        rows.append(row)
    return rows


def _tally(
    channel: str,
    works: list[_Work],
    refused: list[tuple[Instant, str, str, str | None]],
    targets: dict[str, float],
    until: _Until,
) -> Figures:
    row = Figures(channel=channel, received=len(works))
    waits: list[float] = []
    abandon_waits: list[float] = []
    handling: list[float] = []
    for work in works:
        if work.responded_at is not None:
            row.answered += 1
            row.answered_within += work.within
            waits.append((work.responded_at - work.received_at) / SECOND)
        elif work.abandoned_at is not None:
            row.abandoned += 1
            row.short_abandons += work.short
            abandon_waits.append((work.abandoned_at - work.received_at) / SECOND)
        elif work.callback_at is not None:
            _callback(row, work, until)
        elif work.ended == "closed":
            row.closed_unanswered += 1
        if work.ended == "out":
            row.transferred_out += 1
        row.transferred += work.transferred
        row.breaches += work.breached
        if work.accepted and work.ended and work.held_since is None:
            row.handled += 1
            handling.append(work.handled_s)
    row.refused = sum(1 for r in refused if r[1] == channel)
    row.service_level = figures.service_level(
        row.answered_within,
        row.answered,
        row.abandoned,
        row.short_abandons,
        callbacks_within=row.callbacks_within,
        callbacks=row.callbacks_requested,
    )
    row.callback_service_level = figures.callback_service_level(
        row.callbacks_made_within, row.callbacks_made, row.callbacks_overdue
    )
    row.target = targets.get(channel)
    if row.service_level is not None and row.target is not None:
        row.target_met = row.service_level >= row.target
    row.asa_s = figures.mean_wait_s(sum(waits), row.answered)
    row.wait_p50_s = percentile(waits, 0.5)
    row.wait_p90_s = percentile(waits, 0.9)
    row.wait_p99_s = percentile(waits, 0.99)
    row.abandonment = figures.abandonment_rate(row.abandoned, row.received, row.short_abandons)
    row.abandon_wait_mean_s = figures.mean_wait_s(sum(abandon_waits), len(abandon_waits))
    row.abandon_wait_p90_s = percentile(abandon_waits, 0.9)
    row.handling_mean_s = figures.mean_wait_s(sum(handling), len(handling))
    return row


@dataclass(frozen=True, slots=True)
class _Until:
    """A month's end, and the instant its callbacks' deadlines are judged at: the month's end,
    or the journal's last event before it (a deadline not reached yet has not passed)."""

    end: Instant
    now: Instant


def _callback(row: Figures, work: _Work, until: _Until) -> None:
    """Count a callback, as it stood at the month's end."""
    row.callbacks_requested += 1
    row.callbacks_within += work.callback_within
    end = until.end
    if work.reached_at is not None and work.reached_at < end:
        row.callbacks_reached += 1
    elif work.unreached_at is not None and work.unreached_at < end:
        row.callbacks_unreached += 1
    elif work.ended_at is None or work.ended_at >= end:
        row.callbacks_open += 1
    if work.first_dialled_at is not None and work.first_dialled_at < end:
        row.callbacks_made += 1
        row.callbacks_made_within += work.first_on_time
    elif work.callback_deadline < until.now and (
        work.ended_at is None or work.ended_at > work.callback_deadline
    ):
        row.callbacks_overdue += 1  # still open when its deadline passed, never attempted


def _slots(
    counted: list[_Work],
    refused: list[tuple[Instant, str, str, str | None]],
    zone: tzinfo,
    *,
    daily: bool,
) -> list[Slot]:
    slots: dict[tuple[str, str], Slot] = {}

    def slot(at: Instant, channel: str) -> Slot:
        local = to_datetime(at, zone)
        if daily:
            begin = datetime.combine(local.date(), time(), zone)
        else:
            begin = local.replace(minute=30 * (local.minute // 30), second=0, microsecond=0)
        key = (begin.isoformat(), channel)
        found = slots.get(key)
        if found is None:
            found = slots[key] = Slot(start=key[0], channel=channel)
        return found

    for work in counted:
        row = slot(work.received_at, work.channel)
        row.received += 1
        if work.responded_at is not None:
            row.answered += 1
            row.answered_within += work.within
        elif work.abandoned_at is not None:
            row.abandoned += 1
            row.short_abandons += work.short
        elif work.callback_at is not None:
            row.callbacks_requested += 1
            row.callbacks_within += work.callback_within
        row.breaches += work.breached
    for at, channel, _, _ in refused:
        slot(at, channel).refused += 1
    for row in slots.values():
        row.service_level = figures.service_level(
            row.answered_within,
            row.answered,
            row.abandoned,
            row.short_abandons,
            callbacks_within=row.callbacks_within,
            callbacks=row.callbacks_requested,
        )
    return sorted(
        slots.values(),
        key=lambda s: (from_datetime(datetime.fromisoformat(s.start)), _ORDER.get(s.channel, 9)),
    )


# -- small pieces ----------------------------------------------------------------------------


def _parse_month(month: str) -> tuple[int, int]:
    try:
        parsed = datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise ValueError(f"month {month!r}: give it as YYYY-MM, such as 2027-01") from None
    if len(month) != 7:
        raise ValueError(f"month {month!r}: give it as YYYY-MM, such as 2027-01")
    return parsed.year, parsed.month


def _midnight(day: date, zone: tzinfo) -> Instant:
    return from_datetime(datetime.combine(day, time(), zone))


def _iso(at: Instant, zone: tzinfo) -> str:
    return to_datetime(at, zone).isoformat()
