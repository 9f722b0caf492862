"""The licence ledger's hash chain (pure functions, no I/O).

Each entry commits to the one before it::

    entry_hash = SHA-256( "consentry-ledger-v1" \\n seq \\n entry_id \\n recorded_at \\n prev_hash \\n body )

where ``body`` is the entry's canonical JSON (sorted keys, no spaces, UTF-8)
and the first entry's ``prev_hash`` is 64 zeros.  Changing any stored field
of an old entry breaks its own hash; deleting or inserting an entry breaks
the next entry's ``prev_hash`` or the sequence; cutting entries off the end is
caught against the head recorded in the registry (and, for a guarantee that
does not depend on the registry file, against a head you published or gave
to the other party: ``consentry ledger verify --head SEQ:HASH``).
"""

from __future__ import annotations

import hashlib
import json

GENESIS_HASH = "0" * 64
DOMAIN = "consentry-ledger-v1"


def canonical_json(body: dict) -> str:
    """The one JSON text of ``body`` that is hashed: sorted keys, compact, no NaN."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(*, seq: int, entry_id: str, recorded_at: str, prev_hash: str, body_json: str) -> str:
    text = "\n".join((DOMAIN, str(seq), entry_id, recorded_at, prev_hash, body_json))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain_entry(*, seq: int, recorded_at: str, body: dict, prev_hash: str) -> dict:
    """The stored form of a new entry that follows ``prev_hash``."""
    entry_id = f"L-{seq:06d}"
    body_json = canonical_json(body)
    return {
        "seq": seq, "entry_id": entry_id, "recorded_at": recorded_at, "body_json": body_json,
        "prev_hash": prev_hash,
        "entry_hash": entry_hash(seq=seq, entry_id=entry_id, recorded_at=recorded_at, prev_hash=prev_hash, body_json=body_json),
    }


def verify_chain(entries, *, head: str | None = None, head_is_last: bool = True) -> tuple[int, list[str]]:
    """Check a ledger; returns (entries checked, problems found — empty when intact).

    Parameters
    ----------
    entries : iterable of dict
        Stored entries in ``seq`` order (keys as from :func:`chain_entry`).
    head : str, optional
        ``"SEQ:HASH"`` of an entry as recorded elsewhere (the registry's own
        head, or one published or handed to another party earlier).
    head_is_last : bool, default True
        The head must be the last entry (the registry's own head); with
        False, later entries are allowed (a head published earlier).
    """
    problems: list[str] = []
    head_seq, head_hash = None, None
    if head:
        try:
            head_seq_text, head_hash = head.split(":", 1)
            head_seq = int(head_seq_text)
        except ValueError:
            problems.append(f"head {head!r}: not of the form SEQ:HASH")
            head_seq = None
    prev, expected_seq, n = GENESIS_HASH, 1, 0
    last_seq, hash_at_head = 0, None
    for e in entries:
        n += 1
        if e["seq"] != expected_seq:
            problems.append(f"entry {e['entry_id']}: sequence {e['seq']} where {expected_seq} was expected (entries deleted or inserted)")
        if e["prev_hash"] != prev:
            problems.append(f"entry {e['entry_id']}: does not follow the entry before it (an earlier entry was changed or deleted)")
        try:
            json.loads(e["body_json"])
        except ValueError:
            problems.append(f"entry {e['entry_id']}: body is not valid JSON")
        h = entry_hash(seq=e["seq"], entry_id=e["entry_id"], recorded_at=e["recorded_at"], prev_hash=e["prev_hash"], body_json=e["body_json"])
        if h != e["entry_hash"]:
            problems.append(f"entry {e['entry_id']}: contents do not match its hash (the entry was altered)")
        if e["seq"] == head_seq:
            hash_at_head = e["entry_hash"]
        prev = e["entry_hash"]
        expected_seq = e["seq"] + 1
        last_seq = e["seq"]
    if head_seq is not None:
        if head_seq > last_seq:
            problems.append(f"the ledger ends at entry {last_seq}, but the head names entry {head_seq} (entries were removed from the end)")
        elif head_seq > 0 and hash_at_head != head_hash:
            problems.append(f"entry {head_seq}'s hash differs from the head (it was altered or replaced)")
        elif head_is_last and head_seq < last_seq:
            problems.append(f"the ledger has entries after its recorded head (entry {head_seq}) that were not added by Consentry")
    return n, problems
