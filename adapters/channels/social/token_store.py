"""One channel's OAuth grant (access token, refresh token, expiry, scopes), encrypted at rest.

The file holds ``AGT1`` + a 12-byte nonce + the AES-256-GCM encryption of the grant's JSON,
with the channel's name as associated data (a file copied to another channel does not open).
The 32-byte key is read, base64 (standard or URL-safe), from an environment variable named in
the configuration; ``new_key`` makes one. A file is written whole or not at all (a temporary
file, fsync, rename, fsync of the directory), readable by its owner only (mode 0600), so a
refresh token the platform rotated is on disk before the one it replaces is forgotten.
``locked()`` holds an advisory lock (``<file>.lock``) across processes around a refresh or an
authorisation, so that two never spend the same refresh token (a rotating platform would
revoke the grant) nor write over each other.

Errors (``StoreError``) name the file and what to do: a key missing or of the wrong length, a
file that does not open with the key given (another key, or the file was altered), a file that
is not a token store.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Grant", "StoreError", "TokenStore", "new_key"]

_MAGIC = b"AGT1"
_NONCE = 12


class StoreError(Exception):
    """The token store cannot be read or written; the message names the file and the fix."""


class Grant(msgspec.Struct, kw_only=True):
    """What the platform's token endpoint granted (RFC 6749, section 5.1)."""

    access_token: str
    refresh_token: str = ""
    expires_at: float | None = None
    """When the access token expires, in seconds since the epoch; None: not said."""
    scopes: list[str] = []
    token_type: str = "Bearer"
    obtained_at: float = 0.0


def new_key() -> str:
    """A new random 256-bit key, URL-safe base64, for the store's key variable."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class TokenStore:
    """The encrypted file of one channel's grant (see the module docstring)."""

    def __init__(self, path: str | Path, *, key_env: str, channel: str) -> None:
        self.path = Path(path)
        self.key_env = key_env
        self.channel = channel

    def _cipher(self) -> AESGCM:
        raw = os.environ.get(self.key_env, "").strip()
        if not raw:
            raise StoreError(
                f"{self.path}: set the environment variable {self.key_env} to the store's key "
                "(make one with `aiguillage channel new-key`)"
            )
        try:
            padded = raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4)
            key = base64.urlsafe_b64decode(padded)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise StoreError(
                f"{self.path}: {self.key_env} is not a 32-byte key in base64 "
                "(make one with `aiguillage channel new-key`)"
            )
        return AESGCM(key)

    def check_key(self) -> None:
        """Raise ``StoreError`` unless the key variable holds a key of the right length."""
        self._cipher()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock (blocking) while the block reads, refreshes and writes."""
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"{lock}: cannot be opened ({exc.strerror})") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def stamp(self) -> tuple[int, int] | None:
        """The file's modification time and size, or None when it does not exist."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def load(self) -> Grant | None:
        """The grant kept, or None when the store does not exist yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot be read ({exc.strerror})") from None
        if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _NONCE + 16:
            raise StoreError(
                f"{self.path}: not a token store; run `aiguillage channel authorize "
                f"{self.channel}` to write one"
            )
        nonce = data[len(_MAGIC) : len(_MAGIC) + _NONCE]
        try:
            plain = self._cipher().decrypt(nonce, data[len(_MAGIC) + _NONCE :], self._aad())
        except InvalidTag:
            raise StoreError(
                f"{self.path}: does not open with the key in {self.key_env} (another key, or the "
                "file was altered); set the key it was written with, or run `aiguillage channel "
                f"authorize {self.channel}` to write it again"
            ) from None
        try:
            return msgspec.json.decode(plain, type=Grant)
        except msgspec.ValidationError as exc:
            raise StoreError(f"{self.path}: the grant kept is not readable ({exc})") from None

    def save(self, grant: Grant) -> None:
        """Write ``grant`` in place of the one kept, atomically and durably (mode 0600)."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._cipher().encrypt(nonce, msgspec.json.encode(grant), self._aad())
        directory = self.path.parent
        temporary = directory / f".{self.path.name}.{secrets.token_hex(4)}.partial"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(_MAGIC + nonce + sealed)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()
            folder = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot be written ({exc.strerror})") from None

    def _aad(self) -> bytes:
        return b"aiguillage-oauth:" + self.channel.encode()
