"""The pytest plugin (entry point `pytest11`: installing LocalScribe is enough; docs/testing.md#pytest).

Fixtures, none autouse, nothing imported or started until a test asks for one:

- `localscribe`: the server, reset before the test, with the `assemblyai` SDK and the `ASSEMBLYAI_*`
  environment pointed at it for the test's duration (both restored afterwards);
- `localscribe_server`: the one server of the session (of each pytest-xdist worker), not reset;
- `localscribe_settings`: a dict of `Settings` overrides for that server; override it in a conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from server.emulator.testing import LocalScribe


@pytest.fixture(scope="session")
def localscribe_settings() -> dict[str, Any]:
    """Settings for the session's server (e.g. `{"mock_delay_s": 0.5}`); empty: the test defaults."""
    return {}


@pytest.fixture(scope="session")
def localscribe_server(
    tmp_path_factory: pytest.TempPathFactory, localscribe_settings: dict[str, Any]
) -> Iterator[LocalScribe]:
    from server.emulator.testing import LocalScribe

    server = LocalScribe(data_dir=tmp_path_factory.mktemp("localscribe"), **localscribe_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def localscribe(localscribe_server: LocalScribe, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalScribe]:
    localscribe_server.reset()
    for name, value in localscribe_server.environ.items():
        monkeypatch.setenv(name, value)
    with localscribe_server.sdk():
        yield localscribe_server
