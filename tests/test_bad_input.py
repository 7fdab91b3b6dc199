"""Bad input: one line naming the place, exit status 2, no traceback, nothing left at the output path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import one_error_line

OK_MEDQA = {"question": "Quel est le bon choix ?", "options": {"A": "a", "B": "b"}, "answer_idx": "A"}
OK_RECORD = {"id": "r1", "task": "mcqu", "question": "Q ?", "options": {"A": "a", "B": "b"}, "answer": ["A"],
             "origin": "native", "source": "t"}
FMC_ITEM = {"id": "f1", "question": "Q ?", "answers": {"a": "x", "b": "y"}, "correct_answers": ["a"],
            "nbr_correct_answers": 1}
MAP = "question=q,options=a|b,answer=g"


def jsonl(*objs) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o, ensure_ascii=False)) + "\n" for o in objs)


def csv_text(*rows) -> str:
    return "".join(",".join(r) + "\n" for r in rows)


# name: (files to write under in/, CLI args with {in} and {out}, substrings the message must hold)
CASES = {
    "malformed json line": (
        {"m.jsonl": jsonl(OK_MEDQA, '{"question": "Q", ')},
        "ingest {in}/m.jsonl -f medqa --origin native -o {out}/X.jsonl", ["m.jsonl", "line 2", "malformed JSON"]),
    "missing field": (
        {"m.jsonl": jsonl(OK_MEDQA, {"options": {"A": "a", "B": "b"}, "answer_idx": "A"})},
        "ingest {in}/m.jsonl -f medqa --origin native -o {out}/X.jsonl", ["line 2", "field 'question'", "missing"]),
    "answer letter not among options": (
        {"m.jsonl": jsonl(OK_MEDQA, {**OK_MEDQA, "answer_idx": "F"})},
        "ingest {in}/m.jsonl -f medqa --origin native -o {out}/X.jsonl",
        ["line 2", "field 'answer'", "not among options"]),
    "bad encoding": (
        {"m.jsonl": jsonl(OK_MEDQA).encode() + '{"question": "fièvre"}\n'.encode("latin-1")},
        "ingest {in}/m.jsonl -f medqa --origin native -o {out}/X.jsonl", ["line 2", "not UTF-8"]),
    "unknown format name": (
        {"m.jsonl": jsonl(OK_MEDQA)},
        "ingest {in}/m.jsonl -f medqaa --origin native -o {out}/X.jsonl",
        ["'--format'", "'medqaa' is not one of", "'medqa'"]),
    "empty file": (
        {"m.jsonl": "\n\n"}, "ingest {in}/m.jsonl -f medqa --origin native -o {out}/X.jsonl", ["m.jsonl", "empty"]),
    "mcqu with two answers": (
        {"r.jsonl": jsonl(OK_RECORD, {**OK_RECORD, "id": "r2", "answer": ["A", "B"]})},
        "export {in}/r.jsonl --to medinjection -o {out}/X.jsonl",
        ["line 2", "record r2", "field 'answer'", "exactly one"]),
    "wrong type": (
        {"r.jsonl": jsonl({**OK_RECORD, "question": 42})},
        "export {in}/r.jsonl --to reference-eval -o {out}/X.json", ["line 1", "record r1", "field 'question'"]),
    "unknown origin value": (
        {"r.jsonl": jsonl({**OK_RECORD, "origin": "machine"})},
        "export {in}/r.jsonl --to medinjection -o {out}/X.jsonl", ["line 1", "field 'origin'"]),
    "bad mapping key": (
        {"d.csv": csv_text(["q", "a", "b", "g"], ["Q", "x", "y", "A"])},
        "ingest {in}/d.csv -f generic --origin native --map question=q,answr=g -o {out}/X.jsonl",
        ["bad mapping", "unknown key 'answr'", "did you mean 'answer'"]),
    "missing file": (
        {}, "ingest {in}/absent.json -f frenchmedmcqa --origin native -o {out}/X.jsonl",
        ["absent.json", "file not found"]),
    "json not a list": (
        {"f.json": json.dumps({"x": FMC_ITEM})},
        "ingest {in}/f.json -f frenchmedmcqa --origin native -o {out}/X.jsonl", ["f.json", "expected a JSON list"]),
    "malformed whole-file json": (
        {"f.json": "[\n" + json.dumps(FMC_ITEM) + ",\n{oops}\n]"},
        "ingest {in}/f.json -f frenchmedmcqa --origin native -o {out}/X.jsonl", ["line 3", "malformed JSON"]),
    "wrong type in source field": (
        {"f.json": json.dumps([FMC_ITEM, {**FMC_ITEM, "id": "f2", "correct_answers": "a"}])},
        "ingest {in}/f.json -f frenchmedmcqa --origin native -o {out}/X.jsonl",
        ["record f2", "field 'correct_answers'", "list"]),
    "mmlu row too short": (
        {"anatomy_test.csv": csv_text(["Q", "a", "b", "c", "d", "A"], ["Q2", "B"])},
        "ingest {in}/anatomy_test.csv -f mmlu --origin native -o {out}/X.jsonl", ["anatomy_test.csv", "line 2"]),
    "mmlu folder without csv": (
        {"mm/readme.txt": "nothing"}, "ingest {in}/mm -f mmlu --origin native -o {out}/X.jsonl", ["no .csv files"]),
    "mapped column missing from header": (
        {"d.csv": csv_text(["q", "a", "b", "gold"], ["Q", "x", "y", "A"])},
        f"ingest {{in}}/d.csv -f generic --origin native --map {MAP} -o {{out}}/X.jsonl",
        ["d.csv", "line 1", "field 'g'", "not in the header"]),
    "answer index out of range": (
        {"d.csv": csv_text(["q", "a", "b", "g"], ["Q", "x", "y", "1"], ["Q2", "x", "y", "7"])},
        f"ingest {{in}}/d.csv -f generic --origin native --map {MAP},answer_as=index -o {{out}}/X.jsonl",
        ["line 3", "field 'g'", "out of range"]),
    "answer text matches no option": (
        {"d.json": json.dumps({"k1": {"q": "Q", "a": "x", "b": "y", "g": "z"}})},
        f"ingest {{in}}/d.json -f generic --origin native --map {MAP},answer_as=text -o {{out}}/X.jsonl",
        ["record k1", "field 'g'", "matches no option"]),
    "answer text shared by two options": (  # (a repeated id is suffixed, as FrenchMedMCQA's are)
        {"d.jsonl": jsonl({"q": "Q", "a": "x", "b": "y", "g": "x", "i": "7"},
                          {"q": "Q2", "a": "x y", "b": "X\u00a0Y", "g": "x y", "i": "8"})},
        f"ingest {{in}}/d.jsonl -f generic --origin native --map {MAP},id=i,answer_as=text -o {{out}}/X.jsonl",
        ["line 2", "record 8", "field 'g'", "matches options A and B"]),
    "malformed yaml mapping": (
        {"d.csv": csv_text(["q", "a", "b", "g"], ["Q", "x", "y", "A"]), "map.yaml": "question: q\nanswer: [g\n"},
        "ingest {in}/d.csv -f generic --origin native --map {in}/map.yaml -o {out}/X.jsonl",
        ["map.yaml", "line 3", "malformed YAML"]),
    "invalid language code": (
        {"d.csv": csv_text(["q", "a", "b", "g"], ["Q", "x", "y", "A"])},
        f"ingest {{in}}/d.csv -f generic --origin native --lang french --map {MAP} -o {{out}}/X.jsonl",
        ["line 2", "field 'lang'"]),
    "morfitt missing column": (
        {"m.tsv": "identifier\tspecialities\nx\tcardio\n"},
        "ingest {in}/m.tsv -f morfitt -o {out}/X.jsonl", ["m.tsv", "line 1", "field 'abstract'"]),
    "e3c empty text": (
        {"e.jsonl": jsonl({"id": "c1", "text": "Un cas."}, {"id": "c2", "text": "  "})},
        "ingest {in}/e.jsonl -f e3c -o {out}/X.jsonl", ["line 2", "record c2", "field 'text'"]),
    "hub unknown type": (
        {"h.jsonl": jsonl({"instruction": "I\n\nQuestion : Q", "context": "", "answer": "x", "type": "essay",
                           "origin": "native"})},
        "ingest {in}/h.jsonl -f medinjection -o {out}/X.jsonl", ["line 1", "field 'type'", "essay"]),
    "hub missing instruction": (
        {"h.json": json.dumps([{"answer": "x", "type": "oeq", "origin": "native"}])},
        "ingest {in}/h.json -f medinjection -o {out}/X.jsonl", ["record #1", "field 'instruction'"]),
    "reference-eval without user message": (
        {"r.json": json.dumps([{"messages": [{"role": "system", "content": "S"}], "classes": [], "answer": "x"}])},
        "ingest {in}/r.json -f reference-eval --origin native -o {out}/X.jsonl", ["record #1", "field 'messages'"]),
    "corrupt parquet": (
        {"r.parquet": b"PAR1 not really"}, "export {in}/r.parquet --to medinjection -o {out}/X.jsonl",
        ["r.parquet", "not a readable Parquet file"]),
    "origin not given": (
        {"f.json": json.dumps([FMC_ITEM])}, "ingest {in}/f.json -f frenchmedmcqa -o {out}/X.jsonl",
        ["--origin is required"]),
    "unsupported output suffix": (
        {"f.json": json.dumps([FMC_ITEM])}, "ingest {in}/f.json -f frenchmedmcqa --origin native -o {out}/X.csv",
        ["X.csv", ".jsonl or .parquet"]),
    "map given to another format": (
        {"f.json": json.dumps([FMC_ITEM])},
        f"ingest {{in}}/f.json -f frenchmedmcqa --origin native --map {MAP} -o {{out}}/X.jsonl",
        ["--map only applies to --format generic"]),
    "jsonl line not an object": (
        {"r.jsonl": jsonl(OK_RECORD, "[1, 2]")}, "export {in}/r.jsonl --to medinjection -o {out}/X.jsonl",
        ["line 2", "expected a JSON object"]),
    "unknown export layout": (
        {"r.jsonl": jsonl(OK_RECORD)}, "export {in}/r.jsonl --to alpaca -o {out}/X.jsonl",
        ["'--to'", "'alpaca' is not one of 'medinjection', 'reference-eval'"]),
    "stats on a bad file": (
        {"r.jsonl": jsonl(OK_RECORD, {**OK_RECORD, "id": "r2", "options": {"A": "a"}})},
        "stats {in}/r.jsonl -o {out}/X.json", ["line 2", "record r2", "field 'options'"]),
    "unknown toy-model size": (
        {}, "toy-model {out}/X --size huge", ["'--size'", "'huge' is not one of 'tiny', 'small'"]),
}


def setup_case(tmp_path: Path, name: str) -> tuple[list[str], list[str], Path]:
    files, args, expect = CASES[name]
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for rel, content in files.items():
        p = src / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    argv = [a.replace("{in}", str(src)).replace("{out}", str(out)) for a in args.split()]
    return argv, expect, out


def test_there_are_at_least_twenty_distinct_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, run_cli, name):
    argv, expect, out = setup_case(tmp_path, name)
    code, stdout, stderr = run_cli(*argv)
    one_error_line(code, stdout, stderr, *expect)
    assert list(out.iterdir()) == []  # neither the output nor a temporary file


@pytest.mark.parametrize("name", ["malformed json line", "unknown format name"])
def test_real_console_script_exits_2_without_traceback(tmp_path, name):
    argv, expect, out = setup_case(tmp_path, name)
    exe = Path(sys.executable).with_name("medinject")
    proc = subprocess.run([str(exe), *argv], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expect[-1] in proc.stderr and "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("verb", ["translate", "judge"])
def test_a_missing_prompt_is_named_before_any_model_loads(tmp_path, run_cli, verb):
    # An empty folder as the model: loading it would fail with "cannot load model"; the prompt is read first.
    (tmp_path / "model").mkdir()
    (tmp_path / "prompts").mkdir()
    rec = ({"id": "r1", "task": "mcqu", "question": "Q ?", "options": {"A": "a", "B": "b"}, "answer": ["A"],
            "origin": "native", "source": "t", "lang": "en"} if verb == "translate" else
           {"id": "o1", "task": "oeq", "question": "Q ?", "reference": "ref", "prediction": "pred"})
    (tmp_path / "p.jsonl").write_text(json.dumps(rec) + "\n")
    prompt = ["--prompt", "record-fewshoot"] if verb == "translate" else ["--prompt-dir", tmp_path / "prompts"]
    code, _, err = run_cli(verb, tmp_path / "p.jsonl", "-o", tmp_path / "out", *prompt, "--backend",
                           "transformers", "--model", tmp_path / "model", "--cache", "off")
    assert code == 2, err
    assert ("record-fewshoot" if verb == "translate" else "judge prompt") in err and "cannot load" not in err
    assert not (tmp_path / "out").exists()
