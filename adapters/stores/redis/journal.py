"""The shared journal: one Redis Stream per routing domain, written by one fenced leader.

Keys are built in ``redis_keys`` (its docstring has the table), all under the ``{domain}`` hash
tag, and every script gets the keys it touches in ``KEYS``, so a domain lives on one Redis
Cluster shard. Each write is one server-side Lua script (``redis_scripts``), atomic on the
server; the chain hashes are computed here, with the same ``chain_hash`` as SQLite, so
``verify`` trusts nothing Redis computed.

Leader and fencing. ``open`` takes the writer's lease in a script: if another daemon holds it,
``JournalLocked`` names it; otherwise the domain's epoch is incremented and the lease
(``"<epoch> <address>"``, expiring after ``lease_s``) is set. The epoch is the fencing token:
every write (append, snapshot, trim, cursor, channel state, personal data) runs in a script that
first checks that the epoch key still holds this writer's epoch, so a leader paused past its
lease (a long GC, a frozen VM) can never write once a standby took over, by construction and
whatever the clocks say; it gets ``JournalFenced``. ``renew`` extends the lease while the epoch
is ours; ``close`` releases it, so a clean shutdown hands over at once.

Appends. One script per batch checks the epoch and that the journal still ends where this writer
expects (``last_seq``/``last_hash`` in the meta hash; otherwise it is a conflict:
``JournalUnavailable``, and the runtime rebuilds), then adds one stream entry per record, id
``<seq>-<epoch>`` (seq-major, so ``XRANGE`` reads by seq; ``Record.id`` is ``epoch:seq``), moves
the meta and upserts the views. When the call times out or the connection drops, the meta is read
back first: the new end means the batch went through (acknowledged, not written twice); the old
end means it did not (retried once); anything else is ``JournalUnavailable``.

Acknowledged means durable because of the server's settings, which ``open`` checks with ``CONFIG
GET`` (``settings_report``, logged as warnings): ``appendonly yes`` with ``appendfsync always``
makes Redis write and fsync its AOF before it replies, and ``maxmemory-policy noeviction`` keeps
it from evicting the journal. That holds on the primary only: Redis 7.0 has no ``WAITAOF``, and
replication is asynchronous, so a failover (Sentinel, Cluster) can lose the last acknowledged
batches. The new leader then reuses their seqs under a higher epoch, never their ids, which is
why receivers deduplicate on ``epoch:seq``.

Snapshots keep the last two, each with the hash of the record it follows (one that no longer
matches is passed over at recovery). An image is uploaded in chunks of ``SNAPSHOT_CHUNK`` to a
staging key of the writer's epoch, then kept by a fenced script that renames it and appends the
snapshot's seal to the chain (``snapshot_seals``; a stream of its own, ``seals``, each entry
after the record it follows): a snapshot of tens of MB never holds the server (and the appends
behind it) for the time of one huge command, and recovery loads only an image its seal vouches
for. The seal moves the chain's end, so appends and seals take turns (a lock). With an
``archive_dir``, the records up to the older snapshot, and the seals before it, are then
archived (``redis_archive``) and trimmed; the meta keeps the trimmed boundary (seq and hash),
where recovery and verification of the stream start; the snapshots kept and their seals are
never before it. Without one, nothing is trimmed. ``verify_url`` walks the archive and the
stream without taking the lease, for ``aiguillage replay --verify``, and checks each snapshot
stored against its seal.

Redis errors (connection refused or dropped, time-outs after ``timeout_s``, ``LOADING`` after a
restart, ``READONLY`` on a replica, out of memory) and archive I/O errors become
``JournalUnavailable`` naming the store and what was being done; the URL's password never
appears (``description`` leaves it out).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import msgspec
import redis.asyncio
import redis.exceptions
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from aiguillage.adapters.stores.actors import Actor
from aiguillage.adapters.stores.journal import (
    GENESIS,
    RECORD_FORMAT,
    ChainBreak,
    ChainWalker,
    InteractionView,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalFenced,
    JournalFormatError,
    JournalLocked,
    JournalUnavailable,
    Record,
    Recovery,
    Verification,
    actors_of,
    chain_hash,
    check_channel_state,
    columns,
    encode_record,
    read_record,
)
from aiguillage.adapters.stores.redis import archive as redis_archive
from aiguillage.adapters.stores.redis.keys import DomainKeys, keys_of
from aiguillage.adapters.stores.redis.scripts import (
    JOURNAL_FORMAT,
    UNSEALED_FORMAT,
    Batch,
    Reply,
    Scripts,
    call,
    text,
)
from aiguillage.adapters.stores.snapshot_seals import (
    UNREADABLE_IMAGE,
    SealLink,
    SnapshotSeal,
    encode_seal,
    pass_over,
    seal_hash,
    seals_by_snapshot,
    sha256,
    snapshot_fault,
)
from aiguillage.engine.events import Event
from aiguillage.engine.instants import Instant

__all__ = [
    "ARCHIVE_CHUNK",
    "JOURNAL_FORMAT",
    "READ_CHUNK",
    "SNAPSHOT_CHUNK",
    "SNAPSHOT_FORMAT",
    "RedisJournal",
    "describe",
    "read_url",
    "verify_url",
]

SNAPSHOT_FORMAT = 1
"""The layout of a snapshot's description (msgpack: format, hash, taken_at, image_sha256)."""

SNAPSHOT_CHUNK = 1 << 20
"""Bytes of a snapshot's image sent in one command."""

ARCHIVE_CHUNK = 500
"""Stream entries read at a time while archiving, which goes on beside the appends."""

READ_CHUNK = 10_000
"""Stream entries read at a time by recovery, verification and archiving."""

_SAFE_SETTINGS = {"appendonly": "yes", "appendfsync": "always", "maxmemory-policy": "noeviction"}
_RISKS = {
    "appendonly": "acknowledged events live only in memory, and a restart of Redis loses them",
    "appendfsync": "Redis acknowledges a batch before it is on disk, and a crash of its "
    "machine loses the last ones",
    "maxmemory-policy": "Redis may evict the journal's keys when its memory is full",
}

log = structlog.get_logger("aiguillage.redis_journal")


class _Entry(NamedTuple):
    """A stream entry read back: a record and the columns kept beside its body."""

    seq: int
    epoch: int
    format: int
    body: bytes
    hash: str
    columns: tuple[Instant, str, int | None]


class _Snapshot(msgspec.Struct):
    """A snapshot's description; its image is in a key of its own (``DomainKeys.snapshot``)."""

    format: int
    hash: str = ""
    """The hash of the record the snapshot follows: a snapshot that no longer matches its
    journal is passed over."""
    taken_at: int = 0
    image_sha256: str = ""
    """Of the image: one that was not uploaded whole is passed over."""


_SNAPSHOT_ENCODER = msgspec.msgpack.Encoder()
_SNAPSHOT_DECODER = msgspec.msgpack.Decoder(_Snapshot)
_JSON = msgspec.json.Encoder()
_ORIGIN = msgspec.json.Decoder(tuple[str, str, int])


def describe(url: str, domain: str) -> str:
    """Return where a journal lives, for logs and errors: ``redis://host:port/db (domain d)``."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    database = parts.path.strip("/") or "0"
    return f"{parts.scheme}://{host}:{parts.port or 6379}/{database} (domain {domain})"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "Redis is still loading its data after a restart; it answers once loaded"
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return "this server is a read-only replica; give the primary's address in --store"
    return str(exc) or type(exc).__name__


class RedisJournal:
    """The ``Journal`` of one routing domain in Redis; see the module docstring.

    ``address`` is how clients reach this daemon (``http://10.0.0.5:8080``), kept in the lease
    so that a standby can name the leader. ``settings_report`` lists, after ``open``, the
    server settings that put acknowledged events at risk (empty when all is well).
    """

    def __init__(
        self,
        url: str,
        *,
        domain: str = "main",
        lease_s: float = 10.0,
        address: str = "",
        archive_dir: Path | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self.keys = keys_of(domain)
        self.domain = domain
        self.description = describe(url, domain)
        self.address = address
        self.archive_dir = None if archive_dir is None else Path(archive_dir).absolute()
        self.lease_s: float | None = lease_s
        self.epoch = 0
        self.settings_report: list[str] = []
        self._url = url
        self._timeout_s = timeout_s
        self._lease_ms = round(lease_s * 1000)
        self._redis: redis.asyncio.Redis | None = None
        self._reader: redis.asyncio.Redis | None = None
        """A standby's connection, for ``follow`` (no lease, reads only)."""
        self._scripts: Scripts | None = None
        self._leading = False
        self._last_seq, self._last_hash = 0, GENESIS
        """Where the chain ends: the last record's hash, or a seal's after it."""
        self._trimmed_seq, self._trimmed_hash = 0, GENESIS
        self._failure: str | None = None
        self._end = anyio.Lock()
        """Held by whatever moves the chain's end (an append, a seal), one at a time."""

    async def open(
        self,
        *,
        resume_after: int = 0,
        resume_hash: str | None = None,
        unreadable: frozenset[int] = frozenset(),
    ) -> Recovery:
        if self._redis is not None:
            raise JournalError(f"{self.description} is already open")
        client = self._redis = self._connect()
        scripts = self._scripts = Scripts(client, self.keys)
        try:
            with self.unavailable("opening"):
                self.settings_report = await self._check_settings(client)
                before: Any = await client.hget(self.keys.meta, "journal_format")
                reply = await scripts.acquire(self.address, self._lease_ms)
            if reply.status == "held":
                epoch, _, address = reply.found[0].partition(" ")
                raise JournalLocked(
                    f"{self.description} is led by another Aiguillage daemon "
                    f"({address or 'address not given'}, epoch {epoch}); one routing domain has "
                    "one writer: start this daemon with --standby to take over when its lease "
                    "lapses, or give it another domain"
                )
            if reply.status == "format":
                raise _format_error(self.description, reply.found[0])
            self.epoch, self._leading = int(reply.found[0]), True
            if before is not None and text(before) == str(UNSEALED_FORMAT):
                await self._seal_at_upgrade(client)
            with self.unavailable("recovering"):
                return await self._recover(client, resume_after, resume_hash, unreadable)
        except BaseException:
            await self.close()
            raise

    async def attach(self) -> None:
        """Open beside the leader, without its lease, for a command: read the journal, and
        write the personal data and the access log under the epoch found now, as the leader
        does (its scripts are atomic, the access log rechains after another writer), never the
        journal itself. A takeover meanwhile fences those writes (``JournalFenced``): run the
        command again. ``JournalError`` when the domain holds no journal of this format."""
        if self._redis is not None:
            raise JournalError(f"{self.description} is already open")
        client = self._redis = self._connect()
        try:
            with self.unavailable("opening beside the leader"):
                meta, _, _ = await _meta(client, self.keys, self.description)
                epoch: Any = await client.get(self.keys.epoch)
        except BaseException:
            await self.close()
            raise
        self.epoch = int(epoch or 0)
        self._trimmed_seq, self._trimmed_hash = int(meta["trimmed_seq"]), meta["trimmed_hash"]

    async def follow(
        self, after: int, after_hash: str, unreadable: frozenset[int] = frozenset()
    ) -> Recovery:
        if self._leading:
            raise JournalError(f"{self.description} is open as its writer: nothing to follow")
        client = self._reader
        if client is None:
            client = self._reader = self._connect()
        with self.unavailable("following the journal"):
            # Up to the end the meta gives: the leader may append while the stream is read.
            return await self._recover(client, after, after_hash, unreadable, to_meta_end=True)

    async def renew(self) -> None:
        """Extend the lease; take it again if it lapsed while nobody else took over."""
        scripts = self._writer_scripts()
        doing = "renewing the writer's lease"
        with self.unavailable(doing):
            reply = await scripts.renew(self.epoch, self.address, self._lease_ms)
        if reply.status == "fenced":
            raise self.fenced(reply.found[0], doing)

    async def leader(self) -> str | None:
        with self.unavailable("reading the writer's lease"):
            if self._redis is not None:
                held = await self._redis.get(self.keys.lease)
            else:
                async with self._connect() as client:
                    held = await client.get(self.keys.lease)
        if held is None:
            return None
        _, _, address = text(held).partition(" ")
        return address or None

    async def append(
        self,
        events: Sequence[Event],
        views: Sequence[InteractionView],
        by: Sequence[Actor | None] = (),
    ) -> int:
        async with self._end:
            return await self._append(events, views, actors_of(events, by))

    async def _append(
        self,
        events: Sequence[Event],
        views: Sequence[InteractionView],
        actors: Sequence[Actor | None],
    ) -> int:
        scripts = self._writer_scripts()
        seq, previous = self._last_seq, self._last_hash
        arguments: list[Any] = []
        for event, actor in zip(events, actors, strict=True):
            body = encode_record(event, actor)
            seq += 1
            previous = chain_hash(previous, seq, body)
            at, type_, interaction_id = columns(event)
            interaction = "" if interaction_id is None else interaction_id
            arguments += [f"{seq}-{self.epoch}", RECORD_FORMAT, body, previous, at, type_]
            arguments.append(interaction)
        if not events and not views:
            return seq
        for view in views:
            origin = _JSON.encode((view.source, view.external_id, view.accepted_at))
            external = _JSON.encode((view.source, view.external_id))
            arguments += [view.id, view.body, origin, external, view.accepted_at]
        expected = (self._last_seq, self._last_hash)
        batch = Batch(expected, (seq, previous), len(events), len(views), arguments)
        doing = f"appending events {expected[0] + 1} to {seq}" if events else "writing views"
        await self._write(scripts, batch, doing)
        self._last_seq, self._last_hash = seq, previous
        return seq

    async def _write(self, scripts: Scripts, batch: Batch, doing: str) -> None:
        """Run an append; after a time-out or a dropped connection, read back what it did."""
        for attempt in (1, 2):
            try:
                reply = await scripts.append(self.epoch, batch)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                stored = await self._stored_end(doing, exc)
                if batch.records and stored == batch.written:
                    return
                if stored == batch.expected and attempt == 1:
                    continue
                reason = f"{_reason(exc)}; the journal ends at event {stored[0]}"
                raise self._failed(doing, reason) from exc
            except redis.exceptions.RedisError as exc:
                raise self._failed(doing, _reason(exc)) from exc
            if reply.status == "fenced":
                self._failure = f"{doing} was refused: another writer took over"
                raise self.fenced(reply.found[0], doing)
            stored = (int(reply.found[0]), reply.found[1]) if reply.found else batch.written
            if reply.status == "conflict" and not (batch.records and stored == batch.written):
                raise self._failed(
                    doing,
                    f"the journal ends at event {stored[0]}, not at event {batch.expected[0]} "
                    "where this writer left it (another writer, or a failover that lost writes)",
                )
            return

    async def _stored_end(self, doing: str, cause: BaseException) -> tuple[int, str]:
        """Read back where the journal ends, after a call whose outcome is unknown."""
        try:
            last_seq, last_hash = await self.connection().hmget(
                self.keys.meta, ["last_seq", "last_hash"]
            )
        except redis.exceptions.RedisError as exc:
            raise self._failed(
                doing, f"{_reason(cause)}, and reading back its outcome failed: {_reason(exc)}"
            ) from exc
        return int(last_seq or 0), text(last_hash or "")

    def _failed(self, doing: str, reason: str) -> JournalUnavailable:
        self._failure = f"{doing} failed: {reason}"
        return JournalUnavailable(
            f"{self.description}: {self._failure}; the batch is not acknowledged: close the "
            "journal and open it again once the cause is gone"
        )

    async def save_snapshot(self, seq: int, image: bytes) -> None:
        scripts = self._writer_scripts()
        if not 1 <= seq <= self._last_seq:
            raise ValueError(
                f"no record {seq} to snapshot after: the journal holds 1 to {self._last_seq}"
            )
        if seq < self._trimmed_seq:
            raise ValueError(
                f"record {seq} is archived: snapshot a record after {self._trimmed_seq}"
            )
        doing = f"saving the snapshot after event {seq}"
        with self.unavailable(doing):
            event_hash = await self._hash_of(self.connection(), seq)
            if event_hash is None:
                raise JournalCorrupt(
                    f"{self.description}: event {seq} is missing from the stream; run "
                    "`aiguillage replay --verify` to see what changed"
                )
            # Uploaded in chunks, each its own command: the journal's appends go on between
            # them, instead of waiting while Redis takes (and fsyncs) tens of MB at once.
            client = self.connection()
            staging = self.keys.snapshot_staging(self.epoch)
            await client.set(staging, b"", ex=3600)  # gone in an hour if this writer dies
            for start in range(0, len(image), SNAPSHOT_CHUNK):
                await client.append(staging, image[start : start + SNAPSHOT_CHUNK])
            kept: Any = await client.hkeys(self.keys.snapshots)
            newest = sorted({seq, *(int(field) for field in kept)}, reverse=True)
            image_sha256 = await anyio.to_thread.run_sync(sha256, image)  # off the event loop
            description = _Snapshot(
                SNAPSHOT_FORMAT, event_hash, time.time_ns() // 1000, image_sha256
            )
            body = encode_seal(SnapshotSeal(seq, event_hash, image_sha256))
            async with self._end:
                expected = (self._last_seq, self._last_hash)
                sealed = (expected[0], seal_hash(expected[1], body))
                reply = await self._keep_snapshot(
                    scripts,
                    expected,
                    sealed,
                    (seq, _SNAPSHOT_ENCODER.encode(description), body, newest[2:]),
                    doing,
                )
                self._last_hash = sealed[1]
        older = int(reply.found[0])
        if self.archive_dir is not None and older > self._trimmed_seq:
            await self._archive_and_trim(scripts, self.archive_dir, older)

    async def _keep_snapshot(
        self,
        scripts: Scripts,
        expected: tuple[int, str],
        sealed: tuple[int, str],
        snapshot: tuple[int, bytes, bytes, list[int]],
        doing: str,
    ) -> Reply:
        """Run the script that keeps an uploaded image and seals it; after a time-out or a
        dropped connection, read back whether it ran (the chain's end says)."""
        seq, description, body, dropped = snapshot
        try:
            reply = await scripts.snapshot(
                self.epoch, expected, seq, description, (body, sealed[1]), dropped
            )
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            stored = await self._stored_end(doing, exc)
            if stored == sealed:
                return Reply("ok", ("0",))  # kept; archiving waits for the next snapshot
            if stored == expected:  # not kept: the journal goes on as it was
                raise JournalUnavailable(
                    f"{self.description}: {doing} failed: {_reason(exc)}"
                ) from exc
            reason = f"{_reason(exc)}; the journal ends at event {stored[0]}"
            raise self._failed(doing, reason) from exc
        if reply.status == "conflict":
            raise self._failed(
                doing,
                f"the journal ends at event {reply.found[0]}, not where this writer left it "
                "(another writer, or a failover that lost writes)",
            )
        if reply.status == "fenced":
            raise self.fenced(reply.found[0], doing)
        return reply

    async def _archive_and_trim(self, scripts: Scripts, directory: Path, boundary: int) -> None:
        """Archive the records up to ``boundary``, then trim them from the stream."""
        after = self._trimmed_seq
        doing = f"archiving events {after + 1} to {boundary} in {directory}"
        walker = ChainWalker(after, self._trimmed_hash)
        with self.unavailable(doing):
            # The seals between the old boundary and the new one go to the archive with them.
            links = await _seal_links(self.connection(), self.keys, f"{after}", f"{boundary - 1}")
            writer = await anyio.to_thread.run_sync(
                redis_archive.ArchiveWriter, directory, self.domain, after, boundary
            )
            try:
                # Small chunks: archiving runs beside the batches, on the same event loop.
                entries_up_to = self._entries(
                    self.connection(), f"{after + 1}", boundary, ARCHIVE_CHUNK
                )
                async for entries in entries_up_to:
                    lines = []
                    for entry in entries:
                        while links and links[0][1].after < entry.seq:
                            epoch, link = links.pop(0)
                            walker.seal(link)
                            lines.append(redis_archive.sealed(link, epoch))
                        walker.check(entry.seq, entry.format, entry.body, entry.hash)
                        walker.accept(entry.seq, entry.hash)
                        body = entry.body.decode()
                        lines.append(
                            redis_archive.Archived(
                                entry.seq, entry.epoch, entry.format, body, entry.hash
                            )
                        )
                    await anyio.to_thread.run_sync(writer.write, lines)
                if walker.seq != boundary:
                    raise ChainBreak(
                        walker.seq + 1, f"events {walker.seq + 1} to {boundary} missing"
                    )
                await anyio.to_thread.run_sync(writer.commit)
            except ChainBreak as broken:
                writer.discard()
                log.error(
                    "events neither archived nor trimmed: their chain is broken; run "
                    "`aiguillage replay --verify`",
                    store=self.description,
                    reason=broken.reason,
                )
                return
            except BaseException:
                writer.discard()
                raise
            reply = await scripts.trim(self.epoch, after, boundary, walker.previous)
        if reply.status == "fenced":
            raise self.fenced(reply.found[0], f"trimming events {after + 1} to {boundary}")
        if reply.status != "ok":
            log.warning(
                "stream not trimmed",
                store=self.description,
                refused=reply.status,
                found=reply.found,
            )
            return
        self._trimmed_seq, self._trimmed_hash = boundary, walker.previous

    async def records_after(self, seq: int, limit: int) -> list[Record]:
        client = self.connection()
        records: list[Record] = []
        if seq < self._trimmed_seq:
            records = await self._archived_after(seq, limit)
            if len(records) == limit:
                return records
            seq = records[-1].seq
        with self.unavailable("reading events"):
            raw: Any = await client.xrange(
                self.keys.events, f"{seq + 1}", "+", count=limit - len(records)
            )
            if raw and not self._leading and int(text(raw[0][0]).partition("-")[0]) > seq + 1:
                # Read beside the leader, which trimmed the stream since the boundary was
                # read: read it again, and what went from the archive.
                trimmed: Any = await client.hget(self.keys.meta, "trimmed_seq")
                if int(trimmed or 0) > self._trimmed_seq:
                    self._trimmed_seq = int(trimmed)
                    return records + await self.records_after(seq, limit - len(records))
        try:
            for entry_id, fields in raw:
                entry = _entry(entry_id, fields)
                stored = read_record(entry.seq, entry.format, entry.body, entry.hash)
                records.append(msgspec.structs.replace(stored, epoch=entry.epoch))
        except ChainBreak as broken:
            raise broken.error(self.description) from None
        return records

    async def _archived_after(self, seq: int, limit: int) -> list[Record]:
        up_to = self._trimmed_seq
        missing = f"events {seq + 1} to {up_to} are archived"
        if self.archive_dir is None:
            raise JournalUnavailable(
                f"{self.description}: {missing}, and this daemon has no archive_dir to read them"
            )
        with self.unavailable(f"reading archived events from {self.archive_dir}"):
            try:
                records = await anyio.to_thread.run_sync(
                    redis_archive.archived_after, self.archive_dir, self.domain, seq, up_to, limit
                )
            except ChainBreak as broken:
                raise broken.error(f"{self.description}, archive {self.archive_dir}") from None
        if not records or records[0].seq != seq + 1 or records[-1].seq < min(up_to, seq + limit):
            raise JournalUnavailable(
                f"{self.description}: {missing}, but {self.archive_dir} does not hold them all; "
                "copy there the archive files of the daemon that trimmed them"
            )
        return records

    async def view(self, interaction_id: int) -> bytes | None:
        client = self.connection()
        with self.unavailable("reading a view"):
            body: Any = await client.hget(self.keys.views, str(interaction_id))
        return None if body is None else bytes(body)

    async def find_external(self, source: str, external_id: str, since: Instant) -> int | None:
        client = self.connection()
        with self.unavailable("reading the external keys"):
            latest = await client.hget(self.keys.external, _JSON.encode((source, external_id)))
        if latest is None:
            return None
        accepted_at, _, interaction_id = text(latest).partition(" ")
        return int(interaction_id) if int(accepted_at) >= since else None

    async def recent_keys(self, since: Instant) -> list[tuple[str, str, int, Instant]]:
        client = self.connection()
        keys = []
        with self.unavailable("reading the external keys"):
            ids: Any = await client.zrangebyscore(self.keys.arrivals, since, "+inf")
            for start in range(0, len(ids), READ_CHUNK):
                chunk = ids[start : start + READ_CHUNK]
                origins: Any = await client.hmget(self.keys.origins, chunk)
                for interaction_id, origin in zip(chunk, origins, strict=True):
                    if origin is not None:
                        source, external_id, accepted_at = _ORIGIN.decode(origin)
                        keys.append((source, external_id, int(interaction_id), accepted_at))
        return sorted(keys, key=lambda key: (key[3], key[2]))

    async def verify(self) -> Verification:
        return await self._verify(self.connection())

    async def cursor(self, name: str) -> int:
        client = self.connection()
        with self.unavailable(f"reading the cursor {name!r}"):
            seq = await client.hget(self.keys.cursors, name)
        return 0 if seq is None else int(seq)

    async def save_cursor(self, name: str, seq: int) -> None:
        scripts = self._writer_scripts()
        doing = f"saving the cursor {name!r}"
        with self.unavailable(doing):
            reply = await scripts.save_cursor(self.epoch, name, seq)
        if reply.status == "fenced":
            raise self.fenced(reply.found[0], doing)

    async def channel_state(self, name: str) -> bytes | None:
        client = self.connection()
        with self.unavailable(f"reading the state of channel {name!r}"):
            state: Any = await client.hget(self.keys.channel_states, name)
        return None if state is None else bytes(state)

    async def save_channel_state(self, name: str, state: bytes) -> None:
        check_channel_state(self.description, name, state)
        scripts = self._writer_scripts()
        doing = f"saving the state of channel {name!r}"
        with self.unavailable(doing):
            reply = await scripts.save_channel_state(self.epoch, name, state)
        if reply.status == "fenced":
            raise self.fenced(reply.found[0], doing)

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            client, self._redis = self._redis, None
            scripts, self._scripts = self._scripts, None
            leading, self._leading = self._leading, False
            reader, self._reader = self._reader, None
            if reader is not None:
                with contextlib.suppress(redis.exceptions.RedisError, OSError):
                    await reader.aclose()
            if client is None:
                return
            if leading and scripts is not None:
                with (
                    contextlib.suppress(redis.exceptions.RedisError, OSError),
                    anyio.move_on_after(self._timeout_s),
                ):
                    await scripts.release(self.epoch)
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await client.aclose()

    # What the personal-data store borrows: the connection, the error seam and the fence.

    @property
    def leads(self) -> bool:
        """Whether this journal holds the lease (``open``), not read beside it (``attach``)."""
        return self._leading

    def connection(self) -> redis.asyncio.Redis:
        """Return the open connection; ``JournalUnavailable`` when the journal is not open."""
        if self._redis is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._redis

    @contextlib.contextmanager
    def unavailable(self, doing: str) -> Iterator[None]:
        """Translate a failure of Redis or of the file system into ``JournalUnavailable``."""
        try:
            yield
        except (redis.exceptions.RedisError, OSError) as exc:
            raise JournalUnavailable(f"{self.description}: {doing} failed: {_reason(exc)}") from exc

    async def write_fenced(
        self, script: AsyncScript, keys: Sequence[str], arguments: Sequence[Any], doing: str
    ) -> tuple[str, ...]:
        """Run a script that first checks the epoch (its ``KEYS[1]`` and ``ARGV[1]``, added
        here before ``keys`` and ``arguments``); return what it found, or ``JournalFenced``."""
        self.connection()
        with self.unavailable(doing):
            reply = await call(script, (self.keys.epoch, *keys), (self.epoch, *arguments))
        if reply.status == "fenced":
            raise self.fenced(reply.found[0], doing)
        return reply.found

    def fenced(self, epoch_now: str, doing: str) -> JournalFenced:
        """Return the error of a write refused because another writer took over."""
        then = "this daemon steps down" if self._leading else "run the command again"
        return JournalFenced(
            f"{self.description}: {doing} refused: epoch {epoch_now} took over from this "
            f"writer's epoch {self.epoch} (another daemon leads now); nothing was written: {then}"
        )

    # The rest is internal.

    def _connect(self) -> redis.asyncio.Redis:
        # No retries inside redis-py: an append that timed out is read back, not sent again.
        return redis.asyncio.Redis.from_url(
            self._url,
            socket_timeout=self._timeout_s,
            socket_connect_timeout=self._timeout_s,
            retry=Retry(NoBackoff(), 0),
        )

    def _writer_scripts(self) -> Scripts:
        self.connection()
        if self._scripts is None:
            raise JournalError(f"{self.description} is open beside its leader: it never appends")
        if self._failure is not None:
            raise JournalUnavailable(
                f"{self.description}: {self._failure}; close the journal and open it again"
            )
        return self._scripts

    async def _check_settings(self, client: redis.asyncio.Redis) -> list[str]:
        try:
            found = {
                text(name): text(value)
                for name, value in (await client.config_get(*_SAFE_SETTINGS)).items()
            }
        except redis.exceptions.ResponseError as exc:
            report = [
                f"{name} unverified (CONFIG GET refused: {exc}): make sure it is {safe}, or "
                f"{_RISKS[name]}"
                for name, safe in _SAFE_SETTINGS.items()
            ]
        else:
            report = [
                f"{name} is {found.get(name, 'unset')}, not {safe}: {_RISKS[name]}; set "
                f"{name} {safe}"
                for name, safe in _SAFE_SETTINGS.items()
                if found.get(name) != safe
            ]
        for line in report:
            log.warning(
                "Redis setting puts the journal at risk", store=self.description, detail=line
            )
        return report

    async def _recover(
        self,
        client: redis.asyncio.Redis,
        resume_after: int,
        resume_hash: str | None,
        unreadable: frozenset[int],
        *,
        to_meta_end: bool = False,
    ) -> Recovery:
        meta, links, _ = await _meta(client, self.keys, self.description)
        last_seq, last_hash = int(meta["last_seq"]), meta["last_hash"]
        self._trimmed_seq, self._trimmed_hash = int(meta["trimmed_seq"]), meta["trimmed_hash"]
        notes: list[str] = []
        image: bytes | None = None
        image_seq, previous = 0, GENESIS
        resumed = None if resume_after > last_seq else await self._hash_of(client, resume_after)
        if resume_after and resumed is not None and resume_hash in (None, resumed):
            image_seq, previous = resume_after, resumed
        else:
            if resume_after and resumed is None:
                notes.append(
                    f"cannot resume after event {resume_after}: the stream holds "
                    f"{self._trimmed_seq + 1} to {last_seq}; full recovery"
                )
            elif resume_after:
                notes.append(
                    f"cannot resume after event {resume_after}: the journal's event "
                    f"{resume_after} is not the one the state was built from (a store failover "
                    "lost writes?); full recovery"
                )
            image, image_seq, previous = await self._latest_snapshot(
                client, notes, links, unreadable
            )
            if image is None and self._trimmed_seq:
                raise JournalFormatError(
                    f"{self.description}: no snapshot this version can use ({'; '.join(notes)}), "
                    f"and events 1 to {self._trimmed_seq} are archived, no longer in the stream: "
                    "run the version that wrote the snapshots, or restore a backup"
                )
        walker = ChainWalker(image_seq, previous)
        walker.feed(link for link in links if link.after >= image_seq)
        records = []
        end = last_seq if to_meta_end else None
        try:
            async for entries in self._entries(client, f"{image_seq + 1}", end):
                for entry in entries:
                    stored = walker.check(entry.seq, entry.format, entry.body, entry.hash)
                    records.append(msgspec.structs.replace(stored, epoch=entry.epoch))
                    walker.accept(entry.seq, entry.hash)
            walker.finish()
            _check_end(walker, last_seq, last_hash)
        except ChainBreak as broken:
            raise broken.error(self.description) from None
        self._last_seq, self._last_hash = walker.seq, walker.previous
        return Recovery(image, image_seq, records, walker.seq, walker.record_hash, notes)

    async def _seal_at_upgrade(self, client: redis.asyncio.Redis) -> None:
        """Seal the snapshots a journal of the unsealed format kept, as they stand now.

        Their early events may be archived and trimmed from the stream, so the journal cannot be
        replayed past them: each one that still matches its event and its recorded digest is
        trusted once, at the upgrade, and sealed after the last event like a new snapshot.
        """
        with self.unavailable("sealing the snapshots kept before the upgrade"):
            meta, _, _ = await _meta(client, self.keys, self.description)
            self._last_seq, self._last_hash = int(meta["last_seq"]), meta["last_hash"]
            self._trimmed_seq = int(meta["trimmed_seq"])
            self._trimmed_hash = meta["trimmed_hash"]
            stored: Any = await client.hgetall(self.keys.snapshots)
        for seq in sorted(int(field) for field in stored):
            try:
                snapshot = _SNAPSHOT_DECODER.decode(stored[str(seq).encode()])
            except msgspec.DecodeError:
                continue  # recovery passes it over, saying so
            with self.unavailable("sealing the snapshots kept before the upgrade"):
                image: Any = await client.get(self.keys.snapshot(seq))
                matches = await self._hash_of(client, seq) == snapshot.hash
            if not matches or image is None or sha256(image) != snapshot.image_sha256:
                continue
            await self.save_snapshot(seq, bytes(image))
            log.warning(
                "snapshot kept before snapshots were sealed: sealed at the upgrade, trusted as "
                "it stands (replay --verify before upgrading checks it against its event)",
                store=self.description,
                seq=seq,
            )

    async def _latest_snapshot(
        self,
        client: redis.asyncio.Redis,
        notes: list[str],
        links: list[SealLink],
        unreadable: frozenset[int],
    ) -> tuple[bytes | None, int, str]:
        stored: Any = await client.hgetall(self.keys.snapshots)
        where = self.description
        for seq in sorted((int(field) for field in stored), reverse=True):
            if seq in unreadable:
                pass_over(where, seq, UNREADABLE_IMAGE, notes, changed=False)
                continue
            try:
                snapshot = _SNAPSHOT_DECODER.decode(stored[str(seq).encode()])
            except msgspec.DecodeError:
                pass_over(where, seq, "it cannot be read", notes, changed=False)
                continue
            if snapshot.format != SNAPSHOT_FORMAT:
                raise JournalFormatError(
                    f"{self.description}: snapshot {seq} has format {snapshot.format}, unknown "
                    f"to this version (reads {SNAPSHOT_FORMAT}); run the version that wrote it"
                )
            if await self._hash_of(client, seq) != snapshot.hash:
                pass_over(where, seq, f"it does not match event {seq}", notes, changed=False)
                continue
            image: Any = await client.get(self.keys.snapshot(seq))
            digest = None if image is None else sha256(image)
            if digest is None or digest != snapshot.image_sha256:
                pass_over(where, seq, "its image is missing or not whole", notes, changed=False)
                continue
            # Only seals the walk from this snapshot passes may vouch for it.
            seals = seals_by_snapshot(link for link in links if link.after >= seq)
            fault = snapshot_fault(seq, snapshot.hash, digest, seals)
            if fault is not None:
                pass_over(where, seq, fault, notes, changed=seq in seals)
                continue
            return bytes(image), seq, snapshot.hash
        return None, 0, GENESIS

    async def _hash_of(self, client: redis.asyncio.Redis, seq: int) -> str | None:
        """Return the hash of record ``seq`` if the stream or the trimmed boundary knows it."""
        if seq == self._trimmed_seq:
            return self._trimmed_hash
        if seq < self._trimmed_seq:
            return None
        found: Any = await client.xrange(self.keys.events, str(seq), str(seq), count=1)
        return text(found[0][1].get(b"hash", b"")) if found else None

    async def _entries(
        self,
        client: redis.asyncio.Redis,
        start: str,
        last: int | None = None,
        chunk: int = READ_CHUNK,
    ) -> AsyncIterator[list[_Entry]]:
        """Yield the stream's entries from id ``start`` up to seq ``last``, a chunk at a time."""
        end = "+" if last is None else str(last)
        while True:
            raw: Any = await client.xrange(self.keys.events, start, end, count=chunk)
            yield [_entry(entry_id, fields) for entry_id, fields in raw]
            if len(raw) < chunk:
                return
            start = "(" + text(raw[-1][0])

    async def _verify(self, client: redis.asyncio.Redis) -> Verification:
        with self.unavailable("verifying"):
            # One read of the end, the seals and the snapshots: the walk stops at that end, so
            # the leader may append, seal and trim meanwhile.
            meta, links, snapshots = await _meta(client, self.keys, self.description)
            last_seq = int(meta["last_seq"])
            trimmed_seq, trimmed_hash = int(meta["trimmed_seq"]), meta["trimmed_hash"]
            if self.archive_dir is None:
                walker = ChainWalker(trimmed_seq, trimmed_hash)
            else:
                walker = ChainWalker()
            walker.watch(snapshots)
            if self.archive_dir is not None:
                result = await anyio.to_thread.run_sync(
                    redis_archive.walk, walker, self.archive_dir, self.domain, trimmed_seq
                )
                if result is not None:
                    return result
            walker.feed(links)
            try:
                async for entries in self._entries(client, "-", last_seq):
                    for entry in entries:
                        event = walker.check(entry.seq, entry.format, entry.body, entry.hash).event
                        if entry.columns != columns(event):
                            raise ChainBreak(
                                entry.seq,
                                f"event {entry.seq}: its fields (at, type, interaction_id) do "
                                "not match its body (changed after it was written)",
                            )
                        walker.accept(entry.seq, entry.hash)
                walker.finish()
                _check_end(walker, last_seq, meta["last_hash"])
            except ChainBreak as broken:
                return walker.verification(broken)
            findings = []
            for seq, description in sorted(snapshots.items()):
                image: Any = await client.get(self.keys.snapshot(seq))
                if image is None:
                    continue  # dropped since, by a newer snapshot: nothing left to load
                if description is None:
                    findings.append((f"snapshot {seq}: its description cannot be read", True))
                    continue
                findings.append(walker.snapshot_finding(seq, description.hash, sha256(image)))
        return walker.verification().with_snapshots(findings)


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> _Entry:
    """Return a stream entry as a record; ``ChainBreak`` if it is not one."""
    seq_text, _, epoch_text = text(entry_id).partition("-")
    seq = int(seq_text)
    try:
        interaction = fields[b"interaction_id"]
        return _Entry(
            seq,
            int(epoch_text),
            int(fields[b"format"]),
            fields[b"body"],
            text(fields[b"hash"]),
            (int(fields[b"at"]), text(fields[b"type"]), int(interaction) if interaction else None),
        )
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ChainBreak(
            seq, f"event {seq}: its stream entry is not a record ({type(exc).__name__}: {exc})"
        ) from None


def _check_end(walker: ChainWalker, last_seq: int, last_hash: str) -> None:
    """Raise ``ChainBreak`` if the stream does not end where the journal's meta says it does."""
    if walker.seq < last_seq:
        first = walker.seq + 1
        missing = f"event {first}" if first == last_seq else f"events {first} to {last_seq}"
        raise ChainBreak(
            first, f"{missing} missing: the stream ends at {walker.seq}, the journal at {last_seq}"
        )
    if walker.seq > last_seq:
        raise ChainBreak(
            last_seq + 1,
            f"events {last_seq + 1} to {walker.seq} are past the journal's last event "
            f"{last_seq} (written outside the journal)",
        )
    if walker.previous != last_hash:
        raise ChainBreak(
            last_seq, f"event {last_seq}: its hash is not the one the journal recorded as its last"
        )


async def _meta(
    client: redis.asyncio.Redis, keys: DomainKeys, where: str
) -> tuple[dict[str, str], list[SealLink], dict[int, _Snapshot | None]]:
    """Return a journal's meta hash, its seals and its snapshots' descriptions, read at once.

    Refuse a domain without a journal, or of an unknown format.
    """
    async with client.pipeline(transaction=True) as reads:
        reads.hgetall(keys.meta)
        reads.xrange(keys.seals)
        reads.hgetall(keys.snapshots)
        found, seals, snapshots = await reads.execute()
    meta = {text(field): text(value) for field, value in found.items()}
    if not meta:
        raise JournalError(
            f"{where}: no journal here (the key {keys.meta} does not exist); check the URL and "
            "the domain"
        )
    if meta.get("journal_format") not in (str(JOURNAL_FORMAT), str(UNSEALED_FORMAT)):
        raise _format_error(where, meta.get("journal_format"))
    links = [_link(entry_id, fields) for entry_id, fields in seals]
    return meta, links, {int(seq): _description(body) for seq, body in snapshots.items()}


def _link(entry_id: bytes, fields: dict[bytes, bytes]) -> SealLink:
    """Return a seal's stream entry as a link (one that is not a seal fails the chain walk)."""
    after = int(text(entry_id).partition("-")[0])
    return SealLink(after, fields.get(b"body", b""), text(fields.get(b"hash", b"")))


def _description(body: bytes) -> _Snapshot | None:
    try:
        return _SNAPSHOT_DECODER.decode(body)
    except msgspec.DecodeError:
        return None


async def _seal_links(
    client: redis.asyncio.Redis, keys: DomainKeys, start: str, end: str
) -> list[tuple[int, SealLink]]:
    """Return the seals from stream id ``start`` to ``end`` with the epoch of their writer."""
    raw: Any = await client.xrange(keys.seals, start, end)
    links = []
    for entry_id, fields in raw:
        epoch = int(fields.get(b"epoch", b"0"))
        links.append((epoch, _link(entry_id, fields)))
    return links


def _format_error(where: str, found: str | None) -> JournalFormatError:
    return JournalFormatError(
        f"{where}: journal format {found} is unknown to this version (reads up to "
        f"{JOURNAL_FORMAT}); run the version of Aiguillage that wrote it (or a newer one)"
    )


async def read_url(
    url: str, domain: str, archive_dir: Path | None, *, page: int = READ_CHUNK
) -> AsyncIterator[list[Record]]:
    """Yield a domain's records in order, a page at a time, without taking its lease: those
    trimmed from the stream from the archive files in ``archive_dir``, then the stream's.

    It runs beside the daemon that leads; ``JournalUnavailable`` when archived records are
    needed and the directory does not hold them all (it says which).
    """
    reader = RedisJournal(url, domain=domain, archive_dir=archive_dir)
    async with reader._connect() as client:
        reader._redis = client
        try:
            with reader.unavailable("reading"):
                meta, _, _ = await _meta(client, reader.keys, reader.description)
            reader._trimmed_seq = int(meta["trimmed_seq"])
            after = 0
            while True:
                records = await reader.records_after(after, page)
                if records:
                    yield records
                if len(records) < page:
                    return
                after = records[-1].seq
        finally:
            reader._redis = None


async def verify_url(url: str, domain: str, archive_dir: Path | None) -> Verification:
    """Walk the chain of a domain's journal, archive then stream, without taking its lease.

    It runs beside the daemon that leads. Without an ``archive_dir``, the walk starts at the
    trimmed boundary and checks the stream only.
    """
    reader = RedisJournal(url, domain=domain, archive_dir=archive_dir)
    async with reader._connect() as client:
        return await reader._verify(client)


if TYPE_CHECKING:

    def _is_a_journal(journal: RedisJournal) -> Journal:
        return journal
