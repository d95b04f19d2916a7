"""The HTTP face of the service: a Starlette ASGI app speaking CSC API 1.0.4.0 (``/csc/v1``) and
the same operations under CSC 2.0 names (``/csc/v2``), plus enrollment, operator actions, the
OpenAPI document (``/openapi.json``) and ``/health``.

>>> app = build_app(CscService.open(config, pin=pin))     # run with uvicorn or gunicorn
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from thaisign.errors import ThaisignError
from thaisign.service._http import error_response, json_response, peer, read_json
from thaisign.service.batching import SignBatcher
from thaisign.service.core import CscService
from thaisign.service.enroll_api import (
    admin_unlock,
    enroll_approve,
    enroll_create,
    enroll_get,
    enroll_list,
    enroll_reject,
)
from thaisign.service.model import HASH_OIDS, Credential, CscError, DocumentToSign, bad_request
from thaisign.service.rules import key_description

MAX_JSON_BYTES = 256 * 1024
LEVELS = {
    "ades-b-b": "B-B",
    "ades-b": "B-B",
    "ades-b-t": "B-T",
    "ades-t": "B-T",
    "ades-b-lt": "B-LT",
    "ades-lt": "B-LT",
    "ades-b-lta": "B-LTA",
    "ades-lta": "B-LTA",
}
SPECS = {"v1": "1.0.4.0", "v2": "2.0.0.2"}
METHODS = [
    "credentials/list",
    "credentials/info",
    "credentials/authorize",
    "signatures/signHash",
    "signatures/signDoc",
]

Handler = Callable[[CscService, Request, dict[str, Any], str], Awaitable[dict[str, Any]]]


def _gtime(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def _bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false")
    return value


# --- CSC endpoints ----------------------------------------------------------------------------


async def info(service: CscService, request: Request, body: dict[str, Any], version: str) -> dict[str, Any]:
    c = service.config
    doc: dict[str, Any] = {
        "specs": SPECS[version],
        "name": c.name,
        "logo": "",
        "region": "TH",
        "lang": c.lang,
        "description": f"{c.name}: ลงลายมือชื่ออิเล็กทรอนิกส์ด้วยกุญแจใน HSM (thaisign)",
        "authType": ["oauth2code", "oauth2client"],
        "oauth2": c.oidc.issuer,
        "methods": METHODS,
    }
    if version == "v2":
        doc |= {
            "oauth2Issuer": c.oidc.issuer,
            "signAlgorithms": {
                "algos": ["1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"]
            },
            "signature_formats": {"formats": ["P"], "envelope_properties": [["Certification", "Revision"]]},
            "conformance_levels": ["Ades-B-B", "Ades-B-T", "Ades-B-LT", "Ades-B-LTA"],
        }
    return doc


async def credentials_list(
    service: CscService, request: Request, body: dict[str, Any], version: str
) -> dict[str, Any]:
    caller = service.caller(request.headers.get("authorization"))
    limit = body.get("maxResults", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise bad_request("maxResults must be within 1..1000")
    token = body.get("pageToken")
    offset = 0
    if token is not None:
        if not isinstance(token, str) or not token.isdigit() or len(token) > 9:
            raise bad_request("invalid pageToken")
        offset = int(token)
    user_id = body.get("userID")
    if user_id is not None and (not isinstance(user_id, str) or not 0 < len(user_id) <= 255):
        raise bad_request("invalid userID")
    ids = service.credential_ids(caller, user_id, offset=offset, limit=limit + 1)
    result: dict[str, Any] = {"credentialIDs": ids[:limit]}
    if len(ids) > limit:
        result["nextPageToken"] = str(offset + limit)
    if _bool(body, "credentialInfo"):
        which = _certificates_option(body)
        result["credentialInfos"] = [
            {"credentialID": i}
            | _describe(service, service.credential(caller, i), which, True, True, version)
            for i in ids[:limit]
        ]
    return result


def _certificates_option(body: dict[str, Any]) -> str:
    which = body.get("certificates", "single")
    if which not in ("none", "single", "chain"):
        raise bad_request("certificates must be none, single or chain")
    return str(which)


def _describe(
    service: CscService, cred: Credential, which: str, cert_info: bool, auth_info: bool, version: str
) -> dict[str, Any]:
    now = service.clock()
    cert: dict[str, Any] = {"status": service.certificate_status(cred, now)}
    if which != "none":
        cert["certificates"] = [base64.b64encode(d).decode() for d in cred.certificates_der(which)]
    if cert_info:
        c = cred.certificate
        cert |= {
            "issuerDN": c.issuer.rfc4514_string(),
            "serialNumber": cred.serial,
            "subjectDN": c.subject.rfc4514_string(),
            "validFrom": _gtime(c.not_valid_before_utc),
            "validTo": _gtime(c.not_valid_after_utc),
        }
    out: dict[str, Any] = {
        "description": cred.description or "",
        "key": key_description(cred),
        "cert": cert,
        "SCAL": "2",
        "multisign": service.config.max_batch,
        "lang": service.config.lang,
    }
    pin = cred.factor == "pin"
    label = "PIN" if pin else "OTP"
    if version == "v1":
        out["authMode"] = "explicit"
        if auth_info:
            out["PIN"] = {"presence": "true" if pin else "false", "format": "N", "label": "PIN"}
            if not pin:
                out["OTP"] = {
                    "presence": "true",
                    "type": "offline",
                    "provider": "totp",
                    "format": "N",
                    "label": "OTP",
                    "description": "รหัสใช้ครั้งเดียวจากแอปยืนยันตัวตน / one-time code from the authenticator app",
                }
    else:
        out["auth"] = {
            "mode": "explicit",
            "expression": label,
            "objects": [{"type": "Password", "id": label, "format": "N", "label": label}],
        }
    if cred.locked_at is not None:
        out["locked"] = True
    return out


async def credentials_info(
    service: CscService, request: Request, body: dict[str, Any], version: str
) -> dict[str, Any]:
    caller = service.caller(request.headers.get("authorization"))
    cred = service.credential(caller, body.get("credentialID"))
    return _describe(
        service, cred, _certificates_option(body), _bool(body, "certInfo"), _bool(body, "authInfo"), version
    )


async def credentials_authorize(
    service: CscService, request: Request, body: dict[str, Any], version: str
) -> dict[str, Any]:
    caller = service.caller(request.headers.get("authorization"))
    if version == "v1":
        hashes, hash_algo, pin, otp = body.get("hash"), None, body.get("PIN"), body.get("OTP")
    else:
        hashes, hash_algo = body.get("hashes"), body.get("hashAlgorithmOID")
        pin, otp = _auth_data(body.get("authData"))
    sad, lifetime = await run_in_threadpool(
        service.authorize,
        caller,
        body.get("credentialID"),
        hashes=hashes,
        num_signatures=body.get("numSignatures"),
        hash_algo=hash_algo,
        pin=pin,
        otp=otp,
        description=body.get("description"),
        peer=peer(request),
    )
    return {"SAD": sad, "expiresIn": lifetime}


def _auth_data(value: object) -> tuple[object, object]:
    pin = otp = None
    if value is None:
        return None, None
    if not isinstance(value, list) or len(value) > 4:
        raise bad_request("authData must be a list of {id, value} objects")
    for item in value:
        if not isinstance(item, dict) or item.get("id") not in ("PIN", "OTP"):
            raise bad_request("authData entries need id PIN or OTP")
        if item["id"] == "PIN":
            pin = item.get("value")
        else:
            otp = item.get("value")
    return pin, otp


async def signatures_sign_hash(
    service: CscService, request: Request, body: dict[str, Any], version: str
) -> dict[str, Any]:
    caller = service.caller(request.headers.get("authorization"))
    if version == "v1":
        hashes, hash_algo = body.get("hash"), body.get("hashAlgo")
    else:
        hashes, hash_algo = body.get("hashes"), body.get("hashAlgorithmOID")
        if body.get("operationMode", "S") != "S":
            raise bad_request("only synchronous operation (operationMode S) is offered")
    if hash_algo is not None and hash_algo not in HASH_OIDS:
        raise bad_request("hashAlgo must be the OID of SHA-256, SHA-384 or SHA-512")
    job = service.prepare_sign_hash(
        caller,
        body.get("credentialID"),
        sad=body.get("SAD"),
        hashes=hashes,
        hash_algo=hash_algo,
        sign_algo=body.get("signAlgo"),
        sign_algo_params=body.get("signAlgoParams"),
        peer=peer(request),
    )
    signatures = await request.app.state.sign_batcher.submit(job)
    return {"signatures": [base64.b64encode(s).decode() for s in signatures]}


async def signatures_sign_doc(
    service: CscService, request: Request, body: dict[str, Any], version: str
) -> dict[str, Any]:
    caller = service.caller(request.headers.get("authorization"))
    documents = [
        _document(d, service.config.default_level) for d in _documents(body, service.config.max_batch)
    ]
    limiter = request.app.state.sign_doc_limiter
    work = functools.partial(
        service.sign_doc,
        caller,
        body.get("credentialID"),
        sad=body.get("SAD"),
        documents=documents,
        peer=peer(request),
    )
    signed = await anyio.to_thread.run_sync(work, limiter=limiter)
    return {"DocumentWithSignature": [base64.b64encode(s).decode() for s in signed], "SignatureObject": []}


def _documents(body: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    docs = body.get("documents")
    if not isinstance(docs, list) or not docs or len(docs) > limit:
        raise bad_request(f"documents must be a list of 1 to {limit} objects")
    if not all(isinstance(d, dict) for d in docs):
        raise bad_request("every entry of documents must be an object")
    return docs


_FIELD_NAME = re.compile(r"^[^\x00-\x1f\x7f.]{1,64}$")


def _document(d: dict[str, Any], default_level: str) -> DocumentToSign:
    raw = d.get("document")
    if not isinstance(raw, str):
        raise bad_request("each document needs 'document' (the PDF in base64)")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("a document is not valid base64") from None
    if d.get("signature_format", "P") != "P":
        raise bad_request("only PAdES (signature_format P) is offered")
    level_text = d.get("conformance_level")
    level = default_level
    if level_text is not None:
        if not isinstance(level_text, str) or level_text.lower() not in LEVELS:
            raise bad_request("conformance_level must be Ades-B-B, Ades-B-T, Ades-B-LT or Ades-B-LTA")
        level = LEVELS[level_text.lower()]
    envelope = d.get("signed_envelope_property", "Revision")
    if envelope not in ("Certification", "Revision", "Approval"):
        raise bad_request("signed_envelope_property must be Certification or Revision")
    look = d.get("appearance", {})
    if not isinstance(look, dict):
        raise bad_request("appearance must be an object")
    rect = look.get("rect")
    if rect is not None:
        if not (
            isinstance(rect, list)
            and len(rect) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in rect)
        ):
            raise bad_request("appearance.rect must be [x1, y1, x2, y2] in points")
        rect = (float(rect[0]), float(rect[1]), float(rect[2]), float(rect[3]))
    page = look.get("page", 1)
    if not isinstance(page, int) or isinstance(page, bool) or not -10000 <= page <= 10000 or page == 0:
        raise bad_request("appearance.page must be a page number (1 = first, -1 = last)")
    texts: dict[str, str | None] = {}
    for name in ("field", "anchor_text", "reason", "location"):
        value = look.get(name)
        if value is not None and (not isinstance(value, str) or not _FIELD_NAME.match(value)):
            raise bad_request(f"appearance.{name} must be 1 to 64 printable characters")
        texts[name] = value
    return DocumentToSign(
        data=data,
        level=level,
        certify=envelope == "Certification",
        page=page,
        rect=rect,
        field=texts["field"],
        anchor_text=texts["anchor_text"],
        reason=texts["reason"],
        location=texts["location"],
    )


CSC_ENDPOINTS: dict[str, Handler] = {
    "info": info,
    "credentials/list": credentials_list,
    "credentials/info": credentials_info,
    "credentials/authorize": credentials_authorize,
    "signatures/signHash": signatures_sign_hash,
    "signatures/signDoc": signatures_sign_doc,
}


# --- the application --------------------------------------------------------------------------


def build_app(service: CscService) -> Starlette:
    """The ASGI application for ``service`` (one per worker process)."""
    from thaisign.service._warmup import warm_up

    # the PDF machinery and the Thai font, before the first client waits for them; the serving
    # entry point then moves what exists out of the collector's way (serving.settle_worker)
    warm_up()
    from thaisign.service.openapi import openapi_document

    spec = json.dumps(openapi_document(service.config), ensure_ascii=False).encode("utf-8")
    doc_limit = service.config.max_document_bytes * 4 // 3 * min(service.config.max_batch, 10) + 64 * 1024

    def csc_route(version: str, name: str, handler: Handler) -> Route:
        limit = doc_limit if name == "signatures/signDoc" else MAX_JSON_BYTES

        async def endpoint(request: Request) -> Response:
            try:
                body = await read_json(request, limit)
                return json_response(200, await handler(service, request, body, version))
            except CscError as exc:
                return error_response(exc)
            except ThaisignError as exc:
                return error_response(CscError(503, "temporarily_unavailable", exc.message))

        return Route(f"/csc/{version}/{name}", endpoint, methods=["POST"])

    def plain_route(path: str, handler: Callable[..., Awaitable[Response]], method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                body = await read_json(request, MAX_JSON_BYTES) if method == "POST" else {}
                return await handler(service, request, body)
            except CscError as exc:
                return error_response(exc)
            except ThaisignError as exc:
                return error_response(CscError(400, "invalid_request", exc.message))

        return Route(path, endpoint, methods=[method])

    async def openapi(request: Request) -> Response:
        return Response(spec, media_type="application/json")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "replica": service.replica, "time": service.clock().isoformat()})

    routes = [
        *(csc_route(v, name, h) for v in ("v1", "v2") for name, h in CSC_ENDPOINTS.items()),
        plain_route("/enroll/v1/requests", enroll_create, "POST"),
        plain_route("/enroll/v1/requests", enroll_list, "GET"),
        plain_route("/enroll/v1/requests/{request_id}", enroll_get, "GET"),
        plain_route("/enroll/v1/requests/{request_id}/approve", enroll_approve, "POST"),
        plain_route("/enroll/v1/requests/{request_id}/reject", enroll_reject, "POST"),
        plain_route("/admin/v1/credentials/{credential_id}/unlock", admin_unlock, "POST"),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.service = service
    app.state.sign_batcher = SignBatcher(service)
    # signDoc is CPU-bound under the GIL: a few threads overlap TSA/OCSP waits, more only thrash
    app.state.sign_doc_limiter = anyio.CapacityLimiter(4)
    return app
