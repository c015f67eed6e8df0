"""Failures inside the app still answer with the API's JSON (in-process, no server needed)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.config import Settings
from server.db.session import dispose


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    """A whole app from one Settings object: no environment variables, no cache resets (issue 17)."""
    settings = Settings(_env_file=None, data_dir=tmp_path, api_key="k", engine="mock")
    from server.api.app import create_app

    with TestClient(create_app(settings, workers=False), raise_server_exceptions=False) as client:
        yield client
    dispose(settings)


def test_unhandled_exception_is_the_api_500(app_client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    from server.services import transcripts

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(transcripts, "list_transcripts", boom)
    with caplog.at_level(logging.ERROR):
        r = app_client.get("/v2/transcript", headers={"Authorization": "k"})
    assert (r.status_code, r.json()) == (500, {"error": "Server error, developers have been alerted."})
    assert any(rec.exc_info and "disk on fire" in str(rec.exc_info[1]) for rec in caplog.records)


def test_wrong_method_and_unknown_route(app_client: TestClient) -> None:
    r = app_client.get("/v3/nothing")
    assert (r.status_code, r.json()) == (404, {"error": "Not found"})
    r = app_client.put("/v2/transcript", headers={"Authorization": "k"})
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}


def test_ready_reports_database_and_model(app_client: TestClient) -> None:
    r = app_client.get("/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready", "database": True, "model": True}
    metrics = app_client.get("/metrics").text
    assert 'localscribe_jobs{status="queued"} 0.0' in metrics
