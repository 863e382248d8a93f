"""A TCP proxy that can cut a process off from a server the way a network partition does:
nothing is refused or reset, bytes just stop arriving (they wait, as TCP retransmits would),
and flow again when the partition heals."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit


class PartitionableProxy:
    """Listens on a local port and forwards every connection to `target_url`'s host:port."""

    def __init__(self, target_url: str) -> None:
        target = urlsplit(target_url)
        self.scheme, self.target = target.scheme, (target.hostname or "127.0.0.1", target.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._listener.getsockname()[1]}"

    def partition(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self.heal()
        for sock in self._sockets:
            sock.close()

    def __enter__(self) -> PartitionableProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                server = socket.create_connection(self.target)
            except OSError:
                return  # closed
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass  # either side closed
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
