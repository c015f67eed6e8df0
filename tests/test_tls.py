"""`localscribe serve --tls`: HTTPS (and WSS) on one port, with a local CA made once under DATA_DIR/tls."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from pathlib import Path

import assemblyai as aai
import httpx
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from server.tls import local_certificate, server_names
from tests.conftest import StartServer
from tests.support.server import API_KEY, ServerProcess, server_env

TEXT = "And so my fellow Americans, ask not what your country can do for you."
TLS = ["serve", "--tls"]


@pytest.fixture
def backend() -> str:
    """TLS sits in front of the app; one database backend is enough here."""
    return "sqlite"


def _sdk(server: ServerProcess) -> aai.Transcriber:
    """A transcriber with its own client (httpx reads SSL_CERT_FILE when a client is made)."""
    settings = aai.types.Settings(api_key=API_KEY, base_url=server.url, polling_interval=0.1)
    return aai.Transcriber(client=aai.Client(settings=settings))


def _served_certificate(port: int) -> x509.Certificate:
    """The certificate the server presents (read without verifying it)."""
    return x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", port)).encode())


def test_python_sdk_over_https(start_server: StartServer, jfk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(args=TLS, LOCALSCRIBE_MOCK_TEXT=TEXT)
    assert server.url.startswith("https://127.0.0.1:")
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))  # what the start-up message tells users
    monkeypatch.setattr(aai.settings, "base_url", server.url)
    monkeypatch.setattr(aai.settings, "api_key", API_KEY)
    monkeypatch.setattr(aai.settings, "polling_interval", 0.1)
    transcriber = aai.Transcriber()

    transcript = transcriber.transcribe(str(jfk))
    assert transcript.status == aai.TranscriptStatus.completed, transcript.error
    assert transcript.text == TEXT
    assert transcript.audio_url.startswith(f"{server.url}/")  # upload URLs name the https origin
    assert aai.Transcript.get_by_id(transcript.id).text == TEXT
    srt = transcript.export_subtitles_srt()
    assert srt.startswith("1\n00:00:00,")
    listed = transcriber.list_transcripts(aai.ListTranscriptParameters(limit=5))
    assert [t.id for t in listed.transcripts] == [transcript.id]
    assert listed.page_details.current_url.startswith(f"{server.url}/v2/transcript")


def test_untrusted_ca_is_refused(start_server: StartServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real TLS: without the CA, clients refuse the server; plain HTTP on the port gets nothing useful."""
    server = start_server(args=TLS)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{server.url}/health")
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _sdk(server).list_transcripts()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=5)
    # the CA trusts it for every loopback name the certificate lists
    trusted = ssl.create_default_context(cafile=server.ca_file)
    assert httpx.get(f"{server.url}/health", verify=trusted).json() == {"status": "ok"}


def test_local_ca_made_once_and_reused_across_restarts(start_server: StartServer, tmp_path: Path) -> None:
    first = start_server(args=TLS)
    tls_dir = tmp_path / "tls"
    files = {name: (tls_dir / name).read_bytes() for name in ("ca.pem", "ca.key", "server.pem", "server.key")}
    assert first.ca_file == tls_dir / "ca.pem"
    served = _served_certificate(first.port)
    on_disk = x509.load_pem_x509_certificate(files["server.pem"])
    assert served == on_disk
    ca = x509.load_pem_x509_certificate(files["ca.pem"])
    assert on_disk.issuer == ca.subject
    san = on_disk.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert (tls_dir / "ca.key").stat().st_mode & 0o077 == 0
    assert (tls_dir / "server.key").stat().st_mode & 0o077 == 0
    log = first.log()
    assert "created the local certificate authority" in log
    assert f"NODE_EXTRA_CA_CERTS={tls_dir / 'ca.pem'}" in log
    assert f"SSL_CERT_FILE={tls_dir / 'ca.pem'}" in log
    first.stop()

    second = start_server(args=TLS)
    assert {name: (tls_dir / name).read_bytes() for name in files} == files
    assert _served_certificate(second.port) == on_disk
    assert "using the local certificate authority" in second.log()
    trusted = ssl.create_default_context(cafile=tls_dir / "ca.pem")
    assert httpx.get(f"{second.url}/health", verify=trusted).status_code == 200


def test_configured_certificate_is_served_as_given(start_server: StartServer, tmp_path: Path) -> None:
    ca = trustme.CA(organization_name="Example Corp")
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "corp-ca.pem"
    cert.private_key_pem.write_to_path(str(key_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    ca.cert_pem.write_to_path(str(ca_file))
    # the settings alone turn TLS on; `--tls` is implied
    env = server_env(tmp_path, None, LOCALSCRIBE_TLS_CERT=str(cert_file), LOCALSCRIBE_TLS_KEY=str(key_file))
    server = ServerProcess(tmp_path, env)
    server.start(wait=False)
    try:
        trusted = ssl.create_default_context(cafile=ca_file)
        _wait_health(f"https://127.0.0.1:{server.port}/health", trusted, server)
        assert not (tmp_path / "tls").exists()  # no local CA when a certificate is configured
        assert _served_certificate(server.port) == x509.load_pem_x509_certificate(cert_file.read_bytes())
    finally:
        server.stop(timeout=10)


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    env = server_env(tmp_path, None, LOCALSCRIBE_TLS_CERT=str(tmp_path / "cert.pem"))
    done = subprocess.run(
        [sys.executable, "-m", "server.cli.main", "serve", "--tls", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "LOCALSCRIBE_TLS_CERT and LOCALSCRIBE_TLS_KEY must be set together" in done.stderr


def test_server_certificate_reissued_for_a_new_address_from_the_same_ca(tmp_path: Path) -> None:
    first = local_certificate(tmp_path, server_names("127.0.0.1"))
    assert first.created
    ca, cert = first.ca.read_bytes(), first.cert.read_bytes()
    again = local_certificate(tmp_path, server_names("0.0.0.0"))  # a wildcard bind adds no name
    assert not again.created and again.cert.read_bytes() == cert and again.ca.read_bytes() == ca

    wider = local_certificate(tmp_path, server_names("192.0.2.7"))
    assert wider.ca.read_bytes() == ca
    assert wider.cert.read_bytes() != cert
    leaf = x509.load_pem_x509_certificate(wider.cert.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "192.0.2.7" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    # the CA still verifies the new leaf: clients configured once stay configured
    root = x509.load_pem_x509_certificate(ca)
    leaf.verify_directly_issued_by(root)
    assert leaf.public_bytes(Encoding.PEM) == wider.cert.read_bytes()


def test_torn_certificate_and_key_pair_is_replaced(tmp_path: Path) -> None:
    """A crash between writing a new key and its certificate must not leave a server that cannot start."""
    first = local_certificate(tmp_path)
    cert = first.cert.read_bytes()
    first.key.write_bytes(trustme.CA().issue_cert("localhost").private_key_pem.bytes())
    again = local_certificate(tmp_path)
    assert again.cert.read_bytes() != cert
    ssl.create_default_context().load_cert_chain(again.cert, again.key)  # raises on a mismatched pair


def _wait_health(url: str, verify: ssl.SSLContext, server: ServerProcess, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc and server.proc.poll() is not None:
            raise AssertionError(f"server exited:\n{server.log()}")
        try:
            if httpx.get(url, verify=verify, timeout=1).status_code == 200:
                return
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not start:\n{server.log()}")


def test_python_sdk_streams_over_wss(
    start_server: StartServer, jfk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python SDK's v3 client: its token call is always `https://{api_host}` and its socket `wss://`."""
    from assemblyai.streaming.v3 import (
        StreamingClient,
        StreamingClientOptions,
        StreamingEvents,
        StreamingParameters,
    )

    from server.media.decode import decode

    server = start_server(args=TLS, LOCALSCRIBE_MOCK_TEXT=TEXT)
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))  # httpx and ssl.create_default_context() read it
    host = f"127.0.0.1:{server.port}"
    token = StreamingClient(StreamingClientOptions(api_key=API_KEY, api_host=host)).create_temporary_token(
        expires_in_seconds=60
    )
    client = StreamingClient(StreamingClientOptions(token=token, api_host=host, connect_timeout=10))
    events: dict[str, list] = {"begin": [], "turn": [], "end": [], "error": []}
    client.on(StreamingEvents.Begin, lambda _c, e: events["begin"].append(e))
    client.on(StreamingEvents.Turn, lambda _c, e: events["turn"].append(e))
    client.on(StreamingEvents.Termination, lambda _c, e: events["end"].append(e))
    client.on(StreamingEvents.Error, lambda _c, e: events["error"].append(e))
    client.connect(StreamingParameters(sample_rate=16000))
    pcm = (decode(jfk) * 32767).astype("<i2").tobytes()
    client.stream(pcm[i : i + 3200] for i in range(0, len(pcm), 3200))  # 100 ms chunks, faster than real time
    client.disconnect(terminate=True)

    assert events["error"] == []
    assert len(events["begin"]) == 1
    assert [e.audio_duration_seconds for e in events["end"]] == [11]
    finals = [t for t in events["turn"] if t.end_of_turn]
    assert finals, events["turn"]
    # the mock engine reads its text off the session's timeline: the turns say it in order, each its part
    cycled = f" {' '.join(_words(TEXT) * 2)} "
    assert all(f" {' '.join(_words(t.transcript))} " in cycled for t in finals)


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"[^\w' ]+", " ", text.lower()).split())
