"""The media-engine interface (consentry.engines): the music engine through it, the registry, a toy second medium.

The music engine behind the interface must give exactly what the engine's
own functions give (fingerprints, postings, matches, evidence); a toy engine
of byte shingles, defined here, runs the same flow on text with character
offsets, so the interface is shown to carry a medium that is not audio.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from conftest import notes, write_wav
from consentry import engines
from consentry.engines.base import EngineId, Extent, Fingerprint, Located, MediaEngine, Signal
from consentry.engines.music import MusicEngine, MusicExtra
from consentry.engines.music import engine as music
from consentry.engines.music.extract import index_hashes
from consentry.engines.music.params import DEFAULT_PARAMS as P
from consentry.engines.music.params import ENGINE_NAME, ENGINE_VERSION
from consentry.engines.music.postings import pack_postings, unpack_postings
from consentry.store.segments import IndexSegment, build_directory

SR = P.sample_rate_hz
GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "music.npz"


def _segment(keys: np.ndarray, values: np.ndarray) -> IndexSegment:
    order = np.argsort(keys, kind="stable")
    k = np.ascontiguousarray(keys[order], dtype=np.uint32)
    return IndexSegment(k, np.ascontiguousarray(values[order], dtype=np.uint64), *build_directory(k))


# ---------------------------------------------------------------- the registry
def test_registry_gives_the_music_engine_once_with_its_stored_identity():
    e = engines.get("music")
    assert isinstance(e, MusicEngine) and isinstance(e, MediaEngine)
    assert engines.get("music") is e
    assert e.medium == "music" and "music" in engines.media()
    assert e.id == EngineId(ENGINE_NAME, ENGINE_VERSION, P.param_hash())
    assert str(e.id) == f"{ENGINE_NAME}/{ENGINE_VERSION}/{P.param_hash()}"
    assert engines.by_engine_name(ENGINE_NAME) is e
    other = engines.get("music", params=replace(P, index_peaks_per_s=12.0))
    assert other is not e and other.id.param_hash != e.id.param_hash and other.id.name == e.id.name
    assert engines.get("music", params=replace(P, index_peaks_per_s=12.0)) is other
    assert engines.get("music", params=replace(P)) is e  # equal parameters: the default instance
    assert e.id.store_key() == {"engine": ENGINE_NAME, "engine_version": ENGINE_VERSION, "param_hash": P.param_hash()}


def test_registry_names_what_it_knows_when_asked_for_an_unknown_medium():
    with pytest.raises(KeyError, match="known: .*music"):
        engines.get("smell")
    with pytest.raises(KeyError):
        engines.by_engine_name("no-such-engine")
    with pytest.raises(ValueError, match="already has an engine"):
        engines.register("music", MusicEngine)


def test_importing_the_interface_does_not_import_numpy_or_an_engine():
    import subprocess
    import sys

    code = ("import sys, consentry.engines as e; "
            "print(int('numpy' in sys.modules), int('consentry.engines.music.engine' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "0"]


# ---------------------------------------------------------------- music through the interface
@pytest.fixture(scope="module")
def works():
    return [notes(300 + i, duration_s=30.0, sr=SR) for i in range(3)]


@pytest.fixture(scope="module")
def index(works):
    e = engines.get("music")
    parts = [e.postings(e.fingerprint(e.signal(w)), fp_id=i) for i, w in enumerate(works, start=1)]
    return [_segment(np.concatenate([k for k, _ in parts]), np.concatenate([v for _, v in parts]))]


def test_fingerprint_and_postings_are_the_engines_own(works):
    e = engines.get("music")
    for w in works:
        fp = e.fingerprint(e.signal(w))
        keys, frames, midis = index_hashes(w, P)
        assert fp.engine == e.id and fp.unit == "s" and fp.extent == (w.size / SR,)
        np.testing.assert_array_equal(fp.keys, keys)
        np.testing.assert_array_equal(fp.fields["anchor_frame"], frames)
        np.testing.assert_array_equal(fp.fields["anchor_midi"], midis)
        k, v = e.postings(fp, fp_id=5)
        np.testing.assert_array_equal(k, keys)
        np.testing.assert_array_equal(v, pack_postings(5, frames, midis))
        assert set(e.fp_ids(v).tolist()) == {5}
        np.testing.assert_array_equal(e.fp_ids(v), unpack_postings(v)[0])


def test_a_fingerprint_of_other_parameters_is_refused_by_the_index():
    e = engines.get("music")
    other = engines.get("music", params=replace(P, index_peaks_per_s=12.0))
    fp = other.fingerprint(other.signal(notes(1, duration_s=3.0, sr=SR)))
    with pytest.raises(ValueError, match="cannot go into an index"):
        e.postings(fp, fp_id=1)


def test_a_signal_at_another_rate_is_refused():
    e = engines.get("music")
    with pytest.raises(ValueError, match="8000 Hz"):
        e.fingerprint(Signal("music", np.zeros(22050, np.float32), 22050.0, (1.0,), "s"))


@pytest.mark.parametrize("case", ["excerpt", "faster", "long", "unrelated"])
def test_locate_gives_the_same_matches_as_identify_segments(works, index, case):
    from scipy.signal import resample_poly

    e = engines.get("music")
    q = {
        "excerpt": works[1][8 * SR:18 * SR],
        "faster": resample_poly(works[2][4 * SR:16 * SR], 100, 103).astype(np.float32),
        "long": np.concatenate([notes(900, duration_s=20.0, sr=SR), works[0][5 * SR:15 * SR]]),
        "unrelated": notes(901, duration_s=10.0, sr=SR),
    }[case]
    direct = music.identify_segments(q, index, P)
    located = e.locate(e.signal(q), index)
    assert [m.extra.segment for m in located] == direct
    if case != "unrelated":
        assert direct, "the copy should be found"
    searched = q.size / SR
    fps = P.frames_per_s
    for loc, m in zip(located, direct):
        assert isinstance(loc, Located) and isinstance(loc.extra, MusicExtra)
        assert loc.fp_id == m.fp_id and loc.score == m.inliers
        assert loc.confidence == music.confidence(m.inliers, searched_s=searched)
        assert loc.query == Extent.span(m.query_start_frame / fps, m.query_end_frame / fps, unit="s")
        assert loc.work.as_span() == (m.work_start_frame / fps, m.work_end_frame / fps)
        assert (loc.extra.speed, loc.extra.pitch_shift_semitones) == (m.speed, m.pitch_shift_semitones)
    # Explicit thresholds and the length of a longer query pass through unchanged.
    assert [m.extra.segment for m in e.locate(e.signal(q), index, min_score=5)] == \
        music.identify_segments(q, index, P, min_score=5)
    assert [m.extra.segment for m in e.locate(e.signal(q), index, searched=600.0)] == \
        music.identify_segments(q, index, P, searched_s=600.0)
    # The three steps by hand give what locate gives.
    qp = e.query_print(e.signal(q))
    by_hand = e.verify(e.candidates(qp, index), qp, min_score=e.min_score_for(searched), searched=searched)
    assert by_hand == located


def test_evidence_is_the_engines_matched_hashes_and_its_facts_are_json(works, index):
    e = engines.get("music")
    q = works[1][8 * SR:18 * SR]
    pairs = music.identify_segments(q, index, P, with_hashes=True, max_hashes=20)
    located = e.locate(e.signal(q), index, with_evidence=True, max_evidence=20)
    assert [m.extra.segment for m in located] == [m for m, _ in pairs]
    for loc, (_, h) in zip(located, pairs):
        assert loc.evidence.total == h.total
        for a in ("key", "query_frame", "work_frame"):
            np.testing.assert_array_equal(getattr(loc.evidence, a), getattr(h, a))
    facts = e.evidence_facts(located[0])
    json.dumps(facts)
    assert facts["engine"] == e.id.as_dict() and facts["medium"] == "music"
    assert facts["matched_hashes_total"] == pairs[0][1].total and len(facts["matched_hashes"]) == 20
    first = facts["matched_hashes"][0]
    assert first["hash"] == int(pairs[0][1].key[0])
    assert first["query_offset_s"] == round(int(pairs[0][1].query_frame[0]) / P.frames_per_s, 3)
    assert "matched_hashes" not in e.evidence_facts(e.locate(e.signal(q), index)[0])


def test_decision_rule_is_the_engines():
    e = engines.get("music")
    for s in (1.0, 10.0, 30.0, 180.0, 3600.0):
        assert e.min_score_for(s) == music.min_score_for(s)
        assert e.confidence(20, searched=s) == music.confidence(20, searched_s=s)


def test_decode_and_sniff_read_a_file_as_the_decoder_does(tmp_path):
    from consentry.io.decode import decode_audio

    e = engines.get("music")
    path = write_wav(tmp_path / "a.wav", notes(5, duration_s=3.0), sample_rate_hz=22050)
    sig = e.decode(path)
    np.testing.assert_array_equal(sig.data, decode_audio(path, sample_rate_hz=SR).samples)
    assert sig.medium == "music" and sig.rate == SR and sig.unit == "s" and abs(sig.size - 3.0) < 0.01
    assert e.decode(path.read_bytes(), max_extent=1.0, name="clip").size <= 1.01
    assert e.sniff(path.read_bytes()[:512])
    assert not e.sniff(b"%PDF-1.7\n") and not e.sniff(b"plain words, not sound")


@pytest.mark.parametrize("name,version", [("music.npz", "1"), ("music_v2.npz", "2")])
def test_golden_vector_through_the_interface(name, version):
    from consentry.engines.music.params import params_for

    golden = np.load(GOLDEN.with_name(name), allow_pickle=False)
    e = engines.get("music", params=params_for(version))
    assert str(e.id) == str(golden["engine"])
    fp = e.fingerprint(e.signal(golden["samples"]))
    np.testing.assert_array_equal(fp.keys, golden["keys"])
    np.testing.assert_array_equal(fp.fields["anchor_frame"], golden["anchor_frame"])


# ---------------------------------------------------------------- a toy second medium: byte shingles
SHINGLE = 8


@dataclass(frozen=True)
class ShingleParams:
    #: Shingle length (bytes of lower-cased UTF-8) and the step between shingles kept for the index (bytes).
    shingle_bytes: int = SHINGLE
    index_step_bytes: int = 1

    def param_hash(self) -> str:
        return f"{self.shingle_bytes}-{self.index_step_bytes}"


@dataclass(frozen=True)
class ShingleExtra:
    matched_shingles: int
    work_coverage: float


@dataclass(frozen=True)
class ShingleEngine:
    """Text as CRC-32 hashes of every 8-byte shingle; a match is a run of shingles on one diagonal."""

    params: ShingleParams = ShingleParams()
    medium: str = "bytes"

    @property
    def id(self) -> EngineId:
        return EngineId("test-byte-shingles", "1", self.params.param_hash())

    def sniff(self, head: bytes, *, name: str | None = None) -> bool:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return bool(head) and b"\x00" not in head

    def decode(self, source, *, max_extent=None, name=None) -> Signal:
        text = Path(source).read_text("utf-8") if isinstance(source, (str, Path)) else bytes(source).decode("utf-8")
        text = text[:max_extent] if max_extent is not None else text
        return Signal("bytes", text, 1.0, (float(len(text)),), "char")

    def _shingles(self, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        # ASCII test text: one byte per character, so byte offsets are character offsets.
        data = signal.data.lower().encode("ascii")
        n = max(0, len(data) - self.params.shingle_bytes + 1)
        keys = np.array([zlib.crc32(data[i:i + self.params.shingle_bytes]) for i in range(n)], dtype=np.uint32)
        return keys, np.arange(n, dtype=np.int64)

    def fingerprint(self, signal: Signal) -> Fingerprint:
        keys, offsets = self._shingles(signal)
        return Fingerprint(self.id, keys, {"offset": offsets}, signal.extent, "char")

    def postings(self, fp: Fingerprint, *, fp_id: int):
        return fp.keys, (np.uint64(fp_id) << np.uint64(32)) | fp.fields["offset"].astype(np.uint64)

    def fp_ids(self, values):
        return (np.asarray(values, np.uint64) >> np.uint64(32)).astype(np.int64)

    def query_print(self, signal: Signal):
        return self._shingles(signal)

    def candidates(self, query, segments, *, with_keys=False):
        keys, offsets = query
        rows = []
        for seg in segments:
            lo, hi = seg.find_ranges(keys, keys)
            for q_off, a, b in zip(offsets.tolist(), lo.tolist(), hi.tolist()):
                rows += [(q_off, int(v)) for v in np.asarray(seg.values[a:b]).tolist()]
        return rows

    def verify(self, candidates, query, *, min_score, searched, with_evidence=False, max_evidence=None):
        by_diagonal: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for q_off, value in candidates:
            fp_id, w_off = value >> 32, value & 0xFFFFFFFF
            by_diagonal.setdefault((fp_id, w_off - q_off), []).append((q_off, w_off))
        out = []
        for (fp_id, _), pairs in by_diagonal.items():
            if len(pairs) < min_score:
                continue
            q0, w0 = min(pairs)
            q1, w1 = max(pairs)
            span = Extent.span(q0, q1 + SHINGLE, unit="char"), Extent.span(w0, w1 + SHINGLE, unit="char")
            out.append(Located(fp_id, float(len(pairs)), self.confidence(len(pairs), searched=searched), *span,
                               ShingleExtra(len(pairs), 0.0),
                               evidence=sorted(pairs)[:max_evidence] if with_evidence else None))
        return sorted(out, key=lambda m: -m.score)

    def locate(self, signal, segments, *, min_score=None, searched=None, with_evidence=False, max_evidence=None):
        searched = signal.size if searched is None else searched
        q = self.query_print(signal)
        return self.verify(self.candidates(q, segments), q,
                           min_score=self.min_score_for(searched) if min_score is None else min_score,
                           searched=searched, with_evidence=with_evidence, max_evidence=max_evidence)

    def min_score_for(self, searched: float) -> float:
        return 20.0

    def confidence(self, score: float, *, searched: float) -> float:
        return min(1.0, score / 40.0)

    def evidence_facts(self, match: Located) -> dict:
        return {"medium": "bytes", "engine": self.id.as_dict(), "query_chars": match.query.as_span(),
                "work_chars": match.work.as_span(), "matched_shingles": match.extra.matched_shingles}


WORKS = {
    1: "The quick brown fox jumps over the lazy dog while the farmer sleeps under an old oak tree.",
    2: "Consent is the ground of every licence: a work may be read, but not taken, without its author's word.",
}


@pytest.fixture
def shingle_medium():
    engines.register("bytes", ShingleEngine)
    try:
        yield engines.get("bytes")
    finally:
        engines.unregister("bytes")
    with pytest.raises(KeyError):
        engines.get("bytes")


def test_a_toy_text_engine_runs_the_whole_interface(shingle_medium, tmp_path):
    e = shingle_medium
    assert isinstance(e, ShingleEngine) and isinstance(e, MediaEngine) and engines.get("bytes") is e
    assert "bytes" in engines.media() and engines.by_engine_name("test-byte-shingles") is e
    # Register: decode, fingerprint, postings, one store segment.
    parts = []
    for fp_id, text in WORKS.items():
        (tmp_path / f"{fp_id}.txt").write_text(text)
        sig = e.decode(tmp_path / f"{fp_id}.txt")
        assert e.sniff(text.encode()[:512]) and sig.unit == "char" and sig.size == len(text)
        parts.append(e.postings(e.fingerprint(sig), fp_id=fp_id))
    keys = np.concatenate([k for k, _ in parts])
    values = np.concatenate([v for _, v in parts])
    assert sorted(set(e.fp_ids(values).tolist())) == [1, 2]
    index = [_segment(keys, values)]
    # Identify: a passage of work 2, re-cased, inside unrelated text.
    passage = WORKS[2][13:80]
    before = "An unrelated preface that says nothing of note. "
    query = before + passage.upper() + " And an unrelated end."
    found = e.locate(e.decode(query.encode()), index, with_evidence=True)
    assert len(found) == 1
    m = found[0]
    assert m.fp_id == 2 and m.score == len(passage) - SHINGLE + 1
    assert m.query.as_span() == (len(before), len(before) + len(passage))
    assert m.work.as_span() == (13, 80) and m.work.unit == "char"
    assert m.evidence[0] == (len(before), 13)
    facts = e.evidence_facts(m)
    json.dumps(facts)
    assert facts["work_chars"] == (13, 80)
    # Nothing shared, nothing found; a short shared phrase stays under the rule.
    assert e.locate(e.decode(b"Nothing in common with any registered work at all, none."), index) == []
    assert e.locate(e.decode(b"xx the lazy dog xx"), index) == []


def test_an_image_box_fits_the_same_match_type():
    box = Extent.box(10, 20, 110, 220)
    assert box.as_box() == (10.0, 20.0, 110.0, 220.0) and box.unit == "px" and box.length == 100.0
    m = Located(fp_id=3, score=42.0, confidence=0.99, query=box, work=Extent.box(0, 0, 200, 400),
                extra={"scale": 0.5, "rotation_deg": 0.0, "mirrored": False})
    assert m.work.as_box()[2:] == (200.0, 400.0)
    with pytest.raises(ValueError):
        box.as_span()
    with pytest.raises(ValueError):
        Extent.span(0, 1, unit="s").as_box()


def test_the_store_keeps_each_medium_s_segments_apart_under_its_engine_id(shingle_medium, tmp_path):
    """A SQLite registry holds the toy medium's segments beside music's, each found only under its own id."""
    from consentry.store.sqlite import SQLiteStore

    text_engine, music_engine = shingle_medium, engines.get("music")
    store = SQLiteStore.open(tmp_path / "r.db", create=True)
    try:
        keys, values = text_engine.postings(text_engine.fingerprint(text_engine.decode(WORKS[2].encode())), fp_id=2)
        store.add_segment(keys, values, **text_engine.id.store_key())
        w = notes(77, duration_s=20.0, sr=SR)
        store.add_segment(*music_engine.postings(music_engine.fingerprint(music_engine.signal(w)), fp_id=1),
                          **music_engine.id.store_key())
        text_segments = store.index_segments(**text_engine.id.store_key())
        music_segments = store.index_segments(**music_engine.id.store_key())
        assert len(text_segments) == len(music_segments) == 1
        (m,) = text_engine.locate(text_engine.decode(("Quoted: " + WORKS[2][20:90]).encode()), text_segments)
        assert m.fp_id == 2 and m.work.as_span() == (20, 90) and m.query.as_span() == (8, 78)
        (a,) = music_engine.locate(music_engine.signal(w[4 * SR:16 * SR]), music_segments)  # from a whole frame
        assert a.fp_id == 1 and abs(a.work.start[0] - 4.0 - a.query.start[0]) < 0.1
    finally:
        store.close()


@pytest.mark.parametrize("make", [MusicEngine, ShingleEngine], ids=["music", "toy-text"])
def test_engines_take_every_argument_the_interface_names(make):
    """isinstance() checks only that the members exist; here every keyword of the protocol is accepted too."""
    import inspect

    engine = make()
    for name, member in vars(MediaEngine).items():
        if name.startswith("_") or not callable(member):
            continue
        wanted = inspect.signature(member).parameters
        got = inspect.signature(getattr(engine, name)).parameters
        missing = [p for p in list(wanted)[1:] if p not in got]
        assert not missing, f"{make.__name__}.{name} lacks {missing}"


def test_a_new_medium_registers_and_is_identified_through_the_registry(shingle_medium, tmp_path):
    """The services find a medium by sniffing: register, identify, JSON, mixed batches and compaction (issue 16)."""
    from consentry import Registry

    folder = tmp_path / "works"
    folder.mkdir()
    for fp_id, text in WORKS.items():
        (folder / f"w{fp_id}.toy").write_text(text)
    # Folder walks pick up the suffixes the engine names; this toy names none, so the files are given one by one.
    with Registry.open(tmp_path / "r.db") as reg:
        summary = reg.register([folder / "w1.toy", folder / "w2.toy"], creator="Ana Lima", terms="deny")
        assert not summary.errors and len(summary.registered) == 2
        w = summary.registered[1]
        assert (w.engine, w.duration_s, w.title) == ("test-byte-shingles", float(len(WORKS[2])), "w2")
        assert summary.audio_s == 0.0  # sizes of other media are not seconds of music
        segs = reg.store.index_segments(**shingle_medium.id.store_key())
        assert len(segs) == 1 and segs[0].keys.size == sum(len(t) - SHINGLE + 1 for t in WORKS.values())
        # Identify a file of the new medium: the same Match type, medium set, located fields in the JSON.
        q = tmp_path / "q.toy"
        q.write_text("A preface of no interest. " + WORKS[2][13:80].upper() + " An end.")
        [m] = reg.identify(q)
        assert (m.medium, m.work_id, m.query_start_s) == ("bytes", w.work_id, None)
        d = m.as_dict()
        assert d["medium"] == "bytes" and "query_start_s" not in d and "speed" not in d
        assert d["work_extent"] == {"start": [13.0], "end": [80.0], "unit": "char"}
        assert d["terms"] == "deny"
        [r] = reg.identify_many([str(q)])
        assert r.as_dict()["medium"] == "bytes" and r.as_dict()["unit"] == "char" and len(r.matches) == 1
        # A second registration of the same content is a duplicate, as for audio.
        again = reg.register([folder / "w2.toy"], creator="Ana Lima")
        assert again.duplicates and not again.registered
        # Removing a work drops it from the medium's matches, and compaction keeps the media apart.
        reg.remove(w.work_id)
        assert reg.identify(q) == []
        assert reg.compact() >= 1
        [seg] = reg.store.index_segments(**shingle_medium.id.store_key())
        assert set(shingle_medium.fp_ids(seg.values).tolist()) == {summary.registered[0].fp_id}


def test_a_batch_of_two_media_is_stored_as_one_segment_per_engine(shingle_medium, tmp_path):
    from consentry import Registry
    from consentry.engines.music.params import ENGINE_NAME
    from consentry.testing.synth import synthesise_piece
    from conftest import write_wav

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "poem.toy").write_text(WORKS[1])
    song = write_wav(folder / "song.wav", synthesise_piece(7, duration_s=12.0), sample_rate_hz=22050)
    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.register([folder / "poem.toy", song], creator="Ana Lima", workers=1)
        assert not s.errors and sorted(w.engine for w in s.registered) == sorted([ENGINE_NAME, "test-byte-shingles"])
        assert s.batches == 1
        assert len(reg.store.index_segments(**shingle_medium.id.store_key())) == 1
        assert len(reg.store.index_segments(**engines.get("music").id.store_key())) == 1
        # The song is still found by the music engine after the mixed batch (a second, weaker line of the same
        # work may be reported beside the first: identify reports every segment that reaches the threshold).
        found = reg.identify(song)
        assert found and found[0].work_id == next(w.work_id for w in s.registered if w.engine == ENGINE_NAME)
        assert {m.work_id for m in found} == {w.work_id for w in s.registered if w.engine == ENGINE_NAME}


def test_a_dataset_scan_decides_items_of_a_new_medium(shingle_medium, tmp_path):
    """A folder dataset takes the suffixes an engine names, and the scan stores its findings (schema 7)."""
    from consentry import Registry
    from consentry.services.scan import scan_dataset, scan_items

    class NamedSuffixes(ShingleEngine):
        extensions = (".toy",)

    engines.register("bytes", NamedSuffixes, replace=True)
    works = tmp_path / "works"
    works.mkdir()
    for fp_id, text in WORKS.items():
        (works / f"w{fp_id}.toy").write_text(text)
    data = tmp_path / "dataset"
    data.mkdir()
    (data / "copy.toy").write_text("Intro. " + WORKS[2][10:90] + " Outro.")
    (data / "other.toy").write_text("A note on nothing registered at all, for the negative side of the scan.")
    (data / "notes.xyz").write_text("not an item of any medium")
    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.register([works], creator="Ana Lima", terms="deny")  # the folder walk takes .toy now
        assert len(s.registered) == 2
        w2 = next(w for w in s.registered if w.title == "w2")
        result = scan_dataset(reg, str(data), workers=1)
        items = {it["name"]: it for it in scan_items(reg, result["scan_id"])}
        assert set(items) == {"copy.toy", "other.toy"}
        copy = items["copy.toy"]
        assert copy["decision"] == "refused" and copy["medium"] == "bytes" and copy["unit"] == "char"
        [f] = copy["findings"]
        assert f["work_id"] == w2.work_id and f["medium"] == "bytes"
        assert f["detail"]["work_extent"]["start"] == [10.0] and (f["query_start_s"], f["work_start_s"]) == (7.0, 10.0)
        assert items["other.toy"]["findings"] == [] and items["other.toy"]["decision"] == "unknown"


def test_a_file_named_for_one_medium_is_read_by_that_medium_only():
    """Content decides, but a suffix that belongs to a medium keeps the other engines away (issue 16)."""
    text = b"A plain sentence of text, nothing else in it at all.\n" * 4
    assert engines.for_head(text, name="notes").medium == "text"  # no suffix: sniffed by every engine
    assert engines.for_head(text, name="broken.wav") is None  # a damaged .wav is unreadable audio, not a text
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200)
    assert engines.for_head(jpeg, name="photo.wav") is None
    assert engines.for_head(jpeg, name="photo.bin").medium == "image"
