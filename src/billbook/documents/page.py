"""The page every document shares: fonts that carry any script a name may be written in, the
issuer's block at the top, and ``page N of M`` at the foot."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVuSans"
#: Fonts for scripts DejaVu Sans lacks, used when the system has them (Debian's packages):
#: Chinese and Japanese from ``fonts-droid-fallback``, Korean from ``fonts-nanum``. Each is tried
#: for a missing glyph in turn.
FALLBACK_FONTS = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
)
#: fontTools says, for every document, which hinting tables of a fallback font it leaves out of the
#: subset: true and of no use in a log.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
GREY = (110, 110, 110)
RULE = (200, 200, 200)
HEAD = FontFace(family=FAMILY, emphasis="BOLD", fill_color=(238, 238, 238))
TOTAL = FontFace(family=FAMILY, emphasis="BOLD")


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who issues the document: ``BILLBOOK_OPERATOR_NAME`` and ``BILLBOOK_OPERATOR_ADDRESS``."""

    name: str
    address: str = ""

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.replace("\\n", "\n").splitlines() if line.strip()]


@cache
def fallback_fonts() -> tuple[Path, ...]:
    """The fallback fonts this system has (looked up once)."""
    return tuple(path for path in FALLBACK_FONTS if path.is_file())


@cache
def _characters(path: Path) -> frozenset[int]:
    """The code points a font has glyphs for (its cmap, read once per process)."""
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or ())


def fallbacks_for(texts: Iterable[str]) -> list[Path]:
    """The fallback fonts that ``texts`` need: none for what DejaVu Sans prints, which is nearly
    every name. Loading a CJK font costs seconds per document, so it is loaded only when used."""
    missing = {ord(c) for text in texts for c in text if not c.isspace()} - _characters(FONTS / "DejaVuSans.ttf")
    return [path for path in fallback_fonts() if missing & _characters(path)]


class Document(FPDF):
    """An A4 page in DejaVu Sans (Latin, Greek, Cyrillic, Arabic, Hebrew, ...), with text shaping
    so joined scripts print joined, the fallback fonts for the rest, and numbered pages."""

    def __init__(self, title: str, issuer: Issuer, texts: Iterable[str] = ()) -> None:
        """``texts``: what the document prints that may be in any script (names, references)."""
        super().__init__(format="A4", unit="mm")
        self.doc_title, self.issuer = title, issuer
        self.add_font(FAMILY, "", FONTS / "DejaVuSans.ttf")
        self.add_font(FAMILY, "B", FONTS / "DejaVuSans-Bold.ttf")
        names = []
        for n, path in enumerate(fallbacks_for([issuer.name, issuer.address, *texts])):
            self.add_font(f"fallback{n}", "", path)
            names.append(f"fallback{n}")
        if names:
            self.set_fallback_fonts(names, exact_match=False)
        self.set_text_shaping(True)
        self.set_title(title)
        self.set_author(issuer.name)
        self.set_creator("billbook")
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(18, 18, 18)
        self.add_page()

    def header(self) -> None:
        self.set_font(FAMILY, "B", 13)
        self.cell(0, 7, self.issuer.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, "", 9)
        self.set_text_color(*GREY)
        for line in self.issuer.address_lines:
            self.cell(0, 4.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(2)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.issuer.name} · {self.doc_title}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    def heading(self, text: str, size: float = 16) -> None:
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def facts(self, rows: list[tuple[str, str]]) -> None:
        """Label / value lines, such as the account and the period."""
        for label, value in rows:
            self.set_font(FAMILY, "", 9)
            self.set_text_color(*GREY)
            self.cell(38, 5.5, label)
            self.set_text_color(0)
            self.set_font(FAMILY, "", 10)
            self.multi_cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def note(self, text: str) -> None:
        self.set_font(FAMILY, "", 8.5)
        self.set_text_color(*GREY)
        self.multi_cell(0, 4.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    def amounts(self, rows: list[tuple[str, str]], bold: set[int]) -> None:
        """A two-column table of labelled USD amounts, right-aligned; rows ``bold`` in bold."""
        self.set_font(FAMILY, "", 10)
        with self.table(col_widths=(120, 54), text_align=("LEFT", "RIGHT"), headings_style=HEAD,
                        line_height=6.5, borders_layout="HORIZONTAL_LINES") as table:
            table.row(("", "USD"))
            for n, (label, value) in enumerate(rows):
                table.row((label, value), style=TOTAL if n in bold else None)

    def output_bytes(self) -> bytes:
        return bytes(self.output())
