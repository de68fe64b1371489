"""The verifier's own rules: fail-closed steps, dependencies, report shape and exit statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence import verify
from evidence.keys import PublicKey, generate_key
from evidence.seal import seal_files


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, PublicKey]:
    (tmp_path / "f.txt").write_text("evidence\n")
    key = generate_key("k")
    result = seal_files([tmp_path / "f.txt"], key=key, out=tmp_path / "p", user="u")
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
    assert (report["items"], report["events"]) == (1, 2)
    assert all(set(check) == {"step", "ok", "detail"} for check in report["checks"])


def test_progress_counts_every_payload_byte(package: tuple[Path, PublicKey]) -> None:
    path, key = package
    seen: list[int] = []
    verify.verify_package(path, trusted=[key], progress=seen.append)
    assert sum(seen) == verify.payload_size(path) == len("evidence\n")
