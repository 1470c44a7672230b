"""EAP-TLS key derivation: the MSK from a TLS 1.2 or TLS 1.3 session.

* TLS 1.2 (RFC 5216 §2.3, with the TLS 1.2 PRF of RFC 5246 §5):
  ``Key_Material = PRF(master_secret, "client EAP encryption", client.random | server.random)``
  and MSK = Key_Material[0..63]; the PRF hash is the cipher suite's (SHA-384 for
  the ``*_SHA384`` suites, SHA-256 otherwise).
* TLS 1.3 (RFC 9190 §2.3, with the exporter of RFC 8446 §7.5):
  ``Key_Material = TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128)``, MSK the first 64.

Python's ``ssl`` module exports neither the master secret nor keying material,
but OpenSSL's key log does (the NSS key log format: ``CLIENT_RANDOM`` for TLS
1.2, ``EXPORTER_SECRET`` for TLS 1.3); :func:`parse_key_log` reads it. The
randoms come from the Hello messages seen on the wire (:func:`hello_random`).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "EAP_TLS_TYPE_CODE",
    "hello_random",
    "hkdf_expand_label",
    "msk_tls12",
    "msk_tls13",
    "parse_key_log",
    "tls12_prf",
    "tls13_exporter",
]

EAP_TLS_TYPE_CODE = 0x0D  # RFC 9190 §2.3: the exporter context is the EAP Type-Code
_TLS12_LABEL = b"client EAP encryption"
_TLS13_LABEL = b"EXPORTER_EAP_TLS_Key_Material"
_HANDSHAKE = 22
CLIENT_HELLO, SERVER_HELLO = 1, 2


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, digest: str) -> bytes:
    """RFC 5246 §5: PRF(secret, label, seed) = P_<hash>(secret, label | seed)."""
    seed = label + seed
    out = b""
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, digest)
        out += hmac.digest(secret, a + seed, digest)
    return out[:length]


def _hkdf_expand(prk: bytes, info: bytes, length: int, digest: str) -> bytes:
    """RFC 5869 §2.3."""
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), digest)
        out += block
        counter += 1
    return out[:length]


def hkdf_expand_label(
    secret: bytes, label: bytes, context: bytes, length: int, digest: str
) -> bytes:
    """RFC 8446 §7.1 HKDF-Expand-Label (label without the "tls13 " prefix)."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes((len(full),)) + full + bytes((len(context),)) + context
    return _hkdf_expand(secret, info, length, digest)


def tls13_exporter(
    exporter_master_secret: bytes, label: bytes, context: bytes, length: int, digest: str
) -> bytes:
    """RFC 8446 §7.5: HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter",
    Hash(context_value), key_length)."""
    size = hashlib.new(digest).digest_size
    empty = hashlib.new(digest, b"").digest()
    derived = hkdf_expand_label(exporter_master_secret, label, empty, size, digest)
    return hkdf_expand_label(
        derived, b"exporter", hashlib.new(digest, context).digest(), length, digest
    )


def suite_digest(cipher_name: str) -> str:
    """The PRF/HKDF hash of a cipher suite by its OpenSSL or IANA name."""
    return "sha384" if cipher_name.upper().endswith("SHA384") else "sha256"


def msk_tls12(
    master_secret: bytes, client_random: bytes, server_random: bytes, digest: str
) -> bytes:
    """RFC 5216 §2.3 MSK for TLS 1.2."""
    return tls12_prf(master_secret, _TLS12_LABEL, client_random + server_random, 128, digest)[:64]


def msk_tls13(exporter_master_secret: bytes, digest: str) -> bytes:
    """RFC 9190 §2.3 MSK for TLS 1.3."""
    context = bytes((EAP_TLS_TYPE_CODE,))
    return tls13_exporter(exporter_master_secret, _TLS13_LABEL, context, 128, digest)[:64]


def parse_key_log(text: str) -> dict[tuple[str, bytes], bytes]:
    """``(label, client_random) -> secret`` from an NSS key log (later lines win)."""
    out: dict[tuple[str, bytes], bytes] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or line.startswith("#"):
            continue
        try:
            out[(parts[0], bytes.fromhex(parts[1]))] = bytes.fromhex(parts[2])
        except ValueError:
            continue
    return out


def hello_random(records: bytes, message_type: int) -> bytes | None:
    """The 32-byte random of a ClientHello/ServerHello at the start of a TLS record stream.

    RFC 5246 §6.2.1 record header (type, version, length), §7.4 handshake header
    (msg_type, uint24 length), then client/server version and the random.
    """
    if len(records) < 5 + 4 + 2 + 32 or records[0] != _HANDSHAKE:
        return None
    if records[5] != message_type:
        return None
    return records[11:43]
