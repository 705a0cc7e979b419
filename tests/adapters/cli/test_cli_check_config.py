"""``aiguillage check-config``: a summary and OK, or one line per problem and exit status 1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app, main

REFERENCE = Path(__file__).resolve().parents[3] / "config.toml"

runner = CliRunner()


def test_reference_checks_ok() -> None:
    result = runner.invoke(app, ["check-config", str(REFERENCE)])
    assert result.exit_code == 0
    assert result.stdout.rstrip().endswith("OK")


def test_summary_shows_each_channel_sla() -> None:
    result = runner.invoke(app, ["check-config", str(REFERENCE)], env={"COLUMNS": "200"})
    assert "3 min after reception" in result.stdout
    assert "3 working days, by 20:00" in result.stdout
    assert "2 h within business hours, 4 h outside" in result.stdout


def test_without_a_path_checks_config_toml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text("[deployment]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check-config"])
    assert result.exit_code == 1
    assert result.stderr.startswith("config.toml:1: deployment: missing required key `name`")


def test_problems_are_listed_one_per_line_on_stderr(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    text = text.replace("seconds = 180", 'seconds = "180"').replace('"deadline"', '"dedline"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 1
    first, second, summary = result.stderr.splitlines()
    line = next(n for n, t in enumerate(text.splitlines(), 1) if 'seconds = "180"' in t)
    assert first.startswith(f"{path}:{line}: channels.voice.sla.seconds: Expected `int`")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if '"dedline"' in t)
    assert second.startswith(f"{path}:{line}: routing.strategy: unknown routing strategy")
    assert summary == f"2 problems in {path}"


def test_every_problem_of_meaning_gets_its_line(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    text = text.replace('strategy = "deadline"', 'strategy = "dedline"')
    text = text.replace('timezone = "Europe/Paris"', 'timezone = "Europe/Pari"')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 1
    keys = [line.split(": ")[1] for line in result.stderr.splitlines()[:-1]]
    assert keys == ["calendar.timezone", "routing.strategy"]
    assert result.stderr.splitlines()[-1] == f"2 problems in {path}"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing", None),
        ("directory", "dir"),
        ("binary garbage", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
        ("empty", b""),
        ("not toml", b"deployment:\n  name: yaml here\n"),
        ("wrong types", b'[deployment]\nname = 3\ndomain = ["x"]\n'),
        ("nested too deeply", b"a = " + b"[" * 5000),
    ],
)
def test_a_wrong_file_exits_1_without_a_traceback(
    tmp_path: Path, name: str, content: bytes | str | None
) -> None:
    path = tmp_path / "config.toml"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 1, name
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"{path}")


def test_check_config_stays_a_subcommand() -> None:
    result = runner.invoke(app, [])
    assert "check-config" in result.output


def test_main_runs_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["aiguillage", "check-config", str(REFERENCE)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0


def test_an_unknown_key_a_level_out_of_range_and_an_undefined_skill_are_reported_in_one_run(
    tmp_path: Path,
) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    text = text.replace('label = "Titres et forfaits"', 'labl = "Titres et forfaits"', 1)
    text = text.replace(
        "skills = { general = 5, fares_passes = 5,", "skills = { general = 7, fares_passes = 5,", 1
    )
    text = text.replace('skill = "lost_property"', 'skill = "lost_propety"', 1)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 1
    *problems, summary = result.stderr.splitlines()
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if fragment in line)

    assert [problem.split(" — fix: ")[0] for problem in problems] == [
        f"{path}:{line_of('labl = ')}: motives.fares_passes.labl: unknown key `labl`",
        f"{path}:{line_of('lost_propety')}: motives.lost_property.skill: "
        "skill `lost_propety` is not defined",
        f"{path}:{line_of('general = 7')}: advisors[0].skills.general: Expected `int` <= 5",
    ]
    fixes = [problem.split(" — fix: ")[1] for problem in problems]
    assert "did you mean `label`?" in fixes[0]
    assert "did you mean `lost_property`?" in fixes[1]
    assert fixes[2] == "write a whole number <= 5"
    assert summary == f"3 problems in {path}"
