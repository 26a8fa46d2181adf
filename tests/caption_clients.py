"""Live captions over the wire, as the caption tests use them: the JSON API that switches captions on
and hands out captioner links, and python-socketio AsyncClients on /captions that keep everything
they received and fold it into the transcript they would show."""

from __future__ import annotations

import json
from typing import Any

import aiohttp  # noqa: F401 - python-socketio's AsyncClient needs it for its websocket transport
import httpx
import socketio

from tests.harness import TaiwaServer

NS = "/captions"


async def switch_on(http: httpx.AsyncClient, server: TaiwaServer, label: str = "") -> dict[str, Any]:
    """POST /api/sessions/{id}/captions as the workshop's organizer: {code, captioner_token, captioner, ...}."""
    answer = await http.post(f"{server.base}/api/sessions/{server.workshop.session_id}/captions",
                             json={"label": label}, headers=organizer(server))
    assert answer.status_code == 201, answer.text
    return answer.json()


def organizer(server: TaiwaServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.workshop.api_token}"}


class CaptionClient:
    """One /captions connection (viewer or captioner) and what it received, in order."""

    def __init__(self, label: str, transports: list[str] | None = None) -> None:
        self.label = label
        self.transports = transports or ["websocket"]
        self.sio = socketio.AsyncClient(reconnection=False)
        self.snapshots: list[dict[str, Any]] = []
        self.captions: list[dict[str, Any]] = []
        self.received: list[tuple[str, Any]] = []
        self.lines: dict[int, dict[str, Any]] = {}
        self.seq = 0

        @self.sio.on("snapshot", namespace=NS)
        async def on_snapshot(data: Any) -> None:
            self.snapshots.append(data)
            self.received.append(("snapshot", data))
            if "since" not in data:
                self.lines = {}
            for line in data["lines"]:
                self.lines[line["line"]] = line
            self.seq = max(self.seq, data["seq"])

        @self.sio.on("caption", namespace=NS)
        async def on_caption(data: Any) -> None:
            self.captions.append(data)
            self.received.append(("caption", data))
            if data["seq"] > self.seq:
                self.seq = data["seq"]
                self.lines[data["data"]["line"]] = data["data"]

        @self.sio.on("*", namespace=NS)
        async def on_anything(name: str, *data: Any) -> None:
            self.received.append((name, data))

    async def join(self, base: str, auth: dict[str, Any]) -> CaptionClient:
        await self.sio.connect(base, namespaces=[NS], auth=auth, transports=self.transports, wait_timeout=15)
        return self

    @property
    def connected(self) -> bool:
        return self.sio.connected and NS in self.sio.namespaces

    async def call(self, event: str, data: Any = None) -> dict[str, Any]:
        answer = await self.sio.call(event, data, namespace=NS, timeout=30)
        self.received.append((f"ack:{event}", answer))
        return answer

    def transcript(self) -> list[tuple[int, str, str]]:
        """(line, speaker, text) as this client would show them."""
        return [(number, line.get("speaker", ""), line["text"]) for number, line in sorted(self.lines.items())]

    def wire(self) -> str:
        return json.dumps(self.received, ensure_ascii=False)

    async def leave(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
