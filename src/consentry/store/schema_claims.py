"""Schema version 6: claims and disputes (docs/claims.md).

- ``claims``: one row per claim with its current state and deadlines; the
  row changes as the claim moves (its history is in ``claim_events``).
  ``party_a`` is the claimant (a creator, or a licensee for a ``finding``
  claim), ``party_b`` the respondent (a creator); ``work_a``/``work_b`` their
  works (``work_a`` is NULL for a finding claim); ``basis`` (JSON) says why
  the claim was opened.
- ``claim_events``: every step of every claim (who, what, when, note,
  evidence as JSON), append-only: database triggers refuse UPDATE and
  DELETE.  ``seq`` numbers a claim's events from 1; the primary key makes two
  writers acting on the same claim at once collide instead of both winning.
- Works: the same content may now be registered by two *different*
  creators (each gets a work, and a claim is opened between them), so the
  unique index on a live work's SHA-256 becomes one on (SHA-256, creator).
  Register still treats the same content from the same (or an unnamed)
  creator as a duplicate.
"""

CLAIMS_SCHEMA = """
DROP INDEX works_live_sha256;
CREATE UNIQUE INDEX works_live_sha256_creator ON works (sha256, creator) WHERE removed_at IS NULL;
CREATE INDEX works_sha256 ON works (sha256);
CREATE TABLE claims (
    claim_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('ownership', 'finding')),
    state TEXT NOT NULL CHECK (state IN ('open', 'contested', 'resolved_a', 'resolved_b', 'withdrawn')),
    party_a TEXT NOT NULL,
    party_a_kind TEXT NOT NULL CHECK (party_a_kind IN ('creator', 'licensee')),
    party_b TEXT NOT NULL,
    work_a TEXT REFERENCES works(work_id),
    work_b TEXT NOT NULL REFERENCES works(work_id),
    scan_id TEXT,
    item_id TEXT,
    basis TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    answer_due_at TEXT NOT NULL,
    decision_due_at TEXT,
    closed_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX claims_state ON claims (state);
CREATE INDEX claims_work_a ON claims (work_a);
CREATE INDEX claims_work_b ON claims (work_b);
CREATE INDEX claims_party_a ON claims (party_a);
CREATE INDEX claims_party_b ON claims (party_b);
CREATE INDEX claims_scan ON claims (scan_id, item_id);
CREATE TABLE claim_events (
    claim_id TEXT NOT NULL REFERENCES claims(claim_id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('a', 'b', 'admin', 'system')),
    actor TEXT NOT NULL,
    account_id TEXT,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    note TEXT,
    evidence TEXT,
    PRIMARY KEY (claim_id, seq)
);
CREATE TRIGGER claim_events_append_only_update BEFORE UPDATE ON claim_events
    BEGIN SELECT RAISE(ABORT, 'claim events are append-only'); END;
CREATE TRIGGER claim_events_append_only_delete BEFORE DELETE ON claim_events
    BEGIN SELECT RAISE(ABORT, 'claim events are append-only'); END;
"""
