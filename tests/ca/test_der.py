"""The hand-written DER of the CA's hot paths, against asn1crypto's encoding as the oracle."""

from __future__ import annotations

import pytest
from asn1crypto import core

from thaisign.ca import _der


@pytest.mark.parametrize("size", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000])
def test_an_element_of_any_length_encodes_as_asn1crypto_does(size: int) -> None:
    content = bytes(i % 251 for i in range(size))
    assert _der.tlv(0x04, content) == core.OctetString(content).dump()
    text = "ก" * (size // 3)
    assert _der.tlv(_der.UTF8_STRING, text.encode("utf-8")) == core.UTF8String(text).dump()
    inner = [core.Integer(i).dump() for i in range(size // 3)]
    assert (
        _der.sequence(*inner)
        == core.SequenceOf([core.Integer(i) for i in range(size // 3)], spec=core.Integer).dump()
    )
