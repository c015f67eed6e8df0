"""PII redaction: detection quality on written cases, substitution rules, redacted audio, and the whole
journey through the official SDK (mock engine for the endpoint's states, real engine on synthetic speech)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import assemblyai as aai
import av
import httpx
import numpy as np
import pytest

from server.intelligence import pii
from server.intelligence.document import Document
from server.media.decode import decode
from server.media.encode import write_audio
from server.media.redact import BEEP_HZ, redact_samples, write_redacted
from server.services.param_table import PII_POLICIES
from server.text.formatting import join_text
from server.transcript_request import TranscriptRequest
from tests.conftest import StartServer, raw_body
from tests.support.server import API_KEY
from tests.support.spec import assert_matches

SR = 16_000
ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="needs espeak-ng (make test installs it)")


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _words(text: str, step_ms: int = 400) -> list[dict]:
    return [
        {
            "text": t,
            "start": i * step_ms,
            "end": i * step_ms + step_ms - 50,
            "confidence": 0.9,
            "speaker": None,
        }
        for i, t in enumerate(text.split())
    ]


# --- detection quality ------------------------------------------------------------------------------------

# Sentences as the speech model writes them, with the PII a person would mark. The last three are known
# misses of a text-only detector on unformatted speech (spelled-out digits, a spoken e-mail address).
CASES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Hi, my name is John Smith and my phone number is 555-123-4567.",
        [("John Smith", "person_name"), ("555-123-4567", "phone_number")],
    ),
    ("This is Diane in New Jersey.", [("Diane", "person_name"), ("New Jersey", "location")]),
    (
        "You can reach Maria Garcia at maria.garcia@example.com after Monday.",
        [("Maria Garcia", "person_name"), ("maria.garcia@example.com", "email_address"), ("Monday", "date")],
    ),
    (
        "I was born in Chicago and I work for Microsoft in Seattle.",
        [("Chicago", "location"), ("Microsoft", "organization"), ("Seattle", "location")],
    ),
    ("My credit card number is 4111 1111 1111 1111.", [("4111 1111 1111 1111", "credit_card_number")]),
    (
        "The server's address is 192.168.1.20 and the site is https://www.example.org.",
        [("192.168.1.20", "ip_address"), ("https://www.example.org", "url")],
    ),
    ("My social security number is 536-90-4399.", [("536-90-4399", "us_social_security_number")]),
    (
        "I paid $250 for the ticket on March 3rd, 2021.",
        [("$250", "money_amount"), ("March 3rd, 2021", "date")],
    ),
    (
        "Dr. Robert Brown said I am 42 years old.",
        [("Robert Brown", "person_name"), ("42 years old", "person_age")],
    ),
    (
        "Please call Sarah on 020 7946 0958 tomorrow.",
        [("Sarah", "person_name"), ("020 7946 0958", "phone_number"), ("tomorrow", "date")],
    ),
    (
        "We flew from London to Paris with British Airways.",
        [("London", "location"), ("Paris", "location"), ("British Airways", "organization")],
    ),
    (
        "Send the invoice to billing@acme.io and copy James Wilson.",
        [("billing@acme.io", "email_address"), ("James Wilson", "person_name")],
    ),
    ("Okay, I thought you know, I heard a beep.", []),
    ("The weather was nice and we went for a long walk by the river.", []),
    ("At least you know, they all call me a Yankee down here, so what can I say?", []),
    (
        "My account is with Bank of America and the number is 12345678.",
        [("Bank of America", "organization"), ("12345678", "account_number")],
    ),
    (
        "I'm Sheila in Texas, originally from Chicago.",
        [("Sheila", "person_name"), ("Texas", "location"), ("Chicago", "location")],
    ),
    (
        "Apple released a new phone and Tim Cook presented it in Cupertino.",
        [("Apple", "organization"), ("Tim Cook", "person_name"), ("Cupertino", "location")],
    ),
    ("my name is john smith and i live in boston", [("john smith", "person_name"), ("boston", "location")]),
    (
        "Call me on five five five, one two three, four five six seven.",
        [("five five five, one two three, four five six seven", "phone_number")],
    ),
    ("My email is j dot doe at gmail dot com.", [("j dot doe at gmail dot com", "email_address")]),
]
POLICIES = sorted({policy for _, gold in CASES for _, policy in gold})


def test_recall_and_precision_on_written_cases() -> None:
    """Entity-level: a gold span is found when a detection of the same policy overlaps it. Measured when
    written: recall 36/38 = 0.947, precision 36/37 = 0.973 (the misses are the spelled-out cases)."""
    hits = false_alarms = misses = 0
    for text, gold in CASES:
        found = pii.detect(text, POLICIES)
        spans = [(text.index(s), text.index(s) + len(s), p) for s, p in gold]
        for a, b, p in spans:
            ok = any(e.start < b and a < e.end and e.policy == p for e in found)
            hits, misses = hits + ok, misses + (not ok)
        false_alarms += sum(
            not any(e.start < b and a < e.end and e.policy == p for a, b, p in spans) for e in found
        )
    recall, precision = hits / (hits + misses), hits / (hits + false_alarms)
    assert recall >= 0.9, (recall, misses)
    assert precision >= 0.9, (precision, false_alarms)


def test_only_requested_policies_are_redacted() -> None:
    text = "Hi, my name is John Smith and I live in Boston."
    assert [text[e.start : e.end] for e in pii.detect(text, ["location"])] == ["Boston"]
    assert [text[e.start : e.end] for e in pii.detect(text, ["person_name"])] == ["John Smith"]
    assert pii.detect(text, ["blood_type"]) == []  # accepted by the API, no local model serves it


def test_policy_table_covers_the_spec_enum() -> None:
    assert set(pii.POLICY_SOURCES) | pii.UNSERVED_POLICIES == set(PII_POLICIES)
    assert not set(pii.POLICY_SOURCES) & pii.UNSERVED_POLICIES


def test_non_english_uses_only_language_neutral_patterns() -> None:
    text = "Me llamo Juan Pérez, mi correo es juan.perez@example.com"
    found = pii.detect(text, ["person_name", "email_address"], english=False)
    assert [(text[e.start : e.end], e.policy) for e in found] == [("juan.perez@example.com", "email_address")]


# --- substitution -----------------------------------------------------------------------------------------


def _redact(text: str, sub: str, policies: list[str] | None = None) -> tuple[list[dict], list[dict]]:
    words = _words(text)
    return pii.redact_words(
        words, pii.detect(join_text(words), policies or ["person_name", "phone_number"]), sub
    )


def test_hash_keeps_punctuation_and_word_count() -> None:
    words, spans = _redact("Hi, my name is John Smith! Call 555-123-4567.", "hash")
    assert join_text(words) == "Hi, my name is #### #####! Call ###-###-####."
    assert len(words) == 8 and [w["start"] for w in words] == [i * 400 for i in range(8)]
    assert [(s["policy"], s["start"], s["end"]) for s in spans] == [
        ("person_name", 1600, 2350),
        ("phone_number", 2800, 3150),
    ]


def test_entity_name_makes_one_word_per_entity() -> None:
    words, spans = _redact("Hi, my name is John Smith! Bye.", "entity_name")
    assert join_text(words) == "Hi, my name is [PERSON_NAME]! Bye."
    named = words[4]
    assert (named["text"], named["start"], named["end"]) == ("[PERSON_NAME]!", 1600, 2350)
    assert spans == [{"start": 1600, "end": 2350, "policy": "person_name"}]


def test_run_redacts_text_words_and_utterances() -> None:
    words = _words("My name is John Smith. Yes, I am John Smith.")
    for w in words:
        w["speaker"] = "A" if w["start"] < 2000 else "B"
    from server.text.utterances import build_utterances

    doc = Document(
        words=words,
        text=join_text(words),
        samples=np.zeros(SR * 5, dtype=np.float32),
        request=TranscriptRequest(redact_pii_policies=["person_name"], redact_pii_sub="hash"),
        language_code="en_us",
        utterances=build_utterances(words),
    )
    pii.run(doc)
    assert doc.text == "My name is #### #####. Yes, I am #### #####."
    assert "John" not in str(doc.utterances) and "Smith" not in str(doc.utterances)
    assert [u["speaker"] for u in doc.utterances] == ["A", "B"]
    assert len(doc.pii_spans) == 2
    assert words[3]["text"] == "John"  # the input words were not modified in place


# --- redacted audio ---------------------------------------------------------------------------------------


def _tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _dominant_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spectrum)])


def test_redact_samples_beeps_and_silences_only_the_spans() -> None:
    x = _tone(3.0)
    spans = [{"start": 1000, "end": 1500}]
    beeped = redact_samples(x, spans, SR)
    assert np.array_equal(beeped[:SR], x[:SR]) and np.array_equal(beeped[24000:], x[24000:])
    assert _dominant_hz(beeped[16200:23800]) == pytest.approx(BEEP_HZ, abs=5)
    silent = redact_samples(x, spans, SR, method="silence")
    assert not silent[SR:24000].any() and np.array_equal(silent[24000:], x[24000:])
    shifted = redact_samples(x, [{"start": 3000, "end": 3500}], SR, offset_ms=2000)  # the file's clock
    assert np.array_equal(shifted[SR:24000], beeped[SR:24000])
    assert np.array_equal(redact_samples(x, [{"start": 5000, "end": 6000}], SR), x)  # outside: nothing


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_written_file_has_the_source_duration(tmp_path: Path, fmt: str) -> None:
    x = _tone(2.5)
    path = write_redacted(x, [{"start": 500, "end": 900}], SR, tmp_path / f"r.{fmt}", fmt)  # type: ignore[arg-type]
    with av.open(str(path)) as container:
        assert container.format.name == fmt
    back = decode(path)
    assert abs(len(back) - len(x)) <= SR * 0.06
    assert _dominant_hz(back[9000:14000]) == pytest.approx(BEEP_HZ, abs=10)
    assert _dominant_hz(back[20000:36000]) == pytest.approx(220, abs=10)


# --- through the server: the endpoint's states (mock engine) ---------------------------------------------

MOCK_TEXT = "Hello, my name is John Smith and my phone number is 555-123-4567. Thank you."


def _wav(path: Path, seconds: float) -> Path:
    write_audio(_tone(seconds), SR, path, "wav")
    return path


def test_redacted_audio_endpoint_states(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(LOCALSCRIBE_MOCK_TEXT=MOCK_TEXT, LOCALSCRIBE_MOCK_DELAY_S="1.5")
    audio = _wav(tmp_path / "tone.wav", 6.0)
    with httpx.Client(base_url=server.url, headers={"Authorization": API_KEY}, timeout=30) as c:
        url = c.post("/v2/upload", content=audio.read_bytes()).json()["upload_url"]
        plain = c.post("/v2/transcript", json={"audio_url": url}).json()["id"]
        body = {
            "audio_url": url,
            "redact_pii": True,
            "redact_pii_policies": ["person_name", "phone_number"],
            "redact_pii_audio": True,
            "redact_pii_audio_quality": "wav",
        }
        tid = c.post("/v2/transcript", json=body).json()["id"]
        early = c.get(f"/v2/transcript/{tid}/redacted-audio")
        assert early.status_code == 202 and early.json() == {"status": "redacted_audio_processing"}
        deadline = time.monotonic() + 60
        while (r := c.get(f"/v2/transcript/{tid}/redacted-audio")).status_code == 202:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert r.status_code == 200, r.text
        assert_matches("RedactedAudioResponse", r.json())
        assert r.json()["status"] == "redacted_audio_ready"
        link = r.json()["redacted_audio_url"]
        assert link.startswith(f"{server.url}/v2/transcript/{tid}/redacted-audio/") and link.endswith(".wav")
        transcript = c.get(f"/v2/transcript/{tid}").json()
        assert "John" not in transcript["text"] and "#### #####" in transcript["text"]
        assert "redacted_audio_file" not in transcript  # the token is not in the transcript

        got = httpx.get(link)  # no auth, as the SDK downloads it
        assert got.status_code == 200 and got.headers["content-type"] == "audio/wav"
        (tmp_path / "got.wav").write_bytes(got.content)
        assert abs(len(decode(tmp_path / "got.wav")) - 6 * SR) <= SR * 0.01
        assert httpx.get(f"{link.rsplit('/', 1)[0]}/{'0' * 32}.wav").status_code == 404  # wrong token
        assert httpx.get(link.replace(tid, plain)).status_code == 404

        not_asked = c.get(f"/v2/transcript/{plain}/redacted-audio")
        assert not_asked.status_code == 400
        assert not_asked.json() == {"error": "Redacted audio is not available for this transcript"}

        assert c.delete(f"/v2/transcript/{tid}").status_code == 200
        assert c.get(f"/v2/transcript/{tid}/redacted-audio").status_code == 400
        assert httpx.get(link).status_code == 404


def test_sdk_gets_the_redacted_audio_and_redacted_exports(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server(LOCALSCRIBE_MOCK_TEXT=MOCK_TEXT)
    aai.settings.base_url, aai.settings.api_key, aai.settings.polling_interval = server.url, API_KEY, 0.1
    try:
        config = aai.TranscriptionConfig(
            redact_pii=True,
            redact_pii_policies=[aai.PIIRedactionPolicy.person_name, aai.PIIRedactionPolicy.phone_number],
            redact_pii_sub=aai.PIISubstitutionPolicy.entity_name,
            redact_pii_audio=True,
        )
        transcript = aai.Transcriber().transcribe(str(_wav(tmp_path / "tone.wav", 8.0)), config)
        assert transcript.status == aai.TranscriptStatus.completed, transcript.error
        assert transcript.text == (
            "Hello, my name is [PERSON_NAME] and my phone number is [PHONE_NUMBER]. Thank you."
        )
        _assert_exports_redacted(transcript, ["John", "Smith", "555"])
        target = tmp_path / "redacted.mp3"
        transcript.save_redacted_audio(str(target))
        assert transcript.get_redacted_audio_url().endswith(".mp3")
        with av.open(str(target)) as container:
            assert container.format.name == "mp3"
        assert abs(len(decode(target)) - 8 * SR) <= SR * 0.06
    finally:
        aai.settings.base_url = "https://api.assemblyai.com"


def _without_random_names(body: dict) -> dict:
    """The body less its random id and upload URL, whose hex can hold "555" by chance (seen once in CI)."""
    return {k: v for k, v in body.items() if k not in ("id", "audio_url")}


def _assert_exports_redacted(transcript: aai.Transcript, secrets: list[str]) -> None:
    """Every export is derived from the stored words, so none may show what the text hides."""
    exports = [
        transcript.export_subtitles_srt(),
        transcript.export_subtitles_vtt(),
        " ".join(s.text for s in transcript.get_sentences()),
        " ".join(p.text for p in transcript.get_paragraphs()),
        " ".join(w.text for w in transcript.words),
        str(_without_random_names(raw_body(f"/v2/transcript/{transcript.id}"))),
    ]
    for secret in secrets:
        assert not any(secret.lower() in e.lower() for e in exports), secret
        assert transcript.word_search([secret])[0].count == 0


# --- real engine on synthetic speech ------------------------------------------------------------------------


@pytest.mark.real
@needs_espeak
def test_real_speech_is_redacted_in_text_exports_and_audio(real_sdk: aai.Transcriber, tmp_path: Path) -> None:
    speech = tmp_path / "pii.wav"
    said = "Hello, this is a test. My name is John Smith and my phone number is 555 123 4567. Thank you."
    subprocess.run([ESPEAK, "-w", str(speech), said], check=True)
    config = aai.TranscriptionConfig(  # the default model (base): tiny.en drops digits of the number
        redact_pii=True,
        redact_pii_policies=[aai.PIIRedactionPolicy.person_name, aai.PIIRedactionPolicy.phone_number],
        redact_pii_audio=True,
        redact_pii_audio_quality=aai.PIIRedactedAudioQuality.wav,
    )
    transcript = real_sdk.transcribe(str(speech), config)
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    text = transcript.text
    assert "my name is #### #####" in text.lower(), text
    assert "phone number is ###" in text.lower() and "test" in text.lower(), text
    _assert_exports_redacted(transcript, ["John", "Smith", "4567"])
    assert_matches("Transcript", raw_body(f"/v2/transcript/{transcript.id}"))

    target = tmp_path / "redacted.wav"
    transcript.save_redacted_audio(str(target))
    original, redacted = decode(speech), decode(target)
    assert abs(len(redacted) - len(original)) <= SR * 0.01  # the same duration
    hidden = [w for w in transcript.words if "#" in w.text]
    assert hidden
    changed = np.zeros(len(original), dtype=bool)
    for w in hidden:
        a, b = w.start * SR // 1000, w.end * SR // 1000
        changed[a:b] = True
        assert _dominant_hz(redacted[a:b]) == pytest.approx(BEEP_HZ, abs=15)  # beeped, not speech
        assert np.abs(redacted[a:b] - original[a:b]).mean() > 0.05
    n = min(len(original), len(redacted))
    kept = ~changed[:n]
    assert np.abs(redacted[:n][kept] - original[:n][kept]).max() < 1e-3  # the rest is the source (16-bit wav)
