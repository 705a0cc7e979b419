"""Where a daemon keeps its data: the ``--store`` URL, and the stores it names.

``sqlite:///relative/journal.sqlite`` or ``sqlite:////absolute/journal.sqlite`` (as in
SQLAlchemy's URLs; the default is ``journal.sqlite`` in ``[deployment] data_dir``): the embedded
journal, with its personal-data store beside it. ``redis://[[user]:password@]host[:port][/db]``
(or ``rediss://`` for TLS): the journal of the deployment's routing domain on a Redis server,
its personal data in the same server, its archive in ``[daemon] archive_dir``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from aiguillage.adapters.config.settings import LoadedConfig

__all__ = ["RedisStore", "SQLiteStore", "StoreError", "personal_path_of", "store_of"]


class StoreError(ValueError):
    """A ``--store`` URL this daemon cannot use; the message says which forms it accepts."""


class SQLiteStore(msgspec.Struct, frozen=True):
    """The embedded journal: one SQLite file, and its personal-data store beside it."""

    path: Path

    @property
    def personal_path(self) -> Path:
        return personal_path_of(self.path)


class RedisStore(msgspec.Struct, frozen=True):
    """The journal of one routing domain on a Redis server."""

    url: str
    domain: str
    archive_dir: Path


_FORMS = (
    "give sqlite:///relative/path.sqlite, sqlite:////absolute/path.sqlite or "
    "redis://[[user]:password@]host[:port][/db]"
)


def store_of(url: str | None, loaded: LoadedConfig) -> SQLiteStore | RedisStore:
    """Return the store a ``--store`` URL names (default: ``data_dir/journal.sqlite``)."""
    data_dir = Path(loaded.settings.deployment.data_dir)
    if url is None:
        return SQLiteStore(data_dir / "journal.sqlite")
    prefix = "sqlite:///"
    if url.startswith(prefix) and len(url) > len(prefix):
        return SQLiteStore(Path(url[len(prefix) :]))
    if url.startswith(("redis://", "rediss://")):
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 - reading it validates it
        except ValueError:
            raise StoreError(f"{_shown(url)}: the port is not a number; {_FORMS}") from None
        database = parts.path.strip("/")
        if not parts.hostname or (database and not database.isdigit()):
            raise StoreError(
                f"{_shown(url)}: no host, or a database that is not a number; {_FORMS}"
            )
        archive = loaded.settings.daemon.archive_dir
        return RedisStore(
            url,
            loaded.settings.deployment.domain,
            Path(archive) if archive else data_dir / "archive",
        )
    raise StoreError(f"{_shown(url)}: {_FORMS}")


def _shown(url: str) -> str:
    """Return a URL fit for an error message: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def personal_path_of(journal: Path) -> Path:
    """Return where the erasable personal-data store of a journal file lives (beside it)."""
    return journal.with_name(journal.stem + ".personal.sqlite")
