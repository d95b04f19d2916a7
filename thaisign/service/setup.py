"""Creating a service folder (``thaisign service init``) and serving it (``thaisign service DIR``)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thaisign._fs import atomic_write
from thaisign.errors import ServiceConfigError
from thaisign.service.config import CONFIG_FILE, ServiceConfig
from thaisign.service.factors import SecretBox


def init_service(directory: str | os.PathLike[str], **settings: Any) -> ServiceConfig:
    """Create a service folder: ``service.toml``, the seed-sealing key and the database tables.

    ``settings`` are :class:`ServiceConfig` fields (``name``, ``token_uri``, ``ca_dir``, ``oidc``,
    ``auth``, ``db``, ``tsa``, ...). Refuses a folder that is not empty.
    """
    from thaisign.service.store import ServiceStore

    d = Path(directory)
    if d.exists() and (not d.is_dir() or any(d.iterdir())):
        raise ServiceConfigError(f"{d} exists and is not empty", hint="choose a new folder for the service")
    config = ServiceConfig(directory=d, **settings).validated()
    if not config.ca_path.joinpath("profile.toml").exists():
        raise ServiceConfigError(
            f"{config.ca_path} is not a thaisign CA folder",
            hint="create the agency CA first: thaisign ca init",
        )
    created = not d.exists()
    try:
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        SecretBox.create(config.secret_path)
        store = ServiceStore.connect(config.database_url())
        try:
            store.create_schema()
            with store.write() as conn:
                event = {"name": config.name, "issuer": config.oidc.issuer, "token": config.token_uri}
                store.append_audit(conn, [("init", None, event)], dt.datetime.now(dt.UTC))
        finally:
            store.close()
        atomic_write(d / CONFIG_FILE, config.to_toml().encode("utf-8"), mode=0o600)
    except BaseException:
        if created:
            shutil.rmtree(d, ignore_errors=True)
        raise
    return config


def ca_key_in_token(config: ServiceConfig) -> bool:
    """Whether the agency CA's key is in a PKCS#11 token (then the token PIN opens it)."""
    from thaisign.ca import CaProfile

    return CaProfile.load(config.ca_path / "profile.toml").key_uri is not None


def build_service_asgi(directory: str, pin: str | None, ca_passphrase: str | None, ca_pin: str | None) -> Any:
    """The ASGI app of a service folder (a picklable factory for :func:`thaisign.serving.serve`:
    each worker process opens its own store and token session)."""
    from thaisign.service.app import build_app
    from thaisign.service.core import CscService

    config = ServiceConfig.load(directory)
    return build_app(CscService.open(config, pin=pin, ca_passphrase=ca_passphrase, ca_pin=ca_pin))


def serve(
    directory: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    workers: int = 1,
    pin: str | None,
    with_ca_key: bool = False,
    ca_passphrase: str | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the service folder with uvicorn workers, deadlines and limits (:mod:`thaisign.serving`)."""
    import functools

    from thaisign.service.store import ServiceStore
    from thaisign.serving import serve as run

    config = ServiceConfig.load(directory)
    SecretBox.load(config.secret_path)  # fail here, before any worker starts
    probe = ServiceStore.connect(config.database_url())
    try:
        probe.counts()
    finally:
        probe.close()

    ca_pin = pin if with_ca_key and ca_key_in_token(config) else None
    passphrase = ca_passphrase if with_ca_key else None
    factory = functools.partial(build_service_asgi, str(directory), pin, passphrase, ca_pin)
    run(factory, host=host, port=port, workers=workers, on_ready=on_ready)
