"""Threads through the runtime: a customer's messages join their open interaction, with their
texts; a redelivery is the same message; after the close, a follow-up opens new work."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguillage.adapters.daemon.conversations import thread
from aiguillage.adapters.daemon.runtime import Runtime
from aiguillage.engine.commands import Close, Submit
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.test_runtime import VirtualClock, serving

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def message(external_id: str, motive: str = "general") -> Submit:
    return Submit(
        channel="social", source="x", external_id=external_id, thread="dm-42", motive=motive
    )


async def texts(runtime: Runtime, interaction_id: int) -> list[tuple[str, str | None]]:
    return [(m.kind, m.text) for m in await thread(runtime, interaction_id)]


async def test_messages_join_their_open_interaction_and_a_redelivery_is_the_same(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    async with serving(tmp_path / "journal.sqlite", clock) as runtime:
        first = await runtime.submit(message("m1"), {"text": "Bonjour"})
        clock.now += SECOND
        second = await runtime.submit(message("m2", motive="refunds"), {"text": "Vous êtes là ?"})
        assert second.interaction.id == first.interaction.id
        # Delivered again, even routed otherwise: the same message, neither new nor a conflict.
        again = await runtime.submit(message("m2", motive="fines"), {"text": "Vous êtes là ?"})
        assert (again.interaction.id, again.created) == (first.interaction.id, False)
        assert await texts(runtime, first.interaction.id) == [
            ("customer", "Bonjour"),
            ("customer", "Vous êtes là ?"),
        ]
        personal = await runtime.personal_data(first.interaction.id)
        assert personal is not None
        assert personal["text"] == "Bonjour"
        assert personal["messages"] == [{"external_id": "m2", "text": "Vous êtes là ?"}]

        await runtime.execute(Close(interaction_id=first.interaction.id), None)
        clock.now += SECOND
        follow_up = await runtime.submit(message("m3"), {"text": "Merci !"})
        assert follow_up.created
        assert follow_up.interaction.id != first.interaction.id
        assert await texts(runtime, follow_up.interaction.id) == [("customer", "Merci !")]
        follows = await runtime.read(
            lambda engine: engine.state.interactions[follow_up.interaction.id].follows
        )
        assert follows == first.interaction.id
