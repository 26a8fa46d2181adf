"""The baseline: a bare python-socketio server (same uvicorn settings as Taiwa), nothing persisted.

Run: python -m bench.bare_server PORT. Clients connect to namespace /board and join one room;
`note:add` is acknowledged and broadcast to the room as `event`; `vote:cast` and `poll:answer`
are only counted and acknowledged; on /captions, `caption:line` is acknowledged and broadcast as `caption`. Plain HTTP: `GET /health` and `POST /register` (reads a JSON
body, answers 201 with a JSON object) stand in for Taiwa's JSON API in the registration burst.
"""

from __future__ import annotations

import json
import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False)
counter = {"seq": 0, "votes": 0, "answers": 0, "registrations": 0}


@sio.on("connect", namespace="/board")
async def connect(sid: str, environ: dict, auth: dict | None = None) -> None:
    await sio.enter_room(sid, "board", namespace="/board")


@sio.on("note:add", namespace="/board")
async def note_add(sid: str, data: dict) -> dict:
    counter["seq"] += 1
    seq = counter["seq"]
    await sio.emit("event", {"seq": seq, "type": "note:added", "data": {"id": f"n{seq}", "text": data.get("text")}},
                   room="board", namespace="/board")
    return {"ok": True, "seq": seq}


@sio.on("vote:cast", namespace="/board")
async def vote_cast(sid: str, data: dict) -> dict:
    counter["votes"] += 1
    return {"ok": True, "seq": counter["votes"]}


@sio.on("poll:answer", namespace="/board")
async def poll_answer(sid: str, data: dict) -> dict:
    counter["answers"] += 1
    return {"ok": True, "seq": counter["answers"]}


@sio.on("connect", namespace="/captions")
async def captions_connect(sid: str, environ: dict, auth: dict | None = None) -> None:
    await sio.enter_room(sid, "captions", namespace="/captions")


@sio.on("caption:line", namespace="/captions")
async def caption_line(sid: str, data: dict) -> dict:
    counter["seq"] += 1
    seq = counter["seq"]
    await sio.emit("caption", {"seq": seq, "type": "line", "data": {"line": seq, "text": data.get("text")}},
                   room="captions", namespace="/captions")
    return {"ok": True, "line": seq}


async def plain_http(scope: dict, receive, send) -> None:  # noqa: ANN001 - raw ASGI
    """GET /health -> 200; POST /register -> 201 JSON (the body parsed, a counter returned)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    status, answer = 200, {"ok": True}
    if scope["method"] == "POST":
        data = json.loads(body or b"{}")
        counter["registrations"] += 1
        status, answer = 201, {"status": "confirmed", "name": data.get("name"), "id": counter["registrations"]}
    payload = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


app = socketio.ASGIApp(sio, other_asgi_app=plain_http)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
