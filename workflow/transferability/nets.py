"""The names of trained nets, in the paper's notation, and what each name means.

baseA, baseB      trained from scratch on half A (B)
baseB_k25         trained from scratch on 25 training images per class of half B (reduced data)
A3B, A3B+         first 3 layers copied from baseA, frozen (+: fine-tuned), the rest trained on B
A3B+lr            as A3B+, the copied layers fine-tuned at a tenth of the learning rate (not in the paper)
B3B, B3B+         the selffer control: layers copied from baseB itself
R3B               first 3 layers left at their random initialisation, frozen, the rest trained on B

Every treatment is one entry of TREATMENTS; the name pattern, the parser, the grid of net names and the
schema's treatment lists (checked by a test) follow from it.
"""

import re
import string
from dataclasses import dataclass

from .architectures import PRESETS, transfer_units

N_LAYERS = 8  # conv1-conv5, fc6-fc8 of the AlexNet-like nets: "layer n" chops after weight layer n, n = 1..7
# The names cover every preset's n (resnet18: stem, 8 blocks, classifier, so n = 1..9); the config's layers are
# checked against its own preset's units (the schema), a net built with too many against its net (train.py).
MAX_N = max(transfer_units(arch) for arch in PRESETS.values()) - 1
assert MAX_N <= 9, "the names' pattern spells n as one digit"
# The files of a trained net's folder: train.py writes them (metrics.json last: its presence means the net is
# finished), the train rule declares them, the tables and analyses read them.
WEIGHTS_FILE, EPOCHS_FILE, METRICS_FILE = "weights.safetensors", "epochs.csv", "metrics.json"


@dataclass(frozen=True)
class Treatment:
    """One kind of net of the transfer grid. `template` spells its name for source half {s}, target
    half {t} and layer {n}; `source` says where its first n layers come from: "self" (the target's own
    base net), "other" (the other half's base net) or "random" (left at their initialisation)."""
    template: str
    source: str
    fine_tuned: bool = False
    copied_lr_factor: float = 1.0  # learning rate of the copied layers, relative to the rest

    def name(self, src: str, tgt: str, n: int) -> str:
        return self.template.format(s=src, t=tgt, n=n)

    def regex(self, groups: bool = True) -> str:
        """The names of this treatment as a regex, with groups s, t and n (the same half twice: (?P=t));
        groups=False: a plain pattern, as Snakemake's wildcard constraints want."""
        text, seen = "", set()
        for literal, field, _, _ in string.Formatter().parse(self.template):
            text += re.escape(literal)
            if not field:
                continue
            values = f"[1-{MAX_N}]" if field == "n" else "[AB]"
            if not groups:
                text += values
            elif field in seen:
                text += f"(?P={field})"
            else:
                text += f"(?P<{field}>{values})"
            seen.add(field)
        return text


# treatment -> its names and what it copies, freezes and fine-tunes (the schema's enums list these keys)
TREATMENTS = {
    "selffer": Treatment("{t}{n}{t}", "self"),
    "selffer_ft": Treatment("{t}{n}{t}+", "self", fine_tuned=True),
    "transfer": Treatment("{s}{n}{t}", "other"),
    "transfer_ft": Treatment("{s}{n}{t}+", "other", fine_tuned=True),
    # a common practice the paper did not try: fine-tune the copied layers more gently than the new ones
    "transfer_ft_lowlr": Treatment("{s}{n}{t}+lr", "other", fine_tuned=True, copied_lr_factor=0.1),
    "random_frozen": Treatment("R{n}{t}", "random"),
}
_BASE = r"base(?P<base>[AB])(_k(?P<k>[1-9][0-9]*))?"
_NAMES = {name: re.compile(t.regex()) for name, t in TREATMENTS.items()}
# Snakemake's wildcard constraint: every name above
NET_PATTERN = "|".join([r"base[AB](_k[1-9][0-9]*)?", *sorted({t.regex(groups=False) for t in TREATMENTS.values()})])


@dataclass(frozen=True)
class NetSpec:
    name: str
    target: str  # the half the net is trained and validated on
    source: str = ""  # "A"/"B": base net whose layers are copied; "R": random frozen; "": from scratch
    n: int = 0  # number of leading units (weight layers, residual blocks) copied (or left random)
    fine_tuned: bool = False
    images_per_class: int | None = None
    treatment: str = "base"  # the paper's name for this kind of net (the `experiment` column of its results)

    @property
    def frozen_layers(self) -> int:
        """Leading weight layers that receive no updates."""
        return 0 if self.fine_tuned else self.n

    @property
    def source_net(self) -> str | None:
        """Name of the base net whose weights this net copies, if any."""
        return f"base{self.source}" if self.source in ("A", "B") else None

    @property
    def copied_lr_factor(self) -> float:
        """Learning rate of the copied (fine-tuned) layers relative to the others."""
        return TREATMENTS[self.treatment].copied_lr_factor if self.treatment in TREATMENTS else 1.0


def parse_net(name: str) -> NetSpec:
    """Parse a net name such as 'A3B+'; raise ValueError naming the grammar on anything else."""
    base = re.fullmatch(_BASE, name)
    if base:
        return NetSpec(name, target=base["base"], images_per_class=int(base["k"]) if base["k"] else None)
    for treatment, pattern in _NAMES.items():
        match = pattern.fullmatch(name)
        kind = TREATMENTS[treatment]
        if match and (kind.source != "other" or match["s"] != match["t"]):
            source = {"self": match["t"], "other": match.groupdict().get("s"), "random": "R"}[kind.source]
            return NetSpec(name, target=match["t"], source=source, n=int(match["n"]), fine_tuned=kind.fine_tuned,
                           treatment=treatment)
    forms = sorted({t.name("S", "T", "n") for t in TREATMENTS.values()}, key=len)
    raise ValueError(f"bad net name {name!r}: expected baseA, baseB, baseB_k<images>, or one of {', '.join(forms)} "
                     f"(S the source half, T the target half, n = 1..{MAX_N}), e.g. A3B+")


def transfer_grid(direction: str, layers, treatments) -> list[str]:
    """Net names of one direction ('AB': A->B, 'BA': B->A) for the chosen layers and treatments."""
    src, tgt = direction
    return [TREATMENTS[kind].name(src, tgt, n) for kind in treatments for n in layers]


def param_groups(trainable, spec: NetSpec, train: dict):
    """The trainable layers' parameters for the optimiser: one group, or, for a treatment with a
    copied-layer learning-rate factor (train settings' copied_lr_factor), the copied layers in a group
    of their own at that fraction of the rate (torch.optim's parameter groups)."""
    factor = train.get("copied_lr_factor", 1.0)
    if factor == 1.0:
        return [{"params": list(trainable.parameters())}]
    copied = trainable[:spec.n - spec.frozen_layers]  # fine-tuned: the copied layers lead the trainable part
    rest = trainable[spec.n - spec.frozen_layers:]
    return [{"params": list(copied.parameters()), "lr": train["lr"] * factor}, {"params": list(rest.parameters())}]
