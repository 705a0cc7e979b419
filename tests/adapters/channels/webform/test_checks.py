"""The web form's checks, one by one: CSRF tokens, rate limits, client address, real types."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from aiguillage.adapters.channels.webform.channel import parse_multipart
from aiguillage.adapters.channels.webform.checks import (
    TOKEN_TTL_S,
    RateLimiter,
    Tokens,
    client_address,
    networks,
    same_origin,
    sniffed,
    type_by_name,
)
from aiguillage.adapters.channels.webform.settings import Rate, Settings
from aiguillage.adapters.config.settings import ConfigError, load_config
from tests.adapters.daemons import write_config

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_a_token_is_valid_for_its_cookie_until_it_expires() -> None:
    tokens = Tokens(KEY)
    token = tokens.issue("cookie-a", NOW)
    nonce = tokens.nonce(token, "cookie-a", NOW + 10)
    assert nonce is not None
    assert nonce == token.split(".")[0]
    assert tokens.nonce(token, "cookie-a", NOW + TOKEN_TTL_S) == nonce
    assert tokens.nonce(token, "cookie-a", NOW + TOKEN_TTL_S + 1) is None


def test_a_token_of_another_cookie_key_or_time_is_refused() -> None:
    tokens = Tokens(KEY)
    token = tokens.issue("cookie-a", NOW)
    assert tokens.nonce(token, "cookie-b", NOW) is None
    assert tokens.nonce(token, "", NOW) is None
    assert Tokens(b"x" * 32).nonce(token, "cookie-a", NOW) is None
    nonce, issued, mac = token.split(".")
    later = f"{nonce}.{int(issued) + 3600}.{mac}"  # its time moved to extend it
    assert tokens.nonce(later, "cookie-a", NOW + TOKEN_TTL_S + 10) is None
    assert tokens.nonce(f"other.{issued}.{mac}", "cookie-a", NOW) is None
    assert tokens.nonce("garbage", "cookie-a", NOW) is None
    assert tokens.nonce(token, "cookie-a", NOW - 3600) is None  # issued in the future


def test_tokens_differ_and_a_nonce_gives_one_external_id() -> None:
    tokens = Tokens(KEY)
    first, second = tokens.issue("c", NOW), tokens.issue("c", NOW)
    assert first != second
    nonce = first.split(".")[0]
    assert tokens.external_id(nonce) == tokens.external_id(nonce)
    assert tokens.external_id(nonce) != tokens.external_id(second.split(".")[0])


def test_origin_or_referer_must_be_the_public_origin() -> None:
    expected = "https://reclamations.example.fr"
    assert same_origin(expected, "", expected)
    assert not same_origin("https://evil.example", f"{expected}/form", expected)
    assert not same_origin("null", "", expected)
    assert same_origin("", f"{expected}/channels/webform/", expected)
    assert not same_origin("", "https://reclamations.example.fr.evil.example/", expected)
    assert not same_origin("", "", expected)


def test_the_rate_limiter_slides_and_says_how_long_to_wait() -> None:
    limiter = RateLimiter(Rate(count=3, per_s=600))
    assert [limiter.hit("a", NOW + i) for i in range(3)] == [None, None, None]
    assert limiter.hit("a", NOW + 3) == 597
    assert limiter.hit("b", NOW + 3) is None  # another key is counted apart
    assert limiter.hit("a", NOW + 600) is None  # the first hit left the window
    assert limiter.hit("a", NOW + 600.5) == 1


def test_the_rate_limiter_keeps_a_bounded_number_of_keys() -> None:
    limiter = RateLimiter(Rate(count=1, per_s=600), keys=2)
    for key in ("a", "b", "c"):
        assert limiter.hit(key, NOW) is None
    assert limiter.hit("a", NOW) is None  # forgotten, the oldest
    assert limiter.hit("c", NOW) is not None


def test_the_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    none = networks([])
    proxies = networks(["10.0.0.0/8", "fd00::/8"])
    assert client_address("203.0.113.7:5555", "198.51.100.1", none) == "203.0.113.7"
    assert client_address("10.0.0.2:5555", "198.51.100.1", none) == "10.0.0.2"
    assert client_address("10.0.0.2:5555", "198.51.100.1", proxies) == "198.51.100.1"
    # A client writes what it wants on the left: the rightmost untrusted hop is believed.
    spoofed = "1.2.3.4, 198.51.100.1, 10.0.0.9"
    assert client_address("10.0.0.2:5555", spoofed, proxies) == "198.51.100.1"
    assert client_address("203.0.113.7:1", "1.2.3.4", proxies) == "203.0.113.7"
    assert client_address("10.0.0.2:5555", "", proxies) == "10.0.0.2"
    assert client_address("10.0.0.2:5555", "not-an-ip, 198.51.100.1", proxies) == ("198.51.100.1")
    assert client_address("10.0.0.2:5555", "198.51.100.1, junk", proxies) == "10.0.0.2"
    assert client_address("fd00::1:443", "2001:db8::5", proxies) == "2001:db8::5"


def test_types_are_told_by_name_and_by_magic_bytes() -> None:
    assert sniffed(b"%PDF-1.7\n...") == "pdf"
    assert sniffed(b"\x89PNG\r\n\x1a\n\x00\x00") == "png"
    assert sniffed(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "jpeg"
    assert sniffed(b"MZ\x90\x00") is None
    assert sniffed(b"") is None
    assert sniffed(b"PDF-") is None
    assert type_by_name("Billet.JPG") == "jpeg"
    assert type_by_name("scan.jpeg") == "jpeg"
    assert type_by_name("facture.pdf") == "pdf"
    assert type_by_name("virus.pdf.exe") is None
    assert type_by_name("pdf") is None


def test_multipart_bodies_are_read_without_cgi() -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="text"\r\n\r\n'
        b"Ligne 1\r\nLigne 2 \xc3\xa9\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="attachments"; filename="r\xc3\xa9\\"c.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
        b"\x89PNG\r\n\x1a\n\r\n--Xy\r\n"
        b"--XyZ--\r\n"
    )
    parts = parse_multipart("multipart/form-data; boundary=XyZ", body)
    assert [(p.name, p.filename) for p in parts] == [("text", None), ("attachments", 'ré"c.png')]
    assert parts[0].data.decode() == "Ligne 1\r\nLigne 2 é"
    assert parts[1].data == b"\x89PNG\r\n\x1a\n\r\n--Xy"
    with pytest.raises(ValueError, match="boundary"):
        parse_multipart("application/x-www-form-urlencoded", b"a=b")
    with pytest.raises(ValueError, match="closing"):
        parse_multipart("multipart/form-data; boundary=XyZ", body[:-9])


def test_settings_refuse_no_motive_and_a_bad_proxy() -> None:
    base = {"public_url": "https://reclamations.example.fr"}
    motive = {"code": "general", "label": "Demande"}
    with pytest.raises(msgspec.ValidationError, match="motives"):
        msgspec.convert({**base, "motives": []}, Settings)
    with pytest.raises(msgspec.ValidationError, match="CIDR"):
        msgspec.convert({**base, "motives": [motive], "trusted_proxies": ["x"]}, Settings)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({**base, "motives": [motive], "colour": "red"}, Settings)
    settings = msgspec.convert({**base, "motives": [motive]}, Settings)
    assert (settings.language, settings.max_attachments, settings.secure) == ("fr", 3, True)


def test_check_config_refuses_a_form_without_motives(tmp_path: Path) -> None:
    extra = '\n[adapters.webform]\npublic_url = "https://reclamations.example.fr"\nmotives = []\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, extra))
    (problem,) = [str(p) for p in caught.value.problems]
    assert "adapters.webform" in problem
    assert "motives" in problem
