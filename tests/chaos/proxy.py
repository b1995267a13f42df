"""A TCP proxy in front of RabbitMQ that can stop moving bytes without closing anything.

The services of a chaos platform reach the broker only through this proxy, so the
harness can give them the shape of a broker that stops answering — a memory alarm or a
network partition — while every TCP connection stays open: `freeze()` stops copying
bytes in both directions (new connections are accepted by the kernel but not forwarded
either), `thaw()` lets them flow again. Nothing is lost or reordered: bytes read just
before a freeze wait in the pump that read them.

Plain threads (two pumps per connection, one acceptor): the chaos harness does not run
under eventlet. `stats()` says how many connections are open and how many bytes moved,
so a fault can show that traffic really stood still.
"""

from __future__ import annotations

import socket
import threading
import time

BUFFER = 65536
# How long an idle pump waits in select before looking at the freeze flag again.
POLL_SECONDS = 0.2


class AmqpProxy:
    """127.0.0.1:<port> → upstream (host, port)."""

    def __init__(self, upstream: tuple[str, int], listen_host: str = "127.0.0.1"):
        self.upstream = upstream
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((listen_host, 0))
        self._listener.listen(256)
        self.host, self.port = self._listener.getsockname()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.bytes_moved = 0
        self.connections_total = 0
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    # --- control ------------------------------------------------------------------------

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    def freeze(self) -> None:
        """Stop moving bytes both ways; every socket stays open."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def stats(self) -> dict:
        with self._lock:
            return {
                "open_sockets": len(self._sockets),
                "connections_total": self.connections_total,
                "bytes_moved": self.bytes_moved,
                "frozen": self.frozen,
            }

    def close(self) -> None:
        """Stop accepting, close every connection (thawed first, so no pump stays
        waiting)."""
        self._closed.set()
        self._flowing.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            _close(sock)

    # --- the work -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._connect, args=(client,), name="proxy-conn", daemon=True
            ).start()

    def _connect(self, client: socket.socket) -> None:
        self._track(client)
        # A frozen broker does not answer a new connection either.
        while not self._flowing.wait(POLL_SECONDS):
            if self._closed.is_set():
                self._untrack(client)
                return
        try:
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
        except OSError:
            self._untrack(client)
            return
        self._track(server)
        with self._lock:
            self.connections_total += 1
        done = threading.Event()
        for source, target in ((client, server), (server, client)):
            threading.Thread(
                target=self._pump, args=(source, target, done), name="proxy-pump", daemon=True
            ).start()

    def _pump(self, source: socket.socket, target: socket.socket, done: threading.Event):
        import select

        try:
            while not done.is_set() and not self._closed.is_set():
                if not self._flowing.wait(POLL_SECONDS):
                    continue
                readable, _, _ = select.select([source], [], [], POLL_SECONDS)
                if not readable:
                    continue
                data = source.recv(BUFFER)
                if not data:
                    break
                # Read just before a freeze: held here until the thaw.
                while not self._flowing.wait(POLL_SECONDS):
                    if self._closed.is_set():
                        return
                target.sendall(data)
                with self._lock:
                    self.bytes_moved += len(data)
        except (OSError, ValueError):  # the other pump closed the sockets
            pass
        finally:
            done.set()
            self._untrack(source)
            self._untrack(target)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def wait_still(proxy: AmqpProxy, seconds: float = 2.0) -> int:
    """Bytes moved through a frozen proxy over `seconds` (0 shows the freeze holds)."""
    before = proxy.stats()["bytes_moved"]
    time.sleep(seconds)
    return proxy.stats()["bytes_moved"] - before
