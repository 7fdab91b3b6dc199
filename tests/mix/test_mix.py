"""The seven provenance mixtures on records from the shared data: sizes, task balance, determinism, errors."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from medinject.errors import MedinjectError
from medinject.io import load_records, write_records
from medinject.mix import PAPER_CONFIGS, allocate, apportion, run_mix
from medinject.mix.spec import paper_weights
from medinject.records import Origin, Record, Task


@pytest.fixture(scope="module")
def pool_file(shared_data, tmp_path_factory):
    """One curated-style file holding three provenances: native FrenchMedMCQA train, dev relabelled as
    translated, and open questions written from E3C cases as synthetic."""
    from medinject.ingest import ingest

    train = list(ingest(shared_data / "frenchmedmcqa" / "train.json", "frenchmedmcqa", origin=Origin.NATIVE))
    dev = list(ingest(shared_data / "frenchmedmcqa" / "dev.json", "frenchmedmcqa", origin=Origin.NATIVE, split="dev"))
    passages = list(ingest(shared_data / "e3c_fr_clinical_cases" / "e3c_fr_layer1_layer2.jsonl", "e3c"))
    recs = train[:900]
    recs += [r.model_copy(update={"origin": Origin.TRANSLATED, "source": f"trad-{i % 2}"}) for i, r in enumerate(dev)]
    recs += [r.model_copy(update={"id": f"tr-{r.id}", "origin": Origin.TRANSLATED, "source": "trad-0"})
             for r in train[900:1300]]
    sentences = [s for p in passages for s in p.text.split(". ") if len(s.split()) > 6]
    recs += [Record(id=f"nat-oeq-{i}", task=Task.OEQ, question=f"Commentez : {s}", answer=s, origin=Origin.NATIVE,
                    source="cases") for i, s in enumerate(sentences[:300])]
    recs += [Record(id=f"tr-oeq-{i}", task=Task.OEQ, question=f"Expliquez : {s}", answer=s,
                    origin=Origin.TRANSLATED, source="trad-1") for i, s in enumerate(sentences[300:600])]
    recs += [Record(id=f"syn-{i}", task=[Task.MCQU, Task.MCQ, Task.OEQ][i % 3], question=f"D'après le cas : {s}",
                    options={} if i % 3 == 2 else {"A": "Oui", "B": "Non", "C": "Peut-être"},
                    answer=s if i % 3 == 2 else (["A"] if i % 3 == 0 else ["A", "C"]),
                    origin=Origin.SYNTHETIC, source="synth") for i, s in enumerate(sentences[600:1500])]
    path = tmp_path_factory.mktemp("pool") / "curated.jsonl"
    write_records(path, recs)
    return path


def _pools(path):
    return {o: [path] for o in Origin}


def test_seven_configurations_same_size_same_task_mix_and_byte_identical(pool_file, tmp_path):
    a = run_mix(_pools(pool_file), 240, 7, tmp_path / "a")
    run_mix(_pools(pool_file), 240, 7, tmp_path / "b", plot=False)
    assert list(a["configs"]) == PAPER_CONFIGS
    tasks = set()
    for name, m in a["configs"].items():
        recs = load_records(tmp_path / "a" / name / "train.jsonl")
        assert len(recs) == m["size"] == 240 and len({r.id for r in recs}) == 240
        tasks.add(tuple(sorted(Counter(r.task.value for r in recs).items())))
        origins = Counter(r.origin.value for r in recs)
        assert origins == m["counts"]["origin"]
        want = {o.value for o in paper_weights(name)}
        assert set(origins) == want and max(origins.values()) - min(origins.values()) <= 1  # N split evenly
        data = (tmp_path / "a" / name / "train.jsonl").read_bytes()
        assert data == (tmp_path / "b" / name / "train.jsonl").read_bytes()
        assert (tmp_path / "a" / name / "manifest.json").read_bytes() == (tmp_path / "b" / name / "manifest.json"
                                                                          ).read_bytes()
        import hashlib

        assert m["output"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert m["inputs"][0]["sha256"] and m["spec"]["seed"] == 7 and not m["shrunk"]
    assert len(tasks) == 1  # identical task counts in every configuration
    assert (tmp_path / "a" / "composition.png").stat().st_size > 1000


def test_nested_draws_and_seed_change(pool_file, tmp_path):
    a = run_mix(_pools(pool_file), 240, 7, tmp_path / "a", configs=["NAT", "NAT-TRAD", "ALL"], plot=False)
    c = run_mix(_pools(pool_file), 240, 8, tmp_path / "c", configs=["NAT"], plot=False)
    ids = {n: {r.id for r in load_records(tmp_path / "a" / n / "train.jsonl")} for n in a["configs"]}
    nat_in_mix = {r.id for r in load_records(tmp_path / "a" / "NAT-TRAD" / "train.jsonl") if r.origin is Origin.NATIVE}
    assert nat_in_mix < ids["NAT"]  # the native half of NAT-TRAD is drawn from the same order as NAT
    other = {r.id for r in load_records(tmp_path / "c" / "NAT" / "train.jsonl")}
    assert other != ids["NAT"] and c["configs"]["NAT"]["size"] == 240


def test_train_file_loads_with_datasets(pool_file, tmp_path):
    import datasets

    run_mix(_pools(pool_file), 90, 0, tmp_path, configs=["ALL"], plot=False)
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "ALL" / "train.jsonl"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert len(ds) == 90 and set(ds["origin"]) == {"native", "translated", "synthetic"}


def test_custom_weights_per_origin_and_per_source(pool_file, tmp_path):
    weights = {"NAT1-TRAD3": {"native": 1, "translated": 3},
               "TRAD-BY-SOURCE": {"translated": {"trad-0": 2, "trad-1": 1}}}
    m = run_mix(_pools(pool_file), 200, 1, tmp_path, configs=["NAT1-TRAD3", "TRAD-BY-SOURCE"], weights=weights,
                tasks={"mcqu": 1, "mcq": 1, "oeq": 2}, plot=False)["configs"]
    assert m["NAT1-TRAD3"]["counts"]["origin"] == {"native": 50, "translated": 150}
    # Within each task the share goes 2:1 to trad-0 and trad-1, except open questions, which only trad-1 has.
    assert m["TRAD-BY-SOURCE"]["counts"]["stratum"] == {"translated/trad-0/mcqu": 33, "translated/trad-1/mcqu": 17,
                                                        "translated/trad-0/mcq": 33, "translated/trad-1/mcq": 17,
                                                        "translated/trad-1/oeq": 100}
    for c in m.values():
        assert c["counts"]["task"] == {"mcq": 50, "mcqu": 50, "oeq": 100}


def test_too_small_fails_naming_pool_task_and_shortfall_unless_shrinking(pool_file, tmp_path):
    with pytest.raises(MedinjectError) as e:
        run_mix(_pools(pool_file), 2000, 0, tmp_path / "x")
    msg = str(e.value)
    assert "not enough records for N=2,000" in msg and "pool synthetic lacks" in msg and "oeq records" in msg
    assert "--allow-shrink" in msg and not (tmp_path / "x").exists()
    m = run_mix(_pools(pool_file), 2000, 0, tmp_path / "y", allow_shrink=True, plot=False)
    assert m["shrunk"] and m["size"] < 2000 and "shrunk from 2,000" in m["shrink_reason"]
    assert {c["size"] for c in m["configs"].values()} == {m["size"]}
    manifest = json.loads((tmp_path / "y" / "SYN" / "manifest.json").read_text())
    assert manifest["shrunk"] and manifest["requested_size"] == 2000


def test_cli_mix_with_a_yaml_spec(pool_file, tmp_path, run_cli):
    spec = tmp_path / "mix.yaml"
    spec.write_text(f"size: 60\nseed: 3\npools:\n  native: [{pool_file}]\n  translated: [{pool_file}]\n"
                    "configs: [NAT, HEAVY]\nweights:\n  HEAVY: {native: 1, translated: 3}\n", encoding="utf-8")
    code, out, err = run_cli("mix", "--spec", spec, "-o", tmp_path / "out")
    assert code == 0, err
    assert "HEAVY: 60 records (native 15, translated 45" in out
    code, _, err = run_cli("mix", "--native", pool_file, "--size", "10", "--configs", "NAT,TRAD", "-o", tmp_path / "o")
    assert code == 2 and "needs a translated pool" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("size: -3\n", encoding="utf-8")
    code, _, err = run_cli("mix", "--spec", bad, "-o", tmp_path / "o")
    assert code == 2 and "bad.yaml" in err and "size" in err


def test_apportion_and_allocate_keep_both_margins_exact():
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert apportion(33493, [1, 1]) == [16747, 16746]
    tasks = {Task.MCQU: 0.3, Task.MCQ: 0.2, Task.OEQ: 0.5}
    for name in PAPER_CONFIGS:
        counts = allocate(33493, tasks, paper_weights(name))
        per_task = Counter()
        per_origin = Counter()
        for (origin, task), n in counts.items():
            per_task[task] += n
            per_origin[origin] += n
        assert dict(per_task) == {Task.MCQU: 10048, Task.MCQ: 6699, Task.OEQ: 16746}
        assert sum(per_origin.values()) == 33493 and max(per_origin.values()) - min(per_origin.values()) <= 1


def test_a_bad_record_in_a_pool_is_named(tmp_path):
    good = {"id": "a", "task": "mcqu", "question": "Q ?", "options": {"A": "x", "B": "y"}, "answer": ["A"],
            "origin": "native", "source": "s"}
    lines = [json.dumps({**good, "id": f"r{i}"}) for i in range(3)]
    (tmp_path / "p.jsonl").write_text("\n".join([*lines, json.dumps({**good, "id": "bad", "answer": ["Z"]})]) + "\n")
    with pytest.raises(MedinjectError) as e:
        run_mix({"native": [tmp_path / "p.jsonl"]}, 4, 0, tmp_path / "o", configs=["NAT"], plot=False)
    assert "p.jsonl" in str(e.value) and "record bad" in str(e.value) and "answer" in str(e.value)
    (tmp_path / "q.jsonl").write_text(lines[0] + "\n" + json.dumps({**good, "origin": "human"}) + "\n")
    with pytest.raises(MedinjectError, match="q.jsonl: line 2: field 'origin'"):
        run_mix({"native": [tmp_path / "q.jsonl"]}, 1, 0, tmp_path / "o", configs=["NAT"], plot=False)


@pytest.fixture(scope="module")
def published_like(pool_file, tmp_path_factory):
    """Pools shaped like the published sets: the synthetic origin has mcq and oeq but no mcqu."""
    recs = [r for r in load_records(pool_file) if not (r.origin is Origin.SYNTHETIC and r.task is Task.MCQU)]
    path = tmp_path_factory.mktemp("published") / "curated.jsonl"
    write_records(path, recs)
    return path


def test_a_task_one_pool_lacks_stops_naming_pool_and_task_by_default(published_like, tmp_path):
    with pytest.raises(MedinjectError, match="pool synthetic has no mcqu records, which native, translated have"):
        run_mix(_pools(published_like), 120, 0, tmp_path / "m")
    assert not (tmp_path / "m").exists()
    # a subset of configurations that never uses the synthetic pool is not concerned
    run_mix(_pools(published_like), 120, 0, tmp_path / "nt", configs=["NAT", "NAT-TRAD"], plot=False)


def test_multiple_choice_only_with_the_missing_task_redistributed(published_like, tmp_path):
    summary = run_mix(_pools(published_like), 120, 0, tmp_path / "m", task_types=["mcq", "mcqu"],
                      missing_tasks="redistribute", plot=False)
    assert summary["task_composition"]["lacking"] == {"mcqu": ["synthetic"]}
    assert summary["task_composition"]["excluded_tasks"]["oeq"] > 0
    for name, m in summary["configs"].items():
        recs = load_records(tmp_path / "m" / name / "train.jsonl")
        tasks = Counter(r.task.value for r in recs)
        assert len(recs) == 120 and set(tasks) <= {"mcq", "mcqu"}  # multiple-choice only
        comp = m["task_composition"]
        assert comp["counts"] == dict(sorted(tasks.items())) and comp["task_types"] == ["mcqu", "mcq"]
        by_origin = comp["by_origin"]
        assert "mcqu" not in by_origin.get("synthetic", {})  # the synthetic share went to its mcq
        for origin, counts in by_origin.items():
            assert sum(counts.values()) == m["counts"]["origin"][origin]
    share = summary["configs"]["NAT"]["task_proportions"]["mcqu"]
    assert summary["configs"]["SYN"]["task_composition"]["counts"] == {"mcq": 120}
    assert summary["configs"]["NAT"]["task_composition"]["counts"]["mcqu"] == round(120 * share)
    nat_syn = summary["configs"]["NAT-SYN"]["task_composition"]["by_origin"]
    assert nat_syn["native"]["mcqu"] == round(60 * share) and nat_syn["synthetic"] == {"mcq": 60}
    manifest = json.loads((tmp_path / "m" / "SYN" / "manifest.json").read_text())
    assert manifest["task_composition"]["missing_tasks"] == "redistribute"


def test_missing_task_dropped_everywhere_when_the_spec_says_so(published_like, tmp_path):
    summary = run_mix(_pools(published_like), 90, 0, tmp_path / "m", task_types=["mcq", "mcqu"],
                      missing_tasks="drop", plot=False)
    assert all(m["task_composition"]["counts"] == {"mcq": 90} for m in summary["configs"].values())


def test_paper_experiment_plan_is_seven_multiple_choice_mixes(run_cli):
    from pathlib import Path

    paper = Path(__file__).resolve().parents[2] / "configs" / "paper.yaml"
    code, out, err = run_cli("run", paper, "--dry-run")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("mix "))
    assert "7 mixes (NAT, TRAD, SYN, NAT-TRAD, NAT-SYN, TRAD-SYN, ALL)" in line and "tasks mcq+mcqu only" in line
