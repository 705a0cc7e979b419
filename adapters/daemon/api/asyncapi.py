"""The offers WebSocket described as an AsyncAPI 3.0 document, served at ``/schema/asyncapi.json``.

The document is built from the code it describes, so it cannot drift from it: the event
schemas are msgspec's JSON Schema of the engine's event types (the instants shown as ISO-8601
strings, as ``events_out`` sends them), the interaction is ``InteractionOut``'s, the events
listed are those ``api_socket`` pushes to an advisor, and the close codes are its own.
"""

from __future__ import annotations

from functools import cache
from typing import Any, get_args

import msgspec
from litestar import Response, get

from aiguillage.adapters.channels.events_out import OfferPending, instant_fields
from aiguillage.adapters.daemon.api.websocket import CLOSE_CODES, NOT_PUSHED
from aiguillage.adapters.stores.views import InteractionOut
from aiguillage.engine.events import Event

__all__ = ["asyncapi_document", "asyncapi_json", "pushed_event_types"]

_SCHEMAS = "#/components/schemas/"
_MESSAGES = "#/components/messages/"
_INSTANT = {"type": "string", "format": "date-time"}
_INTERACTION_INSTANTS = ("deadline", "raw_deadline", "received_at", "responded_at", "ended_at")
"""``InteractionOut``'s fields that hold an instant (already a string there)."""


def pushed_event_types() -> list[type[msgspec.Struct]]:
    """Return the message types an advisor's connection may receive, ``OfferPending`` first.

    An event reaches an advisor when it names the advisor or work the advisor holds (see
    ``api_socket.message_for``), so every event type with an ``advisor_id`` or an
    ``interaction_id``, except those it is never sent.
    """
    events = [
        kind
        for kind in get_args(Event)
        if kind not in NOT_PUSHED and {"advisor_id", "interaction_id"} & set(kind.__struct_fields__)
    ]
    return [OfferPending, *events]


def _tag(kind: type[msgspec.Struct]) -> str:
    return str(kind.__struct_config__.tag)


def _as_instant(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a field's schema with its integer microseconds shown as an ISO-8601 string."""
    if schema.get("type") in ("integer", "string"):
        return {**{k: v for k, v in schema.items() if k != "type"}, **_INSTANT}
    if "anyOf" in schema:
        return {**schema, "anyOf": [_as_instant(option) for option in schema["anyOf"]]}
    return schema


def _schemas(kinds: list[type[msgspec.Struct]]) -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [*kinds, InteractionOut], ref_template=_SCHEMAS + "{name}"
    )
    for kind in kinds:
        # What the API sends is exactly this: a field it does not show is a drift to see.
        components[kind.__name__]["additionalProperties"] = False
        properties = components[kind.__name__]["properties"]
        for name in instant_fields(kind):
            properties[name] = _as_instant(properties[name])
    components["InteractionOut"]["additionalProperties"] = False
    shown = components["InteractionOut"]["properties"]
    for name in _INTERACTION_INSTANTS:
        shown[name] = _as_instant(shown[name])
    components["Refusal"] = {
        "title": "Refusal",
        "description": "Why a connection is refused; the connection is then closed.",
        "type": "object",
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["error", "detail"],
    }
    return dict(components)


def _envelope(kind: type[msgspec.Struct]) -> dict[str, Any]:
    """Return the schema of the envelope carrying one type of event."""
    pending = kind is OfferPending
    carries_interaction = pending or _tag(kind) == "offer.made"
    none = {"type": "null"}
    interaction = (
        {"anyOf": [{"$ref": _SCHEMAS + "InteractionOut"}, none]} if carries_interaction else none
    )
    return {
        "type": "object",
        "properties": {
            "id": none if pending else {"type": "string", "pattern": "^[0-9]+:[0-9]+$"},
            "seq": none if pending else {"type": "integer", "minimum": 1},
            "event": {"$ref": _SCHEMAS + kind.__name__},
            "interaction": interaction,
        },
        "required": ["id", "seq", "event", "interaction"],
        "additionalProperties": False,
    }


def _message(kind: type[msgspec.Struct]) -> dict[str, Any]:
    tag = _tag(kind)
    summary = (kind.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return {
        "name": tag,
        "title": tag,
        **({"summary": summary} if summary else {}),
        "contentType": "application/json",
        "payload": _envelope(kind),
    }


_DESCRIPTION = """\
Each advisor's offers pushed the moment the journal has them, then every event about the
advisor and the work it holds. Every message is one JSON object in one envelope,
`{"id", "seq", "event", "interaction"}`: `id` is `epoch:seq` (unique even across a store
failover) and `seq` the journal's, both null for the offers pending when the client connects
(`offer.pending`: state, not events); `event` is the event, its instants ISO-8601 with the
calendar's offset; `interaction` is the interaction an offer is for, as
`GET /v1/interactions/{id}` shows it, else null. The client sends nothing.

Connect with `GET /v1/offers?ticket=T` (a ticket from `POST /v1/tickets`, since browsers
cannot send a header on a WebSocket) or with `Authorization: Bearer <token>`. Supervisors and
admins add `?advisor=ID` to watch one advisor. A refused connection receives one `refusal`
message, then is closed with the code saying why (`x-close-codes`)."""


@cache
def asyncapi_document() -> dict[str, Any]:
    """Return the AsyncAPI 3.0 document of the offers WebSocket."""
    kinds = pushed_event_types()
    messages = {_tag(kind): _message(kind) for kind in kinds}
    messages["refusal"] = {
        "name": "refusal",
        "title": "refusal",
        "summary": "Why the connection is refused, sent just before it is closed.",
        "contentType": "application/json",
        "payload": {"$ref": _SCHEMAS + "Refusal"},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Aiguillage offers WebSocket",
            "version": "1",
            "description": "The offers an advisor receives, and the events about its work.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "offers": {
                "address": "/v1/offers",
                "description": _DESCRIPTION,
                "messages": {name: {"$ref": _MESSAGES + name} for name in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "ticket": {
                                    "type": "string",
                                    "description": "A one-use ticket from `POST /v1/tickets`.",
                                },
                                "advisor": {
                                    "type": "string",
                                    "description": "The advisor a supervisor or admin watches.",
                                },
                            },
                        },
                        "headers": {
                            "type": "object",
                            "properties": {
                                "Authorization": {
                                    "type": "string",
                                    "description": "`Bearer <token>`, instead of a ticket.",
                                }
                            },
                        },
                        "bindingVersion": "0.1.0",
                    }
                },
                "x-close-codes": {str(code): why for code, why in CLOSE_CODES.items()},
            }
        },
        "operations": {
            "pushOffers": {
                "action": "send",
                "channel": {"$ref": "#/channels/offers"},
                "summary": "The daemon pushes an advisor's offers and the events of its work.",
                "messages": [{"$ref": f"#/channels/offers/messages/{name}"} for name in messages],
            }
        },
        "components": {"schemas": _schemas(kinds), "messages": messages},
    }


@get("/schema/asyncapi.json", include_in_schema=False, sync_to_thread=False)
def asyncapi_json() -> Response[bytes]:
    """The AsyncAPI document of the offers WebSocket (no token, like ``/schema``)."""
    return Response(msgspec.json.encode(asyncapi_document()), media_type="application/json")
