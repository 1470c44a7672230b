"""Certificate and EAP profiles: keys, reading files, secrets, ``secret set --kind``, doctor."""

from __future__ import annotations

import io
from pathlib import Path

import keyring.core
import pytest
from typer.testing import CliRunner

from ikeclient.cli import app
from ikeclient.cli.doctor_certs import FAIL, OK, WARN, certificate_checks
from ikeclient.config.credentials import (
    ProfileSecrets,
    build_tls_client,
    key_is_encrypted,
    load_auth_settings,
    load_credential,
    load_trust,
)
from ikeclient.config.profile import ikev2_settings, load_profile
from ikeclient.errors import ConfigError, SecretStoreError
from ikeclient.ike.identity import Identity
from ikeclient.secretstore import (
    encode_secrets,
    get_secret,
    load_secrets,
    read_secret_stream,
)
from tests.pki import P12_PASSPHRASE, key_pem, make_pki, pem, write_pki

BASE = """\
gateway = "198.18.2.2"
local_id = "client@ike.lab"
remote_id = "gw.ike.lab"
remote_ts = ["198.18.3.0/24"]
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.core.init_backend()
    return tmp_path


def profile(tmp_path: Path, extra: str, name: str = "lab") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(BASE + extra)
    return path


def test_psk_profile_is_unchanged(tmp_path: Path) -> None:
    prof = load_profile(profile(tmp_path, 'psk_file = "lab.psk"\n'))
    assert prof.auth.local == prof.auth.remote == "psk"
    assert prof.auth.uses_psk and not prof.auth.uses_client_certificate
    s = ikev2_settings(prof, b"k")
    assert s.auth.local == "psk" and s.fragmentation and s.fragment_size == 1280


def test_certificate_profile(tmp_path: Path, files: dict[str, Path]) -> None:
    text = (
        'auth = "pubkey"\n'
        f'certificate = "{files["client_ecdsa256"]}"\n'
        f'private_key = "{files["client_ecdsa256.key"]}"\n'
        'ca_certificates = ["ca.pem"]\n'
        'crls = ["ca.crl"]\n'
        'signature_auth = "rfc7427"\nrsa_signature = "pss"\nfragment_size = 1400\n'
    )
    prof = load_profile(profile(tmp_path, text))
    a = prof.auth
    assert (a.local, a.remote, a.signature, a.rsa_pss) == ("pubkey", "pubkey", "rfc7427", True)
    assert a.ca_certificates == (tmp_path / "ca.pem",)  # relative to the profile
    assert a.crls == (tmp_path / "ca.crl",) and a.fragment_size == 1400
    assert not a.uses_psk


def test_remote_id_defaults_to_the_gateway_for_certificates(tmp_path: Path) -> None:
    text = BASE.replace('remote_id = "gw.ike.lab"\n', "").replace("198.18.2.2", "vpn.example")
    path = tmp_path / "x.toml"
    path.write_text(text + 'psk_file = "k"\nca_certificates = ["ca.pem"]\n')
    assert load_profile(path).remote_id == Identity.parse("vpn.example")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('auth = "cert"\n', "auth: 'cert' is not one of psk, pubkey, eap"),
        ('auth = "pubkey"\nca_certificates = ["c"]\n', "certificate: auth = 'pubkey' needs"),
        ('remote_auth = "pubkey"\n', "needs ca_certificates or use_system_ca"),
        ('auth = "eap"\neap_method = "peap"\n', "eap_method: 'peap' is not one of"),
        (
            'auth = "eap"\neap_method = "tls"\nca_certificates = ["c"]\n',
            "eap_method = 'tls' needs certificate",
        ),
        (
            'auth = "eap"\neap_method = "tls"\ncertificate = "c"\nprivate_key = "k"\n',
            "EAP-TLS checks the gateway's TLS certificate",
        ),
        ('auth = "eap"\nremote_auth = "eap"\n', "needs auth = 'eap' and eap_only"),
        (
            'auth = "eap"\neap_method = "md5"\neap_only = true\nremote_auth = "eap"\n',
            "EAP-MD5 does not authenticate the gateway",
        ),
        (
            'auth = "pubkey"\npkcs12 = "p"\ncertificate = "c"\nca_certificates = ["c"]\n',
            "either pkcs12 or certificate",
        ),
        ("fragment_size = 100\n", "fragment_size: 100 is not between"),
        ('signature_auth = "new"\n', "signature_auth: 'new' is not one of"),
        ('rsa_signature = "raw"\n', "rsa_signature"),
        ('ca_certificates = "ca.pem"\nuse_system_ca = 1\n', "use_system_ca: expected bool"),
    ],
)
def test_auth_errors_name_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_profile(profile(tmp_path, extra))


def test_loading_credentials(tmp_path: Path, files: dict[str, Path]) -> None:
    pki = make_pki()
    text = (
        f'auth = "pubkey"\ncertificate = "{files["client_rsa"]}"\n'
        f'private_key = "{files["client_rsa.key"]}"\n'
        f'ca_certificates = ["{files["ca"]}", "{files["big_ca"]}"]\ncrls = ["{files["crl"]}"]\n'
    )
    prof = load_profile(profile(tmp_path, text))
    settings = load_auth_settings(prof.auth, prof.local_id, ProfileSecrets())
    assert settings.credential is not None
    assert settings.credential.certificate == pki.client_rsa.cert
    assert settings.trust is not None and len(settings.trust.anchors) == 2
    assert len(settings.trust.crls) == 1
    assert "client@ike.lab" in repr(settings.credential) and "BEGIN" not in repr(settings)


def test_certificate_chain_and_der(tmp_path: Path, files: dict[str, Path]) -> None:
    pki = make_pki()
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pem(pki.client_big.cert) + pem(pki.big_ca.cert))
    der = tmp_path / "key.der"
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    der.write_bytes(
        pki.client_big.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    prof = load_profile(
        profile(
            tmp_path,
            f'auth = "pubkey"\ncertificate = "{chain}"\nprivate_key = "{der}"\n'
            'ca_certificates = ["x"]\n',
        )
    )
    cred = load_credential(prof.auth, None)
    assert cred.intermediates == (pki.big_ca.cert,)


def test_key_that_does_not_belong(tmp_path: Path, files: dict[str, Path]) -> None:
    prof = load_profile(
        profile(
            tmp_path,
            f'auth = "pubkey"\ncertificate = "{files["client_rsa"]}"\n'
            f'private_key = "{files["client_ecdsa256.key"]}"\nca_certificates = ["x"]\n',
        )
    )
    with pytest.raises(ConfigError, match="does not belong to the certificate"):
        load_credential(prof.auth, None)


def test_encrypted_key_and_pkcs12(tmp_path: Path, files: dict[str, Path]) -> None:
    pki = make_pki()
    key = tmp_path / "enc.key"
    key.write_bytes(key_pem(pki.client_ed25519.key, "hunter2"))
    text = f'auth = "pubkey"\ncertificate = "{files["client_ed25519"]}"\nprivate_key = "{key}"\n'
    prof = load_profile(profile(tmp_path, text + 'ca_certificates = ["x"]\n'))
    assert key_is_encrypted(prof.auth)
    with pytest.raises(ConfigError, match="--kind key"):
        load_credential(prof.auth, None)
    with pytest.raises(ConfigError, match="wrong passphrase"):
        load_credential(prof.auth, b"nope")
    assert load_credential(prof.auth, b"hunter2").certificate == pki.client_ed25519.cert

    p12 = load_profile(
        profile(
            tmp_path,
            f'auth = "pubkey"\npkcs12 = "{files["client_rsa.p12"]}"\nca_certificates = ["x"]\n',
            "p12",
        )
    )
    assert key_is_encrypted(p12.auth)
    with pytest.raises(ConfigError, match="PKCS#12"):
        load_credential(p12.auth, b"wrong")
    cred = load_credential(p12.auth, P12_PASSPHRASE.encode())
    assert (
        cred.certificate == pki.client_rsa.cert and cred.intermediates == ()
    )  # the CA is left out


def test_bad_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    prof = load_profile(profile(tmp_path, f'ca_certificates = ["{junk}", "missing.pem"]\n'))
    with pytest.raises(ConfigError, match=r"junk\.pem: not an X\.509 certificate"):
        load_trust(prof.auth)
    prof = load_profile(profile(tmp_path, 'ca_certificates = ["missing.pem"]\n'))
    with pytest.raises(ConfigError, match=r"missing\.pem: cannot read"):
        load_trust(prof.auth)


def test_system_store(tmp_path: Path, files: dict[str, Path]) -> None:
    prof = load_profile(
        profile(tmp_path, f'use_system_ca = true\nca_certificates = ["{files["ca"]}"]\n')
    )
    trust = load_trust(prof.auth)
    assert len(trust.anchors) > 10  # Debian's bundle
    assert len(trust.ca_key_hashes()) == 20  # CERTREQ names only the profile's own CA


def test_eap_settings_and_tls_context(tmp_path: Path, files: dict[str, Path]) -> None:
    text = (
        f'auth = "eap"\neap_method = "tls"\neap_identity = "alice"\n'
        f'certificate = "{files["client_rsa"]}"\nprivate_key = "{files["client_rsa.key"]}"\n'
        f'ca_certificates = ["{files["ca"]}"]\n'
    )
    prof = load_profile(profile(tmp_path, text))
    s = load_auth_settings(prof.auth, prof.local_id, ProfileSecrets())
    assert s.eap is not None and s.eap.identity == b"alice" and s.eap.tls is not None
    assert s.credential is None and s.trust is not None  # the certificate goes into TLS only
    assert "CLIENT_RANDOM" not in s.eap.tls.key_log.read()  # nothing logged before a handshake
    client = build_tls_client(make_pki().client_rsa.credential(), s.trust)
    assert client.context.verify_mode.name == "CERT_REQUIRED"


def test_secrets_needed_and_the_pipe(env: Path, files: dict[str, Path]) -> None:
    pki = make_pki()
    key = env / "enc.key"
    key.write_bytes(key_pem(pki.client_ecdsa256.key, "kp"))
    eap_file = env / "eap.pw"
    eap_file.write_text("pa55word\n")
    eap_file.chmod(0o600)
    text = (
        'auth = "eap"\neap_method = "mschapv2"\nremote_auth = "pubkey"\n'
        f'ca_certificates = ["{files["ca"]}"]\neap_password_file = "{eap_file}"\n'
    )
    prof = load_profile(profile(env, text))
    secrets = load_secrets(prof)
    assert secrets == ProfileSecrets(b"", b"pa55word", None)
    # Over the pipe and back, also with a bare pre-shared key line (older callers).
    wire = encode_secrets(ProfileSecrets(b"k1", b"e\x00p", b"pass"))
    assert read_secret_stream(io.BytesIO(wire)) == ProfileSecrets(b"k1", b"e\x00p", b"pass")
    assert read_secret_stream(io.BytesIO(b"just-a-psk\n")) == ProfileSecrets(b"just-a-psk")
    with pytest.raises(SecretStoreError):
        read_secret_stream(io.BytesIO(b"ikeclient-secrets psk=zz\n"))
    assert "pa55word" not in repr(secrets) and "6b31" not in repr(wire[:0])
    # An encrypted key without a stored passphrase: the error says how to store it.
    text = (
        f'auth = "pubkey"\ncertificate = "{files["client_ecdsa256"]}"\nprivate_key = "{key}"\n'
        f'ca_certificates = ["{files["ca"]}"]\n'
    )
    prof = load_profile(profile(env, text, "enc"))
    with pytest.raises(SecretStoreError, match="secret set enc --kind key"):
        load_secrets(prof)
    assert load_secrets(prof, prompt=lambda _: "kp").key == b"kp"


def test_secret_set_kinds(env: Path) -> None:
    runner = CliRunner()
    for kind, value in (("eap", "pa55word"), ("key", "kp")):
        result = runner.invoke(app, ["secret", "set", "lab", "--kind", kind], input=value + "\n")
        assert result.exit_code == 0, result.output
        assert get_secret("lab", kind) == value
    result = runner.invoke(app, ["secret", "set", "lab", "--kind", "pin"], input="x\n")
    assert result.exit_code == 3 and "psk, xauth, eap, key" in result.stderr


def test_doctor_certificate_checks(env: Path, files: dict[str, Path]) -> None:
    text = (
        f'auth = "pubkey"\ncertificate = "{files["client_rsa"]}"\n'
        f'private_key = "{files["client_rsa.key"]}"\n'
        f'ca_certificates = ["{files["ca"]}", "{files["gw"]}"]\ncrls = ["{files["crl"]}"]\n'
    )
    checks = certificate_checks(load_profile(profile(env, text)))
    levels = [c[0] for c in checks]
    assert levels == [OK, OK, WARN, OK], checks  # gw.pem is not a CA certificate
    assert "valid until" in checks[0][2] and "not a CA certificate" in checks[2][2]
    expired = text.replace(str(files["client_rsa"]), str(files["gw_expired"])).replace(
        str(files["client_rsa.key"]), str(files["gw_expired.key"])
    )
    checks = certificate_checks(load_profile(profile(env, expired, "old")))
    assert checks[0][0] == FAIL and "expired on" in checks[0][2]
    mismatch = text.replace(str(files["client_rsa.key"]), str(files["client_ed25519.key"]))
    checks = certificate_checks(load_profile(profile(env, mismatch, "bad")))
    assert checks[0][0] == FAIL and "does not belong" in checks[0][2]
    eap = f'auth = "eap"\nca_certificates = ["{files["ca"]}"]\n'
    checks = certificate_checks(load_profile(profile(env, eap, "eap")))
    assert checks[-1][0] == WARN and "--kind eap" in checks[-1][2]


def test_doctor_command_lists_certificate_checks(env: Path, files: dict[str, Path]) -> None:
    directory = env / "config" / "ikeclient" / "profiles"
    directory.mkdir(parents=True)
    (directory / "office.toml").write_text(
        BASE + f'auth = "pubkey"\ncertificate = "{files["client_rsa"]}"\n'
        f'private_key = "{files["client_rsa.key"]}"\nca_certificates = ["{files["ca"]}"]\n'
    )
    result = CliRunner().invoke(app, ["doctor"])
    assert "profile office" in result.stdout and "valid until" in result.stdout


def test_no_secret_in_reprs(files: dict[str, Path]) -> None:
    from ikeclient.ike.v2.auth_settings import AuthSettings  # noqa: PLC0415
    from ikeclient.ike.v2.eap import EapSettings  # noqa: PLC0415

    pki = make_pki()
    key_text = key_pem(pki.client_rsa.key).decode()
    settings = AuthSettings(
        local="eap",
        remote="pubkey",
        trust=pki.trust(),
        eap=EapSettings("mschapv2", b"alice", "sup3r-secret-pw"),
    )
    cred = pki.client_rsa.credential()
    for text in (
        repr(settings),
        repr(cred),
        repr(ProfileSecrets(b"psk-xyz", b"eap-xyz", b"k-xyz")),
    ):
        assert "sup3r-secret-pw" not in text and "xyz" not in text
        assert key_text[40:80] not in text and "private_numbers" not in text
