"""Apply the transcript text options (punctuate, format_text, disfluencies, filter_profanity,
custom_spelling) to Whisper's words, so `text`/`words` look like the API's output.

Whisper writes cased, punctuated words ("Americans,", "don't", "U.S.", "3.5"); the API's defaults
(punctuate=true, format_text=true) match that, so every option here only removes or rewrites.

Order of the steps, and why:
  1. custom spelling -- matched on Whisper's original words, so a "from" entry can name a filler or a
     profane word, and "U.S." is not confused with "us". Its replacements are then *locked*: the docs
     say the "to" value is case-sensitive, so later steps (lowercasing, punctuation stripping, filler
     removal, masking) never touch the "to" text; only punctuation re-attached around it may go.
  2. disfluencies -- filler removal before punctuation stripping, so a filler's sentence-ending
     punctuation can still be moved onto the previous word.
  3. profanity -- masked while the word still carries its case and punctuation ("Shit's" -> "S***'s").
  4. punctuate=false -- strip punctuation (keeping "don't", "3.5", "1,000", "uh-huh").
  5. format_text=false -- lowercase, last, so it applies to everything the earlier steps produced.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from server.text.types import Word

# Punctuation (Unicode category P*) that is still meaningful inside a token and is therefore neither
# stripped at the edges when matching nor removed by punctuate=false: percent, hash, at, ampersand,
# the profanity mask's asterisks, underscore and slashes ("24/7", "and/or").
_KEEP_PUNCT = frozenset("%#@&*_/\\")
_APOSTROPHES = frozenset("'\u2019")
_HYPHENS = frozenset("-\u2010\u2011")
_NUMBER_SEPARATORS = frozenset(".,:")
_SENTENCE_END = frozenset(".?!\u2026")
# Closing marks that may follow a sentence's final punctuation: `."`, `?)`, `!'`.
_CLOSERS = "\"'\u2019\u201d)]}\u00bb"

# Filler words. AssemblyAI documents "um", "uh", "hmm", "mhm", "uh-huh", "ah", "huh", "hm", "m"
# (docs: pre-recorded-audio/filler-words); the pattern also accepts the elongated spellings Whisper
# writes ("Umm", "Uhh", "Hmmm", "Mm-hmm", "Mmm") and "er"/"erm".
_FILLER_RE = re.compile(
    r"^(?:u+m+|u+h+m*|h+m+|m+h+m+|m+-?h+m+|u+h+-h+u+h+|a+h+|h+u+h+|e+r+m*|m+)$",
)

# Entries of better_profanity's list that are ordinary, clinical or news vocabulary rather than
# profanity; masking them ("God", "kill", "organ", "stroke", "seaman") would damage normal
# transcripts, and AssemblyAI's filter is described as masking profanity only. The multi-word entries
# excluded are ordinary word pairs ("was she male", "three some").
_NOT_PROFANE = frozenset(
    word
    for line in (
        "anus areole arian aryan asanchez breasts clitoris cowgirl cowgirls crotch doofus dopey drunk",
        "dummy enlargement erect erection facial fat fondle foobar gay gays glans god gonad gonads gringo",
        "hemp heroin herp herpes herpy hiv homey hooch hookah hooter hooters hump humped humping inbred",
        "incest jerk jerked junkie junky kill kinky labia len leper lesbians lmao lmfao loin loins lust",
        "lusting lusty maxi menses menstruate menstruation meth molest moron murder naked napalm nazi",
        "nazism nimrod ninny nipple nipples nude nudes omg opiate opium oral orally organ ovary ovum",
        "ovums paddy pantie panties panty pawn pcp pee penetrate penetration penial penile penis peyote",
        "pms pot potty prostitute prude pube pubic pubis queer queers racy rape raped raper raping rapist",
        "rectal rectum rectus reich revue rum ruski sandbar scantily schizo screw screwed screwing seaman",
        "seamen seduce semen sex sexual sissy slave sleaze sleazy slope sniper snuff souse soused sperm",
        "steamy stoned strip stripclub stroke stupid suck sucked sucking tampon teat testes testicle",
        "testis thrust thug tinkle toke toots tramp transsexual trashy ugly undies unwed urinal urine",
        "uterus uzi vagina valium viagra virgin vixen vodka vomit voyeur vulgar vulva wad weed weenie",
        "weirdo whiz womb xx",
    )
    for word in line.split()
) | {"booty call", "cow girl", "cow girls", "deep throat", "she male", "strip club", "three some"}


def join_text(words: Iterable[Word]) -> str:
    """The transcript `text`: the words' texts joined by single spaces, as the API builds it."""
    return " ".join(w["text"] for w in words)


def _is_edge_punct(char: str) -> bool:
    return unicodedata.category(char).startswith("P") and char not in _KEEP_PUNCT


def split_edges(text: str) -> tuple[str, str, str]:
    """Split a word into (leading punctuation, core, trailing punctuation).

    Shared by every matcher in `text/` so that "Smoke," and "smoke" compare equal. A word made only of
    punctuation comes back as (text, "", "").
    """
    start = 0
    while start < len(text) and _is_edge_punct(text[start]):
        start += 1
    if start == len(text):
        return text, "", ""
    end = len(text)
    while end > start and _is_edge_punct(text[end - 1]):
        end -= 1
    return text[:start], text[start:end], text[end:]


def match_key(text: str) -> str:
    """Case- and edge-punctuation-insensitive form of a word, used for all matching."""
    return split_edges(text.strip())[1].casefold()


def ends_sentence(text: str) -> bool:
    """Whether a word's punctuation closes a sentence (`.`, `?`, `!`, `…`, also before `"` or `)`)."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def is_filler(text: str) -> bool:
    """Whether a word is a filler word that disfluencies=false removes.

    An all-capitals word is an acronym ("the ER", "UM"), not a filler.
    """
    core = split_edges(text.strip())[1]
    if len(core) > 1 and core.isupper():
        return False
    return bool(_FILLER_RE.match(core.casefold()))


def strip_punctuation(text: str) -> str:
    """Remove punctuation as punctuate=false does, keeping what belongs to the word itself.

    Kept: apostrophes between letters ("don't"), separators between digits ("3.5", "1,000", "10:30"),
    hyphens between letters/digits ("uh-huh", "COVID-19"), a leading minus of a number, and the
    symbol-like marks in `_KEEP_PUNCT`. Everything else in Unicode category P* goes ("U.S." -> "US").
    """
    out: list[str] = []
    n = len(text)
    for i, char in enumerate(text):
        if not unicodedata.category(char).startswith("P") or char in _KEEP_PUNCT:
            out.append(char)
            continue
        prev = text[i - 1] if i > 0 else ""
        nxt = text[i + 1] if i + 1 < n else ""
        if (
            (char in _APOSTROPHES and prev.isalnum() and nxt.isalnum())
            or (char in _NUMBER_SEPARATORS and prev.isdigit() and nxt.isdigit())
            or (char in _HYPHENS and prev.isalnum() and nxt.isalnum())
            or (char in _HYPHENS and not out and nxt.isdigit())
        ):
            out.append(char)
    return "".join(out)


@dataclass
class _Tok:
    """A word in flight. Custom-spelled words are `locked`: their `to` text is final."""

    word: Word
    locked: bool = False
    lead: str = ""
    to: str = ""
    suffix: str = ""  # possessive "'s" kept from the matched word, even with punctuate=false
    trail: str = ""

    @property
    def text(self) -> str:
        return self.lead + self.to + self.suffix + self.trail if self.locked else self.word["text"]

    def set_trailing(self, punct: str) -> None:
        """Replace the trailing punctuation (used when a removed filler ended the sentence)."""
        if self.locked:
            self.trail = punct
        else:
            lead, core, _ = split_edges(self.word["text"])
            self.word["text"] = lead + core + punct

    def finish(self) -> Word:
        self.word["text"] = self.text
        return self.word


def _same_voice(a: Word, b: Word) -> bool:
    return a.get("speaker") == b.get("speaker") and a.get("channel") == b.get("channel")


# ---------------------------------------------------------------------------------------------------
# custom spelling


def _spelling_table(custom_spelling: list[dict]) -> dict[tuple[str, ...], str]:
    """Map each "from" phrase (as a tuple of match keys) to its "to"; the first rule for a phrase wins."""
    table: dict[tuple[str, ...], str] = {}
    for entry in custom_spelling:
        if not isinstance(entry, dict):
            continue
        to = entry.get("to")
        froms = entry.get("from") or []
        if not isinstance(to, str) or not isinstance(froms, list):
            continue
        for phrase in froms:
            if not isinstance(phrase, str):
                continue
            key = tuple(k for k in (match_key(p) for p in phrase.split()) if k)
            if key:
                table.setdefault(key, to)
    return table


def _possessive(core: str) -> tuple[str, str]:
    """Split "Decarlo's" into ("Decarlo", "'s") so a custom spelling still applies to the name."""
    if len(core) > 2 and core[-2] in _APOSTROPHES and core[-1] in "sS":
        return core[:-2], core[-2:]
    return core, ""


def _apply_custom_spelling(words: list[Word], custom_spelling: list[dict] | None) -> list[_Tok]:
    """Replace "from" words/phrases (case- and punctuation-insensitive) by the exact "to" text.

    A phrase is matched on consecutive words of one speaker/channel and becomes one word spanning the
    first word's start to the last word's end with the lowest confidence. The longest phrase wins at
    each position. An empty "to" deletes the matched words.
    """
    table = _spelling_table(custom_spelling or [])
    if not table:
        return [_Tok(word=w) for w in words]
    longest = max(len(k) for k in table)
    keys = [match_key(w["text"]) for w in words]
    out: list[_Tok] = []
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            seg = words[i : i + size]
            if any(not _same_voice(seg[0], w) for w in seg[1:]):
                continue
            lead = split_edges(seg[0]["text"])[0]
            _, last_core, trail = split_edges(seg[-1]["text"])
            suffix = ""
            to = table.get(tuple(keys[i : i + size]))
            if to is None:
                base, suffix = _possessive(last_core)
                if not suffix:
                    continue
                to = table.get((*keys[i : i + size - 1], base.casefold()))
                if to is None:
                    continue
            if to.strip():
                word: Word = seg[0].copy()
                word["end"] = seg[-1]["end"]
                word["confidence"] = min(w["confidence"] for w in seg)
                out.append(_Tok(word=word, locked=True, lead=lead, to=to, suffix=suffix, trail=trail))
            i += size
            break
        else:
            out.append(_Tok(word=words[i]))
            i += 1
    return out


# ---------------------------------------------------------------------------------------------------
# disfluencies


def _remove_fillers(toks: list[_Tok]) -> list[_Tok]:
    """Drop filler words, keeping sentence boundaries intact.

    "there, um." -> "there." (the filler's sentence end moves to the previous word of the same
    speaker), and "Um, so we..." -> "So we..." (a sentence-initial capital moves to the next word).
    """
    out: list[_Tok] = []
    capitalize_next = False
    for tok in toks:
        if tok.locked or not is_filler(tok.text):
            if capitalize_next and not tok.locked:
                lead, core, trail = split_edges(tok.word["text"])
                tok.word["text"] = lead + core[:1].upper() + core[1:] + trail
            capitalize_next = False
            out.append(tok)
            continue
        prev = out[-1] if out and _same_voice(out[-1].word, tok.word) else None
        at_sentence_start = prev is None or ends_sentence(prev.text)
        _, core, trail = split_edges(tok.text)
        if ends_sentence(tok.text) and prev is not None and not at_sentence_start:
            closing = trail.rstrip(_CLOSERS)
            end = len(closing)
            while end > 0 and closing[end - 1] in _SENTENCE_END:
                end -= 1
            prev.set_trailing(closing[end:] + trail[len(closing) :])
        if at_sentence_start and core[:1].isupper():
            capitalize_next = True
    return out


# ---------------------------------------------------------------------------------------------------
# profanity


@functools.cache
def _profanity_lists() -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    """better_profanity's word list as match keys (single words, multi-word phrases); loaded once."""
    from better_profanity import profanity  # imported lazily: it builds its word set on import

    singles: set[str] = set()
    phrases: set[tuple[str, ...]] = set()
    for entry in profanity.CENSOR_WORDSET:
        parts = tuple(k for k in (match_key(p) for p in str(entry).split()) if k)
        if not parts or " ".join(parts) in _NOT_PROFANE:
            continue
        if len(parts) == 1:
            singles.add(parts[0])
        else:
            phrases.add(parts)
    return frozenset(singles), frozenset(phrases)


def _mask(core: str) -> str:
    """The API's mask: first letter kept, every further character an asterisk ("shit" -> "s***")."""
    return core[:1] + "*" * (len(core) - 1)


def _mask_core(core: str, singles: frozenset[str], force: bool) -> str:
    if force or core.casefold() in singles:
        return _mask(core)
    match = re.match(r"^(.+?)(['\u2019].*)$", core)  # "shit's" -> "s***'s"
    if match and match.group(1).casefold() in singles:
        return _mask(match.group(1)) + match.group(2)
    parts = re.split(r"([-\u2010\u2011])", core)  # "bull-shit" -> "bull-s***"
    if len(parts) > 1:
        return "".join(_mask(p) if p.casefold() in singles else p for p in parts)
    return core


def _unbroken(toks: list[_Tok]) -> bool:
    """Whether consecutive words read as one phrase: same speaker, no punctuation between them."""
    return all(
        _same_voice(a.word, b.word) and not split_edges(a.text)[2] and not split_edges(b.text)[0]
        for a, b in zip(toks, toks[1:], strict=False)
    )


def _mask_profanity(toks: list[_Tok]) -> None:
    """Mask profane words in place, keeping case of the first letter and attached punctuation."""
    singles, phrases = _profanity_lists()
    keys = [None if t.locked else match_key(t.text) for t in toks]
    forced: set[int] = set()
    for phrase in phrases:
        size = len(phrase)
        for i in range(len(toks) - size + 1):
            if tuple(keys[i : i + size]) == phrase and _unbroken(toks[i : i + size]):
                forced.update(range(i, i + size))
    for i, tok in enumerate(toks):
        if tok.locked:
            continue
        lead, core, trail = split_edges(tok.word["text"])
        if core:
            tok.word["text"] = lead + _mask_core(core, singles, i in forced) + trail


# ---------------------------------------------------------------------------------------------------
# public entry point


def apply_options(
    words: list[Word],
    *,
    punctuate: bool = True,
    format_text: bool = True,
    disfluencies: bool = False,
    filter_profanity: bool = False,
    custom_spelling: list[dict] | None = None,
) -> list[Word]:
    """Return new word dicts with the request's text options applied (input is never mutated).

    Words left without text (e.g. a lone "—" after punctuate=false) are dropped.
    """
    copies: list[Word] = []
    for w in words:
        c: Word = w.copy()
        c["text"] = str(w.get("text") or "").strip()
        copies.append(c)
    toks = _apply_custom_spelling(copies, custom_spelling)
    if not disfluencies:
        toks = _remove_fillers(toks)
    if filter_profanity:
        _mask_profanity(toks)
    if not punctuate:
        for tok in toks:
            if tok.locked:
                tok.lead = tok.trail = ""
            else:
                tok.word["text"] = strip_punctuation(tok.word["text"])
    if not format_text:
        for tok in toks:
            if tok.locked:
                tok.suffix = tok.suffix.lower()
            else:
                tok.word["text"] = tok.word["text"].lower()
    return [w for w in (tok.finish() for tok in toks) if w["text"].strip()]
