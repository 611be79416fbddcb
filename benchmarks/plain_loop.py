"""The baseline: the training loop a PyTorch user writes (torchvision-style dataset of PIL images, per-sample
transforms, DataLoader, torch.optim.SGD), on the same net, images, batch and threads as ours."""

import concurrent.futures
import multiprocessing
import time

import numpy as np
import torch
import torch.nn.functional as F

from harness import Setup, sync
from transferability.data import load_cache
from transferability.architectures import architecture
from transferability.model import build_model
from transferability.splits import read_split


class PlainFashionMNIST(torch.utils.data.Dataset):
    """What torchvision.datasets.FashionMNIST does per sample (a PIL image, then the transforms), on the
    same images: one half of the cached uint8 arrays."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        img = self.images[i]
        img = Image.fromarray(img[0], mode="L") if img.shape[0] == 1 else Image.fromarray(img.transpose(1, 2, 0))
        return self.transform(img), int(self.labels[i])


def plain_dataset(setup: Setup) -> PlainFashionMNIST:
    from torchvision import transforms

    cfg, meta = setup.cfg, setup.meta
    cache = load_cache(setup.dir / "data")
    classes = read_split(setup.split_file)["B"]
    relabel = {c: i for i, c in enumerate(classes)}
    rows = np.flatnonzero(np.isin(cache.train_labels, classes))
    size, pad = architecture(cfg["model"])["input_size"], cfg["augment"]["crop_padding"]
    steps = [transforms.RandomCrop(size, padding=pad or None)]
    if cfg["augment"]["mirror"]:
        steps.append(transforms.RandomHorizontalFlip())
    steps += [transforms.ToTensor(), transforms.Normalize([m / 255 for m in meta["mean"]], [s / 255 for s in meta["std"]])]
    return PlainFashionMNIST(np.ascontiguousarray(cache.train_images[rows]),
                             np.array([relabel[c] for c in cache.train_labels[rows]]), transforms.Compose(steps))


def plain_rate(setup: Setup, dataset, workers: int, seconds: float, warmup: int = 5, precision: str = "fp32") -> float:
    """Steady-state images/s of the loop a PyTorch user writes (same net, SGD settings, threads, batch), in fp32
    or with bf16 autocast around the forward and loss (`precision`)."""
    cfg, device = setup.cfg, setup.device
    torch.set_num_threads(setup.threads)
    torch.manual_seed(0)
    n_classes = len(read_split(setup.split_file)["B"])
    model = build_model(architecture(cfg["model"]), setup.meta["channels"], n_classes).to(device)
    tc = cfg["train"]
    optimizer = torch.optim.SGD(model.parameters(), lr=tc["lr"], momentum=tc["momentum"], weight_decay=tc["weight_decay"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=min(tc["batch_size"], len(dataset)), shuffle=True,
                                         num_workers=workers, drop_last=True)
    model.train()
    seen, running, start, batches = 0, 0.0, None, 0
    while True:
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
            if batches == warmup:
                sync(device)
                start = time.perf_counter()
            elif start is not None:
                seen += len(labels)
                if time.perf_counter() - start >= seconds:
                    sync(device)
                    return seen / (time.perf_counter() - start)


def plain_rate_in_fresh_process(setup: Setup, workers: int, seconds: float) -> float:
    """plain_rate in a new interpreter: the plain loop gets the process a user's script gets, untouched by
    what our training path sets up for itself (threads, glibc allocator settings)."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(_plain_rate_child, setup, workers, seconds).result()


def _plain_rate_child(setup: Setup, workers: int, seconds: float) -> float:
    multiprocessing.set_start_method(None, force=True)  # the platform's default for the DataLoader, not spawn
    return plain_rate(setup, plain_dataset(setup), workers, seconds)
