"""``If-None-Match`` for every resource with an ETag: a GET whose validator still matches is answered 304.

One ASGI middleware instead of a check in each route: a route answers as usual (with ``ETag``, see
``server.api.with_etag``), and when the request's ``If-None-Match`` names that tag (weak comparison, RFC 9110
§13.1.2; ``*`` matches any) the answer becomes 304 Not Modified with the tag and no body. Only 200 answers to GET
and HEAD are turned into 304s, so errors and unsafe methods pass untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_KEPT_ON_304 = frozenset({b"etag", b"cache-control", b"content-location", b"date", b"expires", b"vary"})


def _opaque(tag: bytes) -> bytes:
    tag = tag.strip()
    return tag[2:] if tag.startswith(b"W/") else tag


def _wanted_tags(scope: Scope) -> frozenset[bytes] | None:
    for name, value in scope.get("headers", ()):
        if name == b"if-none-match":
            return frozenset(_opaque(tag) for tag in value.split(b","))
    return None


class NotModified:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = _wanted_tags(scope) if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") else None
        if not wanted:
            await self.app(scope, receive, send)
            return
        unchanged = False

        async def send_or_304(message: Message) -> None:
            nonlocal unchanged
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                tag = next((value for name, value in headers if name.lower() == b"etag"), None)
                if message["status"] == 200 and tag is not None and (b"*" in wanted or _opaque(tag) in wanted):
                    unchanged = True
                    kept = [(name, value) for name, value in headers if name.lower() in _KEPT_ON_304]
                    await send({"type": "http.response.start", "status": 304, "headers": kept})
                    return
            elif message["type"] == "http.response.body" and unchanged:
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, send_or_304)
