"""The figures page and the login page of the platform's web front, in Thai and English (the
desk's templates, stylesheet and Sarabun). Numbers are Thai digits in Thai, dates Buddhist Era
in the official style; everything an agency named itself is escaped and made visible."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import TYPE_CHECKING, Any

from thaisign.platform.figures_text import COLUMNS, LABELS, TITLE, TOTAL
from thaisign.thai_date import BANGKOK, format_thai_date, format_thai_time, thai_digits
from thaisign.verify.render_html import Bi, environment, font_faces, sarabun_files, stylesheet

if TYPE_CHECKING:
    from thaisign.platform.figures import AgencyFigures, Figures
    from thaisign.platform.session import Session
    from thaisign.platform.web import PlatformWeb

ROLES = {
    "admin": Bi("Platform administrator", "ผู้ดูแลแพลตฟอร์ม"),
    "operator": Bi("Agency operator", "เจ้าหน้าที่ออกใบรับรองของหน่วยงาน"),
    "auditor": Bi("Auditor", "ผู้ตรวจสอบ"),
}


def number(value: int) -> Bi:
    return Bi(f"{value:,}", thai_digits(f"{value:,}"))


def moment(at: dt.datetime) -> Bi:
    """``2 December 2026, 15:44 (UTC+7)`` / ``๒ ธันวาคม ๒๕๖๙ เวลา ๑๕.๔๔ น.``"""
    return Bi(
        f"{at.astimezone(BANGKOK):%-d %B %Y, %H:%M} (UTC+7)",
        f"{format_thai_date(at)} เวลา {format_thai_time(at)}",
    )


class Pages:
    """Renders the pages; :meth:`static` serves the stylesheet and the font."""

    def __init__(self, web: PlatformWeb) -> None:
        self.web = web
        self.env = environment()

    def _render(self, template: str, lang: str, **context: Any) -> str:
        config = self.web.platform.config
        platform_name = Bi(config.name_en or config.name_th, config.name_th)
        return str(
            self.env.get_template(template).render(
                lang="both", shown=lang, platform_name=platform_name, **context
            )
        )

    def login(self, lang: str, *, error: str | None = None) -> str:
        config = self.web.platform.config
        oidc = config.oidc is not None and bool(config.oidc_client_id) and bool(self.web.config.client_secret)
        problem = {
            "login": Bi("The login did not succeed: try again.", "เข้าสู่ระบบไม่สำเร็จ กรุณาลองใหม่"),
            "token": Bi("That API token is not accepted.", "ใช้โทเค็นนี้เข้าระบบไม่ได้"),
        }.get(error or "")
        return self._render("platform/login.html", lang, oidc=oidc, problem=problem)

    def message(self, lang: str, text: str) -> str:
        return self._render("platform/message.html", lang, text=text)

    def figures(self, session: Session, lang: str, at: dt.datetime | None) -> str:
        figures = session.figures(at=at)
        p = session.principal
        who = Bi(p.name, p.name)
        scope = Bi(f"agency {p.agency_slug}", f"หน่วยงาน {p.agency_slug}") if p.agency_slug else None
        return self._render(
            "platform/figures.html",
            lang,
            title=Bi(TITLE[1], TITLE[0]),
            who=who,
            role=ROLES[p.role],
            scope=scope,
            as_of=moment(figures.at),
            columns=[(c, Bi(LABELS[c][1], LABELS[c][0])) for c in COLUMNS],
            agency_label=Bi(LABELS["agency"][1], LABELS["agency"][0]),
            rows=[self._row(a) for a in figures.agencies],
            total=self._row(figures.total),
            totals=[(c, Bi(LABELS[c][1], LABELS[c][0]), number(getattr(figures.total, c))) for c in COLUMNS],
            agencies_count=number(len(figures.agencies)),
            sources=list(figures.signature_sources),
            problems=list(figures.problems),
            figures=figures,
        )

    @staticmethod
    def _row(a: AgencyFigures) -> dict[str, Any]:
        name = Bi(TOTAL[1], TOTAL[0]) if a.slug is None else Bi(a.name_en or a.name_th or "", a.name_th or "")
        return {"slug": a.slug, "name": name, "cells": [(c, number(getattr(a, c))) for c in COLUMNS]}

    def static(self, name: str) -> tuple[bytes, str] | None:
        if name == "platform.css":
            css = font_faces(lambda file: f"/static/fonts/{file}") + "\n" + stylesheet() + "\n"
            css += (
                resources.files("thaisign.data").joinpath("static/platform.css").read_text(encoding="utf-8")
            )
            return css.encode("utf-8"), "text/css; charset=utf-8"
        fonts = {p.name: p for p in sarabun_files().values()}
        if name.startswith("fonts/") and name[6:] in fonts:
            return fonts[name[6:]].read_bytes(), "font/ttf"
        return None


def figures_json(figures: Figures) -> dict[str, Any]:
    return figures.to_json()
