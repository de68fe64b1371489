"""Tamper tests: every way of changing a sealed package must fail `fieldproof verify` with the named reason.

Each test changes a copy of a freshly sealed package the way a forger or an accident would, runs the real
command (`fieldproof verify --json --trust KEY`), and expects exit status 1 (integrity failure) or 3 (intact but
untrusted) and the step that names the reason.
"""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence import bagit
from evidence.canonical import canonical_bytes, loads
from evidence.checkpoint import Checkpoint, SignedNote, sign_checkpoint
from evidence.custody import CustodyEvent, new_event, parse_utc
from evidence.keys import generate_key
from evidence.merkle import MerkleLog
from evidence.package import CHECKPOINT, EVENTS, PROOFS, ProofRecord, jsonl
from tests.fieldproof.conftest import CliResult, Sealed, failed_steps

Cli = Callable[..., CliResult]


def verify(cli: Cli, sealed: Sealed, *extra: str | Path, trust: bool = True) -> tuple[int, dict[str, str]]:
    args: list[str | Path] = ["verify", sealed.package, "--json", *extra]
    if trust:
        args += ["--trust", sealed.public_key]
    result = cli(*args)
    return result.status, failed_steps(result.json())


def payload_files(sealed: Sealed) -> list[Path]:
    return sorted(p for p in (sealed.package / "data").rglob("*") if p.is_file())


def photo(sealed: Sealed) -> Path:
    return next(p for p in payload_files(sealed) if p.suffix == ".jpg")


def event_lines(sealed: Sealed) -> list[bytes]:
    return (sealed.package / EVENTS).read_bytes().splitlines()


def write_event_lines(sealed: Sealed, lines: list[bytes]) -> None:
    (sealed.package / EVENTS).write_bytes(b"".join(line + b"\n" for line in lines))


def test_untouched_package_is_intact_and_trusted(cli: Cli, sealed: Sealed) -> None:
    result = cli("verify", sealed.package, "--json", "--trust", sealed.public_key)
    report = result.json()
    assert result.status == 0
    assert report["valid"] is True
    assert report["trusted"] is True
    assert (report["items"], report["events"]) == (3, 6)
    assert [c["step"] for c in report["checks"]][:3] == [
        "bag-declaration",
        "tag-manifest",
        "payload-manifest",
    ]
    assert all(check["ok"] for check in report["checks"])


def test_one_byte_flipped_in_a_payload_file(cli: Cli, sealed: Sealed) -> None:
    target = photo(sealed)
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01
    target.write_bytes(bytes(data))
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "(changed)" in failed["payload-manifest"]
    assert "differs from its custody events" in failed["items"]


def test_a_byte_appended_to_a_payload_file(cli: Cli, sealed: Sealed) -> None:
    with open(photo(sealed), "ab") as stream:
        stream.write(b"\x00")
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "Payload-Oxum" in failed["payload-manifest"]
    assert "differs from its custody events" in failed["items"]


def test_a_payload_file_deleted(cli: Cli, sealed: Sealed) -> None:
    photo(sealed).unlink()
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "listed but missing (deleted?)" in failed["payload-manifest"]
    assert "is missing (deleted?)" in failed["items"]


def test_an_extra_payload_file_added(cli: Cli, sealed: Sealed) -> None:
    (payload_files(sealed)[0].parent / "extra.jpg").write_bytes(b"\xff\xd8\xff planted")
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "not listed (added?)" in failed["payload-manifest"]
    assert "belongs to no item (added?)" in failed["items"]


def test_an_extra_tag_file_added(cli: Cli, sealed: Sealed) -> None:
    (sealed.package / "custody" / "extra.jsonl").write_text("{}\n")
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "custody/extra.jsonl: present but not listed (added?)" in failed["tag-manifest"]


def test_a_custody_event_edited(cli: Cli, sealed: Sealed) -> None:
    lines = event_lines(sealed)
    event = loads(lines[0])
    event["details"]["name"] = "innocent.jpg"
    lines[0] = canonical_bytes(event)
    write_event_lines(sealed, lines)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "custody/events.jsonl: SHA-256 differs" in failed["tag-manifest"]
    assert "forged or edited" in failed["event-signatures"]


def test_a_custody_event_edited_and_the_bag_rewritten(cli: Cli, sealed: Sealed) -> None:
    lines = event_lines(sealed)
    event = loads(lines[1])
    event["at"] = "2020-01-01T00:00:00.000000Z"
    lines[1] = canonical_bytes(event)
    write_event_lines(sealed, lines)
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert set(failed) >= {"event-signatures", "log-inclusion"}
    assert "line 2" in failed["event-signatures"]


def test_a_custody_event_deleted(cli: Cli, sealed: Sealed) -> None:
    lines = event_lines(sealed)
    del lines[2]
    write_event_lines(sealed, lines)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "sequence number is 1, expected 0" in failed["custody-chains"]
    assert "6 proofs for 5 events (event added or removed?)" in failed["log-inclusion"]


def test_the_last_event_of_an_item_deleted_with_its_proof(cli: Cli, sealed: Sealed) -> None:
    # A careful forger removes the sealing event and its proof line together and rewrites the manifests.
    lines = event_lines(sealed)
    proofs = (sealed.package / PROOFS).read_bytes().splitlines()
    del lines[5], proofs[5]
    write_event_lines(sealed, lines)
    (sealed.package / PROOFS).write_bytes(b"".join(p + b"\n" for p in proofs))
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "not with sealing (events cut off?)" in failed["custody-chains"]
    assert "a sealed log holds 6 events, but the package has 5" in failed["log-inclusion"]


def test_two_events_swapped(cli: Cli, sealed: Sealed) -> None:
    lines = event_lines(sealed)
    lines[0], lines[1] = lines[1], lines[0]
    write_event_lines(sealed, lines)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "expected 0" in failed["custody-chains"]
    assert "event line 1 is not leaf 0" in failed["log-inclusion"]


def test_an_event_duplicated(cli: Cli, sealed: Sealed) -> None:
    lines = event_lines(sealed)
    lines.insert(1, lines[0])
    write_event_lines(sealed, lines)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "sequence number is 0, expected 1" in failed["custody-chains"]
    assert "7 events" in failed["log-inclusion"]


def test_the_checkpoint_root_edited(cli: Cli, sealed: Sealed) -> None:
    note = SignedNote.parse((sealed.package / CHECKPOINT).read_bytes())
    head = note.checkpoint
    forged_root = bytes([head.root[0] ^ 0x80]) + head.root[1:]
    forged = SignedNote(Checkpoint(head.origin, head.size, forged_root).body(), note.signatures)
    (sealed.package / CHECKPOINT).write_bytes(forged.to_bytes())
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "does not verify" in failed["checkpoint"]
    assert "not checked" in failed["log-inclusion"]


def test_the_whole_bag_rewritten_with_fresh_manifests(cli: Cli, sealed: Sealed) -> None:
    target = photo(sealed)
    target.write_bytes(target.read_bytes().replace(b"NIKON", b"NIK0N", 1))
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert set(failed) == {"items"}, "every BagIt-level check passes after a full rewrite"
    assert "differs from its custody events (changed)" in failed["items"]


def _resign_checkpoint(sealed: Sealed, *, publish_key: bool) -> None:
    forger = generate_key("forger")
    head = SignedNote.parse((sealed.package / CHECKPOINT).read_bytes()).checkpoint
    (sealed.package / CHECKPOINT).write_bytes(sign_checkpoint(head, forger).to_bytes())
    if publish_key:
        (sealed.package / "keys" / f"{forger.key_id[:16]}.pub").write_text(forger.public.to_text() + "\n")
    bagit.regenerate(sealed.package)


def test_checkpoint_signed_only_by_an_unknown_key(cli: Cli, sealed: Sealed) -> None:
    _resign_checkpoint(sealed, publish_key=True)
    untrusted_status, untrusted_failed = verify(cli, sealed, trust=False)
    assert untrusted_status == 3
    assert set(untrusted_failed) == {"trust"}
    trusted_status, trusted_failed = verify(cli, sealed)
    assert trusted_status != 0
    assert "no signature by a trusted key (test-officer)" in trusted_failed["trust"]


def test_checkpoint_signed_by_a_key_the_package_does_not_hold(cli: Cli, sealed: Sealed) -> None:
    _resign_checkpoint(sealed, publish_key=False)
    status, failed = verify(cli, sealed, trust=False)
    assert status == 1
    assert "no signature by a known key (signed by: forger)" in failed["checkpoint"]


def test_a_forged_signature_claiming_the_trusted_key_fails_integrity(cli: Cli, sealed: Sealed) -> None:
    note = SignedNote.parse((sealed.package / CHECKPOINT).read_bytes())
    genuine = note.signatures[0]
    forged_sig = type(genuine)(genuine.name, genuine.key_hash, bytes(64))
    (sealed.package / CHECKPOINT).write_bytes(SignedNote(note.body, (forged_sig,)).to_bytes())
    for key_file in (sealed.package / "keys").iterdir():
        key_file.unlink()  # the forger also removes the genuine key so the package cannot check it
    (sealed.package / "keys" / "0000.pub").write_text(generate_key("other").public.to_text() + "\n")
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "signature by known key test-officer does not verify" in failed["checkpoint"]


def test_a_complete_forgery_under_another_key_is_intact_but_untrusted(cli: Cli, sealed: Sealed) -> None:
    """A forger who re-signs every event and the log with their own key makes a consistent package, which is
    exactly why trust is reported apart from integrity: only --trust tells it from the original."""
    forger = generate_key("forger")
    events = [CustodyEvent.from_bytes(line) for line in event_lines(sealed)]
    forged: list[CustodyEvent] = []
    for event in events:
        previous = forged[-1] if event.seq else None
        forged.append(
            new_event(
                key=forger,
                item_id=event.item_id,
                item_sha256=event.item_sha256,
                action=event.action,
                at=parse_utc(event.at),
                previous=previous,
                user=event.actor["user"],
                details=event.details,
            )
        )
    log = MerkleLog()
    log.append_many(e.to_bytes() for e in forged)
    head = SignedNote.parse((sealed.package / CHECKPOINT).read_bytes()).checkpoint
    note = sign_checkpoint(Checkpoint(head.origin, log.size, log.root()), forger)
    write_event_lines(sealed, [e.to_bytes() for e in forged])
    proofs = [ProofRecord(i, log.size, tuple(log.inclusion_proof(i))).to_json() for i in range(log.size)]
    (sealed.package / PROOFS).write_bytes(jsonl(proofs))
    (sealed.package / CHECKPOINT).write_bytes(note.to_bytes())
    for key_file in (sealed.package / "keys").iterdir():
        key_file.unlink()
    (sealed.package / "keys" / "forger.pub").write_text(forger.public.to_text() + "\n")
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 3
    assert set(failed) == {"trust"}


def test_a_proof_bit_flipped(cli: Cli, sealed: Sealed) -> None:
    proofs = [loads(line) for line in (sealed.package / PROOFS).read_bytes().splitlines()]
    node = bytearray(base64.b64decode(proofs[3]["path"][0]))
    node[0] ^= 0x01
    proofs[3]["path"][0] = base64.b64encode(bytes(node)).decode()
    (sealed.package / PROOFS).write_bytes(jsonl(proofs))
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert "event line 4 is not leaf 3 of the signed log" in failed["log-inclusion"]


def test_package_id_changed_in_bag_info(cli: Cli, sealed: Sealed) -> None:
    info = sealed.package / bagit.BAG_INFO
    info.write_text(info.read_text().replace(sealed.package_id, "00000000-0000-0000-0000-000000000000"))
    bagit.regenerate(sealed.package)
    status, failed = verify(cli, sealed)
    assert status == 1
    assert f"sealed into package {sealed.package_id}" in failed["custody-chains"]


def _zip_package(sealed: Sealed, target: Path, change: Callable[[str, bytes], bytes]) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(p for p in sealed.package.rglob("*") if p.is_file()):
            relative = path.relative_to(sealed.package).as_posix()
            archive.writestr(f"package/{relative}", change(relative, path.read_bytes()))
    return target


def test_zipped_package_verifies_and_a_tampered_zip_fails(cli: Cli, sealed: Sealed, tmp_path: Path) -> None:
    intact = _zip_package(sealed, tmp_path / "intact.zip", lambda _name, data: data)
    assert cli("verify", intact, "--trust", sealed.public_key).status == 0

    def flip_photo(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name.endswith(".jpg") else data

    tampered = _zip_package(sealed, tmp_path / "tampered.zip", flip_photo)
    result = cli("verify", tampered, "--json", "--trust", sealed.public_key)
    assert result.status == 1
    assert "differs from its custody events" in failed_steps(result.json())["items"]


@pytest.mark.parametrize("damage", ["no-bagit-txt", "wrong-version", "not-a-zip"])
def test_unreadable_packages_exit_2(cli: Cli, sealed: Sealed, tmp_path: Path, damage: str) -> None:
    target: Path = sealed.package
    if damage == "no-bagit-txt":
        (sealed.package / "bagit.txt").unlink()
    elif damage == "wrong-version":
        (sealed.package / "bagit.txt").write_text("BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n")
    else:
        target = tmp_path / "broken.zip"
        target.write_bytes(b"PK\x03\x04 not really a zip")
    result = cli("verify", target, "--json")
    assert result.status == 2
    assert result.json()["checks"][0]["step"] == "bag-declaration"
    assert "Traceback" not in result.stderr
