"""The verifier's own rules: fail-closed steps, dependencies, report shape and exit statuses."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence import bagit, verify
from evidence.canonical import loads
from evidence.checkpoint import Checkpoint, SignedNote
from evidence.keys import PublicKey, generate_key
from evidence.package import CHECKPOINT, PROOFS, jsonl
from evidence.seal import seal_files


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, PublicKey]:
    (tmp_path / "f.txt").write_text("evidence\n")
    (tmp_path / "g.txt").write_text("more evidence\n")
    (tmp_path / "h.txt").write_text("and more\n")
    key = generate_key("k")
    result = seal_files([tmp_path / n for n in ("f.txt", "g.txt", "h.txt")], key=key, out=tmp_path / "p", user="u")
    return result.path, key.public


def test_steps_are_numbered_in_order_and_only_the_last_is_about_trust() -> None:
    assert [step.number for step in verify.STEPS] == list(range(1, len(verify.STEPS) + 1))
    assert [step.name for step in verify.STEPS if step.trust] == ["trust"]
    names = {step.name for step in verify.STEPS}
    assert all(set(step.needs) <= names for step in verify.STEPS)


def test_an_unexpected_error_in_a_step_fails_it(
    package: tuple[Path, PublicKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(_state: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(verify._STEP_FUNCTIONS, "keys", explode)
    path, key = package
    report = verify.verify_package(path, trusted=[key])
    by_name = {check.step.name: check for check in report.checks}
    assert not by_name["keys"].ok
    assert "internal error" in by_name["keys"].detail
    assert "disk on fire" in by_name["keys"].detail
    assert by_name["event-signatures"].detail.startswith("not checked: step 4 keys failed")
    assert report.exit_status == 1


def test_report_json_shape(package: tuple[Path, PublicKey]) -> None:
    path, key = package
    report = verify.verify_package(path, trusted=[key]).to_json()
    assert set(report) == {"valid", "trusted", "items", "events", "checks"}
    assert report["valid"]
    assert report["trusted"]
    assert (report["items"], report["events"]) == (3, 6)
    assert all(set(check) == {"step", "ok", "detail"} for check in report["checks"])


def test_progress_counts_every_payload_byte(package: tuple[Path, PublicKey]) -> None:
    path, key = package
    seen: list[int] = []
    verify.verify_package(path, trusted=[key], progress=seen.append)
    assert sum(seen) == verify.payload_size(path) == len("evidence\nmore evidence\nand more\n")


def _flip_bit(value: int, bit: int) -> int:
    return value ^ (1 << bit)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_bit_flip_in_a_proof_record_or_checkpoint_fails(
    data: st.DataObject, package: tuple[Path, PublicKey], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """RFC 9162 binds a proof's tree size only through the root; the package binds it through the signed
    checkpoint, so every single-bit change to an index, a size, a path hash or the checkpoint must fail."""
    original, key = package
    copy = tmp_path_factory.mktemp("flip") / "p"
    shutil.copytree(original, copy)
    target = data.draw(st.sampled_from(["index", "tree_size", "path", "checkpoint-size", "checkpoint-root"]))
    if target.startswith("checkpoint"):
        note = SignedNote.parse((copy / CHECKPOINT).read_bytes())
        head = note.checkpoint
        if target == "checkpoint-size":
            head = Checkpoint(head.origin, _flip_bit(head.size, data.draw(st.integers(0, 40))), head.root)
        else:
            bit = data.draw(st.integers(0, 255))
            root = (int.from_bytes(head.root, "big") ^ (1 << bit)).to_bytes(32, "big")
            head = Checkpoint(head.origin, head.size, root)
        (copy / CHECKPOINT).write_bytes(SignedNote(head.body(), note.signatures).to_bytes())
    else:
        records = [loads(line) for line in (copy / PROOFS).read_bytes().splitlines()]
        record = records[data.draw(st.integers(0, len(records) - 1))]
        if target == "path":
            node = bytearray(base64.b64decode(record["path"][0]))
            node[data.draw(st.integers(0, 31))] ^= 1 << data.draw(st.integers(0, 7))
            record["path"][0] = base64.b64encode(bytes(node)).decode()
        else:
            record[target] = _flip_bit(record[target], data.draw(st.integers(0, 40)))
        (copy / PROOFS).write_bytes(jsonl(records))
    bagit.regenerate(copy)  # the forger keeps the BagIt layer consistent
    report = verify.verify_package(copy, trusted=[key])
    assert report.exit_status == 1
    assert not {c.step.name: c.ok for c in report.checks}["checkpoint" if target.startswith("c") else "log-inclusion"]
