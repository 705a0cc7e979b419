"""``aiguillage channel authorize`` run as an operator runs it, in its own process, with a
person consenting at a fake authorization server (``fake_oauth``) in place of the browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.adapters.channels.social.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth

KEY_ENV = "AIGUILLAGE_TEST_OAUTH_KEY"


def secrets_env(key: str) -> dict[str, str]:
    """The variables an ``[adapters.<name>.oauth]`` table of ``oauth_table`` names."""
    return {
        KEY_ENV: key,
        "AIGUILLAGE_TEST_CLIENT_ID": CLIENT_ID,
        "AIGUILLAGE_TEST_CLIENT_SECRET": CLIENT_SECRET,
    }


def oauth_table(name: str, fake: FakeOAuth, store: Path) -> str:
    """The TOML of ``[adapters.<name>.oauth]`` pointing at the fake."""
    return (
        f"\n[adapters.{name}.oauth]\n"
        f'store = "{store}"\nkey_env = "{KEY_ENV}"\n'
        'client_id_env = "AIGUILLAGE_TEST_CLIENT_ID"\n'
        'client_secret_env = "AIGUILLAGE_TEST_CLIENT_SECRET"\n'
        f'redirect_uri = "{fake.redirect_uri}"\n'
        f'authorize_url = "{fake.url}/authorize"\ntoken_url = "{fake.url}/token"\n'
    )


def switch_to_oauth(
    config: Path, name: str, token_line: str, fake: FakeOAuth, store: Path, **more: object
) -> None:
    """Rewrite a channel's table of ``config``: ``[adapters.<name>.oauth]`` in place of its
    ``token_line`` (``token_file = "…"``), with ``more`` keys in the oauth table."""
    text = config.read_text()
    assert token_line in text
    text = text.replace(token_line, "", 1)
    table = oauth_table(name, fake, store) + "".join(f"{k} = {v}\n" for k, v in more.items())
    text = text.replace("\n# --- simulation ---", table + "\n# --- simulation ---", 1)
    config.write_text(text)


def authorize(
    name: str,
    config: Path,
    fake: FakeOAuth,
    env: dict[str, str],
    *,
    paste: bool = False,
    tamper_state: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the command; consent at the fake when it prints the address; wait for its end."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiguillage.adapters.cli.main",
            "channel",
            "authorize",
            name,
            "--config",
            str(config),
            "--timeout",
            "30",
            *(["--paste"] if paste else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        cwd=config.parent,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    printed = []
    try:
        for line in process.stdout:
            printed.append(line)
            if line.startswith(fake.url + "/authorize?"):
                url = line.strip()
                break
        else:
            out, err = process.communicate(timeout=30)
            return subprocess.CompletedProcess(
                process.args, process.returncode, "".join(printed) + out, err
            )
        # The person opens the address and consents; the fake redirects the browser.
        answer = httpx.get(url, follow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        if tamper_state:
            location = location.replace("state=", "state=forged", 1)
        if paste:
            process.stdin.write(location + "\n")
            process.stdin.flush()
        else:
            landed = httpx.get(location, timeout=10)
            assert landed.status_code == 200
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(
        process.args, process.returncode, "".join(printed) + out, err
    )
