"""The month beside its plan: per channel, the volume and service level planned, and the gap.

The plan is configuration (``[reports.plan."YYYY-MM".<channel>]``: ``received``, and
``service_level`` when the plan sets one), not a forecast recomputed here: the figures the
operator committed to for the month are what the authority holds it to, and a report states the
plan it was set against, so ``aiguillage report verify`` checks the actual figures and the gaps
against that stated plan without the configuration. A channel the plan leaves out has no line;
a month without a plan has no ``plan`` in its report.

Each line: ``received`` is the report's (an interaction counts in the month of its deadline);
``gap`` is ``received - planned_received`` (more than planned: positive) and ``gap_share`` that
over the plan (none when the plan is 0); ``planned_service_level`` is the plan's, or else the
channel's target; ``service_level_gap_points`` is the actual minus it, in points (1 % = 1 point),
none when either is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import msgspec

from aiguillage.adapters.config.reports import PlannedChannel
from aiguillage.engine.policies import Channel

if TYPE_CHECKING:
    from aiguillage.adapters.reports.month_figures import MonthFigures

__all__ = [
    "MonthPlan",
    "PlanLine",
    "month_plan",
    "plan_glossary",
    "plan_rows",
    "plan_section",
    "stated_plan",
]


class PlanLine(msgspec.Struct, kw_only=True):
    """One channel's month beside its plan."""

    channel: Channel
    planned_received: int
    received: int
    gap: int
    gap_share: float | None
    planned_service_level: float | None
    """The plan's service level, or the channel's target when the plan sets none."""
    service_level_from_plan: bool
    """Whether ``planned_service_level`` is the plan's own (else the channel's target)."""
    service_level: float | None
    service_level_gap_points: float | None


class MonthPlan(msgspec.Struct, kw_only=True):
    """A month's lines beside the plan, in the report's order of channels."""

    month: str
    channels: list[PlanLine]


def month_plan(
    figures: MonthFigures, planned: Mapping[Channel, PlannedChannel]
) -> MonthPlan | None:
    """Set a month's figures beside its plan; ``None`` when the plan names no channel."""
    if not planned:
        return None
    rows = {row.channel: row for row in figures.channels}
    # The report's order of channels; one the report has no row of after them.
    place = {channel: index for index, channel in enumerate(rows)}
    order = sorted(planned, key=lambda channel: (place.get(channel, len(place)), channel))
    lines = []
    for channel in order:
        plan = planned[channel]
        row = rows.get(channel)
        received = row.received if row is not None else 0
        actual = row.service_level if row is not None else None
        target = plan.service_level
        if target is None and row is not None:
            target = row.target
        gap = received - plan.received
        lines.append(
            PlanLine(
                channel=channel,
                planned_received=plan.received,
                received=received,
                gap=gap,
                gap_share=gap / plan.received if plan.received else None,
                planned_service_level=target,
                service_level_from_plan=plan.service_level is not None,
                service_level=actual,
                service_level_gap_points=(
                    None if actual is None or target is None else (actual - target) * 100
                ),
            )
        )
    return MonthPlan(month=figures.month, channels=lines)


def stated_plan(document: Any) -> dict[Channel, PlannedChannel]:
    """The plan a report states (its ``plan`` member, as JSON), for recomputing it."""
    stated = msgspec.convert(document, MonthPlan)
    return {
        line.channel: PlannedChannel(
            received=line.planned_received,
            service_level=line.planned_service_level if line.service_level_from_plan else None,
        )
        for line in stated.channels
    }


def plan_rows(plan: MonthPlan) -> list[dict[str, Any]]:
    """The plan's table for CSV and XLSX, ``month`` first in each row."""
    return [{"month": plan.month, **msgspec.to_builtins(line)} for line in plan.channels]


_WORDS = {
    "fr": {
        "title": "Le mois et son plan",
        "columns": "Canal|Prévu|Reçu|Écart|Écart (part du prévu)|Niveau de service prévu"
        "|Niveau de service|Écart (points)",
        "target": " (cible du canal)",
        "glossary": "Plan : les volumes (et niveaux de service) prévus pour le mois par canal, "
        "tels que la configuration les fixe ([reports.plan]) ; reçus comptés comme dans le "
        "reste du rapport. Écart : reçus moins prévus ; en part du prévu. Niveau de service "
        "prévu : celui du plan, ou à défaut la cible du canal ; écart en points (1 % = 1 point).",
    },
    "en": {
        "title": "The month and its plan",
        "columns": "Channel|Planned|Received|Gap|Gap (share of plan)|Planned service level"
        "|Service level|Gap (points)",
        "target": " (the channel's target)",
        "glossary": "Plan: the volumes (and service levels) planned for the month per channel, "
        "as the configuration sets them ([reports.plan]); received counted as in the rest of "
        "the report. Gap: received minus planned; as a share of the plan. Planned service "
        "level: the plan's, or else the channel's target; its gap in points (1 % = 1 point).",
    },
}


def plan_glossary(language: str) -> dict[str, str]:
    """The glossary's entry for the plan, added to a report that has one."""
    return {"plan": _WORDS[language]["glossary"]}


def plan_section(plan: MonthPlan, words: Any) -> str:
    """The HTML section of the plan; ``words`` is the report's ``MonthLanguage``."""
    own = _WORDS[words.code]
    rows = []
    for line in plan.channels:
        share = "—" if line.gap_share is None else words.percent(line.gap_share)
        planned_level = (
            "—" if line.planned_service_level is None else words.percent(line.planned_service_level)
        )
        if line.planned_service_level is not None and not line.service_level_from_plan:
            planned_level += own["target"]
        level = "—" if line.service_level is None else words.percent(line.service_level)
        points = (
            "—"
            if line.service_level_gap_points is None
            else f"{'+' if line.service_level_gap_points > 0 else ''}"
            f"{words.number(line.service_level_gap_points, 1)}"
        )
        gap = f"{'+' if line.gap > 0 else ''}{line.gap}"
        cells = [str(line.planned_received), str(line.received), gap, share]
        cells += [planned_level, level, points]
        rows.append(
            f'<tr><th scope="row">{escape(words.channel(line.channel))}</th>'
            + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
            + "</tr>\n"
        )
    heads = "".join(f'<th scope="col">{escape(h)}</th>' for h in own["columns"].split("|"))
    return (
        f'<section>\n<h2>{escape(own["title"])}</h2>\n<div class="scroll"><table>\n'
        f"<thead><tr>{heads}</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table></div>\n"
        "</section>\n"
    )
