"""RFC 9162 Merkle trees: published vectors, the store-backed log against the reference, tamper properties."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import ProofError
from evidence.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import _find_shared_dir

PROPERTY = settings(deadline=None, max_examples=150)


def _vector_names(kind: str) -> list[str]:
    """Vector files of one kind, relative to testdata/merkle; a placeholder makes a missing folder fail loudly."""
    shared = _find_shared_dir()
    if shared is None:
        return [f"{kind}/<testdata not found>"]
    base = shared / "testdata" / "merkle"
    return sorted(path.relative_to(base).as_posix() for path in (base / kind).rglob("*.json"))


INCLUSION_VECTORS = _vector_names("inclusion")
CONSISTENCY_VECTORS = _vector_names("consistency")


def _load_vector(testdata: Path, name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((testdata / "merkle" / name).read_text())
    return case


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _leaves(count: int, salt: bytes = b"") -> list[bytes]:
    """Distinct raw leaves (distinct leaves make accidental hash equalities impossible)."""
    return [salt + i.to_bytes(4, "big") for i in range(count)]


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _sides(index: int, size: int) -> tuple[str, ...] | None:
    """Side of each sibling on leaf ``index``'s audit path (RFC 9162 PATH, leaf level first); None if invalid."""
    if not 0 <= index < size:
        return None

    def walk(m: int, n: int) -> Iterator[str]:
        if n > 1:
            k = 1 << ((n - 1).bit_length() - 1)
            yield from walk(m, k) if m < k else walk(m - k, n - k)
            yield "right" if m < k else "left"

    return tuple(walk(index, size))


def _holds(verify: Callable[..., None], args: tuple[Any, ...]) -> bool:
    try:
        verify(*args)
    except ProofError:
        return False
    return True


def _mutate(value: int, how: str, bit: int) -> int:
    return {"+1": value + 1, "-1": value - 1, "xor": value ^ (1 << bit)}[how]


MUTATIONS = st.tuples(st.sampled_from(["+1", "-1", "xor"]), st.integers(0, 70))


# --- published vectors ----------------------------------------------------------------------------------


def test_every_vector_file_is_collected(testdata: Path) -> None:
    on_disk = sorted(p.relative_to(testdata / "merkle").as_posix() for p in testdata.glob("merkle/*/**/*.json"))
    assert on_disk == sorted(INCLUSION_VECTORS + CONSISTENCY_VECTORS)
    assert len(INCLUSION_VECTORS) > 50
    assert len(CONSISTENCY_VECTORS) > 50


@pytest.mark.parametrize("name", INCLUSION_VECTORS + CONSISTENCY_VECTORS)
def test_published_vector(testdata: Path, name: str) -> None:
    case = _load_vector(testdata, name)
    proof = [_b64(h) for h in case["proof"] or []]  # "proof": null is an empty proof
    args: tuple[Any, ...]
    if name.startswith("inclusion/"):
        args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
        assert _holds(verify_inclusion, args) is not case["wantErr"]
    else:
        args = (case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))
        assert _holds(verify_consistency, args) is not case["wantErr"]


EIGHT_HEX = "00 10 2021 3031 40414243 5051525354555657 606162636465666768696a6b6c6d6e6f"
EIGHT_LEAVES = [b"", *(bytes.fromhex(h) for h in EIGHT_HEX.split())]
EIGHT_ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")


def test_eight_leaf_root_matches_published_value() -> None:
    assert root_hash(EIGHT_LEAVES) == EIGHT_ROOT
    log = MerkleLog()
    log.append_many(EIGHT_LEAVES)
    assert log.root() == EIGHT_ROOT


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    expected = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert expected == EMPTY_ROOT
    assert root_hash([]) == expected
    assert MerkleLog().root() == expected


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    left, right = b"L" * 32, b"R" * 32
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert root_hash([b"a", b"b"]) == node_hash(leaf_hash(b"a"), leaf_hash(b"b"))


# --- MerkleLog against the reference functions ---------------------------------------------------------

SMALL = 40


@pytest.fixture(scope="module")
def small_log() -> tuple[MerkleLog, list[bytes]]:
    leaves = _leaves(SMALL)
    log = MerkleLog()
    for position, leaf in enumerate(leaves):
        assert log.append(leaf) == position
    return log, leaves


@pytest.mark.parametrize("size", range(SMALL + 1))
def test_log_root_matches_reference(small_log: tuple[MerkleLog, list[bytes]], size: int) -> None:
    log, leaves = small_log
    assert log.root(size) == root_hash(leaves[:size])


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_log_inclusion_proofs_match_reference(small_log: tuple[MerkleLog, list[bytes]], size: int) -> None:
    log, leaves = small_log
    for index in range(size):
        proof = log.inclusion_proof(index, size)
        assert proof == inclusion_proof(leaves, index, size)
        assert log.leaf_hash_at(index) == leaf_hash(leaves[index])
        verify_inclusion(leaf_hash(leaves[index]), index, size, proof, log.root(size))


@pytest.mark.parametrize("size2", range(1, SMALL + 1))
def test_log_consistency_proofs_match_reference(small_log: tuple[MerkleLog, list[bytes]], size2: int) -> None:
    log, leaves = small_log
    for size1 in range(1, size2 + 1):
        proof = log.consistency_proof(size1, size2)
        assert proof == consistency_proof(leaves, size1, size2)
        verify_consistency(size1, size2, proof, log.root(size1), log.root(size2))


@pytest.mark.parametrize(
    "batches",
    [[40], [1] * 40, [2, 3, 5, 7, 11, 12], [16, 16, 8], [15, 1, 16, 8], [0, 5, 0, 35], [31, 2, 7]],
    ids=str,
)
def test_log_built_in_batches_matches_reference(batches: list[int]) -> None:
    leaves, log, start = _leaves(sum(batches)), MerkleLog(), 0
    for count in batches:
        assert log.append_many(leaves[start : start + count]) == start
        start += count
        assert log.size == start
        assert log.root() == root_hash(leaves[:start])
    for size in range(1, start + 1):
        assert log.root(size) == root_hash(leaves[:size])
        assert log.inclusion_proof(size - 1, size) == inclusion_proof(leaves, size - 1, size)


@PROPERTY
@given(batches=st.lists(st.integers(0, 80), min_size=1, max_size=6), data=st.data())
def test_log_in_random_batches_matches_reference(batches: list[int], data: st.DataObject) -> None:
    leaves, log = _leaves(sum(batches), b"r"), MerkleLog()
    for count in batches:
        log.append_many(leaves[log.size : log.size + count])
    assert log.root() == root_hash(leaves)
    if leaves:
        size2 = data.draw(st.integers(1, len(leaves)))
        size1, index = data.draw(st.integers(1, size2)), data.draw(st.integers(0, size2 - 1))
        assert log.inclusion_proof(index, size2) == inclusion_proof(leaves, index, size2)
        assert log.consistency_proof(size1, size2) == consistency_proof(leaves, size1, size2)


@pytest.mark.parametrize("size", [257, 1000, 1025, 4099])
def test_larger_log_matches_reference(size: int) -> None:
    leaves, log, rng = _leaves(size, b"big"), MerkleLog(), random.Random(size)
    log.append_many(leaves)
    assert log.root() == root_hash(leaves)
    for _ in range(8):
        size2 = rng.randint(1, size)
        size1, index = rng.randint(1, size2), rng.randrange(size2)
        assert log.root(size2) == root_hash(leaves[:size2])
        assert log.inclusion_proof(index, size2) == inclusion_proof(leaves, index, size2)
        assert log.consistency_proof(size1, size2) == consistency_proof(leaves, size1, size2)


# --- properties: proofs made verify, tampered ones never do -----------------------------------------------


class Inclusion(NamedTuple):
    leaf: bytes
    leaf_index: int
    size: int
    proof: list[bytes]
    root: bytes


class Consistency(NamedTuple):
    size1: int
    size2: int
    proof: list[bytes]
    root1: bytes
    root2: bytes


@st.composite
def inclusions(draw: st.DrawFn) -> Inclusion:
    size = draw(st.integers(1, 300))
    index = draw(st.integers(0, size - 1))
    leaves = _leaves(size, draw(st.binary(max_size=4)))
    return Inclusion(leaf_hash(leaves[index]), index, size, inclusion_proof(leaves, index, size), root_hash(leaves))


@st.composite
def consistencies(draw: st.DrawFn) -> Consistency:
    size2 = draw(st.integers(1, 300))
    size1 = draw(st.integers(1, size2))
    leaves = _leaves(size2, draw(st.binary(max_size=4)))
    proof = consistency_proof(leaves, size1, size2)
    return Consistency(size1, size2, proof, root_hash(leaves[:size1]), root_hash(leaves))


@PROPERTY
@given(case=inclusions(), data=st.data())
def test_inclusion_proof_verifies_and_any_bit_flip_breaks_it(case: Inclusion, data: st.DataObject) -> None:
    verify_inclusion(*case)
    hashes = [case.leaf, case.root, *case.proof]
    target, bit = data.draw(st.integers(0, len(hashes) - 1)), data.draw(st.integers(0, 255))
    hashes[target] = _flip(hashes[target], bit)
    assert not _holds(verify_inclusion, Inclusion(hashes[0], case.leaf_index, case.size, hashes[2:], hashes[1]))


@PROPERTY
@given(case=inclusions(), mutation=MUTATIONS)
def test_inclusion_fails_for_any_other_index(case: Inclusion, mutation: tuple[str, int]) -> None:
    assert not _holds(verify_inclusion, case._replace(leaf_index=_mutate(case.leaf_index, *mutation)))


@PROPERTY
@given(case=inclusions(), mutation=MUTATIONS)
def test_inclusion_with_other_size_fails_unless_the_path_shape_is_identical(
    case: Inclusion, mutation: tuple[str, int]
) -> None:
    # RFC 9162 binds the tree size only through the root: a size whose audit path for this leaf has the same
    # shape computes the same root from the same proof. Every other size must fail.
    size = _mutate(case.size, *mutation)
    same_shape = _sides(case.leaf_index, size) == _sides(case.leaf_index, case.size)
    assert _holds(verify_inclusion, case._replace(size=size)) == same_shape


def test_tree_size_is_bound_only_through_the_root() -> None:
    leaves = _leaves(3)
    proof = inclusion_proof(leaves, 0, 3)
    verify_inclusion(leaf_hash(leaves[0]), 0, 4, proof, root_hash(leaves))  # same shape as size 3
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(leaves[0]), 0, 5, proof, root_hash(leaves))


@PROPERTY
@given(case=inclusions(), extra=st.binary(min_size=32, max_size=32))
def test_inclusion_fails_for_truncated_or_extended_proofs(case: Inclusion, extra: bytes) -> None:
    variants = [[*case.proof, extra], [extra, *case.proof], [*case.proof, case.root]]
    if case.proof:
        variants += [case.proof[1:], case.proof[:-1], [*case.proof, case.proof[-1]]]
    for proof in variants:
        assert not _holds(verify_inclusion, case._replace(proof=proof))


def test_every_bit_flip_breaks_a_fixed_inclusion_proof() -> None:
    leaves = _leaves(13)
    case = Inclusion(leaf_hash(leaves[6]), 6, 13, inclusion_proof(leaves, 6, 13), root_hash(leaves))
    for bit in range(256):
        assert not _holds(verify_inclusion, case._replace(leaf=_flip(case.leaf, bit)))
        assert not _holds(verify_inclusion, case._replace(root=_flip(case.root, bit)))
        for position in range(len(case.proof)):
            proof = [*case.proof]
            proof[position] = _flip(proof[position], bit)
            assert not _holds(verify_inclusion, case._replace(proof=proof))


@PROPERTY
@given(case=consistencies(), data=st.data())
def test_consistency_proof_verifies_and_any_bit_flip_breaks_it(case: Consistency, data: st.DataObject) -> None:
    verify_consistency(*case)
    hashes = [case.root1, case.root2, *case.proof]
    target, bit = data.draw(st.integers(0, len(hashes) - 1)), data.draw(st.integers(0, 255))
    hashes[target] = _flip(hashes[target], bit)
    assert not _holds(verify_consistency, Consistency(case.size1, case.size2, hashes[2:], hashes[0], hashes[1]))


@PROPERTY
@given(case=consistencies(), mutation=MUTATIONS)
def test_consistency_fails_for_any_other_first_size(case: Consistency, mutation: tuple[str, int]) -> None:
    assert not _holds(verify_consistency, case._replace(size1=_mutate(case.size1, *mutation)))


@PROPERTY
@given(case=consistencies(), mutation=MUTATIONS)
def test_consistency_with_other_second_size_fails_unless_the_path_shape_is_identical(
    case: Consistency, mutation: tuple[str, int]
) -> None:
    # The second root is rebuilt along the audit path of leaf size1 - 1, so only the shape of that path binds
    # size2 (its value is bound through root2).
    size2 = _mutate(case.size2, *mutation)
    same_shape = _sides(case.size1 - 1, size2) == _sides(case.size1 - 1, case.size2)
    assert _holds(verify_consistency, case._replace(size2=size2)) == same_shape


@PROPERTY
@given(case=consistencies(), extra=st.binary(min_size=32, max_size=32))
def test_consistency_fails_for_truncated_or_extended_proofs(case: Consistency, extra: bytes) -> None:
    p, r1, r2 = case.proof, case.root1, case.root2
    variants = [[*p, extra], [extra, *p], [r1, *p], [*p, r2]]
    if case.proof:
        variants += [case.proof[1:], case.proof[:-1]]
    for proof in variants:
        assert not _holds(verify_consistency, case._replace(proof=proof))


# --- malformed input is a failed proof, never a crash ------------------------------------------------------

H = leaf_hash(b"x")  # a well-formed 32-byte hash


class _ExplodingProof(Sequence[bytes]):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: Any) -> Any:
        raise KeyError(index)


NOT_HASHES: list[Any] = [None, 0, "a" * 32, H.hex(), H[:31], H + b"\x00", bytearray(H)]
NOT_SIZES: list[Any] = [-1, True, False, 1.0, "1", None]
NOT_PROOFS: list[Any] = [None, "", H, {H: H}, iter([H]), _ExplodingProof(), ["a" * 32], [H[:31]], [bytearray(H)]]


Args = list[tuple[Any, ...]]


def _verifying(verify: Callable[..., None], cases: Args) -> Args:
    return [args for args in cases if _holds(verify, args)]


@pytest.mark.parametrize("bad", NOT_HASHES, ids=repr)
def test_malformed_hashes_are_proof_errors(bad: Any) -> None:
    inclusion: Args = [(bad, 0, 1, [], H), (H, 0, 1, [], bad), (bad, 0, 1, [], bad), (H, 0, 2, [bad], H)]
    consistency: Args = [(1, 2, [H], bad, H), (1, 2, [H], H, bad), (1, 2, [bad], H, H), (2, 2, [], bad, H)]
    assert _verifying(verify_inclusion, inclusion) == []
    assert _verifying(verify_consistency, consistency) == []


@pytest.mark.parametrize("bad", NOT_SIZES, ids=repr)
def test_malformed_sizes_are_proof_errors(bad: Any) -> None:
    # With sizes taken at face value (True == 1, False == 0) several of these would verify.
    assert _verifying(verify_inclusion, [(H, bad, 1, [], H), (H, 0, bad, [], H), (H, bad, bad, [], H)]) == []
    assert _verifying(verify_consistency, [(bad, 1, [], H, H), (1, bad, [], H, H), (bad, bad, [], H, H)]) == []


@pytest.mark.parametrize("bad", NOT_PROOFS, ids=repr)
def test_malformed_proofs_are_proof_errors(bad: Any) -> None:
    assert _verifying(verify_inclusion, [(H, 0, 2, bad, H)]) == []
    assert _verifying(verify_consistency, [(1, 2, bad, H, H)]) == []


def test_out_of_range_and_huge_sizes_are_proof_errors() -> None:
    inclusion: Args = [(H, 1, 1, [], H), (H, 2**64, 2**64 + 1, [H] * 64, H), (H, 10**40, 10**30, [], H)]
    consistency: Args = [(3, 2, [H], H, H), (0, 0, [], H, H), (0, 1, [H], H, H), (2**64, 2**65, [H] * 3, H, H)]
    assert _verifying(verify_inclusion, [*inclusion, (H, 0, 2**300, [], H)]) == []
    assert _verifying(verify_consistency, [*consistency, (1, 2**300, [H], H, H)]) == []
