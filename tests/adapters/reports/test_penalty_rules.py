"""The statement's arithmetic over any figures and rules: the total is the sum of the lines, and
no cap is exceeded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aiguillage.adapters.reports.month_figures import Breach, Figures, JournalRange, MonthFigures
from aiguillage.adapters.reports.penalties import ChannelRules, PenaltyRules, penalty_statement
from aiguillage.engine.policies import CHANNELS

_cents = st.integers(min_value=0, max_value=10_000_000)


@st.composite
def months(draw: st.DrawFn) -> MonthFigures:
    rows, breaches = [], []
    for channel in CHANNELS:
        answered = draw(st.integers(0, 500))
        within = draw(st.integers(0, answered))
        breached = draw(st.integers(0, answered - within))
        level = within / answered if answered else None
        rows.append(
            Figures(
                channel=channel,
                answered=answered,
                answered_within=within,
                breaches=breached,
                service_level=level,
                target=draw(st.sampled_from([0.8, 0.9, 0.95])),
            )
        )
        breaches += [
            Breach(interaction_id=len(breaches) + n, channel=channel, deadline="")
            for n in range(breached)
        ]
    return MonthFigures(
        month="2027-03", zone="Europe/Paris", start="", end="", complete=True, as_of="",
        channels=rows, sources=[], motives=[], typologies=[], days=[], half_hours=[], pending=[],
        occupancy=None, busy_s=0, staffed_s=0, journal=JournalRange(), breaches=breaches,
    )  # fmt: skip


rules = st.builds(
    PenaltyRules,
    channels=st.fixed_dictionaries(
        {
            channel: st.builds(
                ChannelRules,
                breach_cents=_cents,
                point_cents=_cents,
                cap_cents=st.none() | _cents,
            )
            for channel in CHANNELS
        }
    ),
    cap_cents=st.none() | _cents,
)


@given(months(), rules)
def test_the_total_is_the_sum_of_the_lines_within_every_cap(
    figures: MonthFigures, applied: PenaltyRules
) -> None:
    statement = penalty_statement(figures, applied)
    assert statement.total_cents == sum(line.amount_cents for line in statement.lines)
    assert statement.total_cents >= 0
    if applied.cap_cents is not None:
        assert statement.total_cents <= applied.cap_cents
    for channel, channel_rules in applied.channels.items():
        charged = sum(
            line.amount_cents
            for line in statement.lines
            if line.channel == channel and line.kind != "cap"
        )
        if channel_rules.cap_cents is not None:
            assert charged <= channel_rules.cap_cents
        breached = [b.interaction_id for b in figures.breaches if b.channel == channel]
        lines = [ln for ln in statement.lines if ln.channel == channel and ln.kind == "breaches"]
        if breached and channel_rules.breach_cents:
            (line,) = lines
            assert line.interactions == breached
            assert line.amount_cents == len(breached) * channel_rules.breach_cents
