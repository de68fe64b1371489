"""Ed25519 keys: ids, signed-note key hashes, key files (safe modes, never overwritten) and malformed texts."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.errors import KeyFileError, SignatureError
from evidence.keys import (
    COSIGNATURE_V1,
    ED25519,
    PublicKey,
    SigningKey,
    generate_key,
    load_public_key,
    load_signing_key,
    validate_key_name,
    write_key_pair,
)

# Seeds chosen for their base64 texts: "+" is a base64 character, and also the key-text field separator.
SEED_PLAIN = bytes(32)  # no "+" in either text
SEEDS = {
    "plain": SEED_PLAIN,
    "all-ff": b"\xff" * 32,
    "plus-in-public": bytes(range(32)),
    "plus-in-private": hashlib.sha256(b"fieldproof-2").digest(),
    "plus-in-both": hashlib.sha256(b"fieldproof-4").digest(),
}

# golang.org/x/mod/sumdb/note's documented example key pair.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]


def _plain_key(key_type: int = ED25519) -> SigningKey:
    return SigningKey("gateway-01.example", SEED_PLAIN, key_type)


def _c2sp_note_hash(name: str, key_type: int, raw: bytes) -> bytes:
    return hashlib.sha256(name.encode("ascii") + bytes([0x0A, key_type]) + raw).digest()[:4]


# --- ids and signatures ------------------------------------------------------------------------------------


def test_rfc8032_test_vector_1() -> None:
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    key = SigningKey("rfc8032", seed)
    assert key.public.raw.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
        "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    key = _plain_key()
    assert key.key_id == key.public.key_id == hashlib.sha256(key.public.raw).hexdigest()
    assert len(key.public.raw) == 32


@pytest.mark.parametrize("key_type", [ED25519, COSIGNATURE_V1])
def test_note_hash_follows_c2sp(key_type: int) -> None:
    public = _plain_key(key_type).public
    assert public.note_hash == _c2sp_note_hash("gateway-01.example", key_type, public.raw)


def test_note_hash_depends_on_type_and_name() -> None:
    ed, cosign = _plain_key(ED25519).public, _plain_key(COSIGNATURE_V1).public
    assert ed.note_hash != cosign.note_hash
    assert ed.key_id == cosign.key_id
    assert SigningKey("other", SEED_PLAIN).public.note_hash != ed.note_hash


def test_go_example_verifier_key_hash() -> None:
    assert PublicKey.from_text(GO_VERIFIER).note_hash.hex() == "c74f20a3"
    assert SigningKey("PeterNeumann", GO_SEED).public.to_text() == GO_VERIFIER
    assert SigningKey("PeterNeumann", GO_SEED).to_text() == GO_SIGNER


def test_go_example_signer_key_parses() -> None:
    key = SigningKey.from_text(GO_SIGNER)
    assert key.seed == GO_SEED
    assert key.public.to_text() == GO_VERIFIER


def test_signature_verifies_and_fails_for_a_modified_message() -> None:
    key = _plain_key()
    signature = key.sign(b"custody event")
    key.public.verify(signature, b"custody event")
    with pytest.raises(SignatureError):
        key.public.verify(signature, b"custody event!")
    with pytest.raises(SignatureError):
        key.public.verify(signature[:-1] + bytes([signature[-1] ^ 1]), b"custody event")
    with pytest.raises(SignatureError):
        generate_key("other").public.verify(signature, b"custody event")


def test_generated_keys_are_fresh_and_named() -> None:
    first, second = generate_key("a"), generate_key("a", key_type=COSIGNATURE_V1)
    assert first.seed != second.seed
    assert len(first.seed) == 32
    assert (first.key_type, second.key_type) == (ED25519, COSIGNATURE_V1)
    with pytest.raises(KeyFileError):
        generate_key("bad name")


def test_repr_does_not_leak_the_seed() -> None:
    key = _plain_key()
    assert SEED_PLAIN.hex() not in repr(key)
    assert "seed" not in repr(key)


# --- names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "fieldproof.example/log", "witness:court-7_b", "~!\"#$%&'()*,"])
def test_valid_key_names(name: str) -> None:
    assert validate_key_name(name) == name


@pytest.mark.parametrize("name", ["", "a b", "a+b", "naïve", "tab\there", "line\n", "\x7f", "取证"])
def test_invalid_key_names(name: str) -> None:
    with pytest.raises(KeyFileError):
        validate_key_name(name)
    with pytest.raises(KeyFileError):
        SigningKey(name, SEED_PLAIN)


def test_key_material_must_be_ed25519() -> None:
    with pytest.raises(KeyFileError):
        SigningKey("k", bytes(31))
    with pytest.raises(KeyFileError):
        PublicKey("k", bytes(33))
    with pytest.raises(KeyFileError):
        PublicKey("k", _plain_key().public.raw, 0x02)


# --- texts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS.values(), ids=SEEDS.keys())
def test_key_texts_round_trip(seed: bytes) -> None:
    key = SigningKey("log.example", seed)
    assert SigningKey.from_text(key.to_text()).seed == seed
    assert PublicKey.from_text(key.public.to_text()) == key.public


@settings(deadline=None, max_examples=100)
@given(seed=st.binary(min_size=32, max_size=32), cosignature=st.booleans())
def test_key_texts_round_trip_for_any_seed(seed: bytes, cosignature: bool) -> None:
    key = SigningKey("k", seed, COSIGNATURE_V1 if cosignature else ED25519)
    assert SigningKey.from_text(key.to_text()) == key
    assert PublicKey.from_text(key.public.to_text()) == key.public


def _public_text(name: str = "gateway-01.example", key_hash: str | None = None, blob: bytes | None = None) -> str:
    public = _plain_key().public
    blob = bytes([ED25519]) + public.raw if blob is None else blob
    key_hash = public.note_hash.hex() if key_hash is None else key_hash
    return f"{name}+{key_hash}+{base64.b64encode(blob).decode()}"


def test_public_text_helper_is_valid() -> None:
    assert PublicKey.from_text(_public_text()) == _plain_key().public


@pytest.mark.parametrize(
    "text",
    [
        _public_text(key_hash="00000000"),
        _public_text(key_hash=""),
        _public_text(name="other-name"),  # hash no longer matches
        _public_text(blob=bytes([ED25519]) + bytes(31)),
        _public_text(blob=bytes([ED25519]) + bytes(33)),
        _public_text(blob=bytes([0x02]) + _plain_key().public.raw),
        _public_text(blob=bytes([0xFF]) + _plain_key().public.raw),
        _public_text().replace("+", " ", 1),
        _public_text().rsplit("+", 1)[0] + "+!!!notbase64",
        _public_text().rsplit("+", 1)[0] + "+密钥不是base64",  # not even ASCII
        _public_text().rstrip("=")[:-1],  # bad padding
        "bad name+" + _public_text().split("+", 1)[1],
        "+" + _public_text(),
        _public_text() + "+extra",
        "",
        "just-a-name",
        _plain_key().to_text(),
    ],
)
def test_malformed_verifier_keys_are_refused(text: str) -> None:
    with pytest.raises(KeyFileError):
        PublicKey.from_text(text)


@pytest.mark.parametrize(
    "text",
    [
        _public_text(),  # a verifier key is not a private key
        _plain_key().to_text().replace("PRIVATE+KEY+", "PRIVATE+KEYS+"),
        _plain_key().to_text().replace(_plain_key().public.note_hash.hex(), "00000000"),
        _plain_key().to_text()[:-4],
        "PRIVATE+KEY+name+00000000+" + base64.b64encode(bytes(33)).decode(),  # wrong hash
        "PRIVATE+KEY+name+00000000+" + base64.b64encode(bytes([0x03]) + bytes(32)).decode(),
        "PRIVATE+KEY+na me+00000000+" + base64.b64encode(bytes(33)).decode(),
    ],
)
def test_malformed_private_keys_are_refused(text: str) -> None:
    with pytest.raises(KeyFileError):
        SigningKey.from_text(text)


# --- files -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS.values(), ids=SEEDS.keys())
def test_key_files_round_trip(tmp_path: Path, seed: bytes) -> None:
    key = SigningKey("server.example/log", seed)
    public_path = write_key_pair(key, tmp_path / "log.key")
    assert public_path == tmp_path / "log.key.pub"
    assert load_signing_key(tmp_path / "log.key") == key
    assert load_public_key(public_path) == key.public


def test_private_key_file_is_mode_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_key_pair(_plain_key(), tmp_path / "k")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert (tmp_path / "k").read_text() == _plain_key().to_text() + "\n"
    assert (tmp_path / "k.pub").read_text() == _plain_key().public.to_text() + "\n"


def test_an_existing_private_key_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("old key\n")
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_pair(_plain_key(), tmp_path / "k")
    assert (tmp_path / "k").read_text() == "old key\n"
    assert not (tmp_path / "k.pub").exists()


def test_an_existing_public_key_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "k.pub").write_text("old verifier key\n")
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_pair(_plain_key(), tmp_path / "k")
    assert (tmp_path / "k.pub").read_text() == "old verifier key\n"
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o004])
def test_a_private_key_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    write_key_pair(_plain_key(), tmp_path / "k")
    (tmp_path / "k").chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(tmp_path / "k")


def test_a_read_only_private_key_is_accepted(tmp_path: Path) -> None:
    write_key_pair(_plain_key(), tmp_path / "k")
    (tmp_path / "k").chmod(0o400)
    assert load_signing_key(tmp_path / "k") == _plain_key()


def test_missing_or_unreadable_key_files_are_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        load_signing_key(tmp_path / "absent")
    with pytest.raises(KeyFileError):
        load_public_key(tmp_path / "absent.pub")
    (tmp_path / "latin.pub").write_bytes(b"caf\xe9+00000000+AAAA\n")
    with pytest.raises(KeyFileError):
        load_public_key(tmp_path / "latin.pub")
    with pytest.raises(KeyFileError):
        write_key_pair(_plain_key(), tmp_path / "no-such-dir" / "k")
