"""Checkpoints as C2SP signed notes: body format, signature rules, malformed notes and witness cosignatures."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.checkpoint import (
    Checkpoint,
    NoteSignature,
    SignedNote,
    cosign,
    cosignature_time,
    sign_checkpoint,
    sign_note_body,
    verified_signers,
    verify_note,
)
from evidence.errors import CheckpointError, SignatureError
from evidence.keys import COSIGNATURE_V1, PublicKey, SigningKey

PROPERTY = settings(deadline=None, max_examples=100)

LOG = SigningKey("log.fieldproof.example", hashlib.sha256(b"log key").digest())
OTHER_LOG = SigningKey("other.example/log", hashlib.sha256(b"other log key").digest())
WITNESS = SigningKey("witness.court.example", hashlib.sha256(b"witness key").digest(), COSIGNATURE_V1)
ROOT = bytes(range(32))
ROOT_B64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
CHECKPOINT = Checkpoint("log.fieldproof.example", 12, ROOT)
BODY = b"log.fieldproof.example\n12\n" + ROOT_B64.encode() + b"\n"

# golang.org/x/mod/sumdb/note's documented example (Ed25519 is deterministic, so the signature is reproducible).
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE_LINE = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _line(name: str, blob: bytes) -> bytes:
    return f"\u2014 {name} {base64.b64encode(blob).decode()}\n".encode()


def _signed() -> bytes:
    return sign_checkpoint(CHECKPOINT, LOG).to_bytes()


# --- checkpoint bodies -------------------------------------------------------------------------------------


def test_body_is_origin_size_and_base64_root_lines() -> None:
    assert base64.b64encode(ROOT).decode() == ROOT_B64
    assert CHECKPOINT.body() == BODY
    with_extensions = Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    assert with_extensions.body() == b"o\n0\n" + ROOT_B64.encode() + b"\next one\next two\n"


@pytest.mark.parametrize(
    "checkpoint",
    [CHECKPOINT, Checkpoint("o", 0, bytes(32)), Checkpoint("a/b c", 2**64, ROOT, ("x", "— y"))],
    ids=str,
)
def test_checkpoint_parse_and_body_round_trip(checkpoint: Checkpoint) -> None:
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


printable = st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\x7f")


@PROPERTY
@given(
    origin=st.text(printable, min_size=1, max_size=40),
    size=st.integers(0, 2**64),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(printable, min_size=1, max_size=20), max_size=3),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
    note = sign_checkpoint(checkpoint, LOG)
    assert SignedNote.parse(note.to_bytes()).checkpoint == checkpoint


@pytest.mark.parametrize(
    "body",
    [
        b"log\n12\n",
        b"\n12\n" + ROOT_B64.encode() + b"\n",
        b"log\n012\n" + ROOT_B64.encode() + b"\n",
        b"log\n-1\n" + ROOT_B64.encode() + b"\n",
        b"log\n+1\n" + ROOT_B64.encode() + b"\n",
        b"log\n 1\n" + ROOT_B64.encode() + b"\n",
        b"log\n1.0\n" + ROOT_B64.encode() + b"\n",
        b"log\n\n" + ROOT_B64.encode() + b"\n",
        b"log\n\xd9\xa1\n" + ROOT_B64.encode() + b"\n",  # ARABIC-INDIC DIGIT ONE is not a decimal digit here
        b"log\n12\n" + ROOT_B64.encode()[:-1] + b"\n",
        b"log\n12\n!" + ROOT_B64.encode()[1:] + b"\n",
        b"log\n12\n" + base64.b64encode(bytes(31)) + b"\n",
        b"log\n12\n" + base64.b64encode(bytes(33)) + b"\n",
        BODY + b"\n",  # empty extension line
        BODY[:-1],
        BODY.replace(b"log.", b"log\t"),
        BODY.replace(b"log.", b"log\xff"),
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(body)


# --- signed notes ------------------------------------------------------------------------------------------


def test_signed_note_layout() -> None:
    signature = LOG.sign(BODY)
    assert _signed() == BODY + b"\n" + _line(LOG.name, LOG.public.note_hash + signature)


def test_signed_note_parses_and_verifies() -> None:
    note = SignedNote.parse(_signed())
    assert note == sign_checkpoint(CHECKPOINT, LOG)
    assert note.checkpoint == CHECKPOINT
    assert verify_note(note, [LOG.public]) == [LOG.public]


def test_go_reference_note_verifies_and_is_reproduced() -> None:
    note = SignedNote.parse(GO_TEXT + b"\n" + GO_SIGNATURE_LINE.encode())
    go_key = PublicKey.from_text(GO_VERIFIER)
    assert verify_note(note, [go_key]) == [go_key]
    assert sign_note_body(GO_TEXT, SigningKey("PeterNeumann", GO_SEED)).line() == GO_SIGNATURE_LINE
    edited = SignedNote.parse(GO_TEXT.replace(b"cryptography", b"cryptographY") + b"\n" + GO_SIGNATURE_LINE.encode())
    with pytest.raises(CheckpointError):
        verify_note(edited, [go_key])


def test_unknown_keys_are_ignored_next_to_a_valid_known_key() -> None:
    unknown = _line("stranger.example", b"\x01\x02\x03\x04" + bytes(64))
    note = SignedNote.parse(BODY + b"\n" + unknown + _signed()[len(BODY) + 1 :] + unknown)
    assert len(note.signatures) == 3
    assert verify_note(note, [LOG.public, OTHER_LOG.public]) == [LOG.public]


def test_a_failing_signature_by_a_known_key_rejects_the_note() -> None:
    forged = NoteSignature(OTHER_LOG.name, OTHER_LOG.public.note_hash, bytes(64))
    note = sign_checkpoint(CHECKPOINT, LOG).with_signature(forged)
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(note, [LOG.public, OTHER_LOG.public])
    assert verify_note(note, [LOG.public]) == [LOG.public]  # the forger's key is unknown to this verifier


def test_a_note_with_no_known_signer_is_rejected() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG)
    for known in ([], [OTHER_LOG.public], [SigningKey(LOG.name, OTHER_LOG.seed).public]):
        assert verified_signers(note, known) == []
        with pytest.raises(CheckpointError, match="no signature by a known key"):
            verify_note(note, known)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"log.fieldproof.example\n", b"log.fieldproof.exampl3\n"),
        (b"\n12\n", b"\n13\n"),
        (b"\n12\n", b"\n120\n"),
        (ROOT_B64.encode(), base64.b64encode(bytes(32))),
        (ROOT_B64.encode(), base64.b64encode(b"\x01" + ROOT[1:])),
    ],
)
def test_editing_the_body_invalidates_the_signature(old: bytes, new: bytes) -> None:
    data = _signed()
    assert data.count(old) == 1
    note = SignedNote.parse(data.replace(old, new))
    with pytest.raises(CheckpointError):
        verify_note(note, [LOG.public])


@PROPERTY
@given(data=st.data())
def test_any_bit_flip_in_the_body_is_rejected(data: st.DataObject) -> None:
    note = bytearray(_signed())
    position = data.draw(st.integers(0, len(BODY) - 1))
    note[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CheckpointError):
        verify_note(SignedNote.parse(bytes(note)), [LOG.public])


@PROPERTY
@given(data=st.data())
def test_a_bit_flip_in_the_signature_block_is_rejected_or_harmless(data: st.DataObject) -> None:
    original = _signed()
    note = bytearray(original)
    position = data.draw(st.integers(len(BODY), len(note) - 1))
    note[position] ^= 1 << data.draw(st.integers(0, 7))
    try:
        parsed = SignedNote.parse(bytes(note))
        verify_note(parsed, [LOG.public])
    except CheckpointError:
        return
    # base64 tolerates non-zero padding bits; then the decoded signature must be exactly the original one
    assert parsed == SignedNote.parse(original)


SIGNATURE = _signed()[len(BODY) + 1 :]


@pytest.mark.parametrize(
    "data",
    [
        BODY + SIGNATURE,  # no blank line
        BODY + b"\n",  # no signature lines
        _signed()[:-1],  # no final newline
        BODY.replace(b"12", b"1\t2") + b"\n" + SIGNATURE,
        BODY + b"\n" + SIGNATURE.replace(b"\n", b"\r\n"),
        BODY.replace(b"log.", b"log\x7f") + b"\n" + SIGNATURE,
        BODY.replace(b"log.", b"log\x00") + b"\n" + SIGNATURE,
        BODY.replace(b"log.", b"log\xc3") + b"\n" + SIGNATURE,
        BODY + b"\n" + SIGNATURE.replace("\u2014 ".encode(), b"-- "),
        BODY + b"\n" + SIGNATURE.replace("\u2014 ".encode(), "\u2013 ".encode()),
        BODY + b"\n" + SIGNATURE.replace("\u2014 ".encode(), "\u2014".encode()),
        BODY + b"\n" + SIGNATURE.replace(b"example ", b"example  "),
        BODY + b"\n" + SIGNATURE.replace(b"fieldproof", b"field+proof"),
        BODY + b"\n" + SIGNATURE.replace(LOG.name.encode(), b""),
        BODY + b"\n" + SIGNATURE[:-3] + b"!\n",
        BODY + b"\n" + SIGNATURE[:-2] + b"\n",  # padding removed
        BODY + b"\n" + _line("short", b"\x01\x02\x03\x04"),
        BODY + b"\n" + SIGNATURE + b"\n",
        BODY + b"\n" + b"".join(_line(f"k{i}", bytes(68)) for i in range(101)),
    ],
)
def test_malformed_notes_are_refused(data: bytes) -> None:
    with pytest.raises(CheckpointError):
        SignedNote.parse(data)


def test_a_note_may_carry_one_hundred_signatures() -> None:
    lines = b"".join(_line(f"k{i}", bytes(68)) for i in range(99))
    note = SignedNote.parse(_signed() + lines)
    assert len(note.signatures) == 100
    assert verify_note(note, [LOG.public]) == [LOG.public]


# --- witness cosignatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", [0, 1_767_225_600, 2**64 - 1])
def test_cosignature_verifies_and_carries_its_time(timestamp: int) -> None:
    cosigned = cosign(sign_checkpoint(CHECKPOINT, LOG), WITNESS, timestamp)
    reparsed = SignedNote.parse(cosigned.to_bytes())
    assert reparsed == cosigned
    line = reparsed.signatures[1]
    assert line.key_hash == WITNESS.public.note_hash
    assert cosignature_time(line) == timestamp
    assert line.data[:8] == struct.pack(">Q", timestamp)
    assert verify_note(reparsed, [WITNESS.public]) == [WITNESS.public]
    assert verify_note(reparsed, [LOG.public, WITNESS.public]) == [LOG.public, WITNESS.public]


def test_cosignature_signs_the_c2sp_message_including_the_time() -> None:
    line = cosign(sign_checkpoint(CHECKPOINT, LOG), WITNESS, 1_767_225_600).signatures[1]
    WITNESS.public.verify(line.data[8:], b"cosignature/v1\ntime 1767225600\n" + BODY)
    with pytest.raises(SignatureError):
        WITNESS.public.verify(line.data[8:], b"cosignature/v1\ntime 1767225601\n" + BODY)


@pytest.mark.parametrize("new_time", [1_767_225_601, 1_767_225_599, 0])
def test_altering_the_cosignature_time_fails(new_time: int) -> None:
    cosigned = cosign(sign_checkpoint(CHECKPOINT, LOG), WITNESS, 1_767_225_600)
    line = cosigned.signatures[1]
    altered = NoteSignature(line.name, line.key_hash, struct.pack(">Q", new_time) + line.data[8:])
    note = SignedNote(cosigned.body, (cosigned.signatures[0], altered))
    assert cosignature_time(altered) == new_time
    with pytest.raises(CheckpointError):
        verify_note(note, [WITNESS.public])


@pytest.mark.parametrize("data_size", [64, 71, 73])
def test_a_cosignature_of_the_wrong_length_fails(data_size: int) -> None:
    bad = NoteSignature(WITNESS.name, WITNESS.public.note_hash, bytes(data_size))
    with pytest.raises(CheckpointError):
        verify_note(sign_checkpoint(CHECKPOINT, LOG).with_signature(bad), [WITNESS.public])


def test_key_types_cannot_stand_in_for_each_other() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG)
    with pytest.raises(CheckpointError):
        cosign(note, LOG, 1)
    with pytest.raises(CheckpointError):
        sign_checkpoint(CHECKPOINT, WITNESS)
    with pytest.raises(CheckpointError):
        sign_note_body(BODY, WITNESS)
    as_ed25519 = SigningKey(WITNESS.name, WITNESS.seed).public  # same key pair, other type: other note hash
    with pytest.raises(CheckpointError, match="no signature by a known key"):
        verify_note(cosign(note, WITNESS, 1), [as_ed25519])
