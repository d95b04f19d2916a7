"""The remote signing service: CSC API over HTTP, officer keys in a PKCS#11 HSM, OpenID Connect logins.

>>> from thaisign.service import ServiceConfig, OidcSettings, init_service, CscService, build_app
>>> config = init_service("/srv/sign", name="กรมตัวอย่าง", token_uri="pkcs11:token=Agency", ca_dir="/srv/ca",
...                       oidc=OidcSettings(issuer="https://op.example.go.th", audience="https://sign.example.go.th"))
>>> app = build_app(CscService.open(config, pin=pin))       # an ASGI app: uvicorn / gunicorn

``thaisign service DIR --workers N`` serves it; see docs/service.md.
"""

from __future__ import annotations

from thaisign._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "ServiceConfig": "thaisign.service.config",
    "OidcSettings": "thaisign.service.config",
    "AuthSettings": "thaisign.service.config",
    "init_service": "thaisign.service.setup",
    "serve": "thaisign.service.setup",
    "CscService": "thaisign.service.core",
    "CscError": "thaisign.service.model",
    "build_app": "thaisign.service.app",
    "TokenVerifier": "thaisign.service.oidc",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
