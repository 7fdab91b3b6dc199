from __future__ import annotations

from pathlib import Path

import typer

from ..backends import options as o
from ..cli_values import BackendKind, comma_list


def register(app: typer.Typer) -> None:
    @app.command("translate")
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
        backend: BackendKind = o.BACKEND, model: str = o.MODEL, base_url: str = o.BASE_URL,
        api_key_env: str = o.API_KEY_ENV, concurrency: int = o.CONCURRENCY, cache: str = o.CACHE,
        prices: Path = o.PRICES, timeout: float = o.TIMEOUT, max_retries: int = o.MAX_RETRIES,
        batch_size: int = o.BATCH_SIZE,
    ) -> None:
        """Translate English records into French, keeping their structure; check and reject bad outputs."""
        from ..backends.jobs import format_summary
        from .translate import run_translate

        spec = o.spec_from_options(backend, model, base_url, api_key_env, concurrency, cache, prices, timeout,
                                   max_retries, batch_size)
        if write_batch is not None:
            from ..backends.batch_api import write_batch_file
            from ..backends.cache import open_cache
            from ..io import read_records
            from .translate import RecordTranslator, load_prompt

            records = list(read_records(src))[:limit] if limit else list(read_records(src))
            tr = RecordTranslator(model, prompt=load_prompt("record", prompt), max_tokens=max_tokens,
                                  source_lang=source_lang)
            reqs = [tr.request(r) for r in records if tr.precheck(r) is None]
            n = write_batch_file(reqs, model, write_batch, cache=open_cache(True if cache is None else
                                                                             (False if cache == "off" else cache)))
            typer.echo(f"{n} requests written to {write_batch}; submit it to the Batch API, then run "
                       f"`medinject batch-ingest RESULTS` and this command again without --write-batch")
            return
        summary = run_translate(src, out, spec, rejected_path=rejected, limit=limit, max_tokens=max_tokens,
                                source_lang=source_lang, prompt_file=prompt, progress=not no_progress)
        typer.echo(format_summary(summary))

    @app.command("translate-eval")
    def translate_eval_cmd(
        sample: int = typer.Option(200, "--sample", min=0, help="Sentence pairs to score (0: all 2,562)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the sample."),
        sets: str = typer.Option(None, "--sets", callback=comma_list(), help="Comma-separated test sets (default: "
                                 "every *_en2fr set)."),
        data: Path = typer.Option(None, "--data", help="The shared data folder (default: $MEDINJECT_SHARED/data "
                                  "or ../shared/data)."),
        max_tokens: int = typer.Option(None, "--max-tokens", min=1, help="Cap on output tokens."),
        out: Path = typer.Option(None, "-o", "--out", help="Write the scores as JSON."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
        backend: BackendKind = o.BACKEND, model: str = o.MODEL, base_url: str = o.BASE_URL,
        api_key_env: str = o.API_KEY_ENV, concurrency: int = o.CONCURRENCY, cache: str = o.CACHE,
        prices: Path = o.PRICES, timeout: float = o.TIMEOUT, max_retries: int = o.MAX_RETRIES,
        batch_size: int = o.BATCH_SIZE,
    ) -> None:
        """Score a translator on WMT biomedical EN->FR test sets: BLEU and chrF with sacrebleu signatures."""
        from .evaluate import run_translate_eval

        spec = o.spec_from_options(backend, model, base_url, api_key_env, concurrency, cache, prices, timeout,
                                   max_retries, batch_size)
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

        store = open_cache(True if cache in (None, "off") else cache)
        s = ingest_batch_results(results, store, prices=o.load_prices(prices))
        failed = ", ".join(f"{k}: {v}" for k, v in s["failed"].items()) or "none"
        typer.echo(f"{s['stored']} answers stored in {store.path} (failed: {failed}); "
                   f"cost ${s['cost']:.4f} at the batch discount")
