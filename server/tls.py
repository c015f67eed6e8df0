"""TLS for `localscribe serve --tls`: HTTPS and WSS on the one listener.

The JS SDK refuses any real-time URL that is not `wss://` and the Python SDK's `create_temporary_token()`
always calls `https://{api_host}/v3/token` (docs/compatibility.md#clients), so a local server needs TLS for
them. With a certificate and key given (`LOCALSCRIBE_TLS_CERT` / `LOCALSCRIBE_TLS_KEY`) those are served as
they are. Without, LocalScribe makes its own small certificate authority once under `DATA_DIR/tls/` and issues
a server certificate for `localhost`, `127.0.0.1` and `::1` (plus the `--host` address when it is a specific
one); clients trust the CA file (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`). The CA is kept
across restarts so clients configured once stay configured; the server certificate is reissued from the same
CA when it nears expiry or does not cover the requested address.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
# Browsers reject leaf certificates valid for more than 398 days; Node and OpenSSL do not care.
SERVER_CERT_DAYS = 397
RENEW_BEFORE_DAYS = 30
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "*"}


class TlsError(Exception):
    """TLS settings that cannot be served (a missing file, a certificate without its key)."""


@dataclass(frozen=True)
class TlsFiles:
    """What uvicorn serves (`cert`, `key`) and, when LocalScribe made it, the CA clients must trust."""

    cert: Path
    key: Path
    ca: Path | None = None
    created: bool = False  # True when this start made the CA (first start)


def server_names(host: str | None = None) -> list[str]:
    """The names the local certificate covers: the loopback names, and `host` when it is a specific one."""
    names = list(LOCAL_NAMES)
    if host and host not in _WILDCARD_HOSTS and host not in names:
        names.append(host)
    return names


def resolve(cert: Path | None, key: Path | None, data_dir: Path, host: str | None = None) -> TlsFiles:
    """The files to serve: the configured pair, or the local CA's certificate (made on first use)."""
    if cert or key:
        if not (cert and key):
            raise TlsError("LOCALSCRIBE_TLS_CERT and LOCALSCRIBE_TLS_KEY must be set together")
        for what, path in (("certificate", cert), ("key", key)):
            if not Path(path).is_file():
                raise TlsError(f"TLS {what} file not found: {path}")
        return TlsFiles(cert=Path(cert), key=Path(key))
    return local_certificate(data_dir / "tls", server_names(host))


def local_certificate(tls_dir: Path, names: Iterable[str] = LOCAL_NAMES) -> TlsFiles:
    """Create (once) or reuse the local CA in `tls_dir` and a server certificate for `names`.

    Safe when several servers start at once on one data directory: the work happens under a file lock.
    """
    import trustme

    names = list(names)
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key = tls_dir / "ca.pem", tls_dir / "ca.key"
    cert_pem, cert_key = tls_dir / "server.pem", tls_dir / "server.key"
    with open(tls_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            created = not (ca_pem.is_file() and ca_key.is_file())
            if created:
                ca = trustme.CA(
                    organization_name="LocalScribe",
                    organization_unit_name=f"local CA on {socket.gethostname()}",
                )
                _write(ca_key, ca.private_key_pem.bytes(), private=True)
                _write(ca_pem, ca.cert_pem.bytes())
            else:
                ca = trustme.CA.from_pem(ca_pem.read_bytes(), ca_key.read_bytes())
            if created or not _still_good(cert_pem, cert_key, names):
                now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                leaf = ca.issue_cert(
                    *names,
                    common_name="localhost",
                    organization_name="LocalScribe",
                    not_before=now - dt.timedelta(hours=1),
                    not_after=now + dt.timedelta(days=SERVER_CERT_DAYS),
                )
                _write(cert_key, leaf.private_key_pem.bytes(), private=True)
                # the chain below the root (the root itself is what clients trust)
                _write(cert_pem, b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return TlsFiles(cert=cert_pem, key=cert_key, ca=ca_pem, created=created)


def _still_good(cert_pem: Path, cert_key: Path, names: list[str]) -> bool:
    """An existing server certificate is reused while it covers `names` and is not near its end."""
    if not (cert_pem.is_file() and cert_key.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        key = serialization.load_pem_private_key(cert_key.read_bytes(), password=None)
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False
    raw = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*raw) != cert.public_key().public_bytes(*raw):
        return False  # a pair torn by a crash between the two writes: issue a new one
    covered = {str(n).lower() for n in san.get_values_for_type(x509.DNSName)}
    covered |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    for name in names:
        try:
            wanted = str(ipaddress.ip_address(name))
        except ValueError:
            wanted = name.lower()
        if wanted not in covered:
            return False
    ends = cert.not_valid_after_utc
    return ends - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=RENEW_BEFORE_DAYS)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    """Write whole files atomically (a reader never sees half a PEM); keys readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def trust_hint(files: TlsFiles, url: str) -> str:
    """How a user points clients at this server, printed at start-up."""
    if files.ca is None:
        return f"serving {url} with the configured certificate {files.cert}"
    ca = files.ca.resolve()
    what = "created" if files.created else "using"
    return "\n".join(
        [
            f"TLS: {what} the local certificate authority {ca} (server certificate {files.cert.resolve()})",
            f"  serving {url} (HTTPS and WSS on one port); clients must trust the CA:",
            f"    Node (JS SDK):     NODE_EXTRA_CA_CERTS={ca}",
            f"    Python (SDK, httpx, websockets): SSL_CERT_FILE={ca}",
            f"    requests / curl:   REQUESTS_CA_BUNDLE={ca}  /  curl --cacert {ca}",
        ]
    )
