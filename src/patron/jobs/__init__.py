"""Jobs: the scheduled work that composes several domains (the nightly analytics run, then
the loyalty programme's upkeep). A job calls each domain through its package's exports and
owns its units of work through ``Database``; no domain imports the jobs.
See docs/architecture.md, "A nightly run".
"""

from patron.jobs.nightly import NightlyScheduler, nightly_job, run_once, start_nightly

__all__ = ["NightlyScheduler", "nightly_job", "run_once", "start_nightly"]
