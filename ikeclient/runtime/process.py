"""Process-wide protections of the process that holds keys.

The ``up`` process holds the pre-shared key, passwords, private keys and every SA's keys in
memory. A core dump (a crash, ``kill -SEGV``, ``gcore``) would write all of them to disk,
where ``core_pattern`` decides who can read them, and a process that stays *dumpable* can
be attached to by ptrace or read through ``/proc/PID/mem`` by anyone with the same uid.
"""

from __future__ import annotations

import ctypes
import logging
import resource

logger = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4  # prctl(2)
PR_GET_DUMPABLE = 3


def _prctl(option: int, value: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result: int = libc.prctl(option, value, 0, 0, 0)
    if result < 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")
    return result


def disable_core_dumps() -> None:
    """No core file (``RLIMIT_CORE`` 0, soft and hard) and not dumpable (``PR_SET_DUMPABLE``
    0: no core dump even through a pipe handler, no ptrace attach by the same user).

    Both survive ``fork``; the privileged half started through sudo calls this again itself.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        _prctl(PR_SET_DUMPABLE, 0)
    except (OSError, AttributeError) as exc:  # not Linux, or no prctl in this libc
        logger.info("cannot mark the process undumpable: %s", exc)


def is_dumpable() -> bool:
    """The process's dumpable flag (``PR_GET_DUMPABLE``)."""
    return _prctl(PR_GET_DUMPABLE) != 0
