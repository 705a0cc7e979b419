"""What a form submission must pass before it is believed: origin, CSRF token, honeypot,
rate limits, client address, and the attachments' real types.

CSRF is refused twice over. The browser's ``Origin`` (or, failing it, ``Referer``) must be the
form's public origin. And each form carries a token, ``<nonce>.<issued>.<mac>``: an HMAC-SHA256,
under the key from the environment, of a random nonce, the Unix second it was issued and the
browser's cookie (double submit: the cookie is ``SameSite=Strict`` and ``HttpOnly``, so another
site can neither send it nor read it). A token is valid ``TOKEN_TTL_S`` after issue. Binding the
token to a cookie that outlives one page, rather than putting the nonce itself in the cookie,
keeps two tabs of the form valid at once.

Rate limits are sliding windows kept in memory (per daemon: a restart forgets them), bounded
in size. The client address is the direct peer's, unless the peer is a trusted proxy: then it
is the last address of ``X-Forwarded-For`` that is not a trusted proxy, read from the right,
since a client can write whatever it wants on the left.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections import OrderedDict, deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiguillage.adapters.channels.webform.settings import AttachmentType, Rate

__all__ = [
    "TOKEN_TTL_S",
    "RateLimiter",
    "Tokens",
    "client_address",
    "same_origin",
    "sniffed",
    "type_by_name",
]

TOKEN_TTL_S = 2 * 3600
_SKEW_S = 60
"""A token issued this far in the future (another daemon's clock) is still taken."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Tokens:
    """Issues and checks CSRF tokens bound to a browser's cookie."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(24)

    def issue(self, cookie: str, now: float) -> str:
        nonce = secrets.token_urlsafe(18)
        issued = str(int(now))
        return f"{nonce}.{issued}.{self._mac(nonce, issued, cookie)}"

    def nonce(self, token: str, cookie: str, now: float) -> str | None:
        """Return the token's nonce when it is ours, for this cookie, and not expired."""
        parts = token.split(".")
        if len(parts) != 3 or not cookie:
            return None
        nonce, issued, mac = parts
        if not issued.isdigit() or not hmac.compare_digest(mac, self._mac(nonce, issued, cookie)):
            return None
        age = now - int(issued)
        return nonce if -_SKEW_S <= age <= TOKEN_TTL_S else None

    def external_id(self, nonce: str) -> str:
        """The submission's id, derived from the form's nonce: a double click is one."""
        digest = hmac.new(self._key, b"external:" + nonce.encode(), hashlib.sha256).digest()
        return "webform-" + base64.b32encode(digest[:15]).decode().lower()

    def _mac(self, nonce: str, issued: str, cookie: str) -> str:
        message = f"{nonce}.{issued}.{cookie}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def same_origin(origin: str, referer: str, expected: str) -> bool:
    """Whether the request comes from the form's own origin (``Origin``, else ``Referer``)."""
    if origin:
        return origin == expected
    if not referer:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" == expected


class RateLimiter:
    """At most ``rate.count`` hits per key in any ``rate.per_s`` seconds; ``keys`` keys kept."""

    def __init__(self, rate: Rate, keys: int = 100_000) -> None:
        self._rate = rate
        self._keys = keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, now: float) -> int | None:
        """Count a hit; None when allowed, else the seconds to wait (the hit is not counted)."""
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self._rate.per_s:
            hits.popleft()
        self._hits[key] = hits
        if len(self._hits) > self._keys:
            self._hits.popitem(last=False)
        if len(hits) >= self._rate.count:
            return max(1, int(hits[0] + self._rate.per_s - now + 0.999))
        hits.append(now)
        return None


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def client_address(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """Return the client's address: the peer's, or X-Forwarded-For's when the peer is trusted."""
    address = _host(peer)
    if not _within(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # garbled: stop at the last hop that is known
        address = hop
        if not _within(hop, trusted):
            break
    return address


def _host(peer: str) -> str:
    """``1.2.3.4:5678`` or ``::1:5678`` (as the listener writes it) -> the address."""
    host, _, port = peer.rpartition(":")
    return host.strip("[]") if host and port.isdigit() else peer


def _within(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


_MAGIC: tuple[tuple[bytes, AttachmentType], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)
_EXTENSIONS: dict[str, AttachmentType] = {
    "pdf": "pdf",
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
}
CONTENT_TYPES: dict[AttachmentType, str] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
}


def sniffed(data: bytes) -> AttachmentType | None:
    """The type the bytes' magic number says, among those accepted."""
    return next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)


def type_by_name(filename: str) -> AttachmentType | None:
    """The type a file name's extension says."""
    _, dot, extension = filename.rpartition(".")
    return _EXTENSIONS.get(extension.lower()) if dot else None
