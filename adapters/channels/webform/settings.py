"""``[adapters.webform]``: what the form offers, what it accepts, and how hard it is to abuse.

The channel cannot read the configuration's ``[motives]``, so the motives it offers are listed
here with their labels, in the order shown; each code must be a configured motive (the daemon
refuses the submission otherwise). The CSRF key is never in config.toml: ``secret_env`` names
the environment variable that holds it.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

import msgspec

__all__ = ["AttachmentType", "Motive", "Rate", "Settings"]

AttachmentType = Literal["pdf", "png", "jpeg"]
Language = Literal["fr", "en"]
OptionalField = Literal["pass_reference"]


class Motive(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One motive the form offers: a code of ``[motives]``, and the label shown."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Rate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """At most ``count`` submissions in any ``per_s`` seconds."""

    count: Annotated[int, msgspec.Meta(ge=1)]
    per_s: Annotated[int, msgspec.Meta(ge=1)]


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings of the ``webform`` plugin (see the module docstring)."""

    motives: Annotated[list[Motive], msgspec.Meta(min_length=1)]
    """The motives offered, in order: at least one."""
    public_url: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^https?://[^\s/?#]+/?$", examples=["https://reclamations.example.fr"]
        ),
    ]
    """The origin customers reach the form at, which Origin or Referer must match."""
    language: Language = "fr"
    title: str = ""
    """The page's heading and title; a default in ``language`` when empty."""
    fields: tuple[OptionalField, ...] = ("pass_reference",)
    """Optional fields shown."""
    max_attachment_bytes: Annotated[int, msgspec.Meta(ge=1)] = 5 * 1024 * 1024
    max_attachments: Annotated[int, msgspec.Meta(ge=0, le=20)] = 3
    allowed_types: tuple[AttachmentType, ...] = ("pdf", "png", "jpeg")
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of the reverse proxies whose X-Forwarded-For is believed."""
    rate_per_address: Rate = Rate(count=5, per_s=600)
    rate_per_email: Rate = Rate(count=3, per_s=3600)
    secret_env: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = (
        "AIGUILLAGE_WEBFORM_SECRET"
    )
    """The environment variable holding the key of the CSRF tokens (32 characters or more)."""

    def __post_init__(self) -> None:
        codes = [motive.code for motive in self.motives]
        if len(set(codes)) != len(codes):
            raise ValueError("`motives` lists a code twice")
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"`trusted_proxies`: {cidr!r} is not a CIDR (e.g. 10.0.0.0/8)"
                ) from None

    @property
    def origin(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def secure(self) -> bool:
        return self.public_url.startswith("https://")
