"""Loading config.toml: the reference deployment, and every problem explained by key and line."""

from __future__ import annotations

import hashlib
from datetime import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiguillage.adapters.config.settings import (
    ConfigError,
    LoadedConfig,
    Problem,
    default_config_path,
    load_config,
    load_config_bytes,
    validate_config,
)
from aiguillage.engine.commands import AddAdvisor, SetPolicies
from aiguillage.engine.engine import Engine
from aiguillage.engine.instants import SECOND
from aiguillage.engine.policies import BusinessHoursSla, ElapsedSla, WorkingDaysSla

REFERENCE = Path(__file__).resolve().parents[3] / "config.toml"

MINIMAL = """\
[deployment]
name = "Test service"
domain = "test"
languages = ["fr", "en"]

[channels.voice]
sources = ["phone"]
sla = { kind = "elapsed", seconds = 180 }

[channels.written]
sources = ["email"]
sla = { kind = "working_days" }

[channels.social]
sources = ["x"]
sla = { kind = "business_hours" }

[skills.general]

[skills.refunds]
fallback = "general"

[motives.refunds]
skill = "refunds"

[routing]
strategy = "deadline"

[[advisors]]
id = "ada"
name = "Ada Martin"
languages = ["fr"]
skills = { general = 3, refunds = 2 }
capacity = { voice = 1, written = 2, social = 3 }

[[advisors]]
id = "bruno"
name = "Bruno Petit"
languages = ["fr", "en"]
skills = { general = 2 }
capacity = { voice = 0, written = 1, social = 1 }
"""


@pytest.fixture(scope="module")
def reference() -> LoadedConfig:
    return load_config(REFERENCE)


def problems_in(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return validate_config(path)


def only_problem(tmp_path: Path, text: str) -> Problem:
    problems = problems_in(tmp_path, text)
    assert len(problems) == 1, problems
    return problems[0]


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """Return the 1-based line of the n-th line containing ``fragment``."""
    lines = [number for number, line in enumerate(text.splitlines(), 1) if fragment in line]
    return lines[occurrence - 1]


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# --- the reference deployment -------------------------------------------------------------------


def test_reference_config_loads(reference: LoadedConfig) -> None:
    assert reference.settings.deployment.domain == "idfm-overflow"


def test_reference_voice_sla_is_180_seconds_elapsed(reference: LoadedConfig) -> None:
    assert reference.settings.policies().channels["voice"].sla == ElapsedSla(seconds=180)


def test_reference_social_sla_is_2_hours_within_business_hours_and_4_outside(
    reference: LoadedConfig,
) -> None:
    sla = reference.settings.policies().channels["social"].sla
    assert sla == BusinessHoursSla(within_s=2 * 3600, outside_s=4 * 3600)


def test_reference_written_sla_is_3_working_days_by_20h(reference: LoadedConfig) -> None:
    sla = reference.settings.policies().channels["written"].sla
    assert sla == WorkingDaysSla(days=3, due_at=time(20, 0))


def test_reference_calendar_is_paris_open_monday_to_saturday_7h_to_20h(
    reference: LoadedConfig,
) -> None:
    calendar = reference.settings.policies().calendar
    assert (calendar.timezone, calendar.country) == ("Europe/Paris", "FR")
    assert calendar.hours.days == ("mon", "tue", "wed", "thu", "fri", "sat")
    assert (calendar.hours.opens, calendar.hours.closes) == (time(7, 0), time(20, 0))


def test_reference_leaves_the_written_clock_running_while_the_principal_is_consulted(
    reference: LoadedConfig,
) -> None:
    written = reference.settings.policies().channels["written"]
    assert written.pause_on_principal == ("complex",)
    assert written.credit_principal_wait is False


def test_a_credited_wait_in_hours_that_never_open_is_reported(tmp_path: Path) -> None:
    text = edit(
        'sources = ["email"]',
        'sources = ["email"]\npause_on_principal = ["complex"]\ncredit_principal_wait = true\n'
        "hours = { days = [] }",
    )
    problem = only_problem(tmp_path, text)
    assert problem.key == "channels.written.credit_principal_wait"
    assert problem.line == line_of(text, "credit_principal_wait")
    assert "open on no day" in problem.message


def test_reference_roster_has_at_least_30_advisors(reference: LoadedConfig) -> None:
    assert len(reference.settings.advisors) >= 30


def test_policies_take_languages_from_the_deployment_section(reference: LoadedConfig) -> None:
    policies = reference.settings.policies()
    assert policies.languages == ("fr", "en", "es")
    assert policies.default_language == "fr"


def test_digest_is_the_sha256_of_the_file_bytes(reference: LoadedConfig) -> None:
    assert reference.digest == hashlib.sha256(REFERENCE.read_bytes()).hexdigest()


def test_seed_commands_start_with_the_policies_and_the_config_digest(
    reference: LoadedConfig,
) -> None:
    first = reference.seed_commands()[0]
    assert first == SetPolicies(
        policies=reference.settings.policies(), config_digest=reference.digest
    )


def test_seed_commands_add_one_advisor_per_roster_entry(reference: LoadedConfig) -> None:
    added = reference.seed_commands()[1:]
    assert all(isinstance(command, AddAdvisor) for command in added)
    assert [command.advisor_id for command in added if isinstance(command, AddAdvisor)] == [
        advisor.id for advisor in reference.settings.advisors
    ]


def test_engine_accepts_the_reference_seed(reference: LoadedConfig) -> None:
    engine = Engine()
    for command in reference.seed_commands():
        engine.handle(command, 1_800_000_000 * SECOND)
    assert engine.advisor("claire.martin") is not None


def test_minimal_config_loads(tmp_path: Path) -> None:
    assert problems_in(tmp_path, MINIMAL) == []


def test_default_config_path_is_config_toml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text(MINIMAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert default_config_path().resolve() == tmp_path / "config.toml"


def test_default_config_path_falls_back_to_the_packaged_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_config_path().read_bytes() == REFERENCE.read_bytes()


# --- files that are not configurations ----------------------------------------------------------


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    problems = validate_config(tmp_path / "nowhere.toml")
    assert [(p.line, p.message) for p in problems] == [(None, "no such file")]


def test_directory_is_a_problem(tmp_path: Path) -> None:
    (problem,) = validate_config(tmp_path)
    assert problem.message == "this is a directory"


def test_empty_file_is_a_problem(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "")
    assert problem.message == "the file is empty"
    assert "reference" in problem.fix


def test_text_that_is_not_utf8_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[deployment]\nname = "caf\xe9"\n')
    (problem,) = validate_config(path)
    assert (problem.line, problem.message) == (2, "not UTF-8 text (byte 0xe9)")


def test_toml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    text = edit("seconds = 180", "seconds = 180 s")
    problem = only_problem(tmp_path, text)
    assert problem.line == line_of(text, "seconds = 180 s")
    assert problem.message.startswith("TOML syntax error")


def test_key_set_twice_is_reported_at_the_second(tmp_path: Path) -> None:
    text = edit('strategy = "deadline"', 'strategy = "deadline"\nstrategy = "fifo"')
    problem = only_problem(tmp_path, text)
    assert problem.line == line_of(text, 'strategy = "fifo"')
    assert "only once" in problem.fix


def test_config_error_lists_problems_as_file_line_key_message_and_fix() -> None:
    text = edit("seconds = 180", 'seconds = "180"')
    with pytest.raises(ConfigError) as caught:
        load_config_bytes(text.encode(), "config.toml")
    line = line_of(text, 'seconds = "180"')
    assert str(caught.value) == (
        f"config.toml:{line}: channels.voice.sla.seconds: Expected `int`, got `str`"
        " — fix: write a whole number, such as 180"
    )


# --- types and constraints ----------------------------------------------------------------------


def test_wrong_type_reports_the_key_path_and_its_line(tmp_path: Path) -> None:
    text = edit('fallback = "general"', "fallback = 3")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("skills.refunds.fallback", line_of(text, "fallback = 3"))


def test_wrong_type_in_a_dotted_key_reports_its_line(tmp_path: Path) -> None:
    text = edit("[routing]\n", "[routing]\nmixing.max_concurrent = 0\n")
    problem = only_problem(tmp_path, text)
    assert problem.key == "routing.mixing.max_concurrent"
    assert problem.line == line_of(text, "mixing.max_concurrent")
    assert problem.fix == "write a whole number >= 1"


def test_unknown_key_reports_its_own_line_and_the_accepted_keys(tmp_path: Path) -> None:
    text = edit('sources = ["email"]', 'sources = ["email"]\nwrapup_s = 10')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("channels.written.wrapup_s", line_of(text, "wrapup_s"))
    assert "accepted keys here: sources, sla, target_share" in problem.fix


def test_unknown_key_suggests_the_closest_accepted_key(tmp_path: Path) -> None:
    text = edit('sources = ["email"]', 'sources = ["email"]\nwrapup_s = 10')
    assert "did you mean `wrap_up_s`?" in only_problem(tmp_path, text).fix


def test_unknown_table_lists_the_sections(tmp_path: Path) -> None:
    text = MINIMAL + "\n[plugins.telephony]\nenabled = true\n"
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("plugins", line_of(text, "[plugins.telephony]"))
    assert "deployment, calendar, channels, skills, motives, routing, advisors" in problem.fix


def test_unknown_channel_lists_the_channels(tmp_path: Path) -> None:
    text = MINIMAL + '\n[channels.chat]\nsources = ["chat"]\nsla = { kind = "elapsed" }\n'
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("channels.chat", line_of(text, "[channels.chat]"))
    assert '"social", "voice", "written"' in problem.fix


def test_unknown_sla_kind_lists_the_kinds(tmp_path: Path) -> None:
    text = edit('{ kind = "working_days" }', '{ kind = "working-days" }')
    problem = only_problem(tmp_path, text)
    assert problem.key == "channels.written.sla.kind"
    assert problem.line == line_of(text, "working-days")
    assert problem.fix == 'use one of "elapsed", "business_hours", "working_days"'


def test_missing_required_key_names_it_and_its_table(tmp_path: Path) -> None:
    text = edit('[motives.refunds]\nskill = "refunds"\n', "[motives.refunds]\nlevel = 2\n")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("motives.refunds", line_of(text, "[motives.refunds]"))
    assert problem.message == "missing required key `skill`"
    assert problem.fix == "add `skill = …` to [motives.refunds]"


def test_missing_deployment_table_is_reported(tmp_path: Path) -> None:
    text = MINIMAL.split("[channels.voice]", 1)[1]
    problem = only_problem(tmp_path, "[channels.voice]" + text)
    assert problem.message == "missing table [deployment]"


def test_skill_level_out_of_range_names_the_advisor_and_the_skill(tmp_path: Path) -> None:
    text = edit("skills = { general = 2 }", "skills = { general = 7 }")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("advisors[1].skills.general", line_of(text, "= 7 }"))
    assert problem.fix == "write a whole number <= 5"


def test_type_problems_are_reported_for_each_advisor(tmp_path: Path) -> None:
    text = edit("skills = { general = 2 }", "skills = { general = 7 }")
    text = edit("written = 2, social = 3 }", "written = -1, social = 3 }", text)
    problems = problems_in(tmp_path, text)
    assert [problem.key for problem in problems] == [
        "advisors[0].capacity.written",
        "advisors[1].skills.general",
    ]


def test_capacity_on_an_unknown_channel_lists_the_channels(tmp_path: Path) -> None:
    text = edit("voice = 0, written = 1", "voice = 0, writen = 1")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("advisors[1].capacity.writen", line_of(text, "writen"))
    assert "did you mean `written`?" in problem.fix


def test_exclusive_channel_must_be_a_known_channel(tmp_path: Path) -> None:
    text = edit("[routing]\n", '[routing.mixing]\nexclusive = ["phone"]\n\n[routing]\n')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == (
        "routing.mixing.exclusive[0]",
        line_of(text, "exclusive"),
    )
    assert problem.fix == 'use one of "social", "voice", "written"'


def test_advisor_id_with_a_space_explains_the_allowed_characters(tmp_path: Path) -> None:
    text = edit('id = "bruno"', 'id = "bruno petit"')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("advisors[1].id", line_of(text, "bruno petit"))
    assert "letters, digits, '.', '-' and '_'" in problem.fix


def test_domain_with_capitals_explains_the_allowed_characters(tmp_path: Path) -> None:
    text = edit('domain = "test"', 'domain = "Test"')
    problem = only_problem(tmp_path, text)
    assert problem.key == "deployment.domain"
    assert "lowercase letters, digits" in problem.fix


def test_time_written_as_a_string_explains_the_time_syntax(tmp_path: Path) -> None:
    text = MINIMAL + '\n[calendar.hours]\nopens = "7h"\n'
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("calendar.hours.opens", line_of(text, '"7h"'))
    assert "20:00:00" in problem.fix


# --- meaning -----------------------------------------------------------------------------------


def test_missing_channel_is_reported(tmp_path: Path) -> None:
    text = edit('[channels.social]\nsources = ["x"]\nsla = { kind = "business_hours" }\n', "")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("channels.social", line_of(text, "[channels.voice]"))
    assert "[channels.social]" in problem.fix


def test_source_routed_to_two_channels_is_reported(tmp_path: Path) -> None:
    text = edit('sources = ["x"]', 'sources = ["x", "email"]')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("channels.social.sources", line_of(text, '"x", "email"'))
    assert problem.message == "source `email` is already routed to channel `written`"


def test_motive_needing_an_unknown_skill_is_reported(tmp_path: Path) -> None:
    text = edit('skill = "refunds"', 'skill = "refund"')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("motives.refunds.skill", line_of(text, '"refund"'))
    assert "did you mean `refunds`?" in problem.fix


def test_skill_fallback_to_an_unknown_skill_is_reported(tmp_path: Path) -> None:
    text = edit('fallback = "general"', 'fallback = "generic"')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("skills.refunds.fallback", line_of(text, '"generic"'))
    assert "[skills.generic]" in problem.fix


def test_skill_fallback_cycle_is_reported_once(tmp_path: Path) -> None:
    text = edit("[skills.general]\n", '[skills.general]\nfallback = "refunds"\n')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("skills.general.fallback", line_of(text, '"refunds"'))
    assert problem.message == "skill fallbacks form a cycle: general → refunds → general"


def test_duplicate_advisor_id_is_reported_at_the_second(tmp_path: Path) -> None:
    text = edit('id = "bruno"', 'id = "ada"')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("advisors[1].id", line_of(text, 'id = "ada"', 2))
    assert problem.fix == "give each advisor a unique id"


def test_advisor_with_an_undefined_skill_is_reported(tmp_path: Path) -> None:
    text = edit("skills = { general = 2 }", "skills = { general = 2, fines = 3 }")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("advisors[1].skills.fines", line_of(text, "fines"))
    assert "[skills.fines]" in problem.fix


def test_advisor_language_not_served_is_reported(tmp_path: Path) -> None:
    text = edit('languages = ["fr", "en"]\nskills', 'languages = ["fr", "de"]\nskills')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("advisors[1].languages", line_of(text, '"de"'))
    assert 'add "de" to deployment.languages' in problem.fix


def test_default_language_not_served_is_reported(tmp_path: Path) -> None:
    text = edit(
        'languages = ["fr", "en"]\n\n', 'languages = ["fr", "en"]\ndefault_language = "es"\n'
    )
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("deployment.default_language", line_of(text, '"es"'))


def test_unknown_routing_strategy_is_reported(tmp_path: Path) -> None:
    text = edit('strategy = "deadline"', 'strategy = "earliest"')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("routing.strategy", line_of(text, "earliest"))
    assert problem.fix.startswith('use one of "deadline", "fifo"')


def test_unknown_time_zone_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + '\n[calendar]\ntimezone = "Europe/Pari"\n'
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("calendar.timezone", line_of(text, "Europe/Pari"))
    assert "did you mean `Europe/Paris`?" in problem.fix


def test_country_without_a_holiday_calendar_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + '\n[calendar]\ncountry = "XX"\n'
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("calendar.country", line_of(text, '"XX"'))
    assert '"FR"' in problem.fix


def test_unknown_subdivision_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + '\n[calendar]\ncountry = "FR"\nsubdivision = "ZZ"\n'
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("calendar.subdivision", line_of(text, '"ZZ"'))
    assert "use one of" in problem.fix


def test_opening_after_closing_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + "\n[calendar.hours]\nopens = 20:00:00\ncloses = 07:00:00\n"
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("calendar.hours.opens", line_of(text, "opens ="))
    assert "earlier than `closes`" in problem.fix


def test_channel_hours_opening_after_closing_is_reported(tmp_path: Path) -> None:
    text = edit('sources = ["phone"]', 'sources = ["phone"]\nhours = { opens = 21:00:00 }')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("channels.voice.hours.opens", line_of(text, "21:00"))


def test_relaxation_steps_out_of_order_are_reported(tmp_path: Path) -> None:
    steps = "\n[[channels.voice.relaxation]]\nafter_s = {}\nlevel_drop = 1\n"
    text = edit(
        "[channels.written]",
        steps.format(120) + steps.format(60) + "\n[channels.written]",
    )
    problem = only_problem(tmp_path, text)
    assert problem.key == "channels.voice.relaxation[1].after_s"
    assert problem.line == line_of(text, "after_s = 60")
    assert "larger after_s" in problem.fix


def test_channel_nobody_can_serve_is_reported(tmp_path: Path) -> None:
    text = edit("capacity = { voice = 1,", "capacity = { voice = 0,")
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.line) == ("channels.voice", line_of(text, "[channels.voice]"))
    assert "{ voice = 1 }" in problem.fix


def test_all_problems_of_meaning_are_reported_together(tmp_path: Path) -> None:
    text = edit('strategy = "deadline"', 'strategy = "earliest"')
    text = edit('skill = "refunds"', 'skill = "refund"', text)
    text = edit('id = "bruno"', 'id = "ada"', text)
    problems = problems_in(tmp_path, text)
    assert [problem.key for problem in problems] == [
        "motives.refunds.skill",
        "routing.strategy",
        "advisors[1].id",
    ]


# --- invariants ----------------------------------------------------------------------------------


def problems_of_bytes(data: bytes) -> list[Problem] | None:
    """Return the problems of configuration bytes, or None when they load."""
    try:
        load_config_bytes(data, "config.toml")
    except ConfigError as exc:
        return exc.problems
    return None


@given(st.binary(max_size=300))
def test_any_bytes_load_or_raise_config_error_with_problems(data: bytes) -> None:
    problems = problems_of_bytes(data)
    assert problems is None or len(problems) > 0


REFERENCE_LINES = REFERENCE.read_text(encoding="utf-8").splitlines()
VALUES = st.sampled_from(['"x"', "0", "-1", "1.5", "true", "[]", "{}", "07:00:00", "[1, 2]"])


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(REFERENCE_LINES) - 1), VALUES)
def test_a_changed_reference_line_gives_problems_that_point_inside_the_file(
    index: int, value: str
) -> None:
    lines = list(REFERENCE_LINES)
    key, equals, _ = lines[index].partition("=")
    lines[index] = f"{key}= {value}" if equals else value
    problems = problems_of_bytes("\n".join(lines).encode()) or []
    assert all(p.line is None or 1 <= p.line <= len(lines) for p in problems)
    assert all(p.message and p.fix for p in problems)


def test_an_unknown_social_reading_is_reported_with_both_readings(tmp_path: Path) -> None:
    text = edit(
        'sla = { kind = "business_hours" }', 'sla = { kind = "business_hours", reading = "lax" }'
    )
    problem = only_problem(tmp_path, text)
    assert problem.key == "channels.social.sla.reading"
    assert '"literal", "monotonic"' in problem.fix


def test_a_reason_that_is_not_a_code_is_reported(tmp_path: Path) -> None:
    text = MINIMAL + '\n[reasons]\nnot_ready = ["break", "pause café"]\n'
    problem = only_problem(tmp_path, text)
    assert problem.key.startswith("reasons.not_ready")
    assert problem.line == line_of(text, "pause café")


def test_a_steering_reason_that_is_not_a_code_is_reported_with_the_fix(tmp_path: Path) -> None:
    text = MINIMAL + '\n[reasons]\nsteer = ["urgent", "Client VIP"]\n'
    problem = only_problem(tmp_path, text)
    assert problem.key.startswith("reasons.steer")
    assert problem.line == line_of(text, "Client VIP")
    assert "lowercase letters" in problem.fix


def test_the_reference_reasons_are_codes(reference: LoadedConfig) -> None:
    reasons = reference.settings.reasons
    assert "lunch" in reasons.not_ready
    assert "busy" in reasons.decline
    assert "rebalance" in reasons.steer


def test_a_skill_refused_for_its_type_is_not_reported_again_as_undefined(tmp_path: Path) -> None:
    text = edit('[skills.refunds]\nfallback = "general"', '[skills]\nrefunds = "general"')
    problem = only_problem(tmp_path, text)
    assert (problem.key, problem.message) == ("skills.refunds", "Expected `object`, got `str`")


def test_a_language_refused_for_its_type_leaves_the_advisors_languages_unchecked(
    tmp_path: Path,
) -> None:
    problem = only_problem(
        tmp_path, edit('languages = ["fr", "en"]\n\n', 'languages = ["fr", 2]\n\n')
    )
    assert problem.key == "deployment.languages[1]"


def test_a_problem_of_meaning_beside_a_type_problem_is_reported_in_the_same_run(
    tmp_path: Path,
) -> None:
    text = edit('skill = "refunds"', 'skill = "refund"', edit("refunds = 2", "refunds = 7"))
    problems = problems_in(tmp_path, text)
    assert [(p.key, p.line) for p in problems] == [
        ("motives.refunds.skill", line_of(text, '"refund"')),
        ("advisors[0].skills.refunds", line_of(text, "refunds = 7")),
    ]


# --- short abandons -----------------------------------------------------------------------------


def test_the_reference_leaves_calls_gone_within_5_seconds_out_of_the_figures(
    reference: LoadedConfig,
) -> None:
    channels = reference.settings.channels
    assert channels["voice"].short_abandon_s == 5
    assert channels["written"].short_abandon_s == channels["social"].short_abandon_s == 0


def test_short_abandon_s_defaults_to_none_left_out(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_config(path).settings.channels["voice"].short_abandon_s == 0


@pytest.mark.parametrize(
    ("value", "message", "fix"),
    [
        ("-1", "Expected `float` >= 0.0", "write a number >= 0.0"),
        ('"5s"', "Expected `float`, got `str`", "write a number"),
    ],
)
def test_a_short_abandon_threshold_must_be_a_number_of_seconds_at_least_0(
    tmp_path: Path, value: str, message: str, fix: str
) -> None:
    text = edit('sources = ["phone"]', f'sources = ["phone"]\nshort_abandon_s = {value}')
    problem = only_problem(tmp_path, text)
    assert problem.key == "channels.voice.short_abandon_s"
    assert problem.line == line_of(text, "short_abandon_s")
    assert problem.message == message
    assert problem.fix.startswith(fix)


# --- callbacks ----------------------------------------------------------------------------------


def test_the_reference_offers_callers_a_callback_within_2_hours(reference: LoadedConfig) -> None:
    channels = reference.settings.channels
    voice = channels["voice"]
    assert (voice.callback_target_s, voice.callback_attempts, voice.callback_retry_s) == (
        7200,
        3,
        600,
    )
    assert channels["written"].callback_target_s == channels["social"].callback_target_s == 0


def test_callbacks_are_off_unless_configured(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    voice = load_config(path).settings.channels["voice"]
    assert (voice.callback_target_s, voice.callback_attempts, voice.callback_retry_s) == (0, 3, 600)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("callback_target_s", "-1", "Expected `int` >= 0"),
        ("callback_attempts", "0", "Expected `int` >= 1"),
        ("callback_retry_s", '"10m"', "Expected `int`, got `str`"),
    ],
)
def test_a_callback_setting_out_of_range_is_named(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    text = edit('sources = ["phone"]', f'sources = ["phone"]\n{key} = {value}')
    problem = only_problem(tmp_path, text)
    assert problem.key == f"channels.voice.{key}"
    assert problem.line == line_of(text, key)
    assert problem.message == message


def test_callbacks_on_a_channel_other_than_voice_are_refused(tmp_path: Path) -> None:
    text = edit('sources = ["email"]', 'sources = ["email"]\ncallback_target_s = 3600')
    problem = only_problem(tmp_path, text)
    assert problem.key == "channels.written.callback_target_s"
    assert "callers waiting on the phone" in problem.message
    assert problem.fix.startswith("remove `callback_target_s` from [channels.written]")
