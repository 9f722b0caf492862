"""Engine version 2 beside version 1: v1 registries keep working, `consentry reindex` moves them to v2."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from conftest import notes, write_wav
from consentry.engines.music.params import DEFAULT_PARAMS, ENGINE_NAME, V1_PARAMS
from consentry.services.registry import Registry
from consentry.services.reindex import reindex, works_to_reindex

SR = 22050


def _works(tmp_path, n=3):
    paths = []
    for seed in range(n):
        paths.append(write_wav(tmp_path / f"w{seed}.wav", notes(700 + seed, duration_s=40.0, sr=SR), sample_rate_hz=SR))
    return paths


def _excerpt(tmp_path, path_index: int, seed: int) -> str:
    x = notes(700 + path_index, duration_s=40.0, sr=SR)[SR * 12: SR * 22]
    return str(write_wav(tmp_path / f"q{seed}.wav", x, sample_rate_hz=SR))


def test_a_v1_registry_is_searched_with_v1_until_reindexed_then_with_v2(tmp_path):
    db = tmp_path / "reg.db"
    works = _works(tmp_path)
    with Registry.open(db, params=V1_PARAMS) as old:
        old.register([str(p) for p in works], creator="Ann", melody=False)
        assert {w.engine_version for w in old.works()} == {"1"}
    q = _excerpt(tmp_path, 1, 0)
    with Registry.open(db) as reg:  # the default engine, version 2
        assert reg.params.version == "2"
        assert reg.stats()["works_needing_reindex"] == 3
        before = reg.identify(q)
        assert before and before[0].source == str(works[1].resolve())
        # A new registration uses version 2, and both versions are searched.
        extra = write_wav(tmp_path / "new.wav", notes(799, duration_s=40.0, sr=SR), sample_rate_hz=SR)
        reg.register([str(extra)], creator="Ann", melody=False)
        assert {w.engine_version for w in reg.works()} == {"1", "2"}
        assert reg.identify(q)[0].work_id == before[0].work_id
        seen = []
        summary = reindex(reg, progress=lambda done, total: seen.append((done, total)))
        assert summary.reindexed == 3 and summary.remaining == 0 and not summary.failed
        assert seen[-1] == (3, 3)
        assert summary.dropped_segments >= 1
        assert works_to_reindex(reg) == []
        assert {w.engine_version for w in reg.works()} == {"2"}
        assert reg.stats()["works_needing_reindex"] == 0
        assert reg.store.index_segments(engine=ENGINE_NAME, engine_version="1", param_hash=V1_PARAMS.param_hash()) == []
        after = reg.identify(q)
        assert after[0].work_id == before[0].work_id
        assert abs(after[0].work_start_s - before[0].work_start_s) < 1.0
        # Running it again has nothing to do.
        assert reindex(reg).reindexed == 0


def test_reindex_names_a_work_whose_source_changed_and_keeps_it_searchable(tmp_path):
    db = tmp_path / "reg.db"
    works = _works(tmp_path, n=2)
    with Registry.open(db, params=V1_PARAMS) as old:
        old.register([str(p) for p in works], creator="Ann", melody=False)
    write_wav(works[0], notes(1, duration_s=5.0, sr=SR), sample_rate_hz=SR)  # the file is replaced
    with Registry.open(db) as reg:
        summary = reindex(reg)
        assert summary.reindexed == 1 and summary.remaining == 1
        assert len(summary.failed) == 1 and "has changed since it was registered" in summary.failed[0][1]
        assert summary.dropped_segments == 0  # the v1 work still needs its v1 postings
        found = reg.identify(_excerpt(tmp_path, 1, 1))
        assert found and found[0].source == str(works[1].resolve())


def test_cli_reindex_reports_what_it_did(tmp_path):
    from consentry.adapters.cli.main import app

    db = tmp_path / "reg.db"
    with Registry.open(db, params=V1_PARAMS) as old:
        old.register([str(p) for p in _works(tmp_path, n=1)], creator="Ann", melody=False)
    out = CliRunner().invoke(app, ["--registry", str(db), "reindex", "--json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["reindexed"] == 1 and got["remaining"] == 0
    assert got["engine"] == f"{ENGINE_NAME}/2/{DEFAULT_PARAMS.param_hash()}"
    assert got["engines"] == {f"{ENGINE_NAME}/2/{DEFAULT_PARAMS.param_hash()}": 1}
    assert np.isfinite(got["dropped_segments"])


def test_an_image_of_an_older_image_engine_is_reindexed_and_found_again(tmp_path):
    """Texts and images are searched with their medium's current engine only: a work fingerprinted by an older
    version is not found until `reindex` makes it again (stats says so meanwhile)."""
    import sqlite3

    from PIL import Image

    from consentry.testing.pictures import picture

    Image.fromarray(picture(5)).save(tmp_path / "photo.png")
    Image.fromarray(picture(5)[40:400, 60:560]).save(tmp_path / "crop.png")
    db = tmp_path / "reg.db"
    with Registry.open(db) as reg:
        (work,) = reg.register([str(tmp_path / "photo.png")], creator="Ann", melody=False).registered
        assert [m.work_id for m in reg.identify(str(tmp_path / "crop.png"))] == [work.work_id]
    # as if it had been registered by an earlier image engine: its row and its segment name that version
    with sqlite3.connect(db) as c:
        c.execute("UPDATE works SET engine_version = '0', param_hash = 'older' WHERE work_id = ?", (work.work_id,))
        c.execute("UPDATE index_segments SET engine_version = '0', param_hash = 'older' WHERE engine = ?",
                  (work.engine,))
    from consentry.adapters.cli.main import app
    from consentry.services.scan import scan_dataset

    data = tmp_path / "dataset"
    data.mkdir()
    (data / "crop.png").write_bytes((tmp_path / "crop.png").read_bytes())
    with Registry.open(db) as reg:
        assert reg.identify(str(tmp_path / "crop.png")) == []          # not searched with today's engine
        assert reg.stats()["works_needing_reindex"] == 1
        assert [w.work_id for w in works_to_reindex(reg)] == [work.work_id]
        # ... and identify and scan say so, rather than only finding nothing.
        (result,) = reg.identify_many([str(tmp_path / "crop.png")])
        assert result.matches == [] and result.as_dict()["unsearched_works"] == 1
        from consentry.services.jobs import identify_upload  # what the server's POST /identify answers

        assert identify_upload(reg, str(tmp_path / "crop.png"), "crop.png")["unsearched_works"] == 1
        from consentry.services.check.image import check_image_output  # `consentry check` of an image output

        assert any("1 registered image work(s)" in n for n in check_image_output(reg, str(tmp_path / "crop.png")).notes)
        before = scan_dataset(reg, data, workers=1)
        assert before["options"]["unsearched_works"] == {"image": 1} and before["totals"]["unknown"] == 1
    out = CliRunner().invoke(app, ["--registry", str(db), "identify", str(tmp_path / "crop.png")])
    assert out.exit_code == 0 and "1 registered image work(s) were fingerprinted by an older version" in out.stderr
    out = CliRunner().invoke(app, ["--registry", str(db), "scan", str(data)])
    assert out.exit_code == 0 and "consentry reindex" in out.stderr and "may be decided 'unknown'" in out.stderr
    with Registry.open(db) as reg:
        summary = reindex(reg)
        assert (summary.reindexed, summary.remaining, summary.failed) == (1, 0, [])
        # It names the image engine it used, and the older version's segment, which nothing names now, is gone.
        assert summary.engines == {f"{work.engine}/{work.engine_version}/{work.param_hash}": 1}
        assert summary.dropped_segments == 1 and (work.engine, "0", "older") not in reg.store.indexed_engine_ids()
        assert reg.work(work.work_id).engine_version == work.engine_version
        assert [m.work_id for m in reg.identify(str(tmp_path / "crop.png"))] == [work.work_id]
        assert reg.stats()["works_needing_reindex"] == 0
        (result,) = reg.identify_many([str(tmp_path / "crop.png")])
        assert "unsearched_works" not in result.as_dict() and len(result.matches) == 1
        assert "unsearched_works" not in identify_upload(reg, str(tmp_path / "crop.png"), "crop.png")
        assert not check_image_output(reg, str(tmp_path / "crop.png")).notes
        after = scan_dataset(reg, data, workers=1)
        assert "unsearched_works" not in after["options"] and after["totals"]["unknown"] == 0


def test_a_text_of_an_older_text_engine_is_named_by_check_until_reindexed(tmp_path):
    """`consentry check` of a text output says how many registered texts it could not compare, until reindex."""
    import sqlite3

    from textkit import prose

    from consentry.services.check.text import check_text_outputs

    essay = prose(11, 600)
    (tmp_path / "essay.txt").write_text(essay, encoding="utf-8")
    (tmp_path / "output.txt").write_text("The model wrote: " + essay[200:1400], encoding="utf-8")
    db = tmp_path / "reg.db"
    with Registry.open(db) as reg:
        (work,) = reg.register([str(tmp_path / "essay.txt")], creator="Ann", melody=False).registered
        (res,) = check_text_outputs(reg, tmp_path / "output.txt")
        assert [p["work_id"] for p in res.passages] == [work.work_id] and res.notes == []
    with sqlite3.connect(db) as c:  # as if an earlier text engine had fingerprinted it
        c.execute("UPDATE works SET engine_version = '0', param_hash = 'older' WHERE work_id = ?", (work.work_id,))
        c.execute("UPDATE index_segments SET engine_version = '0', param_hash = 'older' WHERE engine = ?",
                  (work.engine,))
    with Registry.open(db) as reg:
        (res,) = check_text_outputs(reg, tmp_path / "output.txt")
        assert res.passages == [] and any("1 registered text work(s)" in n for n in res.notes)
        assert reindex(reg).reindexed == 1
        (res,) = check_text_outputs(reg, tmp_path / "output.txt")
        assert [p["work_id"] for p in res.passages] == [work.work_id] and res.notes == []
