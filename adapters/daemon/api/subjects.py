"""``POST /v1/subjects/search|export|erase``: a data subject's access and erasure (GDPR art. 15
and 17) by e-mail address or phone number.

The body names the customer by ``email`` or ``phone`` (one of them); ``erase`` also takes a
``reason`` from ``[reasons] erase``. ``search`` answers the interaction ids, ``export`` every
interaction with its events and personal data as one JSON document, ``erase`` the ids erased.
Search and export are for supervisors and admins, erasure for admins (as one interaction's).
Each request is recorded in the access log with the address's keyed digest, never the address
(``daemon.subjects``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, post

from aiguillage.adapters.daemon.api.routes import STAFF, InvalidField, caller, runtime_of
from aiguillage.adapters.daemon.subjects import (
    erase_subject,
    export_subject,
    find_subject,
    subject_of,
)
from aiguillage.adapters.stores.subjects import AddressKind, InvalidAddress

__all__ = ["SUBJECT_ROUTES", "SubjectIn"]


class SubjectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A customer, by one address."""

    email: str | None = None
    phone: str | None = None
    reason: str = ""
    """For an erasure: one of ``[reasons] erase``."""


async def _subject(request: Request[Any, Any, Any], data: SubjectIn) -> str:
    given: list[tuple[AddressKind, str]] = []
    if data.email is not None:
        given.append(("email", data.email))
    if data.phone is not None:
        given.append(("phone", data.phone))
    if len(given) != 1:
        raise InvalidField("email", "name the customer by one address: `email` or `phone`")
    ((kind, address),) = given
    try:
        return await subject_of(runtime_of(request), kind, address)
    except InvalidAddress as exc:
        raise InvalidField(kind, str(exc)) from None


@post("/v1/subjects/search", tags=["interactions"], status_code=200)
async def search_subject(request: Request[Any, Any, Any], data: SubjectIn) -> dict[str, Any]:
    """The ids of every interaction whose personal data names this address."""
    caller(request, *STAFF)
    subject = await _subject(request, data)
    found = await find_subject(runtime_of(request), subject)
    return {"subject": subject, "interaction_ids": found}


@post("/v1/subjects/export", tags=["interactions"], status_code=200)
async def export(request: Request[Any, Any, Any], data: SubjectIn) -> dict[str, Any]:
    """Every interaction of the customer: its view, its events, its personal data."""
    caller(request, *STAFF)
    subject = await _subject(request, data)
    return await export_subject(runtime_of(request), subject)


@post("/v1/subjects/erase", tags=["interactions"], status_code=200)
async def erase(request: Request[Any, Any, Any], data: SubjectIn) -> dict[str, Any]:
    """Erase the personal data of every interaction of the customer."""
    caller(request, "admin")
    runtime = runtime_of(request)
    allowed = runtime.settings.reasons.erase
    if data.reason not in allowed:
        said = f"`{data.reason}` is not" if data.reason else "a reason is required:"
        raise InvalidField("reason", f"{said} one of [reasons] erase: {', '.join(allowed)}")
    subject = await _subject(request, data)
    erased = await erase_subject(runtime, subject, data.reason)
    return {"subject": subject, "erased": erased, "reason": data.reason}


SUBJECT_ROUTES = [search_subject, export, erase]
