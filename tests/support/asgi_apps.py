"""A tiny ASGI app for testing :mod:`thaisign.serving` (importable by spawned worker processes)."""

from __future__ import annotations

from typing import Any

from thaisign._service import Request, Response, ServiceApp, health_handler


def echo_length_app() -> Any:
    """``/health`` (GET/HEAD), ``POST /len`` answering the body's length and ``/frozen`` the worker's
    ``gc.get_freeze_count()``; a ServiceApp's ASGI side."""

    def length(request: Request) -> Response:
        return Response.text(200, str(len(request.body)))

    def frozen(request: Request) -> Response:
        import gc

        return Response.text(200, str(gc.get_freeze_count()))

    app = ServiceApp(
        {"/health": health_handler(lambda: Response.text(200, "ok")), "/len": length, "/frozen": frozen},
        max_body=1024 * 1024,
    )
    return app.asgi
