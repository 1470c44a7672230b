"""EAP-MSCHAPv2, peer side (draft-kamath-pppext-eap-mschapv2-02; RFC 2759; RFC 3079 §3).

    <-- Request  Challenge (OpCode 1): MS-CHAPv2-ID, Value-Size 16, Challenge, Name
    --> Response Response  (OpCode 2): Value-Size 49, Peer-Challenge | 8 zero | NT-Response
                                        | Flags, Name (our user name)
    <-- Request  Success   (OpCode 3): "S=<AuthenticatorResponse> M=<message>"
    --> Response Success   (OpCode 3)
    <-- EAP-Success
or  <-- Request  Failure   (OpCode 4): "E=<error> R=<retry> C=<challenge> V=3 M=<message>"

The gateway proves that it knows the password too: its AuthenticatorResponse
(RFC 2759 §8.7) is checked in constant time before we accept Success, so the
method authenticates both sides and may be used EAP-only (RFC 5998). The MSK
(RFC 3079 §3.4, as strongSwan and Windows build it) is
``key(Magic2) | key(Magic3) | 32 zero octets``: the peer's send key and its
receive key. A Failure request is answered with a Failure Response (RFC 2759
§7: retrying with the same password cannot help), so the gateway ends the
conversation with EAP-Failure and forgets the attempt; ``failure`` keeps the
reason for the error then raised.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from ikeclient.crypto.md4 import md4
from ikeclient.crypto.random import RandomSource
from ikeclient.errors import EapFailure, InvalidSyntax
from ikeclient.ike.v2.eap.packet import EapType

__all__ = [
    "EapMschapv2Peer",
    "authenticator_response",
    "challenge_hash",
    "challenge_response",
    "generate_nt_response",
    "master_key",
    "mschapv2_msk",
    "nt_password_hash",
    "start_key",
]

OP_CHALLENGE, OP_RESPONSE, OP_SUCCESS, OP_FAILURE = 1, 2, 3, 4
_CHALLENGE_SIZE = 16
_RESPONSE_SIZE = 49

# RFC 2759 §8.7
_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"
# RFC 3079 §3.4
_MASTER_MAGIC = b"This is the MPPE Master Key"
_SEND_MAGIC = (
    b"On the client side, this is the send key; on the server side, it is the receive key."
)
_RECEIVE_MAGIC = (
    b"On the client side, this is the receive key; on the server side, it is the send key."
)
_SHS_PAD1 = bytes(40)
_SHS_PAD2 = b"\xf2" * 40

_ERRORS = {
    646: "restricted logon hours",
    647: "account disabled",
    648: "password expired",
    649: "no dial-in permission",
    691: "authentication failure (wrong user name or password)",
    709: "error changing password",
}


def _sha1(*parts: bytes) -> bytes:
    return hashlib.sha1(b"".join(parts), usedforsecurity=False).digest()


def nt_password_hash(password: str) -> bytes:
    """RFC 2759 §8.3: MD4 of the password in UTF-16 little endian (Unicode)."""
    return md4(password.encode("utf-16-le"))


def user_name_for_hash(user: bytes) -> bytes:
    """The user name without a leading ``DOMAIN\\`` (RFC 2759 §8.2, as Windows does)."""
    return user.rsplit(b"\\", 1)[-1]


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, user: bytes) -> bytes:
    """RFC 2759 §8.2: the first 8 octets of SHA1(PeerChallenge | AuthChallenge | UserName)."""
    return _sha1(peer_challenge, authenticator_challenge, user_name_for_hash(user))[:8]


def _des_key(seven: bytes) -> bytes:
    """RFC 2759 §8.6: spread 56 key bits over 8 octets (parity bits are ignored by DES)."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def _des_encrypt(clear: bytes, seven: bytes) -> bytes:
    key = _des_key(seven)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # noqa: S305 - one block, RFC 2759 §8.6
    return encryptor.update(clear) + encryptor.finalize()


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """RFC 2759 §8.5: DES of the challenge under the three 7-octet thirds of the padded hash."""
    z = password_hash + bytes(21 - len(password_hash))
    return b"".join(_des_encrypt(challenge, z[i : i + 7]) for i in (0, 7, 14))


def generate_nt_response(
    authenticator_challenge: bytes, peer_challenge: bytes, user: bytes, password: str
) -> bytes:
    """RFC 2759 §8.1 GenerateNTResponse."""
    challenge = challenge_hash(peer_challenge, authenticator_challenge, user)
    return challenge_response(challenge, nt_password_hash(password))


def authenticator_response(
    password: str,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    user: bytes,
) -> bytes:
    """RFC 2759 §8.7 GenerateAuthenticatorResponse: the 20 octets behind ``S=``."""
    hash_hash = md4(nt_password_hash(password))
    digest = _sha1(hash_hash, nt_response, _MAGIC1)
    challenge = challenge_hash(peer_challenge, authenticator_challenge, user)
    return _sha1(digest, challenge, _MAGIC2)


def master_key(password: str, nt_response: bytes) -> bytes:
    """RFC 3079 §3.4 GetMasterKey: SHA1(PasswordHashHash | NT-Response | Magic1)[0:16]."""
    return _sha1(md4(nt_password_hash(password)), nt_response, _MASTER_MAGIC)[:16]


def start_key(master: bytes, *, send: bool, server: bool) -> bytes:
    """RFC 3079 §3.4 GetAsymmetricStartKey, 128-bit keys."""
    magic = _RECEIVE_MAGIC if send == server else _SEND_MAGIC
    return _sha1(master, _SHS_PAD1, magic, _SHS_PAD2)[:16]


def mschapv2_msk(password: str, nt_response: bytes) -> bytes:
    """The 64-octet MSK: peer send key | peer receive key | 32 zeros (strongSwan, Windows)."""
    master = master_key(password, nt_response)
    send = start_key(master, send=True, server=False)
    receive = start_key(master, send=False, server=False)
    return send + receive + bytes(32)


class EapMschapv2Peer:
    """The peer's MS-CHAPv2 state machine: challenge, response, success (or failure)."""

    eap_type = EapType.MSCHAPV2

    def __init__(self, user: bytes, password: str, rng: RandomSource) -> None:
        self._user = user
        self._password = password
        self._rng = rng
        self._expected: bytes | None = None  # the AuthenticatorResponse we will accept
        self._nt_response = b""
        self.finished = False
        self.mutual = False
        self.msk: bytes | None = None
        self.failure: str | None = None

    def __repr__(self) -> str:
        return f"EapMschapv2Peer(finished={self.finished})"

    def process(self, identifier: int, data: bytes) -> bytes:
        """The Type-Data of our Response to a Request's Type-Data."""
        if not data:
            raise InvalidSyntax("empty EAP-MSCHAPv2 request")
        opcode = data[0]
        if opcode == OP_CHALLENGE and self._expected is None:
            return self._challenge(data)
        if opcode == OP_SUCCESS and self._expected is not None and not self.finished:
            return self._success(data)
        if opcode == OP_FAILURE and self.failure is None:
            self.failure = self._failure(data)
            return bytes((OP_FAILURE,))  # Failure Response: OpCode only
        raise InvalidSyntax(f"unexpected EAP-MSCHAPv2 OpCode {opcode}")

    def _challenge(self, data: bytes) -> bytes:
        # OpCode | MS-CHAPv2-ID | MS-Length (2) | Value-Size | Challenge | Name
        if len(data) < 5 + _CHALLENGE_SIZE or data[4] != _CHALLENGE_SIZE:
            raise InvalidSyntax("malformed EAP-MSCHAPv2 challenge")
        ms_id = data[1]
        challenge = data[5 : 5 + _CHALLENGE_SIZE]
        peer_challenge = self._rng.random_bytes(_CHALLENGE_SIZE)
        self._nt_response = generate_nt_response(
            challenge, peer_challenge, self._user, self._password
        )
        self._expected = authenticator_response(
            self._password, self._nt_response, peer_challenge, challenge, self._user
        )
        value = peer_challenge + bytes(8) + self._nt_response + b"\x00"
        length = 4 + 1 + _RESPONSE_SIZE + len(self._user)
        return (
            bytes((OP_RESPONSE, ms_id))
            + length.to_bytes(2, "big")
            + bytes((_RESPONSE_SIZE,))
            + value
            + self._user
        )

    def _success(self, data: bytes) -> bytes:
        message = data[4:].decode("ascii", errors="replace")
        fields = dict(_fields(message))
        received = fields.get("S", "")
        try:
            value = bytes.fromhex(received)
        except ValueError:
            value = b""
        assert self._expected is not None
        if len(value) != 20 or not hmac.compare_digest(value, self._expected):
            raise EapFailure(
                "EAP-MSCHAPv2: the gateway's authenticator response is wrong "
                "(it does not know the password: not the real gateway?)"
            )
        self.finished = True
        self.mutual = True
        self.msk = mschapv2_msk(self._password, self._nt_response)
        return bytes((OP_SUCCESS,))

    def _failure(self, data: bytes) -> str:
        message = data[4:].decode("ascii", errors="replace")
        fields = dict(_fields(message))
        try:
            code = int(fields.get("E", "0"))
        except ValueError:
            code = 0
        why = _ERRORS.get(code, f"error {code}")
        return f"EAP-MSCHAPv2: the gateway refused the password: {why}"


def _fields(message: str) -> list[tuple[str, str]]:
    """``K=value`` tokens of a Success/Failure message; M= takes the rest (RFC 2759 §6, §7)."""
    out: list[tuple[str, str]] = []
    rest = message.strip()
    while rest:
        if rest.startswith("M="):
            out.append(("M", rest[2:]))
            break
        token, _, rest = rest.partition(" ")
        key, sep, value = token.partition("=")
        if sep:
            out.append((key, value))
        rest = rest.lstrip()
    return out
