"""thaisign.tsa: the agency's RFC 3161 time-stamping authority.

>>> from thaisign.tsa import init_tsa, open_tsa
>>> init_tsa("/srv/tsa", ca_dir="/srv/ca", ca_passphrase=ca_pw, passphrase=tsa_pw)
>>> tsa, store = open_tsa("/srv/tsa", passphrase=tsa_pw)
>>> reply_der = tsa.respond(query_der)
"""

from __future__ import annotations

from thaisign._exports import lazy_exports

_EXPORTS = {
    "TimeStampAuthority": "thaisign.tsa.authority",
    "IssuedToken": "thaisign.tsa.authority",
    "TsaReply": "thaisign.tsa.authority",
    "CounterSerials": "thaisign.tsa.authority",
    "TsaStore": "thaisign.tsa.store",
    "TsaConfig": "thaisign.tsa.setup",
    "init_tsa": "thaisign.tsa.setup",
    "open_tsa": "thaisign.tsa.setup",
    "tsa_app": "thaisign.tsa.server",
}

__all__ = list(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
