"""The data directory holds uploaded audio, redacted audio, webhook secrets (in the SQLite file) and TLS keys:
only the account the server runs as may read it (docs/security.md "Files").

`secure_data_dir` runs once per process before anything is written: the process umask becomes 077, so every
file and folder it creates afterwards is 0600/0700 (SQLite's journal files, ffmpeg's outputs and the TLS key
included, without each writer having to remember), and folders an older version left 0755 are tightened.
"""

from __future__ import annotations

import os
from pathlib import Path

from server.config import Settings

PRIVATE_DIR = 0o700
PRIVATE_UMASK = 0o077


def secure_data_dir(settings: Settings) -> None:
    os.umask(PRIVATE_UMASK)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    for folder in (
        settings.data_dir,
        settings.uploads_dir,
        settings.downloads_dir,
        settings.redacted_audio_dir,
        settings.data_dir / "tls",
    ):
        _tighten(folder)


def _tighten(folder: Path) -> None:
    """A folder's own mode is enough: nobody else can reach the files inside a 0700 folder."""
    try:
        if folder.is_dir() and folder.stat().st_mode & 0o077:
            folder.chmod(PRIVATE_DIR)
    except PermissionError:  # not ours (a mounted volume): leave it, the umask still covers new files
        pass
