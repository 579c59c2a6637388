"""Jobs: the scheduled work that composes several domains (the nightly analytics run, then
the loyalty programme's upkeep). A job calls each domain through its package's exports and
owns its units of work through ``Database``; no domain imports the jobs.
See docs/architecture.md, "A nightly run".
"""

from patron.jobs.nightly import NightlyScheduler, nightly_job, run_once, start_nightly
from patron.jobs.service_levels import run_sla_sweep

__all__ = ["NightlyScheduler", "nightly_job", "run_once", "run_sla_sweep", "start_nightly"]
