"""The month's exemption claims written out: a section of the month's page, and table rows.

``exemption_section(figures, language)`` is the HTML section listing each claim meeting the
month (its period, channels, reason, who claimed it, the decision, who decided it and why) and
the interactions the accepted ones excuse; empty when no claim meets the month.
``exemption_tables(figures)`` gives the same as rows for the CSV and XLSX tables.
"""

from __future__ import annotations

from html import escape
from typing import Any

import msgspec

from aiguillage.adapters.reports.month_figures import MonthFigures

__all__ = ["exemption_section", "exemption_tables"]

_WORDS = {
    "fr": {
        "title": "Exonérations (force majeure)",
        "note": "Seules les demandes acceptées par l'autorité s'appliquent : le travail dont "
        "l'échéance tombe dans leur période n'est ni un dépassement facturé ni compté dans le "
        "niveau de service des pénalités. Les chiffres ci-dessus restent ceux du mois.",
        "columns": ("Demande", "Période", "Canaux", "Motif", "Demandée par", "Décision"),
        "all": "tous",
        "pending": "en attente",
        "accepted": "acceptée",
        "refused": "refusée",
        "exempted": "Interactions exonérées : {ids}",
        "none": "aucune",
        "to": "au",
        "sep": " : ",
    },
    "en": {
        "title": "Exemptions (force majeure)",
        "note": "Only claims the authority accepted apply: work due within their period is "
        "neither a breach charged nor counted in the service level of the penalties. The "
        "figures above stay the month's.",
        "columns": ("Claim", "Period", "Channels", "Reason", "Claimed by", "Decision"),
        "all": "all",
        "pending": "pending",
        "accepted": "accepted",
        "refused": "refused",
        "exempted": "Interactions exempted: {ids}",
        "none": "none",
        "to": "to",
        "sep": ": ",
    },
}


def exemption_section(figures: MonthFigures, language: str) -> str:
    """The month page's section on exemptions, or nothing when no claim meets the month."""
    exemptions = figures.exemptions
    if not exemptions.claims:
        return ""
    words = _WORDS.get(language, _WORDS["fr"])
    heads = "".join(f'<th scope="col">{escape(head)}</th>' for head in words["columns"])
    rows = []
    for claim in exemptions.claims:
        decision = str(words[claim.status])
        if claim.decided_by:
            decision += (
                f"{words['sep']}{claim.decision_reason} ({claim.decided_by}, {claim.decided_at})"
            )
        rows.append(
            f'<tr><th scope="row">{claim.id}</th>'
            f"<td>{escape(claim.start)} {escape(str(words['to']))} {escape(claim.end)}</td>"
            f"<td>{escape(', '.join(claim.channels) or str(words['all']))}</td>"
            f"<td>{escape(claim.reason)}</td>"
            f"<td>{escape(claim.claimed_by)}, {escape(claim.claimed_at)}</td>"
            f"<td>{escape(decision)}</td></tr>\n"
        )
    ids = " ".join(str(i) for i in exemptions.interactions) or str(words["none"])
    return (
        f"<section>\n<h2>{escape(str(words['title']))}</h2>\n<p>{escape(str(words['note']))}</p>\n"
        f'<div class="scroll"><table>\n<thead><tr>{heads}</tr></thead>\n<tbody>\n'
        + "".join(rows)
        + "</tbody>\n</table></div>\n"
        f"<p>{escape(str(words['exempted']).format(ids=ids))}</p>\n</section>\n"
    )


def exemption_tables(figures: MonthFigures) -> dict[str, list[dict[str, Any]]]:
    """The claims meeting the month and the exempted interactions, as table rows."""
    exemptions = figures.exemptions
    claims = [
        {"month": figures.month, **msgspec.to_builtins(claim), "channels": " ".join(claim.channels)}
        for claim in exemptions.claims
    ]
    exempted: list[dict[str, Any]] = [
        {
            "month": figures.month,
            "interaction_id": interaction_id,
            "channel": excused.channel,
            "breached": interaction_id in excused.breaches,
        }
        for excused in exemptions.channels
        for interaction_id in excused.interactions
    ]
    exempted.sort(key=lambda row: row["interaction_id"])
    return {"exemptions": claims, "exempted": exempted}
