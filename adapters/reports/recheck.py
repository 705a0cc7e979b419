"""Checking a report against the journal: recompute it from the records it names, line by line.

``Recheck(document)`` reads which report a JSON document is (a month's report, a year's review
or a penalty statement) and the journal range it names (``journal``: up to event ``last_seq``,
whose hash is ``last_hash``). Fed the journal's records in order, a page at a time, it tallies
those of the range and passes over the rest; ``findings()`` then recomputes the report the same
way it was computed, with the rules the statement states, and lists every value of the file the
journal does not give, by its path (``lines[2].amount_cents``), after what is wrong with the
journal read: cut short before the range's end, or another hash there.

Exceptions::

    NotAReport      the document is none of the reports; the message says what was expected
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec

from aiguillage.adapters.config.reports import PlannedChannel
from aiguillage.adapters.reports.month_figures import (
    MonthReport,
    Months,
    YearReport,
    as_month_report,
    report_months,
    year_months,
)
from aiguillage.adapters.reports.month_plan import month_plan, stated_plan
from aiguillage.adapters.reports.month_render import render
from aiguillage.adapters.reports.month_words import LANGUAGES
from aiguillage.adapters.reports.penalties import PenaltyRules, penalty_statement
from aiguillage.adapters.stores.journal import Record
from aiguillage.engine.policies import Channel

__all__ = ["Findings", "NotAReport", "Recheck"]


class NotAReport(ValueError):
    """A document that is none of the reports ``aiguillage report`` writes as JSON."""


class Findings(msgspec.Struct, kw_only=True):
    """What a recheck found: how many values it compared, and each difference, in order."""

    kind: str
    """``month``, ``year`` or ``penalties``."""
    compared: int
    differences: list[str]

    @property
    def matches(self) -> bool:
        return not self.differences


class Recheck:
    """Recompute one report from the journal's records and compare it with the file's."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = {name: value for name, value in document.items() if name != "signature"}
        self.planned: dict[Channel, PlannedChannel] = {}
        """The plan a month's report states: its actual figures and gaps are recomputed."""
        try:
            if "lines" in document and "rules" in document:
                self.kind = "penalties"
                self.rules = msgspec.convert(document["rules"], PenaltyRules)
                months = [str(document["month"])]
                journal = document["journal"]
            elif "previous" in document:
                self.kind = "month"
                months = report_months(str(document["month"]["month"]))
                journal = document["month"]["journal"]
                if "plan" in document:
                    self.planned = stated_plan(document["plan"])
            elif "months" in document and "year" in document:
                self.kind = "year"
                months = year_months(int(document["year"]))
                journal = document["months"][0]["journal"]
            else:
                raise NotAReport(
                    "this JSON is neither a month's report, a year's review nor a penalty "
                    "statement: give a file `aiguillage report … --format json` wrote"
                )
            self.last_seq = int(journal["last_seq"])
            self.last_hash = str(journal["last_hash"])
            self.months = Months(months)
        except (KeyError, TypeError, ValueError, msgspec.ValidationError) as exc:
            if isinstance(exc, NotAReport):
                raise
            raise NotAReport(f"this report is incomplete or altered in its form ({exc})") from None
        self.found_hash: str | None = None
        self.read_to = 0

    def feed(self, records: Iterable[Record]) -> None:
        """Tally the records of the report's range; pass over those after it."""
        taken = [record for record in records if record.seq <= self.last_seq]
        if taken:
            self.read_to = taken[-1].seq
            if taken[-1].seq == self.last_seq:
                self.found_hash = taken[-1].hash
            self.months.feed(taken)

    def findings(self) -> Findings:
        """Recompute the report and compare it with the file, value by value."""
        differences: list[str] = []
        if self.read_to < self.last_seq:
            differences.append(
                f"journal: it ends at event {self.read_to}, and the report read up to event "
                f"{self.last_seq}: it was cut short since"
            )
        elif self.found_hash != self.last_hash:
            differences.append(
                f"journal: event {self.last_seq} has hash {self.found_hash}, the report names "
                f"{self.last_hash}: the journal up to it is not the one the report was computed "
                "from"
            )
        expected = self._recomputed()
        compared = _compare("", self.document, expected, differences)
        return Findings(kind=self.kind, compared=compared, differences=differences)

    def _recomputed(self) -> Any:
        found = self.months.figures()
        if self.kind == "penalties":
            return _plain(msgspec.json.encode(penalty_statement(found[0], self.rules)))
        report: MonthReport | YearReport
        plan = None
        if self.kind == "month":
            report = as_month_report(found)
            plan = month_plan(report.month, self.planned)
        else:
            report = YearReport(year=int(self.document["year"]), months=found)
        # The glossary is in the language the report was written in: recompute in that one.
        written = self.document.get("glossary")
        pages = [
            _plain(render(report, "json", language=language, plan=plan)) for language in LANGUAGES
        ]
        return next((page for page in pages if page.get("glossary") == written), pages[0])


def _plain(body: bytes) -> Any:
    return json.loads(body)


def _compare(path: str, stated: Any, recomputed: Any, differences: list[str]) -> int:
    """Compare two JSON values, adding a line to ``differences`` for each leaf that differs;
    return the number of leaves compared."""
    if isinstance(stated, dict) and isinstance(recomputed, dict):
        count = 0
        for key in dict.fromkeys([*stated, *recomputed]):
            where = f"{path}.{key}" if path else str(key)
            if key not in recomputed:
                differences.append(f"{where}: the report states it, the journal gives nothing")
            elif key not in stated:
                differences.append(f"{where}: missing from the report, the journal gives it")
            else:
                count += _compare(where, stated[key], recomputed[key], differences)
        return count
    if isinstance(stated, list) and isinstance(recomputed, list):
        count = 0
        for index in range(max(len(stated), len(recomputed))):
            where = f"{path}[{index}]"
            if index >= len(recomputed):
                differences.append(f"{where}: the report has it, the journal gives no such row")
            elif index >= len(stated):
                differences.append(f"{where}: missing from the report, the journal gives it")
            else:
                count += _compare(where, stated[index], recomputed[index], differences)
        return count
    if stated != recomputed or type(stated) is not type(recomputed):
        differences.append(
            f"{path}: the report says {json.dumps(stated)}, the journal gives "
            f"{json.dumps(recomputed)}"
        )
    return 1
