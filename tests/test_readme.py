"""The README's examples run as written, where running them is cheap: a user copies them, and a researcher
trusts that they do what the text around them says."""

import re
import shlex
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SNAKEMAKE

README = (ROOT / "README.md").read_text()


def section(start: str, end: str) -> str:
    """The README's text from the line holding `start` to the next line starting with `end`."""
    begin = README.index(start)
    return README[begin:README.index(end, begin)]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each ``` block of a text."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)


def make_image_folder(root, classes=("cat", "dog", "car", "ship"), size=64) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 2)):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


@pytest.mark.slow  # a real Snakemake run: the data cache and the split jobs, about 20 s
def test_the_own_image_folder_example_makes_every_split_of_its_run(tmp_path):
    """README, Data sets, "To run on your own image folder": the example gave --config overrides over
    config.yaml, which kept config.yaml's Fashion-MNIST split garments_accessories, so on any other folder
    that split's job failed (unknown class 'T-shirt/top'). Its config files (```yaml blocks named in their
    first comment) and its command, with the folder replaced by four classes of generated images, must
    decode the data set and make every split of the run."""
    images = tmp_path / "images"
    make_image_folder(images)
    blocks = fenced_blocks(section("To run on your own image folder", "## "))
    for language, body in blocks:
        named = re.match(r"#\s*(\S+\.ya?ml)", body)
        if language == "yaml" and named:
            (tmp_path / named.group(1)).write_text(body.replace("/data/mine", str(images)))
    command = next(line for language, body in blocks if language == "bash"
                   for line in body.replace("\\\n", " ").splitlines() if line.startswith("snakemake "))
    arguments = shlex.split(command.split("  #")[0].replace("/data/mine", str(images)))[1:]
    result = subprocess.run([SNAKEMAKE, "-s", str(ROOT / "Snakefile"), *arguments, "--until", "split_classes"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert list((tmp_path / "results").glob("*/splits/random0.tsv")), result.stderr[-3000:]


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks/README.md",
             ROOT / "config/README.md"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(document):
    """A link to a file that moved, or to a heading that was renamed, is a dead end for a reader."""
    text = document.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # an address on the web
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: {target}"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", linked.read_text(), re.M)
            assert anchor in {slug(h) for h in headings}, f"{document.name}: {target}"


def test_the_readme_is_short_enough_to_read_in_five_minutes():
    assert len(README.encode()) <= 15_000, len(README.encode())
    assert "## Contents" in README
