"""The one exception the media package raises, carrying the transcript's exact error text
(docs/compatibility.md#processing-errors)."""

from __future__ import annotations

import os

from server import errors
from server.media.sniff import sniff


class MediaError(Exception):
    """A file we cannot turn into audio; ``str(exc)`` is the user-facing message, ready for the transcript."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# MIME families that say "this was meant to be audio/video (or we cannot tell)": when such a file still
# fails, the honest answer is "Transcoding failed", not "this is not audio".
_MEDIA_PREFIXES = ("audio/", "video/")
_MEDIA_MIMES = frozenset({"application/octet-stream", "application/ogg", "application/x-matroska"})


def looks_like_media(mime: str) -> bool:
    """True for MIME types that claim audio/video content or say nothing (unknown bytes)."""
    return mime.startswith(_MEDIA_PREFIXES) or mime in _MEDIA_MIMES


def not_audio(path: str | os.PathLike[str]) -> MediaError:
    """The file is something else (HTML, an image, a video without sound, an empty file)."""
    mime, description = sniff(path)
    return MediaError(errors.NOT_AUDIO.format(mime=mime, description=description))


def transcoding_failed(path: str | os.PathLike[str]) -> MediaError:
    """The file claims to be media (or is unknown bytes) but ffmpeg cannot decode audio from it."""
    mime, description = sniff(path)
    return MediaError(errors.TRANSCODING_FAILED.format(mime=mime, description=description))


def unreadable(path: str | os.PathLike[str]) -> MediaError:
    """ffmpeg could not open the file at all: pick the template from what the bytes look like."""
    mime, description = sniff(path)
    template = errors.TRANSCODING_FAILED if looks_like_media(mime) else errors.NOT_AUDIO
    return MediaError(template.format(mime=mime, description=description))


def audio_too_long() -> MediaError:
    """More audio decoded than a job may transcribe (docs/compatibility.md#processing-errors), whatever the
    header declared."""
    return MediaError(errors.AUDIO_TOO_LONG)
