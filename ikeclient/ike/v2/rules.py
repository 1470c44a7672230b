"""Which payloads each IKEv2 message may carry, how often, and whether encrypted.

One table, :data:`MESSAGE_RULES`, keyed by ``(exchange type, is_response)``,
checked once by :func:`check_message_rules` before any exchange handler runs.
The shape follows strongSwan's ``src/libcharon/encoding/message.c`` (payload
rules with min/max counts, an "encrypted" flag and "sufficient" payloads),
with the message layouts of RFC 7296 §1.2-§1.5, RFC 7383 (SKF), RFC 9242
(IKE_INTERMEDIATE), RFC 9370 (IKE_FOLLOWUP_KE) and RFC 5723
(IKE_SESSION_RESUME).

Semantics:

* A payload type that is not in the rule is an InvalidSyntax, except
  :class:`~ikeclient.ike.v2.payloads.UnknownPayload` (non-critical payloads we
  do not understand), which is allowed anywhere (RFC 7296 §2.5).
* ``max_count`` is a hard cap (a bound on work, like strongSwan's
  MAX_*_PAYLOADS).
* ``min_count`` applies to a normal message.  A message that carries none of
  the required payload types and at least one *sufficient* payload (a Notify
  in a response: an error, COOKIE or INVALID_KE_PAYLOAD answer) is exempt, so
  "HDR, N(NO_PROPOSAL_CHOSEN)" passes while "HDR, SA, KE, N" (Nonce missing)
  does not.  This is stricter than strongSwan, which lets any notify excuse
  missing payloads.
* In an encrypted exchange the outer chain is exactly one SK or SKF payload
  (RFC 7296 §3.14, RFC 7383 §2.5) and the rule's counts apply to the inner
  (decrypted) chain.  Passing ``inner=None`` checks only the outer chain, for
  use before decryption or before all fragments have arrived.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.v2.enums import ExchangeType, PayloadType
from ikeclient.ike.v2.payloads import (
    Payload,
    SkfPayload,
    SkPayload,
    UnknownPayload,
    payload_type_of,
)

__all__ = [
    "MESSAGE_RULES",
    "MessageRule",
    "PayloadRule",
    "check_message_rules",
]

# Caps on repeated payloads (strongSwan uses 20 for most; we are more generous
# with notifies and certificates, which real gateways send in numbers).
MAX_NOTIFY = 64
MAX_VENDOR_ID = 32
MAX_CERT = 16
MAX_CERTREQ = 32
MAX_DELETE = 32


@dataclass(frozen=True, slots=True)
class PayloadRule:
    """How often one payload type may appear in a message."""

    payload_type: PayloadType
    min_count: int
    max_count: int
    sufficient: bool = False
    """Present without any required payload type, it makes the message complete."""


@dataclass(frozen=True, slots=True)
class MessageRule:
    """The payload rules of one (exchange type, request/response) message."""

    encrypted: bool
    payloads: tuple[PayloadRule, ...]

    def rule_for(self, payload_type: int) -> PayloadRule | None:
        """The rule for ``payload_type``, or None if the type is not allowed."""
        for rule in self.payloads:
            if rule.payload_type == payload_type:
                return rule
        return None


def _r(
    payload_type: PayloadType, min_count: int, max_count: int, *, sufficient: bool = False
) -> PayloadRule:
    return PayloadRule(payload_type, min_count, max_count, sufficient)


_T = PayloadType

# IKE_SA_INIT (RFC 7296 §1.2):  HDR, SAi1, KEi, Ni  -->
#                          <--  HDR, SAr1, KEr, Nr, [CERTREQ]
#                          <--  HDR, N(COOKIE) | N(INVALID_KE_PAYLOAD) | N(error)
_IKE_SA_INIT_REQUEST = MessageRule(
    encrypted=False,
    payloads=(
        _r(_T.SA, 1, 1),
        _r(_T.KE, 1, 1),
        _r(_T.NONCE, 1, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
        _r(_T.CERTREQ, 0, MAX_CERTREQ),
    ),
)
_IKE_SA_INIT_RESPONSE = MessageRule(
    encrypted=False,
    payloads=(
        _r(_T.SA, 1, 1),
        _r(_T.KE, 1, 1),
        _r(_T.NONCE, 1, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY, sufficient=True),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
        _r(_T.CERTREQ, 0, MAX_CERTREQ),
    ),
)

# IKE_AUTH (RFC 7296 §1.2, §2.16 EAP, RFC 4739 multiple auth): every payload is
# optional because EAP rounds carry only EAP or only AUTH.
#   HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, SAi2, TSi, TSr}  -->
#                          <--  HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}
_IKE_AUTH_REQUEST = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.IDI, 0, 1),
        _r(_T.CERT, 0, MAX_CERT),
        _r(_T.CERTREQ, 0, MAX_CERTREQ),
        _r(_T.IDR, 0, 1),
        _r(_T.AUTH, 0, 1),
        _r(_T.EAP, 0, 1),
        _r(_T.CP, 0, 1),
        _r(_T.SA, 0, 1),
        _r(_T.TSI, 0, 1),
        _r(_T.TSR, 0, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)
_IKE_AUTH_RESPONSE = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.IDR, 0, 1),
        _r(_T.CERT, 0, MAX_CERT),
        _r(_T.AUTH, 0, 1),
        _r(_T.EAP, 0, 1),
        _r(_T.CP, 0, 1),
        _r(_T.SA, 0, 1),
        _r(_T.TSI, 0, 1),
        _r(_T.TSR, 0, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY, sufficient=True),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)

# CREATE_CHILD_SA (RFC 7296 §1.3):
#   HDR, SK {[N(REKEY_SA)], SA, Ni, [KEi], [TSi, TSr]}  -->
#                          <--  HDR, SK {SA, Nr, [KEr], [TSi, TSr]}
#                          <--  HDR, SK {N(error)}
_CREATE_CHILD_SA_REQUEST = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.SA, 1, 1),
        _r(_T.NONCE, 1, 1),
        _r(_T.KE, 0, 1),
        _r(_T.TSI, 0, 1),
        _r(_T.TSR, 0, 1),
        _r(_T.CP, 0, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)
_CREATE_CHILD_SA_RESPONSE = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.SA, 1, 1),
        _r(_T.NONCE, 1, 1),
        _r(_T.KE, 0, 1),
        _r(_T.TSI, 0, 1),
        _r(_T.TSR, 0, 1),
        _r(_T.CP, 0, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY, sufficient=True),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)

# INFORMATIONAL (RFC 7296 §1.4): HDR, SK {[N,] [D,] [CP,] ...}; empty is a liveness check.
_INFORMATIONAL = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.DELETE, 0, MAX_DELETE),
        _r(_T.CP, 0, 1),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)

# IKE_INTERMEDIATE (RFC 9242 §3; RFC 9370 §2.2.2 carries KE in it).
_IKE_INTERMEDIATE_REQUEST = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.KE, 0, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)
_IKE_INTERMEDIATE_RESPONSE = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.KE, 0, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY, sufficient=True),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)

# IKE_FOLLOWUP_KE (RFC 9370 §2.2.4): HDR, SK {KEi(n), N(ADDITIONAL_KEY_EXCHANGE)} -->
_IKE_FOLLOWUP_KE_REQUEST = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.KE, 1, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)
_IKE_FOLLOWUP_KE_RESPONSE = MessageRule(
    encrypted=True,
    payloads=(
        _r(_T.KE, 1, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY, sufficient=True),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)

# IKE_SESSION_RESUME (RFC 5723 §4.1): HDR, Ni, N(TICKET_OPAQUE) [,N+]  -->
#                                <--  HDR, Nr [,N+]   or   HDR, N(error)
_IKE_SESSION_RESUME_REQUEST = MessageRule(
    encrypted=False,
    payloads=(
        _r(_T.NONCE, 1, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)
_IKE_SESSION_RESUME_RESPONSE = MessageRule(
    encrypted=False,
    payloads=(
        _r(_T.NONCE, 1, 1),
        _r(_T.NOTIFY, 0, MAX_NOTIFY, sufficient=True),
        _r(_T.VENDOR_ID, 0, MAX_VENDOR_ID),
    ),
)

_E = ExchangeType
MESSAGE_RULES: Mapping[tuple[int, bool], MessageRule] = MappingProxyType(
    {
        (_E.IKE_SA_INIT, False): _IKE_SA_INIT_REQUEST,
        (_E.IKE_SA_INIT, True): _IKE_SA_INIT_RESPONSE,
        (_E.IKE_AUTH, False): _IKE_AUTH_REQUEST,
        (_E.IKE_AUTH, True): _IKE_AUTH_RESPONSE,
        (_E.CREATE_CHILD_SA, False): _CREATE_CHILD_SA_REQUEST,
        (_E.CREATE_CHILD_SA, True): _CREATE_CHILD_SA_RESPONSE,
        (_E.INFORMATIONAL, False): _INFORMATIONAL,
        (_E.INFORMATIONAL, True): _INFORMATIONAL,
        (_E.IKE_INTERMEDIATE, False): _IKE_INTERMEDIATE_REQUEST,
        (_E.IKE_INTERMEDIATE, True): _IKE_INTERMEDIATE_RESPONSE,
        (_E.IKE_FOLLOWUP_KE, False): _IKE_FOLLOWUP_KE_REQUEST,
        (_E.IKE_FOLLOWUP_KE, True): _IKE_FOLLOWUP_KE_RESPONSE,
        (_E.IKE_SESSION_RESUME, False): _IKE_SESSION_RESUME_REQUEST,
        (_E.IKE_SESSION_RESUME, True): _IKE_SESSION_RESUME_RESPONSE,
    }
)
"""(exchange type, is_response) → the payload rules of that message."""


def _name(enum: type[ExchangeType] | type[PayloadType], value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


def _check_counts(rule: MessageRule, payloads: Sequence[Payload], what: str) -> None:
    counts: Counter[int] = Counter(
        payload_type_of(p) for p in payloads if not isinstance(p, UnknownPayload)
    )
    for payload_type, count in counts.items():
        payload_rule = rule.rule_for(payload_type)
        if payload_rule is None:
            raise InvalidSyntax(f"{_name(PayloadType, payload_type)} payload not allowed in {what}")
        if count > payload_rule.max_count:
            raise InvalidSyntax(
                f"{count} {payload_rule.payload_type.name} payloads in {what}, "
                f"at most {payload_rule.max_count} allowed"
            )
    required = [r for r in rule.payloads if r.min_count > 0]
    notify_only = any(counts[r.payload_type] for r in rule.payloads if r.sufficient) and not any(
        counts[r.payload_type] for r in required
    )
    if notify_only:
        return
    for payload_rule in required:
        if counts[payload_rule.payload_type] < payload_rule.min_count:
            raise InvalidSyntax(f"{payload_rule.payload_type.name} payload missing in {what}")


def check_message_rules(
    exchange_type: int,
    is_response: bool,
    outer: Sequence[Payload],
    inner: Sequence[Payload] | None,
) -> None:
    """Check a message against :data:`MESSAGE_RULES`; raise InvalidSyntax if it breaks them.

    ``outer`` is the chain after the IKE header; ``inner`` the decrypted chain
    of the SK payload (or of the reassembled SKF fragments), or None when not
    available yet, for unencrypted exchanges it must be None.
    """
    what = f"{_name(ExchangeType, exchange_type)} {'response' if is_response else 'request'}"
    rule = MESSAGE_RULES.get((exchange_type, is_response))
    if rule is None:
        raise InvalidSyntax(f"unsupported exchange type {exchange_type}")
    if not rule.encrypted:
        if inner is not None:
            raise InvalidSyntax(f"{what} is not encrypted but inner payloads were given")
        _check_counts(rule, outer, what)
        return
    known_outer = [p for p in outer if not isinstance(p, UnknownPayload)]
    if len(known_outer) != 1 or not isinstance(known_outer[0], SkPayload | SkfPayload):
        names = ", ".join(_name(PayloadType, payload_type_of(p)) for p in known_outer)
        raise InvalidSyntax(
            f"{what} must carry exactly one SK or SKF payload outside, not [{names}]"
        )
    if inner is None:
        return
    for payload in inner:
        if isinstance(payload, SkPayload | SkfPayload):
            raise InvalidSyntax(f"encrypted payload nested inside the SK payload of {what}")
    _check_counts(rule, inner, what + " (inside SK)")
