# Config reading (transferability/config.py: prepare), wildcard constraints and glue; what the run trains, writes
# and draws is the package's transferability/plan.py (PLAN), which the rules call in one line each.
import json
import os
import sys
import tempfile

# The repository's workflow/ folder, found from this file: workflow.basedir is the folder of the main
# Snakefile, another workflow's when this one is used as its module.
PACKAGE_ROOT = os.path.abspath(os.path.join(workflow.current_basedir, ".."))
sys.path.insert(0, PACKAGE_ROOT)
# Jobs run `python -m transferability`: the package from PYTHONPATH (also in a conda env, where it is not
# installed), `python` from PATH: the interpreter running Snakemake (its folder first, so a venv's
# snakemake works unactivated), unless --sdm conda activates the rules' env, whose python then comes first.
# (Set for the jobs, not asked of the user: no `envvars:` directive.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
    PATH=os.pathsep.join(filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")])),
)
from transferability import plan, pretrained, provenance, summary, warm
from transferability.architectures import architecture
from transferability.config import ConfigError
from transferability.config import prepare as prepare_config
from transferability.data import source_param
from transferability.datasets import DataError, check_class_count
from transferability.io import read_json
from transferability.layout import data_identity
from transferability.nets import EPOCHS_FILE, METRICS_FILE, NET_PATTERN, WEIGHTS_FILE
from transferability.outputs import FIGURE_TABLES, SUMMARY_TABLES
from transferability.run_options import RunOptions

try:  # one clear line naming the key, before any job starts (a traceback into this file would only distract)
    # a config file's `base:` under it, --config's text read as numbers, checked, the schema's defaults filled in
    prepare_config(config, workflow.configfiles, dict(workflow.config_settings.config), workflow.overwrite_configfiles)
    check_class_count(config["dataset"])  # from the folder listing: too few classes stop the run before its decode
    if pretrained.has_source(config):  # read and fitted to the net here, so a bad file stops the run before any job
        pretrained.check_source(config)
except (ConfigError, DataError, pretrained.SourceError) as error:
    sys.exit(f"error: {error}")
PLAN = plan.Plan(config)  # the files that depend on what the run trains and analyses
LAYOUT = PLAN.files  # where each file goes


wildcard_constraints:
    split=r"[A-Za-z][A-Za-z0-9_-]*",  # no dots or slashes: a wildcard never leaves its folder
    seed=r"\d+",
    net=NET_PATTERN,
    figure="|".join(plan.figure_names(config)),


WARM_SERVERS = []


def start_warm_server():
    """Local runs: one process imports torch and forks itself for each training job (transferability/warm.py).
    Not with --sdm conda/apptainer: the server runs this interpreter, and the jobs must run the rules' env."""
    if (
        config["train"]["warm_start"]
        and workflow.local_exec
        and not (workflow.remote_exec or workflow.subprocess_exec)
        and not workflow.deployment_settings.deployment_method
    ):
        path = os.path.join(tempfile.gettempdir(), f"transferability-warm-{os.getpid()}.sock")
        WARM_SERVERS.append((warm.start_server(path, sys.executable), path))


def stop_warm_server():
    while WARM_SERVERS:
        warm.stop_server(*WARM_SERVERS.pop())


def print_run_summary():
    lines = summary.end_of_run_lines(PLAN, workflow.overwrite_configfiles)
    if lines:
        # the config files that made the run, for `python -m transferability summary` to print
        summary.record_report_command(LAYOUT.root, workflow.overwrite_configfiles)
        print("\n".join(lines), file=sys.stderr)


def print_failed_jobs():
    """The run's last words after a failure: each failed job's own error line and log path (summary.py).
    Snakemake hands onerror only its main log; the jobs that failed for good are its scheduler's."""
    failed = getattr(getattr(workflow, "scheduler", None), "failed", ())
    jobs = [(job.rule.name, dict(job.wildcards_dict), [str(path) for path in job.log]) for job in failed]
    lines = summary.failed_job_lines(sorted(jobs, key=lambda job: (job[0], job[2])))
    if lines:
        print("\n".join(lines), file=sys.stderr)
