"""A UDP relay that holds each DNS datagram for a fixed delay each way: a network round trip on loopback.

For bench/blocklist.py (this machine's kernel has no netem). Asyncio, one process: the delay is a timer, not
a sleeping thread, so thousands of queries can be in flight.

    python bench/dns_delay.py LISTEN_PORT UPSTREAM_PORT DELAY_MS   (both on 127.0.0.1; prints "ready")
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast


class _Upstream(asyncio.DatagramProtocol):
    """One socket per client query towards the server, so replies find their way back without parsing."""

    def __init__(self, client: asyncio.DatagramTransport, address: tuple[str, int], delay: float) -> None:
        self.client, self.address, self.delay = client, address, delay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, _addr: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay, self.client.sendto, data, self.address)
        if self.transport is not None:
            loop.call_later(self.delay, self.transport.close)


class _Relay(asyncio.DatagramProtocol):
    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        asyncio.get_running_loop().call_later(self.delay, lambda: asyncio.ensure_future(self._forward(data, addr)))

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        client = self.transport
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Upstream(client, addr, self.delay), remote_addr=self.upstream)
        transport.sendto(data)
        asyncio.get_running_loop().call_later(10, transport.close)  # no reply: give the socket back


async def _main(listen: int, upstream: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _Relay(("127.0.0.1", upstream), delay),
                                        local_addr=("127.0.0.1", listen))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 2000))  # half each way
