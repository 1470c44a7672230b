"""Typed proposals: what we offer, independent of the wire format and of the IKE version.

A ``ProposalSpec`` lists, per transform type, the algorithms one proposal
offers (RFC 7296 §3.3: within one proposal, one of each transform type is
chosen). Strings such as ``"aes256gcm16-prfsha256-ecp256"`` are turned into
these only in ``ikeclient.config.proposals``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikeclient.crypto.transforms import EncrId, EsnId, IntegId, KeGroup, PrfId


def _name(enum: type[EncrId] | type[PrfId] | type[IntegId] | type[KeGroup], value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return f"{enum.__name__}({value})"


@dataclass(frozen=True, slots=True)
class EncrSpec:
    """An encryption transform with its key length in bits (None when the cipher has none)."""

    id: int
    key_bits: int | None = None

    def __str__(self) -> str:
        base = _name(EncrId, self.id)
        return base if self.key_bits is None else f"{base}_{self.key_bits}"


@dataclass(frozen=True, slots=True)
class ProposalSpec:
    """One proposal: the acceptable algorithms for each transform type."""

    encr: tuple[EncrSpec, ...]
    integ: tuple[int, ...] = ()
    prf: tuple[int, ...] = ()
    ke: tuple[int, ...] = ()
    esn: tuple[int, ...] = ()

    def __str__(self) -> str:
        parts = [str(e) for e in self.encr]
        parts += [_name(IntegId, i) for i in self.integ]
        parts += [f"PRF_{_name(PrfId, p)}" for p in self.prf]
        parts += [_name(KeGroup, k) for k in self.ke]
        parts += [EsnId(e).name if e in (0, 1) else str(e) for e in self.esn]
        return "/".join(parts)


@dataclass(frozen=True, slots=True)
class ChosenAlgorithms:
    """The single set of algorithms a responder picked from one of our proposals."""

    encr: EncrSpec
    integ: int | None
    prf: int | None
    ke: int | None
    esn: bool

    def __str__(self) -> str:
        parts = [str(self.encr)]
        if self.integ is not None:
            parts.append(_name(IntegId, self.integ))
        if self.prf is not None:
            parts.append(f"PRF_{_name(PrfId, self.prf)}")
        if self.ke is not None:
            parts.append(_name(KeGroup, self.ke))
        if self.esn:
            parts.append("ESN")
        return "/".join(parts)
