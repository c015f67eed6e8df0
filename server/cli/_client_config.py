"""Where the transcription client finds its server and key: flag, then environment, then config file.

The client's variables all start with `LOCALSCRIBE_CLIENT_` so that they can never be read as one of the
server's `LOCALSCRIBE_*` settings (a server and a client often share one shell). `ASSEMBLYAI_API_KEY`, the
name AssemblyAI's own tools read, is honoured for the key after the client's own variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

CONFIG_ENV = "LOCALSCRIBE_CLIENT_CONFIG"  # path of the config file (tests and several profiles)
SERVER_ENVS = ("LOCALSCRIBE_CLIENT_SERVER",)
KEY_ENVS = ("LOCALSCRIBE_CLIENT_KEY", "ASSEMBLYAI_API_KEY")
DEFAULT_SERVER = "http://127.0.0.1:8000"  # what `localscribe serve` listens on by default
KEYS = ("server", "key")


class ConfigError(Exception):
    """The config file exists but cannot be used."""


@dataclass(frozen=True)
class Setting:
    """One resolved value and where it came from (shown by `localscribe config`)."""

    value: str | None
    source: str


@dataclass(frozen=True)
class ClientConfig:
    server: Setting
    key: Setting


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The config file: `$LOCALSCRIBE_CLIENT_CONFIG`, else `config.json` in the user's config directory."""
    env = os.environ if env is None else env
    override = env.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("localscribe")) / "config.json"


def load(path: Path) -> dict[str, str]:
    """The stored defaults; a missing file is an empty one."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"cannot read {path}: expected a JSON object")
    return {k: str(v) for k, v in data.items() if k in KEYS and v is not None}


def save(path: Path, updates: Mapping[str, str | None]) -> dict[str, str]:
    """Merge `updates` into the file (None or "" removes a value); readable by the owner only (a key)."""
    data = load(path)
    for name, value in updates.items():
        if value:
            data[name] = value
        elif value is not None:
            data.pop(name, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return data


def _pick(flag: str | None, names: tuple[str, ...], stored: str | None, env: Mapping[str, str]) -> Setting:
    if flag:
        return Setting(flag, "flag")
    for name in names:
        if env.get(name):
            return Setting(env[name], f"${name}")
    if stored:
        return Setting(stored, "config file")
    return Setting(None, "unset")


def resolve(
    server: str | None = None, key: str | None = None, env: Mapping[str, str] | None = None
) -> ClientConfig:
    """Flag beats environment beats config file; the server falls back to the local default."""
    env = os.environ if env is None else env
    stored = load(config_path(env))
    chosen_server = _pick(server, SERVER_ENVS, stored.get("server"), env)
    server_url, source = chosen_server.value, chosen_server.source
    if server_url is None:
        server_url, source = DEFAULT_SERVER, "default"
    chosen_server = Setting(server_url.rstrip("/"), source)
    return ClientConfig(server=chosen_server, key=_pick(key, KEY_ENVS, stored.get("key"), env))


def mask(key: str | None) -> str:
    """A key as it may appear on screen."""
    if not key:
        return "-"
    return key[:4] + "…" if len(key) > 8 else "…"
