"""Misbehaving socket clients against a real `taiwa serve` (red-team issue 20): a flood of sockets
from one address, sockets that never join a board, a client that asks for the whole board again and
again without reading the answers, and event data nested hundreds deep.

The misbehaving clients speak websocket by hand (wsproto over a plain TCP stream) so that they can
stop reading or never join; everyone else is a real python-socketio AsyncClient. The server runs
with a low descriptor limit (so a flood would exhaust it) and small socket limits (so it is quick).
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, CloseConnection, Event, Message, Ping, RejectConnection, Request,
                            TextMessage)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from tests.harness import fresh_database, TaiwaServer, prepare_workshop
from tests.socket_clients import NS, Api, crowd, facilitator, op, participant, until  # noqa: F401

pytestmark = pytest.mark.database  # its servers run on the run's engine (fresh_database)

CAP = 20  # sockets at once per address
JOIN_SECONDS = 2  # to join a board after opening a socket
FILES = 128  # the server's descriptor limit: far fewer than a flood
LIMITS = f"connections={CAP}/{JOIN_SECONDS},note=1000/60,board=1000/10"  # snapshots: the default 10/10
BACKLOG = {"TAIWA_SOCKET_BACKLOG_PACKETS": "200", "TAIWA_SOCKET_BACKLOG_BYTES": "100000"}
SOCKET_PATH = "/socket.io/?EIO=4&transport=websocket"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaiwaServer]:
    folder = tmp_path_factory.mktemp("attack-sockets")
    running = TaiwaServer(prepare_workshop(fresh_database(folder)), folder / "server.log",
                          env={"TAIWA_LIMITS": LIMITS, **BACKLOG})
    running.start()
    assert running.process is not None
    resource.prlimit(running.process.pid, resource.RLIMIT_NOFILE, (FILES, FILES))
    try:
        yield running
    finally:
        running.stop()
        errors = [line for line in running.log().splitlines() if "Traceback" in line or "Error" in line]
        assert not errors, f"the server logged errors ({running.log_path}): {errors[:5]}"


@pytest.fixture
async def api(server: TaiwaServer) -> Any:
    client = Api(server)
    yield client
    await client.close()


class RawSocket:
    """A websocket to /socket.io/ spoken by hand, so that it can misbehave. `texts` holds every
    engine.io packet received, in order; `status` is 101 once accepted, else the refusal's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.status = 0
        self.texts: list[str] = []
        self.closed = False
        self._partial = ""

    @classmethod
    async def open(cls, port: int, *, headers: list[tuple[bytes, bytes]] | None = None,
                   receive_buffer: int | None = None) -> RawSocket:
        sock = socket.socket()
        if receive_buffer:  # a small window: a client that stops reading soon stops taking data
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        raw = cls(reader, writer)
        raw._write(Request(host=f"127.0.0.1:{port}", target=SOCKET_PATH, extra_headers=headers or []))
        while not raw.status and not raw.closed:
            await raw.receive()
        return raw

    def _write(self, event: Event) -> None:
        try:
            self.writer.write(self.ws.send(event))
        except LocalProtocolError:
            pass  # the connection is already closing

    def send(self, text: str) -> None:
        self._write(Message(data=text))

    async def receive(self) -> None:
        """Read what has arrived (waiting for at least something)."""
        data = await self.reader.read(65536)
        self.ws.receive_data(data or None)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self.status = 101
            elif isinstance(event, RejectConnection):
                self.status = event.status_code
            elif isinstance(event, TextMessage):
                self._partial += event.data
                if event.message_finished:
                    self.texts.append(self._partial)
                    self._partial = ""
            elif isinstance(event, Ping):
                self._write(event.response())
            elif isinstance(event, CloseConnection):
                self._write(event.response())
                self.closed = True
        if not data:
            self.closed = True

    async def until(self, condition: Callable[[], bool], timeout: float) -> None:
        """Keep reading until the condition holds or the connection ends; fail after `timeout` seconds."""
        async def read() -> None:
            while not condition() and not self.closed:
                await self.receive()
        await asyncio.wait_for(read(), timeout)

    async def join(self, token: str) -> None:
        """Join the board as a participant, as a browser does, and wait for the snapshot."""
        self.send(f"40{NS},{json.dumps({'token': token})}")
        await self.until(lambda: any(text.startswith(f'42{NS},["snapshot"') for text in self.texts), 10)

    async def call(self, number: int, event: str, data: str) -> dict[str, Any]:
        """Send an event with its data as JSON text, and wait for the ack."""
        self.send(f'42{NS},{number}["{event}",{data}]')
        prefix = f"43{NS},{number}["
        await self.until(lambda: any(text.startswith(prefix) for text in self.texts), 10)
        return json.loads(next(text for text in self.texts if text.startswith(prefix))[len(prefix) - 1:])[0]

    def close(self) -> None:
        self.writer.close()


def rss_mb(server: TaiwaServer) -> float:
    """The server process's resident memory."""
    assert server.process is not None
    with open(f"/proc/{server.process.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def connected(organizer: Any) -> int | None:
    """How many are connected to the board, by the last presence message the facilitator got."""
    counts = [data[0]["connected"] for name, data in organizer.received if name == "presence"]
    return counts[-1] if counts else None


async def ack_times(member: Any, count: int, every: float = 0.05) -> list[float]:
    """Milliseconds from sending a note to its ack, for notes sent every `every` seconds (not waiting
    for the answers), as a participant writing along would."""
    async def timed(n: int) -> float:
        start = time.perf_counter()
        answer = await member.call("note:add", {"op": op(), "zone": "z2", "text": f"計測{n}"})
        assert answer["ok"], answer
        return (time.perf_counter() - start) * 1000

    sent = []
    for n in range(count):
        sent.append(asyncio.ensure_future(timed(n)))
        await asyncio.sleep(every)
    return list(await asyncio.gather(*sent))


# ---------------------------------------------------------------- a thousand sockets (issue 20, 12)

async def test_a_flood_of_sockets_from_one_address_is_capped_and_pages_still_answer(server, api, crowd):
    board = await api.new_board("接続の上限")
    flood: list[RawSocket] = []
    failed = 0
    try:
        while len(flood) + failed < 2 * FILES and failed < 5:
            try:
                flood.append(await asyncio.wait_for(RawSocket.open(server.port), 2))
            except (OSError, asyncio.TimeoutError, RemoteProtocolError):
                failed += 1  # reset or never answered: the server had no descriptor left for it
        async with httpx.AsyncClient(base_url=server.base, timeout=5) as http:
            page = await http.get("/")
        assert page.status_code == 200  # the web pages still answer during the flood

        # the first CAP are let in and the next is refused; later ones are let in only as the server
        # closes earlier ones that never joined a board (the next test)
        statuses = [raw.status for raw in flood]
        assert failed == 0 and statuses[:CAP + 1] == [101] * CAP + [429], (failed, statuses)
        assert set(statuses) == {101, 429} and statuses.count(429) > FILES
        # someone at another address (as the trusted local proxy forwards it) still joins the board
        token = (await api.new_participant(board, "花子"))["token"]
        hanako = await crowd("花子").join(server.base, {"token": token}, headers={"X-Forwarded-For": "203.0.113.9"})
        assert hanako.connected and (await hanako.board())["board"]["id"] == board["id"]
    finally:
        for raw in flood:
            raw.close()
    deadline = time.monotonic() + 10
    while (probe := await RawSocket.open(server.port)).status != 101:  # the flood's sockets are let go
        probe.close()
        assert time.monotonic() < deadline, "the address stayed shut out after its sockets closed"
        await asyncio.sleep(0.1)
    probe.close()


async def test_sockets_that_never_join_a_board_are_closed_within_seconds(server, api, crowd):
    board = await api.new_board("参加しない接続")
    hanako = await participant(api, crowd, board, "花子")
    opened = time.monotonic()
    idle = [await RawSocket.open(server.port) for _ in range(3)]
    refused = await RawSocket.open(server.port)
    refused.send(f"40{NS},{json.dumps({'token': 'bp_' + 'x' * 32})}")  # a wrong token, then nothing
    assert all(raw.status == 101 for raw in [*idle, refused])

    await asyncio.gather(*(raw.until(lambda: False, JOIN_SECONDS + 3) for raw in [*idle, refused]))
    assert all(raw.closed for raw in [*idle, refused])
    assert time.monotonic() - opened < JOIN_SECONDS + 3
    assert any(text.startswith(f"44{NS},") for text in refused.texts)  # it was told why it was refused
    assert hanako.connected  # a participant who joined stays
    assert (await hanako.call("note:add", {"op": op(), "zone": "z1", "text": "まだつながっています"}))["ok"]


# ---------------------------------------------------------------- a client that never reads (issue 20, 3)

async def test_asking_for_the_whole_board_again_and_again_is_limited_in_the_users_language(api, crowd):
    board = await api.new_board("読み込みの上限")
    hanako = await participant(api, crowd, board, "花子")
    taro = await participant(api, crowd, board, "Taro", lang="en")

    for member, says in [(hanako, "数秒待って"), (taro, "Please wait a few seconds")]:
        answers = [await member.call("board:snapshot") for _ in range(11)]
        assert all(answer["ok"] for answer in answers[:10])
        refused = answers[10]
        assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
        assert says in refused["error"]["message"]
        assert member.connected
        # the limit is on snapshots only: changes still go through
        assert (await member.call("note:add", {"op": op(), "zone": "z1", "text": "意見"}))["ok"]


async def test_a_client_that_never_reads_is_dropped_and_others_keep_their_pace(server, api, crowd):
    board = await api.new_board("読まない接続")
    organizer = await facilitator(api, crowd, board)
    # a board with 400 long notes: each snapshot is about 270,000 characters (650 kB), so that ten of them
    # are more than the kernel's socket buffers take in and the rest has to wait in the server
    answers = await asyncio.gather(*(organizer.call("note:add", {"op": op(), "zone": "z1",
                                                                 "text": f"{n}番目の意見。" + "対話" * 240})
                                     for n in range(400)))
    assert all(answer["ok"] for answer in answers)
    hanako = await participant(api, crowd, board, "花子")
    token = (await api.new_participant(board, "読まない人"))["token"]
    before_ms = await ack_times(hanako, 20)
    before_mb = rss_mb(server)

    reader = await RawSocket.open(server.port, receive_buffer=4096)
    await reader.join(token)
    await until(lambda: connected(organizer) == 3, "the non-reading client counted as connected")
    reader.send("3")  # an unprompted pong, which used to keep such a client alive
    for n in range(1000):  # then a thousand snapshot requests, and no more reading
        reader.send(f'42{NS},{n}["board:snapshot"]')
    during_ms = await ack_times(hanako, 20)
    await asyncio.sleep(1)
    after_mb = rss_mb(server)
    print(f"\nserver memory {before_mb:.0f} MB -> {after_mb:.0f} MB; another participant's acks: median "
          f"{statistics.median(before_ms):.1f} ms -> {statistics.median(during_ms):.1f} ms, slowest "
          f"{max(before_ms):.0f} ms -> {max(during_ms):.0f} ms")

    assert after_mb - before_mb < 30  # it was hundreds of megabytes, never given back
    assert max(during_ms) < 2000  # it was over ten seconds: every snapshot held up her notes
    await until(lambda: connected(organizer) == 2, "the non-reading client dropped", timeout=15)
    assert hanako.connected and organizer.connected
    # when it reads again it finds only the start of the answers, then the end of its connection
    await reader.until(lambda: False, 10)
    answered = [text for text in reader.texts if text.startswith(f"43{NS},")]
    assert reader.closed and len(answered) < 1000
    # and it may come back
    back = await participant(api, crowd, board, "戻ってきた人")
    assert (await back.board())["notes"]


# ---------------------------------------------------------------- deep nesting (issue 20, low)

DEEP_LIST = "[" * 500 + '"意見"' + "]" * 500
DEEP_OBJECT = '{"a":' * 500 + '"意見"' + "}" * 500


@pytest.mark.parametrize("data", [DEEP_LIST, f'{{"zone":"z1","text":{DEEP_LIST}}}',
                                  f'{{"zone":"z1","text":{DEEP_OBJECT}}}', DEEP_OBJECT],
                         ids=["list", "list in the text", "object in the text", "object"])
async def test_event_data_nested_hundreds_deep_gets_an_error_ack_and_the_connection_stays(server, api, data):
    board = await api.new_board("入れ子")
    raw = await RawSocket.open(server.port)  # python-socketio's own client cannot even encode such data
    await raw.join((await api.new_participant(board, "花子"))["token"])

    answer = await raw.call(1, "note:add", data)
    assert answer["ok"] is False and answer["error"]["code"] == "invalid" and answer["error"]["message"]
    assert (await raw.call(2, "note:add", json.dumps({"op": op(), "zone": "z1", "text": "普通の意見"})))["ok"]
    assert not raw.closed
    raw.close()
