"""Argilla and Label Studio round trips: blind per-annotator tasks out, every rating back in the ratings CSV."""

import csv
import json

import pytest

from medinject.judge.app import task_order
from medinject.judge.inputs import load_answers


@pytest.fixture
def preds(tmp_path):
    files = []
    for system, words in (("base", "court"), ("NAT", "réponse plus longue")):
        p = tmp_path / f"{system}.jsonl"
        p.write_text("".join(json.dumps({"id": f"q{i}", "task": "oeq", "question": f"Question {i} ?",
                                         "reference": f"Référence {i}", "prediction": f"{words} {i}"}) + "\n"
                             for i in range(4)), encoding="utf-8")
        files.append(f"{system}={p}")
    return files


def _export(run_cli, preds, tool, out, *extra):
    code, stdout, err = run_cli("annotate", "export", "--to", tool, *preds, "--annotators", "alice,bruno",
                                "-o", out, *extra)
    assert code == 0, err
    key = {r["unit"]: (r["item_id"], r["system"]) for r in csv.DictReader(open(out / "key.csv"))}
    assert len(key) == 8
    return key


def _wanted(answers):
    # Distinct scores on the 1-10 scale and comments with a comma, a quote and a line break.
    out = {}
    for n, (who, a) in enumerate((w, a) for w in ("alice", "bruno") for a in answers):
        out[(who, a.id, a.system)] = (1 + n % 10, f'vu par {who}, "{a.system}"\nligne 2' if n % 3 else "")
    return out


def _read_csv(path):
    return {(r["annotator"], r["item_id"], r["system"]): (int(r["score"]), r["comment"])
            for r in csv.DictReader(open(path, encoding="utf-8", newline=""))}


def test_label_studio_round_trip_gives_back_every_rating(tmp_path, run_cli, preds):
    out = tmp_path / "ls"
    key = _export(run_cli, preds, "label-studio", out)
    answers = load_answers([(p.split("=")[1], p.split("=")[0]) for p in preds])
    assert '<Number name="score" toName="answer" min="1" max="10"' in (out / "label_config.xml").read_text()
    wanted = _wanted(answers)
    export = []  # what Label Studio's JSON export gives after rating
    for who in ("alice", "bruno"):
        tasks = json.loads((out / f"{who}.tasks.json").read_text())
        # Blind: no system name nor item id in what the tool gets; each annotator in their own order.
        assert not any(s in json.dumps(t) for t in tasks for s in ('"base"', '"NAT"', '"q0"'))
        assert [key[t["data"]["unit"]] for t in tasks] == task_order(answers, who)
        for n, t in enumerate(tasks):
            score, comment = wanted[(who, *key[t["data"]["unit"]])]
            result = [{"id": f"r{n}", "from_name": "score", "to_name": "answer", "type": "number",
                       "value": {"number": score}, "origin": "manual"}]
            if comment:
                result.append({"id": f"c{n}", "from_name": "comment", "to_name": "answer", "type": "textarea",
                               "value": {"text": [comment]}, "origin": "manual"})
            export.append({"id": len(export) + 1, "data": t["data"], "annotations": [{
                "id": 100 + len(export), "completed_by": 7 if who == "alice" else 9, "result": result,
                "was_cancelled": False, "ground_truth": False, "created_at": "2026-01-01T10:00:00.000000Z",
                "updated_at": f"2026-01-01T10:{n:02d}:00.000000Z", "lead_time": 3.2, "task": len(export) + 1}],
                "predictions": [], "project": 1})
    assert [key[t["data"]["unit"]] for t in json.loads((out / "alice.tasks.json").read_text())] != \
        [key[t["data"]["unit"]] for t in json.loads((out / "bruno.tasks.json").read_text())]
    export[0]["annotations"].append({"id": 999, "completed_by": 7, "result": [], "was_cancelled": True})
    ls_file = tmp_path / "project-1-at-2026-01-01.json"
    ls_file.write_text(json.dumps(export), encoding="utf-8")
    code, _, err = run_cli("annotate", "import", ls_file, "--from", "label-studio", "--key", out / "key.csv",
                           "-o", tmp_path / "ratings.csv", "--db", tmp_path / "r.sqlite")
    assert code == 0, err
    assert _read_csv(tmp_path / "ratings.csv") == wanted
    code, _, err = run_cli("annotate", "export", "--db", tmp_path / "r.sqlite", "-o", tmp_path / "back.csv")
    assert code == 0 and _read_csv(tmp_path / "back.csv") == wanted


def test_argilla_round_trip_gives_back_every_rating(tmp_path, run_cli, preds):
    out = tmp_path / "rg"
    key = _export(run_cli, preds, "argilla", out)
    answers = load_answers([(p.split("=")[1], p.split("=")[0]) for p in preds])
    settings = json.loads((out / "argilla_settings.json").read_text())
    assert settings["questions"][0]["values"] == list(range(1, 11))
    wanted = _wanted(answers)
    uid = {"alice": "5f1c0d6e-0000-4000-8000-000000000001", "bruno": "5f1c0d6e-0000-4000-8000-000000000002"}
    files = []
    for who in ("alice", "bruno"):
        records = json.loads((out / f"{who}.records.json").read_text())
        assert [key[r["metadata"]["unit"]] for r in records] == task_order(answers, who)
        for r in records:  # what `dataset.records.to_json` writes once rated
            score, comment = wanted[(who, *key[r["metadata"]["unit"]])]
            r["responses"] = {"score": [{"value": score, "user_id": uid[who]}]}
            if comment:
                r["responses"]["comment"] = [{"value": comment, "user_id": uid[who]}]
            r["_server_id"] = "00000000-0000-4000-8000-" + r["metadata"]["unit"][2:14]
        f = tmp_path / f"{who}-export.json"
        f.write_text(json.dumps(records), encoding="utf-8")
        files.append(f)
    users = tmp_path / "users.yaml"
    users.write_text("".join(f"{v}: {k}\n" for k, v in uid.items()))
    code, _, err = run_cli("annotate", "import", *files, "--from", "argilla", "--key", out / "key.csv",
                           "--users", users, "-o", tmp_path / "ratings.csv")
    assert code == 0, err
    assert _read_csv(tmp_path / "ratings.csv") == wanted
    # Without --users, each file's records name the annotator they were made for.
    code, _, err = run_cli("annotate", "import", *files, "--from", "argilla", "--key", out / "key.csv",
                           "-o", tmp_path / "ratings2.csv")
    assert code == 0 and _read_csv(tmp_path / "ratings2.csv") == wanted


def test_an_unknown_unit_is_a_one_line_error(tmp_path, run_cli, preds):
    out = tmp_path / "ls"
    _export(run_cli, preds, "label-studio", out)
    bad = tmp_path / "export.json"
    bad.write_text(json.dumps([{"id": 3, "data": {"unit": "u-nope"}, "annotations": []}]))
    code, _, err = run_cli("annotate", "import", bad, "--from", "label-studio", "--key", out / "key.csv",
                           "-o", tmp_path / "x.csv")
    assert code == 2 and "record 3" in err and "u-nope" in err and err.count("\n") == 1
    assert not (tmp_path / "x.csv").exists()
