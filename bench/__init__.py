"""Benchmarks of the evidence kernel, each reported as a ratio to a baseline measured in the same run.

Run ``python -m bench`` (or ``make bench``) from the repository root; ``--help`` lists the options. Figures:

a. hash-while-copy (``ContentStore.put_file``, ``copy_hashing``) against ``cp && sync && openssl dgst``;
b. hashing alone (``sha256_file``) against ``openssl dgst -sha256``;
c. peak memory of a hash-while-copy in a fresh interpreter, against one that only imported the module;
d. custody events verified per second against bare Ed25519 verifications of the same messages;
e. Merkle inclusion-proof time at a large log over the time at a 1,000-leaf log;
f. HJ 212 decoding; g. MQTT ingest into the spool; h. body-camera media import;
i. tus upload throughput through the real server, against a bare handler that only reads the same bytes;
l. custody events appended to the server's ledger per second (SQLite, PostgreSQL) against bare Ed25519
   verification, and the ledger's inclusion-proof time at a large log over the time at a 1,000-leaf log;
s. ``fieldproof gateway sync`` of 2 GiB of imported media to a local ``fieldproof server``, as a multiple of
   ``openssl dgst -sha256`` over the same bytes.

These are measurements, not tests: nothing here asserts a timing.
"""
