"""Reference ranges of the ASE/EACVI chamber quantification recommendations and the flags.

Source: Lang RM, Badano LP, Mor-Avi V, et al. Recommendations for cardiac chamber
quantification by echocardiography in adults: an update from the American Society of
Echocardiography and the European Association of Cardiovascular Imaging. J Am Soc Echocardiogr
2015;28:1-39.e14. Ranges are the guideline's normal ranges (mean ± 2 SD) for 2D echocardiography.
"""

from __future__ import annotations

from typing import NamedTuple

LANG_2015 = "Lang et al., J Am Soc Echocardiogr 2015;28:1-39 (ASE/EACVI)"
SEXES = ("male", "female")


class Range(NamedTuple):
    low: float | None  # None: no lower limit
    high: float | None  # None: no upper limit
    unit: str
    sex: str | None  # "male", "female", or None for both
    source: str  # the guideline and where in it
    where: str  # where in the guideline (the short form shown beside the range)

    def text(self) -> str:
        who = {"male": "men", "female": "women", None: "all"}[self.sex]
        if self.low is not None and self.high is not None:
            span = f"{self.low:g}–{self.high:g}"
        elif self.low is not None:
            span = f"≥ {self.low:g}"
        else:
            span = f"≤ {self.high:g}"
        return f"{span} {self.unit} ({who})"


def _sexed(male, female, unit, where):
    src = f"{LANG_2015}, {where}"
    return [Range(*male, unit, "male", src, where), Range(*female, unit, "female", src, where)]


def _both(low, high, unit, where):
    return [Range(low, high, unit, None, f"{LANG_2015}, {where}", where)]


# measurement key -> ranges (physical units only; graded values need a known spacing unless
# the quantity is a ratio).
RANGES: dict[str, list[Range]] = {
    "lv_edv": _sexed((62, 150), (46, 106), "mL", "LV volumes, 2D biplane (Table 2)"),
    "lv_esv": _sexed((21, 61), (14, 42), "mL", "LV volumes, 2D biplane (Table 2)"),
    "lv_edvi": _sexed((34, 74), (29, 61), "mL/m²", "LV volumes indexed to BSA (Table 2)"),
    "lv_esvi": _sexed((11, 31), (8, 24), "mL/m²", "LV volumes indexed to BSA (Table 2)"),
    "lv_ef": _sexed((52, 72), (54, 74), "%", "LV ejection fraction, 2D biplane (Table 2)"),
    "lavi": _both(None, 34, "mL/m²", "LA volume indexed to BSA (normal ≤ 34 mL/m²)"),
    "rv_eda": _sexed((10, 24), (8, 20), "cm²", "RV end-diastolic area, RV-focused A4C"),
    "rv_esa": _sexed((3, 15), (3, 11), "cm²", "RV end-systolic area, RV-focused A4C"),
    "rv_fac": _both(35, None, "%", "RV fractional area change (abnormal < 35 %)"),
    "ra_area": _both(None, 18, "cm²", "RA end-systolic area, A4C (normal ≤ 18 cm²)"),
}

# Measurements the guideline gives no range for, and why they are not graded.
NOT_GRADED = {
    "lv_gls": (
        "the guideline expects about −20 % in health but gives no vendor-independent "
        "cut-off, and its values are from speckle tracking, not from a contour length"
    ),
}


class Flag(NamedTuple):
    flag: str  # "normal", "low", "high", "depends on sex", "not graded"
    note: str


def _grade(value: float, r: Range) -> str:
    if r.low is not None and value < r.low:
        return "low"
    if r.high is not None and value > r.high:
        return "high"
    return "normal"


def ranges_for(key: str, sex: str | None) -> list[Range]:
    """The guideline's ranges for ``key``: the one for ``sex``, or every sex's when None."""
    if sex not in (None, *SEXES):
        raise ValueError(f"sex {sex!r}: give 'male' or 'female' (or leave it out)")
    ranges = RANGES.get(key, [])
    if sex is None:
        return ranges
    return [r for r in ranges if r.sex in (None, sex)]


def flag(key: str, value: float | None, unit: str, sex: str | None) -> tuple[Flag, list[Range]]:
    """The value's flag against the guideline's range for ``sex`` (both sexes when None), and
    the ranges used; a value in other units (pixels) or without a range is "not graded"."""
    if key in NOT_GRADED:
        return Flag("not graded", NOT_GRADED[key]), []
    ranges = ranges_for(key, sex)
    if value is None:
        return Flag("not graded", "no value"), ranges
    if not ranges:
        return Flag("not graded", "the guideline gives no range for it"), []
    if ranges[0].unit != unit:
        return Flag(
            "not graded", f"in {unit}: the pixel spacing is unknown, ranges are in {ranges[0].unit}"
        ), ranges
    grades = {r.sex: _grade(value, r) for r in ranges}
    if len(set(grades.values())) == 1:
        return Flag(next(iter(grades.values())), ""), ranges
    detail = ", ".join(f"{g} for {'men' if s == 'male' else 'women'}" for s, g in grades.items())
    return Flag("depends on sex", detail + " (sex not given)"), ranges


def body_surface_area(height_cm: float, weight_kg: float) -> float:
    """Body surface area in m² by Mosteller: ``√(height_cm · weight_kg / 3600)``."""
    if not (height_cm > 0 and weight_kg > 0):
        raise ValueError(f"height {height_cm} cm and weight {weight_kg} kg must be positive")
    return (height_cm * weight_kg / 3600.0) ** 0.5
