"""Which payloads each IKEv1 exchange may carry and how often: one table, checked once.

:data:`MESSAGE_RULES` is keyed by exchange type (RFC 2409 §5 for the phase 1 modes,
§5.5 Quick Mode, §5.7 Informational; draft-dukes-ike-mode-cfg §3.2 Transaction). A payload
type that is not listed is an InvalidSyntax, except payloads this codec does not know (kept
raw, allowed anywhere). ``max_count`` is a hard cap, a bound on work. Which payloads one
step of an exchange needs is checked by the step's own module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ikeclient.errors import InvalidSyntax
from ikeclient.ike.v1.enums import ExchangeType, PayloadType
from ikeclient.ike.v1.payloads import Payload, UnknownPayload, payload_type_of

__all__ = ["MESSAGE_RULES", "check_message_rules"]

_T = PayloadType
_NAT: dict[int, int] = {_T.NAT_D: 4, _T.NAT_D_DRAFT: 4}
_PHASE1: Mapping[int, int] = {
    _T.SA: 1, _T.KE: 1, _T.NONCE: 1, _T.ID: 1, _T.HASH: 1, _T.SIG: 1, _T.CERT: 8, _T.CR: 8,
    _T.VENDOR_ID: 32, _T.NOTIFICATION: 16, **_NAT,
}  # fmt: skip

MESSAGE_RULES: Mapping[int, Mapping[int, int]] = MappingProxyType(
    {
        ExchangeType.IDENTITY_PROTECTION: MappingProxyType(dict(_PHASE1)),
        ExchangeType.AGGRESSIVE: MappingProxyType(dict(_PHASE1)),
        ExchangeType.QUICK: MappingProxyType(
            {
                _T.HASH: 1,
                _T.SA: 1,
                _T.NONCE: 1,
                _T.KE: 1,
                _T.ID: 2,
                _T.NOTIFICATION: 8,
                _T.NAT_OA: 2,
                _T.NAT_OA_DRAFT: 2,
            }
        ),
        ExchangeType.INFORMATIONAL: MappingProxyType(
            {_T.HASH: 1, _T.NOTIFICATION: 16, _T.DELETE: 16}
        ),
        ExchangeType.TRANSACTION: MappingProxyType({_T.HASH: 1, _T.ATTRIBUTE: 1}),
    }
)
"""Exchange type → {payload type: maximum count}."""


def check_message_rules(exchange_type: int, payloads: Sequence[Payload]) -> None:
    """Raise InvalidSyntax when a message breaks :data:`MESSAGE_RULES`."""
    rule = MESSAGE_RULES.get(exchange_type)
    if rule is None:
        raise InvalidSyntax(f"exchange type {exchange_type} is not supported")
    counts = Counter(payload_type_of(p) for p in payloads if not isinstance(p, UnknownPayload))
    for kind, n in counts.items():
        cap = rule.get(kind)
        if cap is None:
            raise InvalidSyntax(f"payload type {kind} is not allowed in exchange {exchange_type}")
        if n > cap:
            raise InvalidSyntax(f"{n} payloads of type {kind} in exchange {exchange_type}")
