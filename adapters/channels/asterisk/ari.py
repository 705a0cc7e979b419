"""A small ARI client: REST requests with httpx, the event stream with ``websockets``.

Only what the channel uses is here, each request named as in Asterisk's Swagger files
(``channels.json``, ``bridges.json``, ``playbacks.json``, ``recordings.json``). Requests that
create by id (a channel's originate, a bridge) are idempotent: Asterisk answers 409 when the
id exists, which is taken as done, so that a retry or a resynchronisation never rings a phone
twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import connect

__all__ = ["Ari", "AriError"]


class AriError(Exception):
    """Asterisk answered a request with an unexpected status (or not at all)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Ari:
    def __init__(self, url: str, username: str, password: str, app: str) -> None:
        self.url = url.rstrip("/") + "/ari"
        self.app = app
        self._auth = (username, password)
        self._http = httpx.AsyncClient(base_url=self.url, auth=self._auth, timeout=10)

    async def close(self) -> None:
        await self._http.aclose()

    async def events(self, connected: Callable[[], None]) -> AsyncIterator[dict[str, Any]]:
        """The application's events, until the WebSocket closes (``AriError`` then);
        ``connected`` is called once the WebSocket is open, before any event."""
        ws_url = (
            self.url.replace("http", "ws", 1)
            + "/events?"
            + urlencode({"app": self.app, "api_key": ":".join(self._auth)})
        )
        try:
            async with connect(ws_url, open_timeout=10) as socket:
                connected()
                async for message in socket:
                    yield json.loads(message)
        except (OSError, TimeoutError) as exc:
            raise AriError(f"event WebSocket: {exc}") from exc
        except Exception as exc:  # websockets' ConnectionClosed, InvalidStatus...
            raise AriError(f"event WebSocket: {type(exc).__name__}: {exc}") from exc
        raise AriError("event WebSocket closed")

    async def _call(
        self, method: str, path: str, params: dict[str, str] | None = None, *, ok: tuple[int, ...]
    ) -> Any:
        try:
            response = await self._http.request(method, path, params=params)
        except httpx.TransportError as exc:
            raise AriError(f"{method} {path}: {exc}") from exc
        if response.status_code not in (200, 201, 204, *ok):
            raise AriError(
                f"{method} {path}: {response.status_code} {response.text[:200]}",
                response.status_code,
            )
        if response.status_code in (200, 201) and response.content:
            return response.json()
        return None

    # -- channels ------------------------------------------------------------------------------

    async def channels(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/channels", ok=()))

    async def channel(self, channel_id: str) -> dict[str, Any] | None:
        """A channel's details (its ``caller``); None when it is gone."""
        found = await self._call("GET", f"/channels/{channel_id}", ok=(404,))
        return None if found is None else dict(found)

    async def answer(self, channel_id: str) -> None:
        await self._call("POST", f"/channels/{channel_id}/answer", ok=(404,))

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        params = {"variable": variable, "value": value}
        await self._call("POST", f"/channels/{channel_id}/variable", params, ok=(404,))

    async def get_variable(self, channel_id: str, variable: str) -> str | None:
        """A channel variable's (or a dialplan function's) value; None when Asterisk has none."""
        params = {"variable": variable}
        found = await self._call("GET", f"/channels/{channel_id}/variable", params, ok=(404,))
        return None if found is None else str(found.get("value", ""))

    async def play(self, channel_id: str, media: str, playback_id: str) -> None:
        path = f"/channels/{channel_id}/play/{playback_id}"
        await self._call("POST", path, {"media": media}, ok=(404, 409))

    async def stop_playback(self, playback_id: str) -> None:
        """Stop a playback; one over already (or never started) is no error."""
        await self._call("DELETE", f"/playbacks/{playback_id}", ok=(404,))

    async def originate(
        self, channel_id: str, endpoint: str, args: str, caller_id: str, timeout_s: int = 0
    ) -> bool:
        """Ring ``endpoint`` on a channel of this id in the application (for ``timeout_s``,
        else Asterisk's 30 s); False when the id already exists (rung already)."""
        params = {"endpoint": endpoint, "app": self.app, "appArgs": args}
        if caller_id:
            params["callerId"] = caller_id
        if timeout_s:
            params["timeout"] = str(timeout_s)
        found = await self._call("POST", f"/channels/{channel_id}", params, ok=(409,))
        return found is not None

    async def continue_at(self, channel_id: str, label: str) -> None:
        """Let the channel go on in the dialplan at ``label`` (its context and extension)."""
        params = {"label": label}
        await self._call("POST", f"/channels/{channel_id}/continue", params, ok=(404,))

    async def hang_up(self, channel_id: str, reason: str = "normal") -> None:
        await self._call("DELETE", f"/channels/{channel_id}", {"reason": reason}, ok=(404,))

    # -- bridges -------------------------------------------------------------------------------

    async def bridges(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/bridges", ok=()))

    async def bridge(self, bridge_id: str, kind: str) -> None:
        """Create the bridge of this id; one that exists already is taken as it is."""
        await self._call("POST", f"/bridges/{bridge_id}", {"type": kind}, ok=(409,))

    async def music_on_hold(self, bridge_id: str, moh_class: str) -> None:
        await self._call("POST", f"/bridges/{bridge_id}/moh", {"mohClass": moh_class}, ok=())

    async def add(self, bridge_id: str, channel_ids: list[str]) -> None:
        params = {"channel": ",".join(channel_ids)}
        await self._call("POST", f"/bridges/{bridge_id}/addChannel", params, ok=())

    async def remove(self, bridge_id: str, channel_id: str) -> None:
        """Take a channel out of a bridge; one not in it (or gone) is no error."""
        params = {"channel": channel_id}
        await self._call("POST", f"/bridges/{bridge_id}/removeChannel", params, ok=(400, 404, 422))

    async def destroy(self, bridge_id: str) -> None:
        await self._call("DELETE", f"/bridges/{bridge_id}", ok=(404,))

    async def record(self, bridge_id: str, name: str, file_format: str) -> None:
        """Record a bridge as ``name``; a recording of that name already (the call bridged
        again after a transfer) is appended to."""
        params = {"name": name, "format": file_format, "ifExists": "append"}
        await self._call("POST", f"/bridges/{bridge_id}/record", params, ok=())

    # -- recordings ----------------------------------------------------------------------------

    async def stored_recordings(self) -> list[str]:
        """The names of the recordings Asterisk keeps."""
        return [str(r["name"]) for r in await self._call("GET", "/recordings/stored", ok=())]

    async def delete_recording(self, name: str) -> None:
        """Delete a stored recording; one gone already is no error."""
        await self._call("DELETE", f"/recordings/stored/{name}", ok=(404,))
