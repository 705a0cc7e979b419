"""Find a customer's interactions by e-mail address or phone number, without storing either.

A data subject's rights (GDPR art. 15 and 17) are exercised by address: "everything you hold on
jeanne@example.org". The personal-data store keeps, beside each piece, a keyed digest of each
address the piece names (``subject_keys``): HMAC-SHA256 with the deployment's key (the one that
keys external ids, ``personal.keyed_id``) of the address normalised: an e-mail lower-cased and
trimmed, a phone number as its digits in international form (``33612345678`` for ``06 12 34 56
78`` in France, ``+33 6 12…`` or ``0033 6 12…``). The same address always gives the same digest,
so a search is one look-up; without the key a digest confirms no guess; erasing the pieces
erases their digests with them.

Where a piece names an address: the submission's ``customer`` (``email``, ``phone``, as the web
form, mail, telephony and API channels give it) and a caller's ``callback_number``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "AddressKind",
    "InvalidAddress",
    "normalised",
    "normalised_email",
    "normalised_phone",
    "subject_key",
    "subject_keys",
]

AddressKind = Literal["email", "phone"]

DEFAULT_COUNTRY = "33"
"""The calling code a national number (``0…``) is taken to belong to: the deployment's."""


class InvalidAddress(ValueError):
    """An e-mail address or phone number that names nobody (no ``@``, too few digits)."""


def normalised_email(text: str) -> str:
    """Return an e-mail address lower-cased and trimmed; ``InvalidAddress`` without an ``@``."""
    address = text.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress(f"{text!r} is not an e-mail address")
    return address


def normalised_phone(text: str, country: str = DEFAULT_COUNTRY) -> str:
    """Return a phone number as digits in international form, without ``+``.

    ``+33 6 12 34 56 78``, ``0033612345678`` and ``06.12.34.56.78`` (national, in ``country``)
    all give ``33612345678``; ``InvalidAddress`` for fewer than 6 digits.
    """
    stripped = text.strip()
    digits = "".join(c for c in stripped if c.isdigit())
    if len(digits) < 6:
        raise InvalidAddress(f"{text!r} is not a phone number")
    if stripped.startswith("+"):
        return digits
    if digits.startswith("00"):
        return digits[2:]
    if digits.startswith("0"):
        return country + digits[1:]
    return digits


def normalised(kind: AddressKind, text: str) -> str:
    """Return an address of ``kind`` normalised; ``InvalidAddress`` if it names nobody."""
    return normalised_email(text) if kind == "email" else normalised_phone(text)


def subject_key(key: bytes, kind: AddressKind, text: str) -> str:
    """Return the keyed digest of an address: ``subject:<HMAC-SHA256, 128 bits>``."""
    message = f"aiguillage subject:{kind}:{normalised(kind, text)}".encode()
    return "subject:" + hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def subject_keys(key: bytes, data: Mapping[str, Any]) -> set[str]:
    """Return the keyed digests of the addresses a piece of personal data names."""
    found: list[tuple[AddressKind, Any]] = []
    customer = data.get("customer")
    if isinstance(customer, Mapping):
        found += [("email", customer.get("email")), ("phone", customer.get("phone"))]
    found.append(("phone", data.get("callback_number")))
    keys = set()
    for kind, value in found:
        if isinstance(value, str) and value.strip():
            try:
                keys.add(subject_key(key, kind, value))
            except InvalidAddress:
                continue  # an address that names nobody is not indexed
    return keys
