"""``python -m tests.lab cleanup``: delete namespaces left by lab runs whose owner died."""

import sys

from tests.lab.topology import cleanup_stale, lab_namespaces


def main(argv: list[str]) -> int:
    if argv[1:] == ["cleanup"]:
        for ns in cleanup_stale():
            print(f"deleted {ns}")
        return 0
    if argv[1:] == ["list"]:
        for ns in lab_namespaces():
            print(ns)
        return 0
    print("usage: python -m tests.lab {cleanup|list}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
