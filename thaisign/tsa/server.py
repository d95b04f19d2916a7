"""RFC 3161 over HTTP: ``POST`` a ``application/timestamp-query``, get a ``timestamp-reply``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from thaisign._service import Handler, Request, Response, ServiceApp, health_handler
from thaisign.errors import StoreError
from thaisign.tsa.authority import MAX_REQUEST_BYTES, TimeStampAuthority, rejection

__all__ = ["build_tsa_asgi", "build_tsa_service", "tsa_app", "tsa_handler"]

REPLY_TYPE = "application/timestamp-reply"


def tsa_handler(tsa: TimeStampAuthority) -> Handler:
    """A handler answering POSTed TimeStampReq bodies (any other method: 405)."""

    def handle(request: Request) -> Response:
        if request.method != "POST":
            return Response(
                405,
                b"POST an application/timestamp-query (RFC 3161)\n",
                headers=(("Allow", "POST"),),
            )
        return Response(200, tsa.respond(request.body), REPLY_TYPE, (("Cache-Control", "no-store"),))

    return handle


def tsa_app(tsa: TimeStampAuthority, *, health: Handler | None = None) -> ServiceApp:
    """The TSA at ``/`` and ``/tsa``, plus ``/health`` (GET/HEAD)."""
    handler = tsa_handler(tsa)
    return ServiceApp(
        {
            "/": handler,
            "/tsa": handler,
            "/health": health or health_handler(lambda: Response.text(200, "ok")),
        },
        max_body=MAX_REQUEST_BYTES,
        too_large=lambda limit: Response(
            200, rejection("bad_data_format", f"request larger than {limit} bytes"), REPLY_TYPE
        ),
    )


def build_tsa_service(
    directory: str | os.PathLike[str], passphrase: str | None = None, pin: str | None = None
) -> ServiceApp:
    """The TSA of a folder (``thaisign tsa init``) with its store; ``/health`` answers 503 while the
    store is unreachable, deleted or being replaced (and tokens are refused meanwhile)."""
    from thaisign.tsa.setup import open_tsa

    authority, store = open_tsa(Path(directory), passphrase=passphrase, pin=pin)

    def health() -> Response:
        try:
            store.ping()
        except StoreError as exc:
            return Response.text(503, f"unavailable: {exc.message}")
        return Response.text(200, "ok")

    app = tsa_app(authority, health=health_handler(health))
    app.closers += [store.close, authority.signer.close]
    return app


def build_tsa_asgi(directory: str, passphrase: str | None = None, pin: str | None = None) -> Any:
    """The ASGI app of :func:`build_tsa_service` (a picklable factory for :func:`thaisign.serving.serve`)."""
    return build_tsa_service(directory, passphrase, pin).asgi
