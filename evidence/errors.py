"""The evidence kernel's exception tree.

Every error the kernel raises is a ``FieldproofError``; callers choose what to do by branch::

    FieldproofError
    ├── InputError                 input that cannot be read or used at all (exit status 2)
    │   ├── CanonicalJSONError     a value that has no RFC 8785 form, or bytes that are not JSON
    │   ├── KeyFileError           a key file that is missing, malformed or unsafe
    │   ├── PackageFormatError     a package that is not a readable BagIt bag of this format
    │   ├── UnitError              a value that cannot be converted between two units
    │   ├── UnknownStandardError   a standard, grade or averaging period the limit tables do not define
    │   └── LimitTableError        a shipped limit table that is malformed (a packaging error)
    ├── StoreError                 the content-addressed store could not keep a blob
    │   └── SourceChangedError     a source file changed or vanished while it was read
    └── VerificationError          something does not check out (integrity failure, exit status 1)
        ├── ProofError             a Merkle inclusion or consistency proof does not hold
        ├── SignatureError         a signature does not verify
        ├── CheckpointError        a signed checkpoint is malformed or carries no acceptable signature
        ├── EventFormatError       a custody event is malformed or not in canonical form
        ├── ChainError             a per-item custody chain is broken, reordered or incomplete
        └── ManifestError          payload or tag files differ from their manifests

Trust is not an error class: an intact package signed by keys the verifier does not trust is reported as
intact and untrusted (exit status 3), not raised.
"""

from __future__ import annotations


class FieldproofError(Exception):
    """Base of every error raised by fieldproof's kernel."""


class InputError(FieldproofError):
    """The input cannot be read or used at all."""


class CanonicalJSONError(InputError):
    """A value has no canonical JSON form (RFC 8785), or bytes are not valid JSON."""


class KeyFileError(InputError):
    """A key file is missing, malformed, or would be unsafe to write."""


class PackageFormatError(InputError):
    """A package cannot be read as a BagIt 1.0 bag of the fieldproof package format."""


class UnitError(InputError):
    """A value cannot be converted between two units (missing, unknown or of a different kind)."""


class UnknownStandardError(InputError):
    """A standard, grade or averaging period the limit tables do not define."""


class LimitTableError(InputError):
    """A shipped limit table is malformed (a packaging error, caught by the tests)."""


class StoreError(FieldproofError):
    """The content-addressed store could not keep a blob."""


class SourceChangedError(StoreError):
    """A source file changed size or modification time, or vanished, while it was being read."""


class VerificationError(FieldproofError):
    """Something does not check out: bytes, chains, proofs or signatures are inconsistent."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not hold (or is malformed)."""


class SignatureError(VerificationError):
    """A signature does not verify under the key it names."""


class CheckpointError(VerificationError):
    """A signed checkpoint is malformed or carries no signature from an acceptable key."""


class EventFormatError(VerificationError):
    """A custody event is malformed, has unknown fields, or its bytes are not its canonical form."""


class ChainError(VerificationError):
    """A per-item custody chain is broken, reordered, duplicated or incomplete."""


class ManifestError(VerificationError):
    """Payload or tag files differ from what the bag's manifests record."""
