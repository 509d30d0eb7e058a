"""uvicorn's HTTP/1.1 protocol with a deadline for request headers (slowloris).

uvicorn closes an idle keep-alive connection, but a client that sends its request line and
headers a byte at a time holds its connection for ever: every byte re-arms nothing, and enough
such clients fill ``limit_concurrency`` so that real clients get 503. Here a connection must
deliver a complete request head within ``header_timeout_s`` of opening (or of its previous
response); otherwise it is closed. Bodies have their own deadline (``Limits.body_timeout_s``),
WebSocket streams theirs (``Limits.stream_idle_s``)."""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol


def header_deadline_protocol(header_timeout_s: float) -> type:
    """An H11Protocol class whose connections close after ``header_timeout_s`` seconds without a
    complete request head."""

    class HeaderDeadlineH11(H11Protocol):
        _deadline = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a request head arrived whole
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            # a WebSocket upgrade hands the transport to another protocol: not ours to close
            if self.transport.get_protocol() is self and not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineH11
