"""The agency certificate authority: issue officer certificates, revoke, publish CRLs, audit.

>>> from thaisign.ca import Authority, CaProfile, OfficerProfile
>>> ca = Authority.init("ca", CaProfile(name_th="กรมตัวอย่างดิจิทัล"), passphrase="...")
>>> ca.issue_officer(OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกองกลาง"), new_key="ec-p256")
"""

from __future__ import annotations

from thaisign.ca.audit import AuditEntry, AuditVerification, verify_chain
from thaisign.ca.authority import Authority, IssuedOfficer, load_csr
from thaisign.ca.profiles import CaProfile, OfficerProfile, is_thai_citizen_id
from thaisign.ca.store import (
    REVOCATION_REASONS,
    CertificateStatus,
    CertificateStore,
    IssuedCertificate,
    parse_serial,
    serial_hex,
)

__all__ = [
    "REVOCATION_REASONS",
    "AuditEntry",
    "AuditVerification",
    "Authority",
    "CaProfile",
    "CertificateStatus",
    "CertificateStore",
    "IssuedCertificate",
    "IssuedOfficer",
    "OfficerProfile",
    "is_thai_citizen_id",
    "load_csr",
    "parse_serial",
    "serial_hex",
    "verify_chain",
]
