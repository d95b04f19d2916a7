"""Constants and the enrollment flow of the signing-service tests (a module of its own: ``from
conftest import`` resolves to whichever conftest pytest imported first)."""

from __future__ import annotations

import datetime as dt

from support.csc_deployment import enroll_officer
from support.pki import FIXED_TIME

#: every signature made by the deployment is checked at this time (the deployment starts at FIXED_TIME)
VERIFY_AT = FIXED_TIME + dt.timedelta(hours=3)
OFFICER_PINS = {"somchai": "918273", "somsri": "605142", "wichai": "771930"}


#: the officer's enrollment through the service's API (in support: the platform tests enroll officers too)
enroll = enroll_officer
