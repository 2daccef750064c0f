"""The ceiling of the serving benchmark's HTTP stack: a bare ASGI app (no framework, no routing, nothing looked
up) that answers every request with one answer fixed at start, its status line, headers and body copied from
ours, under the same uvicorn as every server. Nothing on this stack answers faster, so it bounds what any
server in the table can reach; the serving section runs it on the collection list
(``uvicorn bench.ceiling_app:app`` with $NBGIS_BENCH_CEILING naming the saved answer, bench.serving.ceiling)."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ANSWER_ENV = "NBGIS_BENCH_CEILING"  # a JSON file: {"headers": [[name, value], ...], "body": "..."}

Message = MutableMapping[str, Any]


def _load() -> tuple[list[tuple[bytes, bytes]], bytes]:
    saved = json.loads(Path(os.environ[ANSWER_ENV]).read_text(encoding="utf-8"))
    body = saved["body"].encode("utf-8")
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in saved["headers"]
               if k.lower() not in ("content-length", "date", "server", "connection", "transfer-encoding")]
    return [*headers, (b"content-length", str(len(body)).encode())], body


_answer: list[tuple[list[tuple[bytes, bytes]], bytes]] = []  # read at start-up (bench.serving imports this module)


async def app(scope: Message, receive: Callable[[], Awaitable[Message]],
              send: Callable[[Message], Awaitable[None]]) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            _answer.append(_load())
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers, body = _answer[0]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
