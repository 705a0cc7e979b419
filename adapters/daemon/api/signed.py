"""Values the daemon hands a browser and checks when they come back: HMAC-SHA256 signed.

Browser sessions and the OpenID Connect sign-in keep their state in cookies rather than in a
daemon's memory, so that any daemon of the deployment, after a restart or a failover, reads
them. Each use has its own key, derived from the deployment's secret (the personal-data
store's ``external_id_key``, which every daemon of a deployment shares) and a label naming the
use: a value signed for one use is worthless for another, and the deployment's key itself
never signs anything handed out.

A signed value is ``<payload>.<mac>``, both base64url without padding. The payload is not
secret (anyone holding the cookie can read it): only ids and times go in it, never a token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["derive", "mac", "sign", "verify"]


def derive(key: bytes, label: bytes) -> bytes:
    """Return the key for one use (``label``) of the deployment's key."""
    return hmac.new(key, label, hashlib.sha256).digest()


def mac(key: bytes, data: bytes) -> str:
    """Return the HMAC-SHA256 of ``data``, base64url without padding."""
    return _encode(hmac.new(key, data, hashlib.sha256).digest())


def sign(key: bytes, payload: bytes) -> str:
    """Return ``payload`` with its MAC, as one cookie-safe string."""
    encoded = _encode(payload)
    return f"{encoded}.{mac(key, encoded.encode())}"


def verify(key: bytes, value: str) -> bytes | None:
    """Return the payload of a value ``sign`` made with ``key``; ``None`` if it was not, or was
    altered. The comparison takes the same time wherever the MACs differ."""
    encoded, dot, given = value.partition(".")
    if not dot or not hmac.compare_digest(given.encode(), mac(key, encoded.encode()).encode()):
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
