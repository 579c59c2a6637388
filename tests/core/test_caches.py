"""Every module cache registers itself, and one call empties them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from patron.core import caches
from patron.core.actor import Actor, system_actor
from patron.core.db import Database

EVERY_CACHE = {
    "catalog.stores",
    "events.subscriptions",
    "catalog.till_categories",
    "loyalty.programme",
    "loyalty.till_promotions",
    "staff.api_keys",
    "web.dashboard",
}


def test_every_module_cache_of_the_application_has_registered() -> None:
    import patron.web.app  # noqa: F401  (the whole application, as a server loads it)

    assert set(caches.registered()) >= EVERY_CACHE


def test_one_call_empties_every_registered_cache() -> None:
    from patron.catalog import service as catalog
    from patron.staff import service as staff

    catalog._store_cache["probe"] = (0.0, {})
    staff._key_cache["probe"] = (0.0, staff_actor())
    emptied: list[str] = []
    caches.register("tests.probe", lambda: emptied.append("probe"))
    try:
        caches.clear_all()
    finally:
        caches.register("tests.probe", lambda: None)
    assert emptied == ["probe"]
    assert "probe" not in catalog._store_cache and "probe" not in staff._key_cache


def staff_actor() -> Actor:
    return system_actor("tests")


# ------------------------------------------------------------------ across processes

# The till's caches: what a checkout prices or checks by. Each is read again within 10 s.
TILL_CACHES = {
    "catalog.till_categories",
    "loyalty.programme",
    "loyalty.till_promotions",
    "staff.api_keys",
}


def test_every_cache_declares_its_staleness_bound_and_the_tills_are_ten_seconds() -> None:
    import patron.web.app  # noqa: F401

    bounds = {n: b for n, b in caches.staleness_bounds().items() if not n.startswith("tests.")}
    assert set(bounds) >= EVERY_CACHE
    assert [n for n, b in bounds.items() if b is None] == []
    assert {n: bounds[n] for n in TILL_CACHES} == dict.fromkeys(TILL_CACHES, 10.0)
    assert bounds["catalog.stores"] == 30.0  # and read at once when a code is missing
    assert bounds["events.subscriptions"] == 10.0


# A second server process: reads the terms (now kept), waits for the change, then reads
# until it sees it and says after how long.
_OTHER_PROCESS = """
import json, sys, time
from pathlib import Path
from patron.core.db import Database
from patron.loyalty import programme
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
db = Database(url)
before = db.read(lambda s: programme.current(s)).earn_points_per_yuan
ready.touch()
while not go.exists():
    time.sleep(0.01)
changed = time.monotonic()
after = before
while after == before and time.monotonic() - changed < 60:
    time.sleep(0.1)
    after = db.read(lambda s: programme.current(s)).earn_points_per_yuan
fresh = db.read(lambda s: programme.current(s, fresh=True)).earn_points_per_yuan
print(json.dumps({"before": before, "after": after, "fresh": fresh,
                  "seen_after_s": time.monotonic() - changed}))
"""


def test_a_change_saved_by_one_process_reaches_another_within_the_bound(
    db: Database, tmp_path: Path
) -> None:
    from patron.loyalty import programme
    from patron.loyalty.terms import ProgrammeTerms, ProgrammeUpdate
    from tests.helpers import ACTOR

    ready, go = tmp_path / "ready", tmp_path / "go"
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_PROCESS, db.url, str(ready), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATRON_ENV": "test"},
    )
    try:
        while not ready.exists() and other.poll() is None:
            time.sleep(0.02)
        terms = {**ProgrammeTerms().model_dump(), "earn_points_per_yuan": 3, "reason": "spring"}
        update_in = ProgrammeUpdate.model_validate(terms)
        db.write(lambda s: programme.update(session=s, update_in=update_in, actor=ACTOR))
        go.touch()
        out, err = other.communicate(timeout=120)
    finally:
        if other.poll() is None:
            other.kill()
    assert other.returncode == 0, err
    seen = json.loads(out)
    assert (seen["before"], seen["after"], seen["fresh"]) == (1, 3, 3)
    # within the bound, give or take the other process's polling (0.1 s) and a loaded machine
    assert seen["seen_after_s"] <= caches.staleness_bounds()["loyalty.programme"] + 2.0
