"""A month of work written by hand, through the engine with a controlled clock.

Every instant is Europe/Paris time. March 2027: summer time starts on Sunday 28 March at 02:00
(+01:00 before, +02:00 after) and Monday 29 March is Easter Monday, a public holiday. The
figures each test expects are worked out by hand from the timeline below, in its comments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anyio
import msgspec

from aiguillage.adapters.stores.journal import Record
from aiguillage.adapters.stores.sqlite.journal import SQLiteJournal
from aiguillage.engine.commands import (
    Abandon,
    Accept,
    AddAdvisor,
    AwaitPrincipal,
    Close,
    Command,
    PrincipalAnswered,
    RecordCallbackAttempt,
    RecordResponse,
    RequestCallback,
    SetAdvisorState,
    SetPolicies,
    Submit,
    Transfer,
    TransferOut,
)
from aiguillage.engine.engine import Engine
from aiguillage.engine.errors import ChannelClosed
from aiguillage.engine.events import Event, InteractionArrived
from aiguillage.engine.instants import Instant, from_datetime
from aiguillage.engine.policies import Channel, Typology
from tests.engine.conftest import make_policies

__all__ = ["Month", "at", "callback_month", "written_month"]

SKILLED = {"general": 3, "refunds": 3, "fines": 3}


def at(iso: str) -> Instant:
    """An instant from ISO-8601 with its offset (``2027-03-02T09:00:00+01:00``)."""
    return from_datetime(datetime.fromisoformat(iso))


class Month:
    """An engine driven by steps in time order, its events kept, each command's as a batch.

    Steps are written per interaction, as a story; ``play`` runs them all in time order
    (steps at the same instant in the order written), so the clock never goes back.
    """

    def __init__(self) -> None:
        self.engine = Engine()
        self.batches: list[list[Event]] = []
        self.ids: dict[str, int] = {}
        self._steps: list[tuple[Instant, int, Callable[[], None]]] = []

    def step(self, now: str, action: Callable[[], None]) -> None:
        self._steps.append((at(now), len(self._steps), action))

    def play(self) -> None:
        for instant, _, action in sorted(self._steps, key=lambda s: (s[0], s[1])):
            self.batches.append(self.engine.advance(instant))
            self._now = instant
            action()
        self._steps.clear()

    def _run(self, command: Command) -> list[Event]:
        try:
            events = self.engine.handle(command, self._now)
        except ChannelClosed as refused:
            events = [refused.event]
        self.batches.append(events)
        return events

    def run(self, now: str, command: Callable[[], Command]) -> None:
        self.step(now, lambda: self._run(command()) and None)

    def submit(
        self,
        name: str,
        channel: Channel,
        source: str,
        now: str,
        *,
        motive: str | None = None,
        typology: Typology | None = None,
    ) -> None:
        def submit() -> None:
            command = Submit(
                channel=channel, source=source, external_id=name, motive=motive, typology=typology
            )
            for event in self._run(command):
                if isinstance(event, InteractionArrived):
                    self.ids[name] = event.interaction_id

        self.step(now, submit)

    def state(self, advisor: str, state: str, now: str) -> None:
        reason = "break" if state == "not_ready" else ""
        self.run(now, lambda: SetAdvisorState(advisor_id=advisor, state=state, reason=reason))  # type: ignore[arg-type]

    def accept(self, advisor: str, name: str, now: str) -> None:
        def accept() -> None:
            interaction = self.ids[name]
            (offer,) = [
                o
                for o in self.engine.state.offers.values()
                if o.advisor_id == advisor and o.interaction_id == interaction
            ]
            self._run(Accept(advisor_id=advisor, offer_id=offer.id))

        self.step(now, accept)

    def respond(self, advisor: str, name: str, now: str) -> None:
        self.run(now, lambda: RecordResponse(advisor_id=advisor, interaction_id=self.ids[name]))

    def close(self, advisor: str, name: str, now: str, reason: str = "") -> None:
        self.run(
            now, lambda: Close(interaction_id=self.ids[name], advisor_id=advisor, reason=reason)
        )

    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]

    def records(self) -> list[Record]:
        return [Record(seq, event, "") for seq, event in enumerate(self.events(), 1)]

    def write(self, path: Path) -> None:
        """Write the batches to a real SQLite journal file, as the daemon would."""

        async def write() -> None:
            journal = SQLiteJournal(path)
            await journal.open()
            try:
                for batch in self.batches:
                    if batch:
                        await journal.append(batch, [])
            finally:
                await journal.close()

        anyio.run(write)


def written_month() -> Month:
    """The month: 18 calls and a refused one, 5 written complaints, 3 social messages."""
    m = Month()
    policies = make_policies(credit_principal_wait=True)
    channels = dict(policies.channels)
    channels["voice"] = msgspec.structs.replace(channels["voice"], short_abandon_s=5.0)
    channels["written"] = msgspec.structs.replace(channels["written"], target_share=0.9)
    policies = msgspec.structs.replace(policies, channels=channels)
    m.run("2027-03-01T08:00:00+01:00", lambda: SetPolicies(policies=policies))
    for advisor, skills, capacity in (
        ("V1", SKILLED, {"voice": 1}),
        ("V2", SKILLED, {"voice": 1}),
        ("W1", SKILLED, {"written": 2}),
        ("W2", {"general": 3}, {"written": 2}),
        ("S1", {"general": 3}, {"social": 3}),
    ):
        added = AddAdvisor(advisor_id=advisor, skills=skills, languages=("fr",), capacity=capacity)  # type: ignore[arg-type]
        m.run("2027-03-01T08:00:00+01:00", lambda added=added: added)

    # -- voice, Tuesday 2 March (+01:00): deadline 180 s after the call ------------------------
    # c1 refunds, waits 30 s, held 300 s.
    m.submit("c1", "voice", "phone", "2027-03-02T09:00:00+01:00", motive="refunds")
    m.state("V1", "available", "2027-03-02T09:00:30+01:00")
    m.accept("V1", "c1", "2027-03-02T09:00:30+01:00")
    m.close("V1", "c1", "2027-03-02T09:05:30+01:00")
    m.state("V1", "not_ready", "2027-03-02T09:05:30+01:00")
    # c2: picked up at its very deadline (180 s): within. Held 120 s.
    m.submit("c2", "voice", "phone", "2027-03-02T09:10:00+01:00")
    m.state("V1", "available", "2027-03-02T09:13:00+01:00")
    m.accept("V1", "c2", "2027-03-02T09:13:00+01:00")
    m.close("V1", "c2", "2027-03-02T09:15:00+01:00")
    m.state("V1", "not_ready", "2027-03-02T09:15:00+01:00")
    # c3 fines: hangs up after 179 s (not short: counts as missed).
    m.submit("c3", "voice", "phone", "2027-03-02T09:20:00+01:00", motive="fines")
    m.run("2027-03-02T09:22:59+01:00", lambda: Abandon(interaction_id=m.ids["c3"]))
    # c4: hangs up after 2 s, a short abandon (short_abandon_s = 5).
    m.submit("c4", "voice", "phone", "2027-03-02T09:30:00+01:00")
    m.run("2027-03-02T09:30:02+01:00", lambda: Abandon(interaction_id=m.ids["c4"]))
    # c5 refunds: breached at 09:43:00.000001, picked up at 09:45:00 (300 s), transferred at
    # 09:47:00 as fines to V2, who takes it at 09:47:10 and closes it at 09:50:00.
    m.submit("c5", "voice", "phone", "2027-03-02T09:40:00+01:00", motive="refunds")
    m.step("2027-03-02T09:43:01+01:00", lambda: None)  # c5's breach
    m.state("V1", "available", "2027-03-02T09:45:00+01:00")
    m.accept("V1", "c5", "2027-03-02T09:45:00+01:00")
    m.state("V2", "available", "2027-03-02T09:47:00+01:00")
    m.run(
        "2027-03-02T09:47:00+01:00",
        lambda: Transfer(
            advisor_id="V1", interaction_id=m.ids["c5"], motive="fines", to_advisor="V2"
        ),
    )
    m.state("V1", "not_ready", "2027-03-02T09:47:00+01:00")
    m.accept("V2", "c5", "2027-03-02T09:47:10+01:00")
    m.close("V2", "c5", "2027-03-02T09:50:00+01:00")
    m.state("V2", "not_ready", "2027-03-02T09:50:00+01:00")
    # A call at 20:00:00 exactly: closed (20:00 is outside the hours), refused.
    m.submit("late", "voice", "phone", "2027-03-02T20:00:00+01:00")

    # -- voice, Wednesday 3 March: V1 waits for work from 09:55 ---------------------------------
    m.state("V1", "available", "2027-03-03T09:55:00+01:00")
    m.submit("c6", "voice", "phone", "2027-03-03T10:00:00+01:00", motive="refunds")
    m.accept("V1", "c6", "2027-03-03T10:00:10+01:00")
    m.close("V1", "c6", "2027-03-03T10:04:10+01:00")
    m.state("V1", "not_ready", "2027-03-03T10:04:10+01:00")

    # -- voice, Thursday 4 March: twelve calls, the k-th waits 10 k s, held 60 s ---------------
    for k in range(1, 13):
        arrived = datetime.fromisoformat("2027-03-04T14:00:00+01:00").timestamp() + 600 * (k - 1)
        name = f"d{k}"
        m.submit(name, "voice", "phone", _iso(arrived))
        m.state("V1", "available", _iso(arrived + 10 * k))
        m.accept("V1", name, _iso(arrived + 10 * k))
        m.close("V1", name, _iso(arrived + 10 * k + 60))
        m.state("V1", "not_ready", _iso(arrived + 10 * k + 60))

    # -- written: 20:00 on the 3rd working day after the day of reception ----------------------
    # w1 refunds simple (due Fri 5 March 20:00) and w6 transfer (due Fri 5 March 20:00), both
    # taken by W1 on Wed 3 March at 09:00; w6 closed unanswered at 09:10, w1 answered at 11:00
    # (25 h after it came) and closed at 11:30.
    m.submit(
        "w1", "written", "email", "2027-03-02T10:00:00+01:00", motive="refunds", typology="simple"
    )
    m.submit("w6", "written", "email", "2027-03-02T14:00:00+01:00", typology="transfer")
    m.state("W1", "available", "2027-03-03T09:00:00+01:00")
    m.accept("W1", "w1", "2027-03-03T09:00:00+01:00")
    m.accept("W1", "w6", "2027-03-03T09:00:00+01:00")
    m.close("W1", "w6", "2027-03-03T09:10:00+01:00", reason="no_answer_needed")
    m.respond("W1", "w1", "2027-03-03T11:00:00+01:00")
    m.close("W1", "w1", "2027-03-03T11:30:00+01:00")
    m.state("W1", "not_ready", "2027-03-03T11:30:00+01:00")
    # w2 fines complex, Mon 8 March 09:00, due Thu 11 March 20:00; the principal is asked at
    # 10:00 and answers on Wed 10 March at 10:00: 26 open hours credited (Mon 10-20, Tue 7-20,
    # Wed 7-10), so the deadline moves to Sat 13 March 20:00 (Fri 7-20, Sat 7-20). Answered on
    # Wed 10 March at 11:00, 50 h after it came.
    m.submit(
        "w2", "written", "email", "2027-03-08T09:00:00+01:00", motive="fines", typology="complex"
    )
    m.state("W1", "available", "2027-03-08T09:00:00+01:00")
    m.accept("W1", "w2", "2027-03-08T09:00:00+01:00")
    m.run(
        "2027-03-08T10:00:00+01:00",
        lambda: AwaitPrincipal(advisor_id="W1", interaction_id=m.ids["w2"]),
    )
    m.state("W1", "not_ready", "2027-03-08T10:00:00+01:00")
    m.run("2027-03-10T10:00:00+01:00", lambda: PrincipalAnswered(interaction_id=m.ids["w2"]))
    m.state("W1", "available", "2027-03-10T10:30:00+01:00")
    m.accept("W1", "w2", "2027-03-10T10:30:00+01:00")
    m.respond("W1", "w2", "2027-03-10T11:00:00+01:00")
    m.close("W1", "w2", "2027-03-10T11:00:00+01:00")
    m.state("W1", "not_ready", "2027-03-10T11:00:00+01:00")
    # w3 refunds simple, Thu 25 March 10:00 (+01:00): Fri 26, (Easter Monday 29 off), Tue 30,
    # Wed 31: due Wed 31 March 20:00 (+02:00), breached, still open at the month's end;
    # answered on Fri 2 April at 10:30 (+02:00), 8 days less 30 minutes after it came.
    m.submit(
        "w3", "written", "email", "2027-03-25T10:00:00+01:00", motive="refunds", typology="simple"
    )
    # w4 simple by the web form, Sunday 28 March 21:00 (+02:00), the evening before Easter
    # Monday: due Thu 1 April 20:00 (Tue 30, Wed 31, Thu 1), so it counts in April. W2, who
    # may not take refunds (w3), answers it on Tue 30 March at 11:00, 38 h after it came.
    m.submit("w4", "written", "webform", "2027-03-28T21:00:00+02:00", typology="simple")
    m.state("W2", "available", "2027-03-30T10:00:00+02:00")
    m.accept("W2", "w4", "2027-03-30T10:00:00+02:00")
    m.respond("W2", "w4", "2027-03-30T11:00:00+02:00")
    m.close("W2", "w4", "2027-03-30T11:00:00+02:00")
    m.state("W2", "not_ready", "2027-03-30T11:00:00+02:00")
    # The daemon's timers fire when due: w3's breach, just after its deadline.
    m.step("2027-03-31T20:00:01+02:00", lambda: None)
    m.state("W1", "available", "2027-04-02T10:00:00+02:00")
    m.accept("W1", "w3", "2027-04-02T10:00:00+02:00")
    m.respond("W1", "w3", "2027-04-02T10:30:00+02:00")
    m.close("W1", "w3", "2027-04-02T10:30:00+02:00")
    m.state("W1", "not_ready", "2027-04-02T10:30:00+02:00")

    # -- social: 2 h within Mon-Sat 07:00-20:00, else 4 h ---------------------------------------
    # s2 facebook, Tue 2 March 12:00, due 14:00; answered 12:45 (2,700 s), held 12:30-12:50.
    m.submit("s2", "social", "facebook", "2027-03-02T12:00:00+01:00")
    m.state("S1", "available", "2027-03-02T12:30:00+01:00")
    m.accept("S1", "s2", "2027-03-02T12:30:00+01:00")
    m.respond("S1", "s2", "2027-03-02T12:45:00+01:00")
    m.close("S1", "s2", "2027-03-02T12:50:00+01:00")
    m.state("S1", "not_ready", "2027-03-02T12:50:00+01:00")
    # s3 x, Wed 3 March 15:00: handed to an outside party at 15:20, which is its response
    # (20 min, within); held 600 s.
    m.submit("s3", "social", "x", "2027-03-03T15:00:00+01:00")
    m.state("S1", "available", "2027-03-03T15:10:00+01:00")
    m.accept("S1", "s3", "2027-03-03T15:10:00+01:00")
    m.run(
        "2027-03-03T15:20:00+01:00",
        lambda: TransferOut(advisor_id="S1", interaction_id=m.ids["s3"]),
    )
    m.state("S1", "not_ready", "2027-03-03T15:20:00+01:00")
    # s1 x, Sat 27 March 22:00 (+01:00), outside the hours: due 4 h later, Sun 28 March 03:00
    # (+02:00), across the change to summer time. Answered at 03:30 (+02:00): 4.5 h later,
    # breached; held 03:30-03:40.
    m.submit("s1", "social", "x", "2027-03-27T22:00:00+01:00")
    m.step("2027-03-28T03:00:01+02:00", lambda: None)  # s1's breach
    m.state("S1", "available", "2027-03-28T03:30:00+02:00")
    m.accept("S1", "s1", "2027-03-28T03:30:00+02:00")
    m.respond("S1", "s1", "2027-03-28T03:30:00+02:00")
    m.close("S1", "s1", "2027-03-28T03:40:00+02:00")
    m.state("S1", "not_ready", "2027-03-28T03:40:00+02:00")
    m.play()
    return m


def callback_month() -> Month:
    """May 2027 (+02:00): five calls to one advisor, four of whose callers ask a callback.

    Voice: target 180 s; a callback is due 3,600 s after it is asked for (never before the
    call was), is offered again 600 s after an attempt missed, and is closed
    ``callback_unanswered`` after 2 attempts; no wrap-up. V1 takes the calls alone.
    """
    m = Month()
    policies = make_policies()
    channels = dict(policies.channels)
    channels["voice"] = msgspec.structs.replace(
        channels["voice"], callback_target_s=3600, callback_attempts=2, callback_retry_s=600
    )
    policies = msgspec.structs.replace(policies, channels=channels)
    m.run("2027-05-03T08:00:00+02:00", lambda: SetPolicies(policies=policies))
    m.run(
        "2027-05-03T08:00:00+02:00",
        lambda: AddAdvisor(
            advisor_id="V1", skills={"general": 3}, languages=("fr",), capacity={"voice": 1}
        ),
    )

    def ask(name: str, now: str) -> None:
        m.run(now, lambda: RequestCallback(interaction_id=m.ids[name]))

    def attempt(name: str, now: str, outcome: str) -> None:
        m.run(
            now,
            lambda: RecordCallbackAttempt(
                interaction_id=m.ids[name],
                advisor_id="V1",
                outcome=outcome,  # type: ignore[arg-type]
            ),
        )

    # Tuesday 4 May. k0: picked up after 20 s, held 120 s.
    m.submit("k0", "voice", "phone", "2027-05-04T09:00:00+02:00")
    m.state("V1", "available", "2027-05-04T09:00:20+02:00")
    m.accept("V1", "k0", "2027-05-04T09:00:20+02:00")
    m.close("V1", "k0", "2027-05-04T09:02:20+02:00")
    m.state("V1", "not_ready", "2027-05-04T09:02:20+02:00")
    # k1 asks after 100 s (within), due 11:01:40; dialled at 10:30 (on time), answered at
    # once; held 10:30-10:35.
    m.submit("k1", "voice", "phone", "2027-05-04T10:00:00+02:00")
    ask("k1", "2027-05-04T10:01:40+02:00")
    m.state("V1", "available", "2027-05-04T10:30:00+02:00")
    m.accept("V1", "k1", "2027-05-04T10:30:00+02:00")
    attempt("k1", "2027-05-04T10:30:30+02:00", "answered")
    m.close("V1", "k1", "2027-05-04T10:35:00+02:00")
    m.state("V1", "not_ready", "2027-05-04T10:35:00+02:00")
    # k2: the call breaches at 11:03:00, the caller asks after 200 s (not within), due 12:03:20.
    # First attempt at 12:10 (late), missed at 12:10:30: V1 is free again, available and idle
    # until 12:15. Second attempt at 12:25, answered; held 12:25-12:30.
    m.submit("k2", "voice", "phone", "2027-05-04T11:00:00+02:00")
    ask("k2", "2027-05-04T11:03:20+02:00")
    m.state("V1", "available", "2027-05-04T12:10:00+02:00")
    m.accept("V1", "k2", "2027-05-04T12:10:00+02:00")
    attempt("k2", "2027-05-04T12:10:30+02:00", "unanswered")
    m.state("V1", "not_ready", "2027-05-04T12:15:00+02:00")
    m.state("V1", "available", "2027-05-04T12:25:00+02:00")
    m.accept("V1", "k2", "2027-05-04T12:25:00+02:00")
    attempt("k2", "2027-05-04T12:25:20+02:00", "answered")
    m.close("V1", "k2", "2027-05-04T12:30:00+02:00")
    m.state("V1", "not_ready", "2027-05-04T12:30:00+02:00")
    # k3 asks after 30 s (within), due 15:00:30; attempted at 14:30 (on time) and 14:45, both
    # missed (30 s each): closed callback_unanswered at 14:45:30. V1 idle 14:30:30-14:35.
    m.submit("k3", "voice", "phone", "2027-05-04T14:00:00+02:00")
    ask("k3", "2027-05-04T14:00:30+02:00")
    m.state("V1", "available", "2027-05-04T14:30:00+02:00")
    m.accept("V1", "k3", "2027-05-04T14:30:00+02:00")
    attempt("k3", "2027-05-04T14:30:30+02:00", "unanswered")
    m.state("V1", "not_ready", "2027-05-04T14:35:00+02:00")
    m.state("V1", "available", "2027-05-04T14:45:00+02:00")
    m.accept("V1", "k3", "2027-05-04T14:45:00+02:00")
    attempt("k3", "2027-05-04T14:45:30+02:00", "unanswered")
    m.state("V1", "not_ready", "2027-05-04T14:45:30+02:00")
    # Monday 31 May. k4 asks after 60 s (within), due 19:01; nobody calls back in May. On
    # Tuesday 1 June at 09:00 V1 does, reaching the customer; held 09:00-09:05.
    m.submit("k4", "voice", "phone", "2027-05-31T18:00:00+02:00")
    ask("k4", "2027-05-31T18:01:00+02:00")
    m.state("V1", "available", "2027-06-01T09:00:00+02:00")
    m.accept("V1", "k4", "2027-06-01T09:00:00+02:00")
    attempt("k4", "2027-06-01T09:00:30+02:00", "answered")
    m.close("V1", "k4", "2027-06-01T09:05:00+02:00")
    m.state("V1", "not_ready", "2027-06-01T09:05:00+02:00")
    m.play()
    return m


def _iso(timestamp: float) -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(timestamp, ZoneInfo("Europe/Paris")).isoformat()
