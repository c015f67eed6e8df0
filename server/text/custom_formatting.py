"""Custom formatting (`speech_understanding.request.custom_formatting`,
docs/compatibility.md#speech-understanding): dates, phone numbers and e-mail addresses in the transcript
rewritten into the caller's patterns.

Patterns are the documented placeholder strings: `date` from the tokens `mm`, `dd`, `yyyy`, `yy` and any
separators (`mm/dd/yyyy`, `dd.mm.yyyy`, `yyyy-mm-dd`); `phone_number` with one `x` per digit
(`(xxx)xxx-xxxx`, `xxx.xxx.xxxx`, `+1 xxx xxx xxxx`: literal digits are kept); `email`: `username@domain.com`
(the canonical form, the only documented one) turns spoken addresses ("john dot smith at gmail dot com") into
`john.smith@gmail.com`. What is found: dates written with a month name ("March 5th, 2024", "5 March 2024")
or numerically (`3/5/2024`, `2024-03-05`, read month first as US speech-to-text writes them); phone numbers
of 10 digits (11 with a leading 1) in the usual groupings; written or spoken e-mail addresses. A date
without a year, or a number with another digit count, is left as it is. Deterministic: regular expressions
only, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
DATE_FORMS = (
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),  # March 5th, 2024
    re.compile(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),  # 5 March 2024
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),  # 2024-03-05
    re.compile(r"\b(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})\b"),  # 3/5/2024
)
PHONE = re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}(?!\w)")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# "john dot smith at gmail dot com": name parts joined by dot/underscore/dash, then at, then a dotted domain
_PART = r"[A-Za-z0-9]+"
SPOKEN_EMAIL = re.compile(
    rf"\b(?P<user>{_PART}(?:\s+(?:dot|underscore|dash)\s+{_PART})*)\s+at\s+"
    rf"(?P<domain>{_PART}(?:\s+dot\s+{_PART})+)\b",
    re.IGNORECASE,
)
_SPOKEN_SEPARATORS = {"dot": ".", "underscore": "_", "dash": "-"}


@dataclass
class Formatted:
    text: str
    mapping: dict[str, str] = field(default_factory=dict)  # original span -> formatted


def format_date(day: date, pattern: str) -> str:
    out = pattern.lower()
    for token, value in (
        ("yyyy", f"{day.year:04d}"),
        ("yy", f"{day.year % 100:02d}"),
        ("mm", f"{day.month:02d}"),
        ("dd", f"{day.day:02d}"),
    ):
        out = out.replace(token, value)
    return out


def format_phone(digits: str, pattern: str) -> str | None:
    """Fill the pattern's `x`s with the number's last digits (a leading country 1 the pattern shows as a
    literal is dropped); None when the pattern wants more digits than were said."""
    slots = pattern.lower().count("x")
    if slots > len(digits) or slots == 0:
        return None
    it = iter(digits[len(digits) - slots :])
    return "".join(next(it) if c in "xX" else c for c in pattern)


def _date_of(m: re.Match[str]) -> date | None:
    month = m.group("month")
    number = MONTHS.get(month.lower().rstrip(".")) if not month.isdigit() else int(month)
    try:
        return date(int(m.group("year")), number or 0, int(m.group("day")))
    except ValueError:
        return None


def _spoken_email(m: re.Match[str]) -> str:
    def join(words: str) -> str:
        out = ""
        for token in words.split():
            out += _SPOKEN_SEPARATORS.get(token.lower(), token.lower())
        return out

    return f"{join(m.group('user'))}@{join(m.group('domain'))}"


def apply(text: str, patterns: dict[str, str | None]) -> Formatted:
    """`text` with every recognised date, phone number and e-mail rewritten into `patterns`."""
    replacements: list[tuple[int, int, str]] = []

    def claim(start: int, end: int, new: str) -> None:
        if text[start:end] != new and all(end <= a or start >= b for a, b, _ in replacements):
            replacements.append((start, end, new))

    if patterns.get("email"):
        for m in EMAIL.finditer(text):
            claim(m.start(), m.end(), m.group(0).lower())
        for m in SPOKEN_EMAIL.finditer(text):
            claim(m.start(), m.end(), _spoken_email(m))
    if patterns.get("date"):
        for form in DATE_FORMS:
            for m in form.finditer(text):
                day = _date_of(m)
                if day is not None:
                    claim(m.start(), m.end(), format_date(day, str(patterns["date"])))
    if patterns.get("phone_number"):
        for m in PHONE.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            new = format_phone(digits, str(patterns["phone_number"])) if len(digits) in (10, 11) else None
            if new is not None:
                claim(m.start(), m.end(), new)
    out, cursor, mapping = [], 0, {}
    for start, end, new in sorted(replacements):
        out += [text[cursor:start], new]
        mapping[text[start:end]] = new
        cursor = end
    out.append(text[cursor:])
    return Formatted("".join(out), mapping)
