"""``[adapters.asterisk]``: the Asterisk the calls come from, and how calls map to the engine.

The ARI password is never in config.toml: ``password_env`` names the environment variable that
holds it. Dialled numbers map to motives (``[adapters.asterisk.numbers]``, a call to a number
not listed gets ``motive``), and each advisor who takes calls names the endpoint their phone
is reached at (``[adapters.asterisk.endpoints]``, ``"claire.martin" = "PJSIP/1001"``): an
offer to an advisor without one is left to expire, with a warning.

While queued, a caller hears its position and the estimated wait every ``announce_every_s``,
the first time ``announce_first_s`` after it is held, as Asterisk's own queues say them with
their standard sounds (``sounds/<lang>/queue-*``): "you are next", or "there are N calls
waiting" (``queue-thereare``, ``number:N``, ``queue-callswaiting``), then "the estimated hold
time is less than M minutes" (``queue-holdtime``, ``queue-less-than``, ``number:M``,
``queue-minutes``), left out when nobody who may take the call is logged in. Each list is the
media played in turn; ``{position}`` and ``{minutes}`` stand for the numbers.

An advisor's transfer to another advisor or a skill group puts the caller back on hold; a
transfer out (``transfer-out`` with a ``party``) dials the number ``[adapters.asterisk.parties]``
gives that party (``"ratp" = "PJSIP/+33142000000@trunk"``), for ``party_ring_s`` at most, and
bridges the caller to it; a party with no number there, or one that does not answer, and the
caller hears ``party_unavailable_sound`` before the call ends.

A call transferred from a switchboard brings its context in SIP headers: each of ``headers``
(``["X-Motive", "X-Context"]``) is read from the caller's channel (``PJSIP_HEADER(read,…)``) and
kept with the interaction's personal data under ``context`` (it may name the customer); a
header missing from the call is left out. ``motive_header``, one of them, sets the call's
motive when it names a configured one (and wins over the dialled number).

A call whose motive neither a header nor its dialled number gives goes through the key-press
menu when there is one (``[adapters.asterisk.menu]``): answered, it hears ``prompt``, and the
first key of ``choices`` it presses (``"1" = "fares_passes"``), during the prompt or
``timeout_s`` after it, picks the motive; other keys are passed over, and the time-out gives
``default``. Only then is the call submitted. The choice is kept on the call (the channel
variable ``AIGUILLAGE_MOTIVE``), so that a call taken up again after an outage is the same
submission, not asked again.

With ``record = true``, each call an advisor takes is recorded: the caller hears
``record_announcement`` first, before it is bridged to anyone, and the call's bridge is
recorded (``record_format``) as ``aig-rec-<interaction id>-<YYYYMMDD>`` (the day the recording
began: ARI's stored recordings carry no date, so the name does). A recording is deleted when
the interaction's personal data is erased, and ``recording_retention_days`` after its day (six
months by default, the French data-protection authority's usual limit for call recordings).

Callbacks, when the voice channel offers them (``callback_target_s`` on ``[channels.voice]``) and
``callback_endpoint`` is set: a queued caller whose wait so far plus the estimated wait passes
the voice target, and whose callback could be made before closing, hears ``callback_offer``
after its announcement. Pressing ``callback_key`` (``"1"``), it hears its number read back
(``callback_confirm``, where ``{number}`` is played as ``digits:0612345678``), then presses 1
to confirm or 2 to key another number ended by ``#`` (``callback_enter``; 10 digits from 0,
or 0033 and 9 digits; another number is asked again). Confirmed, it hears
``callback_accepted`` and the call ends, the interaction keeping its place as a callback;
refused by the engine (it could not be made before closing any more), it hears
``callback_unavailable`` and waits on. No key within ``callback_timeout_s`` leaves it waiting.
An advisor answering a callback's offer has the customer dialled at ``callback_endpoint``
(``"PJSIP/{number}@trunk"``), presenting ``callback_caller_id`` (the service's number), for
``callback_ring_s`` at most.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["AsteriskSettings", "Menu"]

_Media = Annotated[str, msgspec.Meta(pattern=r"^(\{position\}|\{minutes\}|[a-z]+:[^,\s]+)$")]
"""One media URI of ARI's ``play`` (``sound:queue-minutes``), or a number's placeholder."""

_NumberMedia = Annotated[str, msgspec.Meta(pattern=r"^(\{number\}|[a-z]+:[^,\s]+)$")]
"""One media URI of ARI's ``play``, or the callback number's placeholder."""
_Template = Annotated[
    str,
    msgspec.Meta(pattern=r"^([A-Za-z0-9_]+/\S*\{number\}\S*)?$", examples=["PJSIP/{number}@trunk"]),
]
"""An endpoint with the number to dial as ``{number}``."""
_CallerId = Annotated[str, msgspec.Meta(pattern=r"^(\+?[0-9]{2,20})?$", examples=["+33142000000"])]
_Endpoint = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]+/\S+$", examples=["PJSIP/1001"])]
_Sound = Annotated[str, msgspec.Meta(pattern=r"^[a-z]+:[^,\s]+$", examples=["sound:tt-monkeys"])]
"""One media URI of ARI's ``play``."""
_Party = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
"""A party as ``transfer-out`` names it."""
_Digit = Annotated[str, msgspec.Meta(pattern=r"^[0-9*#]$")]
"""A telephone keypad's key."""
_Header = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$", examples=["X-Context"])
]
"""A SIP header's name (a token: letters, digits, hyphens)."""


class Menu(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[adapters.asterisk.menu]``: the key-press menu that picks a call's motive."""

    prompt: _Sound
    """What the caller hears first (``sound:custom/tapez-1-pour-les-tarifs``)."""
    choices: Annotated[dict[_Digit, str], msgspec.Meta(min_length=1)]
    """Key → motive (a configured one)."""
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 6.0
    """How long after the prompt a key is waited for."""
    default: str = "general"
    """The motive of a call whose caller presses none of ``choices`` in time."""


class AsteriskSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ari_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/?#]+/?$")] = (
        "http://127.0.0.1:8088"
    )
    """Asterisk's HTTP server (``http.conf``), without ``/ari``."""
    username: str
    """The ARI user (``ari.conf``)."""
    password_env: Annotated[str, msgspec.Meta(min_length=1)]
    """The variable holding the ARI user's password."""
    app: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")] = "aiguillage"
    """The Stasis application the dialplan sends calls to: ``Stasis(aiguillage)``."""
    numbers: dict[str, str] = {}
    """Dialled number → motive (a configured one)."""
    motive: str = "general"
    """The motive of a call to a number not in ``numbers``."""
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "fr"
    endpoints: dict[str, _Endpoint] = {}
    """Advisor id → the endpoint their phone rings at."""
    closed_sound: _Sound = "sound:aiguillage-closed"
    """The media played to a caller outside opening hours, before the call ends."""
    moh_class: str = "default"
    """The music-on-hold class (``musiconhold.conf``) callers hear while queued."""
    holding_bridge: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]+$")] = (
        "aiguillage-holding"
    )
    """The id of the holding bridge where queued callers wait."""
    fallback_label: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]+$")] = "fallback"
    """The dialplan label after ``Stasis()`` a call is sent on to when the channel cannot keep
    it (the calls in progress fill its durable state): the same fallback as when no daemon
    holds the application."""
    reconnect_max_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    """The longest wait between two attempts to reconnect the event WebSocket."""
    announce_every_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 60.0
    """How often a queued caller hears its position and the estimated wait; 0: never."""
    announce_first_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 20.0
    """How long after a call is held it hears the first announcement."""
    announce_next: tuple[_Media, ...] = ("sound:queue-youarenext",)
    """What the first caller in line hears."""
    announce_position: tuple[_Media, ...] = (
        "sound:queue-thereare",
        "{position}",
        "sound:queue-callswaiting",
    )
    """What a caller further back hears: ``{position}`` is its rank in the queue."""
    announce_wait: tuple[_Media, ...] = (
        "sound:queue-holdtime",
        "sound:queue-less-than",
        "{minutes}",
        "sound:queue-minutes",
    )
    """The estimated wait, after the position: ``{minutes}`` is its bound in whole minutes."""
    parties: dict[_Party, _Endpoint] = {}
    """Party (the ``party`` of a transfer out) → the endpoint the caller is put through to."""
    party_ring_s: Annotated[int, msgspec.Meta(ge=5, le=300)] = 45
    """How long a party's number rings before the transfer out is given up."""
    party_unavailable_sound: _Sound = "sound:aiguillage-party-unavailable"
    """What a caller transferred out hears when the party has no number or does not answer,
    before the call ends."""
    menu: Menu | None = None
    """The key-press menu for the calls no header nor dialled number gives a motive."""
    record: bool = False
    """Record the calls advisors take."""
    record_announcement: _Sound = "sound:aiguillage-recorded"
    """What a caller hears before its call is recorded ("this call may be recorded")."""
    record_format: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]{2,10}$")] = "wav"
    """The file format Asterisk records in (``wav``, ``gsm``, ...)."""
    recording_retention_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 183
    """How long a recording is kept, in days, unless erased before; ``[retention]
    recordings_days``, when set, replaces it."""
    headers: tuple[_Header, ...] = ()
    """The SIP headers of an incoming call kept on its interaction (personal data)."""
    motive_header: _Header | None = None
    """The header (one of ``headers``) whose value, a configured motive, is the call's."""

    callback_offer: tuple[_Sound, ...] = ("sound:aiguillage-callback-offer",)
    """What a caller told a wait past the target hears after it ("press 1 to be called
    back")."""
    callback_key: _Digit = "1"
    """The key that takes the callback offered."""
    callback_confirm: tuple[_NumberMedia, ...] = (
        "sound:aiguillage-callback-number",
        "{number}",
        "sound:aiguillage-callback-confirm",
    )
    """The number read back ("we will call you at ... press 1 to confirm, 2 for another
    number"): ``{number}`` is played as its digits."""
    callback_enter: tuple[_Sound, ...] = ("sound:aiguillage-callback-enter",)
    """What a caller pressing 2 hears ("key your number, then the hash key")."""
    callback_accepted: tuple[_Sound, ...] = ("sound:aiguillage-callback-accepted",)
    """What a caller hears once its callback is taken, before the call ends."""
    callback_unavailable: tuple[_Sound, ...] = ("sound:aiguillage-callback-unavailable",)
    """What a caller hears when the callback cannot be made after all; it waits on."""
    callback_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 8.0
    """How long after each prompt of the callback a key is waited for."""
    callback_endpoint: _Template = ""
    """Where a customer is called back, ``{number}`` its number; empty: no callback is offered
    on the phone."""
    callback_caller_id: _CallerId = ""
    """The number a customer called back sees (the service's)."""
    callback_ring_s: Annotated[int, msgspec.Meta(ge=5, le=120)] = 30
    """How long a customer's phone rings before the attempt is unanswered."""

    def __post_init__(self) -> None:
        if self.callback_endpoint and not self.callback_caller_id:
            raise ValueError(
                "`callback_endpoint` is set without `callback_caller_id`: set the service's "
                'number a customer called back sees (callback_caller_id = "+33142000000")'
            )
        lowered = [h.lower() for h in self.headers]
        if len(set(lowered)) != len(lowered):
            raise ValueError("`headers` names a header twice")
        if self.motive_header is not None and self.motive_header.lower() not in lowered:
            raise ValueError(
                f"`motive_header` {self.motive_header!r} is not one of `headers`: add it there"
            )
