"""What is in a media file (duration, channels, codec) without decoding all of it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av

from server.media._container import iter_frames, open_audio
from server.media.errors import audio_too_long, transcoding_failed


@dataclass
class MediaInfo:
    duration_s: float
    channels: int
    sample_rate: int
    codec: str  # ffmpeg's canonical codec name: "mp3", "flac", "opus", "aac", "pcm_s16le"
    container: str  # ffmpeg's demuxer name: "wav", "flac", "ogg", "mov,mp4,m4a,3gp,3g2,mj2", ...
    tags: dict[str, str] = field(default_factory=dict)  # container + audio-stream metadata, keys lowercased


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe the audio stream of ``path``.

    The duration is the one the container declares; only when it declares none (e.g. MediaRecorder
    webm) is the stream decoded to count samples. The first audio frame is always decoded, so a file
    that opens but cannot produce sound fails here rather than later in the job.
    """
    return _probe(path, measure=False, limit_s=None)


def probe_measured(path: str | os.PathLike[str], limit_s: float | None = None) -> MediaInfo:
    """`probe`, with the duration counted from every decoded frame as `measure_duration` counts it, in
    one opening of the file (a job needs both; opening it twice was a visible share of a short job's CPU,
    issue 19)."""
    return _probe(path, measure=True, limit_s=limit_s)


def _probe(path: str | os.PathLike[str], *, measure: bool, limit_s: float | None) -> MediaInfo:
    with open_audio(path) as (container, stream):
        declared = None if measure else _declared_duration(container, stream)
        counts: dict[int, int] = {}  # samples per rate: integer sums, no float drift over hours
        first: av.AudioFrame | None = None
        for frame in iter_frames(container, stream):
            if first is None:
                first = frame
                if declared is not None:
                    break
            rate = int(frame.sample_rate or stream.sample_rate or 1)
            counts[rate] = counts.get(rate, 0) + frame.samples
            if limit_s is not None and counts[rate] > limit_s * rate and _seconds(counts) > limit_s:
                raise audio_too_long()
        if first is None:
            raise transcoding_failed(path)
        cc = stream.codec_context
        tags = {str(k).lower(): str(v) for k, v in container.metadata.items()}
        tags.update({str(k).lower(): str(v) for k, v in stream.metadata.items()})
        return MediaInfo(
            duration_s=declared if declared is not None else _seconds(counts),
            channels=int(cc.channels or first.layout.nb_channels),
            sample_rate=int(stream.sample_rate or first.sample_rate),
            codec=_codec_name(stream),
            container=container.format.name,
            tags=tags,
        )


def _declared_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    return None


def _codec_name(stream: av.AudioStream) -> str:
    """The format-level name ("mp3"), not the decoder's ("mp3float"), as ffprobe reports it."""
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def measure_duration(path: str | os.PathLike[str], limit_s: float | None = None) -> float:
    """Seconds of audio the best stream of ``path`` really holds, counted from its decoded frames.

    A container's header may say 1 s and hold an hour (or the reverse): the job's duration limit and
    `audio_duration` use this count. Decoding stops as soon as the count passes ``limit_s`` (MediaError
    with the API's "too long" text). Memory is one frame; the cost is one decode without resampling.
    """
    return probe_measured(path, limit_s).duration_s


def _seconds(counts: dict[int, int]) -> float:
    return sum(n / rate for rate, n in counts.items())
