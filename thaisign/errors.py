"""One exception hierarchy for everything thaisign reports to a user.

Every error carries a one-line message that says what is wrong and, where it helps,
a ``hint`` that says what to do. The CLI prints ``thaisign: error: <message>`` (and the
hint) and exits with ``exit_code``; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations


class ThaisignError(Exception):
    """Base of every error thaisign raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(ThaisignError):
    """The call itself is wrong: conflicting or missing options."""

    exit_code = 2


class InputError(ThaisignError):
    """An input file is missing, unreadable or malformed."""


class OutputError(ThaisignError):
    """An output cannot be written, or would overwrite something it must not."""


class SecretError(ThaisignError):
    """A passphrase or PIN is missing or wrong."""


class KeyLoadError(ThaisignError):
    """A private key, PKCS#12 file or certificate cannot be loaded."""


class CertificateError(ThaisignError):
    """A certificate is unsuitable: expired, not yet valid, wrong key usage, key mismatch."""


# --- certificate authority -------------------------------------------------------------------


class CAError(ThaisignError):
    """A certificate-authority operation failed."""


class CAExistsError(CAError):
    """The CA folder already holds a CA; thaisign never overwrites one."""


class CANotFoundError(CAError):
    """The folder is not a thaisign CA folder."""


class ProfileError(CAError):
    """A CA or officer profile is invalid or violates the CA's policy."""


class CsrError(CAError):
    """A certificate signing request is malformed or its signature does not verify."""


class SerialNotFoundError(CAError):
    """No certificate with that serial number in the store."""


class AlreadyRevokedError(CAError):
    """The certificate is revoked already."""


class StoreError(CAError):
    """The CA database is unreachable or inconsistent."""


class AuditChainError(CAError):
    """The hash chain of the audit log is broken."""


# --- PDF signing and verification -----------------------------------------------------------


class PdfError(ThaisignError):
    """A PDF is corrupt, encrypted without a password, or otherwise unusable."""


class SigningError(ThaisignError):
    """Signing a document failed."""


class AppearanceError(SigningError):
    """A visible signature cannot be laid out (font, image, box, anchor text)."""


class VerificationError(ThaisignError):
    """Verification could not be carried out at all (not: a signature that failed)."""


class TrustError(ThaisignError):
    """A trust anchor is missing, unreadable or does not match its pinned fingerprint."""


class NetworkError(ThaisignError):
    """A TSA, OCSP responder or CRL distribution point did not answer usefully."""


# --- hardware tokens -------------------------------------------------------------------------


class TokenError(ThaisignError):
    """A PKCS#11 module, token, key or session problem."""


class ModuleNotFoundError_(TokenError):
    """The PKCS#11 module cannot be found or is not a PKCS#11 library."""


class TokenNotFoundError(TokenError):
    """No token matches the URI."""


class TokenKeyNotFoundError(TokenError):
    """No key, or more than one key, matches the URI."""


class PinError(TokenError):
    """The PIN is wrong, missing or locked."""


class MechanismError(TokenError):
    """The token does not support the mechanism needed."""


# --- services -------------------------------------------------------------------------------


class ServiceError(ThaisignError):
    """An OCSP, CRL or TSA service cannot start or answer."""


class ServiceConfigError(ServiceError):
    """The remote signing service's folder or ``service.toml`` is missing or invalid."""


class RemoteSigningError(ThaisignError):
    """A remote signing service (CSC API) refused or failed a request."""


# --- the multi-agency platform ----------------------------------------------------------------


class AccessDenied(ThaisignError):
    """A platform credential is not accepted, or its operator may not do this."""

    exit_code = 4


class AgencyNotFoundError(CAError):
    """No such agency on the platform — as far as the operator asking may know."""
