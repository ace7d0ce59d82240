"""Records derived from key material: TLSA 3 1 1 for the MX certificate, DKIM public keys for signing keys.

Only public halves leave this module. A DKIM private key is read (to derive its public key) only when
this process may read it; otherwise a ``<key>.pub`` PEM beside it is used, and failing both the error
names the file and the fix, never its content.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .records import Record, RecordError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from ..policy import Policy
    from ..policy.hardening import DkimKey

RSA_MINIMUM, RSA_ADVISED = 1024, 2048  # RFC 8301 §3.2: verifiers refuse under 1024 bits; 2048 is advised


def tlsa_record(policy: Policy) -> Record | None:
    """``_25._tcp.<hostname> TLSA 3 1 1``: DANE-EE, the SubjectPublicKeyInfo, SHA-256 (RFC 7671 §5.1)."""
    if not policy.published.tlsa or policy.tls is None:
        return None
    if policy.hostname is None:
        raise RecordError("a TLSA record is published at _25._tcp.<hostname>: set hostname, or "
                          "published.tlsa: false")
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = _read(policy.tls.cert, "tls.cert", "run where the certificate is, or set published.tlsa: false")
    try:
        certificate = x509.load_pem_x509_certificate(pem)  # the first certificate of a chain file: the host's own
    except ValueError as exc:
        raise RecordError(f"tls.cert {policy.tls.cert} holds no PEM certificate (fix: point tls.cert at the "
                          "host's certificate, PEM, leaf first)") from exc
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return Record(f"_25._tcp.{policy.hostname}", "TLSA", f"3 1 1 {hashlib.sha256(spki).hexdigest()}",
                  "DANE: the MX certificate's public key (3 1 1); before a new key goes into use, publish "
                  "its TLSA beside this one, wait two TTLs, switch, then drop the old record")


def dkim_records(policy: Policy) -> tuple[list[Record], list[str]]:
    """A ``<selector>._domainkey.<domain>`` TXT per signing key, and advice on weak keys."""
    records, notes = [], []
    for index, signing in enumerate(policy.dkim_signing):
        key = _public_key(signing, f"dkim_signing[{index}].key")
        text, bits = _dkim_text(key, signing, index)
        if bits is not None and bits < RSA_ADVISED:
            notes.append(f"DKIM key {signing.key} has {bits} bits; use {RSA_ADVISED} (RFC 8301)")
        records.append(Record(f"{signing.selector}._domainkey.{signing.domain}", "TXT", text,
                              f"DKIM: the public key receivers verify {signing.domain}'s signatures with "
                              "(RFC 6376)", "v=DKIM1"))
    return records, notes


def _dkim_text(key: PublicKeyTypes, signing: DkimKey, index: int) -> tuple[str, int | None]:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    where = f"dkim_signing[{index}]"
    if signing.algorithm == "rsa-sha256":
        if not isinstance(key, rsa.RSAPublicKey):
            raise RecordError(f"{where}: {signing.key} is not an RSA key but algorithm is rsa-sha256 "
                              "(fix: set algorithm: ed25519-sha256, or point key at an RSA key)")
        if key.key_size < RSA_MINIMUM:
            raise RecordError(f"{where}: {signing.key} has {key.key_size} bits; receivers refuse keys under "
                              f"{RSA_MINIMUM} (fix: make a {RSA_ADVISED}-bit key, e.g. opendkim-genkey -b 2048)")
        der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}", key.key_size
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise RecordError(f"{where}: {signing.key} is not an Ed25519 key but algorithm is ed25519-sha256 "
                          "(fix: set algorithm: rsa-sha256, or point key at an Ed25519 key)")
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)  # RFC 8463 §4.2: the bare 32 bytes
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}", None


def _public_key(signing: DkimKey, where: str) -> PublicKeyTypes:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

    private, public = Path(signing.key), Path(signing.key + ".pub")
    try:
        pem = private.read_bytes()
    except OSError:
        pem = None
    if pem is not None:
        try:
            return load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError) as exc:  # never the content: the message names the file only
            raise RecordError(f"{where}: {signing.key} is not an unencrypted PEM private key (fix: point it at "
                              "the key the MTA signs with)") from exc
    text = _read(str(public), where, f"run as a user who may read {signing.key}, or put its public key (PEM) "
                 f"at {public}")
    try:
        return load_pem_public_key(text)
    except ValueError as exc:
        raise RecordError(f"{where}: {public} is not a PEM public key") from exc


def _read(path: str, what: str, fix: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RecordError(f"{what}: cannot read {path} ({exc.strerror or exc}) (fix: {fix})") from exc
