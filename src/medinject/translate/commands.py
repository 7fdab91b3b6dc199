from __future__ import annotations

from pathlib import Path

import typer

from ..backends import options as o
from ..cli_values import comma_list


def register(app: typer.Typer) -> None:
    @app.command("translate")
    @o.llm_options
    def translate_cmd(
        src: Path = typer.Argument(..., help="English records (.jsonl or .parquet)."),
        out: Path = typer.Option(..., "-o", "--out", help="French records (.jsonl or .parquet)."),
        rejected: Path = typer.Option(None, "--rejected", help="Rejected items (default: OUT.rejected.jsonl)."),
        limit: int = typer.Option(None, "--limit", min=1, help="Translate only the first N records."),
        max_tokens: int = typer.Option(None, "--max-tokens", min=1,
                                        help="Cap on output tokens (default: from length)."),
        source_lang: str = typer.Option("en", "--source-lang", help="Language of the input records."),
        prompt: Path = typer.Option(None, "--prompt", help="A prompt YAML file replacing the packaged one."),
        write_batch: Path = typer.Option(None, "--write-batch", help="Write an OpenAI Batch API request file for "
                                         "the records not yet answered, and stop (see `medinject batch-ingest`)."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        spec=None,
    ) -> None:
        """Translate English records into French, keeping their structure; check and reject bad outputs."""
        from ..backends.jobs import format_summary
        from ..io import refuse_overwrite
        from .translate import run_translate

        refuse_overwrite([src, prompt, *spec.files.get("inputs", ())],
                         [out, rejected, write_batch, spec.files.get("cache")])
        if write_batch is not None:
            from ..backends.batch_api import write_batch_file
            from ..backends.cache import open_cache
            from ..io import read_records
            from .translate import RecordTranslator, load_prompt

            records = list(read_records(src))[:limit] if limit else list(read_records(src))
            tr = RecordTranslator(spec.model, prompt=load_prompt("record", prompt), max_tokens=max_tokens,
                                  source_lang=source_lang)
            reqs = [tr.request(r) for r in records if tr.precheck(r) is None]
            n = write_batch_file(reqs, spec.model, write_batch, cache=open_cache(
                True if spec.cache is None else (False if spec.cache == "off" else spec.cache)))
            typer.echo(f"{n} requests written to {write_batch}; submit it to the Batch API, then run "
                       f"`medinject batch-ingest RESULTS` and this command again without --write-batch")
            return
        summary = run_translate(src, out, spec, rejected_path=rejected, limit=limit, max_tokens=max_tokens,
                                source_lang=source_lang, prompt_file=prompt, progress=not no_progress)
        typer.echo(format_summary(summary))

    @app.command("translate-eval")
    @o.llm_options
    def translate_eval_cmd(
        hypotheses: Path = typer.Option(None, "--hypotheses", help="Score these existing translations instead of "
                                        "translating: plain text (one segment per line) or JSONL."),
        references: Path = typer.Option(None, "--references", help="With --hypotheses: the line-aligned "
                                        "references (text or JSONL)."),
        sources: Path = typer.Option(None, "--sources", help="With --hypotheses: the line-aligned sources "
                                     "(needed for COMET)."),
        comet_model: Path = typer.Option(None, "--comet-model", help="With --hypotheses: a local COMET "
                                         "checkpoint or model folder (extra 'comet')."),
        n_boot: int = typer.Option(1000, "--n-boot", min=0, help="With --hypotheses: sacrebleu bootstrap "
                                   "resamples for the 95% intervals (0: none)."),
        sample: int = typer.Option(200, "--sample", min=0, help="Sentence pairs to score (0: all 2,562)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
        sets: str = typer.Option(None, "--sets", callback=comma_list(), help="Comma-separated test sets (default: "
                                 "every *_en2fr set)."),
        data: Path = typer.Option(None, "--data", help="The shared data folder (default: $MEDINJECT_SHARED/data "
                                  "or ../shared/data)."),
        max_tokens: int = typer.Option(None, "--max-tokens", min=1, help="Cap on output tokens."),
        out: Path = typer.Option(None, "-o", "--out", help="Write the scores as JSON."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        spec=None,
    ) -> None:
        """Score a translator on WMT biomedical EN->FR test sets, or score existing translations (--hypotheses):
        BLEU and chrF with sacrebleu signatures."""
        from ..errors import MedinjectError
        from ..io import refuse_overwrite

        if hypotheses is not None or references is not None:
            if hypotheses is None or references is None:
                raise MedinjectError("--hypotheses and --references go together")
            if spec.model:
                raise MedinjectError("give --model to translate, or --hypotheses to score translations, not both")
            from .external import format_result, score_files

            refuse_overwrite([hypotheses, references, sources], [out])
            r = score_files(hypotheses, references, sources, comet_model=comet_model, n_boot=n_boot, out_path=out)
            for line in format_result(r):
                typer.echo(line)
            return
        if not spec.model:
            raise MedinjectError("give --model (a translator to run) or --hypotheses and --references")
        from .evaluate import run_translate_eval

        refuse_overwrite([data, *spec.files.get("inputs", ())], [out, spec.files.get("cache")])
        r = run_translate_eval(spec, data_dir=data, sets=sets.split(",") if sets else None, sample=sample or None,
                               seed=seed, max_tokens=max_tokens, out_path=out, progress=not no_progress)
        typer.echo(f"{r['model']} on {r['pairs']} WMT biomedical EN->FR pairs ({r['failed']} failed requests)")
        typer.echo(f"BLEU = {r['bleu']:.2f}  [{r['bleu_signature']}]")
        typer.echo(f"chrF = {r['chrf']:.2f}  [{r['chrf_signature']}]")
        for name, s in r["per_set"].items():
            typer.echo(f"  {name}: {s['pairs']} pairs, BLEU {s['bleu']:.2f}, chrF {s['chrf']:.2f}")

    @app.command("batch-ingest")
    def batch_ingest_cmd(
        results: Path = typer.Argument(..., help="An OpenAI Batch API output file (.jsonl)."),
        cache: str = o.CACHE, prices: Path = o.PRICES,
    ) -> None:
        """Load Batch API answers into the request cache; rerun the stage to validate and write them."""
        from ..backends.batch_api import ingest_batch_results
        from ..backends.cache import open_cache
        from ..io import refuse_overwrite

        refuse_overwrite([results, prices], [o.cache_path(cache)])
        store = open_cache(True if cache in (None, "off") else cache)
        s = ingest_batch_results(results, store, prices=o.load_prices(prices))
        failed = ", ".join(f"{k}: {v}" for k, v in s["failed"].items()) or "none"
        typer.echo(f"{s['stored']} answers stored in {store.path} (failed: {failed}); "
                   f"cost ${s['cost']:.4f} at the batch discount")
