"""RFC 7512 URIs: parsing, percent-encoding, query attributes, refusing PINs inside the URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from thaisign import errors
from thaisign.hsm import Pkcs11Uri


def test_rfc7512_examples_parse() -> None:
    u = Pkcs11Uri.parse(
        "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
        "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
        "?pin-source=file:/etc/token"
    )
    assert u.token == "The Software PKCS#11 Softtoken"
    assert u.manufacturer == "Snake Oil, Inc."
    assert u.model == "1.0" and u.serial == ""
    assert u.object == "my-certificate" and u.type == "cert"
    assert u.id == bytes.fromhex("69953e5cf4bdec91")
    assert u.pin_source == "file:/etc/token"


def test_thai_label_round_trips_percent_encoded() -> None:
    u = Pkcs11Uri(token="กรมส่งเสริมการปกครองท้องถิ่น", object="นายสมชาย ใจดี;2569", id=b"\x00\x01\xff")
    text = str(u)
    assert text.isascii() and " " not in text and ";2569" not in text
    assert "id=%00%01%FF" in text
    assert Pkcs11Uri.parse(text) == u


def test_query_attributes_and_format_order() -> None:
    u = Pkcs11Uri.parse(
        "pkcs11:object=k;token=T?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:%2Ftmp%2Fp"
    )
    assert u.module_path == "/usr/lib/softhsm/libsofthsm2.so"
    assert u.pin_source == "file:/tmp/p"
    assert (
        str(u) == "pkcs11:token=T;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/tmp/p"
    )
    assert str(u.without_query()) == "pkcs11:token=T;object=k"
    assert str(u.for_token().without_query()) == "pkcs11:token=T"


def test_vendor_attributes_ignored_slot_id_parsed() -> None:
    u = Pkcs11Uri.parse("pkcs11:slot-id=7;x-vendor=abc;object=k?x-foo=1")
    assert u.slot_id == 7 and u.object == "k"


@pytest.mark.parametrize(
    "bad, why",
    [
        ("token=T", "must start with 'pkcs11:'"),
        ("pkcs11:colour=red", "unknown attribute 'colour'"),
        ("pkcs11:token=A;token=B", "given twice"),
        ("pkcs11:slot-id=abc", "slot-id must be a decimal"),
        ("pkcs11:type=key", "type must be one of"),
        ("pkcs11:token", "has no '=value'"),
        ("pkcs11:token=%FF%FE", "not valid UTF-8"),
        ("pkcs11:token=T?module=x", "unknown query attribute"),
    ],
)
def test_malformed_uris_are_usage_errors(bad: str, why: str) -> None:
    with pytest.raises(errors.UsageError, match=why) as info:
        Pkcs11Uri.parse(bad)
    assert info.value.hint and "pkcs11:token=" in info.value.hint


def test_pin_value_refused() -> None:
    with pytest.raises(errors.PinError, match="pin-value"):
        Pkcs11Uri.parse("pkcs11:token=T;object=k?pin-value=1234")


def test_pin_source_file(tmp_path: Path) -> None:
    f = tmp_path / "ที่เก็บ pin.txt"
    f.write_text("4321\nignored\n", encoding="utf-8")
    f.chmod(0o600)  # a PIN file must be private
    u = Pkcs11Uri(token="T", pin_source=f"file:{f}")
    assert Pkcs11Uri.parse(str(u)).read_pin_source() == "4321"
    assert Pkcs11Uri(token="T", pin_source=str(f)).read_pin_source() == "4321"
    assert Pkcs11Uri(token="T").read_pin_source() is None
    with pytest.raises(errors.PinError, match="cannot read"):
        Pkcs11Uri(token="T", pin_source=f"file:{tmp_path / 'missing'}").read_pin_source()
    with pytest.raises(errors.PinError, match="unsupported pin-source"):
        Pkcs11Uri(token="T", pin_source="https://example.org/pin").read_pin_source()
