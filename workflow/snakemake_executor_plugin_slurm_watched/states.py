"""How the Slurm profile's executor tells that a job has ended, and how: the status check of this package,
`snakemake_executor_plugin_slurm_watched` (the profile's `executor: slurm-watched`).

Each check asks `squeue` first: slurmctld's own view, which lists every live job and, for MinJobAge
seconds (Slurm's default 300), every ended one, with plain state names. Only for the jobs `squeue` no
longer lists is `sacct` asked, by job id, and only an end it records counts. A state is reduced to its
first word: `sacct` reports a job cancelled by user 0 as `CANCELLED by 0`, which
snakemake-executor-plugin-slurm 2.8.0 compares exactly against `CANCELLED` and so counts as running,
forever. A job that squeue does not list and that has no end on record, in two checks in a row, is gone
from Slurm (a controller that lost its state, leaving a "runaway" RUNNING record or none; a MinJobAge
shorter than the checks' interval without accounting): it is counted as failed, said so in the log, and
retried (a net resumes from its checkpoint; at worst a finished job runs again, never a half-written
output taken for finished)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

COMPLETED = "COMPLETED"
# The states in which a job has ended without success (squeue/sacct names, Slurm 20.11 to 24.x).
ENDED_BADLY = frozenset({"BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
                         "PREEMPTED", "REVOKED", "TIMEOUT"})
# After these Slurm requeues a job submitted with --requeue (it comes back PENDING): wait one more check.
MAY_BE_REQUEUED = frozenset({"NODE_FAIL", "PREEMPTED"})
CHECKS_BEFORE_GONE = 2


def base_state(state: str) -> str:
    """`CANCELLED by 0` -> `CANCELLED`; `RUNNING` -> `RUNNING`; a truncated `CANCELLED+` -> `CANCELLED`."""
    words = state.split()
    return words[0].rstrip("+") if words else ""


def parse_states(output: str) -> dict[str, str]:
    """`<job id>|<state>` lines (squeue -o '%i|%T', sacct -P -o JobIDRaw,State) -> {job id: base state}."""
    states = {}
    for line in output.splitlines():
        job_id, _, state = line.partition("|")
        if job_id.strip() and state.strip():
            states[job_id.strip()] = base_state(state)
    return states


def squeue_command(job_name: str) -> list[str]:
    """The live and recently ended jobs of one Snakemake run (the plugin names each job after the run)."""
    return ["squeue", "--noheader", "--states=all", "--format=%i|%T", f"--name={job_name}"]


def sacct_command(job_ids: list[str]) -> list[str]:
    """The accounting record of the given jobs (-X: the job, not its steps; the latest run of a requeued one)."""
    return ["sacct", "-X", "--noheader", "--parsable2", "--format=JobIDRaw,State", f"--jobs={','.join(job_ids)}"]


def query(command: list[str], timeout: float = 60) -> tuple[dict[str, str] | None, str]:
    """Run a status command: ({job id: base state}, "") or (None, why it failed)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, str(error)
    if done.returncode != 0:
        return None, done.stderr.strip() or f"exit status {done.returncode}"
    return parse_states(done.stdout), ""


@dataclass
class Verdict:
    ended: bool
    ok: bool = False
    reason: str = ""  # what the log says after "Slurm job <id> ": "ended TIMEOUT", "gone from Slurm: ..."


@dataclass
class JobWatch:
    """Turns each check's states into verdicts; remembers what a verdict needs two checks for."""

    requeue: bool = False
    _unseen: dict[str, int] = field(default_factory=dict)
    _requeue_candidates: set[str] = field(default_factory=set)

    def verdict(self, job_id: str, live: str | None, accounted: str | None, sacct_error: str = "") -> Verdict:
        """live: the job's state in squeue (None: not listed); accounted: in sacct (None: no record)."""
        if live:
            self._unseen.pop(job_id, None)
            return self._from_state(job_id, live)
        if accounted == COMPLETED or accounted in ENDED_BADLY:
            self._unseen.pop(job_id, None)
            return self._from_state(job_id, accounted)
        # Not live (squeue lists every live job) and no end on record: gone, once two checks agree.
        self._unseen[job_id] = self._unseen.get(job_id, 0) + 1
        if self._unseen[job_id] < CHECKS_BEFORE_GONE:
            return Verdict(ended=False)
        self._unseen.pop(job_id)
        if accounted:
            record = f"sacct still says {accounted} (a runaway record)"
        else:
            record = f"sacct failed: {sacct_error}" if sacct_error else "sacct has no record of it"
        return Verdict(ended=True, reason=f"gone from Slurm: squeue no longer lists it and {record} "
                                          f"({CHECKS_BEFORE_GONE} checks in a row); how it ended is unknown")

    def _from_state(self, job_id: str, state: str) -> Verdict:
        if state == COMPLETED:
            return Verdict(ended=True, ok=True, reason=f"ended {state}")
        if state not in ENDED_BADLY:
            self._requeue_candidates.discard(job_id)
            return Verdict(ended=False)
        if self.requeue and state in MAY_BE_REQUEUED and job_id not in self._requeue_candidates:
            self._requeue_candidates.add(job_id)
            return Verdict(ended=False)
        self._requeue_candidates.discard(job_id)
        return Verdict(ended=True, reason=f"ended {state}")
