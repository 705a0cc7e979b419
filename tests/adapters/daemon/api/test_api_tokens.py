"""API tokens live in the journal: minted and revoked by route, gone with their advisor, expired
at the daemon's clock, kept across restarts, and imported once from a deprecated ``[[tokens]]``.

Through a real daemon on loopback (``daemon.py``); expiry through the same application served
in process by uvicorn on loopback, on a runtime whose clock the test moves.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from aiguillage.adapters.config.settings import load_config
from aiguillage.adapters.daemon.api.app import create_app
from aiguillage.adapters.daemon.auth import Tickets, Tokens, digest_of
from aiguillage.adapters.daemon.serve import build_runtime
from aiguillage.engine.instants import SECOND
from tests.adapters.daemon.api.in_process import serving_app
from tests.adapters.daemon.test_runtime import VirtualClock
from tests.adapters.daemons import (
    ADMIN,
    ADVISOR,
    ADVISOR_ID,
    SUPERVISOR,
    Daemon,
    running,
    write_config,
)

DAY = 86_400 * SECOND


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    yield from running(tmp_path_factory.mktemp("tokens"))


@pytest.fixture
def admin(daemon: Daemon) -> Iterator[httpx.Client]:
    with daemon.client(ADMIN) as client:
        yield client


def mint(admin: httpx.Client, **body: object) -> dict[str, object]:
    response = admin.post("/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    minted: dict[str, object] = response.json()
    return minted


def status(daemon: Daemon, token: object, path: str = "/v1/queues") -> httpx.Response:
    with daemon.client(str(token)) as client:
        return client.get(path)


def add_advisor(admin: httpx.Client, advisor_id: str) -> None:
    added = admin.post(
        "/v1/advisors",
        json={"id": advisor_id, "skills": {"general": 3}, "capacity": {"social": 1}},
    )
    assert added.status_code == 201, added.text


def assert_unauthorized(response: httpx.Response, saying: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
    assert saying in response.json()["detail"]


# -- minted, listed, revoked --------------------------------------------------------------------


def test_a_token_minted_by_route_works_and_its_secret_is_shown_once(
    daemon: Daemon, admin: httpx.Client
) -> None:
    minted = mint(admin, role="supervisor", label="wallboard")
    assert minted["role"] == "supervisor"
    assert minted["expires"] is None
    assert status(daemon, minted["token"]).status_code == 200
    listed = admin.get("/v1/tokens")
    assert listed.status_code == 200
    row = next(t for t in listed.json()["tokens"] if t["id"] == minted["id"])
    assert row == {key: value for key, value in minted.items() if key != "token"}
    assert str(minted["token"]) not in listed.text
    assert digest_of(str(minted["token"])) not in listed.text


def test_a_revoked_token_is_refused_at_once(daemon: Daemon, admin: httpx.Client) -> None:
    minted = mint(admin, role="integrator")
    assert status(daemon, minted["token"], "/v1/interactions/1").status_code in (200, 404)
    revoked = admin.delete(f"/v1/tokens/{minted['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["events"][0]["type"] == "token.revoked"
    assert_unauthorized(status(daemon, minted["token"], "/v1/interactions/1"), "not known")
    assert minted["id"] not in [t["id"] for t in admin.get("/v1/tokens").json()["tokens"]]
    again = admin.delete(f"/v1/tokens/{minted['id']}")
    assert again.status_code == 409
    assert admin.delete("/v1/tokens/99999").status_code == 404


def test_only_admins_mint_list_and_revoke(daemon: Daemon) -> None:
    with daemon.client(SUPERVISOR) as supervisor:
        assert supervisor.post("/v1/tokens", json={"role": "admin"}).status_code == 403
        assert supervisor.get("/v1/tokens").status_code == 403
        assert supervisor.delete("/v1/tokens/1").status_code == 403


@pytest.mark.parametrize(
    ("body", "status_code", "field"),
    [
        ({"role": "boss"}, 400, "role"),
        ({"role": "admin", "expires_at": "2099-01-01T00:00:00"}, 400, "expires_at"),
        (
            {"role": "admin", "expires_at": "2099-01-01T00:00:00Z", "expires_in_s": 3600},
            400,
            "expires_in_s",
        ),
        ({"role": "admin", "expires_in_s": 1}, 400, "expires_in_s"),
        ({"role": "admin", "expires_at": "0001-01-01T00:00:00+14:00"}, 422, "expires_at"),
        ({"role": "admin", "expires_at": "9999-12-31T23:59:59-14:00"}, 422, "expires_at"),
        ({"role": "admin", "expires_at": "2020-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"role": "advisor"}, 422, "advisor"),
        ({"role": "supervisor", "advisor": ADVISOR_ID}, 422, "advisor"),
        ({"role": "advisor", "advisor": "nobody.here"}, 422, "advisor"),
        ({"role": "admin", "secret": "mine"}, 400, "secret"),
    ],
)
def test_a_mint_that_cannot_be_is_refused_naming_the_field(
    admin: httpx.Client, body: dict[str, object], status_code: int, field: str
) -> None:
    response = admin.post("/v1/tokens", json=body)
    assert response.status_code == status_code, response.text
    assert response.json()["detail"]
    assert response.json()["field"] == field


# -- advisors -----------------------------------------------------------------------------------


def test_a_removed_advisors_token_is_refused(daemon: Daemon, admin: httpx.Client) -> None:
    add_advisor(admin, "partant.bientot")
    minted = mint(admin, role="advisor", advisor="partant.bientot")
    assert status(daemon, minted["token"], "/v1/advisors/partant.bientot").status_code == 200
    assert admin.delete("/v1/advisors/partant.bientot").status_code == 200
    assert_unauthorized(status(daemon, minted["token"], "/v1/advisors/partant.bientot"), "known")


def test_a_removed_advisor_id_is_never_given_again(admin: httpx.Client) -> None:
    add_advisor(admin, "depart.definitif")
    assert admin.delete("/v1/advisors/depart.definitif").status_code == 200
    again = admin.post("/v1/advisors", json={"id": "depart.definitif"})
    assert again.status_code == 422, again.text
    assert again.json()["error"] == "retired"
    assert "never given to someone else" in again.json()["detail"]
    refused = admin.post("/v1/tokens", json={"role": "advisor", "advisor": "depart.definitif"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "retired"


def test_a_configured_advisor_token_goes_with_its_advisor(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        assert status(daemon, ADVISOR, f"/v1/advisors/{ADVISOR_ID}").status_code == 200
        with daemon.client(ADMIN) as admin:
            assert admin.delete(f"/v1/advisors/{ADVISOR_ID}").status_code == 200
        assert_unauthorized(status(daemon, ADVISOR, f"/v1/advisors/{ADVISOR_ID}"), "known")
        # Still in config.toml: a restart does not let it in again.
        assert daemon.stop() == 0
        daemon.start()
        assert_unauthorized(status(daemon, ADVISOR, f"/v1/advisors/{ADVISOR_ID}"), "known")
    finally:
        daemon.kill()


def read_until_closed(socket) -> None:  # type: ignore[no-untyped-def]
    while True:
        socket.recv(timeout=10)


def test_a_revoked_token_closes_its_websocket(daemon: Daemon, admin: httpx.Client) -> None:
    add_advisor(admin, "ecoute.ws")
    minted = mint(admin, role="advisor", advisor="ecoute.ws")
    with daemon.client(str(minted["token"])) as advisor:
        ticket = advisor.post("/v1/tickets").json()["ticket"]
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
        assert admin.delete(f"/v1/tokens/{minted['id']}").status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            read_until_closed(socket)
    assert closed.value.rcvd is not None
    assert "revoked" in closed.value.rcvd.reason


def test_a_ticket_is_worth_nothing_once_its_token_is_revoked(
    daemon: Daemon, admin: httpx.Client
) -> None:
    minted = mint(admin, role="supervisor")
    with daemon.client(str(minted["token"])) as supervisor:
        ticket = supervisor.post("/v1/tickets").json()["ticket"]
    assert admin.delete(f"/v1/tokens/{minted['id']}").status_code == 200
    with connect(f"ws://127.0.0.1:{daemon.port}/v1/offers?ticket={ticket}") as socket:
        assert json.loads(socket.recv(timeout=5))["error"] == "unauthorized"


# -- restarts and the configuration -------------------------------------------------------------


def test_tokens_survive_a_clean_stop_and_a_kill(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        with daemon.client(ADMIN) as admin:
            kept = mint(admin, role="supervisor", expires_in_s=30 * 86_400)
            revoked = mint(admin, role="supervisor")
            assert admin.delete(f"/v1/tokens/{revoked['id']}").status_code == 200
        assert daemon.stop() == 0  # a snapshot, then the restart reads it
        daemon.start()
        assert status(daemon, kept["token"]).status_code == 200
        assert_unauthorized(status(daemon, revoked["token"]), "not known")
        with daemon.client(ADMIN) as admin:
            later = mint(admin, role="supervisor")
        daemon.kill()  # no snapshot: the restart replays the journal's tail
        daemon.start()
        assert status(daemon, later["token"]).status_code == 200
        assert status(daemon, kept["token"]).status_code == 200
        assert_unauthorized(status(daemon, revoked["token"]), "not known")
    finally:
        daemon.kill()


def test_configured_tokens_are_imported_once_and_never_after_their_revocation(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path).start()
    try:
        with daemon.client(ADMIN) as admin:
            rows = admin.get("/v1/tokens").json()["tokens"]
            labels = {row["label"]: row for row in rows}
            assert set(labels) == {f"config.toml tokens[{i}]" for i in range(3)}
            supervisor = labels["config.toml tokens[0]"]
            assert supervisor["role"] == "supervisor"
            assert admin.delete(f"/v1/tokens/{supervisor['id']}").status_code == 200
        assert daemon.stop() == 0
        daemon.start()
        assert_unauthorized(status(daemon, SUPERVISOR), "not known")
        with daemon.client(ADMIN) as admin:
            assert len(admin.get("/v1/tokens").json()["tokens"]) == 2
    finally:
        daemon.kill()
    lines = [json.loads(line) for line in daemon.log.read_text().splitlines() if line.strip()]
    imported = [line for line in lines if "imported into the journal" in line["event"]]
    assert [line["key"] for line in imported] == ["tokens[0]", "tokens[1]", "tokens[2]"]
    assert any("deprecated" in line["event"] for line in lines)


def test_a_configured_token_for_an_unknown_advisor_is_not_imported_and_said_so(
    tmp_path: Path,
) -> None:
    stray = "a-token-for-nobody"
    entry = f'\n[[tokens]]\nsha256 = "{digest_of(stray)}"\nrole = "advisor"\nadvisor = "x.y"\n'
    daemon = Daemon(tmp_path, write_config(tmp_path, entry)).start()
    try:
        assert_unauthorized(status(daemon, stray, "/v1/advisors/x.y"), "not known")
    finally:
        daemon.kill()
    refused = [
        json.loads(line) for line in daemon.log.read_text().splitlines() if "not imported" in line
    ]
    assert [(line["key"], line["reason"]) for line in refused] == [("tokens[3]", "unknown_advisor")]


# -- expiry, at the runtime's clock -------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# Building the application in this process meets Litestar's notices about the declaration
# style of the API's routes (their bodies and path parameters); the daemon meets them too, as
# plain warnings, in its own process. They say nothing about what these tests pin.
in_process = pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, VirtualClock]]:
    """The API of a runtime on a virtual clock, served by uvicorn on loopback."""
    loaded = load_config(write_config(tmp_path))
    runtime = build_runtime(loaded, tmp_path / "journal.sqlite")
    clock = VirtualClock()
    runtime.clock = clock
    tokens = Tokens.serving(runtime, {"AIGUILLAGE_ADMIN_TOKEN": ADMIN})
    app = create_app(runtime, tokens, Tickets(60))
    async with (
        serving_app(runtime, app) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as client,
    ):
        yield client, clock


@pytest.mark.anyio
@in_process
async def test_an_expired_token_is_refused_saying_so(
    served: tuple[httpx.AsyncClient, VirtualClock],
) -> None:
    admin, clock = served
    minted = await admin.post("/v1/tokens", json={"role": "supervisor", "expires_in_s": 86_400})
    assert minted.status_code == 201, minted.text
    secret = minted.json()["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    clock.now += DAY - SECOND
    assert (await admin.get("/v1/queues", headers=bearer)).status_code == 200
    clock.now += SECOND
    expired = await admin.get("/v1/queues", headers=bearer)
    assert_unauthorized(expired, "expired at")
    listed = (await admin.get("/v1/tokens")).json()["tokens"]
    assert next(t for t in listed if t["id"] == minted.json()["id"])["expired"] is True


@pytest.mark.anyio
@in_process
async def test_a_token_given_an_instant_expires_then(
    served: tuple[httpx.AsyncClient, VirtualClock],
) -> None:
    admin, clock = served
    minted = await admin.post(
        "/v1/tokens",
        json={"role": "advisor", "advisor": ADVISOR_ID, "expires_at": "2027-01-04T18:00:00+01:00"},
    )
    assert minted.status_code == 201, minted.text
    assert minted.json()["expires"] == "2027-01-04T18:00:00+01:00"
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert (await admin.get(f"/v1/advisors/{ADVISOR_ID}", headers=bearer)).status_code == 200
    clock.now += 9 * 3600 * SECOND  # 08:00 UTC + 9 h = 18:00 in Paris
    assert_unauthorized(await admin.get(f"/v1/advisors/{ADVISOR_ID}", headers=bearer), "expired")


async def _read_until_closed(socket: ClientConnection) -> None:
    while True:
        await socket.recv()


@pytest.mark.anyio
@in_process
async def test_a_websocket_closes_once_its_token_expires(
    served: tuple[httpx.AsyncClient, VirtualClock],
) -> None:
    admin, clock = served
    minted = await admin.post("/v1/tokens", json={"role": "supervisor", "expires_in_s": 3600})
    assert minted.status_code == 201, minted.text
    url = str(admin.base_url).replace("http://", "ws://") + f"/v1/offers?advisor={ADVISOR_ID}"
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}
    async with ws_connect(url, additional_headers=bearer) as socket:
        clock.now += 3600 * SECOND  # the token's hour is over, on the daemon's clock
        with anyio.fail_after(30), pytest.raises(ConnectionClosed) as closed:
            await _read_until_closed(socket)
    assert closed.value.rcvd is not None
    assert "expired" in closed.value.rcvd.reason
