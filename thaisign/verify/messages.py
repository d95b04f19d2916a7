"""Sentences for clerks, in English and Thai: why a signature is short of TOTAL_PASSED, what to do.

Each entry is ``(english, thai)``; :func:`why` picks the sentence for a sub-indication and
the facts of the signature.
"""

from __future__ import annotations

Sentence = tuple[str, str]

PASSED: Sentence = (
    "The signature is valid: the document has not been changed since it was signed and the "
    "signer's certificate is trusted.",
    "ลายมือชื่อถูกต้อง: เอกสารไม่ถูกแก้ไขหลังการลงนาม และใบรับรองของผู้ลงนามเชื่อถือได้",
)
PASSED_ALLOWED: Sentence = (
    "The signature is valid; what changed after signing is of a permitted kind (named below).",
    "ลายมือชื่อถูกต้อง สิ่งที่เปลี่ยนหลังการลงนามเป็นประเภทที่อนุญาต (ระบุไว้ด้านล่าง)",
)
PASSED_CONTENT_CHANGED: Sentence = (
    "The signature itself is valid and the letter as it was signed is intact, but what the pages "
    "show was changed after signing (see below).",
    "ลายมือชื่อถูกต้องและหนังสือตามที่ลงนามไม่ถูกแก้ไข แต่สิ่งที่แสดงในหน้าเอกสารถูกเปลี่ยนหลังการลงนาม (ดูด้านล่าง)",
)
REVOCATION_OFF: Sentence = (
    "Revocation was not checked because checking was switched off.",
    "ไม่ได้ตรวจสอบสถานะการเพิกถอนใบรับรอง เนื่องจากปิดการตรวจสอบไว้",
)
FIELDS_CHANGED: Sentence = (
    "Form fields were filled in or changed after this signature; this is permitted, but check "
    "that what you see is what was signed.",
    "มีการกรอกหรือเปลี่ยนค่าในช่องแบบฟอร์มหลังการลงนามนี้ ซึ่งอนุญาตได้ แต่โปรดตรวจดูว่าสิ่งที่เห็นตรงกับสิ่งที่ลงนาม",
)
EXPIRED_SINCE: Sentence = (
    "The signer's certificate has expired since, but a trusted time-stamp proves the letter was "
    "signed while it was valid and not revoked.",
    "ใบรับรองของผู้ลงนามหมดอายุแล้วในภายหลัง แต่การประทับเวลาที่เชื่อถือได้พิสูจน์ว่าลงนามขณะใบรับรองยังใช้ได้และไม่ถูกเพิกถอน",
)
TIMESTAMP_UNTRUSTED: Sentence = (
    "The time-stamp in the signature is not from a trusted time-stamping authority; "
    "the signing time shown is the signer's own clock.",
    "การประทับเวลาในลายมือชื่อไม่ได้มาจากผู้ให้บริการประทับเวลาที่เชื่อถือได้ เวลาที่แสดงเป็นเวลาตามเครื่องของผู้ลงนามเอง",
)

_BY_SUB: dict[str, Sentence] = {
    "HASH_FAILURE": (
        "The document was altered after it was signed (its fingerprint no longer matches). "
        "Do not rely on it; ask the sender for the original.",
        "เอกสารถูกแก้ไขหลังการลงนาม (ค่าแฮชไม่ตรงกัน) อย่าใช้เอกสารนี้ ขอต้นฉบับจากผู้ส่ง",
    ),
    "SIG_CRYPTO_FAILURE": (
        "The signature value does not verify with the signer's certificate. "
        "Do not rely on it; ask the sender for the original.",
        "ค่าลายมือชื่อตรวจสอบกับใบรับรองของผู้ลงนามไม่ผ่าน อย่าใช้เอกสารนี้ ขอต้นฉบับจากผู้ส่ง",
    ),
    "FORMAT_FAILURE": (
        "The signature is malformed or the document was changed in a way its signature does not "
        "allow. Do not rely on it; ask the sender to send the letter again.",
        "ลายมือชื่อมีโครงสร้างผิดรูปแบบ หรือเอกสารถูกแก้ไขในลักษณะที่ไม่อนุญาต อย่าใช้เอกสารนี้ ขอให้ผู้ส่งส่งหนังสือมาใหม่",
    ),
    "REVOKED": (
        "The signer's certificate was revoked before the document was signed. Do not accept it.",
        "ใบรับรองของผู้ลงนามถูกเพิกถอนก่อนการลงนาม ห้ามรับเอกสารนี้",
    ),
    "REVOKED_NO_POE": (
        "The signer's certificate has been revoked and nothing proves the signature was made "
        "before that. Ask the sender's agency to confirm.",
        "ใบรับรองของผู้ลงนามถูกเพิกถอนแล้ว และไม่มีหลักฐานว่าลงนามก่อนการเพิกถอน โปรดสอบถามหน่วยงานผู้ส่ง",
    ),
    "REVOKED_CA_NO_POE": (
        "A certification authority in the signer's chain has been revoked. Ask the sender's agency.",
        "ผู้ออกใบรับรองในสายใบรับรองของผู้ลงนามถูกเพิกถอน โปรดสอบถามหน่วยงานผู้ส่ง",
    ),
    "NO_CERTIFICATE_CHAIN_FOUND": (
        "The signer's certificate does not lead to a trusted root. If you know the sending "
        "agency, add its root certificate with --trust, or ask your IT officer.",
        "ใบรับรองของผู้ลงนามไม่เชื่อมโยงถึงใบรับรองหลักที่เชื่อถือ หากรู้จักหน่วยงานผู้ส่ง "
        "ให้เพิ่มใบรับรองหลักของหน่วยงานด้วย --trust หรือสอบถามเจ้าหน้าที่ไอที",
    ),
    "NO_SIGNING_CERTIFICATE_FOUND": (
        "The signature does not carry the signer's certificate. Ask the sender to sign again.",
        "ลายมือชื่อไม่มีใบรับรองของผู้ลงนาม ขอให้ผู้ส่งลงนามใหม่",
    ),
    "OUT_OF_BOUNDS_NO_POE": (
        "The signer's certificate is expired (or not yet valid) at the validation time and "
        "there is no proof the signature was made while it was valid. Ask for a long-term "
        "(B-LT/B-LTA) copy.",
        "ใบรับรองของผู้ลงนามหมดอายุ (หรือยังไม่มีผล) ณ เวลาที่ตรวจ และไม่มีหลักฐานว่าลงนาม"
        "ขณะใบรับรองยังใช้ได้ ขอฉบับที่รับรองระยะยาว (B-LT/B-LTA)",
    ),
    "EXPIRED": (
        "The signer's certificate had expired. Ask for a long-term (B-LT/B-LTA) copy.",
        "ใบรับรองของผู้ลงนามหมดอายุแล้ว ขอฉบับที่รับรองระยะยาว (B-LT/B-LTA)",
    ),
    "NOT_YET_VALID": (
        "The signer's certificate was not yet valid at the signing time. Do not accept it.",
        "ใบรับรองของผู้ลงนามยังไม่มีผล ณ เวลาที่ลงนาม ห้ามรับเอกสารนี้",
    ),
    "TRY_LATER": (
        "The revocation status of the signer's certificate could not be checked (this is not "
        "the same as invalid). Check again when online, or ask for a B-LT copy.",
        "ตรวจสอบสถานะการเพิกถอนใบรับรองของผู้ลงนามไม่ได้ (ไม่ได้แปลว่าลายมือชื่อไม่ถูกต้อง) "
        "ตรวจซ้ำเมื่อเชื่อมต่ออินเทอร์เน็ตได้ หรือขอฉบับ B-LT",
    ),
    "REVOCATION_OUT_OF_BOUNDS_NO_POE": (
        "The revocation information available is too old to decide. Check again later.",
        "ข้อมูลการเพิกถอนที่มีเก่าเกินไปที่จะตัดสินได้ ตรวจซ้ำภายหลัง",
    ),
    "CHAIN_CONSTRAINTS_FAILURE": (
        "The signer's certificate is not allowed to sign documents (key usage or policy). "
        "Ask the sender's agency.",
        "ใบรับรองของผู้ลงนามไม่ได้รับอนุญาตให้ใช้ลงนามเอกสาร (การใช้งานกุญแจหรือนโยบาย) โปรดสอบถามหน่วยงานผู้ส่ง",
    ),
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": (
        "The signer's certificate chain could not be validated. Ask your IT officer.",
        "ตรวจสอบสายใบรับรองของผู้ลงนามไม่ผ่าน โปรดสอบถามเจ้าหน้าที่ไอที",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE": (
        "The signature uses an algorithm that is no longer considered secure. Ask the sender to sign again.",
        "ลายมือชื่อใช้อัลกอริทึมที่ไม่ปลอดภัยแล้ว ขอให้ผู้ส่งลงนามใหม่",
    ),
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": (
        "The signature uses an algorithm that has since become insecure, with no proof it was "
        "made before that. Ask for a B-LTA copy.",
        "ลายมือชื่อใช้อัลกอริทึมที่ภายหลังไม่ปลอดภัย และไม่มีหลักฐานเวลาที่ลงนาม ขอฉบับ B-LTA",
    ),
    "NO_POE": (
        "There is no proof of when the signature was made. Ask for a time-stamped copy.",
        "ไม่มีหลักฐานว่าลงนามเมื่อใด ขอฉบับที่มีการประทับเวลา",
    ),
    "TIMESTAMP_ORDER_FAILURE": (
        "The time-stamps in the document are in an impossible order. Ask the sender.",
        "ลำดับการประทับเวลาในเอกสารผิดปกติ โปรดสอบถามผู้ส่ง",
    ),
    "GENERIC": (
        "The signature could not be fully checked. Ask your IT officer.",
        "ไม่สามารถตรวจสอบลายมือชื่อได้ครบถ้วน โปรดสอบถามเจ้าหน้าที่ไอที",
    ),
}

MODIFIED_DISALLOWED: Sentence = (
    "The document was changed after signing in a way the signature does not allow (for "
    "example page content replaced or hidden). Do not rely on it; ask the sender for the original.",
    "เอกสารถูกแก้ไขหลังการลงนามในลักษณะที่ไม่อนุญาต (เช่น เปลี่ยนหรือซ่อนเนื้อหาในหน้า) อย่าใช้เอกสารนี้ ขอต้นฉบับจากผู้ส่ง",
)
PARTIAL_COVERAGE: Sentence = (
    "The signature does not cover the whole document: parts of the file are unsigned. "
    "Do not rely on it; ask the sender for the original.",
    "ลายมือชื่อไม่ครอบคลุมเอกสารทั้งหมด มีบางส่วนของไฟล์ที่ไม่ได้ลงนาม อย่าใช้เอกสารนี้ ขอต้นฉบับจากผู้ส่ง",
)
TIMESTAMP_BROKEN: Sentence = (
    "The time-stamp attached to the signature does not match it. Ask the sender for the original.",
    "การประทับเวลาที่แนบกับลายมือชื่อไม่ตรงกับลายมือชื่อ ขอต้นฉบับจากผู้ส่ง",
)
SEED_VALUES: Sentence = (
    "The signature does not meet the requirements the document set for this signature field "
    "(seed values). Ask the sender to sign again as the form requires.",
    "ลายมือชื่อไม่เป็นไปตามข้อกำหนดที่เอกสารตั้งไว้สำหรับช่องลงนามนี้ (seed values) ขอให้ผู้ส่งลงนามใหม่ตามที่แบบฟอร์มกำหนด",
)
UNSUPPORTED: Sentence = (
    "This signature format is not supported by thaisign. Ask the sender for a PAdES signature.",
    "thaisign ไม่รองรับรูปแบบลายมือชื่อนี้ ขอให้ผู้ส่งใช้ลายมือชื่อแบบ PAdES",
)
NO_SIGNATURE: Sentence = (
    "The document carries no digital signature.",
    "เอกสารนี้ไม่มีลายมือชื่ออิเล็กทรอนิกส์",
)
ONLY_TIMESTAMPS: Sentence = (
    "The document carries document time-stamps but no signature: they prove when it existed, "
    "not who signed it.",
    "เอกสารนี้มีเพียงการประทับเวลาเอกสาร ไม่มีลายมือชื่อ: พิสูจน์ได้ว่าเอกสารมีอยู่เมื่อใด แต่ไม่ได้บอกว่าใครลงนาม",
)
FILE_ERROR: Sentence = (
    "The file could not be read as a PDF. Ask the sender to send it again.",
    "ไม่สามารถอ่านไฟล์เป็น PDF ได้ ขอให้ผู้ส่งส่งมาใหม่",
)


def for_sub_indication(sub: str | None) -> Sentence:
    """The why-and-what-to-do sentence for a sub-indication."""
    return _BY_SUB.get(sub or "GENERIC", _BY_SUB["GENERIC"])


# --- long-term validation (proof of existence, revocation with its time and reason) --------------
# Templates take keyword arguments: {when} revocation time, {reason}, {signed} the proven or
# claimed signing time, {why} a detail, {name} a certificate's common name.

REVOKED_BEFORE_SIGNING: Sentence = (
    "The signer's certificate was revoked on {when} ({reason}), before the letter was signed "
    "({signed}, proven by a trusted time-stamp). Do not accept it.",
    "ใบรับรองของผู้ลงนามถูกเพิกถอนเมื่อ {when} ({reason}) ก่อนการลงนาม "
    "({signed} พิสูจน์ด้วยการประทับเวลาที่เชื่อถือได้) ห้ามรับเอกสารนี้",
)
REVOKED_BEFORE_CLAIMED: Sentence = (
    "The signer's certificate was revoked on {when} ({reason}), before the signing time the "
    "signature itself states ({signed}). Do not accept it.",
    "ใบรับรองของผู้ลงนามถูกเพิกถอนเมื่อ {when} ({reason}) ก่อนเวลาลงนามที่ระบุไว้ในลายมือชื่อเอง ({signed}) ห้ามรับเอกสารนี้",
)
REVOKED_NO_POE_DETAIL: Sentence = (
    "The signer's certificate was revoked on {when} ({reason}) and nothing trustworthy proves the "
    "letter was signed before that ({why}). Ask the sender's agency to confirm.",
    "ใบรับรองของผู้ลงนามถูกเพิกถอนเมื่อ {when} ({reason}) และไม่มีหลักฐานที่เชื่อถือได้ว่าลงนามก่อนหน้านั้น "
    "({why}) โปรดสอบถามหน่วยงานผู้ส่ง",
)
NO_TIMESTAMP: Sentence = ("the letter has no time-stamp", "หนังสือไม่มีการประทับเวลา")
TIMESTAMP_NOT_USABLE: Sentence = (
    "its time-stamp could not be verified: {why}",
    "ตรวจสอบการประทับเวลาของหนังสือไม่ผ่าน: {why}",
)
REVOKED_AFTER_SIGNING: Sentence = (
    "The signer's certificate was revoked on {when} ({reason}), after the letter was signed "
    "({signed}, proven by {proof}); the signature remains valid.",
    "ใบรับรองของผู้ลงนามถูกเพิกถอนเมื่อ {when} ({reason}) ซึ่งเป็นเวลาหลังการลงนาม "
    "({signed} พิสูจน์ด้วย{proof}) ลายมือชื่อจึงยังใช้ได้",
)
CA_REVOKED: Sentence = (
    "The certification authority {name!r} in the signer's chain was revoked on {when} ({reason}), "
    "and nothing proves the letter was signed before that. Ask the sender's agency.",
    "ผู้ออกใบรับรอง {name!r} ในสายใบรับรองของผู้ลงนามถูกเพิกถอนเมื่อ {when} ({reason}) "
    "และไม่มีหลักฐานว่าลงนามก่อนหน้านั้น โปรดสอบถามหน่วยงานผู้ส่ง",
)
ON_HOLD: Sentence = (
    "The signer's certificate was suspended (on hold) on {when}. Check again later or ask the "
    "sender's agency.",
    "ใบรับรองของผู้ลงนามถูกระงับชั่วคราวเมื่อ {when} ตรวจซ้ำภายหลังหรือสอบถามหน่วยงานผู้ส่ง",
)
EXPIRED_BEFORE_SIGNING: Sentence = (
    "The certificate {name!r} had expired on {when}, before the letter was signed ({signed}, "
    "proven by a trusted time-stamp). Do not accept it.",
    "ใบรับรอง {name!r} หมดอายุเมื่อ {when} ก่อนการลงนาม ({signed} พิสูจน์ด้วยการประทับเวลาที่เชื่อถือได้) ห้ามรับเอกสารนี้",
)
NOT_YET_VALID_AT_SIGNING: Sentence = (
    "The certificate {name!r} only became valid on {when}, after the letter was signed ({signed}). "
    "Do not accept it.",
    "ใบรับรอง {name!r} เริ่มมีผลเมื่อ {when} หลังการลงนาม ({signed}) ห้ามรับเอกสารนี้",
)
OUT_OF_BOUNDS: Sentence = (
    "The certificate {name!r} is expired (or not yet valid) at the validation time ({when}) and "
    "nothing proves the letter was signed while it was valid ({why}). {advice}",
    "ใบรับรอง {name!r} หมดอายุ (หรือยังไม่มีผล) ณ เวลาที่ตรวจ ({when}) "
    "และไม่มีหลักฐานว่าลงนามขณะใบรับรองยังใช้ได้ ({why}) {advice}",
)
ASK_FOR_LT: Sentence = (
    "Ask for a long-term (B-LT/B-LTA) copy.",
    "ขอฉบับที่รับรองระยะยาว (B-LT/B-LTA)",
)
ASK_FOR_ARCHIVE: Sentence = (
    "Ask the sending agency for a copy with a newer archive time-stamp (B-LTA).",
    "ขอให้หน่วยงานผู้ส่งส่งฉบับที่มีการประทับเวลาเพื่อการเก็บรักษาที่ใหม่กว่า (B-LTA)",
)
TSA_EXPIRED: Sentence = (
    "the certificate {name!r} of the time-stamping authority expired on {when} and no later "
    "time-stamp proves the time-stamp existed before that",
    "ใบรับรอง {name!r} ของผู้ให้บริการประทับเวลาหมดอายุเมื่อ {when} "
    "และไม่มีการประทับเวลาที่ใหม่กว่าพิสูจน์ว่าการประทับเวลานั้นมีอยู่ก่อนหน้า",
)
TSA_UNTRUSTED: Sentence = (
    "the time-stamping authority does not lead to a trusted root",
    "ผู้ให้บริการประทับเวลาไม่เชื่อมโยงถึงใบรับรองหลักที่เชื่อถือ",
)
TSA_REVOKED: Sentence = (
    "the time-stamping authority's certificate was revoked",
    "ใบรับรองของผู้ให้บริการประทับเวลาถูกเพิกถอน",
)
PROVABLE_UNTIL: Sentence = (
    "The proof of when it was signed can be checked until {when}, when the certificate {name!r} "
    "expires; an archive time-stamp (B-LTA) added before then extends it.",
    "หลักฐานเวลาที่ลงนามตรวจสอบได้ถึง {when} ซึ่งเป็นวันที่ใบรับรอง {name!r} หมดอายุ "
    "การประทับเวลาเพื่อการเก็บรักษา (B-LTA) ก่อนวันนั้นจะยืดอายุหลักฐานออกไป",
)
TOKEN_UNREADABLE: Sentence = ("the time-stamp cannot be read", "อ่านการประทับเวลาไม่ได้")
TSA_ALGORITHM: Sentence = (
    "the time-stamp's algorithm no longer holds ({why})",
    "อัลกอริทึมของการประทับเวลาไม่ปลอดภัยแล้ว ({why})",
)
TSA_REVINFO: Sentence = (
    "the time-stamping authority's revocation status could not be checked",
    "ตรวจสอบสถานะการเพิกถอนของผู้ให้บริการประทับเวลาไม่ได้",
)
WRONG_PURPOSE: Sentence = (
    "The signer's certificate may not sign documents: {why}. Do not accept the letter as signed; "
    "ask the sender's agency.",
    "ใบรับรองของผู้ลงนามใช้ลงนามเอกสารไม่ได้: {why} ห้ามถือว่าหนังสือนี้ลงนามแล้ว โปรดสอบถามหน่วยงานผู้ส่ง",
)
PURPOSE_KU: Sentence = (
    "its key usage allows neither digitalSignature nor nonRepudiation",
    "การใช้งานกุญแจไม่อนุญาตทั้ง digitalSignature และ nonRepudiation",
)
PURPOSE_EKU: Sentence = (
    "it is a certificate for {kinds} only",
    "เป็นใบรับรองสำหรับ {kinds} เท่านั้น",
)
PURPOSE_TSA: Sentence = (
    "the time-stamping authority's certificate lacks the timeStamping extended key usage",
    "ใบรับรองของผู้ให้บริการประทับเวลาไม่มีการใช้งาน timeStamping",
)
CHAIN_INVALID: Sentence = (
    "The signer's certificate chain breaks the rules for certificates ({why}). Do not rely on it; "
    "ask your IT officer.",
    "สายใบรับรองของผู้ลงนามผิดกฎของใบรับรอง ({why}) อย่าใช้เอกสารนี้ โปรดสอบถามเจ้าหน้าที่ไอที",
)
CHAIN_MALFORMED: Sentence = (
    "A certificate of the signature is malformed ({why}); it cannot be checked. Ask the sender to "
    "sign again.",
    "ใบรับรองในลายมือชื่อมีโครงสร้างผิดรูปแบบ ({why}) ตรวจสอบไม่ได้ ขอให้ผู้ส่งลงนามใหม่",
)
REVINFO_UNKNOWN: Sentence = (
    "The revocation status of {name!r} at the time that matters ({when}) could not be checked "
    "({why}); this is not the same as invalid. Check again when online, or ask for a B-LT copy.",
    "ตรวจสอบสถานะการเพิกถอนของ {name!r} ณ เวลาที่ต้องใช้ ({when}) ไม่ได้ ({why}) "
    "ไม่ได้แปลว่าลายมือชื่อไม่ถูกต้อง ตรวจซ้ำเมื่อเชื่อมต่ออินเทอร์เน็ตได้ หรือขอฉบับ B-LT",
)
ALGORITHM_INCONSISTENT: Sentence = (
    "The signature's declared algorithms disagree ({why}): it does not verify as declared. "
    "Do not rely on it; ask the sender to sign again.",
    "อัลกอริทึมที่ลายมือชื่อประกาศไว้ขัดกันเอง ({why}) จึงตรวจสอบตามที่ประกาศไม่ได้ อย่าใช้เอกสารนี้ ขอให้ผู้ส่งลงนามใหม่",
)
ALGORITHM_NO_LONGER_HELD: Sentence = (
    "The signature relies on an algorithm that is no longer secure ({why}) and nothing proves it "
    "was made before that. Ask the sender to sign again.",
    "ลายมือชื่อใช้อัลกอริทึมที่ไม่ปลอดภัยแล้ว ({why}) และไม่มีหลักฐานว่าลงนามก่อนหน้านั้น ขอให้ผู้ส่งลงนามใหม่",
)
ALGORITHM_UNSUPPORTED: Sentence = (
    "The signature uses an algorithm thaisign cannot verify ({why}). Ask your IT officer.",
    "ลายมือชื่อใช้อัลกอริทึมที่ thaisign ตรวจสอบไม่ได้ ({why}) โปรดสอบถามเจ้าหน้าที่ไอที",
)
PROVEN_BY_SIGNATURE_TS: Sentence = ("a trusted time-stamp", "การประทับเวลาที่เชื่อถือได้")
PROVEN_BY_DOCUMENT_TS: Sentence = ("a document time-stamp", "การประทับเวลาเอกสาร")
DOC_TS_PROVES: Sentence = (
    "This document time-stamp proves that the document as it was then existed on {when}.",
    "การประทับเวลาเอกสารนี้พิสูจน์ว่าเอกสารในสภาพขณะนั้นมีอยู่แล้วเมื่อ {when}",
)
DOC_TS_NOT_TSA: Sentence = (
    "The document time-stamp was not made by a trusted time-stamping authority ({why}).",
    "การประทับเวลาเอกสารไม่ได้มาจากผู้ให้บริการประทับเวลาที่เชื่อถือได้ ({why})",
)
DOC_TS_BROKEN: Sentence = (
    "The document time-stamp does not match the document ({why}).",
    "การประทับเวลาเอกสารไม่ตรงกับเอกสาร ({why})",
)


REASONS_TH: dict[str, str] = {
    "unspecified": "ไม่ระบุเหตุผล",
    "key compromise": "กุญแจส่วนตัวรั่วไหล",
    "CA compromise": "กุญแจของผู้ออกใบรับรองรั่วไหล",
    "affiliation changed": "เปลี่ยนสังกัด",
    "superseded": "มีใบรับรองใหม่แทน",
    "cessation of operation": "เลิกใช้งาน",
    "certificate hold": "ระงับชั่วคราว",
    "privilege withdrawn": "ถูกถอนสิทธิ์",
    "AA compromise": "กุญแจของผู้ออกคุณลักษณะรั่วไหล",
}


def fill(sentence: Sentence, **values: object) -> Sentence:
    """``sentence`` with its placeholders filled; a value may be a (english, thai) pair."""
    en = {k: (v[0] if isinstance(v, tuple) else v) for k, v in values.items()}
    th = {k: (v[1] if isinstance(v, tuple) else v) for k, v in values.items()}
    return sentence[0].format(**en), sentence[1].format(**th)


def when(moment: object) -> Sentence:
    """A moment as both languages write it (Bangkok time; Buddhist Era in Thai)."""
    import datetime as dt

    from thaisign.thai_date import BANGKOK, format_thai_date, format_thai_time

    if not isinstance(moment, dt.datetime):
        return ("an unknown time", "เวลาที่ไม่ทราบ")
    local = moment.astimezone(BANGKOK)
    return (
        f"{local.day} {local:%B %Y %H:%M} UTC+7",
        f"{format_thai_date(moment)} เวลา {format_thai_time(moment)}",
    )


def reason(text: str) -> Sentence:
    return text, REASONS_TH.get(text, text)


NO_REVOCATION_SERVICE: Sentence = (
    "The signer's certificate names no revocation service (no OCSP or CRL address), so there is "
    "nothing to check online. Ask the sending agency whether the certificate is still valid, or "
    "ask for a B-LT copy that carries its revocation data.",
    "ใบรับรองของผู้ลงนามไม่ได้ระบุบริการตรวจสอบการเพิกถอน (ไม่มีที่อยู่ OCSP หรือ CRL) "
    "จึงไม่มีสิ่งใดให้ตรวจทางออนไลน์ โปรดสอบถามหน่วยงานผู้ส่งว่าใบรับรองยังใช้ได้หรือไม่ "
    "หรือขอฉบับ B-LT ที่แนบข้อมูลการเพิกถอนมาด้วย",
)

#: English error prefix (as verify_pdf writes it) -> the Thai sentence for a clerk
_FILE_ERRORS_TH: tuple[tuple[str, str], ...] = (
    ("cannot read file", "อ่านไฟล์ไม่ได้ ตรวจดูว่าไฟล์ยังอยู่และมีสิทธิ์เปิดอ่าน"),
    ("verification took longer than", "ตรวจสอบนานเกินกำหนด ไฟล์น่าจะเสียหายหรือถูกดัดแปลง ขอให้ผู้ส่งส่งมาใหม่"),
    ("the PDF structure is cyclic", "โครงสร้างภายในไฟล์ PDF วนซ้ำหรือซ้อนกันลึกผิดปกติ ขอให้ผู้ส่งส่งมาใหม่"),
    ("the PDF is encrypted", "ไฟล์ PDF ถูกเข้ารหัสด้วยรหัสผ่าน ขอฉบับที่ไม่เข้ารหัสจากผู้ส่ง"),
    ("does not start with a PDF header", "ไฟล์นี้ไม่ได้ขึ้นต้นแบบไฟล์ PDF (อาจไม่ใช่ไฟล์ PDF) ขอให้ผู้ส่งส่งมาใหม่"),
    ("not a readable PDF", "ไฟล์ PDF เสียหาย อ่านโครงสร้างไม่ได้ ขอให้ผู้ส่งส่งมาใหม่"),
)


def file_error_th(error: str) -> str:
    """The Thai sentence for a file-level error of :func:`~thaisign.verify.verify_pdf`."""
    for needle, thai in _FILE_ERRORS_TH:
        if needle in error:
            return thai
    return FILE_ERROR[1]
