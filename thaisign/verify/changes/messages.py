"""Named changes in words, for the clerk, in English and Thai (the same order as messages.py)."""

from __future__ import annotations

import dataclasses
import unicodedata

from thaisign.verify.changes.model import Change, ChangeKind

Sentence = tuple[str, str]

#: how many changes one sentence names before it says "and N more"
LISTED = 6

CONTENT_CHANGED: Sentence = (
    "What the pages show was changed after this signature: {changes}. The signature vouches for "
    "the letter as it was signed, not for these changes; do not accept the letter as shown — ask "
    "the sender to confirm them or to send the letter as signed.",
    "สิ่งที่แสดงในหน้าเอกสารถูกเปลี่ยนหลังการลงนามนี้: {changes} ลายมือชื่อรับรองเฉพาะหนังสือตามที่ลงนาม "
    "ไม่ได้รับรองการเปลี่ยนแปลงเหล่านี้ อย่ารับหนังสือตามที่เห็น ให้สอบถามผู้ส่งหรือขอฉบับตามที่ลงนาม",
)
PERMITTED_CHANGES: Sentence = (
    "Changes after signing, all of a permitted kind: {changes}.",
    "การเปลี่ยนแปลงหลังการลงนาม ทั้งหมดเป็นประเภทที่อนุญาต: {changes}",
)
OTHER_PERMITTED: Sentence = (
    "Other changes after signing, all of a permitted kind: {changes}.",
    "การเปลี่ยนแปลงอื่นหลังการลงนาม ทั้งหมดเป็นประเภทที่อนุญาต: {changes}",
)
NOT_PERMITTED: Sentence = (
    "Not permitted after this signature: {changes}.",
    "การเปลี่ยนแปลงที่ไม่อนุญาตหลังการลงนามนี้: {changes}",
)
NOT_RENDERED: Sentence = (
    "The pages could not be compared visually ({reason}); changes that could alter what is shown "
    "are treated as visible.",
    "ไม่สามารถเปรียบเทียบหน้าเอกสารด้วยภาพได้ ({reason}) จึงถือว่าการเปลี่ยนแปลงที่อาจกระทบสิ่งที่แสดงนั้นมองเห็นได้",
)
NOT_ANALYSED: Sentence = (
    "The changes after signing could not be analysed ({reason}); they are treated as not permitted.",
    "ไม่สามารถวิเคราะห์การเปลี่ยนแปลงหลังการลงนามได้ ({reason}) จึงถือว่าไม่อนุญาต",
)
#: why the pages could not be rendered, in Thai (the English is the visual check's own reason)
_RENDER_REASONS_TH = (
    ("rendering took longer", "ใช้เวลาวาดหน้าเอกสารนานเกินกำหนด"),
    ("the renderer stopped unexpectedly", "โปรแกรมวาดหน้าเอกสารหยุดทำงานกะทันหัน"),
    ("the pages could not be rendered", "วาดหน้าเอกสารไม่ได้"),
    ("changed pages", "หน้าที่เปลี่ยนมีมากเกินกว่าที่ตรวจด้วยภาพได้"),
    ("rendering is switched off", "ปิดการวาดหน้าเอกสารไว้"),
)
_ANOMALIES_TH = {
    "hidden-object": "วัตถุ {0} {1} ไม่อยู่ในตารางอ้างอิงของการปรับปรุงนั้น",
    "duplicate-object": "วัตถุ {0} {1} ถูกนิยามซ้ำในการปรับปรุงเดียวกัน",
    "xref-target": "ตารางอ้างอิงชี้วัตถุ {0} {1} ไปยังตำแหน่งที่ไม่มีวัตถุนั้น",
    "revived-object": "ตารางอ้างอิงนำวัตถุ {0} {1} ที่ซ่อนอยู่ในข้อมูลส่วนก่อนหน้ากลับมาใช้",
    "ambiguous-free": "วัตถุ {0} {1} ถูกระบุว่าว่างด้วยรุ่นที่โปรแกรมอ่านแต่ละตัวตีความต่างกัน",
    "hidden-in-object-stream": "ชุดวัตถุ {0} มีวัตถุที่ไม่อยู่ในตารางอ้างอิง",
    "junk": "มีข้อมูลที่ไม่ใช่วัตถุหรือตารางอ้างอิงที่ถูกต้อง",
}


def anomaly_th(kind: str, numbers: tuple[int, ...]) -> str:
    """An incremental-saving anomaly in Thai (layout.Anomaly's kind and numbers)."""
    template = _ANOMALIES_TH.get(kind, _ANOMALIES_TH["junk"])
    try:
        return template.format(*numbers)
    except IndexError:
        return _ANOMALIES_TH["junk"]


def not_rendered(reason: str) -> Sentence:
    th = next((t for key, t in _RENDER_REASONS_TH if key in reason), "สาเหตุทางเทคนิค")
    return NOT_RENDERED[0].format(reason=reason), NOT_RENDERED[1].format(reason=th)


def not_analysed(reason: str) -> Sentence:
    detail = _inert(reason) or ""
    return NOT_ANALYSED[0].format(reason=detail), NOT_ANALYSED[1].format(reason=f"'{detail}'")


_NOTES: dict[str, Sentence] = {
    "hides-signed-content": ("it covers or uncovers content that was signed", "บังหรือเปิดเผยเนื้อหาที่ลงนามไว้"),
    "appearance-without-value": (
        "the field now shows something its value does not say",
        "ช่องนี้แสดงสิ่งที่ไม่ตรงกับค่าของช่อง",
    ),
    "replaces-signed": ("it replaces what was shown when signed", "แทนที่สิ่งที่แสดงอยู่ขณะลงนาม"),
    "locked": ("the field is locked by this signature", "ช่องนี้ถูกล็อกโดยลายมือชื่อนี้"),
    "docmdp": (
        "the certification does not allow this kind of change",
        "การรับรองเอกสารไม่อนุญาตการเปลี่ยนแปลงประเภทนี้",
    ),
}


def _inert(text: str | None) -> str | None:
    """Text from the PDF made harmless in a sentence: control, bidi and other format characters
    shown as ``\\uXXXX`` (a field name or value must not drive a terminal or reorder a line)."""
    if text is None:
        return None
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\u200b":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _quoted(text: str | None) -> str | None:
    return None if text is None else f"'{text}'"


def _q(text: str | None) -> str:
    return f"'{text}'" if text else "''"


def describe(change: Change, lang: str) -> str:
    """One named change as a short phrase (values read from the PDF made inert)."""
    change = dataclasses.replace(
        change,
        field=_inert(change.field),
        subtype=_inert(change.subtype),
        old=_inert(change.old),
        new=_inert(change.new),
        where=_inert(change.where),
    )
    th = lang == "th"
    # names and details read from the PDF are data, quoted so that no sentence mixes them with prose
    change = dataclasses.replace(
        change,
        field=_quoted(change.field),
        subtype=_quoted(change.subtype),
        where=_quoted(change.where) if change.kind is not ChangeKind.FILE_STRUCTURE else change.where,
    )
    page = f" (page {change.page})" if change.page else ""
    page_th = f" (หน้า {change.page})" if change.page else ""
    field = change.field or "?"
    k, a = change.kind, change.action
    if k is ChangeKind.VALIDATION_DATA:
        text = (
            "ข้อมูลสำหรับตรวจสอบระยะยาว (ใบรับรอง OCSP CRL) ถูกเพิ่มหรือปรับ"
            if th
            else "validation data added or updated (certificates, OCSP responses, CRLs)"
        )
    elif k is ChangeKind.DOCUMENT_TIMESTAMP:
        text = f"เพิ่มการประทับเวลาเอกสาร ({field})" if th else f"document time-stamp added ({field})"
    elif k is ChangeKind.FORMAT:
        text = (
            f"ปรับข้อมูลรูปแบบไฟล์ ({change.where})" if th else f"file format bookkeeping updated ({change.where})"
        )
    elif k is ChangeKind.SIGNATURE:
        text = (
            f"ลงนามหรือเพิ่มช่องลงนาม {field}{page_th}"
            if th
            else f"signature or signature field {field} added{page}"
        )
    elif k is ChangeKind.FORM_FILL:
        if change.new is not None or change.old is not None:
            if change.old:
                text = (
                    f"ช่อง {field} เปลี่ยนจาก {_q(change.old)} เป็น {_q(change.new)}{page_th}"
                    if th
                    else f"field {field} changed from {_q(change.old)} to {_q(change.new)}{page}"
                )
            else:
                text = (
                    f"กรอกช่อง {field} ว่า {_q(change.new)}{page_th}"
                    if th
                    else f"field {field} filled in: {_q(change.new)}{page}"
                )
        else:
            what = field if change.field else (change.where or "?")
            text = (
                f"ลักษณะการแสดงของช่อง {what} ถูกวาดใหม่{page_th}"
                if th
                else f"appearance of field {what} redrawn{page}"
            )
    elif k is ChangeKind.ANNOTATION:
        sub = change.subtype or "?"
        said = change.new if a != "removed" else change.old
        extra = f": {_q(said)}" if said else ""
        verb_en = {"added": "added", "removed": "removed"}.get(a, "changed")
        verb_th = {"added": "เพิ่ม", "removed": "ลบ"}.get(a, "แก้ไข")
        text = (
            f"{verb_th}หมายเหตุประกอบ ({sub}){page_th}{extra}"
            if th
            else f"annotation ({sub}) {verb_en}{page}{extra}"
        )
    elif k is ChangeKind.FORM_FIELD:
        verb_en = {"added": "added", "removed": "removed"}.get(a, "changed")
        verb_th = {"added": "เพิ่ม", "removed": "ลบ"}.get(a, "แก้ไข")
        text = f"{verb_th}ช่องแบบฟอร์ม {field}{page_th}" if th else f"form field {field} {verb_en}{page}"
    elif k is ChangeKind.METADATA:
        text = (
            f"ข้อมูลกำกับเอกสารเปลี่ยน ({change.where})"
            if th
            else f"document information changed ({change.where})"
        )
    elif k is ChangeKind.STRUCTURE:
        text = "ปรับโครงสร้างแท็กหรือป้ายเลขหน้า" if th else "tagged structure or page labels updated"
    elif k is ChangeKind.OUTLINE:
        text = "บุ๊กมาร์กหรือจุดหมายปลายทางเปลี่ยน" if th else "bookmarks or destinations changed"
    elif k is ChangeKind.PAGES:
        text = (
            f"จำนวนหน้าเปลี่ยนจาก {change.old} เป็น {change.new}"
            if th
            else f"pages {'added' if a == 'added' else 'removed'}: {change.old} → {change.new}"
        )
    elif k is ChangeKind.PAGE_CONTENT:
        text = f"เนื้อหาของหน้า {change.page} ถูกเปลี่ยน" if th else f"content of page {change.page} changed"
    elif k is ChangeKind.SIGNATURE_REMOVED:
        text = (
            f"ช่องลายมือชื่อ {field} ถูกลบออกจากแบบฟอร์ม"
            if th
            else f"signature field {field} removed from the form"
        )
    elif k is ChangeKind.SIGNATURE_CHANGED:
        text = f"ข้อมูลลายมือชื่อ {field} ถูกแก้ไขหลังลงนาม" if th else f"signature {field} altered after it was made"
    elif k is ChangeKind.ACTIONS:
        text = (
            f"เพิ่มหรือเปลี่ยนสคริปต์หรือการทำงานอัตโนมัติ ({change.where})"
            if th
            else f"scripts or automatic actions added or changed ({change.where})"
        )
    elif k is ChangeKind.FILE_STRUCTURE:
        where_th = _inert(change.where_th) or _quoted(change.where)
        text = f"โครงสร้างไฟล์ผิดปกติ: {where_th}" if th else f"file structure anomaly: {change.where}"
    elif k is ChangeKind.VISUAL:
        text = (
            f"หน้า {change.page} แสดงผลต่างไปโดยไม่มีการแก้ไขที่ระบุได้"
            if th
            else f"page {change.page} looks different and no named change explains it"
        )
    else:
        text = f"การแก้ไขอื่น ({change.where})" if th else f"other change ({change.where})"
    if change.note in _NOTES and (not change.permitted or change.note == "hides-signed-content"):
        text += f" — {_NOTES[change.note][1 if th else 0]}"
    return text


#: the order in which changes are named: what a clerk must look at first
_ORDER = {k: n for n, k in enumerate(ChangeKind)}
_FIRST = {
    ChangeKind.FORM_FILL: -6,
    ChangeKind.ANNOTATION: -5,
    ChangeKind.FORM_FIELD: -4,
    ChangeKind.SIGNATURE: -3,
    ChangeKind.DOCUMENT_TIMESTAMP: -2,
    ChangeKind.VALIDATION_DATA: -1,
}


def listing(changes: list[Change], lang: str) -> str:
    """Several changes joined, the weightiest first, at most :data:`LISTED` of them named."""
    changes = sorted(changes, key=lambda c: (c.permitted, _FIRST.get(c.kind, _ORDER[c.kind])))
    parts = [describe(c, lang) for c in changes[:LISTED]]
    more = len(changes) - LISTED
    if more > 0:
        parts.append(f"และอีก {more} รายการ" if lang == "th" else f"and {more} more")
    return "; ".join(parts)


def sentence(template: Sentence, changes: list[Change]) -> Sentence:
    return (
        template[0].format(changes=listing(changes, "en")),
        template[1].format(changes=listing(changes, "th")),
    )
