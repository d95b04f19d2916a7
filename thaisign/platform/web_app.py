"""The Starlette application of :mod:`thaisign.platform.web`: routes, the API's JSON, the pages.

>>> app = create_app(WebConfig(Path("/srv/korat-pki"), passphrase=ca_passphrase))
>>> # thaisign platform serve /srv/korat-pki --port 8443   (uvicorn workers, limits: thaisign.serving)
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from thaisign.errors import ThaisignError
from thaisign.inert import visible
from thaisign.platform.core import Platform
from thaisign.platform.session import Session
from thaisign.platform.web import (
    _CSP,
    LANG_COOKIE,
    LOGIN_COOKIE,
    MAX_JSON,
    SESSION_COOKIE,
    PlatformWeb,
    WebConfig,
    _Denied,
    _status_of,
    _when,
)

_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    503: "unavailable",
}


def _json_error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="thaisign-platform"'} if status == 401 else None
    body = {"error": _NAMES.get(status, "error"), "message": visible(message, limit=500)}
    return JSONResponse(body, status_code=status, headers=headers)


async def _json_body(request: Request) -> dict[str, Any]:
    import json

    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_JSON):
        raise _Denied(400, f"the request body is larger than {MAX_JSON} bytes")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_JSON:
            raise _Denied(400, f"the request body is larger than {MAX_JSON} bytes")
    if not data:
        return {}
    try:
        body = json.loads(data)
    except ValueError:
        raise _Denied(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise _Denied(400, "the request body must be a JSON object")
    return body


Handler = Callable[[Session, Request, dict[str, Any]], tuple[int, Any]]


def _api(web: PlatformWeb, handler: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await _json_body(request) if request.method == "POST" else {}

            def work() -> tuple[int, Any]:
                session = web.bearer_session(request.headers.get("authorization"))
                return handler(session, request, body)

            status, data = await run_in_threadpool(work)
            return JSONResponse(data, status_code=status)
        except _Denied as exc:
            return _json_error(exc.status, exc.message)
        except ThaisignError as exc:
            return _json_error(_status_of(exc), exc.message)

    return endpoint


# --- API handlers --------------------------------------------------------------------------------------


def _str(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise _Denied(400, f"{key} must be a non-empty string")
    return value


def _me(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    return 200, s.whoami()


def _agencies(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"agencies": [a.to_json() for a in s.agencies()]}


def _create_agency(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    from thaisign.platform import AgencyProfile

    s.check("agency.create")
    profile = None
    if isinstance(b.get("profile"), dict):
        profile = AgencyProfile.from_json(b["profile"])
    made = s.create_agency(
        _str(b, "slug") or "",
        _str(b, "name_th") or "",
        name_en=_str(b, "name_en", False),
        org_id=_str(b, "org_id", False),
        profile=profile,
    )
    return 201, made.to_json()


def _agency(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    from thaisign._cli._platform_common import key_json

    slug = r.path_params["agency"]
    agency = s.agency(slug)
    return 200, {**agency.to_json(), "ca_keys": [key_json(k) for k in s.ca_keys(slug)]}


def _rollover(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    from thaisign._cli._platform_common import key_json

    return 201, key_json(s.rollover(r.path_params["agency"], key=_str(b, "key", False)))


def _renew(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    years = b.get("years")
    if years is not None and not isinstance(years, int):
        raise _Denied(400, "years must be a number")
    cert = s.renew(r.path_params["agency"], years=years)
    return 200, {"not_after": cert.not_valid_after_utc.isoformat(), "serial": format(cert.serial_number, "x")}


def _certificates(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    status = r.query_params.get("status")
    now = s.platform.clock()
    certs = s.certificates(r.path_params["agency"], status)
    return 200, {"certificates": [c.to_json(now) for c in certs]}


def _issue(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    from thaisign.ca import OfficerProfile

    s.check("cert.issue", r.path_params["agency"])
    officer = b.get("officer")
    if not isinstance(officer, dict):
        raise _Denied(400, "officer must be an object with name_th, position, ...")
    allowed = {f.name for f in dataclasses.fields(OfficerProfile)}
    unknown = sorted(set(officer) - allowed)
    if unknown:
        raise _Denied(400, f"unknown officer field(s): {', '.join(unknown)[:200]}")
    csr = _str(b, "csr")
    assert csr is not None
    slug = r.path_params["agency"]
    issued = s.issue(slug, OfficerProfile(**officer), csr=csr.encode("utf-8", "replace"))
    record = s.certificate(slug, issued.serial)
    return 201, {**record.to_json(s.platform.clock()), "certificate": issued.pem().decode("ascii")}


def _certificate(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    c = s.certificate(r.path_params["agency"], r.path_params["serial"])
    data = c.to_json(s.platform.clock())
    data["certificate"] = base64.b64encode(c.der).decode("ascii")
    return 200, data


def _revoke(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    s.check("cert.revoke", r.path_params["agency"])
    reason = _str(b, "reason", False) or "unspecified"
    status = s.revoke(r.path_params["agency"], r.path_params["serial"], reason)
    return 200, {
        "status": status.status,
        "reason": status.reason,
        "revoked_at": status.revoked_at.isoformat() if status.revoked_at else None,
    }


def _crl(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    made = s.publish_crl(r.path_params["agency"])
    return 201, {"crls": {str(g): base64.b64encode(der).decode("ascii") for g, der in made.items()}}


def _audit(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    slug = r.path_params["agency"]
    out: dict[str, Any] = {"chains": {str(g): [e.to_json() for e in es] for g, es in s.audit(slug).items()}}
    if r.query_params.get("verify") in ("1", "true", "yes"):
        out["reports"] = {str(g): rep.to_json() for g, rep in s.verify(slug).items()}
        out["verified"] = all(rep["ok"] for rep in out["reports"].values())
    return 200, out


def _figures(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    return 200, s.figures(at=_when(r.query_params.get("at"))).to_json()


def _appoint(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    s.check("operator.manage")
    op = s.appoint(
        _str(b, "name") or "",
        _str(b, "role") or "",  # type: ignore[arg-type]
        agency=_str(b, "agency", False),
        oidc_subject=_str(b, "oidc_subject", False),
    )
    return 201, op.to_json()


def _new_token(s: Session, r: Request, b: dict[str, Any]) -> tuple[int, Any]:
    s.check("operator.manage")
    try:
        operator_id = int(r.path_params["operator"])
    except ValueError:
        raise _Denied(404, "no such operator") from None
    days = b.get("days")
    if days is not None and not isinstance(days, int):
        raise _Denied(400, "days must be a number")
    return 201, {"token": s.create_token(operator_id, label=_str(b, "label", False), days=days)}


API: list[tuple[str, str, Handler]] = [
    ("GET", "/api/v1/me", _me),
    ("GET", "/api/v1/agencies", _agencies),
    ("POST", "/api/v1/agencies", _create_agency),
    ("GET", "/api/v1/agencies/{agency}", _agency),
    ("POST", "/api/v1/agencies/{agency}/rollover", _rollover),
    ("POST", "/api/v1/agencies/{agency}/renew", _renew),
    ("GET", "/api/v1/agencies/{agency}/certificates", _certificates),
    ("POST", "/api/v1/agencies/{agency}/certificates", _issue),
    ("GET", "/api/v1/agencies/{agency}/certificates/{serial}", _certificate),
    ("POST", "/api/v1/agencies/{agency}/certificates/{serial}/revoke", _revoke),
    ("POST", "/api/v1/agencies/{agency}/crl", _crl),
    ("GET", "/api/v1/agencies/{agency}/audit", _audit),
    ("GET", "/api/v1/figures", _figures),
    ("POST", "/api/v1/operators", _appoint),
    ("POST", "/api/v1/operators/{operator}/tokens", _new_token),
]


# --- the pages ------------------------------------------------------------------------------------------


def _security_headers(web: PlatformWeb) -> dict[str, str]:
    oidc = web.platform.config.oidc
    op = oidc.issuer if oidc is not None else ""
    return {
        "Content-Security-Policy": _CSP.format(op=op).replace(" ;", ";"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",  # no-referrer makes a form's Origin "null"
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "th"
    return wanted if wanted in ("th", "en") else "th"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _same_origin(request: Request, public_url: str | None) -> bool:
    """A form posted from this site's own pages (its public URL's origin, or the Host it was asked at)."""
    import urllib.parse

    if public_url:
        parts = urllib.parse.urlsplit(public_url)
        own = f"{parts.scheme}://{parts.netloc}"
    else:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer", "")
    return referer == own or referer.startswith(own + "/")


def create_app(config: WebConfig, platform: Platform | None = None) -> Starlette:
    """The API and pages over the platform folder (opened here unless given)."""
    from thaisign.platform.web_pages import Pages

    platform = platform or Platform.open(config.directory, passphrase=config.passphrase, pin=config.pin)
    web = PlatformWeb(platform, config)
    pages = Pages(web)
    headers = _security_headers(web)

    def page(html: str, status: int = 200, lang: str = "th") -> HTMLResponse:
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="strict", path="/")
        return response

    async def index(request: Request) -> Response:
        lang = _lang(request)
        session = await run_in_threadpool(web.cookie_session, request.cookies.get(SESSION_COOKIE))
        if session is None:
            return page(pages.login(lang, error=request.query_params.get("error")), lang=lang)
        try:
            at = _when(request.query_params.get("at"))
            html = await run_in_threadpool(pages.figures, session, lang, at)
        except _Denied as exc:
            return page(pages.message(lang, exc.message), exc.status, lang)
        except ThaisignError as exc:
            return page(pages.message(lang, exc.message), _status_of(exc), lang)
        return page(html, lang=lang)

    def redirect_home(error: str | None = None) -> RedirectResponse:
        target = "/" + (f"?error={error}" if error else "")
        return RedirectResponse(target, status_code=303, headers=headers)

    async def login_oidc(request: Request) -> Response:
        public = platform.config.public_url or f"{request.url.scheme}://{request.headers.get('host', '')}"
        try:
            url, cookie = await run_in_threadpool(web.login_redirect, public.rstrip("/") + "/callback")
        except _Denied as exc:
            return page(pages.message(_lang(request), exc.message), exc.status)
        response = RedirectResponse(url, status_code=302, headers=headers)
        response.set_cookie(
            LOGIN_COOKIE,
            cookie,
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
        return response

    async def callback(request: Request) -> Response:
        code, state = request.query_params.get("code"), request.query_params.get("state")
        if not code or not state:
            return redirect_home("login")
        try:
            session, lifetime = await run_in_threadpool(
                web.finish_login, code, state, request.cookies.get(LOGIN_COOKIE)
            )
        except _Denied:
            return redirect_home("login")
        response = redirect_home()
        response.set_cookie(
            SESSION_COOKIE,
            web.session_cookie(session, lifetime),
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    async def login_token(request: Request) -> Response:
        from thaisign.platform import ApiToken

        if not _same_origin(request, platform.config.public_url):
            return page(pages.message(_lang(request), "refused: the form did not come from this page"), 403)
        form = await request.form(max_files=0, max_fields=4)
        value = str(form.get("token") or "").strip()
        try:
            session = await run_in_threadpool(platform.session, ApiToken(value))
        except ThaisignError:
            return redirect_home("token")
        response = redirect_home()
        response.set_cookie(
            SESSION_COOKIE,
            web.session_cookie(session, 8 * 3600.0),
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
        return response

    async def logout(request: Request) -> Response:
        if not _same_origin(request, platform.config.public_url):
            return page(pages.message(_lang(request), "refused: the form did not come from this page"), 403)
        response = redirect_home()
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        found = pages.static(name)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        body, media = found
        return Response(body, media_type=media, headers={"Cache-Control": "max-age=86400"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "platform": platform.config.name_th})

    routes = [Route(path, _api(web, handler), methods=[method]) for method, path, handler in API]
    routes += [
        Route("/", index, methods=["GET"]),
        Route("/login/oidc", login_oidc, methods=["GET"]),
        Route("/callback", callback, methods=["GET"]),
        Route("/login/token", login_token, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/{name:path}", static, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.web = web
    return app


def build_web_asgi(config: WebConfig) -> Any:
    """A picklable factory for :func:`thaisign.serving.serve` (one platform per worker)."""
    return create_app(config)
