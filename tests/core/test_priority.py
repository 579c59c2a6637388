"""Batch commands run at a lower CPU priority than the server (docs/operations.md, "Soak")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from patron.core.priority import lower_priority

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="per-thread nice values are Linux's"
)

# A thread started before lower_priority, one after, and each thread's nice value.
_CHILD = """
import os, sys, threading
from patron.core.priority import lower_priority
before_done, hold = threading.Event(), threading.Event()
def wait(): before_done.set(); hold.wait()
early = threading.Thread(target=wait); early.start(); before_done.wait()
main = lower_priority(int(sys.argv[1]))
seen = {}
def look(): seen["late"] = os.getpriority(os.PRIO_PROCESS, 0)
late = threading.Thread(target=look); late.start(); late.join()
seen["early"] = os.getpriority(os.PRIO_PROCESS, early.native_id)
hold.set(); early.join()
print(main, seen["early"], seen["late"])
"""


def _run(nice: int, start: int = 0) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(nice)],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=(lambda: os.nice(start)) if start else None,
    )
    return [int(v) for v in done.stdout.split()]


def test_every_thread_started_before_or_after_is_lowered() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    target = min(base + 7, 19)
    assert _run(target) == [target, target, target]


def test_a_process_already_lower_stays_as_it_is() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base + 5 > 19:
        pytest.skip("this process runs at nearly the lowest priority already")
    assert _run(base, start=5) == [base + 5] * 3


def test_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="0–19"):
        lower_priority(20)


# One process imports the command line once and forks a child for each command: the child
# sets its environment and runs ``patron``, so the priority it lowers is its own (an
# interpreter per command spent some 5 CPU s importing Patron each time).
_COMMANDS = """
import json, os, sys
from patron import cli
from patron.core.settings import get_settings
@cli.analytics_app.command('nice-now')
def _now() -> None: print(os.getpriority(os.PRIO_PROCESS, 0), flush=True)
@cli.app.command('nice-now')
def _top() -> None: print(os.getpriority(os.PRIO_PROCESS, 0), flush=True)
for line in sys.stdin:
    command, env = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.environ.update(env)
        get_settings.cache_clear()
        sys.argv = ['patron', *command]
        try:
            cli.main()
        except SystemExit as done:
            os._exit(done.code or 0)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def _nice_of(commands: list[tuple[list[str], dict[str, str]]]) -> list[int]:
    """The nice value each ``patron`` command sees once the CLI's settings callback has run."""
    lines = "".join(json.dumps([command, env]) + "\n" for command, env in commands)
    done = subprocess.run(
        [sys.executable, "-c", _COMMANDS],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(v) for v in done.stdout.split()]


def test_analytics_commands_run_at_the_batch_nice_and_others_do_not(tmp_path: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base + 3 > 19:
        pytest.skip("this process runs at nearly the lowest priority already")
    env = {"PATRON_DATA_DIR": str(tmp_path), "PATRON_BATCH_NICE": str(base + 3)}
    assert _nice_of(
        [
            (["analytics", "nice-now"], env),
            (["nice-now"], env),
            (["analytics", "nice-now"], {**env, "PATRON_BATCH_NICE": "0"}),
        ]
    ) == [base + 3, base, base]


def test_the_batch_commands_are_the_cli_s_own() -> None:
    from patron import cli

    names = {c.name for c in cli.app.registered_commands} | {
        g.name for g in cli.app.registered_groups
    }
    assert names >= cli.BATCH_COMMANDS
