from fakeserver import FakeChatServer, echo_reply

from medinject.translate import load_wmt_pairs, run_translate_eval


def test_translate_eval_scores_a_perfect_and_a_useless_translator(shared_data, tmp_path, run_cli):
    pairs = load_wmt_pairs(shared_data)
    assert len(pairs) == 2562
    ref = {en: fr for _, en, fr in pairs}

    def perfect(body):
        user = body["messages"][-1]["content"]
        return next(fr for en, fr in ref.items() if user.endswith("\n\n" + en))

    with FakeChatServer(perfect) as server:
        r = run_translate_eval({"model": "fake", "base_url": server.base_url, "cache": "off"}, data_dir=shared_data,
                               sample=20, progress=False, out_path=tmp_path / "scores.json")
    assert r["pairs"] == 20 and r["failed"] == 0 and r["bleu"] == 100.0 and r["chrf"] == 100.0
    assert r["bleu_signature"].startswith("nrefs:1|case:mixed") and "version:" in r["chrf_signature"]
    assert sum(s["pairs"] for s in r["per_set"].values()) == 20 and (tmp_path / "scores.json").exists()

    with FakeChatServer(echo_reply) as server:  # returns the whole prompt: far from the reference
        code, out, err = run_cli("translate-eval", "--sample", "20", "--data", shared_data, "--model", "fake",
                                 "--base-url", server.base_url, "--cache", "off", "--no-progress")
    assert code == 0, err
    bleu = float(out.split("BLEU = ")[1].split()[0])
    assert 0 <= bleu < 20 and "chrF = " in out and "nrefs:1" in out
