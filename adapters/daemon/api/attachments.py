"""Attachments: listed with their interaction, served back to staff only, never rendered.

A channel keeps a message's attachments in its personal data (``attachments``: name, declared
type, size, and the bytes in base64), so they are erased and purged with it. The personal-data
view shows their names, types and sizes, never their bytes; the bytes are served here, to the
advisor holding the work, supervisors and admins (not to integrators), as a download:
``Content-Type: application/octet-stream``, ``Content-Disposition: attachment`` and
``X-Content-Type-Options: nosniff``, whatever type the sender declared, so that a browser never
renders what a customer sent (an HTML file, an SVG with a script) in the daemon's origin.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from aiguillage.adapters.daemon.api.routes import reader_of_work

__all__ = ["ATTACHMENT_ROUTES", "AttachmentOut", "attachments_of"]


class AttachmentOut(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    """Its place among the interaction's attachments, from 1, in the order received."""
    name: str
    content_type: str
    """As the sender declared it (the download is served as octet-stream anyway)."""
    size: int


def attachments_of(pieces: dict[str, dict[str, Any]]) -> list[tuple[AttachmentOut, str]]:
    """Return an interaction's attachments (with their base64 bytes) from its personal data,
    in the order the pieces were journaled."""
    found: list[tuple[AttachmentOut, str]] = []
    for piece in pieces.values():
        for item in piece.get("attachments") or ():
            if not isinstance(item, dict) or not isinstance(item.get("data"), str):
                continue  # over the size limit: named in the personal data, not kept
            out = AttachmentOut(
                number=len(found) + 1,
                name=str(item.get("name") or f"attachment-{len(found) + 1}"),
                content_type=str(item.get("content_type") or "application/octet-stream"),
                size=int(item.get("size") or 0),
            )
            found.append((out, item["data"]))
    return found


@get(
    "/v1/interactions/{interaction_id:int}/attachments",
    summary="List an interaction's attachments",
    tags=["conversations"],
)
async def list_attachments(
    request: Request[Any, Any, Any], interaction_id: int
) -> list[AttachmentOut]:
    """Names, declared types and sizes: for the advisor holding the work and staff."""
    runtime = await reader_of_work(request, interaction_id, "the attachments", integrators=False)
    return [out for out, _ in attachments_of(await runtime.pieces(interaction_id))]


@get(
    "/v1/interactions/{interaction_id:int}/attachments/{number:int}",
    summary="Download an attachment",
    tags=["conversations"],
    media_type="application/octet-stream",
)
async def download_attachment(
    request: Request[Any, Any, Any], interaction_id: int, number: int
) -> Response[bytes]:
    """The bytes as received, as a download that no browser renders."""
    runtime = await reader_of_work(request, interaction_id, "the attachments", integrators=False)
    found = attachments_of(await runtime.pieces(interaction_id))
    if not 1 <= number <= len(found):
        raise NotFoundException(
            f"interaction {interaction_id} has {len(found)} attachment(s); no number {number}"
        )
    out, data = found[number - 1]
    try:
        content = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise NotFoundException(f"attachment {number} is not readable") from None
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(out.name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


ATTACHMENT_ROUTES = [list_attachments, download_attachment]
