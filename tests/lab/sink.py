"""The lab's "rest of the Internet": an SMTP server that accepts everything and records every message.

Run in the client namespace (``ip netns exec NS python -m tests.lab.sink --dir D --address 0.0.0.0 --address ::``).
Every name the lab DNS does not own resolves to SINK, so whatever a host relays lands here: a file in
``D`` per message is the proof that mail left the host. Files appear atomically (written, then renamed).
With ``--tls-cert C --tls-key K`` the sink offers STARTTLS with that certificate, and each record says whether
its message came over TLS (``tls``, and the ``cipher``); without them it offers no STARTTLS and records as before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class Recorder:
    """aiosmtpd handler: one JSON file per accepted message (peer, envelope, data)."""

    def __init__(self, folder: Path, *, tls: bool = False) -> None:
        self.folder = folder
        self.tls = tls

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        record: dict[str, Any] = {"peer": list(session.peer or ())[:2], "helo": session.host_name,
                                  "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                                  "data": content.decode("utf-8", "replace"), "received": time.time()}
        if self.tls:
            record["tls"] = session.ssl is not None
            record["cipher"] = list(session.ssl.get("cipher") or ()) if session.ssl else []
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        partial = self.folder / f".{name}.tmp"
        partial.write_text(json.dumps(record))
        partial.rename(self.folder / f"{name}.json")
        return "250 2.0.0 Ok: recorded by the lab sink"


def messages(folder: Path) -> list[dict[str, Any]]:
    """Every message the sink recorded in ``folder``, oldest first."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def main() -> None:
    parser = argparse.ArgumentParser(description="the lab sink")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--address", action="append", required=True, help="repeatable: an address to listen on")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--tls-cert", type=Path, help="offer STARTTLS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    args = parser.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    args.dir.mkdir(parents=True, exist_ok=True)
    context = None
    if args.tls_cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    asyncio.run(serve(Recorder(args.dir, tls=context is not None), args.address, args.port, context))


async def serve(recorder: Recorder, addresses: list[str], port: int, tls: ssl.SSLContext | None = None) -> None:
    """Listen on every address until SIGTERM or SIGINT (offering STARTTLS with ``tls`` when given)."""
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    extra: dict[str, Any] = {"tls_context": tls} if tls is not None else {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set_result, None)
    server = await loop.create_server(lambda: SMTP(recorder, hostname="sink.lab.test", **extra), host=addresses,
                                      port=port)
    async with server:
        await stop


if __name__ == "__main__":
    main()
