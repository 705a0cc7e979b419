"""``aiguillage sla``: the contract's clock arithmetic, for integrators and planners to check."""

from __future__ import annotations

from typing import Annotated

import msgspec
import typer

from aiguillage.adapters.cli.support import ConfigOption, load_or_exit
from aiguillage.adapters.config.datetimes import DatetimeError, format_instant, parse_instant
from aiguillage.engine import sla
from aiguillage.engine.calendar import BusinessCalendar
from aiguillage.engine.policies import (
    BusinessHoursSla,
    Channel,
    ElapsedSla,
    Sla,
    SlaReading,
    WorkingDaysSla,
)

__all__ = ["describe_sla", "sla_app"]

sla_app = typer.Typer(no_args_is_help=True, add_completion=False, help="SLA deadlines.")


class Deadline(msgspec.Struct, frozen=True):
    """The answer of ``sla deadline --json``."""

    channel: Channel
    received_at: str
    deadline: str
    warning_at: str
    rule: str
    timezone: str
    within_business_hours: bool


def describe_sla(sla: Sla) -> str:
    """Return an SLA rule in a few words, as the contract states it."""
    if isinstance(sla, ElapsedSla):
        return f"{_duration(sla.seconds)} after reception"
    if isinstance(sla, BusinessHoursSla):
        rule = (
            f"{_duration(sla.within_s)} within business hours, {_duration(sla.outside_s)} outside"
        )
        if sla.reading == "monotonic":
            rule += ", never due after a message received later"
        return rule
    assert isinstance(sla, WorkingDaysSla)
    return f"{sla.days} working days, by {sla.due_at:%H:%M}"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 120:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _instant(text: str) -> int:
    try:
        return parse_instant(text)
    except DatetimeError as exc:
        raise typer.BadParameter(str(exc)) from None


@sla_app.command("deadline")
def deadline(
    channel: Annotated[Channel, typer.Option(help="The channel whose SLA applies.")],
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="When the interaction was received: ISO-8601 with a UTC offset "
            "(2026-12-24T19:00:00+01:00, or Z for UTC).",
        ),
    ],
    config: ConfigOption = None,
    reading: Annotated[
        SlaReading | None,
        typer.Option(
            help="Read a business-hours SLA (social) this way instead of as configured: "
            "literal (the tender's words) or monotonic (never due after a later message).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the SLA deadline of an interaction received at an instant, in local time."""
    received = _instant(at)
    settings = load_or_exit(config).settings
    policy = settings.channels[channel]
    rule = policy.sla
    if reading is not None:
        if not isinstance(rule, BusinessHoursSla):
            raise typer.BadParameter(
                f"the {channel} SLA is not a business-hours one: only such an SLA (social) "
                "has readings",
                param_hint="--reading",
            )
        rule = msgspec.structs.replace(rule, reading=reading)
    calendar = BusinessCalendar(settings.calendar)
    due = sla.deadline(rule, received, calendar, policy.hours)
    answer = Deadline(
        channel=channel,
        received_at=format_instant(received, calendar.zone),
        deadline=format_instant(due, calendar.zone),
        warning_at=format_instant(
            sla.warning_at(received, due, policy.warning_fraction), calendar.zone
        ),
        rule=describe_sla(rule),
        timezone=settings.calendar.timezone,
        within_business_hours=calendar.is_open(received, policy.hours),
    )
    if as_json:
        typer.echo(msgspec.json.encode(answer).decode())
        return
    width = max(len(field) for field in answer.__struct_fields__)
    for field in answer.__struct_fields__:
        typer.echo(f"{field.replace('_', ' '):<{width}}  {getattr(answer, field)}")
