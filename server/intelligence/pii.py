"""PII redaction (`redact_pii`, `redact_pii_policies`, `redact_pii_sub`): find personal data in the words and
replace it in `words`, `text` and `utterances`; record where it was said for audio redaction.

Detection is presidio's AnalyzerEngine (shared with entity detection, `nlp.analyzer()`): its pattern
recognizers (e-mail, phone, credit card, IP, URL, US SSN/passport/licence/bank, IBAN, NHS) and the spaCy
`en_core_web_sm` NER, plus two small pattern recognizers of ours (ages, long digit runs). POLICY_SOURCES
says which detector serves which policy; a policy no local model can honestly produce (blood type, CVV,
medical conditions, …) is accepted by the API and redacts nothing, listed in UNSERVED_POLICIES.
The NER is English; for other languages only the language-neutral patterns run.

Substitution (docs/compatibility.md#intelligence, docs "pii-redaction"): `hash` keeps each word and turns
every letter and digit inside the entity into `#` ("Smith," → "#####,"; "555-123-4567" → "###-###-####");
`entity_name` makes each entity one word `[PERSON_NAME]` spanning the time of the words it covered, with the
punctuation around it kept ("Hi, my name is [PERSON_NAME]!"), so `text` stays the words joined by spaces and
every export derived from the stored words is redacted the same way. The entity spans (ms) go to
`doc.pii_spans` for the redacted audio (server/media/redact.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from server.intelligence import nlp
from server.intelligence.document import Document
from server.text.formatting import join_text
from server.text.types import Word
from server.text.utterances import build_utterances, utterance_text

# API policy -> detector labels that serve it: presidio entity names, or `spacy:<LABEL>` for spaCy NER labels
# presidio drops (nlp.py ignores MONEY, EVENT, LANGUAGE; it folds DATE and TIME into DATE_TIME), or
# `pattern:<name>` for PATTERNS below. The first requested policy in this order names a shared label.
POLICY_SOURCES: dict[str, tuple[str, ...]] = {
    "person_name": ("PERSON",),
    "phone_number": ("PHONE_NUMBER", "pattern:phone"),
    "email_address": ("EMAIL_ADDRESS",),
    "credit_card_number": ("CREDIT_CARD",),
    "us_social_security_number": ("US_SSN",),
    "ip_address": ("IP_ADDRESS",),
    "url": ("URL",),
    "drivers_license": ("US_DRIVER_LICENSE",),
    "passport_number": ("US_PASSPORT",),
    "account_number": ("US_BANK_NUMBER", "IBAN_CODE"),
    "banking_information": ("US_BANK_NUMBER", "IBAN_CODE"),
    "healthcare_number": ("UK_NHS",),
    "location": ("LOCATION",),
    "organization": ("ORGANIZATION",),
    "nationality": ("NRP",),  # spaCy NORP: nationalities, religious and political groups, one label
    "religion": ("NRP",),
    "political_affiliation": ("NRP",),
    "date": ("spacy:DATE",),
    "time": ("spacy:TIME",),
    "money_amount": ("spacy:MONEY",),
    "event": ("spacy:EVENT",),
    "language": ("spacy:LANGUAGE",),
    "person_age": ("pattern:age",),
    "number_sequence": ("pattern:digits",),
}
UNSERVED_POLICIES: frozenset[str] = frozenset(
    {
        "blood_type", "credit_card_cvv", "credit_card_expiration", "date_interval", "date_of_birth", "drug",
        "duration", "filename", "gender_sexuality", "injury", "marital_status", "medical_condition",
        "medical_process", "occupation", "password", "physical_attribute", "statistics", "username",
        "vehicle_id", "zodiac_sign",
    }
)  # fmt: skip
# Our own patterns: presidio has no recognizer for these policies. (regex, score)
PATTERNS: dict[str, tuple[str, float]] = {
    # "42 years old", "a 42-year-old" (scored above spaCy's DATE, which claims the same words)
    "age": (r"\b\d{1,3}[- ]years?[- ]old\b", 0.9),
    # a 3-3-4 number however the speech model punctuated it ("555, 123, 4567", "555. 123. 4567")
    "phone": (r"(?<![\w.])\(?\d{3}\)?[\s,.-]{1,3}\d{3}[\s,.-]{1,3}\d{4}(?!\w)", 0.6),
    # four or more digits in a row, optionally grouped by spaces/dashes ("4 5 6 7", "1234-5678")
    "digits": (r"(?<![\w.])\d(?:[ -]?\d){3,}(?![\w])", 0.5),
}
# Recognizers that need no English model: all that run for a non-English transcript.
LANGUAGE_NEUTRAL: frozenset[str] = frozenset(
    {
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "CREDIT_CARD",
        "IP_ADDRESS",
        "URL",
        "IBAN_CODE",
        "pattern:phone",
        "pattern:digits",
    }
)
_DIGITS_ARE_NOT = frozenset({"DATE", "TIME"})
_BARE_DIGITS = re.compile(r"^[\d\s-]+$")
SCORE_THRESHOLD = 0.4  # presidio scores: NER 0.85, phone 0.4–0.75 with context, e-mail 1.0


@dataclass(frozen=True)
class Entity:
    """A detected span of the joined word text: characters [start, end) and the policy it falls under."""

    start: int
    end: int
    policy: str


def _wanted(policies: list[str], english: bool) -> dict[str, str]:
    """Detector label -> the policy that names it, for the requested policies."""
    out: dict[str, str] = {}
    for policy in POLICY_SOURCES:  # dict order: the first requested policy names a shared label
        if policy in policies:
            for label in POLICY_SOURCES[policy]:
                if english or label in LANGUAGE_NEUTRAL:
                    out.setdefault(label, policy)
    return out


def detect(text: str, policies: list[str], english: bool = True) -> list[Entity]:
    """Entities of the requested policies in `text`, sorted, overlaps merged (the longer one names it)."""
    wanted = _wanted(policies, english)
    if not wanted or not text.strip():
        return []
    found: list[tuple[int, int, str, float]] = []
    presidio = [label for label in wanted if ":" not in label]
    spacy_labels = {label.split(":", 1)[1] for label in wanted if label.startswith("spacy:")}
    if presidio:
        for r in nlp.analyzer().analyze(
            text, language="en", entities=presidio, score_threshold=SCORE_THRESHOLD
        ):
            found.append((r.start, r.end, wanted[r.entity_type], r.score))
    if spacy_labels:
        for ent in nlp.spacy_nlp()(text).ents:
            if ent.label_ in _DIGITS_ARE_NOT and _BARE_DIGITS.match(ent.text):
                continue  # the small NER calls any digit run a date ("020 7946 0958", "12345678")
            if ent.label_ in spacy_labels:
                found.append((ent.start_char, ent.end_char, wanted[f"spacy:{ent.label_}"], 0.85))
    for name, (pattern, score) in PATTERNS.items():
        policy = wanted.get(f"pattern:{name}")
        if policy:
            found += [(m.start(), m.end(), policy, score) for m in re.finditer(pattern, text)]
    return _merge(found)


def _merge(found: list[tuple[int, int, str, float]]) -> list[Entity]:
    """Overlapping spans become one; its policy is that of the longest (then highest-scoring) part."""
    merged: list[tuple[int, int, str, int, float]] = []  # start, end, policy, length of the namer, score
    for start, end, policy, score in sorted(found):
        if merged and start < merged[-1][1]:
            s, e, p, n, sc = merged[-1]
            if (end - start, score) > (n, sc):
                p, n, sc = policy, end - start, score
            merged[-1] = (s, max(e, end), p, n, sc)
        else:
            merged.append((start, end, policy, end - start, score))
    return [Entity(s, e, p) for s, e, p, _, _ in merged]


def redact_words(
    words: list[Word], entities: list[Entity], sub: str
) -> tuple[list[Word], list[dict[str, Any]]]:
    """New words with the entities replaced (entities index `join_text(words)`), and the redacted spans
    `{start, end, policy}` in ms."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        spans.append((pos, pos + len(w["text"])))
        pos += len(w["text"]) + 1
    out: list[Word] = []
    redacted: list[dict[str, Any]] = []
    i = 0
    for entity in entities:
        while i < len(words) and spans[i][1] <= entity.start:
            out.append(dict(words[i]))  # type: ignore[arg-type]
            i += 1
        first = i
        while i < len(words) and spans[i][0] < entity.end:
            i += 1
        covered = range(first, i)
        if not covered:
            continue
        redacted.append({"start": words[first]["start"], "end": words[i - 1]["end"], "policy": entity.policy})
        if sub == "entity_name":
            out.append(_named(words, spans, covered, entity))
        else:
            out += [_hashed(words[j], spans[j], entity) for j in covered]
    out += [dict(w) for w in words[i:]]  # type: ignore[misc]
    return out, redacted


def _hashed(word: Word, span: tuple[int, int], entity: Entity) -> Word:
    """Letters and digits inside the entity become `#`; everything else (punctuation, '@', '-') stays."""
    a, b = max(entity.start, span[0]) - span[0], min(entity.end, span[1]) - span[0]
    text = word["text"]
    middle = "".join("#" if c.isalnum() else c for c in text[a:b])
    return {**word, "text": text[:a] + middle + text[b:]}  # type: ignore[typeddict-item]


def _named(words: list[Word], spans: list[tuple[int, int]], covered: range, entity: Entity) -> Word:
    """The entity's words as one `[POLICY]` word: text before the entity in its first word and after it
    in its last word is kept ("(John" … "Smith)," → "([PERSON_NAME]),"), the time spans all of them."""
    first, last = covered[0], covered[-1]
    head = words[first]["text"][: max(0, entity.start - spans[first][0])]
    tail = words[last]["text"][max(0, entity.end - spans[last][0]) :]
    group = [words[j] for j in covered]
    return {
        **words[first],
        "text": f"{head}[{entity.policy.upper()}]{tail}",
        "end": max(w["end"] for w in group),
        "confidence": min(w["confidence"] for w in group),
    }  # type: ignore[typeddict-item]


def run(doc: Document) -> dict[str, Any]:
    """Redact `doc.words`, `doc.text` and `doc.utterances`; spans for audio redaction in `doc.pii_spans`.

    Each channel is read on its own (an entity never spans two channels' interleaved words)."""
    english = doc.language_code.startswith("en")
    policies = list(doc.request.redact_pii_policies or [])
    by_channel: dict[str | None, list[Word]] = {}
    for w in sorted(doc.words, key=lambda w: (w["start"], w["end"])):
        by_channel.setdefault(w.get("channel"), []).append(w)
    words: list[Word] = []
    spans: list[dict[str, Any]] = []
    for group in by_channel.values():
        entities = detect(join_text(group), policies, english)
        redacted, found = redact_words(group, entities, doc.request.redact_pii_sub or "hash")
        words += redacted
        spans += found
    doc.words = sorted(words, key=lambda w: (w["start"], w["end"]))
    doc.pii_spans = sorted(spans, key=lambda s: (s["start"], s["end"]))
    if doc.utterances is not None:
        doc.utterances = build_utterances(doc.words)
    multichannel = doc.utterances is not None and any("channel" in w for w in doc.words)
    doc.text = utterance_text(doc.utterances or []) if multichannel else join_text(doc.words)
    return {}
