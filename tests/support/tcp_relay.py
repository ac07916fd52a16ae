"""A loopback TCP relay in front of a server, whose network path can go silent.

`TcpRelay` forwards bytes both ways between each client and the server behind it, and counts them.
`stall()` turns every connection open at that moment into a dead path: nothing more is carried either
way and no socket is closed or reset, which is what a vanished NAT mapping or a dead route looks like to
both ends. Connections made afterwards are carried normally.
"""

from __future__ import annotations

import attrs
import trio


@attrs.define(eq=False)
class _Link:
    stalled: bool = False
    to_server: int = 0
    to_client: int = 0


class TcpRelay:
    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.links: list[_Link] = []

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Relay connections until cancelled; `task_status` gets the relay's port."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._relay, listeners)
            task_status.started(int(listeners[0].socket.getsockname()[1]))

    def stall(self) -> None:
        for link in self.links:
            link.stalled = True

    def carried(self) -> tuple[int, int]:
        """Bytes carried so far, (client to server, server to client), over every connection."""
        return sum(link.to_server for link in self.links), sum(link.to_client for link in self.links)

    async def _relay(self, client: trio.SocketStream) -> None:
        link = _Link()
        self.links.append(link)
        server = await trio.open_tcp_stream("127.0.0.1", self.server_port)
        async with client, server, trio.open_nursery() as nursery:
            nursery.start_soon(self._carry, client, server, link, True, nursery.cancel_scope)
            nursery.start_soon(self._carry, server, client, link, False, nursery.cancel_scope)

    @staticmethod
    async def _carry(
        source: trio.SocketStream, sink: trio.SocketStream, link: _Link, to_server: bool, both: trio.CancelScope
    ) -> None:
        try:
            while data := await source.receive_some(65536):
                if link.stalled:
                    await trio.sleep_forever()
                await sink.send_all(data)
                if to_server:
                    link.to_server += len(data)
                else:
                    link.to_client += len(data)
            await sink.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            both.cancel()  # one side went away: the other's half goes with it
