"""SQLite tables of the output check: enrolled voices and stored work melodies.

Mixed into :class:`consentry.store.sqlite.SQLiteStore` (schema version 4).

- ``voices``: append-only, one voice print per enrolled sample file; a
  sample already enrolled for the same creator with the same engine (same
  SHA-256) is not enrolled twice.
- ``work_melodies``: replace-per-work: one row per (work, melody engine);
  recomputing a work's melody with the same engine replaces its row.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EnrolledVoice:
    """One enrolled voice print.

    Attributes
    ----------
    vector : numpy.ndarray of float32, shape (256,)
        Unit-norm speaker embedding.
    """

    voice_id: str
    creator: str
    engine: str
    vector: np.ndarray
    source_name: str
    source_sha256: str
    source: str | None
    duration_s: float
    speech_s: float
    enrolled_at: str

    def as_dict(self) -> dict:
        return {"voice_id": self.voice_id, "creator": self.creator, "engine": self.engine,
                "source_name": self.source_name, "source_sha256": self.source_sha256,
                "duration_s": round(self.duration_s, 3), "speech_s": round(self.speech_s, 3),
                "enrolled_at": self.enrolled_at}


def notes_to_json(notes) -> str:
    """Compact JSON of notes: ``[[start_s, end_s, midi_pitch, amplitude], ...]`` (ms / 3-digit precision)."""
    return json.dumps([[round(float(n.start_s), 3), round(float(n.end_s), 3), int(n.midi_pitch), round(float(n.amplitude), 3)]
                       for n in notes], separators=(",", ":"))


class CheckTablesMixin:
    """Voices and work melodies (needs ``_conn``, ``transaction``, ``writer_lock``)."""

    _VOICE_COLS = ("voice_id, creator, engine, embedding, source_name, source_sha256, source, duration_s, "
                   "speech_s, enrolled_at")

    def add_voice(self, *, creator: str, engine: str, vector: np.ndarray, source_name: str, source_sha256: str,
                  source: str | None, duration_s: float, speech_s: float, enrolled_at: str) -> tuple[EnrolledVoice, bool]:
        """Enrol one voice print; returns (voice, True if new) — an existing identical enrolment is returned as is."""
        existing = self._conn.execute(
            f"SELECT {self._VOICE_COLS} FROM voices WHERE creator = ? AND engine = ? AND source_sha256 = ?",
            (creator, engine, source_sha256)).fetchone()
        if existing:
            return self._row_to_voice(existing), False
        vec = np.asarray(vector, dtype="<f4").reshape(-1)
        voice_id = "v-" + uuid.uuid4().hex[:12]
        with self.writer_lock(), self.transaction() as c:
            c.execute(f"INSERT INTO voices ({self._VOICE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (voice_id, creator, engine, vec.tobytes(), source_name, source_sha256, source,
                       float(duration_s), float(speech_s), enrolled_at))
        return self._row_to_voice(self._conn.execute(
            f"SELECT {self._VOICE_COLS} FROM voices WHERE voice_id = ?", (voice_id,)).fetchone()), True

    @staticmethod
    def _row_to_voice(r) -> EnrolledVoice:
        return EnrolledVoice(voice_id=r[0], creator=r[1], engine=r[2], vector=np.frombuffer(r[3], dtype="<f4").copy(),
                             source_name=r[4], source_sha256=r[5], source=r[6], duration_s=r[7], speech_s=r[8],
                             enrolled_at=r[9])

    def list_voices(self, *, engine: str | None = None) -> list[EnrolledVoice]:
        rows = self._conn.execute(f"SELECT {self._VOICE_COLS} FROM voices ORDER BY rowid").fetchall()
        return [self._row_to_voice(r) for r in rows if engine is None or r[2] == engine]

    def put_work_melodies(self, items: list[tuple[str, str, str]], *, computed_at: str) -> None:
        """Store ``(work_id, engine, notes_json)`` rows in one transaction, replacing older rows of the same engine."""
        if not items:
            return
        with self.writer_lock(), self.transaction() as c:
            c.executemany("INSERT INTO work_melodies (work_id, engine, notes, computed_at) VALUES (?,?,?,?) "
                          "ON CONFLICT (work_id, engine) DO UPDATE SET notes = excluded.notes, computed_at = excluded.computed_at",
                          [(w, e, n, computed_at) for w, e, n in items])

    def work_melodies(self, *, engine: str) -> dict[str, list[list[float]]]:
        """Live works' stored notes under ``engine``: work id -> ``[[start_s, end_s, midi, amplitude], ...]``."""
        rows = self._conn.execute(
            "SELECT m.work_id, m.notes FROM work_melodies m JOIN works w ON w.work_id = m.work_id "
            "WHERE m.engine = ? AND w.removed_at IS NULL ORDER BY w.fp_id", (engine,)).fetchall()
        return {r[0]: json.loads(r[1]) for r in rows}

    def works_without_melody(self, *, engine: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT w.work_id FROM works w WHERE w.removed_at IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM work_melodies m WHERE m.work_id = w.work_id AND m.engine = ?) ORDER BY w.fp_id",
            (engine,)).fetchall()
        return [r[0] for r in rows]
