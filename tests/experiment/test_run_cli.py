"""`medinject run` on the command line: the paper's plan, one-line errors, selection errors."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_paper_dry_run_prints_the_whole_study(run_cli, tmp_path):
    code, out, err = run_cli("run", REPO / "configs" / "paper.yaml", "--dry-run", "--workdir", tmp_path / "w")
    assert code == 0, err
    lines = out.splitlines()
    nodes = [line.split()[1] for line in lines[2:-1]]
    mixes = ["NAT", "TRAD", "SYN", "NAT-TRAD", "NAT-SYN", "TRAD-SYN", "ALL"]
    assert nodes == ["ingest/native", "ingest/translated", "ingest/synthetic", "ingest/validation", "ingest/test",
                     "curate", "mix", *[f"train/{m}" for m in mixes], "evaluate/base",
                     *[f"evaluate/{m}" for m in mixes], "judge", "report"]
    assert lines[-1] == "24 nodes: 24 to run, 0 cached, 0 not selected"
    text = "\n".join(lines)
    assert "MedInjection-FR/Native (medinjection, train, native)" in text
    # seven multiple-choice-only configurations and the rule of their task composition
    assert ("7 mixes (NAT, TRAD, SYN, NAT-TRAD, NAT-SYN, TRAD-SYN, ALL) x 33,493 records, tasks mcq+mcqu only; "
            "task shares: smallest common availability; a task a pool lacks: redistribute; seed 42") in text
    assert ("Qwen/Qwen3-4B-Instruct-2507 + paper recipe (all loss), DoRA r16, 10 epochs, 192 sequences/step "
            "(12 per device), lr 0.0001 on NAT") in text
    assert "paper mode, 3 permutations, circular, on test" in text
    assert not (tmp_path / "w").exists()  # a dry run writes nothing


def test_errors_are_one_line_with_exit_2(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "configs" / "paper.yaml").read_text().replace("  size: 33493", "  size: lots"))
    code, out, err = run_cli("run", bad, "--dry-run")
    assert code == 2 and "Traceback" not in err
    assert err.strip().count("\n") == 0
    assert err.startswith(f"error: {bad}: line ") and "field 'mix.size'" in err
    code, _, err = run_cli("run", REPO / "configs" / "paper.yaml", "--dry-run", "--only", "nothing")
    assert code == 2 and "--only nothing: no such stage or node" in err
    code, _, err = run_cli("run", REPO / "configs" / "paper.yaml", "train.overrides.learning_rat=1", "--dry-run")
    assert code == 2 and "field 'train.overrides.learning_rat'" in err and "(set on the command line)" in err


def test_only_needs_finished_upstream(run_cli, tmp_path):
    code, _, err = run_cli("run", REPO / "configs" / "demo.yaml", "--only", "train/NAT", "--workdir", tmp_path / "w")
    assert code == 2 and "cannot run train/NAT: it needs mix (not done, not selected)" in err
