"""The engine: a pure, deterministic state machine that routes contact-center work.

- ``Engine.handle(command, now) -> list[Event]`` checks a command against the policies and the
  state (raising an ``EngineError`` that explains itself when it is refused, with the state
  untouched), applies what it means, runs routing, and returns every event that happened. An
  exception while it applies is wrapped in ``ApplyFailed``: only then may the state be damaged.
- ``Engine.advance(now) -> list[Event]`` fires the timers that are due: SLA warnings and
  breaches, offer time-outs, skill relaxation steps, ends of wrap-up.
- ``Engine.next_timer() -> Instant | None`` says when the next timer is due, so a live runtime
  sleeps exactly that long and a simulator jumps straight there.
- ``Engine.apply(event)`` records one event; replaying a journal rebuilds the same state.
- ``Engine.image() -> bytes`` and ``Engine.from_image(data)`` save and restore the state
  (see ``snapshots.py``), so a restart replays only the journal's tail.

The engine never reads a clock. The caller passes ``now`` (an instant that never goes back) and
calls ``advance(now)`` before ``handle(command, now)``, so that timers due earlier fire first.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mypy_extensions import mypyc_attr

from .advisors import Advisor, is_eligible
from .commands import Command, Submit
from .due import fire_timer, timer_applies
from .errors import ApplyFailed, ClockWentBackwards
from .events import Event, OfferMade
from .handlers import COMMAND_HANDLERS
from .instants import SECOND, Instant
from .interactions import Interaction, order_key
from .policies import CHANNELS, Channel
from .queues import Entry, Signature, SubQueue
from .routing import Strategy, strategy_named
from .snapshots import dump_state, read_image
from .state import State
from .timers import REOFFER

__all__ = ["Engine", "Submission"]


class _Pool(NamedTuple):
    """The advisors eligible for one requirement signature, whatever their state now."""

    mask: int
    """Their bits, as in ``State.ready``."""
    tiers: list[tuple[float, int]]
    """When the strategy's advisor score is static: the same bits grouped by score, best
    first; else empty, and scores are computed at each decision."""


class Submission:
    """The answer to a ``Submit``: the interaction, and whether this call created it.

    A message that joined an open interaction of its thread counts as created (it is new, and
    its text is kept like a new interaction's): ``events`` then holds its ``MessageReceived``
    only. A redelivery of a known key creates nothing.
    """

    __slots__ = ("created", "events", "interaction")

    def __init__(self, interaction: Interaction, created: bool, events: list[Event]) -> None:
        self.interaction = interaction
        self.created = created
        self.events = events


# Compiled with mypyc (setup.py): interpreted code may still subclass it (tests' JournaledEngine).
@mypyc_attr(allow_interpreted_subclasses=True)
class Engine:
    """The routing core. One instance per routing domain, driven by one caller at a time."""

    def __init__(self, strategy: Strategy | None = None) -> None:
        """Start empty; ``strategy`` overrides the one the policies name (the simulator's knob)."""
        self.state = State()
        self.now: Instant = 0
        self._strategy_override = strategy
        self._named: Strategy | None = None
        # Per advisor: (sub-queues looked at, those it may serve per channel), for the profiles
        # of _served_version; cleared when a profile changes, advisors who left with the rest.
        self._served: dict[str, tuple[int, dict[Channel, list[SubQueue]]]] = {}
        self._served_version = -1
        self._pools: dict[Signature, _Pool] = {}
        self._pools_version = -1

    # -- the four entry points ------------------------------------------------------------------

    def handle(self, command: Command, now: Instant) -> list[Event]:
        """Apply one command at ``now`` and return the events that happened."""
        if now < self.now:
            self._check_clock(now)
        state = self.state
        # The handler's list is its own, fresh: it becomes the answer, routing appends to it.
        # Whatever it raises leaves the state untouched: it decides, it changes nothing.
        out = COMMAND_HANDLERS[type(command)](state, command, now)
        self.now = now
        try:
            appliers = state.appliers
            for event in out:
                appliers[type(event)](event)
            if state.pending_advisors or state.pending_interactions:
                self._route(now, out)
        except Exception as exc:
            raise ApplyFailed(f"applying {type(command).__name__} failed: {exc!r}") from exc
        return out

    def submit(self, command: Submit, now: Instant) -> Submission:
        """Submit an interaction; the same ``(source, external_id)`` returns the one still known.

        Once ended work is forgotten (see ``RetentionPolicy``), the same key creates new work: a
        caller that must not, such as the daemon, keeps its own idempotency window.

        A channel outside its opening hours raises ``ChannelClosed``, the state untouched; its
        ``event`` (``InteractionRefused``) is for the caller's journal, and ``apply`` replays it
        as a no-op. Whether a retried refusal is journaled again is the caller's choice.
        """
        events = self.handle(command, now)
        interaction_id = self.state.by_external[(command.source, command.external_id)]
        return Submission(self.state.interactions[interaction_id], bool(events), events)

    def advance(self, now: Instant) -> list[Event]:
        """Fire every timer due at or before ``now`` and return the events that happened."""
        if now < self.now:
            self._check_clock(now)
        self.now = now
        out: list[Event] = []
        state = self.state
        heap = state.timers.heap
        pop = state.timers.pop
        appliers = state.appliers
        while heap and heap[0][0] <= now:
            timer = pop()
            if not timer_applies(state, timer):
                continue
            if timer[2] == REOFFER:
                state.pending_interactions[timer[3]] = None  # type: ignore[index]
            for event in fire_timer(state, timer, now):
                appliers[type(event)](event)
                out.append(event)
        if state.pending_advisors or state.pending_interactions:
            self._route(now, out)
        return out

    def next_timer(self, until: Instant | None = None) -> Instant | None:
        """Return when the next timer that still applies is due, or ``None``.

        With ``until``, timers due after it are not looked at: ``None`` then also means that
        nothing applies by ``until`` (a simulator asks only whether a timer comes before its
        next command).
        """
        state = self.state
        heap = state.timers.heap
        pop = state.timers.pop
        while heap:
            timer = heap[0]
            if until is not None and timer[0] > until:
                return None
            if timer_applies(state, timer):
                return timer[0]
            pop()
        return None

    def apply(self, event: Event) -> None:
        """Record one event from a journal (replay): no routing, no decision.

        After a replay, call ``advance(now)`` before anything else, as always: a re-offer
        timer that came due after the last event, and left no event, is then used again.
        """
        self.state.apply(event)
        self.state.pending_advisors.clear()
        self.state.pending_interactions.clear()
        self.now = max(self.now, event.at)

    # -- snapshots -----------------------------------------------------------------------------

    def image(self) -> bytes:
        """Return the state and the latest instant seen as versioned bytes (a snapshot)."""
        return dump_state(self.state, self.now)

    @classmethod
    def from_image(cls, data: bytes, strategy: Strategy | None = None) -> Engine:
        """Return an engine restored from ``image()`` bytes, then fed the journal's tail.

        Raises ``SnapshotFormatError`` when the bytes are in a format this code does not read
        or are damaged; the state is then rebuilt by replaying the journal from its start.
        """
        state, now = read_image(data)
        engine = cls(strategy)
        engine.state = state
        engine.now = now
        return engine

    # -- reading -------------------------------------------------------------------------------

    @property
    def strategy(self) -> Strategy:
        """The strategy in force: the one given to the engine, else the one the policies name."""
        if self._strategy_override is not None:
            return self._strategy_override
        name = self.state.policies.routing.strategy
        if self._named is None or self._named.name != name:
            self._named = strategy_named(name)
        return self._named

    def interaction(self, interaction_id: int) -> Interaction | None:
        return self.state.interactions.get(interaction_id)

    def advisor(self, advisor_id: str) -> Advisor | None:
        return self.state.advisors.get(advisor_id)

    def snapshot(self) -> dict[str, Any]:
        """Return the whole state as plain comparable values (replay tests compare these)."""
        state = self.state
        live_timers = sorted(
            (t[0], int(t[2]), t[3], t[4]) for t in state.timers if timer_applies(state, t)
        )
        return {
            "policies": state.policies,
            "config_digest": state.config_digest,
            "advisors": dict(sorted(state.advisors.items())),
            "interactions": dict(sorted(state.interactions.items())),
            "by_external": dict(sorted(state.by_external.items())),
            "offers": dict(sorted(state.offers.items())),
            "ended_offers": dict(sorted(state.ended_offers.items())),
            "queues": {c: state.queues.ordered(c) for c in CHANNELS},
            "ready": {c: sorted(state.ready_advisors(c)) for c in CHANNELS},
            "timers": sorted(set(live_timers)),
            "next_interaction_id": state.next_interaction_id,
            "next_offer_id": state.next_offer_id,
            "tokens": dict(sorted(state.tokens.items())),
            "revoked_digests": sorted(state.revoked_digests),
            "next_token_id": state.next_token_id,
            "retired_advisors": sorted(state.retired_advisors),
            "messages": dict(sorted(state.messages.items())),
            "outbox": sorted(state.outbox),
            "threads": dict(sorted(state.threads.items())),
            "next_message_id": state.next_message_id,
            "schedules": state.schedules,
            "exemptions": dict(sorted(state.exemptions.items())),
            "next_exemption_id": state.next_exemption_id,
        }

    # -- internals -----------------------------------------------------------------------------

    def _check_clock(self, now: Instant) -> None:
        if now < self.now:
            raise ClockWentBackwards(
                f"instant {now} is earlier than {self.now}, already seen: time never goes back"
            )

    def _route(self, now: Instant, out: list[Event]) -> None:
        """Offer work until no waiting interaction fits an advisor who may take it.

        Freed advisors first (each takes the most urgent work it may serve), then new or
        returned interactions (each looks for an idle advisor). Offers only ever take capacity,
        so neither list grows while it is worked through.
        """
        state = self.state
        while state.pending_advisors or state.pending_interactions:
            if state.pending_advisors:
                advisors = list(state.pending_advisors)
                state.pending_advisors.clear()
                for advisor_id in advisors:
                    self._fill(advisor_id, now, out)
            else:
                pending = state.pending_interactions
                # One alone needs no ordering (``_place`` skips work no longer queued).
                interactions = (
                    list(pending) if len(pending) == 1 else self._serving_order(pending, now)
                )
                pending.clear()
                for interaction_id in interactions:
                    self._place(interaction_id, now, out)

    def _serving_order(self, pending: dict[int, None], now: Instant) -> list[int]:
        """Return waiting interactions in the order a freed advisor would take them.

        Several interactions can come back at once (the offers of an advisor who paused, a
        batch of time-outs); idle advisors must then get them in queue order within a channel,
        and across channels by the strategy's work score, as ``_fill`` takes them.
        """
        interactions = self.state.interactions
        waiting = [interactions[i] for i in pending if interactions[i].status == "queued"]
        if len(waiting) < 2:
            return [i.id for i in waiting]
        by_channel: dict[Channel, list[Interaction]] = {}
        for interaction in sorted(waiting, key=order_key, reverse=True):
            by_channel.setdefault(interaction.channel, []).append(interaction)
        channels = self.state.policies.channels
        score = self.strategy.work_score
        order = []
        while by_channel:
            channel = max(
                by_channel,
                key=lambda c: (score(by_channel[c][-1], channels[c], now), -by_channel[c][-1].id),
            )
            order.append(by_channel[channel].pop().id)
            if not by_channel[channel]:
                del by_channel[channel]
        return order

    def _pool(self, signature: Signature) -> _Pool:
        """Return the advisors of the roster eligible for a requirement, ranked once."""
        version = self.state.profile_version
        if self._pools_version != version:
            self._pools.clear()
            self._pools_version = version
        pool = self._pools.get(signature)
        if pool is None:
            strategy = self.strategy
            need = dict(signature[1])
            index = self.state.index
            eligible = [a for a in self.state.advisors.values() if is_eligible(a, signature)]
            mask = sum(1 << index[a.id] for a in eligible)
            tiers: dict[float, int] = {}
            if strategy.static_advisor_score:
                for advisor in eligible:
                    score = strategy.advisor_score(advisor, need, self.now)
                    tiers[score] = tiers.get(score, 0) | 1 << index[advisor.id]
            pool = self._pools[signature] = _Pool(mask, sorted(tiers.items(), reverse=True))
        return pool

    def _served_subqueues(self, advisor: Advisor) -> dict[Channel, list[SubQueue]]:
        """Return, per channel, the sub-queues an advisor is eligible for (cached)."""
        created = self.state.queues.created
        version = self.state.profile_version
        if self._served_version != version:
            self._served.clear()
            self._served_version = version
        cached = self._served.get(advisor.id)
        seen, served = (0, {c: [] for c in CHANNELS}) if cached is None else cached
        if seen < len(created):
            for subqueue in created[seen:]:
                if is_eligible(advisor, subqueue.signature):
                    served[subqueue.channel].append(subqueue)
            self._served[advisor.id] = (len(created), served)
        return served

    def _place(self, interaction_id: int, now: Instant, out: list[Event]) -> None:
        """Offer a waiting interaction to the best advisor waiting for work, if any."""
        state = self.state
        interaction = state.interactions.get(interaction_id)
        if interaction is None or interaction.status != "queued" or interaction.not_before > now:
            return
        ready = state.ready[interaction.channel]
        if not ready:
            return
        pool = self._pools.get(interaction.signature)
        if pool is None or self._pools_version != state.profile_version:
            pool = self._pool(interaction.signature)
        candidates = ready & pool.mask  # waiting for work and eligible, in one AND
        excluded = interaction.excluded
        if candidates and excluded:
            for advisor_id, until in excluded.items():
                if until > now and advisor_id in state.index:
                    candidates &= ~(1 << state.index[advisor_id])
        if not candidates:
            return
        advisors = state.advisors
        preferred = interaction.preferred_advisor
        # A thread's follow-up goes first to who handled its previous interaction, when ready;
        # transferred or moved work to the advisor named.
        if (
            preferred is not None
            and preferred in state.index
            and candidates >> state.index[preferred] & 1
        ):
            score = self.strategy.advisor_score(advisors[preferred], interaction.need, now)
            count = candidates.bit_count()
            self._offer(interaction, preferred, "preferred_advisor", count, score, now, out)
            return
        if pool.tiers:
            # A static score: the best tier with a candidate, then its longest idle.
            for score, tier in pool.tiers:
                hits = tier & candidates
                if hits:
                    best_score = score
                    if hits & (hits - 1):  # several: the longest idle, then the smallest id
                        _, best_id = min((advisors[a].idle_since, a) for a in state.members(hits))
                    else:
                        best_id = state.members(hits)[0]
                    break
        else:
            score_of = self.strategy.advisor_score
            need = interaction.need
            negative, _, best_id = min(
                (-score_of(advisors[a], need, now), advisors[a].idle_since, a)
                for a in state.members(candidates)
            )
            best_score = -negative
        count = candidates.bit_count()
        self._offer(interaction, best_id, "idle_advisor", count, best_score, now, out)

    def _fill(self, advisor_id: str, now: Instant, out: list[Event]) -> None:
        """Offer a freed advisor the most urgent work it may take, while it has room."""
        state = self.state
        advisor = state.advisors.get(advisor_id)
        if advisor is None:
            return
        strategy = self.strategy
        channels = state.policies.channels
        interactions = state.interactions
        queues = state.queues
        bit = 1 << state.index[advisor_id]
        live = queues.live
        ready = state.ready
        waiting = queues.waiting
        # Offers neither create sub-queues nor change profiles: what it serves stays the same.
        served = self._served_subqueues(advisor).items()
        while True:
            best: tuple[float, int, Interaction] | None = None
            candidates = 0
            for channel, subqueues in served:
                if not ready[channel] & bit or not waiting(channel):
                    continue
                head: Entry | None = None
                for subqueue in subqueues:
                    if not subqueue.heap:
                        continue
                    entry = subqueue.heap[0]
                    current = live.get(entry[4])
                    if current is None or current[0] != entry[3]:
                        fresh = queues.head(subqueue)  # a stale head: drop it, look again
                        if fresh is None:
                            continue
                        entry = fresh
                    first = interactions[entry[4]]
                    excluded = first.excluded
                    if (excluded and excluded.get(advisor_id, now) > now) or first.not_before > now:
                        allowed = queues.first_where(
                            subqueue, lambda i: _offerable(interactions[i], advisor_id, now)
                        )
                        if allowed is None:
                            continue
                        entry = allowed
                    candidates += 1
                    if head is None or entry < head:
                        head = entry
                if head is None:
                    continue
                interaction = interactions[head[4]]
                score = strategy.work_score(interaction, channels[channel], now)
                if best is None or (-score, interaction.id) < (-best[0], best[1]):
                    best = (score, interaction.id, interaction)
            if best is None:
                return
            self._offer(best[2], advisor_id, "freed_advisor", candidates, best[0], now, out)

    def _offer(
        self,
        interaction: Interaction,
        advisor_id: str,
        rule: str,
        candidates: int,
        score: float,
        now: Instant,
        out: list[Event],
    ) -> None:
        state = self.state
        timeout = state.policies.channels[interaction.channel].offer_timeout_s
        event = OfferMade(
            at=now,
            offer_id=state.next_offer_id,
            interaction_id=interaction.id,
            advisor_id=advisor_id,
            expires_at=now + timeout * SECOND,
            rule=rule,
            strategy=self.strategy.name,
            step=interaction.relax_step,
            candidates=candidates,
            score=score,
        )
        state.appliers[OfferMade](event)
        out.append(event)


def _offerable(interaction: Interaction, advisor_id: str, now: Instant) -> bool:
    """Whether waiting work may be offered to an advisor now: not declined or missed by it
    within the re-offer delay, not a callback waiting for its next attempt."""
    return interaction.excluded.get(advisor_id, now) <= now and interaction.not_before <= now
