import csv
import json

import krippendorff
import numpy as np
import pytest
from scipy import stats as ss
from sklearn.metrics import cohen_kappa_score

from medinject.errors import InputError
from medinject.judge.agreement import inter_annotator, read_ratings, run_agreement


@pytest.fixture
def study(tmp_path):
    """Two experts rating 12 items x 2 systems (1-10), a judge, and per-item metrics, all keyed by id and system."""
    rng = np.random.default_rng(7)
    units = [(f"q{i}", s) for i in range(12) for s in ("base", "NAT")]
    quality = rng.uniform(1, 10, len(units))
    ratings = []
    for name, noise in (("expert-1", 1.0), ("expert-2", 1.5)):
        for (item, system), q in zip(units, quality, strict=True):
            if name == "expert-2" and item == "q11":
                continue  # not everybody rates everything
            score = int(np.clip(round(q + rng.normal(0, noise)), 1, 10))
            ratings.append({"annotator": name, "item_id": item, "system": system, "score": score,
                            "comment": "", "created_at": "", "updated_at": ""})
    human = tmp_path / "ratings.csv"
    with open(human, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(ratings[0]))
        w.writeheader()
        w.writerows(ratings)
    judge_dir = tmp_path / "judge"
    judge_dir.mkdir()
    verdicts = [{"id": i, "system": s, "mode": "graded", "status": "ok", "raw": "Verdict : x",
                 "score": int(np.clip(round(q + rng.normal(0, 2)), 1, 10))} for (i, s), q in zip(units, quality,
                                                                                               strict=True)]
    verdicts[0].update(status="unparseable", score=None)  # excluded, not counted as 0
    (judge_dir / "verdicts.jsonl").write_text("".join(json.dumps(v) + "\n" for v in verdicts))
    preds = {}
    for system in ("base", "NAT"):
        p = tmp_path / f"{system}.jsonl"
        rows = [{"id": "m", "task": "mcq", "gold": ["A"], "pred": ["A"]}]
        rows += [{"id": i, "task": "oeq", "reference": "r", "prediction": "p",
                  "scores": {"bleu": float(rng.uniform(0, 30)), "rouge2": q / 10 + float(rng.normal(0, .3)),
                             "meteor": float(rng.uniform()), "bertscore_f1": q / 20 + 0.5}}
                 for (i, s), q in zip(units, quality, strict=True) if s == system]
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
        preds[system] = p
    return {"human": human, "ratings": ratings, "judge": judge_dir, "verdicts": verdicts, "preds": preds}


def test_agreement_cli_matches_scipy_with_intervals_and_plots(study, tmp_path, run_cli):
    out = tmp_path / "agree"
    code, stdout, err = run_cli("agreement", study["human"], study["judge"], f"base={study['preds']['base']}",
                                f"NAT={study['preds']['NAT']}", "-o", out, "--n-boot", "300")
    assert code == 0, err
    result = json.loads((out / "agreement.json").read_text())
    by_score = {r["score"]: r for r in result["scores"]}
    assert set(by_score) == {"judge-graded", "BLEU", "ROUGE-2", "METEOR", "BERTScore"}

    acc = {}
    for r in study["ratings"]:
        acc.setdefault((r["item_id"], r["system"]), []).append(r["score"])
    mean = {k: np.mean(v) for k, v in acc.items()}
    judged = {(v["id"], v["system"]): v["score"] for v in study["verdicts"] if v["status"] == "ok"}
    keys = sorted(judged)
    x, y = [judged[k] for k in keys], [mean[k] for k in keys]
    row = by_score["judge-graded"]
    assert row["n"] == 23
    assert row["pearson"]["value"] == pytest.approx(ss.pearsonr(x, y)[0], abs=1e-12)
    assert row["spearman"]["value"] == pytest.approx(ss.spearmanr(x, y)[0], abs=1e-12)
    assert row["kendall"]["value"] == pytest.approx(ss.kendalltau(x, y)[0], abs=1e-12)
    for m in ("pearson", "spearman", "kendall"):
        lo, hi = row[m]["ci"]
        assert -1 <= lo < row[m]["value"] < hi <= 1
    assert by_score["BERTScore"]["pearson"]["value"] > 0.8 > abs(by_score["BLEU"]["pearson"]["value"])

    table = list(csv.DictReader((out / "agreement.csv").open()))
    assert float(table[0]["pearson"]) == pytest.approx(row["pearson"]["value"], abs=1e-4)
    assert "| judge-graded | 23 |" in (out / "agreement.md").read_text() and "Krippendorff" in stdout
    for name in result["plots"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(result["plots"]) == 5


def test_inter_annotator_agreement_matches_krippendorff_and_sklearn(study):
    rows = read_ratings(study["human"])
    iaa = inter_annotator(rows, n_boot=200)
    units = sorted({(r["item_id"], r["system"]) for r in rows})
    m = np.full((2, len(units)), np.nan)
    for r in rows:
        m[int(r["annotator"][-1]) - 1, units.index((r["item_id"], r["system"]))] = r["score"]
    assert iaa["level"] == "interval" and iaa["units_rated_twice"] == 22
    want = krippendorff.alpha(reliability_data=m, level_of_measurement="interval")
    assert iaa["krippendorff_alpha"]["value"] == pytest.approx(want, abs=1e-12)
    both = m[:, ~np.isnan(m).any(axis=0)]
    kappa = cohen_kappa_score(both[0], both[1], labels=list(range(1, 11)), weights="quadratic")
    assert iaa["cohen_kappa"]["value"] == pytest.approx(kappa, abs=1e-12)
    assert iaa["cohen_kappa"]["ci"][0] < kappa < iaa["cohen_kappa"]["ci"][1]


def test_binary_ratings_use_nominal_alpha_and_unweighted_kappa():
    rows = [{"annotator": a, "item_id": f"q{i}", "system": "s", "score": float(v)}
            for a, vals in (("x", [1, 0, 1, 1, 0, 1]), ("y", [1, 0, 0, 1, 0, 1])) for i, v in enumerate(vals)]
    iaa = inter_annotator(rows, n_boot=50)
    assert iaa["level"] == "nominal" and iaa["cohen_kappa"]["weights"] == "none"
    assert iaa["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score([1, 0, 1, 1, 0, 1], [1, 0, 0, 1, 0, 1]))


def test_bad_inputs_are_one_line_errors(study, tmp_path, run_cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("annotator,item_id,system,score\nx,q1,base,7\nx,q2,base,sept\n")
    with pytest.raises(InputError, match="line 3: record q2: field 'score'"):
        read_ratings(bad)
    code, _, err = run_cli("agreement", bad, study["judge"], "-o", tmp_path / "o")
    assert code == 2 and "bad.csv: line 3" in err
    other = tmp_path / "other.csv"
    other.write_text("annotator,item_id,system,score\nx,zz,base,7\n")
    code, _, err = run_cli("agreement", other, study["judge"], "-o", tmp_path / "o")
    assert code == 2 and "no (item id, system) pair" in err
    assert not (tmp_path / "o" / "agreement.json").exists()


def test_run_agreement_python_api_takes_a_mapping(study, tmp_path):
    rows = run_agreement(study["human"], {"judge": study["judge"]}, tmp_path / "o", n_boot=50)
    assert [r["score"] for r in rows] == ["judge-graded"] and rows[0]["n"] == 23


def test_sample_ratings_refer_to_the_demo_items_and_systems(tmp_path):
    from medinject.demo import sample_dir
    from medinject.experiment.config import PAPER_MIXES
    from medinject.io import load_records
    from medinject.judge.store import RatingStore

    rows = read_ratings(sample_dir() / "ratings.csv")
    oeq = {r.id for r in load_records(sample_dir() / "eval.jsonl") if r.task.value == "oeq"}
    assert {r["item_id"] for r in rows} == oeq
    assert {r["system"] for r in rows} == {"base", *PAPER_MIXES}
    assert RatingStore(tmp_path / "r.sqlite", (1, 10)).import_csv(sample_dir() / "ratings.csv") == len(rows) == 160
    assert inter_annotator(rows, n_boot=100)["krippendorff_alpha"]["value"] > 0.5


def test_a_ratings_note_reaches_both_report_tables_and_its_absence_adds_nothing(study, tmp_path):
    from medinject.report.data import agreement_tables

    note = "The expert ratings are the sample shipped with medinject, made on other answers than this run's."
    run_agreement(study["human"], {"judge": study["judge"]}, tmp_path / "with", n_boot=50, ratings_note=note)
    run_agreement(study["human"], {"judge": study["judge"]}, tmp_path / "without", n_boot=50)
    corr, iaa = agreement_tables(tmp_path / "with")[0]
    assert corr.note.endswith(note) and iaa.note == note
    corr, iaa = agreement_tables(tmp_path / "without")[0]
    assert corr.note == "Correlation of each automatic score with the mean expert rating, bootstrap 95% intervals."
    assert iaa.note == ""
