"""Speaker identification (`speech_understanding.request.speaker_identification`,
docs/compatibility.md#speech-understanding): a name or role for each diarized speaker label, from what was
said.

Names (`speaker_type: "name"`), by votes from the unredacted utterances:
- self-introduction, weight 2: "my name is X", "I'm X", "I am X", "this is X", "X here", "X speaking" in
  an utterance of speaker S votes X for S;
- being addressed, weight 1: a greeting or thanks naming X ("hi X", "thanks, X", "X, …?") in an utterance
  of S votes X for the other speaker who talks next (or, failing that, the one who talked just before).
A candidate is a capitalised word pair or word that spaCy's English NER tags PERSON in its sentence, or
that is one of the caller's `known_values`/`speakers[].name` (then matched by full, first or last name
and written as the caller wrote it). Labels and names are then paired greedily by total votes, one name per
label; a label with no vote keeps its letter.
Roles (`speaker_type: "role"`): each role (`known_values`, or `speakers[].role` with its `description`) is
embedded as "role: description" with the sentence embedder the text features share (MiniLM) and so is
each sentence each speaker said; labels and roles are paired to maximise the total of the labels' mean
sentence-to-role cosine similarity (Hungarian), a label beyond the number of roles taking its closest role.
This is a similarity heuristic, not a trained role classifier: it needs descriptions that say what each
role talks about, and works best on a few turns each.
The mapping is applied to every `speaker` field the transcript has: words, utterances and their words,
`sentiment_analysis_results`; exports read the stored words and so follow.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from server.intelligence.document import Document

SELF_WEIGHT, ADDRESSED_WEIGHT = 2.0, 1.0
_NAME = r"(?P<name>[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)?)"
SELF_INTRODUCTIONS = (
    re.compile(rf"\b(?:[Mm]y name is|[Mm]y name's|I'm|I am|[Tt]his is|[Ii]t's) {_NAME}"),
    re.compile(rf"\b{_NAME} (?:here|speaking)\b"),
)
ADDRESSED = (
    re.compile(rf"\b(?:[Hh]i|[Hh]ello|[Hh]ey|[Tt]hanks|[Tt]hank you|[Ww]elcome|[Gg]ood morning),? {_NAME}\b"),
    re.compile(rf"^{_NAME}, "),
    re.compile(rf", {_NAME}[?.!]"),
)


def _person_names(text: str) -> set[str]:
    from server.intelligence import nlp

    return {ent.text for ent in nlp.spacy_nlp()(text).ents if ent.label_ == "PERSON"}


def _known(request: dict[str, Any], key: str) -> list[str]:
    values = list(request.get("known_values") or [])
    values += [s[key] for s in request.get("speakers") or [] if s.get(key)]
    return values


def _match_known(candidate: str, known: list[str]) -> str | None:
    c = candidate.lower().split()
    for name in known:
        n = name.lower().split()
        if c == n or c[0] == n[0] or (len(c) > 1 and len(n) > 1 and c[-1] == n[-1]):
            return name
    return None


def name_votes(utterances: list[dict[str, Any]], known: list[str]) -> dict[str, dict[str, float]]:
    """votes[label][name]: how strongly what was said names `label` as `name`."""
    votes: dict[str, dict[str, float]] = {}
    people: set[str] | None = None

    def add(label: str | None, candidate: str, weight: float) -> None:
        nonlocal people
        if label is None:
            return
        name = _match_known(candidate, known) if known else None
        if name is None and not known:
            if people is None:
                people = _person_names(" ".join(u["text"] for u in utterances))
            parts = [p for p in people if p == candidate or p.split()[0] == candidate.split()[0]]
            name = max(parts, key=len) if parts else None
        if name is not None:
            votes.setdefault(label, {}).setdefault(name, 0.0)
            votes[label][name] += weight

    for i, u in enumerate(utterances):
        for pattern in SELF_INTRODUCTIONS:
            for m in pattern.finditer(u["text"]):
                add(u["speaker"], m.group("name"), SELF_WEIGHT)
        for pattern in ADDRESSED:
            for m in pattern.finditer(u["text"]):
                add(_other_speaker(utterances, i), m.group("name"), ADDRESSED_WEIGHT)
    return votes


def _other_speaker(utterances: list[dict[str, Any]], i: int) -> str | None:
    me = utterances[i]["speaker"]
    for j in [*range(i + 1, len(utterances)), *range(i - 1, -1, -1)]:
        if utterances[j]["speaker"] != me:
            return utterances[j]["speaker"]
    return None


def assign_names(votes: dict[str, dict[str, float]]) -> dict[str, str]:
    """Greedy on votes: the strongest (label, name) pair first, each label and name used once."""
    pairs = sorted(((v, label, name) for label, d in votes.items() for name, v in d.items()), reverse=True)
    mapping: dict[str, str] = {}
    for _, label, name in pairs:
        if label not in mapping and name not in mapping.values():
            mapping[label] = name
    return mapping


def assign_roles(texts: dict[str, str], roles: list[tuple[str, str]]) -> dict[str, str]:
    """texts[label] = all it said; roles = (role, description). Hungarian on the mean cosine similarity of
    the label's sentences to each role (sentence by sentence: one long text blurs who asks, who answers)."""
    from scipy.optimize import linear_sum_assignment

    from server.intelligence.embeddings import embed

    labels = sorted(texts)
    if not labels or not roles:
        return {}
    b = embed([f"{role}: {description}" if description else role for role, description in roles])
    sim = np.stack([(embed(_sentences(texts[label])) @ b.T).mean(axis=0) for label in labels])
    rows, cols = linear_sum_assignment(-sim)
    mapping = {labels[r]: roles[c][0] for r, c in zip(rows, cols, strict=True)}
    for i, label in enumerate(labels):
        mapping.setdefault(label, roles[int(np.argmax(sim[i]))][0])
    return mapping


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()] or [text]


def identify(utterances: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, str]:
    """The mapping {label: name or role} for the (unredacted) utterances."""
    if request.get("speaker_type") == "role":
        roles = [(v, "") for v in request.get("known_values") or []]
        speakers = [s for s in request.get("speakers") or [] if s.get("role")]
        roles += [(s["role"], s.get("description") or "") for s in speakers]
        texts: dict[str, str] = {}
        for u in utterances:
            texts[u["speaker"]] = f"{texts.get(u['speaker'], '')} {u['text']}".strip()
        return assign_roles(texts, roles)
    return assign_names(name_votes(utterances, _known(request, "name")))


def apply_mapping(doc: Document, results: dict[str, Any], mapping: dict[str, str]) -> None:
    """Rename every `speaker` field; labels missing from the mapping stay as they were."""

    def rename(item: Any) -> None:  # a word (TypedDict) or an utterance
        if item.get("speaker") in mapping:
            item["speaker"] = mapping[item["speaker"]]

    for w in doc.words:
        rename(w)
    for u in doc.utterances or []:
        rename(u)
        for w in u.get("words", []):
            rename(w)
    for s in results.get("sentiment_analysis_results") or []:
        rename(s)


def run(doc: Document, results: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The task's response; rewrites the speakers of `doc` and `results` in place."""
    said = doc.said_utterances or doc.utterances
    if not said:
        return {"status": "unavailable", "reason": "speaker identification needs speaker_labels: true"}
    mapping = identify(said, request)
    apply_mapping(doc, results, mapping)
    return {"status": "success", "mapping": mapping}
