"""The penalty statement written out: JSON (every field), CSV (one row per line) or HTML.

The HTML page is self-contained, in the style of the other reports: each line with what it
rests on (the breached interactions' ids, the figures of a service level under its target), the
caps taken off as lines of their own, and the total, the sum of the lines.
"""

from __future__ import annotations

import csv
import io
from html import escape

import msgspec

from aiguillage.adapters.reports.penalties import PenaltyLine, PenaltyStatement
from aiguillage.adapters.reports.simulation import _STYLE  # one look for every report

__all__ = ["STATEMENT_FORMATS", "render_statement"]

STATEMENT_FORMATS = ("html", "json", "csv")

_WORDS = {
    "fr": {
        "title": "Relevé des pénalités",
        "breaches": "Dépassements du délai",
        "service_level": "Niveau de service sous l'objectif",
        "transfers": "Transferts",
        "unavailability": "Indisponibilité du service",
        "channel_cap": "Plafond du canal",
        "cap": "Plafond mensuel",
        "total": "Total",
        "line": "Ligne",
        "channel": "Canal",
        "basis": "Fondement",
        "amount": "Montant",
        "journal": "Journal lu : événements {first} à {last}, empreinte {hash}",
        "so_far": "Le journal ne couvre pas encore tout le mois : relevé provisoire.",
        "exemptions": "Exonérations demandées (seules les acceptées s'appliquent)",
        "claim": "Demande",
        "period": "Période",
        "status": "Décision",
        "pending": "en attente",
        "accepted": "acceptée",
        "refused": "refusée",
        "all": "tous",
    },
    "en": {
        "title": "Penalty statement",
        "breaches": "Deadlines missed",
        "service_level": "Service level under the target",
        "transfers": "Transfers",
        "unavailability": "Service unavailable",
        "channel_cap": "Channel's cap",
        "cap": "Monthly cap",
        "total": "Total",
        "line": "Line",
        "channel": "Channel",
        "basis": "Rests on",
        "amount": "Amount",
        "journal": "Journal read: events {first} to {last}, hash {hash}",
        "so_far": "The journal does not cover the whole month yet: a provisional statement.",
        "exemptions": "Exemptions claimed (only accepted ones apply)",
        "claim": "Claim",
        "period": "Period",
        "status": "Decision",
        "pending": "pending",
        "accepted": "accepted",
        "refused": "refused",
        "all": "all",
    },
}


def render_statement(statement: PenaltyStatement, format: str, *, language: str = "fr") -> bytes:
    """Return the statement in ``format`` (``html``, ``json`` or ``csv``)."""
    if language not in _WORDS:
        raise ValueError(f"no statement language {language!r}; choose one of fr, en")
    if format == "json":
        return msgspec.json.encode(statement)
    if format == "csv":
        return _csv(statement).encode("utf-8")
    if format == "html":
        return _html(statement, _WORDS[language], language).encode("utf-8")
    raise ValueError(
        f"no statement format {format!r}; choose one of {', '.join(STATEMENT_FORMATS)}"
    )


def _basis(line: PenaltyLine) -> str:
    """What a line rests on, in one phrase of figures and ids (the same in both languages),
    and the interactions an accepted exemption left out of it."""
    basis = _rests_on(line)
    if line.exempted:
        basis += "; exempted: " + " ".join(str(i) for i in line.exempted)
    return basis


def _rests_on(line: PenaltyLine) -> str:
    if line.kind in ("breaches", "transfers"):
        ids = " ".join(str(i) for i in line.interactions)
        return f"{line.count} \u00d7 {_euros(line.unit_cents or 0)}: {ids}"
    if line.kind == "service_level":
        shown = ", ".join(f"{key} {value}" for key, value in line.figures.items())
        return (
            f"{(line.service_level or 0) * 100:.4f} % < {(line.target or 0) * 100:.4f} %: "
            f"{line.points:.4f} \u00d7 {_euros(line.unit_cents or 0)} ({shown})"
        )
    if line.kind == "unavailability":
        shown = ", ".join(f"{key} {value}" for key, value in line.figures.items())
        periods = " ".join(line.periods)
        return f"{line.count} h \u00d7 {_euros(line.unit_cents or 0)} ({shown}): {periods}"
    return f"> {_euros(line.cap_cents or 0)}"


def _euros(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d} €"


def _csv(statement: PenaltyStatement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month", "kind", "channel", "amount_cents", "basis"])
    for line in statement.lines:
        writer.writerow(
            [statement.month, line.kind, line.channel or "", line.amount_cents, _basis(line)]
        )
    writer.writerow([statement.month, "total", "", statement.total_cents, ""])
    return out.getvalue()


def _html(statement: PenaltyStatement, words: dict[str, str], language: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(words[line.kind])}</td><td>{escape(line.channel or '')}</td>"
        f'<td>{escape(_basis(line))}</td><td class="num">{escape(_euros(line.amount_cents))}'
        "</td></tr>\n"
        for line in statement.lines
    )
    claims = "".join(
        f"<tr><td>{claim.id}</td><td>{escape(claim.start)} to {escape(claim.end)}</td>"
        f"<td>{escape(', '.join(claim.channels) or words['all'])}</td>"
        f"<td>{escape(claim.reason)} ({escape(claim.claimed_by)})</td>"
        f"<td>{escape(words[claim.status])}"
        + (
            f": {escape(claim.decision_reason)} ({escape(claim.decided_by)})"
            if claim.decided_by
            else ""
        )
        + "</td></tr>\n"
        for claim in statement.exemptions
    )
    exemptions = (
        f"<h2>{escape(words['exemptions'])}</h2>\n<table>\n<tr><th>{escape(words['claim'])}</th>"
        f"<th>{escape(words['period'])}</th><th>{escape(words['channel'])}</th>"
        f"<th>{escape(words['basis'])}</th><th>{escape(words['status'])}</th></tr>\n{claims}"
        "</table>\n"
        if claims
        else ""
    )
    journal = statement.journal
    provisional = "" if statement.complete else f"<p>{escape(words['so_far'])}</p>\n"
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">\n"
        f"<title>{escape(words['title'])} — {escape(statement.month)}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(words['title'])} — {escape(statement.month)}</h1>\n{provisional}"
        f"<table>\n<tr><th>{escape(words['line'])}</th><th>{escape(words['channel'])}</th>"
        f"<th>{escape(words['basis'])}</th><th>{escape(words['amount'])}</th></tr>\n{rows}"
        f'<tr><th colspan="3">{escape(words["total"])}</th>'
        f'<th class="num">{escape(_euros(statement.total_cents))}</th></tr>\n</table>\n'
        f"{exemptions}<p>"
        + escape(
            words["journal"].format(
                first=journal.first_seq, last=journal.last_seq, hash=journal.last_hash
            )
        )
        + "</p>\n</body>\n</html>\n"
    )
