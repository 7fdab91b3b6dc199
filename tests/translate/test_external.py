"""translate-eval --hypotheses gives sacrebleu's own BLEU and chrF, signatures included, on WMT biomedical files."""

import json
import subprocess
import sys

import pytest

from medinject.translate.external import read_segments


def _system_output(refs: list[str]) -> list[str]:
    # A stand-in for a submission: each reference with every fourth word dropped and one line left empty.
    out = [" ".join(w for i, w in enumerate(r.split()) if i % 4 != 3) for r in refs]
    out[5] = ""
    return out


@pytest.fixture
def wmt_files(shared_data, tmp_path):
    d = shared_data / "wmt_biomed_fr_en"
    ref = d / "medline19_en2fr.fr"
    hyp = tmp_path / "system.fr"
    hyp.write_text("\n".join(_system_output(ref.read_text("utf-8").splitlines())) + "\n", encoding="utf-8")
    return hyp, ref, d / "medline19_en2fr.en"


def _sacrebleu_cli(ref, hyp):
    # sacrebleu's own command line, run with this interpreter (its script need not be on the PATH)
    cmd = [sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-m", "bleu", "chrf", "-f", "json", "-w", "4"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return {d["name"]: d for d in json.loads(res.stdout)}


def test_scores_and_signatures_equal_the_sacrebleu_command_line(wmt_files, run_cli, tmp_path):
    hyp, ref, src = wmt_files
    out = tmp_path / "scores.json"
    code, stdout, err = run_cli("translate-eval", "--hypotheses", hyp, "--references", ref, "--sources", src,
                                "--n-boot", "100", "-o", out)
    assert code == 0, err
    ours = json.loads(out.read_text())
    theirs = _sacrebleu_cli(ref, hyp)
    assert ours["segments"] == 533 and ours["empty_hypotheses"] == 1
    assert round(ours["bleu"]["score"], 4) == theirs["BLEU"]["score"]
    assert round(ours["chrf"]["score"], 4) == theirs["chrF2"]["score"]
    assert ours["bleu"]["signature"] == theirs["BLEU"]["signature"]
    assert ours["chrf"]["signature"] == theirs["chrF2"]["signature"]
    lo, hi = ours["bleu"]["bootstrap"]["ci"]
    assert lo < ours["bleu"]["score"] < hi and "bs:100" in ours["bleu"]["bootstrap"]["signature"]
    assert ours["schema"] == "medinject.translate.eval/1"
    assert f"[{theirs['BLEU']['signature']}]" in stdout


def test_jsonl_inputs_read_their_text_fields(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"id": 1, "translation": "Le patient."}\n{"id": 2, "hypothesis": "Deux."}\n', encoding="utf-8")
    assert read_segments(p, "hypotheses") == ["Le patient.", "Deux."]
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(Exception, match="line 1.*no text field"):
        read_segments(bad, "hypotheses")


def test_plain_text_splits_at_newlines_only(tmp_path):
    p = tmp_path / "h.txt"
    p.write_text("un\u2028deux  \r\ntrois\n", encoding="utf-8")
    assert read_segments(p, "hypotheses") == ["un\u2028deux", "trois"]


def test_misaligned_files_and_missing_comet_are_one_line_errors(tmp_path, run_cli):
    h, r = tmp_path / "h.txt", tmp_path / "r.txt"
    h.write_text("a\nb\n")
    r.write_text("a\n")
    code, _, err = run_cli("translate-eval", "--hypotheses", h, "--references", r)
    assert code == 2 and "2 segments but r.txt has 1" in err and err.count("\n") == 1
    if "comet" not in sys.modules:
        try:
            import comet  # noqa: F401
        except ImportError:
            r.write_text("a\nb\n")
            code, _, err = run_cli("translate-eval", "--hypotheses", h, "--references", r, "--sources", r,
                                   "--comet-model", tmp_path / "model")
            assert code == 2 and "medinject[comet]" in err and err.count("\n") == 1
    code, _, err = run_cli("translate-eval", "--hypotheses", h)
    assert code == 2 and "--references" in err
