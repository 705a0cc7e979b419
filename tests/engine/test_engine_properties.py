"""Invariants of the engine under any sequence of commands and any passage of time.

A hypothesis state machine drives one engine with random commands (many of them refused) and
random jumps of the clock, and checks after every step: no interaction lost or held in two
places, none held by two advisors, no advisor over capacity or working while offline, the queue
order respected by every decision, no eligible work left waiting beside a free advisor, a refused
command changes nothing, time never goes back, and replaying the events rebuilds the state.
Conversations too: submissions join threads or open follow-ups, answers, notes and
acknowledgements are posted and their deliveries reported, and the outbox, the threads and the
messages stay consistent with each other. Callers ask for callbacks, and the calls made to them
are reported answered or not: a callback waiting for its next attempt is the one waiting work a
free advisor may be left beside.

Snapshots are checked twice: every state round-trips through an image, and at random points a
twin engine is restored from one and then driven beside the original, which it must follow
decision for decision, image for image. A field an image forgets shows there, sooner or later:
as a different snapshot, a different image, or a different decision.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from aiguillage.engine.advisors import is_eligible
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AddAdvisor,
    AwaitPrincipal,
    ClaimExemption,
    Close,
    Command,
    DecideExemption,
    Decline,
    MintToken,
    Move,
    PostMessage,
    PrincipalAnswered,
    Prioritise,
    RecordCallbackAttempt,
    RecordDelivery,
    RecordResponse,
    RemoveAdvisor,
    RequestCallback,
    RevokeToken,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
    TransferOut,
    UpdateAdvisor,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import EngineError, UnknownInteraction
from aiguillage.engine.events import Event, InteractionForgotten, OfferMade, SlaBreached
from aiguillage.engine.instants import SECOND
from aiguillage.engine.interactions import order_key
from aiguillage.engine.messages import in_outbox
from aiguillage.engine.policies import CHANNELS, RelaxationStep, RetentionPolicy
from aiguillage.engine.states import OPEN_STATUSES
from aiguillage.engine.timers import FORGET

from .conftest import TUESDAY_10H, JournaledEngine, make_policies, replayed

SOURCES = {"voice": "phone", "written": "email", "social": "x"}
SKILL_SETS = st.dictionaries(
    st.sampled_from(["general", "refunds", "fines"]), st.integers(1, 5), max_size=3
)
PARTIAL_CAPACITIES = st.dictionaries(
    st.sampled_from(CHANNELS), st.integers(0, 3), max_size=3
)  # an update may leave channels out: they get no capacity
CAPACITIES = st.fixed_dictionaries(
    {"voice": st.integers(0, 1), "written": st.integers(0, 2), "social": st.integers(0, 3)}
)


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = JournaledEngine()
        self.now = TUESDAY_10H
        self.step_events: list[Event] = []
        self.external = 0
        self.hired = 0
        self.minted = 0
        self.twin: Engine | None = None
        """An engine restored from an image of this one, then driven beside it."""
        steps = (
            RelaxationStep(after_s=40, level_drop=1),
            RelaxationStep(after_s=90, fallback=True),
        )
        # Waits for the principal credited, so that paused clocks are part of the runs.
        policies = make_policies(voice_relaxation=steps, wrap_up_s=10, credit_principal_wait=True)
        # Relaxation and wrap-up on the digital channels too, where an advisor holds several.
        channels = {
            # Callbacks due within an hour, two attempts 2 minutes apart: within a run's reach.
            "voice": msgspec.structs.replace(
                policies.channels["voice"],
                callback_target_s=3600,
                callback_attempts=2,
                callback_retry_s=120,
            ),
            "written": msgspec.structs.replace(
                policies.channels["written"], relaxation=steps, wrap_up_s=10
            ),
            "social": msgspec.structs.replace(policies.channels["social"], wrap_up_s=5),
        }
        # Ended work is forgotten a minute later, well within a run's reach.
        retention = RetentionPolicy(live_after_close_s=60)
        self.run(
            SetPolicies(
                policies=msgspec.structs.replace(policies, channels=channels, retention=retention)
            )
        )

    # -- driving ------------------------------------------------------------------------------

    def run(self, command: Command) -> None:
        """Fire due timers, then handle the command; a refusal must leave no trace."""
        self.step_events = self.advance()
        before = self.engine.snapshot()
        try:
            handled = self.engine.handle(command, self.now)
        except EngineError as error:
            assert self.engine.snapshot() == before, f"refused {command!r} changed the state"
            if self.twin is not None:
                with pytest.raises(type(error), match=re.escape(error.message)):
                    self.twin.handle(command, self.now)
            return
        self.step_events += handled
        if self.twin is not None:
            assert self.twin.handle(command, self.now) == handled, "the twin decided otherwise"

    def advance(self) -> list[Event]:
        events = self.engine.advance(self.now)
        if self.twin is not None:
            assert self.twin.advance(self.now) == events, "the twin's timers fired otherwise"
        return events

    def pick(self, data: st.DataObject, pool: list[Any]) -> Any:
        return data.draw(st.sampled_from(pool)) if pool else None

    @property
    def advisor_ids(self) -> list[str]:
        return sorted(self.engine.state.advisors)

    def interactions_in(self, *statuses: str) -> list[int]:
        return sorted(i.id for i in self.engine.state.interactions.values() if i.status in statuses)

    # -- rules ----------------------------------------------------------------------------------

    @initialize(
        team=st.lists(st.tuples(SKILL_SETS, st.booleans(), CAPACITIES), min_size=1, max_size=4)
    )
    def staff_the_floor(self, team: list[tuple[dict[str, int], bool, dict[str, int]]]) -> None:
        for skills, english, capacity in team:
            self.add_advisor(skills, english, capacity)
            self.run(SetAdvisorState(advisor_id=f"A{self.hired}", state="available"))

    @rule(seconds=st.integers(0, 400))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds * SECOND
        self.step_events = self.advance()

    @rule()
    def restart_from_a_snapshot(self) -> None:
        self.twin = Engine.from_image(self.engine.image())

    @precondition(lambda self: len(self.engine.state.advisors) < 6)
    @rule(skills=SKILL_SETS, english=st.booleans(), capacity=CAPACITIES)
    def add_advisor(self, skills: dict[str, int], english: bool, capacity: dict[str, int]) -> None:
        self.hired += 1
        advisor_id = f"A{self.hired}"
        languages = ("fr", "en") if english else ("fr",)
        self.run(
            AddAdvisor(advisor_id=advisor_id, skills=skills, languages=languages, capacity=capacity)
        )  # type: ignore[arg-type]

    @rule(data=st.data())
    def remove_advisor(self, data: st.DataObject) -> None:
        """Log an advisor out and remove it (refused while it holds work): its bit stays taken."""
        if advisor_id := self.pick(data, self.advisor_ids):
            self.run(SetAdvisorState(advisor_id=advisor_id, state="offline"))
            self.run(RemoveAdvisor(advisor_id=advisor_id))

    @rule(data=st.data(), bound=st.booleans(), expires_in_s=st.none() | st.integers(1, 600))
    def mint_token(self, data: st.DataObject, bound: bool, expires_in_s: int | None) -> None:
        """Mint a token, for an advisor of the roster or one removed, or for a supervisor."""
        self.minted += 1
        digest = hashlib.sha256(str(self.minted).encode()).hexdigest()
        ever = self.advisor_ids + sorted(self.engine.state.retired_advisors)
        advisor_id = self.pick(data, ever) if bound else None
        self.run(
            MintToken(
                digest=digest,
                role="advisor" if advisor_id else "supervisor",
                advisor_id=advisor_id,
                expires_at=None if expires_in_s is None else self.now + expires_in_s * SECOND,
            )
        )

    @rule(data=st.data())
    def revoke_token(self, data: st.DataObject) -> None:
        live = sorted(token.id for token in self.engine.state.tokens.values())
        if token_id := self.pick(data, live):
            self.run(RevokeToken(token_id=token_id))

    @rule(data=st.data())
    def rehire_a_removed_advisor(self, data: st.DataObject) -> None:
        """Give a removed advisor's id to someone new: always refused."""
        if advisor_id := self.pick(data, sorted(self.engine.state.retired_advisors)):
            self.run(AddAdvisor(advisor_id=advisor_id))
            assert advisor_id not in self.engine.state.advisors

    @rule(
        data=st.data(),
        state=st.sampled_from(["available", "available", "not_ready", "offline", "wrap_up"]),
        by=st.sampled_from(["", "", "token:2"]),
    )
    def set_state(self, data: st.DataObject, state: Any, by: str) -> None:
        """An advisor sets its own state, or a supervisor sets it (``by``): its work goes back."""
        if advisor_id := self.pick(data, self.advisor_ids):
            self.run(SetAdvisorState(advisor_id=advisor_id, state=state, by=by))

    @rule(data=st.data(), skills=SKILL_SETS, capacity=st.none() | PARTIAL_CAPACITIES)
    def update_advisor(self, data: st.DataObject, skills: dict[str, int], capacity: Any) -> None:
        if advisor_id := self.pick(data, self.advisor_ids):
            self.run(UpdateAdvisor(advisor_id=advisor_id, skills=skills, capacity=capacity))

    @rule(
        burst=st.lists(
            st.tuples(
                st.sampled_from(CHANNELS),
                st.none() | st.sampled_from(["refunds", "fines"]),
                st.sampled_from(["fr", "fr", "en"]),
                st.integers(0, 9),
                st.sampled_from(["simple", "complex", "transfer"]),
                st.integers(0, 7200),
                st.booleans(),
                st.sampled_from(["", "", "t1", "t2", "t3"]),
            ),
            min_size=1,
            max_size=4,
        )
    )
    def submit(self, burst: list[tuple[Any, str | None, str, int, Any, int, bool, str]]) -> None:
        for channel, motive, language, priority, typology, age, duplicate, thread in burst:
            if not (duplicate and self.external):
                self.external += 1
            self.run(
                Submit(
                    channel=channel,
                    source=SOURCES[channel],
                    external_id=f"{channel}-{self.external}",
                    motive=motive,
                    language=language,
                    priority=priority,
                    typology=typology if channel == "written" else None,
                    received_at=self.now - age * SECOND if channel != "voice" else None,
                    personal_digest=f"d-{self.external % 4}" if self.external % 3 else "",
                    thread=thread if channel != "voice" else "",
                )
            )

    @precondition(lambda self: self.engine.state.interactions)
    @rule(
        data=st.data(),
        kind=st.sampled_from(["answer", "answer", "note", "acknowledgement"]),
        wrong=st.booleans(),
        then=st.sampled_from([None, "sent", "sent", "failed", "bounced"]),
    )
    def post_message(self, data: st.DataObject, kind: Any, wrong: bool, then: Any) -> None:
        """Mostly on held work by its holder; sometimes on any work, by anyone. Then, often,
        the channel reports on the oldest message of the outbox."""
        held = self.interactions_in("assigned")
        interaction_id = self.pick(
            data, held if held and not wrong else sorted(self.engine.state.interactions)
        )
        if interaction_id is None:
            return
        advisor_id = self.engine.state.interactions[interaction_id].advisor_id
        if wrong:
            advisor_id = self.pick(data, [None, *self.advisor_ids])
        elif kind == "acknowledgement":
            advisor_id = None
        self.run(
            PostMessage(
                interaction_id=interaction_id,
                advisor_id=advisor_id,
                kind=kind,
                digest=f"m-{len(self.engine.state.messages) % 5}",
            )
        )
        if then is not None and self.engine.state.outbox:
            retry_at = self.now + 20 * SECOND if data.draw(st.booleans()) else None
            self.run(
                RecordDelivery(
                    message_id=min(self.engine.state.outbox),
                    outcome=then,
                    retry_at=retry_at if then == "failed" else None,
                )
            )

    @precondition(lambda self: self.engine.state.messages)
    @rule(
        data=st.data(),
        outcome=st.sampled_from(["sent", "sent", "failed", "bounced"]),
        retry=st.booleans(),
    )
    def report_a_delivery(self, data: st.DataObject, outcome: Any, retry: bool) -> None:
        """Mostly about the outbox; sometimes about any message, even one forgotten."""
        outbox = sorted(self.engine.state.outbox)
        pool = outbox if outbox and data.draw(st.booleans()) else sorted(self.engine.state.messages)
        message_id = self.pick(data, [*pool, self.engine.state.next_message_id])
        retry_at = self.now + 30 * SECOND if retry and outcome == "failed" else None
        self.run(
            RecordDelivery(
                message_id=message_id, outcome=outcome, reason="r", peer_id="p", retry_at=retry_at
            )
        )

    @precondition(lambda self: self.engine.state.offers)
    @rule(data=st.data(), accept=st.sampled_from([True, True, True, False]))
    def answer_offer(self, data: st.DataObject, accept: bool) -> None:
        offer = self.pick(data, sorted(self.engine.state.offers.values(), key=lambda o: o.id))
        if offer is not None:
            kind = Accept if accept else Decline
            self.run(kind(advisor_id=offer.advisor_id, offer_id=offer.id))

    @precondition(lambda self: self.engine.state.interactions)
    @rule(data=st.data())
    def caller_asks_for_a_callback(self, data: st.DataObject) -> None:
        # Mostly waiting calls, that may ask (offered ones first when no other call waits: the
        # advisor is offered the callback at once); sometimes any work, that may not.
        state = self.engine.state
        calls = [i for i in state.interactions.values() if i.channel == "voice"]
        pool = [i.id for i in calls if i.status == "offered" and not state.queues.waiting("voice")]
        if not pool or data.draw(st.booleans()):
            pool = [i.id for i in calls if i.status in ("queued", "offered")]
        if not pool or data.draw(st.integers(0, 4)) == 0:
            pool = sorted(self.engine.state.interactions)
        interaction_id = self.pick(data, sorted(pool))
        self.run(RequestCallback(interaction_id=interaction_id, number_digest="sealed-number"))
        interaction = state.interactions[interaction_id]
        offer = state.offers.get(interaction.offer_id or 0)
        if interaction.callback_requested_at and offer is not None:
            self.run(Accept(advisor_id=offer.advisor_id, offer_id=offer.id))  # dialled at once
            outcome = data.draw(st.sampled_from(["answered", "unanswered", None]))
            if outcome is not None:  # the customer answers or not, at once
                self.run(
                    RecordCallbackAttempt(
                        interaction_id=interaction_id, advisor_id=offer.advisor_id, outcome=outcome
                    )
                )

    @precondition(lambda self: self.interactions_in("assigned", "offered"))
    @rule(data=st.data(), answered=st.booleans())
    def callback_attempt(self, data: st.DataObject, answered: bool) -> None:
        state = self.engine.state
        offered = [
            o
            for o in state.offers.values()
            if state.interactions[o.interaction_id].callback_requested_at
        ]
        if offered and data.draw(st.booleans()):  # its advisor takes it: the system dials
            offer = self.pick(data, sorted(offered, key=lambda o: o.id))
            self.run(Accept(advisor_id=offer.advisor_id, offer_id=offer.id))
        callbacks = [
            i.id
            for i in state.interactions.values()
            if i.status == "assigned" and i.callback_requested_at is not None
        ]
        if not callbacks and not self.interactions_in("assigned"):
            return
        if not callbacks or data.draw(st.integers(0, 4)) == 0:
            callbacks = self.interactions_in("assigned")  # not a callback: refused
        interaction_id = self.pick(data, sorted(callbacks))
        advisor_id = self.engine.state.interactions[interaction_id].advisor_id
        assert advisor_id is not None
        if data.draw(st.integers(0, 4)) == 0:  # sometimes the wrong advisor reports it
            advisor_id = self.pick(data, self.advisor_ids)
        outcome = "answered" if answered else "unanswered"
        self.run(
            RecordCallbackAttempt(
                interaction_id=interaction_id, advisor_id=advisor_id, outcome=outcome
            )
        )

    @precondition(lambda self: self.engine.state.offers)
    @rule(flood=st.integers(0, 45), times=st.integers(1, 45))
    def one_advisor_declines_again_and_again(self, flood: int, times: int) -> None:
        """A flood of alike messages, and the advisor of the first offer declines, within the
        re-offer delay, every offer it gets: past it, the work it may take must still reach it."""
        for _ in range(flood):
            self.external += 1
            self.run(Submit(channel="social", source="x", external_id=f"flood-{self.external}"))
        advisor_id = min(self.engine.state.offers.values(), key=lambda o: o.id).advisor_id
        for _ in range(times):
            mine = [o for o in self.engine.state.offers.values() if o.advisor_id == advisor_id]
            if not mine:
                return
            self.run(Decline(advisor_id=advisor_id, offer_id=min(o.id for o in mine)))

    @precondition(lambda self: self.interactions_in("assigned"))
    @rule(
        data=st.data(),
        action=st.sampled_from(
            ["respond", "respond", "close", "close", "transfer", "out", "principal"]
        ),
    )
    def work(self, data: st.DataObject, action: str) -> None:
        interaction_id = self.pick(data, self.interactions_in("assigned"))
        if interaction_id is None:
            return
        advisor_id = self.engine.state.interactions[interaction_id].advisor_id
        assert advisor_id is not None
        if data.draw(st.booleans()):  # sometimes the wrong advisor tries
            advisor_id = self.pick(data, self.advisor_ids)
        command: Command = {
            "respond": RecordResponse(advisor_id=advisor_id, interaction_id=interaction_id),
            "transfer": Transfer(
                advisor_id=advisor_id,
                interaction_id=interaction_id,
                channel=data.draw(st.sampled_from(CHANNELS)),
                skills=data.draw(SKILL_SETS),
                to_advisor=data.draw(st.none() | st.sampled_from(self.advisor_ids)),
            ),
            "out": TransferOut(
                advisor_id=advisor_id, interaction_id=interaction_id, party_digest="sealed"
            ),
            "principal": AwaitPrincipal(advisor_id=advisor_id, interaction_id=interaction_id),
            "close": Close(
                advisor_id=advisor_id,
                interaction_id=interaction_id,
                motive=data.draw(st.sampled_from([None, "refunds", "unknown"])),
            ),
        }[action]
        self.run(command)

    @rule(
        back_s=st.integers(0, 7200),
        length_s=st.integers(-60, 7200),
        channels=st.lists(st.sampled_from(CHANNELS), max_size=2, unique=True),
        reason=st.sampled_from(["strike", "strike", ""]),
    )
    def supervisor_claims_an_exemption(
        self, back_s: int, length_s: int, channels: list[Any], reason: str
    ) -> None:
        start = self.now - back_s * SECOND
        self.run(
            ClaimExemption(
                start=start,
                end=start + length_s * SECOND,
                channels=tuple(channels),
                reason=reason,
                by="token:2",
                role="supervisor",
            )
        )

    @rule(
        data=st.data(),
        accepted=st.booleans(),
        role=st.sampled_from(["authority", "authority", "supervisor"]),
    )
    def authority_decides_an_exemption(
        self, data: st.DataObject, accepted: bool, role: str
    ) -> None:
        # An unknown claim now and then, and claims decided already: both refused.
        exemption_id = self.pick(data, [*sorted(self.engine.state.exemptions), 99])
        self.run(
            DecideExemption(
                exemption_id=exemption_id,
                decision="accepted" if accepted else "refused",
                reason="seen",
                by="token:3",
                role=role,
            )
        )

    @precondition(lambda self: self.engine.state.interactions)
    @rule(
        data=st.data(),
        priority=st.integers(-1, 10),
        reason=st.sampled_from(["urgent", "urgent", ""]),
    )
    def supervisor_prioritises(self, data: st.DataObject, priority: int, reason: str) -> None:
        interaction_id = self.pick(data, sorted(self.engine.state.interactions))
        self.run(
            Prioritise(
                interaction_id=interaction_id, priority=priority, by="token:2", reason=reason
            )
        )

    @precondition(lambda self: self.engine.state.interactions)
    @rule(
        data=st.data(),
        channel=st.none() | st.sampled_from(CHANNELS),
        skills=st.none() | SKILL_SETS,
        motive=st.sampled_from([None, None, "refunds", "unknown"]),
    )
    def supervisor_moves(
        self, data: st.DataObject, channel: Any, skills: Any, motive: str | None
    ) -> None:
        # Mostly open work, that it may move; sometimes any, that it may not.
        pool = self.interactions_in("queued", "offered", "assigned")
        if not pool or data.draw(st.integers(0, 4)) == 0:
            pool = sorted(self.engine.state.interactions)
        interaction_id = self.pick(data, pool)
        self.run(
            Move(
                interaction_id=interaction_id,
                to_advisor=data.draw(st.none() | st.sampled_from([*self.advisor_ids, "nobody"])),
                channel=channel,
                motive=motive,
                skills=skills,
                by="token:2",
                reason="rebalance",
                note_digest=data.draw(st.sampled_from(["", "sealed-note"])),
            )
        )

    @precondition(lambda self: self.interactions_in("assigned"))
    @rule(data=st.data(), supervisor=st.booleans())
    def hand_to_a_colleague(self, data: st.DataObject, supervisor: bool) -> None:
        """Held work handed to a named colleague who may take it: by its advisor (a transfer)
        or by a supervisor (a move), its requirement kept."""
        interaction_id = self.pick(data, self.interactions_in("assigned"))
        interaction = self.engine.state.interactions[interaction_id]
        holder = interaction.advisor_id
        assert holder is not None
        colleagues = [
            a.id
            for a in self.engine.state.advisors.values()
            if a.id != holder
            and is_eligible(a, (interaction.language, tuple(interaction.skills.items())))
        ]
        if (colleague := self.pick(data, sorted(colleagues))) is None:
            return
        command: Command = (
            Move(interaction_id=interaction_id, to_advisor=colleague, by="token:2", reason="vip")
            if supervisor
            else Transfer(advisor_id=holder, interaction_id=interaction_id, to_advisor=colleague)
        )
        events = self.engine.journal[:]
        self.run(command)
        assert len(self.engine.journal) > len(events), f"{command!r} was refused"

    @precondition(lambda self: self.interactions_in("waiting_principal"))
    @rule(data=st.data())
    def principal_answers(self, data: st.DataObject) -> None:
        if (
            interaction_id := self.pick(data, self.interactions_in("waiting_principal"))
        ) is not None:
            self.run(PrincipalAnswered(interaction_id=interaction_id))

    @rule(data=st.data(), close=st.booleans())
    def customer_or_supervisor_ends(self, data: st.DataObject, close: bool) -> None:
        pool = sorted(self.engine.state.interactions)
        if (interaction_id := self.pick(data, pool)) is not None:
            self.run(
                Close(interaction_id=interaction_id)
                if close
                else Abandon(interaction_id=interaction_id)
            )

    @rule(data=st.data(), action=st.sampled_from(["close", "abandon", "answer", "respond"]))
    def someone_asks_about_forgotten_work(self, data: st.DataObject, action: str) -> None:
        forgotten = sorted(
            e.interaction_id for e in self.engine.journal if isinstance(e, InteractionForgotten)
        )
        if (interaction_id := self.pick(data, forgotten)) is None:
            return
        command: Command = {
            "close": Close(interaction_id=interaction_id),
            "abandon": Abandon(interaction_id=interaction_id),
            "answer": PrincipalAnswered(interaction_id=interaction_id),
            "respond": RecordResponse(advisor_id="A1", interaction_id=interaction_id),
        }[action]
        self.step_events = self.advance()
        with pytest.raises(UnknownInteraction):
            self.engine.handle(command, self.now)

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def every_interaction_is_in_exactly_one_place(self) -> None:
        state = self.engine.state
        held: dict[int, str] = {}
        for advisor in state.advisors.values():
            for interaction_id in advisor.holding:
                assert interaction_id not in held, f"{interaction_id} held by two advisors"
                held[interaction_id] = advisor.id
        queued = set(state.queues)
        offered = {offer.interaction_id: offer for offer in state.offers.values()}
        assert len(offered) == len(state.offers), "two offers for one interaction"
        for interaction in state.interactions.values():
            where = (
                interaction.id in queued,
                interaction.id in offered,
                interaction.id in held,
            )
            expected = {
                "queued": (True, False, False),
                "offered": (False, True, True),
                "assigned": (False, False, True),
            }.get(interaction.status, (False, False, False))
            assert where == expected, (
                f"{interaction.status} interaction {interaction.id} is at {where}"
            )
            if interaction.id in held:
                assert interaction.advisor_id == held[interaction.id]

    @invariant()
    def no_advisor_over_capacity_or_working_while_away(self) -> None:
        state = self.engine.state
        for advisor in state.advisors.values():
            channels = [state.interactions[i].channel for i in advisor.holding]
            for channel in CHANNELS:
                assert advisor.load[channel] == channels.count(channel)
                assert advisor.load[channel] <= advisor.capacity.get(channel, 0)
            if "voice" in channels:
                assert len(channels) == 1, f"{advisor.id} holds a call and more: {channels}"
            if advisor.state == "offline":
                assert not advisor.holding
            if advisor.state != "available":
                assert not any(state.interactions[i].status == "offered" for i in advisor.holding)

    @invariant()
    def no_free_advisor_beside_eligible_waiting_work(self) -> None:
        state = self.engine.state
        for channel in CHANNELS:
            for advisor_id in state.ready_advisors(channel):
                advisor = state.advisors[advisor_id]
                for interaction_id in state.queues.ordered(channel):
                    interaction = state.interactions[interaction_id]
                    if interaction.excluded.get(advisor_id, 0) > self.now:
                        continue
                    if interaction.not_before > self.now:  # a callback's next attempt to come
                        continue
                    assert not is_eligible(advisor, interaction.signature), (
                        f"{advisor_id} is free while {interaction_id} waits for it"
                    )

    @invariant()
    def decisions_respect_the_queue_order(self) -> None:
        state = self.engine.state
        for event in self.step_events:
            if not isinstance(event, OfferMade):
                continue
            taken = state.interactions[event.interaction_id]
            advisor = state.advisors.get(event.advisor_id)
            if advisor is None:
                continue
            taken_key = order_key(taken)
            for waiting_id in state.queues.ordered(taken.channel):
                waiting = state.interactions[waiting_id]
                if order_key(waiting) < taken_key:
                    assert (
                        not is_eligible(advisor, waiting.signature)
                        or waiting.excluded.get(advisor.id, 0) > event.at
                        or waiting.not_before > event.at
                    ), f"{event.advisor_id} took {taken.id} before {waiting_id}"

    @invariant()
    def only_live_work_is_known_by_its_external_id(self) -> None:
        state = self.engine.state
        known = {(i.source, i.external_id): i.id for i in state.interactions.values()}
        for interaction in state.interactions.values():
            for message_id in interaction.messages:
                message = state.messages[message_id]
                if message.external_id:
                    known[interaction.source, message.external_id] = interaction.id
        assert state.by_external == known

    @invariant()
    def threads_and_the_outbox_agree_with_the_messages(self) -> None:
        state = self.engine.state
        threaded = [i for i in state.interactions.values() if i.messages]
        assert sorted(m for i in threaded for m in i.messages) == sorted(state.messages)
        for interaction in threaded:
            assert all(
                state.messages[m].interaction_id == interaction.id for m in interaction.messages
            )
            assert interaction.messages == sorted(interaction.messages)
        assert state.outbox == {m.id: m for m in state.messages.values() if in_outbox(m)}
        assert all(state.next_message_id > m for m in state.messages)
        for (source, thread), latest in state.threads.items():
            same = [
                i for i in state.interactions.values() if (i.source, i.thread) == (source, thread)
            ]
            assert latest == max(i.id for i in same)
            # Only the latest of a thread may be open: a message joins it instead of opening.
            assert all(i.status not in OPEN_STATUSES for i in same if i.id != latest)

    @invariant()
    def ended_work_is_forgotten_after_the_retention_period(self) -> None:
        state = self.engine.state
        period = state.policies.retention.live_after_close_s * SECOND
        now = self.engine.now
        for interaction in state.interactions.values():
            # Work with a message still to deliver waits for it (see ``State``).
            if interaction.ended_at is None or state.sending(interaction):
                continue
            if interaction.ended_at + period <= now:
                # Past its time only when its last delivery was just reported: the forget timer
                # that delivery set is due, for the next advance.
                kinds = {state.messages[m].kind for m in interaction.messages}
                delivered = bool(kinds & {"answer", "acknowledgement"})
                due = any(
                    t[2] == FORGET and t[3] == interaction.id and t[0] <= now for t in state.timers
                )
                pending = delivered and due
                assert pending, f"{interaction.id} ended at {interaction.ended_at}, still known"
        forgotten = [e for e in self.engine.journal if isinstance(e, InteractionForgotten)]
        if forgotten:
            cutoff = forgotten[-1].at - period
            assert all(at >= cutoff for _, at in state.ended_offers.values())
            assert len(state.ended_order) == len(state.ended_offers)

    @invariant()
    def a_deadline_given_never_moves_earlier_and_breaches_follow_it(self) -> None:
        for interaction in self.engine.state.interactions.values():
            assert interaction.deadline >= interaction.raw_deadline
            # A callback's breach is the callback's: the call's outcome was decided before.
            if interaction.breached and interaction.callback_requested_at is None:
                assert interaction.within_sla is not True
        for event in self.step_events:
            if isinstance(event, SlaBreached):
                breached = self.engine.state.interactions[event.interaction_id]
                assert event.due == breached.deadline + 1

    @invariant()
    def every_live_token_is_of_the_roster(self) -> None:
        state = self.engine.state
        for token in state.tokens.values():
            assert token.advisor_id is None or token.advisor_id in state.advisors
        assert not state.retired_advisors & set(state.advisors)
        assert not state.revoked_digests & set(state.tokens)

    @invariant()
    def an_image_restores_the_same_state(self) -> None:
        restored = Engine.from_image(self.engine.image())
        assert restored.snapshot() == self.engine.snapshot()
        assert restored.now == self.engine.now

    @invariant()
    def the_twin_keeps_step(self) -> None:
        if self.twin is not None:
            assert self.twin.snapshot() == self.engine.snapshot()
            assert self.twin.image() == self.engine.image(), "the twin's state drifted"

    @invariant()
    def time_never_goes_back(self) -> None:
        instants = [event.at for event in self.engine.journal]
        assert instants == sorted(instants)

    def teardown(self) -> None:
        kinds = {type(e).__name__ for e in self.engine.journal}
        for kind in (
            "OfferAccepted",
            "InteractionTransferred",
            "InteractionReprioritised",
            "InteractionMoved",
            "PrincipalAnswered",
            "CallbackRequested",
            "CallbackAnswered",
            "CallbackMissed",
            "SlaBreached",
            "InteractionForgotten",
            "MessageReceived",
            "MessagePosted",
            "MessageSent",
            "MessageFailed",
            "MessageBounced",
        ):
            note_event(f"reached {kind}: {kind in kinds}")
        note_event(f"restored a twin: {self.twin is not None}")
        replica = replayed(self.engine.journal)
        # Time that passed after the last event left no trace, and timers may be due since the
        # last command: both catch up to now and must do the same.
        assert replica.advance(self.now) == self.advance()
        assert replica.snapshot() == self.engine.snapshot()
        assert replica.next_timer() == self.engine.next_timer()
        if self.twin is not None:
            assert self.twin.next_timer() == self.engine.next_timer()


EngineMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineInvariants = EngineMachine.TestCase
