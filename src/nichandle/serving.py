"""`nichandle serve`: uvicorn, and with several workers one listening socket whose connections
go to the worker serving the fewest.

A keep-alive connection stays with the worker that accepted it, so how connections are spread
decides how the load is. uvicorn's own supervisor shares one socket: whichever worker wakes
first accepts every connection waiting (32 opened at once against two workers: 32/0, 25/7 and
17/15 in three runs). A socket per worker with SO_REUSEPORT lets the kernel hash connections
over them: 16/16, 15/17, 13/19, 9/23 in five runs of 32, and the fuller worker set the p99 at
concurrency 32 (bench/README.md, fourth pass), as it would behind a proxy keeping a pool of
connections open. So this process accepts every connection itself and hands it, as a file
descriptor over a Unix socket, to the worker with the fewest open connections (least
connections, as a proxy balances); each worker counts the connections it has closed in memory
the supervisor reads. A worker still starting gets connections only when no started one takes
them, and is not pinged: its health-check answers come once it has imported the app, and a
worker killed for a late answer would take the connections queued for it along.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from multiprocessing.sharedctypes import RawArray
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")

# How long a worker's Unix socket may take to accept a connection before another worker gets it.
HAND_OVER_TIMEOUT_SECONDS = 1.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # uvicorn's default backlog
    return sock


class _Shared:
    """Memory the workers write and the supervisor reads, one slot per worker."""

    def __init__(self, workers: int) -> None:
        self.closed: Any = RawArray("q", workers)  # connections closed
        self.ready: Any = RawArray("b", workers)  # 1 once it takes connections


class _HandedConnectionsServer(uvicorn.Server):
    """A uvicorn server that listens on nothing: it serves the connections that arrive as file
    descriptors on ``sockets[0]`` (a Unix socket from the supervisor), sets ``ready[index]``
    once it takes them, and counts those it closes in ``closed[index]``."""

    def __init__(self, config: uvicorn.Config, shared: _Shared, index: int) -> None:
        super().__init__(config)
        self.closed = shared.closed
        self.ready = shared.ready
        self.index = index
        self.handing: set[asyncio.Task[Any]] = set()  # held until done, as asyncio asks

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if not self.started or not sockets:
            return
        channel = sockets[0]
        channel.setblocking(False)
        loop = asyncio.get_running_loop()
        loop.add_reader(channel.fileno(), self._take_connections, channel, loop)
        self.ready[self.index] = 1
        logger.info("Taking connections.")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if sockets:
            asyncio.get_running_loop().remove_reader(sockets[0].fileno())
        await super().shutdown(sockets=sockets)

    def _protocol(self) -> asyncio.Protocol:
        # As uvicorn's startup makes the protocol of each connection it accepts.
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            lost(exc)
            self.closed[self.index] += 1

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        return protocol

    def _take_connections(self, channel: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        try:
            message, fds, _flags, _address = socket.recv_fds(channel, 256, 256)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message, fds = b"", []
        if not message:  # the supervisor is gone: finish what is open, take nothing more
            loop.remove_reader(channel.fileno())
            self.should_exit = True
            return
        for fd in fds:
            connection = socket.socket(fileno=fd)
            task = loop.create_task(loop.connect_accepted_socket(self._protocol, connection))
            self.handing.add(task)
            task.add_done_callback(self.handing.discard)


class _Worker(Process):
    """A uvicorn worker process whose one "socket" is its end of a Unix socket pair."""

    def __init__(
        self, config: uvicorn.Config, channel: socket.socket, shared: _Shared, index: int
    ) -> None:
        self.shared = shared
        self.index = index
        super().__init__(config, [channel])

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = _HandedConnectionsServer(self.config, self.shared, self.index)
        return self._server


class Workers:
    """``config.workers`` uvicorn processes behind one listening socket; this process accepts
    and hands each connection to the worker with the fewest open. A worker that dies is
    replaced; SIGINT or SIGTERM stops them all."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        # Bound before the first worker starts, so a port already taken fails at once.
        self.listener = listening_socket(config.host, config.port)
        self.shared = _Shared(config.workers)
        self.handed = [0] * config.workers  # connections given to each worker
        self.channels: list[socket.socket] = []
        self.processes: list[_Worker] = []
        self.lock = threading.Lock()  # the dispatcher against replacements
        self.should_exit = threading.Event()

    def _start(self, index: int) -> tuple[_Worker, socket.socket]:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.settimeout(HAND_OVER_TIMEOUT_SECONDS)
        self.shared.closed[index] = self.shared.ready[index] = self.handed[index] = 0
        process = _Worker(self.config, theirs, self.shared, index)
        process.start()
        theirs.close()  # the worker has its copy; when it dies, handing over fails at once
        return process, ours

    def run(self) -> None:
        def stop(_signal: int, _frame: FrameType | None) -> None:
            self.should_exit.set()

        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, stop)
        started = [self._start(index) for index in range(self.config.workers)]
        self.processes = [process for process, _ in started]
        self.channels = [channel for _, channel in started]
        dispatcher = threading.Thread(target=self._dispatch, name="dispatcher", daemon=True)
        dispatcher.start()
        while not self.should_exit.wait(0.5):
            self._replace_dead()
        dispatcher.join()
        self.listener.close()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()

    def _open(self, index: int) -> int:
        return self.handed[index] - int(self.shared.closed[index])

    def _least_busy(self) -> list[int]:
        """Worker indexes, started ones first, then fewest open connections; ties in turn."""
        count = len(self.handed)
        offset = sum(self.handed)
        ready = self.shared.ready
        return sorted(
            range(count), key=lambda i: (not ready[i], self._open(i), (i - offset) % count)
        )

    def _dispatch(self) -> None:
        self.listener.settimeout(0.5)
        while not self.should_exit.is_set():
            try:
                connection, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self.should_exit.is_set():
                    return
                time.sleep(0.05)  # out of file descriptors, say: let some close first
                continue
            with connection, self.lock:
                self._hand_over(connection)

    def _hand_over(self, connection: socket.socket) -> None:
        for index in self._least_busy():
            try:
                socket.send_fds(self.channels[index], [b"c"], [connection.fileno()])
            except OSError:  # dead, or stuck past the timeout: the next one
                continue
            self.handed[index] += 1
            return
        logger.error("No worker took a connection; it is closed.")

    def _replace_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if self.shared.ready[index]:
                alive = process.is_alive(timeout=self.config.timeout_worker_healthcheck)
            else:
                alive = process.process.is_alive()
            if alive:
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # Broken before it served (the app, the database URL): every restart would be.
                logger.error("Worker [%s] failed to start; stopping.", process.pid)
                self.should_exit.set()
                return
            logger.info("Worker [%s] died; starting another.", process.pid)
            with self.lock:
                self.channels[index].close()
                self.processes[index], self.channels[index] = self._start(index)


def serve(app: str, *, host: str, port: int, workers: int, access_log: bool = True) -> None:
    """Serves the ASGI app factory ``app`` ("module:function") with ``workers`` processes."""
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        # X-Forwarded-For is read by the app, from NICHANDLE_TRUSTED_PROXIES only (app.py), not
        # by uvicorn, which otherwise trusts it from 127.0.0.1 (or FORWARDED_ALLOW_IPS).
        proxy_headers=False,
    )
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    logger.info("Uvicorn running on http://%s:%d with %d workers", host, port, workers)
    Workers(config).run()
