"""Thai names stay Thai (RFC 5280 counts characters), invisible characters are refused, and the
citizen-ID guard looks at the digits whatever separates them. OpenSSL reads what the CA wrote."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from ca_helpers import CA_PASSPHRASE, assert_one_line_error, require_tool, run_cli
from cryptography import x509

from thaisign.ca import Authority, CaProfile, OfficerProfile
from thaisign.ca.profiles import contains_citizen_id
from thaisign.errors import ProfileError

DLA = "กรมส่งเสริมการปกครองท้องถิ่น"  # 28 characters, 84 UTF-8 bytes
ENV = {"THAISIGN_CA_PASSPHRASE": CA_PASSPHRASE}


def _openssl_subject(pem: Path) -> str:
    openssl = require_tool("openssl")
    out = subprocess.run(
        [openssl, "x509", "-in", str(pem), "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus,sname"],
        capture_output=True,
        check=True,
    )
    return out.stdout.decode("utf-8")


def _string_types(pem: Path) -> list[str]:
    """The ASN.1 string types OpenSSL sees in the certificate's names (asn1parse)."""
    openssl = require_tool("openssl")
    out = subprocess.run(
        [openssl, "asn1parse", "-in", str(pem)], capture_output=True, check=True, text=True
    ).stdout
    return [line.split(":")[2].strip() for line in out.splitlines() if "STRING" in line and "prim:" in line]


def test_long_thai_agency_name_is_the_ca_common_name(tmp_path: Path, fixed_time: dt.datetime) -> None:
    ca_dir = tmp_path / "ca"
    r = run_cli(
        "ca", "init", str(ca_dir), "--name-th", DLA, "--name-en", "Department of Local Administration",
        "--base-url", "http://ca.dla.example", env=ENV,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    subject = _openssl_subject(ca_dir / "ca.pem")
    assert f"CN={DLA}" in subject and f"O={DLA}" in subject, subject
    assert "Department of Local Administration" not in subject
    assert "UTF8STRING" in _string_types(ca_dir / "ca.pem")


def test_sixty_four_thai_characters_fit_and_sixty_five_do_not(
    tmp_path: Path, fixed_time: dt.datetime
) -> None:
    name64 = ("กรม" + "ก" * 61)[:64]
    assert len(name64) == 64 and len(name64.encode()) == 192
    profile = CaProfile(name_th=name64, key="ec-p256", base_url="http://ca.example")
    with Authority.init(tmp_path / "ca", profile, passphrase=CA_PASSPHRASE, now=fixed_time) as ca:
        assert ca.certificate is not None
        officer = OfficerProfile(name_th="น" * 64, position="ต" * 64, employee_id="E1")
        issued = ca.issue_officer(officer, new_key="ec-p256", now=fixed_time)
    (tmp_path / "officer.pem").write_bytes(issued.pem())
    subject = _openssl_subject(tmp_path / "officer.pem")
    assert f"O={name64}" in subject and f"CN={'น' * 64}" in subject and f"title={'ต' * 64}" in subject
    assert _openssl_subject(tmp_path / "ca" / "ca.pem").count(name64) == 2
    with pytest.raises(ProfileError, match="65 characters; at most 64"):
        CaProfile(name_th=name64 + "ก", base_url="http://ca.example").validated()
    with pytest.raises(ProfileError, match="65 characters; at most 64"):
        OfficerProfile(name_th="น" * 65, position="ผู้อำนวยการกอง").validated()


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("\u0085", "U+0085"),  # C1 control NEL (str.split() used to turn it into a space)
        ("\x7f", "U+007F"),  # DEL
        ("\u200b", "U+200B (ZERO WIDTH SPACE)"),
        ("\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("\x1b", "U+001B"),
    ],
)
def test_invisible_characters_are_refused_in_every_name(char: str, shown: str) -> None:
    for kwargs, what in (
        ({"name_th": f"นายสมชาย{char} ใจดี"}, "Thai full name"),
        ({"position": f"ผู้อำนวยการ{char}กอง"}, "position"),
        ({"ou": f"กอง{char}กลาง"}, "organisational unit"),
        ({"given_name": f"สม{char}ชาย"}, "given name"),
    ):
        fields = {"name_th": "นายสมชาย ใจดี", "position": "ผู้อำนวยการกอง", **kwargs}
        with pytest.raises(ProfileError) as err:
            OfficerProfile(**fields).validated()
        assert what in err.value.message and shown in err.value.message
        assert char not in err.value.message  # shown by its code, never raw
    with pytest.raises(ProfileError, match=re.escape(shown)):
        CaProfile(name_th=f"กรม{char}ทดสอบ", base_url="http://ca.example").validated()


def test_invisible_character_on_the_command_line_is_one_clear_line(tmp_path: Path) -> None:
    r = run_cli(
        "ca", "init", str(tmp_path / "ca"), "--name-th", "กรม\u202eทดสอบ", "--local", env=ENV
    )  # fmt: skip
    assert_one_line_error(r, "U+202E", "RIGHT-TO-LEFT OVERRIDE", "agency's Thai name")
    assert "\u202e" not in r.stderr
    assert not (tmp_path / "ca").exists()


@pytest.mark.parametrize(
    "employee_id",
    [
        "3101700123452",
        "3-1017-00123-45-2",
        "3 1017 00123 45 2",
        "3.1017.00123.45.2",
        "3/1017/00123/45/2",
        "3:1017:00123:45:2",
        "ID3101700123452",
        "TH-3101700123452",
        "3101700123452-01",
        "E.3.1017.00123.45.2",
    ],
)
def test_citizen_id_is_refused_whatever_separates_the_digits(employee_id: str) -> None:
    assert contains_citizen_id(employee_id)
    with pytest.raises(ProfileError, match="citizen ID"):
        OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", employee_id=employee_id).validated()


@pytest.mark.parametrize(
    "employee_id", ["E0042", "3.1017.00123.45.3", "2569-000123", "31017001234521", "DLA/2569/0042"]
)
def test_ordinary_employee_ids_pass(employee_id: str) -> None:
    assert not contains_citizen_id(employee_id)
    officer = OfficerProfile(name_th="นายสมชาย ใจดี", position="ผู้อำนวยการกอง", employee_id=employee_id)
    assert officer.validated().employee_id == employee_id


def test_the_ca_certificate_parses_with_cryptography_without_an_english_fallback(
    tmp_path: Path, fixed_time: dt.datetime
) -> None:
    profile = CaProfile(
        name_th=DLA, name_en="Department of Local Administration", base_url="http://x.example"
    )
    with Authority.init(tmp_path / "ca", profile, passphrase=CA_PASSPHRASE, now=fixed_time) as ca:
        assert ca.certificate is not None
        cns = ca.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        assert [a.value for a in cns] == [DLA]


def test_names_in_a_token_csr_follow_the_same_rules() -> None:
    from thaisign.hsm.csr import officer_name

    long_org = "กรม" + "ก" * 61
    name = officer_name("นายสมชาย ใจดี", organization=long_org, position="ผู้อำนวยการกอง")
    assert name.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == long_org
    with pytest.raises(ProfileError, match="U\\+202E"):
        officer_name("นายสมชาย\u202e ใจดี")
    with pytest.raises(ProfileError, match="65 characters"):
        officer_name("นายสมชาย ใจดี", organization=long_org + "ก")


def test_the_printable_fast_path_refuses_exactly_what_the_character_rule_refuses() -> None:
    """_forbidden_char skips its per-character loop for str.isprintable() text: checked here
    against the rule itself (the categories) for every code point, alone and inside Thai text."""
    import sys
    import unicodedata

    from thaisign.ca.profiles import _FORBIDDEN_CATEGORIES, _forbidden_char

    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        refused = ch != " " and unicodedata.category(ch) in _FORBIDDEN_CATEGORIES
        assert (_forbidden_char(ch) is not None) == refused, f"U+{code:04X}"
    assert _forbidden_char("นายสมชาย\u00a0ใจดี") is None  # a no-break space: not printable, allowed
    assert _forbidden_char("นายสมชาย ใจดี\u200b") == (13, "\u200b")
