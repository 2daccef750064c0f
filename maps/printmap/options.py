"""What a print map is asked for: format, paper, orientation, resolution, language, approval number; all checked."""

from __future__ import annotations

from dataclasses import dataclass

from maps.i18n import LANGS

MM_PER_INCH = 25.4
PAPERS = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}  # ISO 216, portrait (width, height) in mm
# format -> media type; the file's extension names the format
FORMATS = {"png": "image/png", "pdf": "application/pdf", "svg": "image/svg+xml"}
DPI_RANGE = (72, 600)  # 600 dpi on A3 is ~70 megapixels, ~2 s; more serves no printer
DEFAULT_DPI = 200
MAX_APPROVAL_CHARS = 40  # 审图号 look like "浙S（2026）123号" or "GS（2026）1234号"


class PrintError(ValueError):
    """A bad request for a print map; ``parameter`` names what was wrong (the CLI flag or query parameter)."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter
        self.problem = problem


@dataclass(frozen=True)
class PrintOptions:
    fmt: str = "pdf"
    paper: str = "A4"
    landscape: bool = False
    dpi: int = DEFAULT_DPI
    lang: str = "zh"
    approval: str = ""  # 审图号: blank until the office that reviews the map fills it in

    def __post_init__(self) -> None:
        if isinstance(self.paper, str):  # "a4" is A4
            object.__setattr__(self, "paper", self.paper.upper())
        if self.fmt not in FORMATS:
            raise PrintError("format", f"{self.fmt!r} is not a print format; choose one of {', '.join(FORMATS)}")
        if self.paper not in PAPERS:
            raise PrintError("paper", f"{self.paper!r} is not a paper size; choose one of {', '.join(PAPERS)}")
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, int) or not DPI_RANGE[0] <= self.dpi <= DPI_RANGE[1]:
            raise PrintError("dpi", f"{self.dpi!r} is out of range; give a whole number from {DPI_RANGE[0]} "
                                    f"to {DPI_RANGE[1]}")
        if self.lang not in LANGS:
            raise PrintError("lang", f"unknown lang {self.lang!r}; choose one of {', '.join(LANGS)}")
        if len(self.approval) > MAX_APPROVAL_CHARS or any(not c.isprintable() for c in self.approval):
            raise PrintError("approval", f"at most {MAX_APPROVAL_CHARS} printable characters, one line")

    @property
    def size_mm(self) -> tuple[float, float]:
        """(width, height) of the sheet as it is printed."""
        w, h = PAPERS[self.paper]
        return (h, w) if self.landscape else (w, h)

    @property
    def media_type(self) -> str:
        return FORMATS[self.fmt]

    def pixels(self) -> tuple[int, int]:
        """A PNG's width and height: the sheet at ``dpi``."""
        w, h = self.size_mm
        return round(w / MM_PER_INCH * self.dpi), round(h / MM_PER_INCH * self.dpi)


def parse_dpi(text: str) -> int:
    """A resolution given as text (a flag, a query parameter); PrintError unless a whole number in range."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise PrintError("dpi", f"{text!r} is not a whole number; give one from {DPI_RANGE[0]} to {DPI_RANGE[1]}")
    return int(value)
