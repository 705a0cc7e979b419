"""Signing the authority's reports with Ed25519, and checking a signature, with ``cryptography``.

A signed report is its JSON object with one member added, ``signature``::

    {"algorithm": "Ed25519", "public_key": "<32 bytes, base64>", "value": "<64 bytes, base64>"}

``value`` signs the object without ``signature``, encoded canonically: JSON with every object's
keys sorted and no spaces (``canonical``), so a reader that decodes and re-encodes it checks the
same bytes. The key files are PEM (PKCS #8 private, SubjectPublicKeyInfo public, as
``openssl genpkey -algorithm ed25519`` and ``openssl pkey -pubout`` write them) or the raw 32
bytes. The public key a report carries says which key signed it; only a key the authority holds
(``--public-key``) says the operator did.

Exceptions::

    SigningError    a key file that cannot be used; the message names it and what to do
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALGORITHM",
    "SigningError",
    "canonical",
    "load_private_key",
    "load_public_key",
    "public_bytes",
    "sign",
    "signature_problem",
]

ALGORITHM = "Ed25519"


class SigningError(ValueError):
    """A key file that cannot be used."""


def canonical(document: Any) -> bytes:
    """The bytes a signature covers: JSON, object keys sorted, no spaces."""
    return msgspec.json.encode(document, order="sorted")


def load_private_key(path: Path, where: str) -> Ed25519PrivateKey:
    """Read an Ed25519 private key; ``where`` (``config.toml: reports.signing_key``) names the
    setting in errors."""
    data = _read(path, where)
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"{where}: {path} is not an unencrypted PEM private key ({exc}); write one with "
            "`openssl genpkey -algorithm ed25519 -out reports.pem`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{where}: {path} is not an Ed25519 key; reports are signed with one")
    return key


def load_public_key(path: Path, where: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM or 32 raw bytes)."""
    data = _read(path, where)
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"{where}: {path} is not a PEM public key ({exc}); the operator gives it with "
            "`openssl pkey -in reports.pem -pubout -out reports.pub.pem`"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{where}: {path} is not an Ed25519 public key")
    return key


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(body: bytes, key: Ed25519PrivateKey) -> bytes:
    """Return a report's JSON object (``body``) with its ``signature`` added."""
    document = msgspec.json.decode(body)
    if not isinstance(document, dict):
        raise TypeError("only a JSON object is signed")
    document.pop("signature", None)
    signature = {
        "algorithm": ALGORITHM,
        "public_key": _b64(public_bytes(key.public_key())),
        "value": _b64(key.sign(canonical(document))),
    }
    return msgspec.json.encode({**document, "signature": signature})


def signature_problem(document: dict[str, Any], holder: Ed25519PublicKey | None) -> str | None:
    """Why a report's signature does not vouch for it, or ``None`` when it does.

    With ``holder`` (the public key the authority holds), the report must be signed by it;
    without, by the key it carries."""
    signature = document.get("signature")
    if signature is None:
        return "the report is not signed"
    try:
        if signature["algorithm"] != ALGORITHM:
            return f"the report is signed with {signature['algorithm']!r}, not {ALGORITHM}"
        carried = base64.b64decode(signature["public_key"], validate=True)
        value = base64.b64decode(signature["value"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(carried)
    except (KeyError, TypeError, ValueError):
        return "the report's signature is not one this version reads"
    if holder is not None and public_bytes(holder) != carried:
        return "the report is signed with another key than the public key given"
    unsigned = {name: member for name, member in document.items() if name != "signature"}
    try:
        key.verify(value, canonical(unsigned))
    except InvalidSignature:
        return "the signature does not match the report: it changed after it was signed"
    return None


def _read(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(
            f"{where}: cannot read {path} ({exc.strerror or exc}); give the path of the key file"
        ) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
