"""How the Slurm profile's status check reads Slurm's job states (snakemake_executor_plugin_slurm_watched's
states.py); the real Slurm runs are in test_slurm.py. The lines below are what squeue and sacct print on
the test cluster."""

import pytest

from snakemake_executor_plugin_slurm_watched.states import CHECKS_BEFORE_GONE, JobWatch, base_state, parse_states


def test_sacct_names_who_cancelled_and_the_state_is_still_cancelled():
    # sacct -X -P -o JobIDRaw,State on Slurm 22.05 after `scancel` by root; squeue says plain CANCELLED
    assert parse_states("6|CANCELLED by 0\n7|FAILED\n") == {"6": "CANCELLED", "7": "FAILED"}
    assert parse_states("6|CANCELLED\n") == {"6": "CANCELLED"}


@pytest.mark.parametrize("state, base", [("CANCELLED by 1000", "CANCELLED"), ("CANCELLED+", "CANCELLED"),
                                         ("OUT_OF_MEMORY", "OUT_OF_MEMORY"), ("", "")])
def test_a_state_is_its_first_word(state, base):
    assert base_state(state) == base


def test_blank_and_malformed_lines_are_skipped():
    assert parse_states("\n12|RUNNING\nnot a state line\n|PENDING\n13|\n") == {"12": "RUNNING"}


@pytest.mark.parametrize("state", ["CANCELLED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"])
def test_each_end_without_success_is_a_failure_at_the_first_check(state):
    verdict = JobWatch(requeue=True).verdict("5", live=state, accounted=None)
    assert verdict.ended and not verdict.ok and verdict.reason == f"ended {state}"


def test_completed_is_a_success_and_live_states_are_running():
    watch = JobWatch()
    assert watch.verdict("5", live="COMPLETED", accounted=None).ok
    for state in ["PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED", "CONFIGURING"]:
        assert not watch.verdict("6", live=state, accounted=None).ended


def test_squeue_is_believed_over_an_older_accounting_record():
    assert not JobWatch().verdict("5", live="RUNNING", accounted="PREEMPTED").ended
    assert JobWatch().verdict("5", live=None, accounted="TIMEOUT").reason == "ended TIMEOUT"


def test_a_preempted_job_that_slurm_may_requeue_gets_one_more_check():
    watch = JobWatch(requeue=True)
    assert not watch.verdict("5", live="PREEMPTED", accounted=None).ended
    assert not watch.verdict("5", live="PENDING", accounted=None).ended  # requeued: it runs again
    assert not watch.verdict("5", live="NODE_FAIL", accounted=None).ended
    assert watch.verdict("5", live="NODE_FAIL", accounted=None).reason == "ended NODE_FAIL"  # not requeued after all
    assert JobWatch(requeue=False).verdict("5", live="PREEMPTED", accounted=None).ended


def test_a_job_unknown_to_squeue_and_sacct_is_gone_after_two_checks_in_a_row():
    watch = JobWatch()
    assert CHECKS_BEFORE_GONE == 2
    assert not watch.verdict("5", live=None, accounted=None).ended
    assert not watch.verdict("5", live="RUNNING", accounted=None).ended  # seen again: the count restarts
    assert not watch.verdict("5", live=None, accounted=None).ended
    verdict = watch.verdict("5", live=None, accounted=None, sacct_error="Slurm accounting storage is disabled")
    assert verdict.ended and not verdict.ok
    assert verdict.reason.startswith("gone from Slurm") and "accounting storage is disabled" in verdict.reason


def test_a_running_record_in_sacct_of_a_job_squeue_does_not_list_is_a_runaway():
    # slurmctld lost the job (squeue, which lists every live job, does not); slurmdbd never heard its end
    watch = JobWatch()
    assert not watch.verdict("5", live=None, accounted="RUNNING").ended
    verdict = watch.verdict("5", live=None, accounted="RUNNING")
    assert verdict.ended and not verdict.ok and "sacct still says RUNNING" in verdict.reason
