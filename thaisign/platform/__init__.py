"""One platform for many agencies: a province's or the nation's agency CAs in one deployment.

>>> from thaisign.platform import ApiToken, Platform
>>> platform = Platform.open("/srv/korat-pki", passphrase=ca_passphrase)
>>> with platform.session(ApiToken(token)) as s:
...     s.issue("dla", OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง"), csr=csr)

See docs/platform.md. The pieces: :mod:`.core` (the platform and its CAs), :mod:`.session`
(what an authenticated operator may do), :mod:`.access` (roles and credentials), :mod:`.agencies`
(create, import, rollover, renew), :mod:`.status` (one OCSP/CRL/TSA front for every CA, for any
number of replicas), :mod:`.figures`, :mod:`.web` (API and the figures page).
"""

from thaisign.platform.access import ApiToken, OidcToken, Operator, Principal
from thaisign.platform.core import Platform, PlatformCa
from thaisign.platform.figures import AgencyFigures, Figures
from thaisign.platform.profile import Agency, AgencyProfile, CaKey
from thaisign.platform.session import Session

__all__ = [
    "Agency",
    "AgencyFigures",
    "AgencyProfile",
    "ApiToken",
    "CaKey",
    "Figures",
    "OidcToken",
    "Operator",
    "Platform",
    "PlatformCa",
    "Principal",
    "Session",
]
