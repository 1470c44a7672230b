"""``--keylog FILE``: the session's IKE and ESP keys in Wireshark's formats (opt-in, secret).

With the file, a capture of the session can be decrypted by Wireshark or tshark: the IKE
messages after IKE_SA_INIT (the ``isakmp`` dissector's "IKEv2 Decryption Table") and the
ESP packets (the ``esp`` dissector's "ESP SAs" table). Anyone holding the file can read the
whole session, so it is created with mode 0600 and only ever written when asked for.

File layout
-----------
One line per table row, appended as SAs are established (rekeys add rows)::

    # comment lines start with '#'
    uat:ikev2_decryption_table:<row>
    uat:esp_sa:<row>

Each row line is, as it stands, the value of a tshark ``-o`` option (``-o 'uat:esp_sa:...'``
adds that row to the table for one run), and ``<row>`` is a line of Wireshark's UAT file of
that name. :func:`export_wireshark_uat` splits the file into the two UAT files
(``ikev2_decryption_table`` and ``esp_sa``) in a Wireshark configuration directory, for
``WIRESHARK_CONFIG_DIR=DIR tshark ...`` or for copying into a personal configuration.

Row formats (Wireshark 4.0, ``packet-isakmp.c`` / ``packet-ipsec.c``):

* ``ikev2_decryption_table``: ``SPIi,SPIr,SK_ei,SK_er,"encryption",SK_ai,SK_ar,"integrity"``
  with the SPIs (8 octets) and keys as bare hex; the encryption keys include the salt of
  CTR/GCM/CCM (RFC 5930, RFC 5282); AEAD ciphers have integrity ``"NONE [RFC4306]"`` and
  empty SK_a keys. Wireshark rejects a row whose key lengths do not fit its algorithms.
* ``esp_sa``: ``"IPv4","src","dst","0xSPI","encryption","0xKEY","authentication","0xKEY"``
  with both addresses ``"*"`` (a NAT rewrites the outer addresses). One row per direction:
  the inbound SPI with the inbound keys, the outbound SPI with the outbound keys. AES-GCM
  and AES-CTR keys are the KEYMAT slice with its 4-byte salt at the end (RFC 4106 §8.1,
  RFC 3686 §5.1) and AES-GCM has authentication ``"NULL"``.

ESP decryption must also be switched on (``-o esp.enable_encryption_decode:TRUE``);
:func:`export_wireshark_uat` does that in a ``preferences`` file it creates when the
directory has none.

Algorithms Wireshark 4.0 cannot decrypt (ChaCha20-Poly1305, ESP AES-CCM, ...) get a
comment line naming the SA and no keys, and a warning in the log. Key material is written
to this file only: never to the log, never in an exception.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import ConfigError
from ikeclient.safefiles import create_fresh, invoking_uid

__all__ = [
    "ESP_SA_TABLE",
    "IKEV2_TABLE",
    "KeyLog",
    "esp_sa_rows",
    "export_wireshark_uat",
    "ikev2_row",
]

log = logging.getLogger(__name__)

IKEV2_TABLE: Final = "ikev2_decryption_table"
ESP_SA_TABLE: Final = "esp_sa"
_TABLES: Final = (IKEV2_TABLE, ESP_SA_TABLE)

_HEADER: Final = (
    "# ikeclient key log: IKEv2 and ESP keys as Wireshark UAT rows. SECRET: this file\n"
    "# decrypts the whole session. Each 'uat:TABLE:ROW' line is a tshark -o value;\n"
    "# ikeclient.runtime.keylog.export_wireshark_uat() writes the TABLE files.\n"
)


class _Unsupported(Exception):
    """This SA cannot be written in a form Wireshark 4.0 decrypts (the reason, no keys)."""


# --- IKEv2 decryption table (packet-isakmp.c: vs_ikev2_encr_algs, vs_ikev2_auth_algs) ---


@dataclass(frozen=True, slots=True)
class _Cipher:
    """How Wireshark names one encryption transform, and the salt it expects after the key."""

    salt: int  # octets of salt/nonce at the end of the KEYMAT slice
    names: dict[int, str]  # AES key bits (0 for fixed-size ciphers) -> Wireshark name


def _aes(template: str, salt: int) -> _Cipher:
    return _Cipher(salt, {bits: template.format(bits=bits) for bits in (128, 192, 256)})


_IKE_ENCR: Final[dict[int, _Cipher]] = {
    EncrId.AES_CBC: _aes("AES-CBC-{bits} [RFC3602]", 0),
    EncrId.AES_CTR: _aes("AES-CTR-{bits} [RFC5930]", 4),
    EncrId.AES_GCM_8: _aes("AES-GCM-{bits} with 8 octet ICV [RFC5282]", 4),
    EncrId.AES_GCM_12: _aes("AES-GCM-{bits} with 12 octet ICV [RFC5282]", 4),
    EncrId.AES_GCM_16: _aes("AES-GCM-{bits} with 16 octet ICV [RFC5282]", 4),
    EncrId.AES_CCM_8: _aes("AES-CCM-{bits} with 8 octet ICV [RFC5282]", 3),
    EncrId.AES_CCM_12: _aes("AES-CCM-{bits} with 12 octet ICV [RFC5282]", 3),
    EncrId.AES_CCM_16: _aes("AES-CCM-{bits} with 16 octet ICV [RFC5282]", 3),
    EncrId.DES3: _Cipher(0, {0: "3DES [RFC2451]"}),
    EncrId.NULL: _Cipher(0, {0: "NULL [RFC2410]"}),
}
_IKE_AEAD: Final = frozenset(
    {
        EncrId.AES_GCM_8,
        EncrId.AES_GCM_12,
        EncrId.AES_GCM_16,
        EncrId.AES_CCM_8,
        EncrId.AES_CCM_12,
        EncrId.AES_CCM_16,
    }
)
_IKE_NO_INTEG: Final = "NONE [RFC4306]"
# Integrity transform -> (Wireshark name, key octets; 0 for the unchecked "ANY" entries).
_IKE_INTEG: Final[dict[int, tuple[str, int]]] = {
    IntegId.HMAC_MD5_96: ("HMAC_MD5_96 [RFC2403]", 16),
    IntegId.HMAC_SHA1_96: ("HMAC_SHA1_96 [RFC2404]", 20),
    IntegId.HMAC_MD5_128: ("HMAC_MD5_128 [RFC4595]", 16),
    IntegId.HMAC_SHA1_160: ("HMAC_SHA1_160 [RFC4595]", 20),
    IntegId.HMAC_SHA2_256_128: ("HMAC_SHA2_256_128 [RFC4868]", 32),
    IntegId.HMAC_SHA2_384_192: ("HMAC_SHA2_384_192 [RFC4868]", 48),
    IntegId.HMAC_SHA2_512_256: ("HMAC_SHA2_512_256 [RFC4868]", 64),
    # Not checked by Wireshark, but the ICV length lets it find the ciphertext.
    IntegId.AES_XCBC_96: ("ANY 96-bits of Authentication [No Checking]", 0),
    IntegId.AES_CMAC_96: ("ANY 96-bits of Authentication [No Checking]", 0),
}

# --- ESP SAs (packet-ipsec.c: esp_encryption_type_vals, esp_authentication_type_vals) ---

_ESP_ENCR: Final[dict[int, tuple[str, int, frozenset[int]]]] = {
    # EncrId -> (Wireshark name, salt octets, accepted key octets without the salt)
    EncrId.AES_CBC: ("AES-CBC [RFC3602]", 0, frozenset({16, 24, 32})),
    EncrId.AES_CTR: ("AES-CTR [RFC3686]", 4, frozenset({16, 24, 32})),
    EncrId.AES_GCM_8: ("AES-GCM with 8 octet ICV [RFC4106]", 4, frozenset({16, 24, 32})),
    EncrId.AES_GCM_12: ("AES-GCM with 12 octet ICV [RFC4106]", 4, frozenset({16, 24, 32})),
    EncrId.AES_GCM_16: ("AES-GCM with 16 octet ICV [RFC4106]", 4, frozenset({16, 24, 32})),
    EncrId.DES3: ("TripleDES-CBC [RFC2451]", 0, frozenset({24})),
    EncrId.NULL: ("NULL", 0, frozenset({0})),
}
_ESP_AEAD: Final = frozenset({EncrId.AES_GCM_8, EncrId.AES_GCM_12, EncrId.AES_GCM_16})
_ESP_NO_AUTH: Final = "NULL"
# Integrity transform -> (Wireshark name, key octets; None when Wireshark does not check it).
_ESP_INTEG: Final[dict[int, tuple[str, int | None]]] = {
    IntegId.HMAC_MD5_96: ("HMAC-MD5-96 [RFC2403]", 16),
    IntegId.HMAC_SHA1_96: ("HMAC-SHA-1-96 [RFC2404]", 20),
    IntegId.HMAC_SHA2_256_128: ("HMAC-SHA-256-128 [RFC4868]", 32),
    IntegId.HMAC_SHA2_384_192: ("HMAC-SHA-384-192 [RFC4868]", 48),
    IntegId.HMAC_SHA2_512_256: ("HMAC-SHA-512-256 [RFC4868]", 64),
    IntegId.AES_XCBC_96: ("ANY 96 bit authentication [no checking]", None),
    IntegId.AES_CMAC_96: ("ANY 96 bit authentication [no checking]", None),
    IntegId.HMAC_MD5_128: ("ANY 128 bit authentication [no checking]", None),
    IntegId.AES_128_GMAC: ("ANY 128 bit authentication [no checking]", None),
    IntegId.AES_192_GMAC: ("ANY 128 bit authentication [no checking]", None),
    IntegId.AES_256_GMAC: ("ANY 128 bit authentication [no checking]", None),
}
_IP_VERSIONS: Final = {4: "IPv4", 6: "IPv6"}


def _encr_name(encr_id: int) -> str:
    try:
        return f"ENCR_{EncrId(encr_id).name}"
    except ValueError:
        return f"encryption transform {encr_id}"


def _integ_name(integ_id: int) -> str:
    try:
        return f"AUTH_{IntegId(integ_id).name}"
    except ValueError:
        return f"integrity transform {integ_id}"


def _no_integ(integ_id: int | None) -> bool:
    return integ_id is None or integ_id == IntegId.NONE


def _aes_bits(
    encr_id: int, encr_key_bits: int | None, key_len: int, salt: int, names: dict[int, str]
) -> int:
    """The AES key size in bits: the Key Length attribute, checked against the key given."""
    if 0 in names:  # fixed-size cipher: no Key Length attribute
        return 0
    bits = encr_key_bits if encr_key_bits is not None else (key_len - salt) * 8
    if bits not in names:
        raise _Unsupported(f"{_encr_name(encr_id)} with a {bits}-bit key")
    return bits


def _check_len(what: str, key: bytes, want: int) -> None:
    if len(key) != want:
        # Lengths only: the key itself never goes into a message.
        raise _Unsupported(f"{what} is {len(key)} octets, expected {want}")


def ikev2_row(
    *,
    spi_i: bytes,
    spi_r: bytes,
    encr_id: int,
    encr_key_bits: int | None,
    integ_id: int | None,
    sk_ei: bytes,
    sk_er: bytes,
    sk_ai: bytes,
    sk_ar: bytes,
) -> str:
    """One ``ikev2_decryption_table`` row; ValueError (no key material) if not expressible."""
    try:
        return _ikev2_row(
            spi_i, spi_r, encr_id, encr_key_bits, integ_id, sk_ei, sk_er, sk_ai, sk_ar
        )
    except _Unsupported as e:
        raise ValueError(str(e)) from None


def _ikev2_row(
    spi_i: bytes,
    spi_r: bytes,
    encr_id: int,
    encr_key_bits: int | None,
    integ_id: int | None,
    sk_ei: bytes,
    sk_er: bytes,
    sk_ai: bytes,
    sk_ar: bytes,
) -> str:
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise _Unsupported("IKE SPIs must be 8 octets")
    cipher = _IKE_ENCR.get(encr_id)
    if cipher is None:
        raise _Unsupported(f"{_encr_name(encr_id)} is not decryptable by Wireshark 4.0")
    bits = _aes_bits(encr_id, encr_key_bits, len(sk_ei), cipher.salt, cipher.names)
    encr = cipher.names[bits]
    if bits:
        want = bits // 8 + cipher.salt
        _check_len("SK_ei", sk_ei, want)
        _check_len("SK_er", sk_er, want)
    else:  # 3DES or NULL: fixed key sizes
        want = 24 if encr_id == EncrId.DES3 else 0
        _check_len("SK_ei", sk_ei, want)
        _check_len("SK_er", sk_er, want)
    if encr_id in _IKE_AEAD or (encr_id == EncrId.NULL and _no_integ(integ_id)):
        if not _no_integ(integ_id):
            raise _Unsupported(f"AEAD {_encr_name(encr_id)} with {_integ_name(integ_id or 0)}")
        integ, ai, ar = _IKE_NO_INTEG, b"", b""
    else:
        if _no_integ(integ_id):
            raise _Unsupported(f"{_encr_name(encr_id)} without an integrity algorithm")
        assert integ_id is not None
        spec = _IKE_INTEG.get(integ_id)
        if spec is None:
            raise _Unsupported(f"{_integ_name(integ_id)} is not known to Wireshark 4.0")
        integ, key_len = spec
        if key_len:
            _check_len("SK_ai", sk_ai, key_len)
            _check_len("SK_ar", sk_ar, key_len)
            ai, ar = sk_ai, sk_ar
        else:  # an unchecked "ANY" entry takes no key
            ai, ar = b"", b""
    return ",".join(
        (
            spi_i.hex(),
            spi_r.hex(),
            sk_ei.hex(),
            sk_er.hex(),
            f'"{encr}"',
            ai.hex(),
            ar.hex(),
            f'"{integ}"',
        )
    )


def esp_sa_rows(
    *,
    spi_in: int,
    spi_out: int,
    encr_id: int,
    encr_key_bits: int | None,
    integ_id: int | None,
    encr_key_in: bytes,
    integ_key_in: bytes,
    encr_key_out: bytes,
    integ_key_out: bytes,
    ip_version: int = 4,
) -> tuple[str, str]:
    """The ``esp_sa`` rows (inbound, outbound); ValueError (no key material) if not expressible."""
    try:
        return _esp_sa_rows(
            spi_in,
            spi_out,
            encr_id,
            encr_key_bits,
            integ_id,
            encr_key_in,
            integ_key_in,
            encr_key_out,
            integ_key_out,
            ip_version,
        )
    except _Unsupported as e:
        raise ValueError(str(e)) from None


def _esp_sa_rows(
    spi_in: int,
    spi_out: int,
    encr_id: int,
    encr_key_bits: int | None,
    integ_id: int | None,
    encr_key_in: bytes,
    integ_key_in: bytes,
    encr_key_out: bytes,
    integ_key_out: bytes,
    ip_version: int,
) -> tuple[str, str]:
    family = _IP_VERSIONS.get(ip_version)
    if family is None:
        raise _Unsupported(f"IP version {ip_version}")
    for spi in (spi_in, spi_out):
        if not 0 < spi < 1 << 32:
            raise _Unsupported("ESP SPIs must be 1..2^32-1")
    spec = _ESP_ENCR.get(encr_id)
    if spec is None:
        raise _Unsupported(f"{_encr_name(encr_id)} is not decryptable by Wireshark 4.0 ESP")
    encr, salt, sizes = spec
    for what, key in (
        ("inbound encryption key", encr_key_in),
        ("outbound encryption key", encr_key_out),
    ):
        if len(key) - salt not in sizes:
            raise _Unsupported(f"{what} is {len(key)} octets for {_encr_name(encr_id)}")
    if encr_key_bits is not None and salt + encr_key_bits // 8 != len(encr_key_in):
        raise _Unsupported(f"key length attribute {encr_key_bits} does not match the key")
    if encr_id in _ESP_AEAD or _no_integ(integ_id):
        if not _no_integ(integ_id):
            raise _Unsupported(f"AEAD {_encr_name(encr_id)} with {_integ_name(integ_id or 0)}")
        if encr_id not in _ESP_AEAD and encr_id != EncrId.NULL:
            raise _Unsupported(f"{_encr_name(encr_id)} without an integrity algorithm")
        auth, ikey_in, ikey_out = _ESP_NO_AUTH, b"", b""
    else:
        assert integ_id is not None
        ispec = _ESP_INTEG.get(integ_id)
        if ispec is None:
            raise _Unsupported(f"{_integ_name(integ_id)} is not known to Wireshark 4.0 ESP")
        auth, key_len = ispec
        if key_len is None:
            ikey_in, ikey_out = b"", b""
        else:
            _check_len("inbound integrity key", integ_key_in, key_len)
            _check_len("outbound integrity key", integ_key_out, key_len)
            ikey_in, ikey_out = integ_key_in, integ_key_out

    def row(spi: int, ekey: bytes, ikey: bytes) -> str:
        fields = (
            family,
            "*",
            "*",
            f"0x{spi:08x}",
            encr,
            f"0x{ekey.hex()}",
            auth,
            f"0x{ikey.hex()}",
        )
        return ",".join(f'"{f}"' for f in fields)

    return row(spi_in, encr_key_in, ikey_in), row(spi_out, encr_key_out, ikey_out)


class KeyLog:
    """An open ``--keylog`` file; rows are appended (and flushed) as SAs come up.

    Safe to call from several threads. Write errors surface as OSError.
    """

    def __init__(self, path: Path, stream: TextIO) -> None:
        self.path = path
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> KeyLog:
        """Create ``path`` afresh with mode 0600 (see :func:`ikeclient.safefiles.create_fresh`).

        An existing file of ours is replaced, never truncated in place (a descriptor opened on
        it earlier, or a second hard link, could read the keys); a file of another user, a
        symlink or a non-file is refused with UnsafeFileError (a ConfigError). Under sudo the
        new file is given to the user who asked for it (``SUDO_UID``), still mode 0600.
        """
        try:
            fd = create_fresh(path, what="--keylog", replaceable={invoking_uid()})
        except OSError as e:
            raise ConfigError(f"--keylog {path}: {e.strerror}") from None
        try:
            if invoking_uid() != os.geteuid():
                os.fchown(fd, invoking_uid(), -1)
            stream = os.fdopen(fd, "w", buffering=1, encoding="ascii", newline="\n")
        except BaseException:
            os.close(fd)
            raise
        keylog = cls(path, stream)
        keylog._write_lines([_HEADER.rstrip("\n")])
        return keylog

    def _write_lines(self, lines: list[str]) -> None:
        with self._lock:
            if self._stream.closed:
                raise ValueError("the key log is closed")
            self._stream.write("".join(line + "\n" for line in lines))
            self._stream.flush()

    def _skip(self, what: str, reason: str) -> None:
        log.warning("keylog: %s: %s; its keys are not written", what, reason)
        self._write_lines([f"# {what}: {reason}; keys not written"])

    def write_ike_sa(
        self,
        *,
        spi_i: bytes,
        spi_r: bytes,
        encr_id: int,
        encr_key_bits: int | None,
        integ_id: int | None,
        sk_ei: bytes,
        sk_er: bytes,
        sk_ai: bytes,
        sk_ar: bytes,
    ) -> None:
        """Append the ``ikev2_decryption_table`` row of an IKE SA (or a comment if unsupported)."""
        what = f"{IKEV2_TABLE} IKE SA {spi_i.hex()}/{spi_r.hex()}"
        try:
            row = _ikev2_row(
                spi_i, spi_r, encr_id, encr_key_bits, integ_id, sk_ei, sk_er, sk_ai, sk_ar
            )
        except _Unsupported as e:
            self._skip(what, str(e))
            return
        self._write_lines([f"uat:{IKEV2_TABLE}:{row}"])

    def write_child_sa(
        self,
        *,
        spi_in: int,
        spi_out: int,
        encr_id: int,
        encr_key_bits: int | None,
        integ_id: int | None,
        encr_key_in: bytes,
        integ_key_in: bytes,
        encr_key_out: bytes,
        integ_key_out: bytes,
        ip_version: int = 4,
    ) -> None:
        """Append the two ``esp_sa`` rows of a child SA (or a comment if unsupported)."""
        what = f"{ESP_SA_TABLE} child SA 0x{spi_in:08x}/0x{spi_out:08x}"
        try:
            rows = _esp_sa_rows(
                spi_in,
                spi_out,
                encr_id,
                encr_key_bits,
                integ_id,
                encr_key_in,
                integ_key_in,
                encr_key_out,
                integ_key_out,
                ip_version,
            )
        except _Unsupported as e:
            self._skip(what, str(e))
            return
        self._write_lines([f"uat:{ESP_SA_TABLE}:{r}" for r in rows])

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if not self._stream.closed:
                self._stream.close()

    def __enter__(self) -> KeyLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` (never through a symlink, never another user's file) with ``text``,
    mode 0600."""
    try:
        fd = create_fresh(path, what="key table")
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
        f.write(text)


def export_wireshark_uat(keylog_path: Path, config_dir: Path) -> None:
    """Write the key log's rows as the UAT files ``ikev2_decryption_table`` and ``esp_sa``.

    ``config_dir`` (created, mode 0700, if missing) becomes usable as a Wireshark
    configuration directory: ``WIRESHARK_CONFIG_DIR=config_dir tshark -r CAPTURE``. The two
    files are replaced (mode 0600); a ``preferences`` file switching on ESP decryption
    (``esp.enable_encryption_decode: TRUE``) is created only if there is none, so an
    existing one stays as it is (then pass ``-o esp.enable_encryption_decode:TRUE``).
    """
    rows: dict[str, list[str]] = {table: [] for table in _TABLES}
    for number, line in enumerate(keylog_path.read_text(encoding="ascii").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        prefix, _, row = line.partition(":")
        table, _, row = row.partition(":")
        if prefix != "uat" or table not in rows or not row:
            raise ConfigError(f"{keylog_path}:{number}: not an ikeclient key log line")
        rows[table].append(row)
    config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for table, lines in rows.items():
        header = f"# This file is generated by ikeclient from {keylog_path.name}. SECRET.\n"
        _write_private(config_dir / table, header + "".join(r + "\n" for r in lines))
    preferences = config_dir / "preferences"
    if not preferences.exists() and not preferences.is_symlink():
        _write_private(
            preferences,
            "# Written by ikeclient: decrypt ESP with the SAs in esp_sa.\n"
            "esp.enable_encryption_decode: TRUE\n",
        )
