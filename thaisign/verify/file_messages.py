"""Sentences for signed files and containers (CAdES ``.p7s``/``.p7m``, ASiC ``.asice``/``.asics``),
in English and Thai, beside :mod:`thaisign.verify.messages` (whose sentences they share)."""

from __future__ import annotations

from thaisign.verify.messages import Sentence

PASSED: Sentence = (
    "The signature is valid: the signed file has not been changed since it was signed and the "
    "signer's certificate is trusted.",
    "ลายมือชื่อถูกต้อง: ไฟล์ที่ลงนามไม่ถูกแก้ไขหลังการลงนาม และใบรับรองของผู้ลงนามเชื่อถือได้",
)
DATA_NOT_FOUND: Sentence = (
    "The signed file was not found, so the signature cannot be checked against it. Put the file "
    "beside the signature (x.pdf for x.pdf.p7s) or name it with --data FILE.",
    "ไม่พบไฟล์ที่ลงนามไว้ จึงตรวจลายมือชื่อกับไฟล์ไม่ได้ วางไฟล์ไว้ข้างไฟล์ลายมือชื่อ "
    "(x.pdf คู่กับ x.pdf.p7s) หรือระบุด้วย --data FILE",
)
DATA_CHANGED: Sentence = (
    "The file does not match the signature: it was changed after signing, or it is another "
    "file. Do not rely on it; ask the sender for the original.",
    "ไฟล์ไม่ตรงกับลายมือชื่อ: ถูกแก้ไขหลังการลงนาม หรือเป็นไฟล์อื่น อย่าใช้ไฟล์นี้ ขอต้นฉบับจากผู้ส่ง",
)
ATS_NOT_USABLE: Sentence = (
    "Archive time-stamp {n} of the signature could not be used: {why}.",
    "การประทับเวลาเพื่อการเก็บรักษาลำดับที่ {n} ของลายมือชื่อใช้ไม่ได้: {why}",
)
#: problems of an archive time-stamp (a detail, shown inside ATS_NOT_USABLE)
ATS_V2_UNCHECKED: Sentence = (
    "an archive time-stamp v2 (CAdES-A of TS 101 733) is not checked by thaisign",
    "thaisign ไม่ตรวจการประทับเวลาเพื่อการเก็บรักษารุ่น v2 (CAdES-A ตาม TS 101 733)",
)
ATS_INDEX_BROKEN: Sentence = (
    "its hash index lists data the signature no longer holds",
    "ดัชนีค่าแฮชของการประทับเวลาระบุข้อมูลที่ไม่มีในลายมือชื่อแล้ว",
)
ATS_NO_INDEX: Sentence = ("the archive time-stamp has no hash index", "การประทับเวลาเพื่อการเก็บรักษาไม่มีดัชนีค่าแฮช")
DATA_MISSING: Sentence = ("the signed data is missing", "ไม่พบข้อมูลที่ลงนาม")
MANIFEST_FILES_CHANGED: Sentence = (
    "its archive manifest lists files that changed",
    "รายการไฟล์เพื่อการเก็บรักษาระบุไฟล์ที่ถูกแก้ไข",
)
UNSUPPORTED_DIGEST: Sentence = (
    "the digest algorithm {name} is not supported",
    "ไม่รองรับอัลกอริทึมแฮช {name}",
)

# --- containers -------------------------------------------------------------------------------

UNSIGNED_FILES: Sentence = (
    "No signature covers these files in the container: {names}. They were added or changed "
    "after signing, or never signed; do not take them as signed.",
    "ไม่มีลายมือชื่อใดครอบคลุมไฟล์เหล่านี้ในไฟล์รวม: {names} ไฟล์เหล่านี้ถูกเพิ่มหรือแก้ไขหลังการลงนาม "
    "หรือไม่เคยลงนาม อย่าถือว่าลงนามแล้ว",
)
REFERENCE_MISSING: Sentence = (
    "The signed list of files names {names}, which the container no longer holds: a signed "
    "file was removed or renamed.",
    "รายการไฟล์ที่ลงนามไว้ระบุ {names} แต่ไม่มีในไฟล์รวมแล้ว: ไฟล์ที่ลงนามถูกลบหรือเปลี่ยนชื่อ",
)
REFERENCE_CHANGED: Sentence = (
    "These signed files in the container were changed after signing: {names}. Do not rely on "
    "them; ask the sender for the original container.",
    "ไฟล์ที่ลงนามในไฟล์รวมต่อไปนี้ถูกแก้ไขหลังการลงนาม: {names} อย่าใช้ไฟล์เหล่านี้ ขอไฟล์รวมต้นฉบับจากผู้ส่ง",
)
MANIFEST_BROKEN: Sentence = (
    "The signed list of files (ASiCManifest) cannot be read: {why}. Ask the sender to sign the "
    "container again.",
    "อ่านรายการไฟล์ที่ลงนาม (ASiCManifest) ไม่ได้: {why} ขอให้ผู้ส่งลงนามไฟล์รวมใหม่",
)
ASICS_EXTRA: Sentence = (
    "An ASiC-S container must hold exactly one signed file; this one holds {count}.",
    "ไฟล์รวมแบบ ASiC-S ต้องมีไฟล์ที่ลงนามเพียงไฟล์เดียว แต่ไฟล์นี้มี {count} ไฟล์",
)
TIMESTAMP_COVERS: Sentence = (
    "This time-stamp proves that {names} existed on {when}.",
    "การประทับเวลานี้พิสูจน์ว่า {names} มีอยู่แล้วเมื่อ {when}",
)
MIMETYPE_ODD: Sentence = (
    "The container's mimetype entry is missing, not first or compressed (ETSI EN 319 162-1); the "
    "signature is checked all the same, but some tools may not open the container.",
    "รายการ mimetype ของไฟล์รวมไม่มี ไม่อยู่ลำดับแรก หรือถูกบีบอัด (ผิดข้อกำหนด ETSI EN 319 162-1) "
    "ลายมือชื่อยังตรวจได้ แต่บางโปรแกรมอาจเปิดไฟล์รวมนี้ไม่ได้",
)
SIGNATURE_MISSING: Sentence = (
    "The signed list of files {manifest} names the signature {name}, which the container does not "
    "hold: nothing in it is signed by that list.",
    "รายการไฟล์ที่ลงนาม {manifest} ระบุลายมือชื่อ {name} ซึ่งไม่มีในไฟล์รวม จึงไม่มีไฟล์ใดลงนามตามรายการนั้น",
)
ORPHAN_SIGNATURE: Sentence = (
    "No signed list of files (ASiCManifest) names this signature, so what it covers is unknown.",
    "ไม่มีรายการไฟล์ที่ลงนาม (ASiCManifest) ใดระบุลายมือชื่อนี้ จึงไม่ทราบว่าลายมือชื่อครอบคลุมไฟล์ใด",
)
