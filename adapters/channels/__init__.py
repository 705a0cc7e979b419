"""The channel protocol, and the channels built on it: what a third-party adapter imports.

Everything an adapter plugin needs is importable from here, and only the names below are
promised to stay (``docs/adapters.md``): the protocol (``Adapter``, ``Channel``), what the
daemon gives an adapter (``AdapterContext``, ``Health``, ``EVENT_TYPES``), inbound routes
(``Inbound``, ``Answer``, ``InboundRoute``), sending (``Outgoing``, ``Sent``, ``SendFailed``,
``NeedsReauthorisation``), a channel's durable state (``ChannelState``), the errors of the port
(``Unavailable``, ``Rejected``, ``Conflict``, ``CommandFailed``), and ``Receipt`` and
``Record``.
"""

from aiguillage.adapters.channels.inbound import Answer, Inbound, InboundRoute
from aiguillage.adapters.channels.outgoing import NeedsReauthorisation, Outgoing, SendFailed, Sent
from aiguillage.adapters.channels.port import (
    CommandFailed,
    Conflict,
    Receipt,
    Rejected,
    Unavailable,
)
from aiguillage.adapters.channels.protocol import (
    EVENT_TYPES,
    Adapter,
    AdapterContext,
    Channel,
    EventType,
    Health,
)
from aiguillage.adapters.channels.state import ChannelState, ChannelStateError
from aiguillage.adapters.stores.journal import Record

__all__ = [
    "EVENT_TYPES",
    "Adapter",
    "AdapterContext",
    "Answer",
    "Channel",
    "ChannelState",
    "ChannelStateError",
    "CommandFailed",
    "Conflict",
    "EventType",
    "Health",
    "Inbound",
    "InboundRoute",
    "NeedsReauthorisation",
    "Outgoing",
    "Receipt",
    "Record",
    "Rejected",
    "SendFailed",
    "Sent",
    "Unavailable",
]
