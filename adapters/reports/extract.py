"""An extract of interactions: one row per interaction, as CSV or as an XLSX workbook.

Rows come from the views the journal keeps (``stores.views``): what happened to the work (its
channel, source, motive, status, instants, deadline, breach, advisor). The customer's name,
e-mail, phone and text are added only when the caller may read personal data, from the
personal-data store; an erased interaction's are empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from aiguillage.adapters.reports.month_render import workbook
from aiguillage.adapters.stores.views import InteractionOut

__all__ = ["COLUMNS", "EXTRACT_FORMATS", "PERSONAL_COLUMNS", "extract_row", "render_extract"]

EXTRACT_FORMATS = ("csv", "xlsx")

COLUMNS = (
    "id",
    "channel",
    "source",
    "motive",
    "typology",
    "status",
    "priority",
    "received_at",
    "responded_at",
    "ended_at",
    "deadline",
    "within_sla",
    "breached",
    "advisor",
    "transfers",
)
PERSONAL_COLUMNS = ("customer_name", "customer_email", "customer_phone", "subject", "text")


def extract_row(view: InteractionOut, personal: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return one interaction's row; with ``personal`` (its data, or ``{}`` once erased), the
    personal columns too."""
    row: dict[str, Any] = {
        "id": view.id,
        "channel": view.channel,
        "source": view.source,
        "motive": view.motive,
        "typology": view.typology,
        "status": view.status,
        "priority": view.priority,
        "received_at": view.received_at,
        "responded_at": view.responded_at,
        "ended_at": view.ended_at,
        "deadline": view.deadline,
        "within_sla": view.within_sla,
        "breached": view.breached,
        "advisor": view.handled_by or view.advisor_id,
        "transfers": view.transfers,
    }
    if personal is not None:
        customer = personal.get("customer")
        who = customer if isinstance(customer, dict) else {}
        row.update(
            customer_name=who.get("name"),
            customer_email=who.get("email"),
            customer_phone=who.get("phone"),
            subject=personal.get("subject"),
            text=personal.get("text"),
        )
    return row


def render_extract(rows: Sequence[dict[str, Any]], format: str, *, personal: bool) -> bytes:
    """Return the rows as ``csv`` (UTF-8, a header line) or ``xlsx`` (one sheet)."""
    columns = [*COLUMNS, *(PERSONAL_COLUMNS if personal else ())]
    if format == "xlsx":
        # Every row names every column, so the sheet's header is the same for every role.
        return workbook({"interactions": [{c: row.get(c) for c in columns} for row in rows]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
