"""``[adapters.<name>.oauth]``: checked with the whole file, the token given one way only, and
each platform's endpoints by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguillage.adapters.channels.social.oauth import OAuthSettings
from aiguillage.adapters.config.settings import ConfigError, load_config
from tests.adapters.daemons import write_config

CHANNEL_ID = "UCx2Tw0a1b2c3d4e5f6g7h8i"
OAUTH = '\n[adapters.youtube.oauth]\nstore = "/tmp/y.grant"\nclient_id_env = "YT_CLIENT"\n'


def _problems(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, extra))
    return str(caught.value)


def test_an_oauth_table_is_a_third_way_to_give_the_token(tmp_path: Path) -> None:
    loaded = load_config(
        write_config(tmp_path, f'\n[adapters.youtube]\nchannel_id = "{CHANNEL_ID}"\n' + OAUTH)
    )
    assert loaded.settings.adapters["youtube"]["oauth"]["store"] == "/tmp/y.grant"


def test_a_token_file_and_an_oauth_table_together_are_refused(tmp_path: Path) -> None:
    found = _problems(
        tmp_path,
        f'\n[adapters.youtube]\nchannel_id = "{CHANNEL_ID}"\ntoken_file = "/tmp/t"\n' + OAUTH,
    )
    assert "exactly one of token_env" in found
    assert "[adapters.<name>.oauth]" in found


def test_an_unknown_key_of_the_oauth_table_is_named_with_its_path(tmp_path: Path) -> None:
    found = _problems(
        tmp_path,
        '\n[adapters.x]\nuser_id = "2244994945"\nmode = "polling"\n'
        + OAUTH.replace("youtube", "x")
        + 'client_secret = "in clear"\n',
    )
    assert "adapters.x.oauth.client_secret" in found


@pytest.mark.parametrize(
    ("vendor", "authorize", "token", "auth"),
    [
        (
            "google",
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
            "post",
        ),
        (
            "linkedin",
            "https://www.linkedin.com/oauth/v2/authorization",
            "https://www.linkedin.com/oauth/v2/accessToken",
            "post",
        ),
        (
            "x",
            "https://twitter.com/i/oauth2/authorize",
            "https://api.x.com/2/oauth2/token",
            "basic",
        ),
    ],
)
def test_each_platform_s_endpoints_are_the_defaults(
    vendor: str, authorize: str, token: str, auth: str
) -> None:
    settings = OAuthSettings(store="/tmp/g", client_id_env="ID")
    endpoints = settings.endpoints(vendor)
    assert (endpoints.authorize_url, endpoints.token_url, endpoints.client_auth) == (
        authorize,
        token,
        auth,
    )
    overridden = OAuthSettings(store="/tmp/g", client_id_env="ID", token_url="http://fake/t")
    assert overridden.endpoints(vendor).token_url == "http://fake/t"


def test_x_asks_for_offline_access_and_google_for_an_offline_consent() -> None:
    settings = OAuthSettings(store="/tmp/g", client_id_env="ID")
    assert "offline.access" in settings.endpoints("x").scopes
    assert dict(settings.endpoints("google").extra) == {
        "access_type": "offline",
        "prompt": "consent",
    }
