"""The HTML report: one self-contained page, in French or English, from a run's data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import msgspec
import pytest

from aiguillage.adapters.reports.charts import Axis, Frame, Line, line_chart
from aiguillage.adapters.reports.simulation import MAX_POINTS, render_html
from aiguillage.engine.policies import Channel
from aiguillage.simulations.outcome import (
    ChannelSummary,
    Estimate,
    IntervalRow,
    ReplicatedRun,
    RunResult,
)

PARIS = ZoneInfo("Europe/Paris")
CHARTS = 5
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


class Page(HTMLParser):
    """A strict reading of a page: every element closed in order, attributes collected."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.declarations: list[str] = []
        self.feed(text)
        self.close()
        self.problems += [f"<{tag}> never closed" for tag in self.open]

    def handle_decl(self, decl: str) -> None:
        self.declarations.append(decl)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
            return
        self.open.pop()

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)


def row(at: datetime, **figures: float) -> IntervalRow:
    values: dict[str, float] = {
        "arrivals": 0, "answered": 0, "answered_within_sla": 0, "abandoned": 0, "breaches": 0,
        "waiting": 0, "mean_wait_s": 0.0, "occupancy": 0.0,
    }  # fmt: skip
    values.update(figures)
    return IntervalRow(
        start=at.isoformat(),
        arrivals=int(values["arrivals"]),
        answered=int(values["answered"]),
        answered_within_sla=int(values["answered_within_sla"]),
        abandoned=int(values["abandoned"]),
        breaches=int(values["breaches"]),
        waiting=int(values["waiting"]),
        mean_wait_s=values["mean_wait_s"],
        occupancy=values["occupancy"],
    )


def summary(channel: Channel, **figures: float) -> ChannelSummary:
    values: dict[str, float] = {
        "offered": 0, "answered": 0, "abandoned": 0, "answered_within_sla": 0, "still_open": 0,
        "service_level": 1.0, "target_share": 0.8, "mean_wait_s": 0.0, "p90_wait_s": 0.0,
        "breaches": 0, "penalties_eur": 0.0, "occupancy": 0.0,
    }  # fmt: skip
    values.update(figures)
    return ChannelSummary(
        channel=channel,
        offered=int(values["offered"]),
        answered=int(values["answered"]),
        abandoned=int(values["abandoned"]),
        answered_within_sla=int(values["answered_within_sla"]),
        still_open=int(values["still_open"]),
        service_level=values["service_level"],
        target_share=values["target_share"],
        mean_wait_s=values["mean_wait_s"],
        p90_wait_s=values["p90_wait_s"],
        breaches=int(values["breaches"]),
        penalties_eur=values["penalties_eur"],
        occupancy=values["occupancy"],
    )


def run(
    days: float = 1,
    *,
    name: str = "Débordement IDFM",
    seed: int = 7,
    strategy: str = "deadline",
    start: datetime = datetime(2027, 3, 1, tzinfo=PARIS),
    rows: bool = True,
    level: float = 0.805,
) -> RunResult:
    """Voice meets its target, social misses it; traffic by day, quiet at night."""
    count = int(days * 48)
    instants = [(start + timedelta(minutes=30 * n)).astimezone(PARIS) for n in range(count)]

    def busy(at: datetime) -> bool:
        return 8 <= at.hour < 19

    series = {
        channel: [
            row(
                at,
                arrivals=9 * busy(at),
                answered=8 * busy(at),
                answered_within_sla=(7 if channel == "voice" else 4) * busy(at),
                abandoned=busy(at),
                waiting=(2 if channel == "voice" else 6) * busy(at),
                breaches=(channel == "social") * busy(at),
                occupancy=0.7 * busy(at),
            )
            for at in instants
        ]
        for channel in ("voice", "social")
    }
    if not rows:
        series = {}
    return RunResult(
        deployment=name,
        start=start.isoformat(),
        end=(start + timedelta(days=days)).astimezone(PARIS).isoformat(),
        timezone="Europe/Paris",
        seed=seed,
        strategy=strategy,
        interval_minutes=30,
        channels=[
            summary(
                "voice",
                offered=12345,
                answered=12000,
                abandoned=345,
                service_level=level,
                target_share=0.8,
                mean_wait_s=45,
                p90_wait_s=150,
                breaches=1200,
                penalties_eur=18000,
                occupancy=0.72,
            ),
            summary(
                "social",
                offered=900,
                answered=880,
                service_level=0.5,
                target_share=0.85,
                mean_wait_s=5400,
                p90_wait_s=9000,
                breaches=440,
                penalties_eur=11000,
                occupancy=0.6,
            ),
        ],
        series=series,
        occupancy=0.66,
        breaches_per_day=(
            {
                "social": {
                    (start + timedelta(days=d)).date().isoformat(): 10 + d for d in range(int(days))
                }
            }
            if rows
            else {}
        ),
    )


def replicated(count: int = 3) -> ReplicatedRun:
    runs = [run(seed=7 + n) for n in range(count)]
    estimates = {
        "voice": {
            "service_level": Estimate(mean=0.821, low=0.803, high=0.839),
            "mean_wait_s": Estimate(mean=42.0, low=38.0, high=46.0),
            "breaches": Estimate(mean=1190.0, low=1100.0, high=1280.0),
        },
        "social": {"service_level": Estimate(mean=0.5, low=0.41, high=0.59)},
    }
    return ReplicatedRun(runs=runs, estimates=estimates)


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(run())


@pytest.fixture(scope="module")
def year() -> str:
    return render_html(run(365, start=datetime(2027, 1, 1, tzinfo=PARIS)))


def cells(page: str, channel_label: str) -> str:
    found = re.search(rf"<tr><th scope=\"row\">.*?{channel_label}</th>(.*?)</tr>", page)
    assert found, f"no row for {channel_label}"
    return found.group(1)


# -- structure ----------------------------------------------------------------------------------


def test_the_page_is_well_formed_html5_with_one_svg_per_chart(page: str) -> None:
    parsed = Page(page)
    assert parsed.problems == []
    assert parsed.declarations == ["DOCTYPE html"]
    assert parsed.count("svg") == CHARTS
    assert parsed.count("figure") == CHARTS


def test_the_page_declares_its_language_and_encoding(page: str) -> None:
    parsed = Page(page)
    assert ("html", {"lang": "fr"}) in parsed.tags
    assert ("meta", {"charset": "utf-8"}) in parsed.tags


def test_nothing_is_fetched_from_outside(page: str) -> None:
    parsed = Page(page)
    assert "http://" not in page
    assert "https://" not in page
    assert "@import" not in page
    assert "url(" not in page
    assert parsed.count("script") == parsed.count("link") == parsed.count("img") == 0
    for _, attributes in parsed.tags:
        assert "src" not in attributes
        assert "href" not in attributes


def test_the_page_forbids_any_fetch_by_policy(page: str) -> None:
    policies = [a for tag, a in Page(page).tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert policies
    assert policies[0]["content"] is not None
    assert policies[0]["content"].startswith("default-src 'none'")


# -- language and numbers -----------------------------------------------------------------------


def test_labels_are_french_by_default(page: str) -> None:
    for label in ("Par canal", "Niveau de service", "Téléphone", "Réseaux sociaux",
                  "Interactions en attente au fil de la journée",
                  "Dépassements de délai par jour"):  # fmt: skip
        assert label in page


def test_labels_are_english_with_language_en() -> None:
    english = render_html(run(), language="en")
    assert ("html", {"lang": "en"}) in Page(english).tags
    for label in ("By channel", "Service level", "Voice", "Social networks",
                  "Backlog through the day", "SLA breaches per day"):  # fmt: skip
        assert label in english
    assert "Niveau de service" not in english
    assert "Téléphone" not in english


@pytest.mark.parametrize(
    ("language", "axis", "backlog"),
    [("fr", "en attente", "Interactions en attente"), ("en", "waiting", "Backlog")],
)
def test_the_charts_of_the_backlog_are_titled_backlog(
    language: str, axis: str, backlog: str
) -> None:
    figures = re.findall(r"<figure.*?</figure>", render_html(run(), language=language))
    titles = [
        re.findall(r"<h3>(.*?)</h3>", figure)[0]
        for figure in figures
        if f'rotate(-90)" text-anchor="middle" class="axis">{axis}</text>' in figure
    ]
    assert len(titles) == 2
    assert all(title.startswith(backlog) for title in titles), titles


def test_french_numbers_use_a_decimal_comma_and_spaced_percent(page: str) -> None:
    assert "80,5\u00a0%" in page
    assert "12\u202f345" in page
    assert "18\u202f000\u00a0€" in page


def test_english_numbers_use_a_decimal_point_and_a_bare_percent() -> None:
    english = render_html(run(), language="en")
    assert "80.5%" in english
    assert "12,345" in english
    assert "€18,000" in english


def test_waits_read_as_seconds_minutes_and_hours(page: str) -> None:
    voice, social = cells(page, "Téléphone"), cells(page, "Réseaux sociaux")
    assert "45\u00a0s" in voice
    assert "2,5\u00a0min" in voice
    assert "1,5\u00a0h" in social


def test_the_period_is_in_local_time_with_its_zone(page: str) -> None:
    assert (
        "Du lundi 1 mars 2027 à 00:00 au mardi 2 mars 2027 à 00:00 (Europe/Paris) : 1 jour." in page
    )
    assert "Graine 7" in page
    assert "deadline" in page


def test_the_period_is_in_english_with_language_en() -> None:
    english = render_html(run(), language="en")
    assert "From Monday 1 March 2027, 00:00 to Tuesday 2 March 2027, 00:00" in english


@pytest.mark.parametrize(
    ("language", "definition"),
    [
        ("fr", "Un abandon compte comme manqué"),
        ("en", "An abandon counts as missed"),
    ],
)
def test_the_footer_defines_the_service_level(language: str, definition: str) -> None:
    footer = render_html(run(), language=language).split("<footer>")[1]
    assert definition in footer


# -- service level against target ---------------------------------------------------------------


def test_a_met_target_is_marked_green(page: str) -> None:
    assert '<td class="met"' in cells(page, "Téléphone")
    assert re.search(r"td\.met \{[^}]*color: #11602c", page)


def test_a_missed_target_is_marked_red(page: str) -> None:
    assert '<td class="missed"' in cells(page, "Réseaux sociaux")
    assert re.search(r"td\.missed \{[^}]*color: #a0231a", page)


def test_a_service_level_just_below_target_is_missed() -> None:
    assert '<td class="missed"' in cells(render_html(run(level=0.799)), "Téléphone")


# -- escaping -----------------------------------------------------------------------------------


def test_a_deployment_name_with_a_script_tag_is_escaped() -> None:
    hostile = render_html(run(name="<script>alert('x')</script> & Co", strategy='"><b>'))
    assert "<script>" not in hostile
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in hostile
    assert "<b>" not in hostile
    assert Page(hostile).problems == []


# -- odd and long series ------------------------------------------------------------------------


def test_a_run_without_any_series_still_draws_every_chart() -> None:
    empty = render_html(run(rows=False))
    parsed = Page(empty)
    assert parsed.problems == []
    assert parsed.count("svg") == CHARTS
    assert "Aucune donnée" in empty


def test_a_run_without_any_channel_or_row_renders() -> None:
    bare = RunResult(
        deployment="vide", start="2027-03-01T00:00:00+01:00", end="2027-03-01T00:00:00+01:00",
        timezone="Europe/Paris", seed=1, strategy="fifo", interval_minutes=30, channels=[],
        series={}, occupancy=0.0, breaches_per_day={},
    )  # fmt: skip
    parsed = Page(render_html(bare))
    assert parsed.problems == []
    assert parsed.count("svg") == CHARTS


def test_a_single_interval_is_drawn_as_points() -> None:
    single = render_html(run(1 / 48, start=datetime(2027, 3, 1, 10, tzinfo=PARIS)))
    parsed = Page(single)
    assert parsed.problems == []
    assert parsed.count("circle") > 0
    assert ">10:00<" in single
    assert ">10:30<" in single
    assert "(Europe/Paris) : 30,0\u00a0min." in single


def test_all_zero_series_draw_without_nan_or_infinity() -> None:
    quiet = run(2)
    zero = {
        c: [row(datetime.fromisoformat(r.start)) for r in rows] for c, rows in quiet.series.items()
    }
    page = render_html(msgspec.structs.replace(quiet, series=zero, breaches_per_day={}))
    assert Page(page).problems == []
    assert not re.search(r"\b(nan|inf)\b", page, re.IGNORECASE)


def test_a_year_of_half_hours_stays_under_two_megabytes(year: str) -> None:
    assert len(year.encode()) < 2_000_000
    assert Page(year).problems == []


def test_a_year_of_half_hours_is_drawn_as_daily_values(year: str) -> None:
    assert "regroupé par jour" in year
    for points in re.findall(r'<polyline [^>]*points="([^"]*)"', year):
        assert len(points.split()) <= MAX_POINTS


def test_a_year_labels_its_months(year: str) -> None:
    assert "janv. 2027" in year
    assert ">déc.<" in year


def test_a_week_is_drawn_interval_by_interval() -> None:
    week = render_html(run(7))
    assert "par intervalle de 30 min" in week


# -- replicated runs ----------------------------------------------------------------------------


def test_replicated_runs_show_the_mean_and_its_confidence_interval() -> None:
    page = render_html(replicated())
    voice = cells(page, "Téléphone")
    assert "82,1\u00a0%" in voice
    assert "[80,3 \u2013 83,9]" in voice
    assert "[38 \u2013 46]" in voice


def test_replicated_runs_say_how_many_replications_and_seeds() -> None:
    page = render_html(replicated(4))
    assert "4 réplications (graines 7 à 10)" in page
    assert "intervalle de confiance" in page


def test_replicated_runs_in_english_use_english_numbers() -> None:
    page = render_html(replicated(), language="en")
    assert "[80.3 \u2013 83.9]" in cells(page, "Voice")
    assert "3 replications (seeds 7 to 9)" in page


def test_replicated_runs_judge_the_target_on_the_mean() -> None:
    page = render_html(replicated())
    assert '<td class="met"' in cells(page, "Téléphone")
    assert '<td class="missed"' in cells(page, "Réseaux sociaux")


def test_a_replicated_run_without_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="without any run"):
        render_html(ReplicatedRun(runs=[], estimates={}))


def test_an_unknown_language_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="fr, en"):
        render_html(run(), language="de")


# -- the drawing underneath ---------------------------------------------------------------------


def test_a_value_axis_ends_on_a_round_number_above_the_highest_value() -> None:
    axis = Axis.of_values(137, "en attente", lambda value, digits: f"{value:.{digits}f}")
    assert [label for _, label in axis.ticks] == ["0", "50", "100", "150"]


def test_a_value_axis_of_zeros_still_has_a_scale() -> None:
    axis = Axis.of_values(
        0, "dépassements", lambda value, digits: f"{value:.{digits}f}", whole=True
    )
    assert (axis.low, axis.high) == (0.0, 1.0)


def test_a_line_breaks_where_a_value_is_missing() -> None:
    frame = Frame(400, 200, "test", "vide")
    x = Axis(0, 3, [], "x")
    y = Axis(0, 1, [], "y")
    svg = line_chart(frame, [Line("a", "#000000", [(0, 1), (1, None), (2, 1), (3, 0.5)])], x, y)
    assert svg.count("<circle") == 1
    assert svg.count("<polyline") == 1


@pytest.mark.parametrize(
    ("language", "shown", "defined"),
    [
        ("fr", "dont 3 courts", "Abandons courts"),
        ("en", "3 short", "Short abandons"),
    ],
)
def test_short_abandons_are_shown_beside_the_abandoned_and_defined(
    language: str, shown: str, defined: str
) -> None:
    base = run()
    voice = msgspec.structs.replace(base.channels[0], abandoned=7, short_abandons=3)
    page = render_html(
        msgspec.structs.replace(base, channels=[voice, *base.channels[1:]]), language=language
    )
    label = "Téléphone" if language == "fr" else "Voice"
    assert shown in cells(page, label)
    assert defined in page.split("<footer>")[1]


def test_a_channel_without_short_abandons_shows_none() -> None:
    page = render_html(run(), language="en")
    assert "short" not in cells(page, "Voice")


# -- the announced wait -------------------------------------------------------------------------


def told_run(late: float) -> RunResult:
    base = run()
    voice = msgspec.structs.replace(
        base.channels[0],
        estimated=4321,
        estimate_late_share=late,
        estimate_mae_s=95.0,
        estimate_over_share=0.62,
    )
    return msgspec.structs.replace(base, channels=[voice, *base.channels[1:]])


def told_section(page: str) -> str:
    return page.split("<main>")[1].split("</section>")[1]


@pytest.mark.parametrize(
    ("language", "title", "figures", "defined"),
    [
        ("fr", "Attente annoncée aux appelants", ["4\u202f321", "4,5\u00a0%", "1,6\u00a0min",
                                                  "62,0\u00a0%"], "Attente annoncée :"),
        ("en", "Wait announced to callers", ["4,321", "4.5%", "1.6\u00a0min", "62.0%"],
         "Announced wait:"),
    ],
)  # fmt: skip
def test_the_announced_wait_is_measured_per_channel_and_defined(
    language: str, title: str, figures: list[str], defined: str
) -> None:
    page = render_html(told_run(0.045), language=language)
    section = told_section(page)
    assert title in section
    label = "Téléphone" if language == "fr" else "Voice"
    row = re.search(rf"<tr><th scope=\"row\">.*?{label}</th>(.*?)</tr>", section)
    assert row is not None
    for figure in figures:
        assert figure in row.group(1)
    assert '<td class="met"' in row.group(1)
    assert "Réseaux sociaux" not in section  # told nothing
    assert "Social" not in section
    assert defined in page.split("<footer>")[1]
    assert not Page(page).problems


def test_an_announced_wait_too_often_exceeded_misses_its_aim() -> None:
    row = told_section(render_html(told_run(0.101)))
    assert '<td class="missed"' in row


def test_a_run_where_nobody_was_told_has_no_announced_wait_section(page: str) -> None:
    assert "Attente annoncée aux appelants" not in page


# -- callbacks ------------------------------------------------------------------------------------


def callback_run() -> RunResult:
    base = run()
    voice = msgspec.structs.replace(
        base.channels[0],
        callbacks_requested=120,
        callbacks_requested_within_sla=97,
        callbacks_reached=100,
        callbacks_unreached=8,
        callbacks_open=12,
        callbacks_made_within_target=99,
        callback_service_level=0.9,
    )
    return msgspec.structs.replace(base, channels=[voice, *base.channels[1:]])


@pytest.mark.parametrize(
    ("language", "title", "label", "level"),
    [("fr", "Rappels", "Téléphone", "90,0\u00a0%"), ("en", "Callbacks", "Voice", "90.0%")],
)
def test_callbacks_are_shown_apart_per_channel(
    language: str, title: str, label: str, level: str
) -> None:
    page = render_html(callback_run(), language=language)
    section = next(s for s in page.split("<section>") if f"<h2>{title}</h2>" in s)
    row = re.search(rf"<tr><th scope=\"row\">.*?{label}</th>(.*?)</tr>", section)
    assert row is not None
    cells_shown = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells_shown == ["120", "97", "100", "8", "12", "99", level]
    assert "accept = 0" in section  # how to see the service level without them
    assert section.count('<tr><th scope="row">') == 1  # only the channel that had some
    assert not Page(page).problems


def test_a_run_without_callbacks_has_no_callback_section(page: str) -> None:
    assert "<h2>Rappels</h2>" not in page
