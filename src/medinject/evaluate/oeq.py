"""Open-ended answers: greedy generation and text metrics that work offline on French.

BLEU and chrF come from sacrebleu (corpus statistics, with signatures); ROUGE-2 and METEOR use a tokenizer
that keeps accented letters (rouge-score's default one drops them); METEOR stems with nltk's French Snowball
stemmer and matches no synonyms, so no WordNet download is needed; BERTScore takes any local or hub encoder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import MedinjectError

# The documented default for French: bert-score's own choice for non-English text.
DEFAULT_BERTSCORE_MODEL = "bert-base-multilingual-cased"
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens; accents and digits stay ('fièvre' stays 'fièvre')."""
    return _WORD.findall(text.lower())


class _Tokenizer:
    """rouge-score's tokenizer interface."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)


class _NoSynonyms:
    """Stands in for WordNet in METEOR: no word has synonyms, so only exact and stem matches count."""

    def synsets(self, word: str) -> list:
        return []


def bleu_metric():
    from sacrebleu.metrics import BLEU

    return BLEU()


def chrf_metric():
    from sacrebleu.metrics import CHRF

    return CHRF()


def sentence_bleu(prediction: str, reference: str) -> float:
    from sacrebleu.metrics import BLEU

    return BLEU(effective_order=True).sentence_score(prediction, [reference]).score


def sentence_chrf(prediction: str, reference: str) -> float:
    return chrf_metric().sentence_score(prediction, [reference]).score


def rouge2(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge2"], tokenizer=_Tokenizer())
    return [scorer.score(ref, pred)["rouge2"].fmeasure for pred, ref in zip(predictions, references, strict=True)]


def meteor(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    from nltk.stem.snowball import SnowballStemmer
    from nltk.translate.meteor_score import meteor_score

    stemmer, wordnet = SnowballStemmer("french"), _NoSynonyms()
    return [meteor_score([words(ref)], words(pred), stemmer=stemmer, wordnet=wordnet)
            for pred, ref in zip(predictions, references, strict=True)]


def bertscore_layer(model: str, layers: int | None = None) -> int:
    """The layer bert-score uses: its tuned choice for known models, else the encoder's last layer."""
    if layers:
        return layers
    from bert_score.utils import model2layers

    if model in model2layers:
        return model2layers[model]
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model).num_hidden_layers
    except OSError as e:
        raise MedinjectError(f"BERTScore encoder {model!r} not found ({str(e).splitlines()[0]}); give a local "
                             "path with --bertscore-model, or --bertscore-model none to skip it") from None


def bertscore_f1(predictions: Sequence[str], references: Sequence[str], model: str, layers: int | None = None,
                 batch_size: int = 32) -> list[float]:
    from bert_score import score

    # bert-score cannot encode an empty text under transformers 5, and an empty answer has no meaning to
    # compare: it scores 0 (1 when the reference is empty too), like the other metrics' edge cases.
    values = [1.0 if not p.strip() and not r.strip() else 0.0 for p, r in zip(predictions, references, strict=True)]
    both = [i for i, (p, r) in enumerate(zip(predictions, references, strict=True)) if p.strip() and r.strip()]
    if not both:
        return values
    layer = bertscore_layer(model, layers)
    try:
        _, _, f1 = score([predictions[i] for i in both], [references[i] for i in both], model_type=model,
                         num_layers=layer, batch_size=batch_size, verbose=False)
    except OSError as e:
        raise MedinjectError(f"BERTScore encoder {model!r} could not be loaded ({str(e).splitlines()[0]})") from None
    for i, v in zip(both, f1, strict=True):
        values[i] = float(v)
    return values


def canonical_texts(texts: Sequence[str | None]) -> list[str]:
    """Texts as every metric reads them (`textnorm.canonical`): an NFD accent, a no-break space, an entity or a
    zero-width character never changes a score."""
    from ..textnorm import canonical

    return [canonical(t) for t in texts]


def item_scores(predictions: Sequence[str], references: Sequence[str], *, bertscore_model: str | None,
                bertscore_layers: int | None = None) -> list[dict[str, float]]:
    """Per-item values of every open-ended metric (sentence-level BLEU and chrF), on `canonical` texts."""
    predictions, references = canonical_texts(predictions), canonical_texts(references)
    rows = [{"bleu": sentence_bleu(p, r), "chrf": sentence_chrf(p, r)}
            for p, r in zip(predictions, references, strict=True)]
    for name, values in (("rouge2", rouge2(predictions, references)), ("meteor", meteor(predictions, references))):
        for row, v in zip(rows, values, strict=True):
            row[name] = v
    if bertscore_model:
        for row, v in zip(rows, bertscore_f1(predictions, references, bertscore_model, bertscore_layers),
                          strict=True):
            row["bertscore_f1"] = v
    return rows


def resolve_bertscore_model(name: str | None) -> str | None:
    """None for 'none'; `module:pkg/sub` names a folder inside an installed package; a folder becomes absolute."""
    if not name or name.lower() == "none":
        return None
    if name.startswith("module:"):
        from importlib import resources

        module, _, rest = name[len("module:"):].partition("/")
        try:
            name = str(Path(str(resources.files(module))) / rest)
        except ModuleNotFoundError:
            raise MedinjectError(f"{name}: Python package {module!r} is not installed") from None
    p = Path(name).expanduser()
    return str(p.resolve()) if p.exists() else name


def predict_open(records, model, tokenizer, *, max_new_tokens: int = 512, batch_size: int = 16,
                 on_batch=None, decoder=None, prompt_style: str = "medinject-fr", prompt_stats: dict | None = None
                 ) -> list[dict]:
    """Greedy answers to open-ended records, one row each (`prediction` is the stripped text)."""
    from .decoding import Stream, decode
    from .mcqa import render_prompts

    texts, prompts = render_prompts(tokenizer, records, prompt_style, prompt_stats)
    streams = [Stream(item=i, max_new=max_new_tokens) for i in range(len(records))]
    (decoder or decode)(model, prompts, streams, eos_id=tokenizer.eos_token_id, batch_size=batch_size,
                        on_batch=on_batch)
    rows = []
    for s in streams:
        r = records[s.item]
        text = tokenizer.decode(s.tokens, skip_special_tokens=True).strip()
        rows.append({"id": r.id, "source": r.source, "task": r.task.value, "mode": "greedy", "variant": "original",
                     "prompt": texts[s.item], "output": text, "prediction": text, "reference": str(r.answer)})
    return rows
