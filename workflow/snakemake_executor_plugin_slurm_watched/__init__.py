"""`executor: slurm-watched`: snakemake-executor-plugin-slurm with a status check that notices every end.

Submission, resources, accounts given, partitions, cancellation on Ctrl-C: all the plugin's own (its
settings are the same, prefixed `slurm-watched-` instead of `slurm-`). Replaced is only how running jobs
are checked, because with the plugin's check (2.8.0):
- a job cancelled on a cluster with accounting is never noticed: `sacct` says `CANCELLED by 0`, the
  plugin compares exactly against `CANCELLED` and waits forever;
- a job Slurm no longer knows (gone from `squeue`, no accounting record) is waited for, silently, forever;
- the interval between checks grows by 10 s per check to 180 s, whatever the profile says.
Here every check runs every `seconds-between-status-checks` seconds, reads states as
`states.py` describes (squeue first, sacct for the jobs squeue has forgotten), and reports
each end at the first check that sees it; a gone job at the second, as failed. A job without
`slurm_account` is submitted without `-A` (Slurm charges the user's default account) instead of the
plugin's guess, whose `sacct ... | tail -1` reaches sacct as arguments ("sacct: invalid option -- '1'").
Snakemake finds this package by its name on sys.path (`pip install -e .` puts workflow/ there), and
imports it at every start, whatever the executor: it imports nothing of `transferability`, or a run of
another checkout would be planned by the pip-installed checkout's package (tests/test_workflow.py).
What it relies on in the plugin (2.8.0, pinned in envs/requirements.txt) is listed in docs/slurm.md."""

import asyncio

from snakemake_executor_plugin_slurm import Executor as SlurmExecutor
from snakemake_executor_plugin_slurm import ExecutorSettings, common_settings  # noqa: F401 (the plugin's API)
from snakemake_interface_common.exceptions import WorkflowError

from .states import JobWatch, query, sacct_command, squeue_command


class Executor(SlurmExecutor):
    def __post_init__(self, test_mode: bool = False):
        # The check below asks squeue and sacct both: the plugin's choice between them, and its warnings
        # about that choice and MinJobAge, do not apply.
        self.workflow.executor_settings.status_command = None
        super().__post_init__(test_mode)
        if self.workflow.executor_settings.array_jobs:
            raise WorkflowError("executor slurm-watched does not check array jobs; use executor slurm for them")
        self.watch = JobWatch(requeue=self.workflow.executor_settings.requeue)

    @property
    def next_seconds_between_status_checks(self):
        return self.workflow.remote_execution_settings.seconds_between_status_checks

    @next_seconds_between_status_checks.setter
    def next_seconds_between_status_checks(self, value):
        pass  # a fixed interval: the bound on noticing an end is what the profile says

    def get_account_arg(self, job):
        if job.resources.get("slurm_account"):
            yield from super().get_account_arg(job)
        else:
            yield ""

    async def check_active_jobs(self, active_jobs):
        if not active_jobs:
            return
        async with self.status_rate_limiter:
            live, error = await asyncio.to_thread(query, squeue_command(self.run_uuid))
        if live is None:
            self.logger.warning(f"squeue failed ({error}); checking the Slurm jobs again in "
                                f"{self.next_seconds_between_status_checks} s")
            for job in active_jobs:
                yield job
            return
        unlisted = [job.external_jobid for job in active_jobs if job.external_jobid not in live]
        accounted, sacct_error = {}, ""
        if unlisted:
            async with self.status_rate_limiter:
                accounted, sacct_error = await asyncio.to_thread(query, sacct_command(unlisted))
            accounted = accounted or {}
        for job in active_jobs:
            verdict = self.watch.verdict(job.external_jobid, live.get(job.external_jobid),
                                         accounted.get(job.external_jobid), sacct_error)
            if not verdict.ended:
                yield job
            elif verdict.ok:
                self.report_job_success(job)
                self._remove_successful_log(job)
            else:
                message = f"Slurm job {job.external_jobid} {verdict.reason}."
                if job.job.is_group():  # Snakemake's error report of a group job leaves the message out
                    self.logger.warning(f"{message} (group job {job.job.name})")
                log = job.aux.get("slurm_logfile")
                self.report_job_error(job, msg=message + " ", aux_logs=[str(log)] if log else [])

    def _remove_successful_log(self, job):
        log = job.aux.get("slurm_logfile")
        if log and not self.workflow.executor_settings.keep_successful_logs:
            log.unlink(missing_ok=True)
