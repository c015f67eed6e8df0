"""Named entities (`entity_detection` → `entities`).

Two sources over the words joined into one text: spaCy's statistical NER (en_core_web_sm, OntoNotes labels)
and presidio's pattern recognizers (checksummed or validated regexes for e-mail, phone, card, IBAN, IP,
URL, US SSN/passport/driver's licence). Each label maps to one documented `EntityType`; labels with no
honest counterpart (PRODUCT, WORK_OF_ART, LAW, ORDINAL, QUANTITY, PERCENT) are dropped. Where spans
overlap, the pattern match wins (it is validated), then the longer span. Character spans are mapped back
to the words they cover, which give `start`/`end` in ms.

Types this module can produce: person_name, location, organization, nationality, religion,
political_affiliation, date, time, money_amount, language, event, number_sequence (spoken digit strings of
5+ digits), email_address, phone_number, credit_card_number, banking_information, ip_address, url,
us_social_security_number, passport_number, drivers_license, account_number. The other documented types
(medical_condition, occupation, blood_type, …) need a model trained for them and are never emitted.
"""

from __future__ import annotations

import re
from typing import Any

from server.intelligence.document import Document
from server.intelligence.nlp import WordParse, analyzer, parse_words

# spaCy (OntoNotes) label → EntityType. NORP is split by the word lists below.
SPACY_TYPES: dict[str, str] = {
    "PERSON": "person_name",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "ORG": "organization",
    "NORP": "nationality",
    "DATE": "date",
    "TIME": "time",
    "MONEY": "money_amount",
    "LANGUAGE": "language",
    "EVENT": "event",
}
# presidio pattern recognizer → EntityType (its NER-backed entities come from spaCy above instead).
PRESIDIO_TYPES: dict[str, str] = {
    "EMAIL_ADDRESS": "email_address",
    "PHONE_NUMBER": "phone_number",
    "CREDIT_CARD": "credit_card_number",
    "IBAN_CODE": "banking_information",
    "IP_ADDRESS": "ip_address",
    "URL": "url",
    "US_SSN": "us_social_security_number",
    "US_PASSPORT": "passport_number",
    "US_DRIVER_LICENSE": "drivers_license",
    "US_BANK_NUMBER": "account_number",
}
# presidio scores below this are context-free guesses (e.g. any 9 digits as a driver's licence); phone
# numbers are parsed and validated by libphonenumber but scored 0.4 unless a context word precedes them.
MIN_PATTERN_SCORE = 0.5
MIN_SCORE_BY_TYPE = {"PHONE_NUMBER": 0.4}
# NORP mentions that name a religion or a political group rather than a nationality.
_RELIGIONS = frozenset(
    word
    for line in (
        "christian christians catholic catholics protestant protestants muslim muslims islamic jewish jew",
        "jews hindu hindus buddhist buddhists sikh sikhs mormon mormons atheist atheists orthodox",
        "evangelical evangelicals baptist baptists lutheran lutherans anglican anglicans",
        "methodist methodists",
    )
    for word in line.split()
)
_POLITICS = frozenset(
    word
    for line in (
        "democrat democrats democratic republican republicans conservative conservatives liberal liberals",
        "labour tory tories socialist socialists communist communists libertarian libertarians green greens",
        "progressive progressives nazi nazis fascist fascists",
    )
    for word in line.split()
)
_PRONOUN_I = re.compile(r"^I[.,!?]")
_DIGITS = re.compile(r"\d[\d\s-]{3,}\d")


def _norp_type(text: str) -> str:
    tokens = {t.casefold().strip(".,") for t in text.split()}
    if tokens & _RELIGIONS:
        return "religion"
    if tokens & _POLITICS:
        return "political_affiliation"
    return "nationality"


def _spans(parse: WordParse) -> list[tuple[int, int, str, int]]:
    """(start char, end char, entity type, priority) from both sources; higher priority wins overlaps."""
    spans: list[tuple[int, int, str, int]] = []
    for ent in parse.parsed.ents:
        kind = SPACY_TYPES.get(ent.label_)
        if kind == "nationality":
            kind = _norp_type(ent.text)
        if kind == "person_name" and _PRONOUN_I.match(ent.text):
            continue  # "Neither did I. Okay" read as a name: the pronoun ends a sentence
        if kind:
            spans.append((ent.start_char, ent.end_char, kind, 0))
    entities = list(PRESIDIO_TYPES)
    for result in analyzer().analyze(parse.text, language="en", entities=entities):
        if result.score >= MIN_SCORE_BY_TYPE.get(result.entity_type, MIN_PATTERN_SCORE):
            spans.append((result.start, result.end, PRESIDIO_TYPES[result.entity_type], 1))
    for match in _DIGITS.finditer(parse.text):
        if sum(c.isdigit() for c in match.group()) >= 5:
            spans.append((match.start(), match.end(), "number_sequence", -1))
    return spans


def _resolve(spans: list[tuple[int, int, str, int]]) -> list[tuple[int, int, str]]:
    """Keep non-overlapping spans: validated patterns first, then longer spans, then earlier ones."""
    kept: list[tuple[int, int, str]] = []
    for start, end, kind, _ in sorted(spans, key=lambda s: (-s[3], -(s[1] - s[0]), s[0])):
        if all(end <= k[0] or start >= k[1] for k in kept):
            kept.append((start, end, kind))
    return sorted(kept)


def detect(doc: Document) -> list[dict[str, Any]]:
    """Entities `{entity_type, text, start, end}` in order of appearance."""
    if not doc.words:
        return []
    parse = parse_words(doc)
    out: list[dict[str, Any]] = []
    for start, end, kind in _resolve(_spans(parse)):
        covered = parse.words_in(start, end)
        if covered is None:
            continue
        text = parse.text[start:end].strip().rstrip(".,;:!?")
        if not text:
            continue
        first, last = covered
        start_ms, end_ms = doc.words[first]["start"], doc.words[last]["end"]
        out.append({"entity_type": kind, "text": text, "start": start_ms, "end": end_ms})
    return out


def run(doc: Document) -> dict[str, Any]:
    """Fill `entities`."""
    return {"entities": detect(doc)}
