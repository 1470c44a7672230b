"""A long-running mutation fuzzer for the IKEv2 codec (no hypothesis, stdlib only).

Run from the repository root:

    .venv/bin/python -m tests.ike.fuzz_codec --seconds 600 [--seed 1]

It mutates valid messages (bit flips, truncation, extension, splices, length
fixes) and feeds them, and pure random bytes, to ``pull_message``,
``pull_payload_chain`` and ``check_message_rules``.  Anything but
InvalidSyntax/UnsupportedCriticalPayload (or a failed re-encode check) stops
the run and prints the input as hex.  For the hypothesis-based fuzz tests with
more examples, use ``IKECLIENT_FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest
tests/ike/test_fuzz.py``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback

from tests.ike.mutation import ikev2_corpus, mutate
from tests.ike.test_fuzz import parse_chain, parse_everything


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    corpus = ikev2_corpus()
    deadline = time.monotonic() + args.seconds
    runs = 0
    print(f"fuzzing for {args.seconds:.0f}s with seed {seed}")
    while time.monotonic() < deadline:
        for _ in range(1000):
            if rng.random() < 0.1:
                data = rng.randbytes(rng.randint(0, 300))
            else:
                data = mutate(rng, rng.choice(corpus))
            try:
                parse_everything(data)
                parse_chain(data[28:], rng.randrange(256))
            except Exception:
                traceback.print_exc()
                print(f"seed {seed}, run {runs}, input:\n{data.hex()}", file=sys.stderr)
                return 1
            runs += 1
    print(f"{runs} inputs, no unexpected exception")
    return 0


if __name__ == "__main__":
    sys.exit(main())
