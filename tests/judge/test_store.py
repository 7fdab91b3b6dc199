
import pytest

from medinject.errors import InputError, MedinjectError
from medinject.judge.app import read_annotators, task_order
from medinject.judge.inputs import Answer
from medinject.judge.store import RatingStore


def test_upsert_export_import_round_trip(tmp_path, run_cli):
    store = RatingStore(tmp_path / "a.sqlite", (1, 10))
    store.rate("alice", "q1", "base", 7, "bien")
    store.rate("alice", "q1", "base", 6, "moins bien")  # a second rating of the same answer replaces the first
    store.rate("bruno", "q1", "base", 9)
    assert store.ratings_of("alice") == {("q1", "base"): (6, "moins bien")}
    assert store.export_csv(tmp_path / "r.csv") == 2
    code, out, _ = run_cli("annotate", "import", tmp_path / "r.csv", "--db", tmp_path / "b.sqlite")
    assert code == 0 and "2 ratings imported" in out
    copy = RatingStore(tmp_path / "b.sqlite")
    assert copy.scale == (1, 10)
    assert [(r["annotator"], r["score"], r["comment"]) for r in copy.rows()] == [("alice", 6, "moins bien"),
                                                                                  ("bruno", 9, "")]
    assert copy.rows()[0]["created_at"] == store.rows()[0]["created_at"]
    with pytest.raises(ValueError, match="outside 1-10"):
        store.rate("alice", "q2", "base", 0)


def test_import_checks_every_line_before_writing(tmp_path, run_cli):
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("annotator,item_id,system,score\nalice,q1,base,7\nalice,q2,base,12\n")
    db = tmp_path / "r.sqlite"
    code, _, err = run_cli("annotate", "import", csv_path, "--db", db)
    assert code == 2 and "r.csv: line 3: record q2: field 'score': score 12 is outside 1-10" in err
    assert not db.exists()  # nothing written, not even an empty database
    csv_path.write_text("annotator,item_id,score\nalice,q1,7\n")
    with pytest.raises(InputError, match="missing column"):
        RatingStore(db).import_csv(csv_path)


def test_a_database_keeps_its_scale(tmp_path):
    RatingStore(tmp_path / "r.sqlite", (1, 10))
    with pytest.raises(MedinjectError, match="scale 1-10, not 0-1"):
        RatingStore(tmp_path / "r.sqlite", (0, 1))


def test_annotator_files(tmp_path):
    y = tmp_path / "a.yaml"
    y.write_text("annotators:\n  alice: tok-alice-123\n  bruno: tok-bruno-456\n")
    assert read_annotators(y) == {"tok-alice-123": "alice", "tok-bruno-456": "bruno"}
    y.write_text("- {name: alice, token: same-token-1}\n- {name: bruno, token: same-token-1}\n")
    with pytest.raises(InputError, match="record bruno: field 'token': token used by another"):
        read_annotators(y)
    y.write_text("just text\n")
    with pytest.raises(InputError, match="expected a list"):
        read_annotators(y)


def test_task_order_is_stable_per_annotator_and_groups_answers_by_item():
    answers = [Answer(f"q{i}", s, "Q", "R", "P") for i in range(10) for s in ("a", "b", "c")]
    alice = task_order(answers, "alice")
    assert alice == task_order(answers, "alice") and sorted(alice) == sorted(a.key for a in answers)
    assert alice != task_order(answers, "bruno")
    assert all(len({item for item, _ in alice[i:i + 3]}) == 1 for i in range(0, 30, 3))
    assert len({tuple(s for _, s in alice[i:i + 3]) for i in range(0, 30, 3)}) > 1  # answer order varies too


def test_tokens_command_writes_private_unique_tokens(tmp_path, run_cli):
    code, _, _ = run_cli("annotate", "tokens", "alice", "bruno", "-o", tmp_path / "ann.yaml")
    assert code == 0 and (tmp_path / "ann.yaml").stat().st_mode & 0o077 == 0
    assert sorted(read_annotators(tmp_path / "ann.yaml").values()) == ["alice", "bruno"]
