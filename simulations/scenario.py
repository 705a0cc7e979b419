"""What planners vary: traffic, its shape over the year, handling times, shifts, surges.

A ``Scenario`` is data (the ``[simulation]`` section of ``config.toml`` decodes into it), frozen
and refusing unknown fields like the engine's policies. Shares and profile weights are relative:
they are normalised where they are used.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Literal

import msgspec

from aiguillage.engine.policies import Channel, Typology, Weekday

__all__ = ["Callbacks", "HandlingTime", "Profile", "Scenario", "Surge", "Team"]

Weight = Annotated[float, msgspec.Meta(ge=0)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class _Data(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Profile(_Data, frozen=True):
    """Relative weights of traffic by day of week (Monday first), hour of day and month."""

    weekday: Annotated[tuple[Weight, ...], msgspec.Meta(min_length=7, max_length=7)] = (1.0,) * 7
    hourly: Annotated[tuple[Weight, ...], msgspec.Meta(min_length=24, max_length=24)] = (1.0,) * 24
    monthly: Annotated[tuple[Weight, ...], msgspec.Meta(min_length=12, max_length=12)] = (1.0,) * 12


class HandlingTime(_Data, frozen=True):
    """A handling time: lognormal by its mean and standard deviation in seconds, or exponential
    by its mean (``sd_s`` is then the mean too, whatever is given)."""

    mean_s: Positive
    sd_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    distribution: Literal["lognormal", "exponential"] = "lognormal"


class Team(_Data, frozen=True):
    """A shift: the days and hours its advisors are logged in (local time)."""

    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat")
    start: time = time(7, 0)
    end: time = time(20, 0)


class Surge(_Data, frozen=True):
    """A channel's traffic times ``factor`` for ``hours`` from ``start`` (a strike, an incident)."""

    channel: Channel
    start: AwareDatetime
    hours: Positive
    factor: Positive


class Callbacks(_Data, frozen=True):
    """How callers take the callback the voice channel offers (its ``callback_target_s``).

    A caller told on arrival an estimated wait (``engine.estimate``) longer than the voice
    target is offered a callback when one can be made before closing, and takes it with
    probability ``accept``; it then hangs up and waits no more. Each call made to it reaches
    it with probability ``reach``; an attempt lasts ``ring_s`` before it is answered or given
    up. ``accept = 0`` (the default): nobody takes one, as without callbacks.
    """

    accept: Share = 0.0
    reach: Share = 0.8
    ring_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0


class Scenario(_Data, frozen=True):
    """Traffic, behaviour and staffing of a simulated deployment."""

    days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 7
    seed: Annotated[int, msgspec.Meta(ge=0)] = 1
    interval_minutes: Annotated[int, msgspec.Meta(ge=5, le=1440)] = 30
    volumes: dict[str, Annotated[int, msgspec.Meta(ge=0)]] = {}
    """Interactions a year, per source (``phone``, ``email``, ``x``…)."""
    profiles: dict[Channel, Profile] = {}
    handling: dict[Channel, HandlingTime] = msgspec.field(
        default_factory=lambda: {
            "voice": HandlingTime(mean_s=300, sd_s=150),
            "written": HandlingTime(mean_s=900, sd_s=450),
            "social": HandlingTime(mean_s=360, sd_s=180),
        }
    )
    written_typologies: dict[Typology, HandlingTime] = {}
    """Handling times of written complaints by typology, where they differ from ``handling``."""
    patience_s: Positive | None = 300
    """Mean patience of callers, exponential; without it callers never hang up."""
    answer_delay_s: Annotated[float, msgspec.Meta(ge=0)] = 4
    first_response_share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.7
    motives: dict[str, Weight] = {}
    """Shares of motives; every configured motive alike when empty."""
    languages: dict[str, Weight] = msgspec.field(default_factory=lambda: {"fr": 1.0})
    typologies: dict[Typology, Weight] = msgspec.field(
        default_factory=lambda: {"simple": 0.6, "complex": 0.25, "transfer": 0.15}
    )
    teams: dict[str, Team] = {}
    """Shifts by team name; advisors of no team work the whole run, day and night."""
    surges: tuple[Surge, ...] = ()
    shrinkage: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.3
    """Share of paid time advisors are not on the floor (breaks, training, absence): plans."""
    max_occupancy: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.85
    """Highest share of their time plans keep advisors busy."""
    callbacks: Callbacks = Callbacks()
    """Callers offered a callback; none taken by default (see ``Callbacks``)."""
    report_language: Literal["fr", "en"] = "fr"
    """Language of the HTML report (French by default: the first users are French)."""
