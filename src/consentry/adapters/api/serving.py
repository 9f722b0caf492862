"""How ``consentry serve`` runs the application under uvicorn: :func:`uvicorn_options`.

uvicorn bounds how long an idle keep-alive connection stays open
(``timeout_keep_alive``) and how large an incomplete request head may grow
(h11's ``max_incomplete_event_size``), but not how long a client may take to
send the head: a client sending a header byte now and then holds a
connection (and its memory) for ever.  :class:`HeadDeadlineProtocol` closes a
connection whose request head is not complete within ``head_timeout_s``
seconds of the connection being made, or of the previous response.
"""

from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head.

    The deadline is armed when the connection is made and again after each
    response, and cancelled when a request head has been read whole (the
    request's body and the response are not limited here).
    """

    head_timeout_s: float = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._head_timer = None
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        if before is None or before.response_complete:
            self._arm_head_deadline()  # waiting for a head (already armed unless the keep-alive wait ended)
        super().data_received(data)
        if self.cycle is not before and self.cycle is not None:
            self._disarm_head_deadline()  # the head arrived whole

    def on_response_complete(self) -> None:
        before = self.cycle
        super().on_response_complete()
        if self.cycle is before and not self.transport.is_closing():
            self._arm_head_deadline()  # the next head, if any, must come in time too
        elif self.cycle is not before:
            self._disarm_head_deadline()  # a pipelined head was already buffered whole

    def connection_lost(self, exc) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        if getattr(self, "_head_timer", None) is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_deadline_passed)

    def _disarm_head_deadline(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_deadline_passed(self) -> None:
        self._head_timer = None
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.logger.info("closing a connection from %s: no complete request head within %g s",
                             self.client, self.head_timeout_s)
            try:
                self.conn.send(h11.ConnectionClosed())
            except h11.LocalProtocolError:
                pass
            self.transport.close()


def head_deadline_protocol(head_timeout_s: float) -> type[HeadDeadlineProtocol]:
    """:class:`HeadDeadlineProtocol` with its deadline set to ``head_timeout_s`` seconds."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout_s": float(head_timeout_s)})


def uvicorn_options(settings) -> dict:
    """The keyword arguments of ``uvicorn.run`` / ``uvicorn.Config`` for a server with ``settings``
    (:class:`~consentry.adapters.api.settings.ServerSettings`)."""
    return {"http": head_deadline_protocol(settings.header_timeout_s), "timeout_keep_alive": 5,
            "proxy_headers": bool(settings.trust_forwarded_for), "timeout_graceful_shutdown": 5}
