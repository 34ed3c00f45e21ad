"""A webhook receiver: a real HTTP server (uvicorn) in the test process, recording requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.types import Receive, Scope, Send

from nichandle.serving import listening_socket


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers every POST with ``status`` (after ``delay`` seconds) and keeps what came;
    ``on_request`` sees each request as it arrives."""

    port: int
    status: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    on_request: Callable[[Received], None] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"

    def event_ids(self) -> list[str]:
        return [request.event_id for request in self.requests]

    async def wait_for(self, done: Callable[[], bool], *, seconds: float) -> None:
        """Until ``done()`` holds, woken by each request; fails after ``seconds``."""
        async with asyncio.timeout(seconds):
            while not done():
                self.arrived.clear()
                await self.arrived.wait()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        received = Received(scope["path"], headers, body)
        self.requests.append(received)
        if self.on_request is not None:
            self.on_request(received)
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends (listening from the start: the
    socket is bound before the server runs)."""
    sock = listening_socket("127.0.0.1", 0)
    receiver = Receiver(sock.getsockname()[1])
    config = uvicorn.Config(receiver, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
