"""The outbox in a real runtime on a real SQLite journal: retries, giving up, health, once only.

A channel of the test's own (``Scripted``) answers each send as its script says: taken, failed
(for now or for good), or refused credentials. The runtime's clock is virtual, so that the
back-off and the give-up time are checked without waiting them out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from aiguillage.adapters.channels import (
    AdapterContext,
    NeedsReauthorisation,
    Outgoing,
    SendFailed,
    Sent,
)
from aiguillage.adapters.config.plugins import EnabledAdapter
from aiguillage.adapters.daemon.api.websocket import message_for
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.adapters.daemon.supervisor import Supervisor
from aiguillage.engine.commands import Accept, Close, PostMessage, SetAdvisorState, Submit
from aiguillage.engine.engine import Engine
from aiguillage.engine.events import MessageFailed, MessageSent, OfferMade
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.test_runtime import VirtualClock, serving

pytestmark = pytest.mark.anyio

ADVISOR = "camille.laurent"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class NoSettings(msgspec.Struct, frozen=True):
    pass


Script = list[Callable[[Outgoing], Sent]]


def scripted(script: Script, sent: list[Outgoing]) -> type[Any]:
    class Scripted:
        Settings = NoSettings
        subscribes: frozenset[str] = frozenset()

        def __init__(self, context: AdapterContext[Any]) -> None:
            self.context = context
            self.sources = frozenset({"x"})

        async def send(self, outgoing: Outgoing) -> Sent:
            sent.append(outgoing)
            step = script.pop(0) if script else (lambda o: Sent(f"peer-{o.message_id}"))
            return step(outgoing)

        async def run(self) -> None:
            await anyio.sleep_forever()

    return Scripted


def fail(reason: str, *, permanent: bool = False) -> Callable[[Outgoing], Sent]:
    def step(outgoing: Outgoing) -> Sent:
        raise SendFailed(reason, permanent=permanent)

    return step


def refuse(outgoing: Outgoing) -> Sent:
    raise NeedsReauthorisation("token expired")


@asynccontextmanager
async def outbox(
    tmp_path: Path, script: Script
) -> AsyncIterator[tuple[Runtime, VirtualClock, Supervisor, list[Outgoing]]]:
    clock = VirtualClock()
    sent: list[Outgoing] = []
    async with serving(tmp_path / "journal.sqlite", clock) as runtime:
        adapter = EnabledAdapter("chan", "chan", scripted(script, sent), NoSettings())
        supervisor = Supervisor(runtime, [adapter], outbox_idle_s=0.02)
        async with anyio.create_task_group() as group:
            await group.start(supervisor.run)
            yield runtime, clock, supervisor, sent
            await supervisor.stop()


async def answered(runtime: Runtime, external_id: str = "post-1") -> int:
    """Submit a social message, have the advisor take it and answer; return the answer's id."""
    await runtime.execute(SetAdvisorState(advisor_id=ADVISOR, state="available"), None)
    receipt = await runtime.submit(
        Submit(channel="social", source="x", external_id=external_id, motive="general"),
        {"customer": {"handle": "@a"}, "text": "Bonjour"},
    )
    interaction_id = receipt.interaction.id
    offer_id = await runtime.read(
        lambda engine: next(
            o.id for o in engine.state.offers.values() if o.interaction_id == interaction_id
        )
    )
    await runtime.execute(Accept(advisor_id=ADVISOR, offer_id=offer_id), None)
    events = await runtime.execute(
        PostMessage(interaction_id=interaction_id, advisor_id=ADVISOR, kind="answer", digest=""),
        {"message": "Voici la réponse."},
    )
    return next(e.message_id for e in events if hasattr(e, "message_id"))


async def until(condition: Callable[[], Any], timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not await condition():
            await anyio.sleep(0.01)


def state_of(runtime: Runtime, message_id: int) -> Callable[[], Any]:
    async def read() -> Any:
        return await runtime.read(lambda engine: engine.state.messages[message_id])

    return read


async def test_a_failed_send_is_retried_with_back_off_then_sent_with_the_same_key(
    tmp_path: Path,
) -> None:
    async with outbox(tmp_path, [fail("503"), fail("503")]) as (runtime, clock, boxes, sent):
        message_id = await answered(runtime)
        read = state_of(runtime, message_id)

        async def failed(times: int) -> bool:
            return bool((await read()).attempts == times)

        await until(lambda: failed(1))
        first = await read()
        assert (first.state, first.reason) == ("failed", "503")
        assert first.retry_at == clock.now + 30 * SECOND  # [outbox] first_retry_s
        await anyio.sleep(0.1)
        assert len(sent) == 1  # nothing before the retry is due
        clock.now += 30 * SECOND
        await until(lambda: failed(2))
        assert (await read()).retry_at == clock.now + 60 * SECOND  # twice as long
        clock.now += 60 * SECOND

        async def delivered() -> bool:
            return bool((await read()).state == "sent")

        await until(delivered)
        assert (await read()).peer_id == f"peer-{message_id}"
        assert [o.attempt for o in sent] == [1, 2, 3]
        assert len({o.idempotency_key for o in sent}) == 1
        assert sent[0].text == "Voici la réponse."
        assert sent[0].received[0]["customer"] == {"handle": "@a"}

        async def counted() -> bool:  # once the delivery is journaled, not before
            status = boxes.status()["chan"].outbox
            return status is not None and status.sent > 0

        await until(counted)
        status = boxes.status()["chan"].outbox
        assert status is not None
        assert (status.sent, status.failed_for_good) == (1, 0)


async def test_an_answer_not_sent_in_time_fails_for_good_and_is_not_tried_again(
    tmp_path: Path,
) -> None:
    async with outbox(tmp_path, [fail("down")] * 100) as (runtime, clock, boxes, sent):
        message_id = await answered(runtime)
        read = state_of(runtime, message_id)

        async def attempted() -> bool:
            return bool((await read()).attempts >= 1)

        await until(attempted)
        clock.now += 86_400 * SECOND  # [outbox] give_up_after_s

        async def given_up() -> bool:
            message = await read()
            return bool(message.state == "failed" and message.retry_at is None)

        await until(given_up)
        tries = len(sent)
        clock.now += 86_400 * SECOND
        await anyio.sleep(0.2)
        assert len(sent) == tries
        outbox_status = boxes.status()["chan"].outbox
        assert outbox_status is not None
        assert outbox_status.failed_for_good == 1
        assert (outbox_status.waiting, outbox_status.last_error) == (0, "down")
        events = await runtime.records_after(0, 10_000)
        gave_up = [r.event for r in events if isinstance(r.event, MessageFailed)][-1]
        assert gave_up.retry_at is None


async def test_a_permanent_refusal_fails_at_once(tmp_path: Path) -> None:
    script = [fail("no such user", permanent=True)]
    async with outbox(tmp_path, script) as (runtime, _clock, _boxes, sent):
        message_id = await answered(runtime)
        read = state_of(runtime, message_id)

        async def given_up() -> bool:
            return bool((await read()).state == "failed")

        await until(given_up)
        assert (await read()).retry_at is None
        assert len(sent) == 1


async def test_refused_credentials_say_so_in_the_health_until_a_send_succeeds(
    tmp_path: Path,
) -> None:
    async with outbox(tmp_path, [refuse]) as (runtime, clock, boxes, _sent):
        message_id = await answered(runtime)

        async def refused() -> bool:
            return boxes.status()["chan"].health == "needs_reauthorisation"

        await until(refused)
        assert boxes.status()["chan"].health_detail == "token expired"
        metrics = runtime.metrics.render(None, clock.now, ready=True, journal_ok=True).decode()
        assert 'aiguillage_channel_health{adapter="chan",health="needs_reauthorisation"} 1.0' in (
            metrics
        )
        clock.now += 30 * SECOND
        read = state_of(runtime, message_id)

        async def delivered() -> bool:
            return bool((await read()).state == "sent")

        await until(delivered)
        assert boxes.status()["chan"].health == "ok"


async def test_a_message_journaled_as_sent_is_not_sent_again_after_a_restart(
    tmp_path: Path,
) -> None:
    async with outbox(tmp_path, []) as (runtime, _clock, _boxes, sent):
        message_id = await answered(runtime)
        read = state_of(runtime, message_id)

        async def delivered() -> bool:
            return bool((await read()).state == "sent")

        await until(delivered)
        assert len(sent) == 1
    async with outbox(tmp_path, []) as (runtime, _clock, _boxes, again):
        await anyio.sleep(0.2)
        assert again == []
        assert (await read_state(runtime, message_id)) == "sent"
        records = await runtime.records_after(0, 10_000)
        assert sum(isinstance(r.event, MessageSent) for r in records) == 1
        assert sum(isinstance(r.event, OfferMade) for r in records) >= 1


async def read_state(runtime: Runtime, message_id: int) -> str:
    return str(await runtime.read(lambda engine: engine.state.messages[message_id].state))


async def test_two_channels_may_not_send_for_the_same_source(tmp_path: Path) -> None:
    clock = VirtualClock()
    sent: list[Outgoing] = []
    async with serving(tmp_path / "journal.sqlite", clock) as runtime:
        first = EnabledAdapter("one", "one", scripted([], sent), NoSettings())
        second = EnabledAdapter("two", "two", scripted([], sent), NoSettings())
        supervisor = Supervisor(runtime, [first, second], backoff_s=0.01, outbox_idle_s=0.02)
        async with anyio.create_task_group() as group:
            await group.start(supervisor.run)
            with anyio.fail_after(10):
                while not any(s.restarts for s in supervisor.status().values()):
                    await anyio.sleep(0.01)
            errors = [s.last_error for s in supervisor.status().values() if s.last_error]
            await supervisor.stop()
    assert any("already sent by another channel" in error for error in errors), errors


async def test_an_answer_that_failed_for_good_is_pushed_to_its_author_after_the_close(
    tmp_path: Path,
) -> None:
    script = [fail("no such user", permanent=True)]
    async with outbox(tmp_path, script) as (runtime, _clock, _boxes, _sent):
        message_id = await answered(runtime)
        read = state_of(runtime, message_id)

        async def given_up() -> bool:
            return bool((await read()).state == "failed")

        await until(given_up)
        interaction_id = (await read()).interaction_id
        await runtime.execute(Close(interaction_id=interaction_id, advisor_id=ADVISOR), None)
        records = await runtime.records_after(0, 10_000)
        failed = next(r for r in records if isinstance(r.event, MessageFailed))

        def pushed(advisor_id: str) -> Callable[[Engine], bytes | None]:
            return lambda engine: message_for(advisor_id, failed, engine, runtime)

        body = await runtime.read(pushed(ADVISOR))
        assert body is not None
        assert msgspec.json.decode(body)["event"]["reason"] == "no such user"
        assert await runtime.read(pushed("hugo.simon")) is None
