"""`nichandle serve`: uvicorn, and with several workers a listening socket for each.

uvicorn's own supervisor binds one socket and shares it: whichever worker wakes first accepts
every connection waiting (asyncio and uvloop accept in a loop), so a burst of keep-alive
connections lands on one worker while the other idles. Measured with 32 connections opened at
once against two workers: 32/0, 25/7 and 17/15 in three runs, and p99 latency set by the fuller
worker. Here each worker listens on a socket of its own, bound with SO_REUSEPORT, and the kernel
spreads connections over them by their addresses.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other sockets may bind too (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class Workers:
    """``config.workers`` uvicorn processes, each serving its own socket; a worker that dies is
    replaced on the same socket, and SIGINT or SIGTERM stops them all."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self.sockets = [listening_socket(config.host, config.port)]
        # Bound before the first worker starts, so a port already taken fails at once.
        port = self.sockets[0].getsockname()[1]
        self.sockets += [listening_socket(config.host, port) for _ in range(config.workers - 1)]
        self.processes: list[Process] = []
        self.should_exit = threading.Event()

    def _start(self, sock: socket.socket) -> Process:
        process = Process(self.config, [sock])
        process.start()
        return process

    def run(self) -> None:
        def stop(_signal: int, _frame: FrameType | None) -> None:
            self.should_exit.set()

        for each in (signal.SIGINT, signal.SIGTERM):
            signal.signal(each, stop)
        self.processes = [self._start(sock) for sock in self.sockets]
        while not self.should_exit.wait(0.5):
            self._replace_dead()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()

    def _replace_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # Broken before it served (the app, the database URL): every restart would be.
                logger.error("Worker [%s] failed to start; stopping.", process.pid)
                self.should_exit.set()
                return
            logger.info("Worker [%s] died; starting another.", process.pid)
            self.processes[index] = self._start(self.sockets[index])


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
    )
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    Workers(config).run()
