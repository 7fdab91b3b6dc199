"""The metric catalog and the per-item multiple-choice scores.

Each metric names its definition, its direction and how per-item values become one number; summary.json
copies these entries, so a reader never has to guess what a number means. The multiple-choice definitions are
FrenchMedMCQA's (and MediQAl's): Exact Match Ratio and Hamming score over letter sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    definition: str
    higher_is_better: bool
    aggregation: str  # "mean" of per-item values, "corpus" statistic, "derived" from other metrics, "macro" over sets

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("name")
        return d


CATALOG: dict[str, Metric] = {m.name: m for m in [
    Metric("em", "Exact Match: 1 when the predicted letter set equals the gold set, else 0 (FrenchMedMCQA's "
                 "EMR); an invalid output scores 0.", True, "mean"),
    Metric("em_macro", "Exact Match averaged over test sets (record `source`): each set's EM, then their plain "
                       "mean, so every set weighs the same whatever its size (macro); `sets` gives each set's EM. "
                       "The pooled EM of the same scope (micro) is the `em` entry.", True, "macro"),
    Metric("hamming", "Hamming score: |pred ∩ gold| / |pred ∪ gold|, 1 when both are empty (FrenchMedMCQA); an "
                      "invalid output counts as an empty prediction.", True, "mean"),
    Metric("invalid", "Share of outputs that strict parsing rejects (a non-option letter, any other character, "
                      "no letter, or several letters for a single-answer item); `count` gives the number.",
           False, "mean"),
    Metric("perm_em_mean", "Mean Exact Match over K seeded random orderings of each item's options (gold letters "
                           "remapped); `per_permutation` lists the K values.", True, "mean"),
    Metric("perm_em_std", "Standard deviation (population) of Exact Match across the K option orderings.",
           False, "derived"),
    Metric("perm_em_drop", "Exact Match in the original order minus perm_em_mean.", False, "mean"),
    Metric("circular_em", "CircularEval: an item counts as right only when it is right under every cyclic "
                          "rotation of its options.", True, "mean"),
    Metric("selection_bias", "Standard deviation (population) across option letters of per-letter recall "
                             "(share of gold occurrences of a letter that the prediction contains), over all "
                             "cyclic rotations; 0 when no letter is favoured. `recall` gives the per-letter values.",
           False, "derived"),
    Metric("bleu", "Corpus BLEU (sacrebleu, 0-100); `signature` records its settings.", True, "corpus"),
    Metric("chrf", "Corpus chrF (sacrebleu, 0-100); `signature` records its settings.", True, "corpus"),
    Metric("rouge2", "ROUGE-2 F1 (rouge-score) on lower-cased word tokens that keep accented letters.", True, "mean"),
    Metric("meteor", "METEOR (nltk) on the same tokens, French Snowball stemmer, no synonym matching.", True, "mean"),
    Metric("bertscore_f1", "BERTScore F1 (bert-score, no baseline rescaling); `model` and `layer` name the "
                           "encoder.", True, "mean"),
]}

CHOICE_ITEM_METRICS = ("em", "hamming")
OPEN_ITEM_METRICS = ("bleu", "chrf", "rouge2", "meteor", "bertscore_f1")


def _as_set(letters: Iterable[str] | None) -> set[str]:
    return {str(x).strip().upper() for x in letters or ()}


def exact_match(gold: Iterable[str], pred: Iterable[str] | None) -> float:
    """1.0 when the letter sets are equal (case and repeats ignored); None (invalid) scores 0."""
    if pred is None:
        return 0.0
    return 1.0 if _as_set(gold) == _as_set(pred) else 0.0


def hamming_score(gold: Iterable[str], pred: Iterable[str] | None) -> float:
    g, p = _as_set(gold), _as_set(pred)
    union = g | p
    return 1.0 if not union else len(g & p) / len(union)


def choice_scores(gold: Iterable[str], pred: Iterable[str] | None) -> dict[str, float]:
    return {"em": exact_match(gold, pred), "hamming": hamming_score(gold, pred)}
