"""Benchmarks of the evidence kernel, each reported as a ratio to a baseline measured in the same run.

Run ``python -m bench`` (or ``make bench``) from the repository root; ``--help`` lists the options. Figures:

a. hash-while-copy (``ContentStore.put_file``, ``copy_hashing``) against ``cp && sync && openssl dgst``;
b. hashing alone (``sha256_file``) against ``openssl dgst -sha256``;
c. peak memory of a hash-while-copy in a fresh interpreter, against one that only imported the module;
d. custody events verified per second against bare Ed25519 verifications of the same messages;
e. Merkle inclusion-proof time at a large log over the time at a 1,000-leaf log.

These are measurements, not tests: nothing here asserts a timing.
"""
