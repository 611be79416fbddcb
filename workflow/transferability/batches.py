"""One half's images as training batches: selected once, kept as uint8, augmented a whole batch at a time.

No per-sample Python runs in the training loop: a batch is one gather (random crop and mirror in a
single indexing op) and one fused normalisation, in channels_last layout.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class HalfData:
    """uint8 images (N, C, H, W) and labels 0..K-1 of one half, on `device` when they fit."""
    images: torch.Tensor | np.ndarray  # a tensor, or a memory map gathered batch by batch when too big
    labels: torch.Tensor
    n_classes: int

    def __len__(self):
        return len(self.labels)

    @property
    def resident_bytes(self) -> int:
        return self.images.nbytes if isinstance(self.images, torch.Tensor) else 0

    def batches(self, order: torch.Tensor, batch: int, first: int, stop: int, device):
        """(index, uint8 images on `device`) for batches first..stop-1 of `order` (positions in this half).
        A memory-mapped half is read one batch ahead in a thread, into pinned memory for a GPU."""
        slices = [order[i * batch:(i + 1) * batch] for i in range(first, stop)]
        if isinstance(self.images, torch.Tensor):
            yield from ((index, self.images[index]) for index in slices)
            return
        rows = order.cpu()  # once per call: reading a GPU index every step would stall its queue
        pin = torch.device(device).type == "cuda"
        with ThreadPoolExecutor(1) as reader:
            ahead = reader.submit(self._read, rows[first * batch:(first + 1) * batch], pin)
            for i, index in enumerate(slices, start=first):
                images = ahead.result()
                if i + 1 < stop:
                    ahead = reader.submit(self._read, rows[(i + 1) * batch:(i + 2) * batch], pin)
                yield index, images.to(device, non_blocking=pin)

    def _read(self, index: torch.Tensor, pin: bool) -> torch.Tensor:
        wanted = index.numpy()
        rows = np.sort(wanted)  # sorted reads are sequential on disk; the order is re-applied below
        images = torch.from_numpy(self.images[rows])[torch.from_numpy(np.argsort(np.argsort(wanted)))]
        return images.pin_memory() if pin else images


def select_half(images, labels, classes: list[int], images_per_class: int | None = None,
                device="cpu", max_bytes: float = 8e9) -> HalfData:
    """The examples of `classes` (original indices, relabelled 0..K-1 in that order), optionally only the
    first `images_per_class` of each class, loaded into memory when they fit in `max_bytes`."""
    labels = np.asarray(labels)
    relabel = np.full(labels.max() + 1, -1, dtype=np.int64)
    relabel[classes] = np.arange(len(classes))
    rows = np.flatnonzero(relabel[labels] >= 0)
    if images_per_class:
        rows = _first_per_class(rows, labels[rows], images_per_class)
    new_labels = torch.from_numpy(relabel[labels[rows]]).to(device)
    if len(rows) * int(np.prod(images.shape[1:])) <= max_bytes:
        return HalfData(torch.from_numpy(np.ascontiguousarray(images[rows])).to(device), new_labels, len(classes))
    return HalfData(_RowView(images, rows), new_labels, len(classes))


def _first_per_class(rows: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    rank = np.zeros(len(rows), dtype=np.int64)
    for c in np.unique(labels):
        in_class = labels == c
        rank[in_class] = np.arange(in_class.sum())
    return rows[rank < k]


class _RowView:
    """A lazy row subset of a memory-mapped array (indexing by position in the subset)."""
    def __init__(self, array, rows):
        self.array, self.rows, self.shape = array, rows, (len(rows), *array.shape[1:])

    def __getitem__(self, index):
        return self.array[self.rows[index]]


def crop_and_mirror(images: torch.Tensor, size: int, pad: int, mirror: bool, generator) -> torch.Tensor:
    """Random size x size crops of zero-padded images, each mirrored with probability 1/2.
    Returns (B, C, size, size) uint8 in channels_last layout."""
    b, _, h, w = images.shape
    device = images.device
    nhwc = images.permute(0, 2, 3, 1)
    if pad:
        nhwc = torch.nn.functional.pad(nhwc, (0, 0, pad, pad, pad, pad))
    top = torch.randint(0, h + 2 * pad - size + 1, (b, 1), generator=generator, device=device)
    left = torch.randint(0, w + 2 * pad - size + 1, (b, 1), generator=generator, device=device)
    steps = torch.arange(size, device=device)
    cols = left + steps
    if mirror:
        flip = torch.rand(b, 1, generator=generator, device=device) < 0.5
        cols = torch.where(flip, cols.flip(1), cols)
    rows = top + steps
    crops = nhwc[torch.arange(b, device=device)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return crops.permute(0, 3, 1, 2)


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    h, w = images.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return images[..., top:top + size, left:left + size].contiguous(memory_format=torch.channels_last)


def normalise(images: torch.Tensor, mean: torch.Tensor, inv_std: torch.Tensor, dtype=torch.float32):
    """uint8 -> float, mean-subtracted and scaled in fp32, written in `dtype`, keeping the memory layout.
    bf16 for autocast's convolutions: the scaling's store rounds as autocast's own cast of the fp32 input
    would (same bits), without that extra pass; and the uint8 is read by the subtraction, without a cast
    pass before it (caffenet at batch 256: 554 MB written per step before, 237 MB now; benchmarks/anatomy.py)."""
    centred = images.sub(mean)  # uint8 - fp32: computed and written in fp32
    if dtype == centred.dtype:
        return centred.mul_(inv_std)
    return torch.mul(centred, inv_std, out=torch.empty_like(centred, dtype=dtype))
