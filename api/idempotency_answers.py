"""The answer kept under an `Idempotency-Key` (api/idempotency.py): captured from the route
before it is sent, sealed for its caller and key, opened for a retry, and sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Send

from api.sealed_answers import open_sealed, seal
from stores.idempotency import Answer


@dataclass(frozen=True)
class Sealing:
    """Seals the answers kept for one caller's key, and opens them for its retries
    (api/sealed_answers.py)."""

    token: str
    scope: str
    key: str

    def seal(self, answer: Answer) -> Answer:
        return Answer(answer.status, answer.headers, seal(answer.body, **self._context(answer)))

    def open(self, answer: Answer) -> Answer:
        body = open_sealed(answer.body, **self._context(answer))
        return Answer(answer.status, answer.headers, body)

    def _context(self, answer: Answer) -> dict[str, Any]:
        # What the seal is bound to: the caller, its key, and the answer's status and headers.
        return {
            "token": self.token,
            "scope": self.scope,
            "idempotency_key": self.key,
            "status": answer.status,
            "headers": answer.headers,
        }


class Capture:
    """Holds the route's answer until it is kept: a client that has seen an answer and
    retries is then sure to be given that answer."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    def answer(self) -> Answer | None:
        if self.start is None:
            return None
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.start.get("headers", [])
        ]
        return Answer(int(self.start["status"]), headers, bytes(self.body))


async def send_answer(send: Send, answer: Answer, *, replayed: bool) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    if replayed:
        # As Stripe does: the client can tell a replay from a fresh answer.
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
