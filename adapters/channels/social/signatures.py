"""Webhook signatures: an HMAC-SHA256 of the raw body, checked in constant time.

The platforms sign the bytes they send: Meta ``X-Hub-Signature-256: sha256=<hex>`` keyed with
the app secret; X ``x-twitter-webhooks-signature: sha256=<base64>`` keyed with the consumer
secret. The signature is computed over the body exactly as received, never over a parsed and
re-serialised copy: Meta escapes non-ASCII characters as ``\\uXXXX`` and the platforms choose
their own spacing, so a re-serialised body would not match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

__all__ = ["Encoding", "sign", "verify"]

Encoding = Literal["hex", "base64"]


def sign(secret: bytes, body: bytes, encoding: Encoding = "hex", prefix: str = "sha256=") -> str:
    """Return ``prefix`` + the HMAC-SHA256 of ``body`` keyed with ``secret``."""
    digest = hmac.new(secret, body, hashlib.sha256).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")
    return prefix + text


def verify(
    secret: bytes, body: bytes, given: str, encoding: Encoding = "hex", prefix: str = "sha256="
) -> bool:
    """Whether ``given`` (a header's value) is the signature of ``body``; constant time."""
    expected = sign(secret, body, encoding, prefix)
    if encoding == "hex":
        given = given.lower() if given[: len(prefix)].lower() == prefix else given
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))
