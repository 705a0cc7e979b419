"""Personal data in Redis: beside a domain's journal, written only by the journal's writer.

The same interface and meaning as ``sqlite.personal.SQLitePersonalStore`` (see
``stores.personal`` for the seal: the journal keeps a salted digest, this store the salt and the
data, and erasing them leaves the chain whole). An interaction's pieces are the fields of the
hash ``aiguillage:{domain}:personal:<id>`` (digest → msgpack of salt, canonical JSON,
stored_at); each piece's age is a member ``<id>:<digest>`` of the sorted set
``aiguillage:{domain}:personal:stored``, for the retention purge and for the recovery's look at
what the last batches stored. The key for external ids is ``aiguillage:{domain}:personal:key``
(``redis_keys``).

The addresses each piece names are indexed by their keyed digests (``stores.subjects``), as the
SQLite store's ``subjects`` table does: the set ``subjects:<digest>`` holds the ids of the
interactions naming that address, and ``personal:<id>:subjects`` the digests an interaction's
pieces name, so that erasing its last piece takes its ids out of those sets (and the sets out of
Redis when they empty) in the same script. A search is one read of one set. ``personal:indexed``
holds the epoch of the latest leader that kept the index: after a writer that kept none (a
version before the index, a standby not upgraded yet), the next leader indexes every piece, a
page at a time, and removes the index entries of what that writer erased. Records written by an
earlier version (a field ``<id>`` of the hash ``aiguillage:{domain}:personal``, a member
``<id>`` of the sorted set) are moved to this layout when a leader opens the store, and only
then: a command beside a leader (``RedisJournal.attach``) that finds such records refuses to
run, for that leader may be of the earlier version, and would no longer read nor erase the
records moved from under it.

The store shares the journal's connection and its epoch: every write (put, erase, purge,
discard) runs in a script (``redis.personal_scripts``) that first checks the epoch, like an
append. After a failover that lost recent writes, the new leader reuses interaction ids; a
paused former leader must not overwrite or erase, under such an id, another customer's data.

What erasure means in Redis: the record leaves the server's memory at once, and nothing reads
it again. The append-only file still holds the commands that wrote it until Redis rewrites that
file from its memory, so after an erasure the store asks for ``BGREWRITEAOF`` (a rewrite forks
the server and writes the whole dataset): at once for its first erasure, otherwise at its first
erasure (on request, or by the daily retention pass) or purge an hour or more after its previous
request. The spacing is each store's, so each process's: a daemon asks at most once an hour, but
a daemon that starts asks again at its first erasure, and so does every command that erases
beside it (``aiguillage erase``, ``retention --apply``). A refused request (a rewrite already
running, the command renamed) is logged and asked again by the same rule, so never by a command
that has ended. Until the rewrite, the data remains in the AOF files; it also remains in RDB
files if ``save`` is configured, in replicas until they rewrite their own, and in backups:
rotate those, and encrypt the volume for what the file system keeps of freed blocks.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import redis.exceptions
import structlog

from aiguillage.adapters.stores.journal import JournalError, JournalUnavailable
from aiguillage.adapters.stores.personal import KEY_BYTES, Sealed, digest
from aiguillage.adapters.stores.redis.personal_scripts import PersonalScripts, register
from aiguillage.adapters.stores.redis.scripts import text
from aiguillage.adapters.stores.subjects import subject_keys
from aiguillage.engine.instants import Instant

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from aiguillage.adapters.stores.redis.journal import RedisJournal

__all__ = ["REWRITE_SPACING_S", "RedisPersonalStore"]

REWRITE_SPACING_S = 3600.0
"""The least time between two requests to rewrite the AOF after erasures."""
_PURGE_CHUNK = 1000
"""Pieces purged per script call, so that one call never holds the server long."""
_INDEX_PAGE = 200
"""Pieces read at a time to index the addresses of those stored before the index: attachments
make pieces large."""

log = structlog.get_logger("aiguillage.redis_personal")

_SEALED = msgspec.msgpack.Encoder()
_PIECE = msgspec.msgpack.Decoder(tuple[bytes, bytes, int])
_DATA: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])
_EARLIER = msgspec.msgpack.Decoder(tuple[bytes, bytes])


class RedisPersonalStore:
    """Sealed personal data in the journal's Redis, written under its epoch."""

    def __init__(self, journal: RedisJournal) -> None:
        self.description = f"{journal.description}, personal data"
        self._journal = journal
        self._scripts: PersonalScripts | None = None
        self._key: bytes | None = None
        self._rewrite_pending = False
        self._rewrite_asked: float | None = None

    async def open(self) -> None:
        """Get ready on the journal's connection, move an earlier version's records to this
        layout (a leader; ``JournalError`` beside one when there are such records) and index
        the addresses of pieces stored before the index; ``JournalUnavailable`` if it is not
        open, ``JournalFenced``."""
        self._scripts = register(self._journal.connection())
        self._key = None
        if self._journal.leads:
            await self._move_earlier_records()
        else:
            await self._refuse_earlier_records()
        await self._index_earlier_pieces()

    async def external_id_key(self) -> bytes:
        """Return the domain's key for external ids; the first writer to ask makes it."""
        self._open()
        if self._key is not None:
            return self._key
        journal = self._journal
        client = journal.connection()
        with journal.unavailable("reading the external-id key"):
            await client.set(journal.keys.personal_key, secrets.token_bytes(KEY_BYTES), nx=True)
            key: Any = await client.get(journal.keys.personal_key)
        if key is None:  # pragma: no cover - deleted between the two calls
            raise JournalUnavailable(f"{self.description}: the external-id key vanished")
        self._key = bytes(key)
        return self._key

    async def put_many(self, rows: Sequence[Sealed]) -> None:
        """Store pieces and index the addresses they name, durable on return."""
        keys = self._journal.keys
        key = await self.external_id_key() if rows else b""
        touched, arguments = [], []
        for piece in rows:
            subjects = sorted(subject_keys(key, _DATA.decode(piece.data)))
            touched += [
                keys.personal_of(piece.interaction_id),
                keys.personal_subjects_of(piece.interaction_id),
                *(keys.subject(subject) for subject in subjects),
            ]
            value = _SEALED.encode((piece.salt, piece.data, piece.stored_at))
            member = f"{piece.interaction_id}:{piece.digest}"
            arguments += [piece.digest, value, piece.stored_at, member, piece.interaction_id]
            arguments += [len(subjects), *subjects]
        if touched:
            await self._write(self._open().put, touched, arguments, "storing personal data")

    async def get(self, interaction_id: int) -> list[Sealed]:
        """Return every piece stored under an interaction's id, unchecked."""
        self._open()
        journal = self._journal
        client = journal.connection()
        with journal.unavailable("reading personal data"):
            fields: Any = await client.hgetall(journal.keys.personal_of(interaction_id))
        pieces = []
        for field, value in fields.items():
            salt, data, stored_at = _PIECE.decode(value)
            pieces.append(Sealed(interaction_id, field.decode(), salt, data, stored_at))
        return pieces

    async def erase(self, interaction_id: int) -> bool:
        """Erase an interaction's pieces and its addresses' index entries (see the module
        docstring); False if none."""
        erased = await self._discard({interaction_id: None}, "erasing personal data")
        await self._rewrite(erased)
        return erased > 0

    async def purge(self, before: Instant) -> int:
        """Erase every piece stored before ``before`` (the retention period); how many."""
        journal = self._journal
        erased = 0
        while True:
            self._open()
            with journal.unavailable("purging personal data"):
                members: Any = await journal.connection().zrangebyscore(
                    journal.keys.personal_stored, "-inf", f"({before}", 0, _PURGE_CHUNK
                )
            if not members:
                break
            erased += await self._discard_members([m.decode() for m in members], "purging")
        await self._rewrite(erased)
        return erased

    async def stored_since(self, since: Instant) -> list[tuple[int, str]]:
        """Return (interaction id, digest) of the pieces stored at or after ``since``."""
        self._open()
        journal = self._journal
        client = journal.connection()
        with journal.unavailable("reading personal data"):
            members: Any = await client.zrangebyscore(journal.keys.personal_stored, since, "+inf")
        pieces = []
        for member in members:
            interaction_id, _, piece = member.decode().partition(":")
            pieces.append((int(interaction_id), piece))
        return pieces

    async def find_subject(self, subject: str) -> list[int]:
        """Return the interactions with a piece naming the address ``subject`` digests: one
        read of that address's set (``subjects:<digest>``)."""
        self._open()
        journal = self._journal
        with journal.unavailable("reading the address index"):
            found: Any = await journal.connection().smembers(journal.keys.subject(subject))
        return sorted(int(interaction_id) for interaction_id in found)

    async def stored_between(
        self, since: Instant, before: Instant, limit: int, *, tidy: bool = True
    ) -> list[Sealed]:
        """Return up to ``limit`` pieces stored from ``since`` to before ``before``, oldest
        first.

        A member of ``personal:stored`` whose piece is gone (an orphan: left by a version that
        erased the hash alone, or by hand) is passed over, the read going on past it so that a
        short page still means the end, and removed unless ``tidy`` is false.
        """
        self._open()
        journal = self._journal
        client = journal.connection()
        pieces: list[Sealed] = []
        orphans: list[str] = []
        offset = 0
        while len(pieces) < limit:
            wanted = limit - len(pieces)
            with journal.unavailable("reading personal data"):
                raw: Any = await client.zrangebyscore(
                    journal.keys.personal_stored, since, f"({before}", offset, wanted
                )
                members = [m.decode() for m in raw]
                async with client.pipeline(transaction=False) as reads:
                    for member in members:
                        interaction_id, _, piece = member.partition(":")
                        reads.hget(journal.keys.personal_of(int(interaction_id)), piece)
                    values: list[Any] = await reads.execute() if members else []
            for member, value in zip(members, values, strict=True):
                interaction_id, _, piece = member.partition(":")
                if value is None:
                    orphans.append(member)
                    continue
                salt, data, stored_at = _PIECE.decode(value)
                pieces.append(Sealed(int(interaction_id), piece, salt, data, stored_at))
            offset += len(members)
            if len(members) < wanted:
                break
        if orphans and tidy:
            await self._forget(orphans)
        return pieces

    async def discard(self, pieces: Sequence[tuple[int, str]]) -> int:
        """Erase these pieces (interaction id, digest) for good; how many there were."""
        if not pieces:
            return 0
        members = [f"{interaction_id}:{piece}" for interaction_id, piece in pieces]
        erased = await self._discard_members(members, "discarding")
        await self._rewrite(erased)
        return erased

    async def close(self) -> None:
        """Forget the scripts; the connection is the journal's, and the journal closes it."""
        self._scripts = None

    async def _discard_members(self, members: list[str], doing: str) -> int:
        """Erase the pieces named by their members of ``personal:stored`` (``<id>:<digest>``)."""
        pieces: dict[int, list[str] | None] = {}
        for member in members:
            interaction_id, _, piece = member.partition(":")
            named = pieces.setdefault(int(interaction_id), [])
            assert named is not None
            named.append(piece)
        return await self._discard(pieces, f"{doing} personal data")

    async def _discard(self, pieces: dict[int, list[str] | None], doing: str) -> int:
        """Erase the pieces named (``None``: all) of each interaction, and the index entries of
        an interaction left without any, in one script; how many pieces there were."""
        if not pieces:
            return 0
        journal = self._journal
        keys = journal.keys
        ids = sorted(pieces)
        for _ in range(5):  # a piece stored meanwhile named a new address: read them again
            with journal.unavailable(doing):
                async with journal.connection().pipeline(transaction=False) as reads:
                    for interaction_id in ids:
                        reads.smembers(keys.personal_subjects_of(interaction_id))
                    named: list[Any] = await reads.execute()
            touched, arguments = [], []
            for interaction_id, subjects in zip(ids, named, strict=True):
                digests = pieces[interaction_id]
                addresses = sorted(subject.decode() for subject in subjects)
                touched += [
                    keys.personal_of(interaction_id),
                    keys.personal_subjects_of(interaction_id),
                    *(keys.subject(address) for address in addresses),
                ]
                arguments += [interaction_id, "all" if digests is None else len(digests)]
                arguments += [len(addresses), *(digests or ()), *addresses]
            found = await journal.write_fenced(
                self._open().discard, (keys.personal_stored, *touched), arguments, doing
            )
            if found[0] == "erased":
                return int(found[1])
        raise JournalUnavailable(f"{self.description}: {doing}: its addresses kept changing")

    async def _forget(self, orphans: list[str]) -> None:
        """Remove members of ``personal:stored`` whose piece is gone (checked again in the
        script: a piece stored meanwhile under the same member stays)."""
        keys = self._journal.keys
        hashes, arguments = [], []
        for member in orphans:
            interaction_id, _, piece = member.partition(":")
            hashes.append(keys.personal_of(int(interaction_id)))
            arguments += [piece, member]
        removed = await self._write(
            self._open().forget, hashes, arguments, "removing orphan index entries"
        )
        if removed:
            log.warning(
                "index entries of personal data whose piece is gone were removed",
                store=self.description,
                removed=removed,
            )

    async def _index_earlier_pieces(self) -> None:
        """Index the addresses of the pieces a writer without the index stored, if one may have.

        ``personal:indexed`` holds the epoch of the latest leader that kept the index. A leader
        whose epoch follows it has nothing to index and moves it to its own; otherwise a writer
        that kept none led in between (a version before the index, a standby not upgraded yet)
        or none ever did: every piece is read, a page at a time (ZSCAN returns every member
        held throughout), its addresses indexed, and the index entries of interactions that
        writer erased are removed. A command beside the leader (``attach``) does the same when
        the leader's epoch is not the mark's, and moves no mark.
        """
        journal = self._journal
        keys = journal.keys
        client = journal.connection()
        with journal.unavailable("reading the address index"):
            found: Any = await client.get(keys.personal_indexed)
        mark = None if found is None else int(found)
        last = str(journal.epoch) if journal.leads else ""
        if mark is not None and (
            mark == journal.epoch or (journal.leads and mark == journal.epoch - 1)
        ):
            if last and mark != journal.epoch:
                await self._index({}, last)
            return
        key = await self.external_id_key()
        cursor, indexed = 0, 0
        while True:
            with journal.unavailable("indexing the addresses of personal data"):
                scanned: Any = await client.zscan(keys.personal_stored, cursor, count=_INDEX_PAGE)
                cursor, members = scanned
                names = [member.decode() for member, _ in members]
                async with client.pipeline(transaction=False) as reads:
                    for member in names:
                        interaction_id, _, piece = member.partition(":")
                        reads.hget(keys.personal_of(int(interaction_id)), piece)
                    values: list[Any] = await reads.execute() if names else []
            addresses: dict[int, set[str]] = {}
            for member, value in zip(names, values, strict=True):
                if value is not None:
                    _, data, _ = _PIECE.decode(value)
                    named = subject_keys(key, _DATA.decode(data))
                    if named:
                        addresses.setdefault(int(member.partition(":")[0]), set()).update(named)
            if cursor == 0:
                await self._forget_erased()
            await self._index(addresses, last if cursor == 0 else "")
            indexed += len(addresses)
            if cursor == 0:
                if indexed:
                    log.info("addresses of personal data indexed", interactions=indexed)
                return

    async def _index(self, addresses: dict[int, set[str]], mark: str) -> None:
        """Index the addresses each interaction's pieces name; then mark the index as kept up
        to epoch ``mark`` (none if empty)."""
        keys = self._journal.keys
        touched: list[str] = []
        arguments: list[Any] = [mark]
        for interaction_id, subjects in sorted(addresses.items()):
            touched += [
                keys.personal_of(interaction_id),
                keys.personal_subjects_of(interaction_id),
                *(keys.subject(subject) for subject in sorted(subjects)),
            ]
            arguments += [interaction_id, len(subjects), *sorted(subjects)]
        await self._journal.write_fenced(
            self._open().index_earlier,
            (keys.personal_indexed, *touched),
            arguments,
            "indexing the addresses of personal data",
        )

    async def _forget_erased(self) -> None:
        """Remove the index entries of interactions without pieces (erased by a writer that
        kept no index), a page of ``personal:<id>:subjects`` keys at a time.

        The script is given no piece to erase: it drops an interaction's entries only if its
        hash is still gone when it runs, so a piece a leader stored after the read stays.
        """
        journal = self._journal
        keys = journal.keys
        client = journal.connection()
        pattern = keys.personal_subjects_of(0).replace(":0:", ":*:")
        with journal.unavailable("reading the address index"):
            named = [
                int(text(found).split(":")[-2])
                async for found in client.scan_iter(pattern, count=_INDEX_PAGE)
            ]
        for first in range(0, len(named), _INDEX_PAGE):
            page = named[first : first + _INDEX_PAGE]
            with journal.unavailable("reading the address index"):
                async with client.pipeline(transaction=False) as reads:
                    for interaction_id in page:
                        reads.exists(keys.personal_of(interaction_id))
                    held: list[Any] = await reads.execute()
            gone: dict[int, list[str] | None] = {
                i: [] for i, exists in zip(page, held, strict=True) if not exists
            }
            await self._discard(gone, "removing the address index of erased interactions")

    async def _move_earlier_records(self) -> None:
        """Move the records of an earlier version (one per interaction) to pieces, a chunk at
        a time; each keeps its salt, data and age, and gets its digest computed again."""
        journal = self._journal
        keys = journal.keys
        client = journal.connection()
        cursor = 0
        while True:
            with journal.unavailable("moving personal data to pieces"):
                scanned: Any = await client.hscan(keys.personal, cursor, count=_PURGE_CHUNK)
                cursor, records = scanned
                ids = [field.decode() for field in records]
                ages: Any = await client.zmscore(keys.personal_stored, ids) if ids else []
            hashes, arguments = [], []
            for (field, value), age in zip(records.items(), ages, strict=True):
                salt, data = _EARLIER.decode(value)
                stored_at = int(age or 0)
                hashes.append(keys.personal_of(int(field)))
                piece = _SEALED.encode((salt, data, stored_at))
                arguments += [int(field), digest(salt, data), piece, stored_at]
            if hashes:
                await journal.write_fenced(
                    self._open().move,
                    (keys.personal_stored, keys.personal, *hashes),
                    arguments,
                    "moving personal data to pieces",
                )
                log.info("personal data moved to pieces", records=len(hashes))
            if cursor == 0:
                return

    async def _refuse_earlier_records(self) -> None:
        """Refuse to work beside a leader while records of an earlier version are held."""
        journal = self._journal
        with journal.unavailable("reading personal data"):
            earlier: Any = await journal.connection().hlen(journal.keys.personal)
        if earlier:
            raise JournalError(
                f"{self.description}: records of an earlier version are held in its layout "
                f"(interactions: {earlier}), which a leader of this version moves when it "
                "starts; the leader is of an earlier version: run this after the upgrade"
            )

    async def _write(
        self, script: AsyncScript, keys: list[str], arguments: list[Any], doing: str
    ) -> int:
        found = await self._journal.write_fenced(
            script, (self._journal.keys.personal_stored, *keys), arguments, doing
        )
        return int(found[0]) if found else 0

    async def _rewrite(self, erased: int) -> None:
        """Ask Redis to rewrite its AOF without the erased data, at most once an hour from this
        store (each process keeps its own spacing)."""
        self._rewrite_pending = self._rewrite_pending or erased > 0
        now = time.monotonic()
        if not self._rewrite_pending or (
            self._rewrite_asked is not None and now - self._rewrite_asked < REWRITE_SPACING_S
        ):
            return
        self._rewrite_asked = now
        try:
            await self._journal.connection().bgrewriteaof()
        except redis.exceptions.RedisError as exc:
            log.warning(
                "erased personal data stays in Redis's AOF files until a rewrite: the request "
                "was refused, and is made again at this store's next erasure or purge an hour "
                "or more from now",
                store=self.description,
                error=str(exc),
            )
            return
        self._rewrite_pending = False

    def _open(self) -> PersonalScripts:
        if self._scripts is None:
            raise JournalUnavailable(f"{self.description} is not open")
        return self._scripts
