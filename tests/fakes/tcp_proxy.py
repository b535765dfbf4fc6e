"""A loopback TCP forwarder that a test can cut: a dependency (a vault, say) becomes unreachable
for the process under test while it keeps running for everyone else."""

from __future__ import annotations

import contextlib
import select
import socket
import threading


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forwards every connection to 127.0.0.1:``target_port``. Cut: open connections are closed
    and new ones are accepted and closed at once (a peer resetting, as a vault behind a failed
    load balancer looks to a client)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections = 0
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self, cut: bool = True) -> None:
        if cut:
            self._cut.set()
            with self._lock:
                for sock in self._open:
                    _close(sock)
                self._open.clear()
        else:
            self._cut.clear()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(5)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            if self._cut.is_set():
                _close(client)
                continue
            self.connections += 1
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _handshake(self, client: socket.socket) -> bool:
        """What a connection says before bytes are forwarded: nothing for a plain forwarder."""
        return True

    def _pipe(self, client: socket.socket) -> None:
        if not self._handshake(client):
            _close(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._open |= {client, upstream}
        try:
            while not self._cut.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._open -= {client, upstream}
            _close(client)
            _close(upstream)
