"""Runs inside the lab's client namespace: connect N times with ikeclient, print JSON timings.

Each run measures, in-process, from the moment IKE_SA_INIT is started (``connect()``) to the
ChildSaEstablished event (child SA keys ready), then deletes the IKE SA before the next run.
Invoked by ``bench/connect_latency.py``; not meant to be run by hand.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from ikeclient.config.profile import ikev2_settings as settings_for
from ikeclient.config.profile import resolve_profile
from ikeclient.ike.events import ChildSaEstablished, IkeEvent
from ikeclient.runtime.session import IkeSession
from ikeclient.secretstore import load_psk


async def one_run(profile_path: str) -> float:
    profile = resolve_profile(profile_path)
    ready = asyncio.Event()
    stamps: dict[str, float] = {}
    session: IkeSession

    def on_event(event: IkeEvent) -> None:
        if isinstance(event, ChildSaEstablished):
            stamps["child"] = session.now()
            ready.set()

    session = IkeSession(
        settings_for(profile, load_psk(profile)), profile.gateway, profile.port, on_event=on_event
    )
    await session.start()
    closed = asyncio.ensure_future(session.wait_closed())
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({closed, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if "child" not in stamps or session.connect_started_at is None:
        raise SystemExit(f"connect failed: {session.result}")
    await session.close()
    return (stamps["child"] - session.connect_started_at) * 1000


async def main(profile_path: str, runs: int) -> None:
    await one_run(profile_path)  # warm-up: first-use imports and caches, not counted
    await asyncio.sleep(0.05)
    timings = []
    for _ in range(runs):
        timings.append(await one_run(profile_path))
        await asyncio.sleep(0.05)  # let the gateway finish the Delete
    print(json.dumps(timings))


if __name__ == "__main__":
    if len(sys.argv) != 3 or not Path(sys.argv[1]).is_file():
        raise SystemExit("usage: ikeclient_connect_driver.py PROFILE RUNS")
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
