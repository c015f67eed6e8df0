"""Text features of audio intelligence: highlights, entities, sentiment, summary, chapters, topics, safety.

Unit tests run each feature's `run` over hand-written words (timed as if spoken at a steady pace) and
assert what a user would check by reading the result; one end-to-end test requests every feature through
the official SDK on real speech and validates the bodies against the spec.
"""

from __future__ import annotations

import re
from typing import Any

import assemblyai as aai
import numpy as np
import pytest

from server.intelligence import chapters, content_safety, entities, highlights, sentiment, summary, topics
from server.intelligence.document import Document
from server.intelligence.embeddings import embed
from server.text.types import Word
from server.transcript_request import TranscriptRequest
from tests.conftest import raw_body
from tests.support.spec import AUDIO, assert_matches

WORD_MS, GAP_MS = 300, 100

SPORTS = (
    "The striker scored twice in the second half and the home team won the match three to one. "
    "The coach praised the defenders after the game. The fans sang in the stadium until the final whistle. "
    "Next week the club plays the league champions away from home. The goalkeeper saved a penalty in the "
    "first minute. Football supporters expect a close game and many goals. The referee showed two yellow "
    "cards in the derby. After the season the best players will join the national team for the tournament."
)
COOKING = (
    "Preheat the oven and mix the flour, butter and sugar into a soft dough. Bake the cookies for twelve "
    "minutes until they are golden. Let them cool before you add the chocolate glaze. For the sauce, melt "
    "the butter in a pan and stir in the cream. Season the soup with salt, pepper and fresh basil. Serve "
    "the pasta warm with grated cheese on top. Chop the onions and garlic before you fry them in olive oil. "
    "A slice of lemon cake with a cup of tea makes a fine dessert."
)


def make_words(text: str, speaker: str | None = None, start_ms: int = 0) -> list[Word]:
    """API words for `text`, one every WORD_MS + GAP_MS ms, as the engine would produce them."""
    words: list[Word] = []
    t = start_ms
    for token in text.split():
        words.append({"text": token, "start": t, "end": t + WORD_MS, "confidence": 0.9, "speaker": speaker})
        t += WORD_MS + GAP_MS
    return words


def make_doc(words: list[Word], **params: Any) -> Document:
    base = {"summary_model": None, "summary_type": None, "content_safety_confidence": 50}
    return Document(
        words=words,
        text=" ".join(w["text"] for w in words),
        samples=np.zeros(16000, dtype=np.float32),
        request=TranscriptRequest(**{**base, **params}),
        language_code="en_us",
    )


def doc_of(text: str, **params: Any) -> Document:
    return make_doc(make_words(text), **params)


# embeddings


def test_embeddings_are_unit_length_and_put_paraphrases_closest() -> None:
    texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply today.", ""]
    vectors = embed(texts)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]
    # Order of the batch (sorted by length inside) must not change a text's vector.
    again = embed(["Stock markets fell sharply today.", "A cat sits on the mat."])
    assert np.allclose(again[1], vectors[0], atol=1e-5)
    assert embed([]).shape == (0, 384)


# highlights


def test_highlights_find_repeated_noun_phrases_with_counts_and_times() -> None:
    text = (
        "Solar panels are getting cheaper every year. Many homeowners install solar panels on the roof. "
        "The electricity grid buys the extra power. Solar panels need little maintenance, and the power "
        "company pays for the electricity grid connection."
    )
    doc = doc_of(text)
    result = highlights.run(doc)["auto_highlights_result"]
    assert result["status"] == "success"
    by_text = {r["text"].lower(): r for r in result["results"]}
    assert "solar panels" in by_text
    panels = by_text["solar panels"]
    assert panels["count"] == 3 == len(panels["timestamps"])
    first = next(w for w in doc.words if w["text"] == "Solar")
    assert panels["timestamps"][0]["start"] == first["start"]
    assert all(0 < r["rank"] <= 1 for r in result["results"])
    assert max(r["rank"] for r in result["results"]) == 1.0
    ranks = [r["rank"] for r in result["results"]]
    assert ranks == sorted(ranks, reverse=True)
    verbs = {"are", "install", "buys", "need", "pays", "getting", "every"}
    for r in result["results"]:  # every phrase is a noun phrase, never a verb or a function word
        assert r["text"].split()[-1].lower() not in verbs
        for ts in r["timestamps"]:
            spoken = [match.lower().strip(".,") for match in _words_between(doc, ts["start"], ts["end"])]
            assert [t.lower() for t in r["text"].split()][0][:4] == spoken[0][:4]


def _words_between(doc: Document, start: int, end: int) -> list[str]:
    return [w["text"] for w in doc.words if w["start"] >= start and w["end"] <= end]


# entities


def test_entities_names_places_organisations_and_patterns_map_to_word_times() -> None:
    text = (
        "My name is Sarah Johnson and I work for Microsoft in Seattle. You can email me at "
        "sarah.johnson@example.com or call 212-555-0187. I moved from Canada on March 3rd, 2021."
    )
    doc = doc_of(text)
    found = entities.run(doc)["entities"]
    kinds = {(e["entity_type"], e["text"]) for e in found}
    assert ("person_name", "Sarah Johnson") in kinds
    assert ("organization", "Microsoft") in kinds
    assert ("location", "Seattle") in kinds
    assert ("location", "Canada") in kinds
    assert ("email_address", "sarah.johnson@example.com") in kinds
    assert ("phone_number", "212-555-0187") in kinds
    assert any(e["entity_type"] == "date" and "March" in e["text"] for e in found)
    sarah = next(e for e in found if e["text"] == "Sarah Johnson")
    words = {w["text"].strip(".,"): w for w in doc.words}
    assert (sarah["start"], sarah["end"]) == (words["Sarah"]["start"], words["Johnson"]["end"])
    # No overlapping spans (the e-mail's domain is not also reported as a URL).
    spans = sorted((e["start"], e["end"]) for e in found)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert not any(e["entity_type"] == "url" for e in found)


def test_entities_do_not_take_the_pronoun_i_for_a_name() -> None:
    text = "Oh, hello. I didn't know you were there. Neither did I. Okay, then I thought I heard a beep."
    found = entities.run(doc_of(text))["entities"]
    assert not [e for e in found if e["entity_type"] == "person_name"]


def test_entities_only_use_documented_types_and_nothing_in_plain_text() -> None:
    allowed = set(_spec_enum("EntityType"))
    assert set(entities.SPACY_TYPES.values()) | set(entities.PRESIDIO_TYPES.values()) <= allowed
    assert {"religion", "political_affiliation", "number_sequence"} <= allowed
    assert entities.run(doc_of("it was a quiet day and nothing much happened at all"))["entities"] == []


def _spec_enum(name: str) -> list[str]:
    from tests.support.spec import spec

    return spec()["components"]["schemas"][name]["enum"]


# sentiment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I love this, it is wonderful!", "POSITIVE"),
        ("Thank you so much, the service was excellent.", "POSITIVE"),
        ("This is terrible and I hate it.", "NEGATIVE"),
        ("The delivery was late and the box was broken.", "NEGATIVE"),
        ("The meeting is on Tuesday at ten.", "NEUTRAL"),
        ("It is not good at all.", "NEGATIVE"),
    ],
)
def test_sentiment_of_one_sentence(text: str, expected: str) -> None:
    (result,) = sentiment.run(make_doc(make_words(text, speaker="A")))["sentiment_analysis_results"]
    assert result["sentiment"] == expected
    assert 0.5 <= result["confidence"] <= 1.0
    assert result["speaker"] == "A" and result["text"] == text


def test_sentiment_is_per_sentence_with_times_speakers_and_channels() -> None:
    words = make_words("I love this product.", speaker="A") + make_words(
        "Honestly, it broke after a day and I am furious.", speaker="B", start_ms=5000
    )
    results = sentiment.run(make_doc(words))["sentiment_analysis_results"]
    assert [(r["sentiment"], r["speaker"]) for r in results] == [("POSITIVE", "A"), ("NEGATIVE", "B")]
    assert results[0]["start"] == 0 and results[1]["start"] == 5000
    assert results[1]["end"] == words[-1]["end"]
    assert all("channel" not in r for r in results)
    stereo = [{**w, "channel": "1"} for w in make_words("What a great day.")]
    (r,) = sentiment.run(make_doc(stereo))["sentiment_analysis_results"]
    assert r["channel"] == "1" and r["speaker"] is None


# summary


def test_summary_types_are_extractive_and_shaped_as_documented() -> None:
    text = SPORTS + " " + COOKING
    sentences = {s.strip() for s in re.split(r"(?<=[.!?])\s+", text)}
    bullets = summary.run(doc_of(text))["summary"]  # default: informative bullets
    lines = bullets.split("\n")
    assert 3 <= len(lines) <= 6 and all(line.startswith("- ") for line in lines)
    assert all(line[2:] in sentences for line in lines)
    # Both topics are covered (maximal marginal relevance), in spoken order.
    assert any(line[2:] in SPORTS for line in lines) and any(line[2:] in COOKING for line in lines)
    assert [text.index(line[2:]) for line in lines] == sorted(text.index(line[2:]) for line in lines)

    verbose = summary.run(doc_of(text, summary_type="bullets_verbose"))["summary"].split("\n")
    assert len(verbose) > len(lines)
    headline = summary.run(doc_of(text, summary_type="headline", summary_model="catchy"))["summary"]
    assert headline in sentences
    paragraph = summary.run(doc_of(text, summary_type="paragraph"))["summary"]
    assert "\n" not in paragraph and "- " not in paragraph and len(paragraph.split(". ")) >= 2
    gist = summary.run(doc_of(text, summary_type="gist", summary_model="catchy"))["summary"]
    assert 1 <= len(gist.split()) <= 3 and gist.lower() in text.lower()


def test_conversational_bullets_name_the_speaker() -> None:
    words = make_words(SPORTS, speaker="A") + make_words(COOKING, speaker="B", start_ms=60_000)
    doc = make_doc(words, summary_model="conversational", summary_type="bullets")
    lines = summary.run(doc)["summary"].split("\n")
    assert all(re.match(r"^- Speaker [AB]: ", line) for line in lines)
    assert {line[10] for line in lines} == {"A", "B"}


def test_summary_of_nothing_is_empty() -> None:
    assert summary.run(make_doc([]))["summary"] == ""


# chapters


def test_two_topics_split_into_two_chapters_at_the_boundary() -> None:
    sports, cooking = make_words(SPORTS), make_words(COOKING, start_ms=60_000)
    result = chapters.run(make_doc(sports + cooking))["chapters"]
    assert len(result) == 2
    first, second = result
    assert first["start"] == 0 and second["end"] == cooking[-1]["end"]
    assert abs(second["start"] - cooking[0]["start"]) <= 5000  # within about one sentence of the true switch
    assert first["end"] < second["start"]
    assert first["summary"] and first["headline"] in SPORTS and second["headline"] in COOKING
    assert first["gist"].lower() in SPORTS.lower() and second["gist"].lower() in COOKING.lower()


def test_one_topic_is_one_chapter_and_short_audio_is_never_split() -> None:
    assert len(chapters.run(doc_of(SPORTS + " " + SPORTS))["chapters"]) == 1
    short = chapters.run(doc_of("Hello there. How are you? Fine, thanks."))["chapters"]
    assert len(short) == 1 and short[0]["start"] == 0


def test_depth_scores_peak_at_a_valley() -> None:
    sims = np.array([0.9, 0.8, 0.2, 0.85, 0.9])
    depths = chapters.depth_scores(sims)
    assert int(np.argmax(depths)) == 2 and depths[2] == pytest.approx(0.7 + 0.7)


# topics


@pytest.mark.parametrize(
    ("text", "tier1"),
    [
        (SPORTS, "Sports"),
        (COOKING, "Food&Drink"),
        (
            "The company's quarterly earnings beat analyst expectations and its shares rose six percent. "
            "Investors expect the central bank to raise interest rates again next month.",
            "BusinessAndFinance",
        ),
        (
            "The patient was diagnosed with diabetes and the doctor prescribed insulin. Regular blood sugar "
            "checks and a change of diet help manage the disease.",
            "MedicalHealth",
        ),
        (
            "Astronomers observed a distant galaxy with the space telescope and measured how fast it moves "
            "away from us. The data supports the theory of an expanding universe.",
            "Science",
        ),
    ],
)
def test_topic_of_a_paragraph(text: str, tier1: str) -> None:
    result = topics.run(doc_of(text))["iab_categories_result"]
    top = result["results"][0]["labels"][0]
    assert top["label"].split(">")[0] == tier1
    assert next(iter(result["summary"])).split(">")[0] == tier1
    assert max(result["summary"].values()) == 1.0


def test_topics_results_cover_the_transcript_with_taxonomy_labels() -> None:
    labels, _ = topics.taxonomy()
    assert len(labels) == 698 and len(set(labels)) == 698
    # Spelled as in the spec's examples.
    assert {"Sports>Soccer", "NewsAndPolitics>Weather", "Home&Garden>IndoorEnvironmentalQuality"} <= {*labels}
    words = make_words(SPORTS + " " + COOKING)
    result = topics.run(make_doc(words))["iab_categories_result"]
    assert result["status"] == "success" and len(result["results"]) >= 2
    assert result["results"][0]["timestamp"]["start"] == 0
    assert result["results"][-1]["timestamp"]["end"] == words[-1]["end"]
    assert " ".join(r["text"] for r in result["results"]) == " ".join(w["text"] for w in words)
    for r in result["results"]:
        rel = [label["relevance"] for label in r["labels"]]
        assert rel == sorted(rel, reverse=True) and all(0 <= x <= 1 for x in rel)
        assert {label["label"] for label in r["labels"]} <= set(labels)


# content safety


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("He keeps a loaded pistol in his drawer.", "weapons"),
        ("The terrorist detonated a bomb at the airport.", "terrorism"),
        ("He started using cocaine in college.", "drugs"),
        ("The flood washed away bridges and roads.", "disasters"),
        ("He was hungover after drinking too much champagne.", "alcohol"),
        ("Sports betting apps are making people lose their savings.", "gambling"),
    ],
)
def test_content_safety_labels_a_sensitive_sentence(text: str, label: str) -> None:
    result = content_safety.run(doc_of(text))["content_safety_labels"]
    (segment,) = result["results"]
    assert segment["labels"][0]["label"] == label
    assert segment["labels"][0]["confidence"] >= 0.5
    assert (segment["sentences_idx_start"], segment["sentences_idx_end"]) == (0, 0)
    assert label in result["summary"] and label in result["severity_score_summary"]
    bins = result["severity_score_summary"][label]
    assert sum(bins.values()) == pytest.approx(1.0)


def test_profanity_is_found_by_the_word_list_even_when_masked() -> None:
    for text in ("What the fuck is this shit.", "What the f*** is this s***."):
        result = content_safety.run(doc_of(text))["content_safety_labels"]
        labels = {label["label"]: label for r in result["results"] for label in r["labels"]}
        assert labels["profanity"]["confidence"] == pytest.approx(0.99)
    assert content_safety.profanity_confidence(make_words("What a lovely day")) == 0.0


def test_ordinary_speech_gets_no_content_safety_label_and_threshold_filters() -> None:
    calm = doc_of(
        "Good morning, everyone, and welcome to the meeting. Can you send me the slides after the call? "
        "Please remember to water the plants while I am away. The recipe needs two eggs and a cup of milk."
    )
    assert content_safety.run(calm)["content_safety_labels"]["results"] == []
    text = "Two cars collided at the intersection and a pedestrian was hurt."
    conf = content_safety.run(doc_of(text))["content_safety_labels"]["summary"]["accidents"]
    assert conf < 1.0
    strict = content_safety.run(doc_of(text, content_safety_confidence=int(conf * 100) + 1))
    assert "accidents" not in strict["content_safety_labels"]["summary"]


# The OA schema leaves `label` a free string; the Python SDK's enum (docs/compatibility.md#transcript-object)
# is the documented list.
DOCUMENTED_SAFETY_LABELS = frozenset(
    [
        *("accidents", "alcohol", "financials", "crime_violence", "drugs", "gambling", "hate_speech"),
        *("health_issues", "manga", "marijuana", "disasters", "negative_news", "nsfw", "pornography"),
        *("profanity", "sensitive_social_issues", "terrorism", "tobacco", "weapons"),
    ]
)


def test_content_safety_labels_are_the_documented_list() -> None:
    labels, _ = content_safety.label_confidences(embed(["hello"]))
    assert len(DOCUMENTED_SAFETY_LABELS) == 19
    assert {*labels, "profanity"} == DOCUMENTED_SAFETY_LABELS


def test_every_feature_accepts_an_empty_transcript() -> None:
    empty = make_doc([])
    assert highlights.run(empty)["auto_highlights_result"] == {"status": "success", "results": []}
    assert entities.run(empty) == {"entities": []}
    assert sentiment.run(empty) == {"sentiment_analysis_results": []}
    assert chapters.run(empty) == {"chapters": []}
    assert topics.run(empty)["iab_categories_result"]["results"] == []
    safety = content_safety.run(empty)["content_safety_labels"]
    assert (safety["results"], safety["summary"], safety["severity_score_summary"]) == ([], {}, {})


# end to end


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.real
@pytest.mark.timeout(900)  # two real transcriptions plus first loads of spaCy, MiniLM and the taxonomy
def test_every_text_feature_through_the_sdk_on_real_speech(real_sdk: aai.Transcriber) -> None:
    audio = str(AUDIO / "pyannote_sample.wav")
    config = aai.TranscriptionConfig(
        auto_highlights=True,
        entity_detection=True,
        sentiment_analysis=True,
        iab_categories=True,
        content_safety=True,
        summarization=True,
        summary_model=aai.SummarizationModel.informative,
        summary_type=aai.SummarizationType.bullets,
    )
    transcript = real_sdk.transcribe(audio, config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    body = raw_body(f"/v2/transcript/{transcript.id}")
    assert_matches("Transcript", body)
    assert transcript.auto_highlights.status == "success" and transcript.auto_highlights.results
    places = {e.text for e in transcript.entities if e.entity_type == aai.EntityType.location}
    assert {"New Jersey", "Texas"} <= places  # "This is Diane in New Jersey. And I'm Sheila in Texas"
    assert len(transcript.sentiment_analysis) >= 3
    assert transcript.iab_categories.results and transcript.iab_categories.summary
    assert transcript.content_safety.status == "success"
    assert transcript.summary and transcript.summary.startswith("- ")

    # auto_chapters excludes summarization (docs/compatibility.md#option-rules): a second, shorter request.
    chaptered = real_sdk.transcribe(str(AUDIO / "jfk.flac"), aai.TranscriptionConfig(auto_chapters=True))
    assert chaptered.status == aai.TranscriptStatus.completed, chaptered.error
    assert_matches("Transcript", raw_body(f"/v2/transcript/{chaptered.id}"))
    (chapter,) = chaptered.chapters  # 11 s of one topic
    assert (chapter.start, chapter.end) == (chaptered.words[0].start, chaptered.words[-1].end)
    assert chapter.headline and chapter.gist and chapter.summary
