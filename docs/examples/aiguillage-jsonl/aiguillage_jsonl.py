"""An Aiguillage adapter: append each arrival and closure to a JSON-lines file.

Enable it in config.toml::

    [adapters.jsonl]
    path = "var/aiguillage/interactions.jsonl"

Each line is ``{"id": "0:42", "event": {...}}``. Delivery is at least once: after a crash,
the events since the adapter's cursor was last saved are appended again, with the same ids.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import msgspec

from aiguillage.adapters.channels import AdapterContext

_ENCODE = msgspec.json.Encoder()


class JsonLinesSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[adapters.jsonl]``: where to append."""

    path: str


class JsonLinesAdapter:
    """Append the interaction events it is given to a file, one JSON object a line."""

    Settings = JsonLinesSettings
    subscribes = frozenset({"interaction.arrived", "interaction.closed"})

    def __init__(self, context: AdapterContext[JsonLinesSettings]) -> None:
        self.context = context
        self.path = Path(context.settings.path)

    async def run(self) -> None:
        async for record in self.context.events():
            line = _ENCODE.encode({"id": record.id, "event": record.event}) + b"\n"
            # File I/O in a worker thread: an adapter never blocks the engine's event loop.
            await anyio.to_thread.run_sync(self._append, line)
            await self.context.done(record.seq)

    def _append(self, line: bytes) -> None:
        with self.path.open("ab") as file:
            file.write(line)
