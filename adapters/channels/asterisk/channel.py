"""The Asterisk channel: the daemon as the call distributor behind Asterisk, through ARI.

The dialplan sends each call to the Stasis application (``Stasis(aiguillage)``). A call
entering it (``StasisStart``) is submitted as ``voice`` work from source ``phone``, its channel
id the external id (the journal keeps it keyed: the channel learns a call's interaction from
its submission's receipt), its creation time ``received_at`` (so that submitting it again after a
reconnection is the same submission), its caller id in the personal store and its dialled
number mapped to a motive, or the motive its SIP headers name (``headers``, kept as its
``context``: see ``settings``), or the key the caller pressed in the menu, when there is one
(``settings.Menu``: the call is answered and submitted once a key or the time-out chose).
The caller is answered and waits in a holding bridge with music on
hold; the interaction's id travels with the call as the channel variable
``AIGUILLAGE_INTERACTION``. Outside opening hours the engine refuses the call (reason
``closed``): the caller hears the closed message, and the call ends; the daemon journals the
refusal (``interaction.refused``), so reports count the calls turned away.

While it waits, a caller hears its position in the queue and the estimated wait (see
``settings``): every ``announce_every_s``, a playback on its channel in the holding bridge,
worked out between the engine's batches (``context.read``) with the handling times and
patience the channel learns from the events it follows (``estimates.Estimates``). The
pick-up stops an announcement still playing, so that the advisor does not talk over it.

The engine's offers ring phones. ``offer.made`` for a call of this channel originates a channel
to the advisor's endpoint with the id ``aig-offer-<offer id>``, into the application; Asterisk
refuses a second channel of the same id (409), so a retry or a resynchronisation never rings
twice. That channel answering is the pick-up: the offer is accepted, and caller and advisor
are bridged in ``aig-call-<interaction id>``. An offer that expires or is withdrawn hangs its
phone up. The caller hanging up while queued is an abandon; either side hanging up after the
pick-up closes the interaction (the advisor's wrap-up follows).

Transfers follow the engine. ``interaction.transferred`` (to another advisor, to a skill group)
puts the caller back in the holding bridge, the advisor's phone hung up and the call bridge
destroyed; the interaction keeps its place and clock, and its next offer rings as any.
``interaction.transferred_out`` puts the caller through to the party the advisor named: the
channel reads the party from the event's digest (``context.personal``), originates
``aig-out-<interaction id>`` to its number (``[adapters.asterisk.parties]``), the caller on hold
meanwhile, and bridges the two when it answers. The interaction is over for the engine; the
channel only ends each leg when the other hangs up (Asterisk keeps a channel in the
application until then). A party with no number, or one that does not answer: the caller hears
``party_unavailable_sound``, and the call ends.

When configured (``record``), a caller hears ``record_announcement`` once answered, before it
is bridged to anyone, and the call's bridge is recorded as ``aig-rec-<interaction id>-<day>``
(after a transfer, the next bridge appends to the same recording). The interaction's personal
data erased (``context.on_erased``), its recordings are deleted; and a pass at the start and
then daily deletes those older than ``recording_retention_days`` and those of interactions
erased where no listener heard it (``context.erased``: ``aiguillage erase``, another daemon,
while the channel was not running). Erasures not yet carried out are kept in the durable
state, so that a restart carries them out.

Callbacks (``settings``: ``callback_*``). A queued caller whose wait so far plus the estimate
passes the voice target, and whose callback the engine could make before closing
(``callback_deadline``, read with the position), hears the callback's offer after its
announcement; its key, its number confirmed (or keyed), and ``RequestCallback`` carries the
number to the erasable store: the caller hears it is taken and the call ends, never an
abandon. The callback waits in the queue (known here by ``callback_channel(id)``, saved as its
id). An advisor answering its offer has the customer dialled as ``aig-callback-<interaction
id>-<attempt>``: its answer is ``RecordCallbackAttempt`` answered and the two are bridged as
any call; its end before that (no answer, busy) is unanswered and the advisor's phone is hung
up, the engine offering it again later or closing it.

The calls in progress are the channel's durable state (``AsteriskState``), saved at each step
before Asterisk is asked to act, so that a restarted daemon takes them up again. ARI keeps no
events for a WebSocket that dropped, nor for a daemon that was down: the channel reconnects
with back-off, then resynchronises. A call in the application not known here is submitted
(the same key: nothing is created twice, and its interaction is found again), and each call
known here that Asterisk no longer has is abandoned, or closed if it was picked up.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import msgspec
import structlog
from anyio.abc import TaskGroup

from aiguillage.adapters.channels import (
    AdapterContext,
    CommandFailed,
    Conflict,
    Record,
    Rejected,
    Unavailable,
)
from aiguillage.adapters.channels.asterisk.ari import Ari, AriError
from aiguillage.adapters.channels.asterisk.settings import AsteriskSettings
from aiguillage.adapters.channels.estimates import Estimates
from aiguillage.adapters.stores.journal import CHANNEL_STATE_LIMIT, JournalError
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    Close,
    Command,
    RecordCallbackAttempt,
    RequestCallback,
    Submit,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import CallbackRefused, ChannelClosed, EngineError
from aiguillage.engine.events import (
    InteractionAbandoned,
    InteractionClosed,
    InteractionTransferred,
    InteractionTransferredOut,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    OfferMade,
    OfferRevoked,
)
from aiguillage.engine.handlers import callback_deadline
from aiguillage.engine.instants import SECOND, from_datetime, to_datetime

__all__ = ["AsteriskChannel", "AsteriskState", "HeldCall", "announcement", "callback_number"]

log = structlog.get_logger("aiguillage.channels.asterisk")

VARIABLE = "AIGUILLAGE_INTERACTION"
MOTIVE_VARIABLE = "AIGUILLAGE_MOTIVE"
"""The motive the menu chose, kept on the caller's channel (a call taken up again is not
asked again)."""
SOURCE = "phone"
_OFFER = "aig-offer-"
_OUT = "aig-out-"
_CALLBACK = "aig-callback-"
_CONFIRM_KEY, _OTHER_KEY, _END_KEY = "1", "2", "#"
"""The keys of the callback's confirmation: confirm the number, key another, end it."""
_ENTER_TRIES = 3
"""How many times a caller keying a number it is refused is asked again."""
_NATIONAL = re.compile(r"^0[1-9][0-9]{8}$")
_E164_FR = re.compile(r"^\+33[1-9][0-9]{8}$")
_FIRST_RETRY_S = 0.5
_CLOSED_PLAY_MAX_S = 60.0
"""The longest the closed message may play before the call is ended anyway."""
_ANNOUNCE_TICK_S = 0.25
"""How often the calls due an announcement are looked for."""
_RECORDING = re.compile(r"^aig-rec-(\d+)-(\d{8})$")
"""A recording's name: the interaction, and the day it began."""
_STATE_FULL = CHANNEL_STATE_LIMIT - 8 * 1024
"""Past this size of the saved state, new calls go to the dialplan's fallback: the 8 KiB left
are for the calls kept to grow as they are offered and picked up (some 100 bytes each)."""
_CALL_BYTES = 64
"""A queued call's size in the state, at most (two ids: ``HeldCall``)."""
_MAINTAIN_S = 30.0
"""How often erasures not carried out yet (ARI down) are tried again."""
_RETENTION_EVERY_S = 86400.0
"""How often recordings past their retention are looked for."""


def offer_channel(offer_id: int) -> str:
    """The id of the channel that rings an advisor for an offer."""
    return f"{_OFFER}{offer_id}"


def party_channel(interaction_id: int) -> str:
    """The id of the channel that dials the party a call is transferred out to."""
    return f"{_OUT}{interaction_id}"


def callback_channel(interaction_id: int, attempt: int | None = None) -> str:
    """The id of the channel that dials a customer for attempt ``attempt`` of a callback;
    without one, the id a callback is known by while it waits in the queue."""
    suffix = "" if attempt is None else f"-{attempt}"
    return f"{_CALLBACK}{interaction_id}{suffix}"


def callback_number(text: str) -> str | None:
    """A French number a customer may be called back at, as given (``0612345678``,
    ``+33612345678``; keyed ``0033612345678`` reads as ``+33612345678``); None otherwise."""
    text = text.strip().replace(" ", "")
    if text.startswith("0033"):
        text = "+33" + text[4:]
    elif text.startswith("33") and len(text) == 11:  # a caller id without its +
        text = "+" + text
    return text if _NATIONAL.match(text) or _E164_FR.match(text) else None


def _spoken(number: str) -> str:
    """A callback number as its digits are read back: the national form."""
    return "0" + number[3:] if number.startswith("+33") else number


def call_bridge(interaction_id: int) -> str:
    """The id of the bridge where a call's caller and advisor talk."""
    return f"aig-call-{interaction_id}"


class HeldCall(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A call as the channel's durable state keeps it: a queued call is its two ids only
    (about 50 bytes), so that over a thousand fit the journal's 64 KiB."""

    channel_id: str
    interaction_id: int
    advisor_id: str | None = None
    advisor_channel: str | None = None
    offers: dict[int, str] = {}
    out: bool = False
    """Transferred out: the engine is done with it, the channel with its legs only."""
    recording: str | None = None
    reached: bool = False
    """A callback whose customer answered (its ``channel_id`` is the dial's)."""


class AsteriskState(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The calls in progress (over a thousand fit the journal's 64 KiB of state: past
    ``_STATE_FULL`` bytes, new calls go to the dialplan's fallback)."""

    calls: list[HeldCall] = []
    erasing: list[int] = []
    """Interactions erased whose recordings are not deleted yet."""
    callbacks: list[int] = []
    """The callbacks waiting in the queue, no phone ringing for them: their interactions' ids
    only (a callback being offered or dialled is one of ``calls``)."""


@dataclass
class _Call:
    """A caller's channel and what the engine did with it, as far as this daemon knows."""

    channel_id: str
    interaction_id: int
    offers: dict[int, str] = field(default_factory=dict)
    """Offer id → advisor, for the offers ringing now."""
    advisor_id: str | None = None
    advisor_channel: str | None = None
    """Once picked up: who took it, on which channel."""
    ended: bool = False
    announce_at: float | None = None
    """When (``time.monotonic``) it next hears its position; ``None``: not while it is not
    held in the holding bridge."""
    announcing: str | None = None
    """The playback of its last announcement: stopped when an advisor picks it up."""
    out: bool = False
    """Transferred out (``party_channel``): no command for its end, only its legs hung up."""
    party_up: bool = False
    """The party it is transferred out to answered."""
    recording: str | None = None
    """The name its bridge is recorded under, once picked up (``record``)."""
    notice: anyio.Event | None = None
    """Set once the caller heard that the call is recorded: it is bridged only then."""
    reached: bool = False
    """A callback whose customer answered."""
    talking: bool = False
    """In the callback's dialogue (offer, number, confirmation): no announcement meanwhile."""
    requesting: anyio.Event | None = None
    """Set once the callback asked for is done (taken or refused): its end waits for it."""

    @property
    def callback(self) -> bool:
        """A callback: the customer is dialled (``channel_id`` the dial's) or is to be."""
        return self.channel_id.startswith(_CALLBACK)

    @property
    def dialling(self) -> bool:
        """A callback whose customer is dialled now (or talks)."""
        return self.channel_id != callback_channel(self.interaction_id) and self.callback


@dataclass
class _Keys:
    """A caller in the callback's dialogue: the keys it pressed, not read yet, or its hang-up."""

    wake: anyio.Event = field(default_factory=anyio.Event)
    keys: list[str] = field(default_factory=list)
    gone: bool = False


@dataclass
class _Menu:
    """A caller in the key-press menu: the key of a choice it pressed, or its hang-up."""

    wake: anyio.Event = field(default_factory=anyio.Event)
    key: str | None = None
    gone: bool = False


class AsteriskChannel:
    """The ``asterisk`` plugin: see the module docstring."""

    Settings = AsteriskSettings
    subscribes: frozenset[str] = frozenset(
        {
            "interaction.arrived",
            "offer.made",
            "offer.accepted",
            "offer.declined",
            "offer.expired",
            "offer.revoked",
            "interaction.abandoned",
            "interaction.closed",
            # What the estimated wait learns from (``Estimates.feed``).
            "interaction.responded",
            "interaction.forgotten",
            "interaction.moved",
            "interaction.transferred",
            "interaction.transferred_out",
            "interaction.principal_awaited",
        }
    )

    def __init__(self, context: AdapterContext[AsteriskSettings]) -> None:
        self.context = context
        self.settings = settings = context.settings
        password = os.environ.get(settings.password_env, "")
        if not password:
            raise ValueError(
                f"set {settings.password_env} in the daemon's environment (the ARI password "
                "of [adapters.asterisk])"
            )
        if settings.menu is not None:
            motives = context.daemon_settings.motives
            named = {**settings.menu.choices, "default": settings.menu.default}
            for key, motive in named.items():
                if motive not in motives:
                    raise ValueError(
                        f"[adapters.asterisk.menu] {key!r} = {motive!r}: not a motive of "
                        f"[motives]; use one of {', '.join(sorted(motives))}"
                    )
        self.ari = Ari(settings.ari_url, settings.username, password, settings.app)
        voice = context.daemon_settings.channels.get("voice")
        if voice is not None and voice.callback_target_s and not settings.callback_endpoint:
            log.warning(
                "the voice channel offers callbacks (callback_target_s) but the phone offers "
                "none: set callback_endpoint and callback_caller_id in [adapters.asterisk]"
            )
        self._calls: dict[str, _Call] = {}
        """Caller channel id → its call."""
        self._by_interaction: dict[int, _Call] = {}
        self._offers: dict[str, tuple[int, int, str]] = {}
        """Offer channel id → (offer id, interaction id, advisor id)."""
        self._parties: dict[str, _Call] = {}
        """Party channel id → the call transferred out to it."""
        self._menus: dict[str, _Menu] = {}
        """Caller channel id → its menu, while it chooses."""
        self._dialogues: dict[str, _Keys] = {}
        """Caller channel id → the keys it presses, while it is offered a callback."""
        self._playing: dict[str, anyio.Event] = {}
        self._holding_ready = False
        self._submitting = 0
        """Submissions under way: an offer of a call not known yet may be of one of them."""
        self._arriving: set[str] = set()
        """Caller channels being submitted, answered and held now."""
        self._state = context.state(AsteriskState)
        self._saving = anyio.Lock()
        self._asked = self._saved = 0
        self._taking: set[str] = set()
        """Calls past the check of ``_take`` and not yet in ``_calls``."""
        self._state_size = self._saved_calls = 0
        """The size of the state saved last, in bytes, and the calls it held."""
        self._overflowing = False
        """Saves asked for, and the last asked for that a write covered (``_save``)."""
        self._rings: dict[int, tuple[int, anyio.Event]] = {}
        """Offer id → (its event's seq, set once its phone was rung), while it is rung."""
        self._followed = 0
        """The seq of the last engine event acted on."""
        self._estimates = Estimates.of(context.daemon_settings)
        self._announcements = itertools.count(1)
        self._erasing: set[int] = set()
        self._erased_wake = anyio.Event()
        context.on_erased(self._erased)

    # -- life ----------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._load()
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._follow_engine)
                if self.settings.announce_every_s > 0:
                    group.start_soon(self._announce)
                group.start_soon(self._maintain)
                await self._follow_asterisk(group)
        finally:
            with anyio.CancelScope(shield=True):
                await self.ari.close()

    async def _follow_asterisk(self, group: TaskGroup) -> None:
        """Hold the event WebSocket open: reconnect with back-off, resynchronise each time.

        Only the daemon that leads the journal holds it: a second connection to the same
        application would take it over (``ApplicationReplaced``), so a standby waits, and a
        daemon that stops leading lets it go.
        """
        wait = _FIRST_RETRY_S
        while True:
            while not self.context.ready:
                await anyio.sleep(_FIRST_RETRY_S)

            def connected() -> None:  # what happened meanwhile is read from the lists
                nonlocal wait
                wait = _FIRST_RETRY_S
                self.context.report("ok")
                group.start_soon(self._resynchronise)

            async with anyio.create_task_group() as held:
                held.start_soon(self._lead, held.cancel_scope)
                await self._listen(connected, group)
                held.cancel_scope.cancel()
            await anyio.sleep(wait)
            wait = min(wait * 2, self.settings.reconnect_max_s)

    async def _listen(self, connected: Any, group: TaskGroup) -> None:
        try:
            async for event in self.ari.events(connected):
                if event.get("type") == "ApplicationReplaced":
                    log.warning("another client took the Stasis application over")
                await self._on_ari(event, group)
        except AriError as exc:
            self.context.report("degraded", f"ARI: {exc}")
            log.warning("ARI event stream lost; reconnecting", error=str(exc))

    async def _lead(self, held: anyio.CancelScope) -> None:
        """Let the application go when this daemon no longer leads the journal."""
        while self.context.ready:
            await anyio.sleep(_FIRST_RETRY_S)
        log.warning("this daemon no longer leads: it lets the Stasis application go")
        held.cancel()

    # -- Asterisk's events ---------------------------------------------------------------------

    async def _on_ari(self, event: dict[str, Any], group: TaskGroup) -> None:
        kind = event.get("type")
        channel = event.get("channel") or {}
        channel_id = str(channel.get("id", ""))
        if kind == "StasisStart":
            if channel_id.startswith(_OFFER):
                group.start_soon(self._guard, self._picked_up, channel_id)
            elif channel_id.startswith(_OUT):
                group.start_soon(self._guard, self._party_answered, channel_id)
            elif channel_id.startswith(_CALLBACK):
                group.start_soon(self._guard, self._customer_answered, channel_id)
            else:
                group.start_soon(self._guard, self._arrived, channel)
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            group.start_soon(self._guard, self._gone, channel_id)
        elif kind == "ChannelDtmfReceived":
            dialogue = self._dialogues.get(channel_id)
            if dialogue is not None:
                dialogue.keys.append(str(event.get("digit", "")))
                dialogue.wake.set()
            menu = self._menus.get(channel_id)
            chosen = self.settings.menu.choices if self.settings.menu else {}
            if menu is not None and menu.key is None and event.get("digit") in chosen:
                menu.key = str(event["digit"])
                menu.wake.set()
        elif kind == "PlaybackFinished":
            playback_id = str((event.get("playback") or {}).get("id", ""))
            done = self._playing.pop(playback_id, None)
            if done is not None:
                done.set()

    async def _guard(self, step: Any, *args: Any) -> None:
        """Run one reaction; a failure is logged, never the end of the channel."""
        try:
            await step(*args)
        except (AriError, Unavailable, CommandFailed) as exc:
            log.warning("a call step failed", step=step.__name__, error=str(exc))

    async def _arrived(self, channel: dict[str, Any]) -> None:
        """A caller in the application: submit it, answer it, hold it (or play it closed)."""
        channel_id = str(channel["id"])
        known = self._calls.get(channel_id)
        if (known is not None and not known.ended) or channel_id in self._arriving:
            return  # its StasisStart and a resynchronisation both saw it
        self._arriving.add(channel_id)
        try:
            await self._take(channel_id, channel)
        finally:
            self._arriving.discard(channel_id)

    async def _take(self, channel_id: str, channel: dict[str, Any]) -> None:
        unsaved = len(self._calls) - self._saved_calls + len(self._taking)
        if self._state_size + unsaved * _CALL_BYTES > _STATE_FULL:
            await self._overflow(channel_id)
            return
        if self._overflowing:
            self._overflowing = False
            log.warning("calls are taken again: the calls in progress fit the state again")
        self._taking.add(channel_id)
        try:
            call = await self._admit(channel_id, channel)
        finally:
            self._taking.discard(channel_id)
        if call is None or call.advisor_channel is not None:
            return  # not taken, or already with an advisor (a resynchronisation)
        await self.ari.answer(channel_id)
        await self.ari.set_variable(channel_id, VARIABLE, str(call.interaction_id))
        if self.settings.record:
            await self._notice(call)
        await self._hold(channel_id)

    async def _admit(self, channel_id: str, channel: dict[str, Any]) -> _Call | None:
        """Submit the call (its motive chosen first), and keep it; None when it is no work."""
        dialled = str((channel.get("dialplan") or {}).get("exten", ""))
        context = await self._headers(channel_id)
        motive = self._named(context) or self.settings.numbers.get(dialled)
        if motive is None and self.settings.menu is not None:
            motive = await self._menu(channel_id)
            if motive is None:
                return None  # hung up in the menu: no work
        motive = motive or self.settings.motive
        self._submitting += 1
        try:
            interaction_id = await self._submit(channel, motive, context)
            call = self._remember(channel_id, interaction_id)
            self._taking.discard(channel_id)  # one of ``_calls`` now
            await self._save()
        except ChannelClosed:
            await self._closed(channel_id)
            return None
        except (EngineError, Rejected, Conflict) as exc:
            log.warning("a call the daemon refuses is ended", channel=channel_id, error=str(exc))
            await self.ari.hang_up(channel_id, "normal")
            return None
        finally:
            self._submitting -= 1
        return call

    async def _overflow(self, channel_id: str) -> None:
        """The calls in progress fill the state: this one goes to the dialplan's fallback,
        kept by nobody here, rather than be taken without being kept."""
        log.error(
            "the calls in progress fill the channel's durable state: a new call goes to the "
            "dialplan's fallback",
            state_bytes=self._state_size,
            calls=len(self._calls),
            label=self.settings.fallback_label,
            first=not self._overflowing,
        )
        self._overflowing = True
        await self.ari.continue_at(channel_id, self.settings.fallback_label)

    async def _submit(self, channel: dict[str, Any], motive: str, context: dict[str, str]) -> int:
        settings = self.settings
        dialplan = channel.get("dialplan") or {}
        dialled = str(dialplan.get("exten", ""))
        created = _instant(str(channel.get("creationtime", "")))
        command = Submit(
            channel="voice",
            source=SOURCE,
            external_id=str(channel["id"]),
            received_at=created,
            motive=motive,
            language=settings.language,
        )
        caller = channel.get("caller") or {}
        personal: dict[str, Any] = {
            "customer": {"name": caller.get("name", ""), "phone": caller.get("number", "")},
            "dialled": dialled,
        }
        if context:
            personal["context"] = context
        while True:
            try:
                receipt = await self.context.submit(command, personal)
                return receipt.interaction.id
            except Unavailable:
                await anyio.sleep(1)  # a standby or a rebuild: the caller hears ringing

    async def _headers(self, channel_id: str) -> dict[str, str]:
        """The configured SIP headers the call brings (those it has)."""
        found: dict[str, str] = {}
        for name in self.settings.headers:
            try:
                value = await self.ari.get_variable(channel_id, f"PJSIP_HEADER(read,{name})")
            except AriError as exc:  # a header is never worth the call: it goes without
                log.warning("a SIP header not read", header=name, error=str(exc))
                continue
            if value is not None:
                found[name] = value
        return found

    def _named(self, context: dict[str, str]) -> str | None:
        """The motive the motive header names, when it is a configured one."""
        settings = self.settings
        wanted = (settings.motive_header or "").lower()  # SIP's names ignore case
        named = next((v for k, v in context.items() if k.lower() == wanted), None)
        if named is not None and named not in self.context.daemon_settings.motives:
            log.warning("a SIP header names no configured motive", header=settings.motive_header)
            return None
        return named

    async def _menu(self, channel_id: str) -> str | None:
        """The motive the caller picks with a key (the default at the time-out); None when it
        hangs up first."""
        menu = self.settings.menu
        assert menu is not None
        chosen = await self.ari.get_variable(channel_id, MOTIVE_VARIABLE)
        if chosen:
            return chosen  # chosen before an outage
        waiting = self._menus[channel_id] = _Menu()
        playback_id = f"aig-menu-{channel_id}"
        self._playing[playback_id] = waiting.wake  # the prompt's end wakes it too
        try:
            await self.ari.answer(channel_id)
            await self.ari.play(channel_id, menu.prompt, playback_id)
            with anyio.move_on_after(_CLOSED_PLAY_MAX_S):
                await waiting.wake.wait()
            if waiting.key is None and not waiting.gone:  # the prompt is over: a key, in time
                waiting.wake = anyio.Event()
                with anyio.move_on_after(menu.timeout_s):
                    await waiting.wake.wait()
            if waiting.gone:
                return None
            if waiting.key is not None and playback_id in self._playing:
                await self.ari.stop_playback(playback_id)  # a key cuts the prompt short
        finally:
            self._menus.pop(channel_id, None)
            self._playing.pop(playback_id, None)
        motive = menu.default if waiting.key is None else menu.choices[waiting.key]
        log.info("a caller chose in the menu", key=waiting.key, motive=motive)
        await self.ari.set_variable(channel_id, MOTIVE_VARIABLE, motive)
        return motive

    async def _hold(self, channel_id: str) -> None:
        holding = self.settings.holding_bridge
        if not self._holding_ready:
            await self.ari.bridge(holding, "holding")
            await self.ari.music_on_hold(holding, self.settings.moh_class)
            self._holding_ready = True
        await self.ari.add(holding, [channel_id])
        call = self._calls.get(channel_id)
        if call is not None:
            call.announce_at = time.monotonic() + self.settings.announce_first_s

    async def _closed(self, channel_id: str) -> None:
        """Outside opening hours: the closed message, then the end of the call."""
        log.info("a call outside opening hours hears the closed message", channel=channel_id)
        playback_id = f"aig-closed-{channel_id}"
        done = self._playing[playback_id] = anyio.Event()
        await self.ari.answer(channel_id)
        await self.ari.play(channel_id, self.settings.closed_sound, playback_id)
        with anyio.move_on_after(_CLOSED_PLAY_MAX_S):
            await done.wait()
        self._playing.pop(playback_id, None)
        await self.ari.hang_up(channel_id, "normal")

    async def _picked_up(self, offer_channel_id: str) -> None:
        """The advisor's phone answered: accept the offer, and bridge the caller to it."""
        offer = self._offers.get(offer_channel_id)
        if offer is None:
            log.warning("a ringing phone for an offer not known here", channel=offer_channel_id)
            await self.ari.hang_up(offer_channel_id, "normal")
            return
        offer_id, interaction_id, advisor_id = offer
        call = self._by_interaction.get(interaction_id)
        try:
            await self._execute(Accept(advisor_id=advisor_id, offer_id=offer_id))
        except EngineError as exc:  # expired meanwhile, or the caller left
            log.info("a pick-up too late for its offer", offer_id=offer_id, error=str(exc))
            await self.ari.hang_up(offer_channel_id, "normal")
            return
        if call is None or call.ended:  # the caller left while the offer was accepted
            if call is not None:
                with contextlib.suppress(EngineError):  # abandoned before the accept, or not
                    await self._execute(Close(interaction_id=interaction_id, advisor_id=advisor_id))
            await self.ari.hang_up(offer_channel_id, "normal")
            return
        if call.callback and not call.reached:
            await self._dial(call, offer_channel_id, advisor_id)
            return
        call.advisor_id, call.advisor_channel = advisor_id, offer_channel_id
        call.announce_at = None
        if self.settings.record and call.recording is None:
            day = datetime.now(self.context.zone).strftime("%Y%m%d")
            call.recording = f"aig-rec-{interaction_id}-{day}"
        await self._save()
        if call.announcing is not None:  # the advisor does not talk over it
            await self.ari.stop_playback(call.announcing)
            call.announcing = None
        if call.notice is not None:  # the caller hears it is recorded before anyone else
            with anyio.move_on_after(_CLOSED_PLAY_MAX_S):
                await call.notice.wait()
        bridge = call_bridge(interaction_id)
        await self.ari.bridge(bridge, "mixing")
        await self.ari.remove(self.settings.holding_bridge, call.channel_id)
        await self.ari.add(bridge, [call.channel_id, offer_channel_id])
        if self.settings.record and call.recording is not None:
            await self.ari.record(bridge, call.recording, self.settings.record_format)
            log.info("a call is recorded", interaction=interaction_id)

    async def _gone(self, channel_id: str) -> None:
        """A channel left the application: the caller's, an advisor's or a party's."""
        menu = self._menus.get(channel_id)
        if menu is not None:  # hung up while choosing
            menu.gone = True
            menu.wake.set()
            return
        dialogue = self._dialogues.get(channel_id)
        if dialogue is not None:  # hung up while offered a callback: its end follows
            dialogue.gone = True
            dialogue.wake.set()
        if channel_id in self._parties:
            out = self._parties.pop(channel_id)
            if out.party_up or out.ended:
                await self._ended(out)  # the party hung up: the caller's leg ends too
            else:  # rang out, or busy
                log.info("the party did not answer", interaction=out.interaction_id)
                await self._farewell(out, self.settings.party_unavailable_sound)
            return
        if channel_id in self._offers:
            offer_id, interaction_id, _ = self._offers.pop(channel_id)
            call = self._by_interaction.get(interaction_id)
            if call is not None and call.advisor_channel == channel_id and call.dialling:
                if call.reached:
                    await self._ended(call)  # the advisor hung up a callback in progress
                else:  # before the customer answered: the attempt is given up
                    await self._unanswered(call, ringing=True)
            elif call is not None and call.advisor_channel == channel_id:
                await self._ended(call)  # the advisor hung up a call in progress
            elif call is not None:
                call.offers.pop(offer_id, None)  # rang out: the offer's clock decides
            return
        call = self._calls.get(channel_id)
        if call is not None and call.callback and not call.reached:
            await self._unanswered(call)  # the customer's phone rang out, or was busy
        elif call is not None:
            await self._ended(call)

    async def _ended(self, call: _Call) -> None:
        """The call is over: abandon it while queued, close it once picked up."""
        if call.requesting is not None:  # hung up as its callback was asked for: see first
            await call.requesting.wait()
        if call.ended:
            return
        call.ended = True
        call.announce_at = None
        try:
            if call.out:
                pass  # transferred out: over for the engine already
            elif call.callback and not call.reached:
                pass  # a callback ended by the engine (its last attempt, a supervisor)
            elif call.advisor_id is None:
                await self._execute(Abandon(interaction_id=call.interaction_id))
            else:
                close = Close(interaction_id=call.interaction_id, advisor_id=call.advisor_id)
                await self._execute(close)
        except EngineError as exc:  # already ended (an advisor closed it, a resync)
            log.info(
                "a call's end the engine knew", interaction=call.interaction_id, error=str(exc)
            )
        for offer_id in list(call.offers):
            await self.ari.hang_up(offer_channel(offer_id), "normal")
        party = party_channel(call.interaction_id) if call.out else None
        self._parties.pop(party or "", None)
        caller = None if call.callback and not call.dialling else call.channel_id
        for channel_id in (caller, call.advisor_channel, party):
            if channel_id is not None:
                await self.ari.hang_up(channel_id, "normal")
        if call.advisor_channel is not None or call.out:
            await self.ari.destroy(call_bridge(call.interaction_id))
        self._forget(call)
        await self._save()

    # -- the engine's events -------------------------------------------------------------------

    async def _follow_engine(self) -> None:
        """Act on the engine's events in order; the phones of several offers ring at once.

        Ringing a phone (a save, then the originate) runs apart, so that the offers made
        together share their saves (``_save``); an event about an offer still being rung
        waits for it, and the cursor passes an offer only once its phone was rung.
        """
        async with anyio.create_task_group() as rings:
            async for record in self.context.events():
                try:
                    await self._on_engine(record, rings)
                except (AriError, Unavailable, CommandFailed) as exc:
                    log.warning("an engine event not acted on", seq=record.seq, error=str(exc))
                # Learnt after acting, not before: a read waits for a batch in flight.
                with contextlib.suppress(Unavailable):  # a rebuild: the estimate misses one
                    await self.context.read(functools.partial(self._estimates.feed, [record]))
                self._followed = record.seq
                await self._advance()

    async def _advance(self) -> None:
        """Move the cursor up to the events followed, short of an offer still being rung."""
        ringing = [seq for seq, _ in self._rings.values()]
        upto = min(ringing) - 1 if ringing else self._followed
        await self.context.done(min(upto, self._followed))

    async def _rung(self, offer_id: int) -> None:
        """Wait until the phone of this offer was rung (or given up), if it is being rung."""
        ringing = self._rings.get(offer_id)
        if ringing is not None:
            await ringing[1].wait()

    async def _on_engine(self, record: Record, rings: TaskGroup) -> None:
        event = record.event
        if isinstance(event, OfferExpired | OfferRevoked | OfferDeclined | OfferAccepted):
            await self._rung(event.offer_id)
        elif not isinstance(event, OfferMade) and hasattr(event, "interaction_id"):
            call = self._by_interaction.get(event.interaction_id)
            for offer_id in list(call.offers) if call is not None else ():
                await self._rung(offer_id)
        if isinstance(event, OfferMade):
            call = self._by_interaction.get(event.interaction_id)
            # The engine may offer a call before its submission returned here: wait for it.
            waited = 0
            while call is None and self._submitting and waited < 100:
                await anyio.sleep(0.05)
                waited += 1
                call = self._by_interaction.get(event.interaction_id)
            if call is None and self.settings.callback_endpoint:
                call = await self._unsaved_callback(event.interaction_id)
            if call is not None and not call.ended:
                done = anyio.Event()
                self._rings[event.offer_id] = (record.seq, done)
                rings.start_soon(self._ring, call, event, done)
        elif isinstance(event, OfferExpired | OfferRevoked | OfferDeclined):
            call = self._by_interaction.get(event.interaction_id)
            if call is not None:
                call.offers.pop(event.offer_id, None)
            if offer_channel(event.offer_id) in self._offers:
                await self.ari.hang_up(offer_channel(event.offer_id), "no_answer")
        elif isinstance(event, OfferAccepted):
            call = self._by_interaction.get(event.interaction_id)
            if call is not None:  # other offers of the call (none today) stop ringing
                for offer_id in [o for o in call.offers if o != event.offer_id]:
                    await self.ari.hang_up(offer_channel(offer_id), "answered_elsewhere")
        elif isinstance(event, InteractionTransferred):
            call = self._by_interaction.get(event.interaction_id)
            if call is not None and not call.ended and not call.out:
                await self._transferred(call)
        elif isinstance(event, InteractionTransferredOut):
            call = self._by_interaction.get(event.interaction_id)
            if call is not None and not call.ended and not call.out:
                await self._transferred_out(call, event)
        elif isinstance(event, InteractionAbandoned | InteractionClosed):
            call = self._by_interaction.get(event.interaction_id)
            if call is not None and not call.ended:
                await self._ended(call)  # ended here (a supervisor): the call ends too

    async def _unsaved_callback(self, interaction_id: int) -> _Call | None:
        """A callback of this channel that its state does not hold, or ``None``.

        The engine took the callback, and the daemon died before the channel's state was
        saved with it: taken up again, the caller's channel was gone, and its end (refused by
        the engine: a callback is not abandoned) forgot it here. Its offer says it waits.
        """

        def ours(engine: Engine) -> bool:
            interaction = engine.state.interactions.get(interaction_id)
            return (
                interaction is not None
                and interaction.source == SOURCE
                and interaction.callback_requested_at is not None
                and interaction.ended_at is None
            )

        if not await self.context.read(ours):
            return None
        log.warning("a callback not in the saved state is taken up", interaction=interaction_id)
        return self._remember(callback_channel(interaction_id), interaction_id)

    async def _ring(self, call: _Call, offer: OfferMade, done: anyio.Event) -> None:
        try:
            await self._guard(self._originate, call, offer)
        finally:
            self._rings.pop(offer.offer_id, None)
            done.set()
            with contextlib.suppress(Unavailable):
                await self._advance()

    async def _originate(self, call: _Call, offer: OfferMade) -> None:
        if to_datetime(offer.expires_at) <= datetime.now(UTC):
            return  # an old offer read again after a restart
        endpoint = self.settings.endpoints.get(offer.advisor_id)
        if endpoint is None:
            log.warning(
                "an offer to an advisor with no endpoint in [adapters.asterisk.endpoints] "
                "is left to expire",
                advisor=offer.advisor_id,
            )
            return
        channel_id = offer_channel(offer.offer_id)
        self._offers[channel_id] = (offer.offer_id, offer.interaction_id, offer.advisor_id)
        call.offers[offer.offer_id] = offer.advisor_id
        await self._save()
        if call.ended:
            return  # the caller left while the offer was saved
        rung = await self.ari.originate(
            channel_id, endpoint, f"offer,{offer.offer_id}", caller_id=""
        )
        log.info("an advisor's phone rings", offer_id=offer.offer_id, again=not rung)
        if call.ended:  # the caller left as it rang: its end hung up nothing yet
            await self.ari.hang_up(channel_id, "normal")

    # -- transfers -----------------------------------------------------------------------------

    def _let_go(self, call: _Call) -> str | None:
        """The advisor leaves the call: return the channel of their phone, if it was on it."""
        advisor_channel = call.advisor_channel
        if advisor_channel is not None:
            offer = self._offers.pop(advisor_channel, None)
            if offer is not None:
                call.offers.pop(offer[0], None)
        call.advisor_id = call.advisor_channel = None
        return advisor_channel

    async def _transferred(self, call: _Call) -> None:
        """Back in queue (to another advisor, to a skill group): back on hold, the advisor's
        phone hung up; the next offer rings as any."""
        advisor_channel = self._let_go(call)
        await self._save()
        log.info("a transferred call is back on hold", interaction=call.interaction_id)
        await self._hold(call.channel_id)  # Asterisk moves it out of the call bridge
        if advisor_channel is not None:
            await self.ari.hang_up(advisor_channel, "normal")
            await self.ari.destroy(call_bridge(call.interaction_id))

    async def _transferred_out(self, call: _Call, event: InteractionTransferredOut) -> None:
        """Put the caller through to the party the advisor named, or tell it none answers."""
        piece = await self.context.personal(event.interaction_id, event.party_digest)
        party = (piece or {}).get("party")
        endpoint = self.settings.parties.get(party) if isinstance(party, str) else None
        advisor_channel = self._let_go(call)
        call.out = True
        channel_id = party_channel(call.interaction_id)
        if endpoint is not None:
            self._parties[channel_id] = call
        await self._save()
        if endpoint is None:
            log.warning(
                "a transfer out to a party with no number in [adapters.asterisk.parties]",
                interaction=call.interaction_id,
                known=piece is not None,
            )
        else:
            await self._hold(call.channel_id)  # music while the party's number rings
            call.announce_at = None
        if advisor_channel is not None:
            await self.ari.hang_up(advisor_channel, "normal")
            await self.ari.destroy(call_bridge(call.interaction_id))
        if endpoint is None:
            await self._farewell(call, self.settings.party_unavailable_sound)
            return
        log.info("the party's number rings", interaction=call.interaction_id)
        await self.ari.originate(
            channel_id,
            endpoint,
            f"party,{call.interaction_id}",
            caller_id="",
            timeout_s=self.settings.party_ring_s,
        )

    async def _party_answered(self, channel_id: str) -> None:
        """The party answered: it and the caller talk in the call's bridge."""
        call = self._parties.get(channel_id)
        if call is None or call.ended:
            await self.ari.hang_up(channel_id, "normal")
            return
        call.party_up = True
        bridge = call_bridge(call.interaction_id)
        await self.ari.bridge(bridge, "mixing")
        await self.ari.add(bridge, [call.channel_id, channel_id])
        log.info("a call transferred out is put through", interaction=call.interaction_id)

    async def _farewell(self, call: _Call, media: str) -> None:
        """Play ``media`` to the caller, then end the call."""
        if call.ended:
            return
        playback_id = f"aig-farewell-{call.channel_id}"
        done = self._playing[playback_id] = anyio.Event()
        await self.ari.play(call.channel_id, media, playback_id)
        with anyio.move_on_after(_CLOSED_PLAY_MAX_S):
            await done.wait()
        self._playing.pop(playback_id, None)
        await self._ended(call)

    # -- recordings ----------------------------------------------------------------------------

    async def _notice(self, call: _Call) -> None:
        """Tell the caller the call is recorded (before it is bridged to anyone)."""
        call.notice = told = anyio.Event()
        playback_id = f"aig-notice-{call.channel_id}"
        done = self._playing[playback_id] = anyio.Event()
        try:
            await self.ari.play(call.channel_id, self.settings.record_announcement, playback_id)
            with anyio.move_on_after(_CLOSED_PLAY_MAX_S):
                await done.wait()
        finally:
            self._playing.pop(playback_id, None)
            told.set()

    def _erased(self, interaction_id: int) -> None:
        """An interaction's personal data is erased: its recordings are to be deleted."""
        self._erasing.add(interaction_id)
        self._erased_wake.set()

    async def _maintain(self) -> None:
        """Delete the recordings of erased interactions, and, daily, those past retention."""
        retain_at = 0.0
        while True:
            wake = self._erased_wake = anyio.Event()
            if self.context.ready:
                if self._erasing:
                    await self._guard(self._erase_recordings)
                if time.monotonic() >= retain_at:
                    try:
                        await self._retain()
                        retain_at = time.monotonic() + _RETENTION_EVERY_S
                    except (AriError, Unavailable) as exc:
                        log.warning("the recordings' retention pass failed", error=str(exc))
            with anyio.move_on_after(_MAINTAIN_S):
                await wake.wait()

    async def _erase_recordings(self) -> None:
        pending = sorted(self._erasing)
        await self._save()  # kept until done: a restart carries them out
        names = await self.ari.stored_recordings()
        for interaction_id in pending:
            for name in names:
                found = _RECORDING.match(name)
                if found and int(found[1]) == interaction_id:
                    await self.ari.delete_recording(name)
                    log.info("a recording deleted with its personal data", recording=name)
            self._erasing.discard(interaction_id)
        await self._save()

    async def _retain(self) -> None:
        """Delete the recordings older than ``recording_retention_days``, and those whose
        interaction's personal data was erased where no listener heard it (``aiguillage
        erase``, or while this channel was not running)."""
        today = datetime.now(self.context.zone).date()
        oldest = (today - timedelta(days=self.settings.recording_retention_days)).strftime("%Y%m%d")
        deleted = 0
        kept: dict[int, list[str]] = {}
        for name in await self.ari.stored_recordings():
            found = _RECORDING.match(name)
            if found and found[2] < oldest:  # YYYYMMDD: as strings, as dates
                await self.ari.delete_recording(name)
                deleted += 1
            elif found:
                kept.setdefault(int(found[1]), []).append(name)
        log.info("recordings past their retention deleted", deleted=deleted, before=oldest)
        for interaction_id, names in kept.items():
            if not await self.context.erased(interaction_id):
                continue
            for name in names:
                await self.ari.delete_recording(name)
                log.info("a recording of erased personal data deleted", recording=name)

    # -- announcements -------------------------------------------------------------------------

    async def _announce(self) -> None:
        """Tell each caller held in the holding bridge, when due, its position and the wait."""
        every = self.settings.announce_every_s
        async with anyio.create_task_group() as dialogues:
            while True:
                await anyio.sleep(_ANNOUNCE_TICK_S)
                now = time.monotonic()
                for call in list(self._calls.values()):
                    if call.announce_at is None or call.announce_at > now or call.ended:
                        continue
                    call.announce_at = now + every
                    if not call.talking:
                        await self._guard(self._tell, call, dialogues)

    async def _tell(self, call: _Call, dialogues: TaskGroup) -> None:
        interaction_id = call.interaction_id
        offers = bool(self.settings.callback_endpoint)

        def standing(engine: Engine) -> tuple[int, int | None, bool] | None:
            state = engine.state
            interaction = state.interactions.get(interaction_id)
            if interaction is None or interaction.status != "queued":
                return None  # ringing an advisor, or over: nothing to tell
            order = state.queues.ordered(interaction.channel)
            if interaction_id not in order:
                return None
            now = from_datetime(datetime.now(UTC))
            wait_s = self._estimates.estimate(engine, interaction_id, now)
            # The wait so far and the estimate past the target: the SLA's deadline passed.
            offer = (
                offers
                and wait_s is not None
                and interaction.callback_requested_at is None
                and now + wait_s * SECOND > interaction.deadline
            )
            if offer:
                try:
                    callback_deadline(state, interaction, now)  # the engine's own rule
                except CallbackRefused:
                    offer = False  # none on this channel, or none before closing
            return order.index(interaction_id) + 1, wait_s, offer

        found = await self.context.read(standing)
        if found is None or call.announce_at is None or call.talking:
            return
        position, wait_s, offer = found
        media = announcement(self.settings, position, wait_s)
        if offer:
            media = [*media, *self.settings.callback_offer]
        playback_id = f"aig-announce-{next(self._announcements)}"
        log.info(
            "a queued caller hears its position", position=position, wait_s=wait_s, offer=offer
        )
        call.announcing = playback_id
        if not offer:
            await self.ari.play(call.channel_id, ",".join(media), playback_id)
            return
        # Its keys are heard from the start of the announcement.
        keys = self._dialogues[call.channel_id] = _Keys()
        self._playing[playback_id] = anyio.Event()
        call.talking = True
        try:
            await self.ari.play(call.channel_id, ",".join(media), playback_id)
        except BaseException:
            self._dialogues.pop(call.channel_id, None)
            self._playing.pop(playback_id, None)
            call.talking = False
            raise
        dialogues.start_soon(self._guard, self._offered, call, keys, playback_id)

    # -- callbacks -----------------------------------------------------------------------------

    async def _offered(self, call: _Call, keys: _Keys, playback_id: str) -> None:
        """A caller offered a callback: its key, its number confirmed (or keyed), the
        request; any time-out or pick-up leaves it as it was."""
        try:
            if await self._key(call, keys, playback_id, {self.settings.callback_key}) is None:
                return
            log.info("a queued caller takes the callback offered", interaction=call.interaction_id)
            channel = await self.ari.channel(call.channel_id)
            caller = ((channel or {}).get("caller") or {}).get("number", "")
            number = callback_number(str(caller))
            while True:
                if number is None:
                    number = await self._keyed(call, keys)
                    if number is None:
                        return
                said = [
                    f"digits:{_spoken(number)}" if media == "{number}" else media
                    for media in self.settings.callback_confirm
                ]
                confirm = await self._say(call, said, "confirm")
                key = await self._key(call, keys, confirm, {_CONFIRM_KEY, _OTHER_KEY})
                if key is None:
                    return
                if key == _CONFIRM_KEY:
                    break
                number = None
            await self._request_callback(call, number)
        finally:
            if self._dialogues.get(call.channel_id) is keys:
                del self._dialogues[call.channel_id]
            call.talking = False

    async def _say(self, call: _Call, media: tuple[str, ...] | list[str], what: str) -> str:
        """Play ``media`` to the caller (the pick-up cuts it short); its playback's id."""
        playback_id = f"aig-{what}-{next(self._announcements)}"
        self._playing[playback_id] = anyio.Event()
        call.announcing = playback_id
        await self.ari.play(call.channel_id, ",".join(media), playback_id)
        return playback_id

    async def _key(
        self, call: _Call, keys: _Keys, playback_id: str, wanted: set[str]
    ) -> str | None:
        """The first of ``wanted`` the caller presses during the playback or within
        ``callback_timeout_s`` after it (other keys are passed over); None at the time-out,
        when it hangs up or once an advisor picks it up."""
        done = self._playing.get(playback_id)
        started, deadline = time.monotonic(), None
        while True:
            wake = keys.wake = anyio.Event()
            if keys.gone or call.ended or call.advisor_id is not None:
                return None
            while keys.keys:
                key = keys.keys.pop(0)
                if key in wanted:
                    if done is not None and not done.is_set():
                        await self.ari.stop_playback(playback_id)  # a key cuts it short
                    self._playing.pop(playback_id, None)
                    return key
            now = time.monotonic()
            over = done is None or done.is_set() or now - started > _CLOSED_PLAY_MAX_S
            if deadline is None and over:
                deadline = now + self.settings.callback_timeout_s
            if deadline is not None and now >= deadline:
                self._playing.pop(playback_id, None)
                return None
            with anyio.move_on_after(_ANNOUNCE_TICK_S):  # a key, or the playback's end
                await wake.wait()

    async def _keyed(self, call: _Call, keys: _Keys) -> str | None:
        """The number the caller keys, ended by ``#``; asked again when it is not one."""
        digits = set("0123456789")
        for _ in range(_ENTER_TRIES):
            playback_id = await self._say(call, self.settings.callback_enter, "enter")
            keyed = ""
            while True:
                key = await self._key(call, keys, playback_id, {*digits, _END_KEY})
                if key is None:
                    return None
                if key == _END_KEY:
                    break
                keyed += key
                if len(keyed) > 20:
                    break
            number = callback_number(keyed)
            if number is not None:
                return number
            log.info("a callback number keyed is not one: asked again", digits=len(keyed))
        return None

    async def _request_callback(self, call: _Call, number: str) -> None:
        """Ask the engine for the callback: taken, the call ends (no abandon: the interaction
        waits as a callback); refused, the caller hears so and waits on."""
        interaction_id = call.interaction_id
        call.requesting = asked = anyio.Event()
        self._submitting += 1  # its offers may come before it is known as a callback
        try:
            try:
                await self._execute(
                    RequestCallback(interaction_id=interaction_id),
                    {"callback_number": number},
                )
            except CallbackRefused as exc:
                log.info("a callback refused", interaction=interaction_id, reason=exc.reason)
                refused = True
            except EngineError as exc:  # picked up, or over, meanwhile
                log.info("a callback asked too late", interaction=interaction_id, error=str(exc))
                return
            else:
                refused = False
                call.ended, call.announce_at = True, None  # the caller's part is over
                if self._calls.get(call.channel_id) is call:
                    del self._calls[call.channel_id]
                waiting = _Call(callback_channel(interaction_id), interaction_id)
                waiting.offers = dict(call.offers)  # withdrawn: their phones stop ringing
                self._calls[waiting.channel_id] = waiting
                self._by_interaction[interaction_id] = waiting
        finally:
            self._submitting -= 1
            call.requesting = None
            asked.set()
        if refused:
            await self._say(call, self.settings.callback_unavailable, "unavailable")
            return
        await self._save()
        log.info("a caller will be called back", interaction=interaction_id)
        playback_id = await self._say(call, self.settings.callback_accepted, "accepted")
        done = self._playing.get(playback_id)
        if done is not None:
            with anyio.move_on_after(_CLOSED_PLAY_MAX_S):
                await done.wait()
        self._playing.pop(playback_id, None)
        await self.ari.hang_up(call.channel_id, "normal")

    async def _dial(self, call: _Call, advisor_channel: str, advisor_id: str) -> None:
        """The advisor took the callback: dial the customer, presenting the service's
        number, on a channel whose id names the attempt (a retry never dials twice)."""
        interaction_id = call.interaction_id

        def facts(engine: Engine) -> tuple[int, tuple[str, ...]] | None:
            interaction = engine.state.interactions.get(interaction_id)
            if interaction is None:
                return None
            return interaction.callback_attempts + 1, interaction.later_digests

        found = await self.context.read(facts)
        attempt, digests = found if found is not None else (1, ())
        number = None
        for digest in reversed(digests):
            piece = await self.context.personal(interaction_id, digest)
            if piece is not None and isinstance(piece.get("callback_number"), str):
                number = callback_number(piece["callback_number"])
                break
        channel_id = callback_channel(interaction_id, attempt)
        self._rekey(call, channel_id)
        call.advisor_id, call.advisor_channel = advisor_id, advisor_channel
        call.announce_at = None
        if self.settings.record and call.recording is None:
            day = datetime.now(self.context.zone).strftime("%Y%m%d")
            call.recording = f"aig-rec-{interaction_id}-{day}"
        await self._save()
        if number is None:
            log.warning("a callback with no number to call (erased?)", interaction=interaction_id)
            await self._unanswered(call)
            return
        endpoint = self.settings.callback_endpoint.replace("{number}", number)
        log.info("a customer is called back", interaction=interaction_id, attempt=attempt)
        try:
            await self.ari.originate(
                channel_id,
                endpoint,
                f"callback,{interaction_id}",
                caller_id=self.settings.callback_caller_id,
                timeout_s=self.settings.callback_ring_s,
            )
        except AriError as exc:
            if not exc.status:
                raise  # ARI unreachable: the resynchronisation finds the dial, or not
            log.warning("a callback's dial refused", interaction=interaction_id, error=str(exc))
            await self._unanswered(call)

    async def _customer_answered(self, channel_id: str) -> None:
        """The customer called back answered: the callback's first response; it and the
        advisor talk in the call's bridge."""
        call = self._calls.get(channel_id)
        if call is None or call.ended or call.advisor_id is None or call.advisor_channel is None:
            await self.ari.hang_up(channel_id, "normal")
            return
        if call.reached:
            return  # its StasisStart and a resynchronisation both saw it
        call.reached = True
        answered = RecordCallbackAttempt(
            interaction_id=call.interaction_id, advisor_id=call.advisor_id, outcome="answered"
        )
        try:
            await self._execute(answered)
        except EngineError as exc:
            if getattr(exc, "reason", "") != "responded":  # reported before a restart: on
                log.info("a callback answered too late", error=str(exc))
                await self._ended(call)
                return
        await self._save()
        bridge = call_bridge(call.interaction_id)
        await self.ari.bridge(bridge, "mixing")
        await self.ari.add(bridge, [channel_id, call.advisor_channel])
        log.info("a customer called back is put through", interaction=call.interaction_id)
        if self.settings.record and call.recording is not None:
            await self.ari.record(bridge, call.recording, self.settings.record_format)

    async def _unanswered(self, call: _Call, *, ringing: bool = False) -> None:
        """The customer's phone did not answer (rang out, busy, failed, or the advisor gave
        up): the attempt reported unanswered, the advisor's phone hung up; the engine offers
        the callback again later, or closes it after its last attempt."""
        if not call.dialling or call.reached or call.ended:
            return
        dial, advisor_id = call.channel_id, call.advisor_id
        self._rekey(call, callback_channel(call.interaction_id))  # at once: reported once
        advisor_channel = self._let_go(call)
        await self._save()
        log.info("a customer called back did not answer", interaction=call.interaction_id)
        if advisor_id is not None:
            missed = RecordCallbackAttempt(
                interaction_id=call.interaction_id, advisor_id=advisor_id, outcome="unanswered"
            )
            try:
                await self._execute(missed)
            except EngineError as exc:
                log.info("a callback's attempt the engine knew", error=str(exc))
        if advisor_channel is not None:
            await self.ari.hang_up(advisor_channel, "normal")
        if ringing:  # the advisor gave up: the customer's phone stops ringing
            await self.ari.hang_up(dial, "normal")

    # -- resynchronisation ---------------------------------------------------------------------

    async def _resynchronise(self) -> None:
        """After a (re)connection: the calls in Asterisk and the calls known here, reconciled."""
        # Known before the lists are read: a call absent from them is really gone (one that
        # arrives while they are read is in them, or not known yet).
        known, ringing = list(self._calls.values()), [*self._offers, *self._parties]
        try:
            channels = await self.ari.channels()
            bridges = await self.ari.bridges()
        except AriError as exc:
            log.warning("resynchronisation failed; the next reconnection retries", error=str(exc))
            return
        present = {str(c["id"]): c for c in channels}
        self._holding_ready = any(b["id"] == self.settings.holding_bridge for b in bridges)
        for call in known:
            if call.callback and not call.dialling:
                continue  # waiting in the queue: nothing of it in Asterisk
            if call.callback and not call.reached:  # a dial in flight
                if call.channel_id not in present:
                    await self._guard(self._unanswered, call)
                elif present[call.channel_id].get("state") == "Up":
                    await self._guard(self._customer_answered, call.channel_id)
            elif call.channel_id not in present:
                await self._guard(self._ended, call)
        for offer_channel_id in ringing:
            gone = offer_channel_id not in present
            if gone and (offer_channel_id in self._offers or offer_channel_id in self._parties):
                await self._guard(self._gone, offer_channel_id)
        for channel_id, channel in present.items():
            dialplan = channel.get("dialplan") or {}
            in_app = dialplan.get("app_name") == "Stasis" and str(
                dialplan.get("app_data", "")
            ).startswith(self.settings.app)
            ours = channel_id.startswith((_OFFER, _OUT, _CALLBACK))
            if in_app and not ours and channel_id not in self._calls:
                await self._guard(self._arrived, channel)
        log.info("resynchronised with Asterisk", channels=len(present), calls=len(self._calls))

    # -- bookkeeping ---------------------------------------------------------------------------

    async def _load(self) -> None:
        """The calls this channel held when the daemon last stopped (or was killed)."""
        while True:
            try:
                kept = await self._state.get()
                break
            except Unavailable:
                await anyio.sleep(1)  # a standby: it takes the calls over once it leads
        for held in kept.calls if kept is not None else ():
            call = self._remember(held.channel_id, held.interaction_id)
            call.advisor_id, call.advisor_channel = held.advisor_id, held.advisor_channel
            call.offers = dict(held.offers)
            call.recording = held.recording
            call.reached = held.reached
            if held.out:
                call.out = call.party_up = True  # ringing or talking: its end ends the other
                self._parties[party_channel(held.interaction_id)] = call
            held_here = held.advisor_channel is None and not call.callback
            if held_here and self.settings.announce_every_s > 0:
                call.announce_at = time.monotonic() + self.settings.announce_first_s
            for offer_id, advisor_id in held.offers.items():
                self._offers[offer_channel(offer_id)] = (offer_id, call.interaction_id, advisor_id)
            if held.advisor_channel is not None and held.advisor_id is not None:
                offer_id = int(held.advisor_channel.removeprefix(_OFFER))
                entry = (offer_id, call.interaction_id, held.advisor_id)
                self._offers[held.advisor_channel] = entry
        for interaction_id in kept.callbacks if kept is not None else ():
            self._remember(callback_channel(interaction_id), interaction_id)
        if kept is not None:
            self._erasing.update(kept.erasing)
            self._state_size = len(msgspec.json.encode(kept))
            self._saved_calls = len(kept.calls) + len(kept.callbacks)
        log.info("calls taken up again", calls=len(self._calls))

    async def _save(self) -> None:
        """Keep the calls known now, so that a restart finds them (and those gone meanwhile).

        A group commit: when it returns, every change made before it was called is durable
        (or its failure logged), but one write serves all the steps that asked meanwhile. A
        step asks after its change; the write under way when it asks may have missed it, so
        it waits for the next, which covers every step asking until that write begins.
        """
        self._asked += 1
        mine = self._asked
        async with self._saving:
            if self._saved >= mine:
                return  # a write begun after this step asked covered it
            covered = self._asked
            calls: list[HeldCall] = []
            callbacks: list[int] = []
            for c in self._calls.values():
                if c.ended:
                    continue
                if c.callback and not c.dialling and not c.offers:
                    callbacks.append(c.interaction_id)  # waiting in the queue: its id only
                    continue
                calls.append(
                    HeldCall(
                        channel_id=c.channel_id,
                        interaction_id=c.interaction_id,
                        advisor_id=c.advisor_id,
                        advisor_channel=c.advisor_channel,
                        offers=dict(c.offers),
                        out=c.out,
                        recording=c.recording,
                        reached=c.reached,
                    )
                )
            try:
                state = AsteriskState(
                    calls=calls, erasing=sorted(self._erasing), callbacks=callbacks
                )
                self._state_size = len(msgspec.json.encode(state))
                self._saved_calls = len(calls) + len(callbacks)
                await self._state.put(state)
            except (Unavailable, JournalError) as exc:  # the next step saves them all again
                log.warning("the calls in progress were not saved", error=str(exc))
                return
            self._saved = covered

    def _remember(self, channel_id: str, interaction_id: int) -> _Call:
        call = self._calls.get(channel_id)
        if call is None or call.ended:
            call = _Call(channel_id=channel_id, interaction_id=interaction_id)
            self._calls[channel_id] = call
            self._by_interaction[interaction_id] = call
        return call

    def _forget(self, call: _Call) -> None:
        if self._calls.get(call.channel_id) is call:
            del self._calls[call.channel_id]
        if self._by_interaction.get(call.interaction_id) is call:
            del self._by_interaction[call.interaction_id]
        for channel_id in [c for c, o in self._offers.items() if o[1] == call.interaction_id]:
            del self._offers[channel_id]

    def _rekey(self, call: _Call, channel_id: str) -> None:
        """Know a callback by another channel id (its dial's, or the queue's again)."""
        if self._calls.get(call.channel_id) is call:
            del self._calls[call.channel_id]
        call.channel_id = channel_id
        self._calls[channel_id] = call

    async def _execute(self, command: Command, personal: dict[str, Any] | None = None) -> None:
        while True:
            try:
                await self.context.execute(command, personal)
                return
            except Unavailable:
                await anyio.sleep(1)


def announcement(settings: AsteriskSettings, position: int, wait_s: int | None) -> list[str]:
    """Return the media a queued caller hears: its position, then the wait when there is one
    (an estimate of 0 says the call is about to be offered: only the position)."""
    said = settings.announce_next if position == 1 else settings.announce_position
    if wait_s:
        said = (*said, *settings.announce_wait)
    minutes = -(-(wait_s or 0) // 60)
    numbers = {"{position}": f"number:{position}", "{minutes}": f"number:{minutes}"}
    return [numbers.get(media, media) for media in said]


def _instant(text: str) -> Any:
    """ARI's ``2026-12-04T10:00:00.123+0000`` as an engine instant; now when unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return from_datetime(moment)
