"""``[retention]``: how long each category of personal data is kept, in days.

Four categories, each applied by the daily housekeeping to what holds it (``stores.retention``):
``messages`` (the pieces of the personal-data store: a submission's customer, subject and text,
later messages, notes, parties, callback numbers), ``attachments`` (a piece carrying attachment
bytes: its bytes are sealed with its text, so such a piece goes at the earlier of the two
periods), ``recordings`` (a call channel's recordings: it overrides each channel's
``recording_retention_days``) and ``access_log`` (who read whose data). A category left out
keeps its default: ``messages`` 365, ``attachments`` as ``messages``, ``access_log`` 365,
``recordings`` each channel's own setting.

``[daemon] personal_data_days`` and ``[daemon] access_log_days`` are the earlier names of
``messages_days`` and ``access_log_days``: still read, with a deprecation notice
(``deprecations``); both names at once is a configuration error.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple, Protocol

import msgspec

from aiguillage.adapters.config.errors import KeyProblem

__all__ = [
    "CATEGORIES",
    "RetentionDays",
    "RetentionSettings",
    "deprecations",
    "retention_days",
    "retention_problems",
]

CATEGORIES = ("messages", "attachments", "recordings", "access_log")
"""The categories of personal data a retention period applies to."""

Days = Annotated[int, msgspec.Meta(ge=1, le=36600)]

_DEFAULT_DAYS = 365

_ALIASES = (("personal_data_days", "messages_days"), ("access_log_days", "access_log_days"))
"""Earlier ``[daemon]`` keys, and the ``[retention]`` key each stands for."""


class RetentionSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Days each category is kept after it was stored; ``None``: its default."""

    messages_days: Days | None = None
    attachments_days: Days | None = None
    recordings_days: Days | None = None
    access_log_days: Days | None = None


class RetentionDays(NamedTuple):
    """The days each category is kept, resolved; ``recordings`` ``None``: each channel's own."""

    messages: int
    attachments: int
    recordings: int | None
    access_log: int


class _Daemon(Protocol):
    """What this module reads of ``[daemon]`` (its earlier keys)."""

    @property
    def personal_data_days(self) -> int | None: ...

    @property
    def access_log_days(self) -> int | None: ...


def retention_days(retention: RetentionSettings, daemon: _Daemon) -> RetentionDays:
    """Return each category's days: ``[retention]``, else the earlier ``[daemon]`` key, else
    the default."""
    messages = retention.messages_days or daemon.personal_data_days or _DEFAULT_DAYS
    return RetentionDays(
        messages=messages,
        attachments=min(retention.attachments_days or messages, messages),
        recordings=retention.recordings_days,
        access_log=retention.access_log_days or daemon.access_log_days or _DEFAULT_DAYS,
    )


def retention_problems(retention: RetentionSettings, daemon: _Daemon) -> list[KeyProblem]:
    """An earlier ``[daemon]`` key set beside the ``[retention]`` key that replaces it; a
    recording kept longer than its call's messages (a call whose personal data went counts as
    erased, and its recording goes with it: the longer period would never be kept)."""
    problems: list[KeyProblem] = []
    messages = retention.messages_days or daemon.personal_data_days or _DEFAULT_DAYS
    if retention.recordings_days is not None and retention.recordings_days > messages:
        problems.append(
            (
                ("retention", "recordings_days"),
                f"is {retention.recordings_days}, longer than the {messages} days the calls' "
                "personal data is kept: a recording goes with its call's personal data",
                f"set recordings_days to {messages} or less, or keep messages as long",
            )
        )
    for old, new in _ALIASES:
        if getattr(daemon, old) is not None and getattr(retention, new) is not None:
            problems.append(
                (
                    ("daemon", old),
                    f"set twice: here and as [retention] {new}",
                    f"remove [daemon] {old} (its earlier name) and keep [retention] {new}",
                )
            )
    return problems


def deprecations(source: str, daemon: _Daemon) -> list[str]:
    """Return a notice for each earlier ``[daemon]`` key the file still uses."""
    return [
        f"{source}: [daemon] {old} is deprecated; fix: move it to [retention] {new}"
        for old, new in _ALIASES
        if getattr(daemon, old) is not None
    ]
