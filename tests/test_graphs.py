"""StepGraph (train.cuda_graphs): fixed-shape steps replayed as CUDA graphs. On the CPU a StepGraph does not
capture: its calls run eagerly through the graph's own input and output tensors, which the `cpu-uncaptured`
cases test. The capture and the replay need a GPU: the `cuda-captured` cases, skipped without one."""

from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from test_train import base_a, job_for  # noqa: F401 (base_a: a fixture)
from transferability.graphs import StepGraph
from transferability.train import EPOCH_COLUMNS, prepare_run, train
from transferability.run_options import RunOptions

DEVICES = [pytest.param("cpu", id="cpu-uncaptured"),
           pytest.param("cuda", id="cuda-captured", marks=pytest.mark.skipif(
               not torch.cuda.is_available(), reason="no GPU: capturing and replaying a CUDA graph needs one"))]


def _linear_step(layer):
    def step(x, y):
        layer.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x), y)
        loss.backward()
        return loss.detach(), layer.weight.grad
    return step


@pytest.mark.parametrize("device", DEVICES)
def test_a_step_through_a_stepgraph_gives_the_eager_steps_values_and_gradients(device):
    """cuda: warm-up calls, the capture, replays; cpu: each call copied in and out of the graph's tensors."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 3).to(device)
    plain, graphed = _linear_step(layer), StepGraph(_linear_step(layer), capture=device == "cuda", warmup=2)
    for _ in range(5):  # warm-up calls, the capture, replays
        x, y = torch.randn(4, 8, device=device), torch.randn(4, 3, device=device)
        want = [t.clone() for t in plain(x, y)]
        got = graphed(x, y)
        assert all(torch.equal(a, b) for a, b in zip(want, got))


def test_its_outputs_are_the_same_tensors_overwritten_by_the_next_call():
    graphed = StepGraph(lambda x: (x * 2,), capture=False)
    first = graphed(torch.ones(3))[0]
    second = graphed(torch.full((3,), 5.0))[0]
    assert first is second and torch.equal(first, torch.full((3,), 10.0))


def test_its_inputs_are_copies_kept_in_the_first_calls_layout():
    images = torch.zeros(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    graphed = StepGraph(lambda x: (x + 1,), capture=False)
    graphed(images)
    images += 7  # the caller's tensor changes; the graph's input does not
    assert graphed.inputs[0].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(graphed.inputs[0], torch.zeros(2, 3, 4, 4))


def test_another_shape_is_refused_with_both_shapes():
    graphed = StepGraph(lambda x: (x,), capture=False)
    graphed(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"shape \(3, 2\) .* the graph has \(4, 2\)"):
        graphed(torch.zeros(3, 2))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("net, model", [("baseB", {}), ("A3B", {}), ("baseB", {"dropout": 0.5, "lrn": True})],
                         ids=["base", "transfer", "dropout-lrn"])
def test_a_net_trained_through_stepgraphs_has_the_plain_nets_bits(workdir, tmp_path, device, net, model, request):
    """Every training step and every full evaluation batch go through a StepGraph; the last, shorter
    evaluation batch (100 images in batches of 30) runs eagerly. Weights, scores and losses are bit-equal,
    also with dropout (random numbers drawn inside the step) and LRN layers. On cuda the steps are captured
    and replayed as CUDA graphs; on cpu they run uncaptured, and the net's provenance says no CUDA graphs."""
    source = request.getfixturevalue("base_a") if net == "A3B" else None
    outputs = {}
    for graphs in (False, True):
        job = job_for(workdir, net, tmp_path / str(graphs), epochs=2, source=source, eval_batch_size=30)
        job.settings["model"].update(model)
        job.options = RunOptions(device=device, cuda_graphs=graphs)
        run = prepare_run(job, log=lambda _: None)
        metrics = run.fit()
        if graphs:
            assert isinstance(run.forward_backward, StepGraph) and run.forward_backward.calls == 2 * run.steps
            assert isinstance(run.eval_logits, StepGraph) and run.eval_logits.calls == 2 * 3  # 3 full batches
            assert run.forward_backward.capture == (device == "cuda")
            if device == "cuda":  # captured, not only warmed up
                assert run.forward_backward.graph is not None and run.eval_logits.graph is not None
            assert metrics["provenance"]["cuda_graphs"] == (device == "cuda")
        outputs[graphs] = (metrics, load_file(str(job.out_dir / "weights.safetensors")),
                           (job.out_dir / "epochs.csv").read_text().splitlines())
    (plain, plain_weights, plain_rows), (graphed, graphed_weights, graphed_rows) = outputs[False], outputs[True]
    assert plain_weights.keys() == graphed_weights.keys()
    assert all(torch.equal(plain_weights[k], graphed_weights[k]) for k in plain_weights)
    scores = EPOCH_COLUMNS.index("train_s")  # the columns before it: epoch, lr, losses and accuracies
    assert [r.split(",")[:scores] for r in plain_rows] == [r.split(",")[:scores] for r in graphed_rows]
    assert (plain["top1"], plain["loss"], plain["settings_hash"]) == (graphed["top1"], graphed["loss"],
                                                                       graphed["settings_hash"])


def test_a_gradient_replaced_outside_a_captured_step_stops_the_run(workdir, tmp_path):
    """After a capture, SGD must read the gradient tensors the replays write (it skips a parameter whose
    .grad is None): a zero_grad() outside the graph is caught before the optimiser step."""
    run = prepare_run(job_for(workdir, "baseB", tmp_path), log=lambda _: None)
    run.forward_backward = SimpleNamespace(graph="captured")  # as a StepGraph after its capture
    for p in run.trainable.parameters():
        p.grad = torch.zeros_like(p)
    run.check_graph_grads(), run.check_graph_grads()  # the same tensors: fine
    run.optimizer.zero_grad()
    with pytest.raises(RuntimeError, match="gradient was replaced outside the captured step"):
        run.check_graph_grads()


def test_cuda_graphs_with_compiled_kernels_are_refused_by_the_job_itself(workdir, tmp_path):
    job = job_for(workdir, "baseB", tmp_path)
    job.options = RunOptions(cuda_graphs=True, compile=True)
    with pytest.raises(ValueError, match="train.cuda_graphs cannot be used with train.compile or model.lrn_fused"):
        train(job, log=lambda _: None)
