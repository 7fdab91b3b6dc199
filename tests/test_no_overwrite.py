"""An output never overwrites an input: every verb that reads and writes files refuses such a path first."""

import hashlib
import json
from pathlib import Path

import pytest

REC = {"id": "r1", "task": "mcqu", "question": "Q ?", "options": {"A": "a", "B": "b"}, "answer": ["A"],
       "origin": "native", "source": "t"}
PRED = {"id": "o1", "task": "oeq", "question": "Q ?", "reference": "ref", "prediction": "pred"}
URL = ["--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--cache", "off"]
LOCAL = ["--backend", "transformers", "--model", "{d}/adapter", "--cache", "off"]


def _files(root: Path) -> None:
    (root / "r.jsonl").write_text(json.dumps(REC) + "\n")
    (root / "p.jsonl").write_text(json.dumps(PRED) + "\n")
    (root / "h.csv").write_text("annotator,item_id,system,score\nx,o1,p,7\n")
    (root / "passages.jsonl").write_text(json.dumps({"id": "p1", "text": "Un texte.", "source": "t"}) + "\n")
    (root / "evalrun").mkdir()
    (root / "evalrun" / "summary.json").write_text(json.dumps({"results": {}}))
    (root / "evalrun" / "predictions.jsonl").write_text(json.dumps(PRED) + "\n")
    (root / "ratings.sqlite").write_bytes(b"SQLite format 3\x00")
    (root / "train.yaml").write_text(f"model: m\ndata: [{root / 'r.jsonl'}]\noutput_dir: {root / 'adapter'}\n")
    (root / "adapter").mkdir()
    (root / "adapter" / "adapter_config.json").write_text("{}")


# verb: (arguments before the output, output option, output path that is an input, one inside/holding one)
CASES = {
    "translate -o": (["translate", "{d}/r.jsonl", *URL], "-o", "{d}/r.jsonl", "{d}"),
    "translate --rejected": (["translate", "{d}/r.jsonl", "-o", "{d}/fr.jsonl", *URL], "--rejected",
                             "{d}/r.jsonl", "{d}"),
    "translate --cache": (["translate", "{d}/r.jsonl", "-o", "{d}/fr.jsonl", "--model", "m"], "--cache",
                          "{d}/r.jsonl", "{d}"),
    "synthesize": (["synthesize", "{d}/passages.jsonl", *URL], "-o", "{d}/passages.jsonl", "{d}"),
    "stats": (["stats", "{d}/r.jsonl"], "-o", "{d}/r.jsonl", "{d}"),
    "export": (["export", "{d}/r.jsonl", "--to", "medinjection"], "-o", "{d}/r.jsonl", "{d}"),
    "ingest": (["ingest", "{d}/r.jsonl", "-f", "medinjection"], "-o", "{d}/r.jsonl", "{d}"),
    "ingest folder": (["ingest", "{d}/evalrun", "-f", "generic", "--origin", "native"], "-o",
                      "{d}/evalrun", "{d}/evalrun/x.jsonl"),
    "curate": (["curate", "{d}/r.jsonl"], "-o", "{d}/r.jsonl", "{d}"),
    "curate --eval": (["curate", "{d}/p.jsonl", "--eval", "{d}/r.jsonl"], "-o", "{d}/r.jsonl", "{d}"),
    "mix --pool": (["mix", "--pool", "{d}/r.jsonl", "--size", "1"], "-o", "{d}/r.jsonl", "{d}"),
    "mix --native": (["mix", "--native", "{d}/r.jsonl", "--size", "1"], "-o", "{d}/r.jsonl", "{d}"),
    "eval": (["eval", "-m", "m", "-d", "{d}/r.jsonl"], "-o", "{d}/r.jsonl", "{d}"),
    "score": (["score", "{d}/p.jsonl", "--bertscore-model", "none"], "-o", "{d}/p.jsonl", "{d}"),
    "compare": (["compare", "{d}/evalrun", "{d}/p.jsonl"], "-o", "{d}/p.jsonl", "{d}/evalrun/c.json"),
    "judge": (["judge", "{d}/p.jsonl", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--cache", "off"],
              "-o", "{d}/p.jsonl", "{d}"),
    "agreement": (["agreement", "{d}/h.csv", "{d}/p.jsonl"], "-o", "{d}/h.csv", "{d}"),
    "report": (["report", "{d}"], "-o", "{d}/evalrun", "{d}/evalrun/report"),
    "annotate export": (["annotate", "export", "--db", "{d}/ratings.sqlite"], "-o", "{d}/ratings.sqlite",
                        "{d}"),
    "annotate import": (["annotate", "import", "{d}/h.csv"], "--db", "{d}/h.csv", "{d}"),
    "annotate serve": (["annotate", "serve", "{d}/p.jsonl", "--annotators", "{d}/h.csv", "--port", "0"], "--db",
                       "{d}/p.jsonl", "{d}"),
    "train": (["train", "-c", "{d}/train.yaml"], None, "output_dir={d}/r.jsonl", "output_dir={d}"),
    "merge": (["merge", "{d}/adapter"], "-o", "{d}/adapter", "{d}/adapter/merged"),
    # A local model folder is an input of the LLM stages too (the adapter folder stands in: it is refused
    # before anything is loaded).
    "translate --model DIR": (["translate", "{d}/r.jsonl", *LOCAL], "-o", "{d}/adapter", "{d}/adapter/fr.jsonl"),
    "synthesize --model DIR": (["synthesize", "{d}/passages.jsonl", *LOCAL], "-o", "{d}/adapter",
                               "{d}/adapter/syn.jsonl"),
    "judge --model DIR": (["judge", "{d}/p.jsonl", *LOCAL], "-o", "{d}/adapter", "{d}/adapter/judge"),
    "curate --judge-model DIR": (["curate", "{d}/r.jsonl", "--judge-backend", "transformers", "--judge-model",
                                  "{d}/adapter", "--judge-cache", "off"], "-o", "{d}/adapter", "{d}/adapter/cur"),
}


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("which", ["equal", "inside"])
@pytest.mark.parametrize("verb", sorted(CASES))
def test_output_on_an_input_is_refused(tmp_path, run_cli, verb, which):
    _files(tmp_path)
    before = _snapshot(tmp_path)
    args, flag, same, near = CASES[verb]
    target = (same if which == "equal" else near).format(d=tmp_path)
    argv = [a.format(d=tmp_path) for a in args] + ([flag, target] if flag else [target])
    code, out, err = run_cli(*argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert " the input " in lines[0] and str(tmp_path) in lines[0], lines[0]
    assert _snapshot(tmp_path) == before  # no input byte changed, nothing written
    assert {p.name for p in tmp_path.iterdir()} == {Path(k).parts[0] for k in before}


def test_two_outputs_on_one_path_are_refused(tmp_path, run_cli):
    _files(tmp_path)
    code, _, err = run_cli("translate", tmp_path / "r.jsonl", "-o", tmp_path / "fr.jsonl", "--rejected",
                           tmp_path / "fr.jsonl", *URL)
    assert code == 2 and "same path" in err
    assert not (tmp_path / "fr.jsonl").exists()


def test_a_hard_link_to_the_input_is_the_input(tmp_path):
    from medinject.errors import MedinjectError
    from medinject.io import refuse_overwrite

    (tmp_path / "a.jsonl").write_text("x\n")
    (tmp_path / "b.jsonl").hardlink_to(tmp_path / "a.jsonl")
    with pytest.raises(MedinjectError, match="is the input"):
        refuse_overwrite([tmp_path / "a.jsonl"], [tmp_path / "b.jsonl"])
    refuse_overwrite([tmp_path / "a.jsonl"], [tmp_path / "c.jsonl", None])  # a new path is fine
