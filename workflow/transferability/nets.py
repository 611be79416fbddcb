"""The names of trained nets, in the paper's notation, and what each name means.

baseA, baseB      trained from scratch on half A (B)
baseB_k25         trained from scratch on 25 training images per class of half B (reduced data)
A3B, A3B+         first 3 layers copied from baseA, frozen (+: fine-tuned), the rest trained on B
B3B, B3B+         the selffer control: layers copied from baseB itself
R3B               first 3 layers left at their random initialisation, frozen, the rest trained on B
"""

import re
from dataclasses import dataclass

N_LAYERS = 8  # conv1-conv5, fc6-fc8: "layer n" chops after weight layer n, n = 1..7
NET_PATTERN = r"base[AB](_k[1-9][0-9]*)?|[AB][1-7][AB]\+?|R[1-7][AB]"
_PARSE = re.compile(r"base(?P<base>[AB])(_k(?P<k>\d+))?|(?P<src>[ABR])(?P<n>[1-7])(?P<tgt>[AB])(?P<ft>\+?)")


@dataclass(frozen=True)
class NetSpec:
    name: str
    target: str  # the half the net is trained and validated on
    source: str = ""  # "A"/"B": base net whose layers are copied; "R": random frozen; "": from scratch
    n: int = 0  # number of leading weight layers copied (or left random)
    fine_tuned: bool = False
    images_per_class: int | None = None

    @property
    def treatment(self) -> str:
        """The paper's name for this kind of net (the `experiment` column of its results)."""
        if not self.source:
            return "base"
        if self.source == "R":
            return "random_frozen"
        kind = "selffer" if self.source == self.target else "transfer"
        return kind + ("_ft" if self.fine_tuned else "")

    @property
    def frozen_layers(self) -> int:
        """Leading weight layers that receive no updates."""
        return 0 if self.fine_tuned else self.n

    @property
    def source_net(self) -> str | None:
        """Name of the base net whose weights this net copies, if any."""
        return f"base{self.source}" if self.source in ("A", "B") else None


def parse_net(name: str) -> NetSpec:
    """Parse a net name such as 'A3B+'; raise ValueError naming the grammar on anything else."""
    match = _PARSE.fullmatch(name)
    if not match:
        raise ValueError(f"bad net name {name!r}: expected baseA, baseB, baseB_k<images>, or "
                         "<A|B|R><n=1..7><A|B>[+], e.g. A3B+")
    if match["base"]:
        k = int(match["k"]) if match["k"] else None
        return NetSpec(name, target=match["base"], images_per_class=k)
    if match["src"] == "R" and match["ft"]:
        raise ValueError(f"bad net name {name!r}: random-frozen nets (R) have no fine-tuned variant")
    return NetSpec(name, target=match["tgt"], source=match["src"], n=int(match["n"]),
                   fine_tuned=bool(match["ft"]))


def transfer_grid(direction: str, layers, treatments) -> list[str]:
    """Net names of one direction ('AB': A->B, 'BA': B->A) for the chosen layers and treatments."""
    src, tgt = direction
    names = {"selffer": "{t}{n}{t}", "selffer_ft": "{t}{n}{t}+", "transfer": "{s}{n}{t}",
             "transfer_ft": "{s}{n}{t}+", "random_frozen": "R{n}{t}"}
    return [names[kind].format(s=src, t=tgt, n=n) for kind in treatments for n in layers]
