"""``--keylog``: the file's safety (0600, no symlinks) and its Wireshark row formats.

The formats are checked against fixed strings, and, where tshark is installed, against
tshark itself: it rejects a row whose algorithm name is unknown or whose key lengths do
not fit the algorithm.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ikeclient.crypto.transforms import EncrId, IntegId
from ikeclient.errors import ConfigError
from ikeclient.runtime.keylog import KeyLog, esp_sa_rows, export_wireshark_uat, ikev2_row

SPI_I = bytes.fromhex("0011223344556677")
SPI_R = bytes.fromhex("8899aabbccddeeff")


def key(n: int, fill: int) -> bytes:
    return bytes([fill]) * n


GCM256_IKE: dict[str, Any] = {
    "spi_i": SPI_I,
    "spi_r": SPI_R,
    "encr_id": EncrId.AES_GCM_16,
    "encr_key_bits": 256,
    "integ_id": None,
    "sk_ei": key(36, 0xE1),
    "sk_er": key(36, 0xE2),
    "sk_ai": b"",
    "sk_ar": b"",
}
CBC128_IKE: dict[str, Any] = {
    "spi_i": SPI_I,
    "spi_r": SPI_R,
    "encr_id": EncrId.AES_CBC,
    "encr_key_bits": 128,
    "integ_id": IntegId.HMAC_SHA2_256_128,
    "sk_ei": key(16, 0xE1),
    "sk_er": key(16, 0xE2),
    "sk_ai": key(32, 0xA1),
    "sk_ar": key(32, 0xA2),
}
GCM256_ESP: dict[str, Any] = {
    "spi_in": 0xC0000001,
    "spi_out": 0x00000102,
    "encr_id": EncrId.AES_GCM_16,
    "encr_key_bits": 256,
    "integ_id": None,
    "encr_key_in": key(36, 0x11),
    "integ_key_in": b"",
    "encr_key_out": key(36, 0x22),
    "integ_key_out": b"",
}
CBC128_ESP: dict[str, Any] = {
    "spi_in": 0xC0000001,
    "spi_out": 0x00000102,
    "encr_id": EncrId.AES_CBC,
    "encr_key_bits": 128,
    "integ_id": IntegId.HMAC_SHA2_256_128,
    "encr_key_in": key(16, 0x11),
    "integ_key_in": key(32, 0x33),
    "encr_key_out": key(16, 0x22),
    "integ_key_out": key(32, 0x44),
}
CHACHA_ESP: dict[str, Any] = {
    **GCM256_ESP,
    "encr_id": EncrId.CHACHA20_POLY1305,
    "encr_key_bits": None,
}


# --- the file -----------------------------------------------------------------------


def test_creates_the_file_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    old = os.umask(0)
    try:
        klog = KeyLog.open(path)
    finally:
        os.umask(old)
    klog.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("# ikeclient key log")


def test_truncates_an_existing_file_and_makes_it_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("old contents\n")
    path.chmod(0o644)
    with KeyLog.open(path) as klog:
        klog.write_ike_sa(**GCM256_IKE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "old contents" not in path.read_text()


def test_refuses_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("precious\n")
    target.chmod(0o644)
    link = tmp_path / "keys.log"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        KeyLog.open(link)
    assert target.read_text() == "precious\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    # A dangling link is refused too (O_CREAT would otherwise create its target).
    dangling = tmp_path / "dangling.log"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="symbolic link"):
        KeyLog.open(dangling)
    assert not (tmp_path / "nowhere").exists()


def test_refuses_a_non_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        KeyLog.open(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        KeyLog.open(tmp_path)


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keylog"):
        KeyLog.open(tmp_path / "no" / "such" / "keys.log")


def test_rows_are_written_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    klog = KeyLog.open(path)
    klog.write_ike_sa(**GCM256_IKE)
    # Readable before close: line-buffered and flushed.
    assert "uat:ikev2_decryption_table:0011223344556677," in path.read_text()
    klog.write_child_sa(**GCM256_ESP)
    klog.close()
    klog.close()  # idempotent
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    assert [ln.split(":")[1] for ln in lines] == ["ikev2_decryption_table", "esp_sa", "esp_sa"]
    with pytest.raises(ValueError, match="closed"):
        klog.write_ike_sa(**GCM256_IKE)


# --- row formats ----------------------------------------------------------------------


def test_ikev2_row_aes_gcm_256() -> None:
    assert ikev2_row(**GCM256_IKE) == (
        "0011223344556677,8899aabbccddeeff,"
        + "e1" * 36
        + ","
        + "e2" * 36
        + ',"AES-GCM-256 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"'
    )


def test_ikev2_row_aes_cbc_128_hmac_sha256() -> None:
    assert ikev2_row(**CBC128_IKE) == (
        "0011223344556677,8899aabbccddeeff,"
        + "e1" * 16
        + ","
        + "e2" * 16
        + ',"AES-CBC-128 [RFC3602]",'
        + "a1" * 32
        + ","
        + "a2" * 32
        + ',"HMAC_SHA2_256_128 [RFC4868]"'
    )


@pytest.mark.parametrize(
    ("encr_id", "bits", "key_len", "name"),
    [
        (EncrId.AES_CBC, 256, 32, "AES-CBC-256 [RFC3602]"),
        (EncrId.AES_CTR, 128, 20, "AES-CTR-128 [RFC5930]"),
        (EncrId.AES_GCM_8, 128, 20, "AES-GCM-128 with 8 octet ICV [RFC5282]"),
        (EncrId.AES_GCM_12, 192, 28, "AES-GCM-192 with 12 octet ICV [RFC5282]"),
        (EncrId.AES_CCM_16, 256, 35, "AES-CCM-256 with 16 octet ICV [RFC5282]"),
        (EncrId.DES3, None, 24, "3DES [RFC2451]"),
    ],
)
def test_ikev2_encryption_names(encr_id: int, bits: int | None, key_len: int, name: str) -> None:
    aead = encr_id not in (EncrId.AES_CBC, EncrId.AES_CTR, EncrId.DES3)
    row = ikev2_row(
        **{
            **CBC128_IKE,
            "encr_id": encr_id,
            "encr_key_bits": bits,
            "integ_id": None if aead else IntegId.HMAC_SHA1_96,
            "sk_ei": key(key_len, 1),
            "sk_er": key(key_len, 2),
            "sk_ai": b"" if aead else key(20, 3),
            "sk_ar": b"" if aead else key(20, 4),
        }
    )
    assert f'"{name}"' in row
    assert row.endswith('"NONE [RFC4306]"' if aead else '"HMAC_SHA1_96 [RFC2404]"')


def test_esp_rows_aes_gcm_256_key_with_salt_and_null_auth() -> None:
    inbound, outbound = esp_sa_rows(**GCM256_ESP)
    assert inbound == (
        '"IPv4","*","*","0xc0000001","AES-GCM with 16 octet ICV [RFC4106]",'
        f'"0x{"11" * 36}","NULL","0x"'
    )
    assert outbound == (
        '"IPv4","*","*","0x00000102","AES-GCM with 16 octet ICV [RFC4106]",'
        f'"0x{"22" * 36}","NULL","0x"'
    )


def test_esp_rows_aes_cbc_hmac_sha256() -> None:
    inbound, outbound = esp_sa_rows(**CBC128_ESP, ip_version=6)
    assert inbound == (
        f'"IPv6","*","*","0xc0000001","AES-CBC [RFC3602]","0x{"11" * 16}",'
        f'"HMAC-SHA-256-128 [RFC4868]","0x{"33" * 32}"'
    )
    assert outbound == (
        f'"IPv6","*","*","0x00000102","AES-CBC [RFC3602]","0x{"22" * 16}",'
        f'"HMAC-SHA-256-128 [RFC4868]","0x{"44" * 32}"'
    )


def test_esp_rows_aes_ctr_and_sha1() -> None:
    inbound, _ = esp_sa_rows(
        **{
            **CBC128_ESP,
            "encr_id": EncrId.AES_CTR,
            "encr_key_in": key(20, 0x11),
            "encr_key_out": key(20, 0x22),
            "integ_id": IntegId.HMAC_SHA1_96,
            "integ_key_in": key(20, 0x33),
            "integ_key_out": key(20, 0x44),
        }
    )
    assert '"AES-CTR [RFC3686]"' in inbound
    assert f'"0x{"11" * 20}"' in inbound
    assert inbound.endswith(f'"HMAC-SHA-1-96 [RFC2404]","0x{"33" * 20}"')


@pytest.mark.parametrize(
    "bad",
    [
        {"encr_key_in": key(32, 1)},  # GCM key without its salt
        {"encr_key_bits": 128},  # attribute does not match the key
        {"integ_id": IntegId.HMAC_SHA2_256_128},  # AEAD with an integrity algorithm
        {"encr_id": EncrId.CHACHA20_POLY1305},
        {"ip_version": 5},
    ],
)
def test_esp_rows_refuse_what_wireshark_would_reject(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        esp_sa_rows(**{**GCM256_ESP, **bad})
    assert "11" * 8 not in str(info.value)  # no key material in the message


def test_ikev2_row_refuses_wrong_key_lengths() -> None:
    with pytest.raises(ValueError, match="SK_ei is 32 octets, expected 36"):
        ikev2_row(**{**GCM256_IKE, "sk_ei": key(32, 0xE1)})
    with pytest.raises(ValueError, match="SK_ai"):
        ikev2_row(**{**CBC128_IKE, "sk_ai": key(20, 0xA1)})


def test_unsupported_suites_get_a_comment_and_a_warning_not_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys.log"
    with caplog.at_level(logging.WARNING), KeyLog.open(path) as klog:
        klog.write_child_sa(**CHACHA_ESP)
        klog.write_ike_sa(**{**GCM256_IKE, "encr_id": EncrId.CHACHA20_POLY1305})
    text = path.read_text()
    assert "# esp_sa child SA 0xc0000001/0x00000102: ENCR_CHACHA20_POLY1305" in text
    assert "# ikev2_decryption_table IKE SA 0011223344556677/8899aabbccddeeff" in text
    assert not any(line.startswith("uat:") for line in text.splitlines())
    for secret in ("11" * 8, "22" * 8, "e1" * 8, "e2" * 8):
        assert secret not in text
        assert secret not in caplog.text
    assert "ENCR_CHACHA20_POLY1305" in caplog.text


# --- export ---------------------------------------------------------------------------


def test_export_writes_the_two_uat_files_and_preferences(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    with KeyLog.open(path) as klog:
        klog.write_ike_sa(**GCM256_IKE)
        klog.write_child_sa(**GCM256_ESP)
        klog.write_ike_sa(**CBC128_IKE)
        klog.write_child_sa(**CHACHA_ESP)
    conf = tmp_path / "wireshark"
    export_wireshark_uat(path, conf)
    assert stat.S_IMODE(conf.stat().st_mode) == 0o700
    ike = (conf / "ikev2_decryption_table").read_text().splitlines()
    esp = (conf / "esp_sa").read_text().splitlines()
    assert ike[0].startswith("#") and esp[0].startswith("#")
    assert ike[1:] == [ikev2_row(**GCM256_IKE), ikev2_row(**CBC128_IKE)]
    assert esp[1:] == list(esp_sa_rows(**GCM256_ESP))
    for name in ("ikev2_decryption_table", "esp_sa", "preferences"):
        assert stat.S_IMODE((conf / name).stat().st_mode) == 0o600
    assert "esp.enable_encryption_decode: TRUE" in (conf / "preferences").read_text()
    # An existing preferences file is left alone.
    (conf / "preferences").write_text("gui.zoom: 3\n")
    export_wireshark_uat(path, conf)
    assert (conf / "preferences").read_text() == "gui.zoom: 3\n"


def test_export_rejects_foreign_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("CLIENT_RANDOM abc def\n")
    with pytest.raises(ConfigError, match="not an ikeclient key log line"):
        export_wireshark_uat(path, tmp_path / "conf")


def test_export_refuses_to_write_through_a_symlink(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    KeyLog.open(path).close()
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "esp_sa").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="symbolic link"):
        export_wireshark_uat(path, conf)
    assert not (tmp_path / "elsewhere").exists()


# --- tshark itself accepts the rows ------------------------------------------------------

TSHARK = shutil.which("tshark")


def _tshark_accepts(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    pcap = tmp_path / "empty.pcap"
    if not pcap.exists():  # a classic pcap header with no packets (LINKTYPE_ETHERNET)
        pcap.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    argv = [str(TSHARK), "-n", "-r", str(pcap)]
    for opt in options:
        argv += ["-o", opt]
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(tmp_path / "noconf")}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (scripts/setup.sh)")
def test_tshark_accepts_every_row_kind(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    with KeyLog.open(path) as klog:
        klog.write_ike_sa(**GCM256_IKE)
        klog.write_ike_sa(**CBC128_IKE)
        for bits in (128, 192, 256):
            klog.write_ike_sa(
                **{**GCM256_IKE, "encr_id": EncrId.AES_CTR, "encr_key_bits": bits}
                | {"sk_ei": key(bits // 8 + 4, 1), "sk_er": key(bits // 8 + 4, 2)}
                | {"integ_id": IntegId.HMAC_SHA2_512_256}
                | {"sk_ai": key(64, 3), "sk_ar": key(64, 4)}
            )
        klog.write_ike_sa(**CBC128_IKE | {"integ_id": IntegId.AES_XCBC_96, "sk_ai": key(16, 3)})
        klog.write_child_sa(**GCM256_ESP)
        klog.write_child_sa(**CBC128_ESP)
        klog.write_child_sa(
            **GCM256_ESP
            | {"encr_id": EncrId.AES_GCM_8, "encr_key_bits": 128}
            | {"encr_key_in": key(20, 1), "encr_key_out": key(20, 2)}
        )
        klog.write_child_sa(
            **CBC128_ESP
            | {"encr_id": EncrId.DES3, "encr_key_bits": None}
            | {"encr_key_in": key(24, 1), "encr_key_out": key(24, 2)}
            | {"integ_id": IntegId.HMAC_SHA2_384_192}
            | {"integ_key_in": key(48, 1), "integ_key_out": key(48, 2)}
        )
    options = [ln for ln in path.read_text().splitlines() if ln.startswith("uat:")]
    assert len(options) == 6 + 2 * 4
    res = _tshark_accepts(tmp_path, *options)
    assert res.returncode == 0, res.stderr
    # ...and the check has teeth: a key one octet short is refused.
    bad = options[0].replace("e1" * 36, "e1" * 35)
    res = _tshark_accepts(tmp_path, bad)
    assert res.returncode != 0
    assert "SK_ei (35 octets)" in res.stderr
