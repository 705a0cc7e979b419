"""Load ``config.toml``, the deployment's settings, and explain every problem by line and key.

The file seeds the engine at the first start: ``LoadedConfig.seed_commands()`` gives a
``SetPolicies`` command, journaled with the SHA-256 digest of the file's bytes, then one
``AddAdvisor`` per roster entry. Later changes are commands like any other.

Loading checks the file in three passes, and a user sees every problem a pass finds:

1. TOML syntax (``tomllib``), with the line of the error;
2. types and constraints (msgspec), one problem per section and per advisor, with the key path
   (``channels.voice.sla.seconds``), its line, and the accepted keys or values;
3. meaning: references between skills, motives, advisors and channels, the calendar, the order
   of relaxation steps, that every channel has someone to serve it, and each adapter's
   settings (``[adapters.<name>]``, against its plugin's schema).

Passes 1 and 2, which translate the errors of ``tomllib`` and msgspec, are in
``config_errors``; it finds each key's line with ``toml_locations``. When pass 2 finds
problems, pass 3 still checks what the file says apart from the values refused
(``config_salvage``), and reports the problems those values cannot have caused.

Exceptions::

    ConfigError     the file cannot be used; ``problems`` lists each ``Problem`` found
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
import msgspec

from aiguillage.adapters.config.errors import (
    ConfigError,
    KeyProblem,
    Problem,
    decode_sections,
    did_you_mean,
    listing,
    located,
    parse_toml,
)
from aiguillage.adapters.config.locations import Key
from aiguillage.adapters.config.nowcast import NowcastSettings
from aiguillage.adapters.config.oidc import OidcSettings
from aiguillage.adapters.config.plugins import configured_adapters
from aiguillage.adapters.config.quality import QualitySettings
from aiguillage.adapters.config.reports import PenaltySettings, ReportSettings
from aiguillage.adapters.config.retention import (
    RetentionDays,
    RetentionSettings,
    retention_days,
    retention_problems,
)
from aiguillage.adapters.config.salvage import salvage
from aiguillage.adapters.config.templates import (
    TemplateError,
    Templates,
    TemplatesSettings,
    load_templates,
)
from aiguillage.engine.commands import AddAdvisor, Command, SetPolicies
from aiguillage.engine.policies import (
    CHANNELS,
    BusinessHours,
    CalendarPolicy,
    Channel,
    ChannelPolicy,
    MotivePolicy,
    Policies,
    RetentionPolicy,
    RoutingPolicy,
    SkillPolicy,
)
from aiguillage.engine.routing import STRATEGIES
from aiguillage.engine.tokens import ROLES, Role
from aiguillage.simulations.scenario import Scenario

__all__ = [
    "ROLES",
    "AdvisorSeed",
    "ConfigError",
    "DaemonSettings",
    "Deployment",
    "LoadedConfig",
    "OidcSettings",
    "Problem",
    "Reasons",
    "Role",
    "Settings",
    "TokenSeed",
    "default_config_path",
    "load_config",
    "load_config_bytes",
    "validate_config",
]

DomainId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
AdvisorId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")]
SkillLevel = Annotated[int, msgspec.Meta(ge=1, le=5)]
Capacity = Annotated[int, msgspec.Meta(ge=0)]
Languages = Annotated[tuple[str, ...], msgspec.Meta(min_length=1)]
ReasonCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Deployment(_Section, frozen=True):
    """What this deployment is called, where it keeps its data, and the languages it serves."""

    name: str
    domain: DomainId
    """Routing domain id; it names the deployment's Redis keys (as their hash tag)."""
    data_dir: str = "var/aiguillage"
    start_date: date = date(2027, 1, 4)
    """The fixed date simulations start from, so that the same seed gives the same run."""
    languages: Languages = ("fr",)
    default_language: str = "fr"


class AdvisorSeed(_Section, frozen=True):
    """One advisor of the roster the configuration seeds (skill levels 1 to 5)."""

    id: AdvisorId
    name: str
    skills: dict[str, SkillLevel]
    languages: Languages
    capacity: dict[Channel, Capacity]
    """How many interactions of each channel the advisor may hold at once."""
    team: str | None = None


class DaemonSettings(_Section, frozen=True):
    """How ``aiguillage serve`` listens, keeps data and sizes its work."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1024 * 1024
    """A request body above this is refused with 413 before it is read whole."""
    live_after_close_s: Annotated[int, msgspec.Meta(ge=60)] = 86_400
    """Closed interactions leave the engine's live state after this; the journal keeps them."""
    idempotency_days: Annotated[int, msgspec.Meta(ge=1)] = 30
    """A resubmitted ``(source, external_id)`` is recognised for this long after the daemon
    accepted it."""
    backfill_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 90
    """A submission's ``received_at`` may lie this far in the past, at most."""
    max_skew_s: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 300
    """... and this far ahead of the daemon's clock (then it is taken as now)."""
    personal_data_days: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Deprecated: ``[retention] messages_days`` (see ``retention``)."""
    access_log_days: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Deprecated: ``[retention] access_log_days`` (see ``retention``)."""
    snapshot_every: Annotated[int, msgspec.Meta(ge=100)] = 20_000
    """Events between two snapshots of the engine, so a restart replays a short tail."""
    ticket_ttl_s: Annotated[int, msgspec.Meta(ge=5, le=3600)] = 60
    """How long a WebSocket ticket (a browser's stand-in for its bearer token) stays valid."""
    session_idle_s: Annotated[float, msgspec.Meta(gt=0)] = 1800.0
    """A browser session unused this long (seconds) ends: the page signs in again. Sliding:
    each use, at most a minute apart, starts it again (see ``daemon.api.sessions``)."""
    advertise_url: str = ""
    """How clients reach this daemon (``http://10.0.0.5:8080``); a standby names the leader by
    it. Empty: ``http://host:port`` as this daemon listens."""
    lease_s: Annotated[float, msgspec.Meta(ge=1, le=300)] = 10.0
    """On a Redis journal: how long the leader's lease lasts. The leader renews it every third
    of that and steps down when it cannot; a standby takes over once it lapses."""
    archive_dir: str = ""
    """On a Redis journal: where events older than the snapshots are archived before the stream
    is trimmed. Empty: ``archive`` in ``[deployment] data_dir``."""
    public_host: str = "127.0.0.1"
    """Where the channels' peers deliver (``/channels/<name>/…``), apart from the API; started
    only when an enabled channel declares routes. Put TLS in front of it."""
    public_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8081
    public_max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 25 * 1024 * 1024
    """A delivery to a channel above this is refused with 413 before it is read whole: room
    for a web form's attachments (a mail's are read from the mailbox, not posted)."""
    screens_language: Literal["fr", "en"] = "fr"
    """The language of the advisors' and supervisors' screens (``/app/``)."""
    alive_mark_s: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 60.0
    """When nothing was journaled for this long, the daemon journals a liveness mark
    (``service.alive``): a start after a crash counts the service down from the last record,
    so this bounds how much longer than the real outage that can be."""
    channel_up_after_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 60.0
    """A channel that went down is journaled up again once it has worked this long without a
    fault, from when it came back: a flapping channel writes one ``channel.down`` and one
    ``channel.up``, its flapping counted down."""


class OutboxSettings(_Section, frozen=True):
    """How the daemon sends the answers the channels carry, and when it gives up."""

    first_retry_s: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 30.0
    """A failed send is tried again after this, then after twice as long each time..."""
    max_retry_s: Annotated[float, msgspec.Meta(ge=1, le=86_400)] = 1800.0
    """... up to this between two attempts."""
    give_up_after_s: Annotated[float, msgspec.Meta(ge=1)] = 86_400.0
    """An answer not sent this long after it was posted fails for good: the advisor is told,
    ``/readyz`` and the metrics count it, and nothing more is tried."""


class Reasons(_Section, frozen=True):
    """The codes an advisor gives for a pause and for declining an offer, those closed work is
    counted by, and those a supervisor gives for steering work.

    Codes, not free text: the journal keeps them for good, and a person typing a reason types
    what the GDPR would have erased (a customer's name, a phone number).
    """

    not_ready: tuple[ReasonCode, ...] = ("break", "lunch", "training", "meeting", "back_office")
    """Why an advisor pauses (state ``not_ready``)."""
    decline: tuple[ReasonCode, ...] = ("busy", "skill_mismatch", "language_mismatch")
    """Why an advisor declines an offer."""
    close: tuple[ReasonCode, ...] = ("answered", "no_answer_needed", "duplicate", "spam")
    """Why work is closed: ``no_answer_needed`` for a thank-you, ``spam`` for spam (neither is
    answered); closing with no reason is allowed."""
    steer: tuple[ReasonCode, ...] = (
        "urgent",
        "vip",
        "rebalance",
        "skill_needed",
        "advisor_absent",
    )
    """Why a supervisor gives work another priority or moves it (a reason is required)."""
    erase: tuple[ReasonCode, ...] = ("subject_request", "retention", "controller_request")
    """Why an interaction's personal data is erased (``DELETE …/personal-data``, ``aiguillage
    erase``): recorded in the access log with who asked."""


class TokenSeed(_Section, frozen=True):
    """One API token: the SHA-256 of the secret (never the secret), its role and holder.

    Deprecated: tokens live in the journal; the daemon imports each table once (see ``auth``).
    """

    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    role: Role
    advisor: AdvisorId | None = None
    """For role ``advisor``: the one advisor this token acts as."""
    label: str = ""


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole configuration file."""

    deployment: Deployment
    calendar: CalendarPolicy = CalendarPolicy()
    channels: dict[Channel, ChannelPolicy] = {}
    skills: dict[str, SkillPolicy] = {}
    motives: dict[str, MotivePolicy] = {}
    routing: RoutingPolicy = RoutingPolicy()
    advisors: tuple[AdvisorSeed, ...] = ()
    daemon: DaemonSettings = DaemonSettings()
    outbox: OutboxSettings = OutboxSettings()
    templates: TemplatesSettings = TemplatesSettings()
    """The answer templates (the tone charter), loaded and checked with the file."""
    reasons: Reasons = Reasons()
    tokens: tuple[TokenSeed, ...] = ()
    oidc: OidcSettings | None = None
    """Sign-in through an OpenID Connect provider (see ``oidc``); none without the table."""
    penalties: PenaltySettings | None = None
    """The contract's penalties the monthly statement applies (see ``reports``); none without
    the table."""
    reports: ReportSettings = ReportSettings()
    """The key the authority's reports are signed with (see ``reports``)."""
    quality: QualitySettings = QualitySettings()
    """Audit sampling and the audit grid (see ``quality``)."""
    retention: RetentionSettings = RetentionSettings()
    """How long each category of personal data is kept (see ``retention``)."""
    simulation: Scenario = Scenario()
    """Traffic and staffing for ``aiguillage simulate`` and ``staff``; the daemon's wall shows
    the day's expected arrivals from it beside the actual ones (``daemon.forecast``)."""
    nowcast: NowcastSettings = NowcastSettings()
    """How often the daemon simulates the rest of the day from its live state, and the
    what-ifs shown beside it (``daemon.nowcast``)."""
    adapters: dict[str, dict[str, Any]] = {}
    """``[adapters.<name>]``: the adapter plugins the daemon runs, each table checked against
    its plugin's settings in pass 3 (see ``plugins``)."""

    def policies(self) -> Policies:
        """Return the policies the engine applies, as one value."""
        return Policies(
            calendar=self.calendar,
            channels=dict(self.channels),
            skills=dict(self.skills),
            motives=dict(self.motives),
            languages=self.deployment.languages,
            default_language=self.deployment.default_language,
            routing=self.routing,
            retention=RetentionPolicy(live_after_close_s=self.daemon.live_after_close_s),
        )

    def retention_days(self) -> RetentionDays:
        """Return the days each category of personal data is kept (see ``retention``)."""
        return retention_days(self.retention, self.daemon)

    def seed_commands(self, config_digest: str = "") -> list[Command]:
        """Return the commands that seed an empty engine: the policies, then the roster."""
        commands: list[Command] = [
            SetPolicies(policies=self.policies(), config_digest=config_digest)
        ]
        commands.extend(
            AddAdvisor(
                advisor_id=advisor.id,
                name=advisor.name,
                skills=dict(advisor.skills),
                languages=advisor.languages,
                capacity=dict(advisor.capacity),
            )
            for advisor in self.advisors
        )
        return commands


class LoadedConfig(msgspec.Struct, frozen=True):
    """Settings read from a file, with where they came from and the digest of its bytes."""

    settings: Settings
    source: str
    digest: str
    """SHA-256 of the file's bytes, in hex: the ``config_digest`` journaled with the policies."""
    templates: Templates = Templates()
    """The answer templates ``[templates] dir`` holds, checked (none when it is not set)."""

    def seed_commands(self) -> list[Command]:
        return self.settings.seed_commands(config_digest=self.digest)


def default_config_path() -> Path:
    """Return ``./config.toml`` when it exists, else the reference configuration shipped."""
    local = Path("config.toml")
    if local.is_file():
        return local
    return Path(str(resources.files("aiguillage.adapters.config") / "reference.toml"))


def load_config(path: Path) -> LoadedConfig:
    """Read and check a configuration file; raise ``ConfigError`` listing every problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problem = ("no such file", "give the path of a config.toml, or run from its directory")
    except IsADirectoryError:
        problem = ("this is a directory", "give the path of the config.toml file inside it")
    except PermissionError:
        problem = ("permission denied", "make the file readable by this user")
    except OSError as exc:
        problem = (f"cannot read the file: {exc.strerror or exc}", "check the path and the disk")
    else:
        return load_config_bytes(data, str(path))
    raise ConfigError([Problem(str(path), None, "", *problem)])


def load_config_bytes(data: bytes, source: str) -> LoadedConfig:
    """Check configuration bytes; ``source`` names them in problems (usually the path)."""
    digest = hashlib.sha256(data).hexdigest()
    raw, lines = parse_toml(data, source)
    settings, found = decode_sections(raw, Settings)
    if settings is None:
        # Check the meaning of what the type problems leave readable, in the same run.
        readable = salvage(raw, found, Settings)
        if readable is not None:
            found += readable.independent(_semantic_problems(readable.settings))
    else:
        found = _semantic_problems(settings)
    problems = located(source, lines, found)
    if problems:
        problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
        raise ConfigError(problems)
    assert settings is not None  # no problem was found, so pass 2 decoded the file
    return LoadedConfig(settings, source, digest, _templates(settings, source, lines))


def _templates(settings: Settings, source: str, lines: Any) -> Templates:
    """Load ``[templates] dir`` (relative to the file's directory); a problem of a template
    names the template's file and line; a motive it names must be configured."""
    if not settings.templates.dir:
        return Templates()
    directory = Path(source).parent / settings.templates.dir
    try:
        templates = load_templates(directory)
    except TemplateError as exc:
        raise ConfigError([Problem(str(exc.path), exc.line, "", exc.problem, exc.fix)]) from None
    problems = [
        Problem(
            str(directory / f"{template.name}.{template.language}.md"),
            None,
            "motives",
            f"motive `{motive}` is not configured",
            "name motives of [motives]" + did_you_mean(motive, list(settings.motives)),
        )
        for template in templates
        for motive in template.motives
        if motive not in settings.motives
    ]
    if problems:
        raise ConfigError(problems)
    return templates


def validate_config(path: Path) -> list[Problem]:
    """Return every problem of a configuration file; an empty list when it is usable."""
    try:
        load_config(path)
    except ConfigError as exc:
        return exc.problems
    return []


# --- pass 3: meaning ------------------------------------------------------------------------


def _semantic_problems(settings: Settings) -> list[KeyProblem]:
    return [
        *_channel_problems(settings),
        *_skill_problems(settings),
        *_advisor_problems(settings),
        *_calendar_problems(settings),
        *_routing_problems(settings),
        *_simulation_problems(settings),
        *_token_problems(settings),
        *_adapter_problems(settings),
        *retention_problems(settings.retention, settings.daemon),
    ]


def _adapter_problems(settings: Settings) -> list[KeyProblem]:
    if not settings.adapters:
        return []
    return configured_adapters(settings.adapters)[1]


def _token_problems(settings: Settings) -> Iterator[KeyProblem]:
    """An advisor token names its advisor; other roles act for nobody in particular."""
    seen: dict[str, int] = {}
    for index, token in enumerate(settings.tokens):
        if token.role == "advisor" and token.advisor is None:
            yield (
                ("tokens", index, "advisor"),
                "a token of role `advisor` must name the advisor it acts as",
                'add advisor = "<advisor id>", or give it another role',
            )
        if token.role != "advisor" and token.advisor is not None:
            yield (
                ("tokens", index, "advisor"),
                f"only advisor tokens are bound to an advisor, this one has role `{token.role}`",
                'remove `advisor`, or set role = "advisor"',
            )
        if token.sha256 in seen:
            yield (
                ("tokens", index, "sha256"),
                f"the same token digest is already tokens[{seen[token.sha256]}]",
                "mint a new token with `aiguillage token new` for each holder",
            )
        seen.setdefault(token.sha256, index)


def _simulation_problems(settings: Settings) -> Iterator[KeyProblem]:
    """The ``[simulation]`` section names sources, motives, languages and teams that exist."""
    simulation = settings.simulation
    sources = [s for policy in settings.channels.values() for s in policy.sources]
    for source in simulation.volumes:
        if source not in sources:
            yield (
                ("simulation", "volumes", source),
                f"source `{source}` feeds no channel",
                "use a source listed in a channel's `sources`" + did_you_mean(source, sources),
            )
    for channel, policy in settings.channels.items():
        busy = any(simulation.volumes.get(source, 0) for source in policy.sources)
        if busy and channel not in simulation.handling:
            yield (
                ("simulation", "handling"),
                f"channel `{channel}` has traffic but no handling time",
                f"add [simulation.handling.{channel}] with mean_s and sd_s",
            )
    for motive in simulation.motives:
        if motive not in settings.motives:
            yield (
                ("simulation", "motives", motive),
                f"motive `{motive}` is not defined",
                f"define [motives.{motive}] or correct the name"
                + did_you_mean(motive, list(settings.motives)),
            )
    for language in simulation.languages:
        if language not in settings.deployment.languages:
            yield (
                ("simulation", "languages", language),
                f"language `{language}` is not in deployment.languages",
                f'add "{language}" to deployment.languages or drop its share',
            )
    for index, advisor in enumerate(settings.advisors):
        if advisor.team is not None and simulation.teams and advisor.team not in simulation.teams:
            yield (
                ("advisors", index, "team"),
                f"team `{advisor.team}` has no shift in [simulation.teams]",
                f"add [simulation.teams.{advisor.team}] or correct the name"
                + did_you_mean(advisor.team, list(simulation.teams)),
            )


def _channel_problems(settings: Settings) -> Iterator[KeyProblem]:
    routed: dict[str, Channel] = {}
    for channel in CHANNELS:
        policy = settings.channels.get(channel)
        if policy is None:
            yield (
                ("channels", channel),
                f"channel `{channel}` is not configured",
                f"add a [channels.{channel}] table with `sources` and a "
                f"[channels.{channel}.sla] table; every deployment serves " + ", ".join(CHANNELS),
            )
            continue
        for source in policy.sources:
            if source in routed:
                yield (
                    ("channels", channel, "sources"),
                    f"source `{source}` is already routed to channel `{routed[source]}`",
                    f"keep `{source}` in the sources of only one channel",
                )
            routed.setdefault(source, channel)
        if policy.hours is not None:
            yield from _hours_problems(("channels", channel, "hours"), policy.hours)
        if policy.credit_principal_wait and not (policy.hours or settings.calendar.hours).days:
            yield (
                ("channels", channel, "credit_principal_wait"),
                "a wait for the principal is credited in opening hours, and the "
                f"{'channel' if policy.hours else 'calendar'}'s hours open on no day",
                "list the open days in `days`, or set `credit_principal_wait = false`",
            )
        if policy.callback_target_s and channel != "voice":
            yield (
                ("channels", channel, "callback_target_s"),
                f"callbacks are offered to callers waiting on the phone, not on the `{channel}` "
                "channel",
                f"remove `callback_target_s` from [channels.{channel}] (or set it to 0)",
            )
        previous = 0
        for index, step in enumerate(policy.relaxation):
            if step.after_s <= previous:
                yield (
                    ("channels", channel, "relaxation", index, "after_s"),
                    f"relaxation step after {step.after_s} s does not come after the previous "
                    f"step ({previous} s)",
                    "list the relaxation steps in order, each with a larger after_s",
                )
            previous = max(previous, step.after_s)
        if not any(a.capacity.get(channel, 0) > 0 for a in settings.advisors):
            yield (
                ("channels", channel),
                f"no advisor has capacity on channel `{channel}`",
                f"give at least one advisor a capacity such as `{{ {channel} = 1 }}`",
            )


def _skill_problems(settings: Settings) -> Iterator[KeyProblem]:
    skills = settings.skills
    for name, skill in skills.items():
        if skill.fallback is not None and skill.fallback not in skills:
            yield (
                ("skills", name, "fallback"),
                f"fallback `{skill.fallback}` is not a defined skill",
                f"define [skills.{skill.fallback}] or use a defined skill"
                + did_you_mean(skill.fallback, list(skills)),
            )
    reported: set[str] = set()
    for name in skills:
        chain = [name]
        while (following := skills[chain[-1]].fallback) in skills and following not in chain:
            chain.append(following)
        if following in chain and not reported.intersection(chain):
            cycle = chain[chain.index(following) :]
            reported.update(cycle)
            yield (
                ("skills", cycle[0], "fallback"),
                "skill fallbacks form a cycle: " + " → ".join([*cycle, cycle[0]]),
                "end the chain at a broad skill without a fallback, such as `general`",
            )
    for name, motive in settings.motives.items():
        if motive.skill not in skills:
            yield (
                ("motives", name, "skill"),
                f"skill `{motive.skill}` is not defined",
                f"define [skills.{motive.skill}] or name a defined skill"
                + did_you_mean(motive.skill, list(skills)),
            )


def _advisor_problems(settings: Settings) -> Iterator[KeyProblem]:
    languages = settings.deployment.languages
    first_with_id: dict[str, int] = {}
    for index, advisor in enumerate(settings.advisors):
        if advisor.id in first_with_id:
            yield (
                ("advisors", index, "id"),
                f"advisor id `{advisor.id}` is already used by "
                f"advisors[{first_with_id[advisor.id]}]",
                "give each advisor a unique id",
            )
        first_with_id.setdefault(advisor.id, index)
        for skill in advisor.skills:
            if skill not in settings.skills:
                yield (
                    ("advisors", index, "skills", skill),
                    f"skill `{skill}` is not defined",
                    f"define [skills.{skill}] or correct the name"
                    + did_you_mean(skill, list(settings.skills)),
                )
        for language in advisor.languages:
            if language not in languages:
                yield (
                    ("advisors", index, "languages"),
                    f"language `{language}` is not in deployment.languages "
                    f"({', '.join(languages)})",
                    f'add "{language}" to deployment.languages or remove it from this advisor',
                )


def _calendar_problems(settings: Settings) -> Iterator[KeyProblem]:
    calendar: CalendarPolicy = settings.calendar
    try:
        ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield (
            ("calendar", "timezone"),
            f"unknown time zone `{calendar.timezone}`",
            'give an IANA time zone such as "Europe/Paris"'
            + did_you_mean(calendar.timezone, sorted(available_timezones())),
        )
    supported = holidays.list_supported_countries()
    if calendar.country not in supported:
        yield (
            ("calendar", "country"),
            f"no public-holiday calendar for country `{calendar.country}`",
            'give an ISO 3166 country code known to the holidays package, such as "FR"',
        )
    elif calendar.subdivision is not None and calendar.subdivision not in supported.get(
        calendar.country, []
    ):
        known = ", ".join(supported[calendar.country]) or "none"
        yield (
            ("calendar", "subdivision"),
            f"country `{calendar.country}` has no subdivision `{calendar.subdivision}`",
            f"remove the subdivision or use one of: {known}",
        )
    yield from _hours_problems(("calendar", "hours"), calendar.hours)


def _hours_problems(key: Key, hours: BusinessHours) -> Iterator[KeyProblem]:
    if hours.opens >= hours.closes:
        yield (
            (*key, "opens"),
            f"opens at {hours.opens} but closes at {hours.closes}",
            "make `opens` earlier than `closes`; hours past midnight are not supported",
        )


def _routing_problems(settings: Settings) -> Iterator[KeyProblem]:
    deployment = settings.deployment
    if deployment.default_language not in deployment.languages:
        yield (
            ("deployment", "default_language"),
            f"default language `{deployment.default_language}` is not in "
            f"deployment.languages ({', '.join(deployment.languages)})",
            f'add "{deployment.default_language}" to deployment.languages or pick one of them',
        )
    if settings.routing.strategy not in STRATEGIES:
        known = sorted(STRATEGIES)
        yield (
            ("routing", "strategy"),
            f"unknown routing strategy `{settings.routing.strategy}`",
            f"use one of {listing(known)}" + did_you_mean(settings.routing.strategy, known),
        )
