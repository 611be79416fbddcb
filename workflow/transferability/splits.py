"""Class halves A and B: random ones by the authors' recipe, or explicit class lists."""

import csv
from pathlib import Path

import numpy as np

from .io import atomic_path


class SplitError(ValueError):
    """A split that cannot be made from the given classes; the message names the problem."""


def package_file(value):
    """Class-list paths starting with 'paper/' name the lists shipped with the package."""
    if isinstance(value, str) and value.startswith("paper/"):
        return str(Path(__file__).resolve().parent / value)
    return value


def halves(classes: list[str], definition: dict) -> tuple[list[int], list[int]]:
    """The class indices of halves A and B of a split's definition (plan.split_definitions): random from
    its seed, explicit class lists (or files of them), the whole task as one half, or, with a pretrained
    source as half A, every class as half B; checked."""
    if definition.get("pretrained"):
        if len(classes) < MIN_CLASSES_PER_HALF:  # half B is the whole task: A has no classes of this data set
            raise SplitError(f"half B (every class; half A is the pretrained source) has {len(classes)} class(es) "
                             f"({', '.join(map(repr, classes)) or 'none'}); it needs at least {MIN_CLASSES_PER_HALF}")
        return [], list(range(len(classes)))
    if definition.get("whole"):
        half_a = list(range(len(classes)))
        check_halves(classes, half_a, half_a)  # the whole task: one half, of every class
        return half_a, []
    if "random_seed" in definition:
        half_a, half_b = random_halves(len(classes), definition["random_seed"])
    else:
        half_a, half_b = explicit_halves(classes, *(_class_list(definition[h]) for h in "AB"))
    check_halves(classes, half_a, half_b)
    return half_a, half_b


def _class_list(entry):
    """A list of classes, or the path of a file listing them (one a line; paper/...: shipped with the package)."""
    return read_class_list(package_file(entry)) if isinstance(entry, str) else entry


def random_halves(n_classes: int, seed: int) -> tuple[list[int], list[int]]:
    """The authors' recipe: legacy numpy seeded with the one-element list [seed] (not the integer:
    the stream differs); A = sorted first half of a random choice, B = the rest."""
    rng = np.random.RandomState([seed])
    a = sorted(int(i) for i in rng.choice(np.arange(n_classes), n_classes // 2, replace=False))
    chosen = set(a)
    return a, [i for i in range(n_classes) if i not in chosen]


def explicit_halves(classes: list[str], half_a: list, half_b: list) -> tuple[list[int], list[int]]:
    """Resolve two class lists (names or 0-based indices) into sorted index lists, checked."""
    a, b = (sorted(_resolve(classes, half, name)) for half, name in ((half_a, "A"), (half_b, "B")))
    overlap = set(a) & set(b)
    if overlap:
        raise SplitError(f"halves A and B overlap in {len(overlap)} classes, e.g. {classes[min(overlap)]!r}")
    return a, b


def _resolve(classes: list[str], half: list, name: str) -> list[int]:
    if not half:
        raise SplitError(f"half {name} is empty")
    by_name = {c: i for i, c in enumerate(classes)}
    indices = []
    for item in half:
        if isinstance(item, int) and not isinstance(item, bool):
            if not 0 <= item < len(classes):
                raise SplitError(f"half {name}: class index {item} is outside 0..{len(classes) - 1}")
            indices.append(item)
        elif item in by_name:
            indices.append(by_name[item])
        else:
            raise SplitError(f"half {name}: unknown class {item!r}; known: {', '.join(classes[:12])}"
                             + (" ..." if len(classes) > 12 else ""))
    if len(set(indices)) != len(indices):
        twice = next(i for i in indices if indices.count(i) > 1)
        raise SplitError(f"half {name} lists class {classes[twice]!r} twice")
    return indices


MIN_CLASSES_PER_HALF = 2  # with one class a half has nothing to learn: every net scores top-1 1.0


def check_halves(classes: list[str], half_a: list[int], half_b: list[int]) -> None:
    """Each half must hold at least two classes; say so before any net is trained."""
    for name, half in (("A", half_a), ("B", half_b)):
        if len(half) < MIN_CLASSES_PER_HALF:
            held = ", ".join(repr(classes[i]) for i in half) or "none"
            raise SplitError(f"half {name} has {len(half)} class(es) ({held}) of the data set's {len(classes)}; "
                             f"each half needs at least {MIN_CLASSES_PER_HALF} (a data set of at least "
                             f"{2 * MIN_CLASSES_PER_HALF} classes)")


def write_split(path, classes: list[str], half_a: list[int], half_b: list[int]) -> None:
    """One row per class: its half, its label within the half (ascending original order), its
    original index and name. Readable by people and by read_split."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(["half", "label", "class_index", "class_name"])
        for half, indices in (("A", half_a), ("B", half_b)):
            for label, index in enumerate(sorted(indices)):
                out.writerow([half, label, index, classes[index]])


def read_split(path) -> dict[str, list[int]]:
    """{'A': original class indices in label order, 'B': ...}."""
    halves = {"A": [], "B": []}
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            halves[row["half"]].append(int(row["class_index"]))
    return halves


def read_class_list(path: str | Path) -> list:
    """A class list file: one class per line, an integer index or a name."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise SplitError(f"cannot read the class list file {path} ({getattr(e, 'strerror', None) or e}); "
                         "give a list of classes, or a text file with one class name or index a line") from e
    items = [line.strip() for line in text.splitlines() if line.strip()]
    return [int(i) if i.isdigit() else i for i in items]
