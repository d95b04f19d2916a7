"""Small HTTP helpers shared by the service's endpoints: JSON answers, CSC-style errors, bounded bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from thaisign.service.model import CscError, bad_request


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(exc: CscError) -> Response:
    headers = None
    if exc.status == 401:
        text = exc.description.replace('"', "'").encode("ascii", "replace").decode()
        headers = {"WWW-Authenticate": f'Bearer error="{exc.error}", error_description="{text}"'}
    return json_response(exc.status, {"error": exc.error, "error_description": exc.description}, headers)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object, refusing bodies over ``limit`` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise CscError(413, "invalid_request", f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise CscError(413, "invalid_request", f"request body larger than {limit} bytes")
        chunks.append(chunk)
    if not chunks or not b"".join(chunks).strip():
        return {}
    try:
        data = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object")
    return data


def peer(request: Request) -> str | None:
    return request.client.host if request.client else None
