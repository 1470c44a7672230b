"""Reassembly of IKE messages the gateway sent as RFC 7383 fragments (SKF payloads).

Each fragment is a message of its own: the IKE header, one SKF payload whose
ICV (or AEAD tag) covers that header and the SKF header (RFC 7383 §2.5), so
every fragment is authenticated before it is kept. Only fragment 1 names the
first inner payload. Limits on the number of fragments, the total size, the
number of messages under reassembly and their age keep a peer from making us
hold memory (RFC 7383 §2.6: a node must bound its reassembly resources): a
message whose fragments have not all come within ``max_age`` seconds of the
first is forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikeclient.errors import InvalidSyntax

MAX_FRAGMENTS = 64
MAX_MESSAGE_SIZE = 64 * 1024
MAX_AGE = 30.0


@dataclass(slots=True)
class _Partial:
    total: int
    started: float = 0.0
    first_inner: int = 0
    size: int = 0
    parts: dict[int, bytes] = field(default_factory=dict)


class FragmentReassembler:
    """Collects decrypted fragments of one message at a time per (message ID, direction)."""

    def __init__(
        self,
        max_fragments: int = MAX_FRAGMENTS,
        max_message_size: int = MAX_MESSAGE_SIZE,
        max_age: float = MAX_AGE,
    ) -> None:
        self._max_fragments = max_fragments
        self._max_size = max_message_size
        self._max_age = max_age
        self._partial: dict[tuple[int, bool], _Partial] = {}

    def add(
        self,
        message_id: int,
        is_response: bool,
        fragment_number: int,
        total_fragments: int,
        first_inner: int,
        plaintext: bytes,
        now: float = 0.0,
    ) -> tuple[int, bytes] | None:
        """Keep one authenticated fragment; return (first inner type, message) when complete.

        RFC 7383 §2.6.2: a fragment announcing more fragments than the ones kept
        so far restarts reassembly; one announcing fewer is ignored.
        """
        if not 1 <= fragment_number <= total_fragments:
            raise InvalidSyntax(f"fragment {fragment_number} of {total_fragments}")
        if total_fragments > self._max_fragments:
            raise InvalidSyntax(
                f"message in {total_fragments} fragments (at most {self._max_fragments} allowed)"
            )
        self.expire(now)
        key = (message_id, is_response)
        # Only the newest message of each direction is kept under reassembly:
        # fragments of an older one are late, and a newer one replaces it.
        for other in [k for k in self._partial if k[1] == is_response and k != key]:
            if other[0] > message_id:
                return None
            del self._partial[other]
        partial = self._partial.get(key)
        if partial is None or total_fragments > partial.total:
            partial = _Partial(total_fragments, now)
            self._partial[key] = partial
        elif total_fragments < partial.total:
            return None
        if fragment_number in partial.parts:
            return None
        if partial.size + len(plaintext) > self._max_size:
            del self._partial[key]
            raise InvalidSyntax(f"fragmented message exceeds {self._max_size} bytes")
        partial.parts[fragment_number] = plaintext
        partial.size += len(plaintext)
        if fragment_number == 1:
            partial.first_inner = first_inner
        if len(partial.parts) < partial.total:
            return None
        del self._partial[key]
        data = b"".join(partial.parts[n] for n in range(1, partial.total + 1))
        return partial.first_inner, data

    def expire(self, now: float) -> None:
        """Forget messages whose first fragment came more than ``max_age`` seconds ago."""
        for key in [k for k, p in self._partial.items() if now - p.started > self._max_age]:
            del self._partial[key]

    def discard(self, message_id: int, is_response: bool) -> None:
        """Forget a message under reassembly (answered, or given up)."""
        self._partial.pop((message_id, is_response), None)

    @property
    def pending(self) -> int:
        """Messages under reassembly now."""
        return len(self._partial)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held by incomplete messages."""
        return sum(p.size for p in self._partial.values())
