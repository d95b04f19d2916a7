"""The HTTP face of enrollment and of the operators' actions (``/enroll/v1``, ``/admin/v1``)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from thaisign.service import enroll
from thaisign.service._http import json_response, peer
from thaisign.service.core import CscService
from thaisign.service.model import CscError, bad_request
from thaisign.service.oidc import Caller


def _operator(caller: Caller) -> str:
    if not caller.operator:
        raise CscError(403, "access_denied", "only an agency operator may do this")
    return f"oidc:{caller.subject}"


async def enroll_create(service: CscService, request: Request, body: dict[str, Any]) -> Response:
    caller = service.caller(request.headers.get("authorization"))
    officer = body.get("officer")
    if not isinstance(officer, dict):
        raise bad_request("send the officer's details as 'officer': {name_th, position, ...}")
    made = await run_in_threadpool(
        enroll.request_enrollment, service, caller, officer, pin=body.get("PIN"), peer=peer(request)
    )
    return json_response(201, made.to_json())


async def enroll_list(service: CscService, request: Request, body: dict[str, Any]) -> Response:
    caller = service.caller(request.headers.get("authorization"))
    status = request.query_params.get("status")
    if status is not None and status not in ("pending", "approved", "rejected"):
        raise bad_request("status must be pending, approved or rejected")
    subject = None if caller.operator else caller.subject
    rows = enroll.list_enrollments(service, subject, status)
    return json_response(200, {"requests": [r.to_json() for r in rows]})


async def enroll_get(service: CscService, request: Request, body: dict[str, Any]) -> Response:
    caller = service.caller(request.headers.get("authorization"))
    found = enroll.get_enrollment(service, request.path_params["request_id"])
    if found.subject != caller.subject and not caller.operator:
        raise CscError(404, "invalid_request", "no such enrollment request")
    doc = found.to_json()
    if found.subject == caller.subject:
        uri = enroll.deliver_totp(service, caller, found.id)
        if uri is not None:
            doc["otpauth"] = uri
    return json_response(200, doc)


async def enroll_approve(service: CscService, request: Request, body: dict[str, Any]) -> Response:
    operator = _operator(service.caller(request.headers.get("authorization")))
    done = await run_in_threadpool(
        enroll.approve, service, request.path_params["request_id"], operator=operator
    )
    return json_response(
        200,
        {
            "requestID": done.request_id,
            "status": "approved",
            "credentialID": done.credential_id,
            "serialNumber": done.serial,
        },
    )


async def enroll_reject(service: CscService, request: Request, body: dict[str, Any]) -> Response:
    operator = _operator(service.caller(request.headers.get("authorization")))
    done = enroll.reject(
        service, request.path_params["request_id"], operator=operator, reason=str(body.get("reason", ""))
    )
    return json_response(200, done.to_json())


async def admin_unlock(service: CscService, request: Request, body: dict[str, Any]) -> Response:
    operator = _operator(service.caller(request.headers.get("authorization")))
    enroll.unlock(service, request.path_params["credential_id"], operator=operator)
    return json_response(200, {"credentialID": request.path_params["credential_id"], "locked": False})
