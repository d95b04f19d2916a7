"""Roles and isolation through the library: the session takes the credential, never trusts the
caller. An operator of agency A can neither see, issue, revoke nor audit anything of agency B;
auditors only read; administrators manage agencies and people but issue nothing; every change
names who made it in the audit chain it belongs to."""

from __future__ import annotations

import pytest
from platform_helpers import SOMCHAI, SOMYING, Deployment

from thaisign.errors import AccessDenied, AgencyNotFoundError, SerialNotFoundError
from thaisign.platform import ApiToken, OidcToken


@pytest.fixture(scope="module")
def pao_officer(deployment: Deployment) -> int:
    return deployment.session("pao").issue("pao", SOMYING, new_key="ec-p256").serial


def test_an_agency_operator_cannot_touch_another_agency(deployment: Deployment, pao_officer: int) -> None:
    dla = deployment.session("dla")
    assert [a.slug for a in dla.agencies()] == ["dla"]
    for call in (
        lambda: dla.agency("pao"),
        lambda: dla.certificates("pao"),
        lambda: dla.certificate("pao", pao_officer),
        lambda: dla.issue("pao", SOMCHAI, new_key="ec-p256"),
        lambda: dla.revoke("pao", pao_officer, "keyCompromise"),
        lambda: dla.publish_crl("pao"),
        lambda: dla.audit("pao"),
        lambda: dla.verify("pao"),
        lambda: dla.crl("pao"),
        lambda: dla.ca_keys("pao"),
    ):
        with pytest.raises(AgencyNotFoundError, match="no agency 'pao'"):
            call()
    # the same answer as for an agency that does not exist: nothing leaks
    with pytest.raises(AgencyNotFoundError, match="no agency 'nowhere'"):
        dla.certificates("nowhere")
    # naming its own agency does not reach the other agency's certificates either
    with pytest.raises(SerialNotFoundError):
        dla.revoke("dla", pao_officer, "keyCompromise")
    with pytest.raises(SerialNotFoundError):
        dla.certificate("dla", pao_officer)
    assert deployment.session("pao").certificate("pao", pao_officer).revoked_at is None
    figures = dla.figures()
    assert [a.slug for a in figures.agencies] == ["dla"]
    with pytest.raises(AccessDenied):
        dla.verify_platform()
    with pytest.raises(AccessDenied):
        dla.create_agency("mine", "กรมของฉัน")
    with pytest.raises(AccessDenied):
        dla.appoint("ตัวเอง", "operator", agency="pao")


def test_auditors_read_and_verify_but_change_nothing(deployment: Deployment, pao_officer: int) -> None:
    platform_wide = deployment.session("auditor")
    assert {a.slug for a in platform_wide.agencies()} >= {"dla", "pao"}
    assert platform_wide.certificate("pao", pao_officer).serial == pao_officer
    assert all(r.ok for r in platform_wide.verify("pao").values())
    assert platform_wide.verify_platform().ok
    with pytest.raises(AccessDenied, match="auditor may not"):
        platform_wide.revoke("pao", pao_officer, "keyCompromise")
    with pytest.raises(AccessDenied):
        platform_wide.issue("pao", SOMCHAI, new_key="ec-p256")
    with pytest.raises(AccessDenied):
        platform_wide.publish_crl("pao")
    of_dla = deployment.session("dla-auditor")
    assert of_dla.audit("dla")
    with pytest.raises(AgencyNotFoundError):
        of_dla.audit("pao")
    with pytest.raises(AccessDenied):
        of_dla.verify_platform()


def test_administrators_manage_but_issue_nothing(deployment: Deployment) -> None:
    admin = deployment.session("admin")
    with pytest.raises(AccessDenied, match="admin may not"):
        admin.issue("dla", SOMCHAI, new_key="ec-p256")
    with pytest.raises(AccessDenied):
        admin.certificates("dla")
    assert {a.slug for a in admin.agencies()} >= {"dla", "pao"}


def test_bad_revoked_expired_and_disabled_credentials(deployment: Deployment) -> None:
    p = deployment.platform
    admin = deployment.session("admin")
    for bad in ("", "tsp_x", deployment.tokens["dla"][:-2] + "AA", "Bearer " + deployment.tokens["dla"]):
        with pytest.raises(AccessDenied):
            p.session(ApiToken(bad))
    with pytest.raises(AccessDenied, match="no OpenID Connect"):
        p.session(OidcToken("a.b.c"))
    op = admin.appoint("นายชั่วคราว ทดลอง", "operator", agency="dla")
    short = admin.create_token(op.id, days=1)
    assert p.session(ApiToken(short)).principal.name == "นายชั่วคราว ทดลอง"
    deployment.clock.advance(days=1, seconds=1)
    with pytest.raises(AccessDenied, match="expired"):
        p.session(ApiToken(short))
    token = admin.create_token(op.id)
    admin.revoke_token(token.split("_")[1])
    with pytest.raises(AccessDenied, match="revoked"):
        p.session(ApiToken(token))
    other = admin.create_token(op.id)
    admin.disable_operator(op.id)
    with pytest.raises(AccessDenied, match="disabled"):
        p.session(ApiToken(other))
    assert "secret" not in repr(ApiToken(other)) and other not in repr(ApiToken(other))


def test_every_change_names_the_operator_in_its_chain(deployment: Deployment) -> None:
    dla = deployment.session("dla")
    issued = dla.issue("dla", SOMCHAI, new_key="ec-p256")
    dla.revoke("dla", issued.serial, "affiliationChanged")
    entries = deployment.session("dla-auditor").audit("dla")[1]
    issue = next(e for e in entries if e.action == "issue" and e.serial == format(issued.serial, "x"))
    revoke = next(e for e in entries if e.action == "revoke" and e.serial == format(issued.serial, "x"))
    token_id = deployment.tokens["dla"].split("_")[1]
    for e in (issue, revoke):
        assert e.details["operator"] == "เจ้าหน้าที่ dla"
        assert e.details["actor"]["role"] == "operator"
        assert e.details["actor"]["agency"] == "dla"
        assert e.details["actor"]["via"] == f"token:{token_id}"
    platform_entries = deployment.session("auditor").platform_audit()
    created = next(e for e in platform_entries if e.action == "agency-create" and e.serial == "agency:1")
    assert created.details["operator"] == "นางสุดา ผู้ดูแลระบบ"
    assert created.details["actor"]["role"] == "admin"
    # tokens are kept hashed: the chain and the tables never hold one
    for token in deployment.tokens.values():
        secret = token.split("_", 2)[2]
        assert all(secret not in str(e.details) for e in platform_entries)
