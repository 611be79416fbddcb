"""The training process keeps freed activation memory instead of faulting fresh pages in every step."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

STEPS = textwrap.dedent("""
    import resource, sys, torch, torch.nn.functional as F
    from transferability.memory import keep_freed_memory
    from transferability.model import architecture, build_model
    if sys.argv[1] == "tuned":
        assert keep_freed_memory()
    torch.set_num_threads(1)
    net = build_model(architecture({"preset": "small"}), 1, 5).to(memory_format=torch.channels_last)
    x = torch.randn(128, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (128,))
    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            F.cross_entropy(net(x), y).backward()
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def page_faults_in_ten_steps(mode: str) -> int:
    workflow = Path(__file__).resolve().parents[1] / "workflow"
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, cwd=workflow, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_training_steps_reuse_freed_memory_once_tuned():
    untuned, tuned = page_faults_in_ten_steps("default"), page_faults_in_ten_steps("tuned")
    # With glibc's defaults each step maps, faults in and zeroes megabytes of fresh pages.
    assert untuned > 1000, untuned
    assert tuned < untuned / 20, (tuned, untuned)
