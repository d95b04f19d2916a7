"""RFC 3161 over HTTP: ``POST`` a ``application/timestamp-query``, get a ``timestamp-reply``."""

from __future__ import annotations

from thaisign._service import Handler, Request, Response, ServiceApp
from thaisign.tsa.authority import MAX_REQUEST_BYTES, TimeStampAuthority, rejection

__all__ = ["tsa_app", "tsa_handler"]

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
    """The TSA at ``/`` and ``/tsa``, plus ``/health``."""
    handler = tsa_handler(tsa)
    return ServiceApp(
        {"/": handler, "/tsa": handler, "/health": health or (lambda r: Response.text(200, "ok"))},
        max_body=MAX_REQUEST_BYTES,
        too_large=lambda limit: Response(
            200, rejection("bad_data_format", f"request larger than {limit} bytes"), REPLY_TYPE
        ),
    )
