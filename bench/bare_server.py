"""The baseline: a bare python-socketio room broadcast server (same uvicorn settings as Taiwa).

Run: python -m bench.bare_server PORT. Clients connect to namespace /board and join one room;
`note:add` is acknowledged and broadcast to the room as `event`, with nothing persisted.
"""

from __future__ import annotations

import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False)
counter = {"seq": 0}


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


app = socketio.ASGIApp(sio)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
