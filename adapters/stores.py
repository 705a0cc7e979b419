"""Where a daemon keeps its data: the ``--store`` URL and the files it names."""

from __future__ import annotations

from pathlib import Path

from .config import LoadedConfig

__all__ = ["StoreError", "personal_path_of", "store_path"]


class StoreError(ValueError):
    """A ``--store`` URL this daemon cannot use; the message says which forms it accepts."""


def store_path(url: str | None, loaded: LoadedConfig) -> Path:
    """Return the journal file a ``--store`` URL names (default: ``data_dir/journal.sqlite``).

    ``sqlite:///var/journal.sqlite`` is relative to the working directory and
    ``sqlite:////var/lib/aiguillage/journal.sqlite`` absolute, as in SQLAlchemy's URLs.
    """
    if url is None:
        return Path(loaded.settings.deployment.data_dir) / "journal.sqlite"
    prefix = "sqlite:///"
    if url.startswith(("redis://", "rediss://")):
        raise StoreError(
            f"{url}: the Redis journal is not part of this version; use sqlite:///PATH"
        )
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreError(
            f"{url}: give sqlite:///relative/path.sqlite or sqlite:////absolute/path.sqlite"
        )
    return Path(url[len(prefix) :])


def personal_path_of(journal: Path) -> Path:
    """Return where the erasable personal-data store of a journal file lives (beside it)."""
    return journal.with_name(journal.stem + ".personal.sqlite")
