"""server.media: decoding real files, fixtures made with PyAV, error wordings
(docs/compatibility.md#processing-errors)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import av
import numpy as np
import pytest

from server import errors
from server.media.channels import split_channels
from server.media.decode import decode
from server.media.encode import write_audio
from server.media.errors import MediaError
from server.media.probe import MediaInfo, probe
from server.media.speech import speech_fraction
from tests.support.spec import AUDIO

MANIFEST = AUDIO / "manifest.json"
NOT_MEDIA_SUFFIXES = {".json", ".md", ".rttm", ".stm"}


def _manifest() -> dict[str, dict]:
    return {entry["file"]: entry for entry in json.loads(MANIFEST.read_text())}


def _audio_files() -> list[str]:
    if not AUDIO.is_dir():
        return []
    return sorted(p.name for p in AUDIO.iterdir() if p.is_file() and p.suffix not in NOT_MEDIA_SUFFIXES)


# --- fixtures made with PyAV --------------------------------------------------------------------


def _tone(seconds: float, rate: int, channels: int = 1, clicks: tuple[float, ...] = ()) -> np.ndarray:
    """A quiet 440 Hz tone (channel 2 at 660 Hz) with full-scale clicks at the given times."""
    t = np.arange(round(seconds * rate)) / rate
    rows = [0.2 * np.sin(2 * np.pi * (440 + 220 * c) * t) for c in range(channels)]
    out = np.stack(rows).astype(np.float32)
    for at in clicks:
        i = round(at * rate)
        out[:, i : i + max(1, rate // 1000)] = 0.95
    return out


def _write(
    path: Path, samples: np.ndarray, rate: int, codec: str, fmt: str | None = None, video: bool = False
) -> Path:
    """Encode (channels, n) float samples with any encoder the av wheel has, optionally with video."""
    layout = {1: "mono", 2: "stereo"}[samples.shape[0]]
    with av.open(str(path), "w", format=fmt) as container:
        if video:
            vstream = container.add_stream("libx264", rate=10)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        stream = container.add_stream(codec, rate=rate, layout=layout)
        sample_fmt = stream.codec_context.codec.audio_formats[0].name
        stream.format = sample_fmt
        step = stream.codec_context.frame_size or 1024
        for offset in range(0, samples.shape[1], step):
            block = samples[:, offset : offset + step]
            frame = _frame(block, sample_fmt, layout)
            frame.sample_rate, frame.pts = rate, offset
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if video:
            for i in range(int(samples.shape[1] / rate * 10)):
                image = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, np.uint8), format="rgb24")
                image.pts = i
                container.mux(vstream.encode(image))
            container.mux(vstream.encode(None))
    return path


def _frame(block: np.ndarray, sample_fmt: str, layout: str) -> av.AudioFrame:
    planar = sample_fmt.endswith("p")
    base = sample_fmt.rstrip("p")
    if base == "flt":
        data = block
    elif base == "s16":
        data = np.round(block * 32767).astype(np.int16)
    elif base == "s32":
        data = np.round(block * 2147483647).astype(np.int32)
    elif base == "u8":
        data = np.round(block * 127 + 128).astype(np.uint8)
    else:
        raise AssertionError(f"test helper lacks sample format {sample_fmt}")
    if not planar:
        data = data.T.reshape(1, -1)
    return av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=sample_fmt, layout=layout)


def _video_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            image = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            image.pts = i
            container.mux(stream.encode(image))
        container.mux(stream.encode(None))
    return path


def _jpeg(path: Path) -> Path:
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        image = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 100, np.uint8), format="rgb24")
        image.pts = 0
        container.mux(stream.encode(image))
        container.mux(stream.encode(None))
    return path


CLICKS = (1.0, 2.5, 4.0)
# name -> (encoder, container format or None for the suffix's, rate, channels)
GENERATED = {
    "mulaw.wav": ("pcm_mulaw", "wav", 8000, 1),
    "u8.wav": ("pcm_u8", "wav", 22050, 1),
    "s16_48k_stereo.wav": ("pcm_s16le", "wav", 48000, 2),
    "aac.m4a": ("aac", "mp4", 44100, 1),
    "opus.webm": ("libopus", "webm", 48000, 1),
    "lame.mp3": ("libmp3lame", "mp3", 24000, 1),
    "flac.flac": ("flac", "flac", 44100, 2),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    files = {}
    for name, (codec, fmt, rate, channels) in GENERATED.items():
        files[name] = _write(root / name, _tone(5.0, rate, channels, CLICKS), rate, codec, fmt)
    files["movie.mp4"] = _write(root / "movie.mp4", _tone(3.0, 44100, 2), 44100, "aac", "mp4", video=True)
    return files


# --- the recordings in tests/data ------------------------------------------------------------------------


@pytest.mark.parametrize("name", _audio_files())
def test_decode_every_shared_file(name: str) -> None:
    entry = _manifest()[name]
    samples = decode(AUDIO / name)
    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert abs(samples.shape[0] / 16000 - entry["duration_s"]) <= 0.1
    assert float(np.abs(samples).max()) <= 1.0
    assert float(np.abs(samples).max()) > 0.01  # real sound, not silence

    info = probe(AUDIO / name)
    assert isinstance(info, MediaInfo)
    assert abs(info.duration_s - entry["duration_s"]) <= 0.1
    assert (info.channels, info.sample_rate, info.codec) == (
        entry["channels"],
        entry["sample_rate"],
        entry["codec"],
    )
    assert info.container


def test_mono_and_stereo_on_stereo_file() -> None:
    path = AUDIO / "stereo_diarization.wav"
    mono = decode(path)
    stereo = decode(path, mono=False)
    assert mono.shape == (80000,)
    assert stereo.shape == (2, 80000) and stereo.dtype == np.float32
    np.testing.assert_allclose(mono, stereo.mean(axis=0), atol=1e-6)
    # the two channels are different speakers: right is nearly silent after ~2.6 s, left is not
    tail = slice(3 * 16000, 5 * 16000)
    assert np.sqrt(np.mean(stereo[0, tail] ** 2)) > 5 * np.sqrt(np.mean(stereo[1, tail] ** 2))
    left, right = split_channels(path)
    np.testing.assert_array_equal(left, stereo[0])
    np.testing.assert_array_equal(right, stereo[1])
    assert left.flags.c_contiguous


def test_keeps_native_rate_and_channels() -> None:
    samples = decode(AUDIO / "jfk.flac", sample_rate=44100, mono=False)
    assert samples.shape == (2, 485100)


@pytest.mark.parametrize(
    "name", ["jfk.flac", "hotwords.mp3", "pyannote_sample.wav", "es_fleurs_002.ogg", "multilingual.mp3"]
)
def test_span_cut_matches_full_decode(name: str) -> None:
    full = decode(AUDIO / name)
    span = decode(AUDIO / name, start_ms=1500, end_ms=3750)
    assert abs(span.shape[0] - 2.25 * 16000) <= 160  # ±10 ms
    # the span lines up with the same samples of the full decode (±10 ms): best lag is ~0
    ref = full[1500 * 16 - 8000 : 3750 * 16 + 8000]
    corr = np.correlate(ref, span[: 2 * 16000], mode="valid")
    assert abs(int(np.argmax(corr)) - 8000) <= 160
    tail = decode(AUDIO / name, start_ms=2000)
    assert abs(tail.shape[0] - (full.shape[0] - 32000)) <= 160


def test_span_beyond_end_is_empty() -> None:
    assert decode(AUDIO / "en_timit_LDC93S1.wav", start_ms=60_000).shape == (0,)
    assert decode(AUDIO / "jfk.flac", start_ms=60_000, mono=False).shape == (2, 0)


def test_bad_span_arguments() -> None:
    with pytest.raises(ValueError):
        decode(AUDIO / "jfk.flac", start_ms=3000, end_ms=1000)
    with pytest.raises(ValueError):
        decode(AUDIO / "jfk.flac", start_ms=-1)


# --- formats made here ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*GENERATED, "movie.mp4"])
def test_generated_formats_decode(generated: dict[str, Path], name: str) -> None:
    path = generated[name]
    seconds = 3.0 if name == "movie.mp4" else 5.0
    samples = decode(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.shape[0] / 16000 - seconds) <= 0.1
    assert float(np.abs(samples).max()) <= 1.0
    info = probe(path)
    assert abs(info.duration_s - seconds) <= 0.1
    if name == "movie.mp4":
        assert (info.codec, info.channels) == ("aac", 2)
        return
    codec, _fmt, rate, channels = GENERATED[name]
    assert (info.sample_rate, info.channels) == (rate, channels)
    assert info.codec == {"libopus": "opus", "libmp3lame": "mp3"}.get(codec, codec)
    # the clicks come out where they were put, in a full decode and in a seeked span (±10 ms)
    peaks = _peaks(samples)
    for want in CLICKS:
        assert min(abs(p - want) for p in peaks) <= 0.01, (name, want, peaks)
    span = decode(path, start_ms=2000, end_ms=4500)
    assert abs(span.shape[0] - 2.5 * 16000) <= 160
    assert abs(_peaks(span)[0] - 0.5) <= 0.01


def _peaks(samples: np.ndarray) -> list[float]:
    """Times (s) of the clicks: the loudest sample in each 0.5 s window that rises well above the tone."""
    times = []
    for start in range(0, samples.shape[0], 8000):
        window = np.abs(samples[start : start + 8000])
        if window.size and window.max() > 0.6:
            times.append((start + int(np.argmax(window))) / 16000)
    return times


def test_mulaw_and_u8_keep_the_signal(generated: dict[str, Path]) -> None:
    for name in ("mulaw.wav", "u8.wav"):
        samples = decode(generated[name])
        original = _tone(5.0, 16000)[0]
        quiet = slice(1000, 15000)  # before the first click
        assert np.corrcoef(samples[quiet], original[quiet])[0, 1] > 0.95


# --- what is not audio --------------------------------------------------------------------------------


@pytest.fixture(params=["libmagic", "puremagic"])
def sniffer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the wording tests with libmagic (python-magic) and with the pure-Python fallback."""
    from server.media import sniff

    if request.param == "libmagic":
        if sniff._libmagic() is None:
            pytest.skip("python-magic/libmagic not installed")
    else:
        monkeypatch.setattr(sniff, "_libmagic", lambda: None)
    return request.param


def _message_start(template: str, mime: str) -> str:
    return template.split("{mime}")[0] + mime + " ("


def _raises(path: Path) -> list[str]:
    messages = []
    for fn in (decode, probe):
        with pytest.raises(MediaError) as caught:
            fn(path)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    return messages


def test_video_without_audio_is_not_audio(tmp_path: Path, sniffer: str) -> None:
    (message, _) = _raises(_video_only(tmp_path / "silent.mp4"))
    assert message.startswith(_message_start(errors.NOT_AUDIO, "video/mp4")) and message.endswith(").")


def test_image_is_not_audio(tmp_path: Path, sniffer: str) -> None:
    (message, _) = _raises(_jpeg(tmp_path / "photo.jpg"))
    assert message.startswith(_message_start(errors.NOT_AUDIO, "image/jpeg"))


def test_empty_file_is_not_audio(tmp_path: Path, sniffer: str) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    (message, _) = _raises(path)
    assert message == errors.NOT_AUDIO.format(mime="inode/x-empty", description="empty")


def test_html_is_not_audio(tmp_path: Path, sniffer: str) -> None:
    path = tmp_path / "page.mp3"
    path.write_text("<!DOCTYPE html>\n<html><head><title>Not found</title></head><body>404</body></html>\n")
    (message, _) = _raises(path)
    assert message.startswith(_message_start(errors.NOT_AUDIO, "text/html") + "HTML document, ASCII text")


def test_random_bytes_fail_transcoding(tmp_path: Path, sniffer: str) -> None:
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(1234).bytes(4096))
    (message, _) = _raises(path)
    assert message == errors.TRANSCODING_FAILED.format(mime="application/octet-stream", description="data")


def test_truncated_flac_fails_transcoding(tmp_path: Path, sniffer: str) -> None:
    head = (AUDIO / "jfk.flac").read_bytes()[:100]  # the header survives, no audio frame does
    path = tmp_path / "cut.flac"
    path.write_bytes(head)
    (message, _) = _raises(path)
    assert message.startswith(_message_start(errors.TRANSCODING_FAILED, "audio/flac"))


def test_missing_file_is_a_media_error(tmp_path: Path) -> None:
    _raises(tmp_path / "nope.wav")


def test_half_a_flac_decodes_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "half.flac"
    path.write_bytes((AUDIO / "jfk.flac").read_bytes()[:600_000])
    samples = decode(path)
    assert 3.0 < samples.shape[0] / 16000 < 11.0


# --- encode ---------------------------------------------------------------------------------------------


def test_write_wav_round_trip(tmp_path: Path) -> None:
    tone = _tone(2.0, 16000)[0]
    out = write_audio(tone, 16000, tmp_path / "out.wav", "wav")
    assert out == tmp_path / "out.wav" and sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    back = decode(out)
    assert back.shape == tone.shape
    assert float(np.abs(back - tone).max()) < 1e-4
    info = probe(out)
    assert (info.codec, info.sample_rate, info.channels) == ("pcm_s16le", 16000, 1)


@pytest.mark.parametrize("channels", [1, 2])
def test_write_mp3_round_trip(tmp_path: Path, channels: int) -> None:
    tone = _tone(2.0, 16000, channels)
    out = write_audio(tone if channels == 2 else tone[0], 16000, tmp_path / "out.mp3", "mp3")
    info = probe(out)
    assert (info.codec, info.channels) == ("mp3", channels)
    assert abs(info.duration_s - 2.0) <= 0.05
    back = decode(out, mono=False)
    assert back.shape[0] == channels and abs(back.shape[1] - 32000) <= 800
    middle = slice(4000, 28000)
    for c in range(channels):
        assert np.corrcoef(back[c, middle], tone[c, middle])[0, 1] > 0.99


# --- speech fraction ------------------------------------------------------------------------------------


def test_speech_fraction() -> None:
    assert speech_fraction(decode(AUDIO / "jfk.flac")) > 0.6
    assert speech_fraction(np.zeros(3 * 16000, dtype=np.float32)) < 0.01
    assert speech_fraction(np.zeros(0, dtype=np.float32)) == 0.0


def test_probe_counts_when_no_duration_is_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    probe_module = importlib.import_module("server.media.probe")

    monkeypatch.setattr(probe_module, "_declared_duration", lambda container, stream: None)
    assert abs(probe(AUDIO / "es_fleurs_002.ogg").duration_s - 9.726) <= 0.1


@pytest.mark.parametrize("name", ["jfk.flac", "hotwords.mp3", "es_fleurs_002.ogg"])
def test_matches_faster_whisper_decode_audio(name: str) -> None:
    """Same samples faster-whisper would feed itself (its s16 path), up to 16-bit rounding."""
    from faster_whisper.audio import decode_audio

    ours, theirs = decode(AUDIO / name), decode_audio(str(AUDIO / name))
    assert ours.shape == theirs.shape
    assert float(np.abs(ours - theirs).max()) < 1e-4
