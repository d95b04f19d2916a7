"""The OpenAPI 3.1 document the service publishes at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from thaisign.service.config import ServiceConfig

_B64 = {"type": "string", "contentEncoding": "base64"}
_B64_LIST = {"type": "array", "items": _B64, "minItems": 1}
_ERROR = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


def _op(
    summary: str, request: dict[str, Any] | None, response: dict[str, Any], *, auth: bool = True
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": response}}},
            "400": {"description": "Invalid request", "content": {"application/json": {"schema": _ERROR}}},
        },
    }
    if auth:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = {
            "description": "Missing or invalid access token",
            "content": {"application/json": {"schema": _ERROR}},
        }
        op["responses"]["403"] = {
            "description": "Not allowed, or credential locked",
            "content": {"application/json": {"schema": _ERROR}},
        }
    if request is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    return op


def _csc_paths(version: str) -> dict[str, Any]:
    v1 = version == "v1"
    hashes = "hash" if v1 else "hashes"
    hash_algo = "hashAlgo" if v1 else "hashAlgorithmOID"
    factor_props: dict[str, Any] = (
        {"PIN": {"type": "string"}, "OTP": {"type": "string"}}
        if v1
        else {
            "authData": {
                "type": "array",
                "items": _obj(["id", "value"], id={"enum": ["PIN", "OTP"]}, value={"type": "string"}),
            },
            "hashAlgorithmOID": {"type": "string"},
        }
    )
    credential_info = _obj(
        ["key", "cert", "SCAL", "multisign"],
        description={"type": "string"},
        key=_obj(
            ["status", "algo", "len"],
            status={"enum": ["enabled", "disabled"]},
            algo={"type": "array", "items": {"type": "string"}},
            len={"type": "integer"},
            curve={"type": "string"},
        ),
        cert=_obj(
            ["status"],
            status={"enum": ["valid", "expired", "revoked", "suspended"]},
            certificates={"type": "array", "items": _B64},
            issuerDN={"type": "string"},
            subjectDN={"type": "string"},
            serialNumber={"type": "string"},
            validFrom={"type": "string"},
            validTo={"type": "string"},
        ),
        SCAL={"enum": ["1", "2"]},
        multisign={"type": "integer"},
        lang={"type": "string"},
    )
    document = _obj(
        ["document"],
        document=_B64,
        signature_format={"enum": ["P"]},
        conformance_level={"enum": ["Ades-B-B", "Ades-B-T", "Ades-B-LT", "Ades-B-LTA"]},
        signed_envelope_property={"enum": ["Certification", "Revision"]},
        appearance=_obj(
            [],
            page={"type": "integer"},
            rect={"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            field={"type": "string"},
            anchor_text={"type": "string"},
            reason={"type": "string"},
            location={"type": "string"},
        ),
    )
    base = f"/csc/{version}"
    return {
        f"{base}/info": {
            "post": _op(
                "Service information",
                None,
                _obj(
                    ["specs", "name", "methods"],
                    specs={"type": "string"},
                    name={"type": "string"},
                    methods={"type": "array", "items": {"type": "string"}},
                ),
                auth=False,
            )
        },
        f"{base}/credentials/list": {
            "post": _op(
                "Credentials of the officer (or of userID, for a back end with client credentials)",
                _obj(
                    [],
                    userID={"type": "string"},
                    maxResults={"type": "integer"},
                    pageToken={"type": "string"},
                    credentialInfo={"type": "boolean"},
                    certificates={"enum": ["none", "single", "chain"]},
                ),
                _obj(
                    ["credentialIDs"],
                    credentialIDs={"type": "array", "items": {"type": "string"}},
                    nextPageToken={"type": "string"},
                ),
            )
        },
        f"{base}/credentials/info": {
            "post": _op(
                "Key, certificate (chain) and second factor of one credential",
                _obj(
                    ["credentialID"],
                    credentialID={"type": "string"},
                    certificates={"enum": ["none", "single", "chain"]},
                    certInfo={"type": "boolean"},
                    authInfo={"type": "boolean"},
                ),
                credential_info,
            )
        },
        f"{base}/credentials/authorize": {
            "post": _op(
                "Issue a single-use SAD bound to these hashes, after the officer's PIN or OTP",
                _obj(
                    ["credentialID", hashes],
                    credentialID={"type": "string"},
                    numSignatures={"type": "integer"},
                    **{hashes: _B64_LIST},
                    description={"type": "string"},
                    clientData={"type": "string"},
                    **factor_props,
                ),
                _obj(["SAD", "expiresIn"], SAD={"type": "string"}, expiresIn={"type": "integer"}),
            )
        },
        f"{base}/signatures/signHash": {
            "post": _op(
                "Sign the hashes a SAD authorises (raw signature values, ECDSA as DER)",
                _obj(
                    ["credentialID", "SAD", hashes, "signAlgo"],
                    credentialID={"type": "string"},
                    SAD={"type": "string"},
                    **{hashes: _B64_LIST, hash_algo: {"type": "string"}},
                    signAlgo={"type": "string"},
                    signAlgoParams=_B64,
                    clientData={"type": "string"},
                ),
                _obj(["signatures"], signatures={"type": "array", "items": _B64}),
            )
        },
        f"{base}/signatures/signDoc": {
            "post": _op(
                "Sign whole PDF letters (PAdES B-B to B-LTA, Thai visible signature); "
                "the SAD binds the SHA-256 of each PDF",
                _obj(
                    ["credentialID", "SAD", "documents"],
                    credentialID={"type": "string"},
                    SAD={"type": "string"},
                    documents={"type": "array", "items": document},
                ),
                _obj(
                    ["DocumentWithSignature"],
                    DocumentWithSignature={"type": "array", "items": _B64},
                    SignatureObject={"type": "array", "items": _B64},
                ),
            )
        },
    }


def openapi_document(config: ServiceConfig) -> dict[str, Any]:
    """The OpenAPI document for one service (its name and its OpenID provider)."""
    enrollment = _obj(
        ["requestID", "status"],
        requestID={"type": "string"},
        status={"enum": ["pending", "approved", "rejected"]},
        officer={"type": "object"},
        credentialID={"type": ["string", "null"]},
        otpauth={"type": "string"},
    )
    officer = _obj(
        ["name_th", "position"],
        name_th={"type": "string"},
        position={"type": "string"},
        name_en={"type": "string"},
        given_name={"type": "string"},
        surname={"type": "string"},
        ou={"type": "string"},
        email={"type": "string"},
        employee_id={"type": "string"},
    )
    paths: dict[str, Any] = {**_csc_paths("v1"), **_csc_paths("v2")}
    paths["/enroll/v1/requests"] = {
        "post": _op(
            "An officer asks for a signing certificate",
            _obj(["officer"], officer=officer, PIN={"type": "string"}),
            enrollment,
        ),
        "get": _op(
            "Enrollment requests (an operator sees all; ?status=pending)",
            None,
            _obj(["requests"], requests={"type": "array", "items": enrollment}),
        ),
    }
    paths["/enroll/v1/requests/{request_id}"] = {
        "get": _op("One request; the officer receives the otpauth URI once after approval", None, enrollment)
    }
    paths["/enroll/v1/requests/{request_id}/approve"] = {
        "post": _op(
            "Operator: approve (key made in the HSM, certificate issued)",
            None,
            _obj(["credentialID"], credentialID={"type": "string"}, serialNumber={"type": "string"}),
        )
    }
    paths["/enroll/v1/requests/{request_id}/reject"] = {
        "post": _op("Operator: reject, saying why", _obj(["reason"], reason={"type": "string"}), enrollment)
    }
    paths["/admin/v1/credentials/{credential_id}/unlock"] = {
        "post": _op(
            "Operator: clear a lock-out after wrong PINs or codes",
            None,
            _obj(["credentialID"], credentialID={"type": "string"}),
        )
    }
    paths["/health"] = {"get": _op("Liveness", None, _obj(["status"], status={"type": "string"}), auth=False)}
    for path, ops in paths.items():
        params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        for method, op in ops.items():
            op["operationId"] = (method + path).replace("/", "_").replace("{", "").replace("}", "")
            if params:
                op["parameters"] = [
                    {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
                ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"thaisign remote signing service — {config.name}",
            "version": "1.0.0",
            "description": "Cloud Signature Consortium API 1.0.4.0 (/csc/v1) and 2.0 naming (/csc/v2), "
            "with officer enrollment.",
        },
        "servers": [{"url": config.public_url}] if config.public_url else [],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "openIdConnect",
                    "openIdConnectUrl": config.oidc.issuer.rstrip("/") + "/.well-known/openid-configuration",
                }
            }
        },
    }
