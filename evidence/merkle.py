"""RFC 9162 Merkle tree: hashing, roots, inclusion and consistency proofs, and an append-only log.

Leaf hash = SHA-256(0x00 || data); node hash = SHA-256(0x01 || left || right); the empty tree's root is
SHA-256(""). A tree of n leaves splits at k, the largest power of two below n (RFC 9162 §2.1.1).

Proofs are built by one recursion over leaf ranges (RFC 9162 §2.1.3.1 PATH and §2.1.4.1 SUBPROOF) that asks a
``range_hash(lo, hi)`` function for subtree hashes. The reference functions answer from a list of leaves (O(n));
``MerkleLog`` answers from stored perfect-subtree nodes, so a proof costs O(log n) node reads.

The ``verify_*`` functions follow RFC 9162 §2.1.3.2 and §2.1.4.2 and raise ``ProofError`` on any failure or
malformed input, and nothing else. One allowance, as in the reference implementation (transparency-dev/merkle)
and its published vectors: equal sizes need only identical roots, whatever their length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from evidence.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

RangeHash = Callable[[int, int], bytes]

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "InMemoryNodeStore",
    "MerkleLog",
    "NodeStore",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """Merkle tree hash of the raw leaf data ``leaves`` (not their hashes)."""
    if not leaves:
        return EMPTY_ROOT
    return _reference_range_hash([leaf_hash(leaf) for leaf in leaves])(0, len(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of the first ``tree_size`` raw leaves (reference, O(n))."""
    _check_inclusion_arguments(index, tree_size, len(leaves))
    return _path(index, 0, tree_size, _reference_range_hash([leaf_hash(x) for x in leaves[:tree_size]]))


def consistency_proof(leaves: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Proof that the tree of ``size1`` raw leaves is a prefix of the tree of ``size2`` (reference, O(n))."""
    _check_consistency_arguments(size1, size2, len(leaves))
    hashes = [leaf_hash(x) for x in leaves[:size2]]
    return _subproof(size1, 0, size2, True, _reference_range_hash(hashes))


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _reference_range_hash(hashes: Sequence[bytes]) -> RangeHash:
    def range_hash(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return hashes[lo]
        k = _split(hi - lo)
        return node_hash(range_hash(lo, lo + k), range_hash(lo + k, hi))

    return range_hash


def _path(m: int, lo: int, hi: int, range_hash: RangeHash) -> list[bytes]:
    """RFC 9162 PATH(m, D[lo:hi]), leaf level first."""
    proof: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            proof.append(range_hash(lo + k, hi))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k))
            lo, m = lo + k, m - k
    proof.reverse()
    return proof


def _subproof(m: int, lo: int, hi: int, whole: bool, range_hash: RangeHash) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[lo:hi], b), smallest subtrees first."""
    proof: list[bytes] = []
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(range_hash(lo + k, hi))
            hi = lo + k
        else:
            proof.append(range_hash(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(range_hash(lo, hi))
    proof.reverse()
    return proof


def _check_inclusion_arguments(index: int, tree_size: int, available: int) -> None:
    if not 0 <= index < tree_size <= available:
        raise ValueError(f"need 0 <= index ({index}) < tree_size ({tree_size}) <= leaves ({available})")


def _check_consistency_arguments(size1: int, size2: int, available: int) -> None:
    if not 0 < size1 <= size2 <= available:
        raise ValueError(f"need 0 < size1 ({size1}) <= size2 ({size2}) <= leaves ({available})")


# --- verification -------------------------------------------------------------------------------------------


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` with root ``root``."""
    try:
        _verify_inclusion(leaf_hash, index, tree_size, proof, root)
    except ProofError:
        raise
    except Exception as exc:  # malformed input of any type is a failed proof, never a crash
        raise ProofError(f"malformed inclusion proof input: {exc}") from exc


def _verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    _require_hash(leaf, "leaf hash")
    _require_hash(root, "root")
    hashes = _require_proof(proof)
    _require_size(index, "index")
    _require_size(tree_size, "tree size")
    if index >= tree_size:
        raise ProofError(f"index {index} is not below tree size {tree_size}")
    fn, sn, computed = index, tree_size - 1, leaf
    for sibling in hashes:
        if sn == 0:
            raise ProofError("proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            computed = node_hash(computed, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the tree is deep")
    if computed != root:
        raise ProofError("proof leads to a different root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size1`` with ``root1`` is a prefix of the tree of ``size2`` with ``root2``."""
    try:
        _verify_consistency(size1, size2, proof, root1, root2)
    except ProofError:
        raise
    except Exception as exc:  # malformed input of any type is a failed proof, never a crash
        raise ProofError(f"malformed consistency proof input: {exc}") from exc


def _verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    hashes = _require_proof(proof)
    _require_size(size1, "first size")
    _require_size(size2, "second size")
    if size2 < size1:
        raise ProofError(f"second size {size2} is smaller than first size {size1}")
    if size1 == size2:
        _require_same_tree(size1, hashes, root1, root2)
        return
    _require_hash(root1, "first root")
    _require_hash(root2, "second root")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if not hashes:
        raise ProofError("proof is empty")
    _walk_consistency(size1, size2, hashes, root1, root2)


def _walk_consistency(size1: int, size2: int, hashes: list[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2 steps 3-7: recompute both roots from the proof."""
    path = [root1, *hashes] if size1 & (size1 - 1) == 0 else hashes
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            first = node_hash(sibling, first)
            second = node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the trees are deep")
    if first != root1:
        raise ProofError("proof does not lead to the first root")
    if second != root2:
        raise ProofError("proof does not lead to the second root")


def _require_same_tree(size: int, hashes: list[bytes], root1: bytes, root2: bytes) -> None:
    # Like the reference implementation, equal sizes need only identical roots, whatever their form.
    if hashes:
        raise ProofError("sizes are equal but the proof is not empty")
    if not isinstance(root1, bytes) or root1 != root2:
        raise ProofError("sizes are equal but the roots differ")
    if size == 0 and root1 != EMPTY_ROOT:
        raise ProofError("a tree of size 0 must have the empty-tree root")


def _require_hash(value: Any, label: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{label} is not a {HASH_SIZE}-byte hash")


def _require_proof(proof: Any) -> list[bytes]:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        raise ProofError("proof is not a sequence of hashes")
    hashes = list(proof)
    for position, value in enumerate(hashes):
        _require_hash(value, f"proof element {position}")
    return hashes


def _require_size(value: Any, label: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{label} is not a non-negative integer")


# --- append-only log over a node store ----------------------------------------------------------------------


class NodeStore(Protocol):
    """Where a MerkleLog keeps its tree: the hashes of perfect subtrees, by (level, index), and the leaf count.

    Node (level, index) covers leaves [index * 2**level, (index + 1) * 2**level). ``save`` must store the new
    nodes and the new size together (one transaction), or neither.
    """

    def size(self) -> int: ...

    def get_node(self, level: int, index: int) -> bytes: ...

    def save(self, new_size: int, nodes: Sequence[tuple[int, int, bytes]]) -> None: ...


class InMemoryNodeStore:
    """NodeStore in lists, one per level."""

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []

    def size(self) -> int:
        return len(self._levels[0]) if self._levels else 0

    def get_node(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    def save(self, new_size: int, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        for level, index, value in nodes:
            while len(self._levels) <= level:
                self._levels.append([])
            row = self._levels[level]
            if index != len(row):
                raise ValueError(f"node ({level}, {index}) would not be appended in order")
            row.append(value)
        if self.size() != new_size:
            raise ValueError(f"store holds {self.size()} leaves, expected {new_size}")


class MerkleLog:
    """An append-only RFC 9162 log: appends, roots of any past size, inclusion and consistency proofs."""

    # Hashes of imperfect ranges (the right border of a tree whose size is not a power of two) are computed from
    # up to log2(n) stored nodes. In an append-only log a range's hash never changes, so they are kept, bounded.
    _BORDER_CACHE_LIMIT = 4096

    def __init__(self, store: NodeStore | None = None) -> None:
        self.store: NodeStore = store if store is not None else InMemoryNodeStore()
        self._border_hashes: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return self.store.size()

    def append(self, data: bytes) -> int:
        """Append one raw leaf; return its index."""
        return self.append_many([data])

    def append_many(self, leaves: Iterable[bytes]) -> int:
        """Append raw leaves in order; return the index of the first. Nodes are saved in one ``save`` call."""
        first = size = self.store.size()
        pending: dict[tuple[int, int], bytes] = {}
        for data in leaves:
            level, index, value = 0, size, leaf_hash(data)
            pending[(0, index)] = value
            while index & 1:  # a right child completes its parent's perfect subtree
                left = pending.get((level, index - 1)) or self.store.get_node(level, index - 1)
                value = node_hash(left, value)
                level, index = level + 1, index >> 1
                pending[(level, index)] = value
            size += 1
        ordered = sorted((level, index, value) for (level, index), value in pending.items())
        self.store.save(size, ordered)
        return first

    def root(self, tree_size: int | None = None) -> bytes:
        tree_size = self.size if tree_size is None else tree_size
        self._check_size(tree_size)
        return EMPTY_ROOT if tree_size == 0 else self._range_hash(0, tree_size)

    def leaf_hash_at(self, index: int) -> bytes:
        self._check_size(index + 1)
        return self.store.get_node(0, index)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        tree_size = self.size if tree_size is None else tree_size
        _check_inclusion_arguments(index, tree_size, self.size)
        return _path(index, 0, tree_size, self._range_hash)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        size2 = self.size if size2 is None else size2
        _check_consistency_arguments(size1, size2, self.size)
        return _subproof(size1, 0, size2, True, self._range_hash)

    def _range_hash(self, lo: int, hi: int) -> bytes:
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:  # a stored perfect subtree
            level = width.bit_length() - 1
            return self.store.get_node(level, lo >> level)
        cached = self._border_hashes.get((lo, hi))
        if cached is None:
            k = _split(width)
            cached = node_hash(self._range_hash(lo, lo + k), self._range_hash(lo + k, hi))
            if len(self._border_hashes) >= self._BORDER_CACHE_LIMIT:
                self._border_hashes.clear()
            self._border_hashes[(lo, hi)] = cached
        return cached

    def _check_size(self, tree_size: int) -> None:
        if not 0 <= tree_size <= self.size:
            raise ValueError(f"tree size {tree_size} is outside 0..{self.size}")
