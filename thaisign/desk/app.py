"""The clerk's desk: a local web page over :func:`thaisign.verify.verify_pdf` (Starlette + Jinja2).

>>> app = create_app(DeskConfig(trust=TrustStore.from_paths(["agency-root.pem"])))
>>> uvicorn.run(app, host="127.0.0.1", port=8470)        # or: thaisign desk

Drop letters (or a folder) on the page: one card per letter with the verdict in Thai (English
switch), details with a picture of the signed page, and the register (one row per letter) to
print on A4 or export as CSV/JSON. Uploaded letters live only for the request; what is kept is
what the clerk saves: register rows, in :class:`~thaisign.desk.register_store.RegisterStore`.

Guards: the Host must be a loopback name (DNS rebinding), every POST must come from the desk's
own origin, the request body and each file are bounded, and pages carry a strict CSP (no
remote assets: Sarabun and the stylesheet are served by the desk itself).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from thaisign.desk.jobs import CheckedLetter, CheckPool
from thaisign.desk.register_store import RegisterStore
from thaisign.inert import json_text
from thaisign.verify.register import RegisterRow, register_csv, register_json
from thaisign.verify.render_text import default_lang
from thaisign.verify.trust import TrustStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MiB = 1024 * 1024


def default_register_path() -> Path:
    """``$XDG_DATA_HOME/thaisign/desk/register.db`` (``~/.local/share/...``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "thaisign" / "desk" / "register.db"


@dataclass(frozen=True)
class DeskConfig:
    """How the desk checks letters and what it accepts. Every field has a sensible default."""

    trust: TrustStore | None = None  # default: TrustStore.default() (--trust, config folder, NRCA)
    revocation: str = "online"  # online | offline | off
    at: datetime | None = None  # validation time (default: the moment of each check)
    max_file_bytes: int = 30 * MiB
    max_request_bytes: int = 200 * MiB
    max_files: int = 300
    register_path: Path = field(default_factory=default_register_path)
    lang: str | None = None  # first language shown (default: the clerk's locale, Thai if unset)
    workers: int = 1
    timeout: float = 20.0  # per letter, seconds
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")


class _TooLarge(Exception):
    pass


class _Guard:
    """ASGI middleware: loopback Host only, same-origin POSTs, bounded bodies, strict headers."""

    def __init__(self, app: Any, config: DeskConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname not in self.config.allowed_hosts:
            await _plain(send, 421, "this desk answers only on its own address (127.0.0.1)")
            return
        if scope["method"] not in ("GET", "HEAD", "POST"):
            await _plain(send, 405, "method not allowed")
            return
        if scope["method"] == "POST":
            origin = headers.get("origin") or _origin_of(headers.get("referer", ""))
            if origin != f"http://{host}":
                await _plain(send, 403, "refused: the request did not come from the desk's own page")
                return
            length = headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.config.max_request_bytes):
                await _plain(send, 413, _too_large_text(self.config))
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.config.max_request_bytes:
                    raise _TooLarge()
            return message

        async def secure_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + _SECURITY_HEADERS
            await send(message)

        try:
            await self.app(scope, limited_receive, secure_send)
        except _TooLarge:
            if not started:
                await _plain(send, 413, _too_large_text(self.config))


_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; connect-src 'self'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def _origin_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _too_large_text(config: DeskConfig) -> str:
    return (
        f"too much at once: at most {config.max_request_bytes // MiB} MiB per upload "
        f"and {config.max_file_bytes // MiB} MiB per letter"
    )


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *_SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- the application ------------------------------------------------------------------------


def create_app(config: DeskConfig | None = None) -> Any:
    """The desk as an ASGI application (serve it with uvicorn on 127.0.0.1)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    config = config or DeskConfig()
    trust = config.trust if config.trust is not None else TrustStore.default()
    desk = _Desk(config, trust)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            desk.pool.close()

    app = Starlette(
        routes=[
            Route("/", desk.index, methods=["GET"]),
            Route("/check", desk.check, methods=["POST"]),
            Route("/export", desk.export, methods=["POST"]),
            Route("/register", desk.register, methods=["GET"]),
            Route("/register/save", desk.save, methods=["POST"]),
            Route("/register/export", desk.register_export, methods=["GET"]),
            Route("/static/{name:path}", desk.static, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.desk = desk
    return _Guard(app, config)


_STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".ttf": "font/ttf",
}


class _Desk:
    def __init__(self, config: DeskConfig, trust: TrustStore) -> None:
        self.config = config
        self.trust = trust
        self.key = secrets.token_bytes(32)  # signs the rows a results page hands back for export
        self.pool = CheckPool(
            [a.certificate.dump() for a in trust.anchors],
            revocation=config.revocation,
            timeout=config.timeout,
            workers=config.workers,
        )
        self.store = RegisterStore(config.register_path)

    # --- helpers -------------------------------------------------------------------------

    def _lang(self, request: Any) -> str:
        for value in (request.query_params.get("lang"), request.cookies.get("thaisign_lang")):
            if value in ("th", "en"):
                return str(value)
        return self.config.lang or default_lang()

    def _page(self, request: Any, template: str, status: int = 200, **context: Any) -> Any:
        from starlette.responses import HTMLResponse

        from thaisign.verify.render_html import environment

        page = environment().get_template(template).render(lang="both", shown=self._lang(request), **context)
        return HTMLResponse(page, status_code=status)

    def _sign(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode("utf-8"), hashlib.sha256).hexdigest()

    def _signed_rows(self, form: Any) -> list[RegisterRow] | None:
        payload = str(form.get("rows", ""))
        if not hmac.compare_digest(self._sign(payload), str(form.get("sig", ""))):
            return None
        return [RegisterRow.from_dict(d) for d in json.loads(payload)]

    # --- pages -----------------------------------------------------------------------------

    async def index(self, request: Any) -> Any:
        return self._page(request, "desk/index.html", limits=self._limits())

    def _limits(self) -> dict[str, int]:
        c = self.config
        return {
            "files": c.max_files,
            "file_mib": c.max_file_bytes // MiB,
            "total_mib": c.max_request_bytes // MiB,
        }

    async def check(self, request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.datastructures import UploadFile

        from thaisign.inert import visible

        items: list[tuple[str, bytes]] = []
        problems: list[str] = []
        form = await request.form(max_files=self.config.max_files, max_fields=20)
        try:
            for upload in form.getlist("letters"):
                if not isinstance(upload, UploadFile) or not upload.filename:
                    continue
                name = _display_name(upload.filename)
                data = await upload.read(self.config.max_file_bytes + 1)
                if len(data) > self.config.max_file_bytes:
                    problems.append(f"{visible(name)}: > {self.config.max_file_bytes // MiB} MiB")
                    continue
                if not name.lower().endswith(".pdf") and not data.startswith(b"%PDF"):
                    continue  # a folder pick brings every file; only PDFs are letters
                items.append((name, data))
        finally:
            await form.close()
        if not items:
            return self._page(
                request, "desk/index.html", status=400, limits=self._limits(), empty=True, problems=problems
            )
        letters = await run_in_threadpool(self.pool.check, items, self.config.at)
        del items  # the letters' bytes go no further than this request
        return self._results(request, letters, problems)

    def _results(self, request: Any, letters: list[CheckedLetter], problems: list[str]) -> Any:
        from thaisign.verify.render_html import counts, letter_view

        views = []
        for n, c in enumerate(letters, 1):
            picture = "data:image/png;base64," + base64.b64encode(c.picture).decode() if c.picture else None
            views.append(letter_view(c.report, n, row=c.row, picture=picture))
        rows_json = json_text(json.dumps([c.row.to_dict() for c in letters], ensure_ascii=False))
        return self._page(
            request,
            "desk/results.html",
            letters=views,
            checked=letters,
            counts=counts(views),
            rows_json=rows_json,
            rows_sig=self._sign(rows_json),
            problems=problems,
            at=self.config.at or datetime.now(UTC),
        )

    async def export(self, request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        form = await request.form(max_files=0, max_fields=10, max_part_size=8 * MiB)
        rows = self._signed_rows(form)
        if rows is None:
            return PlainTextResponse(
                "the register rows were changed after checking; check the letters again", 400
            )
        return _download(rows, str(form.get("format", "csv")), str(form.get("lang", "th")), "register")

    async def save(self, request: Any) -> Any:
        from starlette.responses import PlainTextResponse, RedirectResponse

        form = await request.form(max_files=0, max_fields=10, max_part_size=8 * MiB)
        rows = self._signed_rows(form)
        if rows is None:
            return PlainTextResponse(
                "the register rows were changed after checking; check the letters again", 400
            )
        numbers = self.store.add(rows, received_at=datetime.now(UTC))
        return RedirectResponse(f"/register?saved={len(numbers)}", status_code=303)

    async def register(self, request: Any) -> Any:
        from thaisign.verify.render_html import LetterView, _pair
        from thaisign.verify.render_text import _VERDICT

        entries = self.store.entries()
        views = [
            LetterView(e.number, e.row.file, e.row.verdict, _pair(_VERDICT, e.row.verdict), e.row)
            for e in entries
        ]
        saved = request.query_params.get("saved", "")
        return self._page(
            request,
            "desk/register.html",
            letters=views,
            entries=entries,
            saved=int(saved) if saved.isdigit() else None,
            broken=self.store.verify(),
            path=str(self.config.register_path),
        )

    async def register_export(self, request: Any) -> Any:
        rows = [e.row for e in self.store.entries()]
        fmt = request.query_params.get("format", "csv")
        return _download(rows, fmt, self._lang(request), "register-saved")

    async def static(self, request: Any) -> Any:
        from starlette.responses import PlainTextResponse, Response

        from thaisign.verify.render_html import font_faces, sarabun_files, stylesheet

        name = request.path_params["name"]
        if name == "thaisign.css":
            body = font_faces(lambda file: f"/static/fonts/{file}") + "\n" + stylesheet()
            return Response(body, media_type=_STATIC_TYPES[".css"])
        if name == "desk.js":
            js = resources.files("thaisign.data").joinpath("static/desk.js").read_bytes()
            return Response(js, media_type=_STATIC_TYPES[".js"])
        fonts = {p.name: p for p in sarabun_files().values()}
        if name.startswith("fonts/") and name[6:] in fonts:
            return Response(
                fonts[name[6:]].read_bytes(),
                media_type=_STATIC_TYPES[".ttf"],
                headers={"cache-control": "max-age=86400"},
            )
        return PlainTextResponse("not found", 404)


def _display_name(filename: str) -> str:
    """The name a browser sent, as the clerk knows it (a folder pick sends ``folder/file.pdf``)."""
    name = filename.replace("\\", "/").strip("/")
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    return "/".join(parts[-3:])[:300] or "letter.pdf"


def _download(rows: list[RegisterRow], fmt: str, lang: str, stem: str) -> Any:
    from starlette.responses import Response

    if fmt == "json":
        body = register_json(rows).encode("utf-8")
        media, ext = "application/json", "json"
    else:
        body = register_csv(rows, "en" if lang == "en" else "th").encode("utf-8-sig")
        media, ext = "text/csv; charset=utf-8", "csv"
    return Response(
        body, media_type=media, headers={"content-disposition": f'attachment; filename="{stem}.{ext}"'}
    )
