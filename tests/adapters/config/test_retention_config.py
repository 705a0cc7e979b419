"""``[retention]``: each category's days, the earlier ``[daemon]`` keys read as aliases with a
deprecation notice, and both names at once refused naming file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiguillage.adapters.cli.main import app
from aiguillage.adapters.config.retention import RetentionDays, deprecations
from aiguillage.adapters.config.settings import ConfigError, load_config_bytes
from tests.adapters.daemons import ROOT

REFERENCE = (ROOT / "config.toml").read_text()
BLOCK = REFERENCE[REFERENCE.index("[retention]") : REFERENCE.index("[outbox]")]


def with_retention(retention: str, daemon: str = "") -> bytes:
    text = REFERENCE.replace(BLOCK, f"[retention]\n{retention}\n\n")
    return text.replace("[daemon]\n", f"[daemon]\n{daemon}\n", 1).encode()


def test_the_reference_configuration_states_every_category() -> None:
    loaded = load_config_bytes(REFERENCE.encode(), "config.toml")
    assert loaded.settings.retention_days() == RetentionDays(365, 365, 183, 365)
    assert deprecations("config.toml", loaded.settings.daemon) == []


def test_a_category_left_out_takes_its_default_and_attachments_follow_messages() -> None:
    loaded = load_config_bytes(with_retention("messages_days = 90"), "config.toml")
    assert loaded.settings.retention_days() == RetentionDays(90, 90, None, 365)


def test_attachments_are_never_kept_longer_than_their_message() -> None:
    data = with_retention("messages_days = 30\nattachments_days = 90")
    assert load_config_bytes(data, "config.toml").settings.retention_days().attachments == 30


def test_the_earlier_daemon_keys_still_apply_with_a_notice_naming_the_fix() -> None:
    data = with_retention("", "personal_data_days = 200\naccess_log_days = 50")
    loaded = load_config_bytes(data, "site.toml")
    assert loaded.settings.retention_days() == RetentionDays(200, 200, None, 50)
    assert deprecations("site.toml", loaded.settings.daemon) == [
        "site.toml: [daemon] personal_data_days is deprecated; fix: move it to [retention] "
        "messages_days",
        "site.toml: [daemon] access_log_days is deprecated; fix: move it to [retention] "
        "access_log_days",
    ]


def test_a_period_set_under_both_names_is_refused_naming_file_key_and_fix() -> None:
    data = with_retention("messages_days = 30", "personal_data_days = 200")
    with pytest.raises(ConfigError) as caught:
        load_config_bytes(data, "site.toml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.key) == ("site.toml", "daemon.personal_data_days")
    assert problem.line is not None
    assert "remove [daemon] personal_data_days" in problem.fix


def test_a_period_of_zero_days_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_bytes(with_retention("recordings_days = 0"), "site.toml")
    (problem,) = caught.value.problems
    assert problem.key == "retention.recordings_days"


def test_check_config_shows_the_periods_and_the_notice_of_an_earlier_key(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(with_retention("access_log_days = 40", "personal_data_days = 200"))
    result = CliRunner().invoke(app, ["check-config", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (
        "retention: messages 200 days, attachments 200, recordings each channel, access log 40"
        in (result.stdout)
    )
    assert (
        f"{path}: [daemon] personal_data_days is deprecated; fix: move it to [retention] "
        "messages_days" in result.stdout
    )


def test_a_recording_kept_longer_than_its_calls_data_is_refused_naming_the_fix() -> None:
    data = with_retention("messages_days = 90\nrecordings_days = 180")
    with pytest.raises(ConfigError) as caught:
        load_config_bytes(data, "site.toml")
    (problem,) = caught.value.problems
    assert problem.key == "retention.recordings_days"
    assert "set recordings_days to 90 or less" in problem.fix
    kept = with_retention("messages_days = 180\nrecordings_days = 180")
    assert load_config_bytes(kept, "site.toml").settings.retention_days().recordings == 180
