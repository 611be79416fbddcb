"""Class halves: the authors' random recipe and explicit class lists."""

import hashlib

import pytest

from transferability import splits

# The test vectors for the 1000 ImageNet classes: first A indices and sha256 of all A indices.
PAPER_SPLITS = {0: ([0, 1, 2, 5, 9, 10, 15, 16], "c1aede24b4a89504"),
                1: ([1, 5, 7, 9, 15, 16, 17, 19], "f723a1d01816553c"),
                2: ([0, 2, 4, 5, 8, 9, 10, 13], "65f4ac5023d5e039"),
                3: ([0, 5, 6, 7, 8, 10, 12, 14], "cbb887cb505a7e27")}


@pytest.mark.parametrize("seed", sorted(PAPER_SPLITS))
def test_random_halves_match_the_authors_imagenet_halves(seed):
    half_a, half_b = splits.random_halves(1000, seed)
    start, digest = PAPER_SPLITS[seed]
    assert half_a[:8] == start
    assert hashlib.sha256(",".join(map(str, half_a)).encode()).hexdigest()[:16] == digest
    assert len(half_a) == len(half_b) == 500 and not set(half_a) & set(half_b)


def test_random_halves_partition_any_class_count():
    half_a, half_b = splits.random_halves(11, 4)
    assert sorted(half_a + half_b) == list(range(11)) and len(half_a) == 5
    assert splits.random_halves(11, 4) == (half_a, half_b)
    assert splits.random_halves(11, 5) != (half_a, half_b)


def test_explicit_halves_accept_names_and_indices():
    classes = ["cat", "dog", "car", "ship"]
    assert splits.explicit_halves(classes, ["dog", 0], [3, "car"]) == ([0, 1], [2, 3])


@pytest.mark.parametrize("half_a, half_b, message", [
    ([], ["car"], "half A is empty"),
    (["cat"], ["cat"], "overlap"),
    (["cow"], ["car"], "unknown class 'cow'"),
    ([7], ["car"], "outside 0..3"),
    (["cat", 0], ["car"], "twice"),
])
def test_explicit_halves_reject_bad_lists(half_a, half_b, message):
    with pytest.raises(splits.SplitError, match=message):
        splits.explicit_halves(["cat", "dog", "car", "ship"], half_a, half_b)


def test_split_file_round_trip_is_readable(tmp_path):
    classes = ["cat", "dog", "car", "ship"]
    splits.write_split(tmp_path / "s.tsv", classes, [3, 0], [1, 2])
    lines = (tmp_path / "s.tsv").read_text().splitlines()
    assert lines[:3] == ["half\tlabel\tclass_index\tclass_name", "A\t0\t0\tcat", "A\t1\t3\tship"]
    assert splits.read_split(tmp_path / "s.tsv") == {"A": [0, 3], "B": [1, 2]}
