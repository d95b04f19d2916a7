"""``thaisign demo``: the whole story on a demo CA, and what it made."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--dir",
    "directory",
    default="thaisign-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo (re-running reuses its CA and officer).",
)
@click.option(
    "--lang", type=click.Choice(["th", "en"]), default=None, help="Language of the report (default: locale)."
)
def demo(directory: Path, lang: str | None) -> None:
    """Run the whole story on a demo: CA, officer, a signed Thai letter, the clerk's report.

    \b
    1. a demo agency CA (กรมตัวอย่างดิจิทัล) and its officer นายสมชาย ใจดี (PKCS#12);
    2. the CA's OCSP/CRL service and its time-stamping authority on 127.0.0.1 (while the demo runs);
    3. a Thai letter signed visibly at PAdES B-LT (timestamp + revocation data embedded);
    4. the clerk's verification of that letter, offline, trusting the demo CA only.
    The passphrases are random and written beside the files (mode 0600): it is a demo,
    never a CA to trust.

    \b
    Example:
      thaisign demo --dir ./thaisign-demo
      thaisign verify ./thaisign-demo/letter-signed.pdf --trust ./thaisign-demo/ca/ca.pem --offline
    """
    from thaisign.demo import DEMO_AGENCY, DEMO_OFFICER
    from thaisign.demo_story import run_demo
    from thaisign.verify.render_text import default_lang, report_text

    language = lang or default_lang()
    story = run_demo(directory, lang=language)
    made = story.pki
    th = language == "th"

    def say(en: str, thai: str) -> None:
        click.echo(thai if th else en)

    ca_verb = ("created", "สร้างใหม่") if made.created_ca else ("reused", "ใช้ของเดิม")
    officer_verb = ("issued", "ออกใหม่") if made.created_officer else ("reused", "ใช้ของเดิม")
    say(
        f"1. demo CA {ca_verb[0]}: {DEMO_AGENCY} in {made.ca_dir}",
        f"1. CA ตัวอย่าง ({ca_verb[1]}): {DEMO_AGENCY} ที่ {made.ca_dir}",
    )
    say(
        f"   CA passphrase (demo only!) in {made.ca_passphrase_file}",
        f"   รหัสผ่านกุญแจ CA (ใช้สาธิตเท่านั้น!) อยู่ในไฟล์ {made.ca_passphrase_file}",
    )
    say(
        f"   officer {officer_verb[0]}: {DEMO_OFFICER.name_th}, {DEMO_OFFICER.position} "
        f"(serial {made.officer_serial})",
        f"   ใบรับรองเจ้าหน้าที่ ({officer_verb[1]}): {DEMO_OFFICER.name_th} {DEMO_OFFICER.position} "
        f"(หมายเลข {made.officer_serial})",
    )
    say(
        f"   key + certificate: {made.officer_p12} (passphrase in {made.officer_passphrase_file})",
        f"   กุญแจและใบรับรอง: {made.officer_p12} (รหัสผ่านอยู่ในไฟล์ {made.officer_passphrase_file})",
    )
    say(f"2. letter: {story.letter}", f"2. หนังสือ: {story.letter}")
    say(
        f"3. signed at B-LT with a visible Thai signature: {story.signed}",
        f"3. ลงลายมือชื่อแบบ B-LT พร้อมลายมือชื่อที่มองเห็นได้: {story.signed}",
    )
    say(
        f"4. the clerk's report ({story.report_html}, {story.report_json}):",
        f"4. รายงานผลการตรวจสอบของเจ้าหน้าที่สารบรรณ ({story.report_html}, {story.report_json}):",
    )
    click.echo("")
    click.echo(report_text(story.report, language))
    say("next:", "ทำต่อ:")
    click.echo(f"  thaisign verify {story.signed} --trust {made.ca_dir / 'ca.pem'} --offline")
    click.echo(f"  thaisign desk --trust {made.ca_dir / 'ca.pem'} --offline")
    click.echo(f"  thaisign ca list {made.ca_dir}")
    say(
        f"  pdftoppm -png -r 100 {story.signed} page   # look at the signature",
        f"  pdftoppm -png -r 100 {story.signed} page   # ดูลายมือชื่อบนหน้ากระดาษ",
    )
