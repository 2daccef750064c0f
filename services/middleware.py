"""HTTP details every resource shares: HEAD answered like GET without a body, and `Vary: Accept`."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAndVary:
    """HEAD runs the GET handler and drops the body (FastAPI routes answer GET only); every answer says it
    varies with Accept, since `f` and Accept choose between JSON and HTML at the same URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"vary"]
                vary = [v.decode("latin-1") for k, v in message.get("headers", []) if k.lower() == b"vary"]
                values = {part.strip() for value in vary for part in value.split(",") if part.strip()} | {"Accept"}
                headers.append((b"vary", ", ".join(sorted(values)).encode("latin-1")))
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await self.app(scope, receive, reply)
