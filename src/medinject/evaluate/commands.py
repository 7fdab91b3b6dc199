from __future__ import annotations

from pathlib import Path

import typer

from .. import cli_values as v


def _print(renderable) -> None:
    from rich.console import Console

    Console(width=140).print(renderable)


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        model: str = typer.Option(..., "--model", "-m", help="Causal LM: hub id or local folder."),
        data: list[Path] = typer.Option(..., "--data", "-d", help="Record file(s), .jsonl or .parquet (repeat)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
        adapter: str = typer.Option(None, help="PEFT adapter folder to load onto the model."),
        mode: v.EvalMode = typer.Option("fast", help="paper: the reference procedure exactly; fast: the same "
                                 "predictions sooner."),
        modes: str = typer.Option("constrained,greedy", callback=v.comma_list(v.DECODING_MODES),
                                  help="Decoding modes for multiple choice: constrained, greedy."),
        permute: int = typer.Option(0, min=0, help="K seeded random option orders per multiple-choice item."),
        circular: bool = typer.Option(False, "--circular", help="Also evaluate every cyclic rotation of the options."),
        seed: int = typer.Option(0, help="Seed for permutations and bootstrap intervals."),
        batch_size: int = typer.Option(16, min=1, help="Prompts per forward pass."),
        max_new_tokens: int = typer.Option(512, min=1, help="Token limit of open-ended answers."),
        bertscore_model: str = typer.Option("bert-base-multilingual-cased", help="BERTScore encoder (hub id or "
                                            "folder), or 'none'."),
        bertscore_layers: int = typer.Option(None, min=1, help="Encoder layer for BERTScore (default: bert-score's "
                                             "choice, or the last layer)."),
        n_boot: int = typer.Option(1000, min=1, help="Bootstrap resamples per interval."),
        device: str = typer.Option(None, callback=v.device, help="cpu, cuda, cuda:1... or auto (cuda when "
                                    "available, the default)."),
        dtype: v.Dtype = typer.Option("auto", help="auto: bfloat16 on GPU, float32 on CPU."),
        limit: int = typer.Option(None, min=1, help="Only the first N records of each file."),
        engine: v.Engine = typer.Option("transformers", help="vllm: GPU, extra 'vllm'."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
        report_to: str = typer.Option(None, "--report-to", help="Also log the summary, its config and data "
                                      "hashes to tensorboard (OUT/runs) or wandb (extra 'wandb')."),
        prompt_style: str = typer.Option(None, "--prompt-style", help="paper (each record's own source prompt, "
                                         "else the authors' rendering), authors, or medinject-fr (default: paper "
                                         "in paper mode, medinject-fr otherwise)."),
        per_item: bool = typer.Option(None, "--per-item/--batched", help="One item per forward pass, no prefix "
                                      "sharing: the numerics of per-item generate (default: on in paper mode)."),
        chat_template: Path = typer.Option(None, "--chat-template", help="Jinja chat template file replacing "
                                           "or supplying the model's own."),
    ) -> None:
        """Score a causal LM on record files: multiple choice (constrained and greedy) and open-ended answers."""
        from ..io import refuse_overwrite
        from .runner import run_eval
        from .summary import headline_line, results_table

        local = [p for p in (model, adapter, bertscore_model) if p and Path(p).exists()]
        refuse_overwrite([*data, *local], [out])
        summary = run_eval(
            model, data, out, adapter=adapter, modes=[m.strip() for m in modes.split(",") if m.strip()], mode=mode,
            permute=permute, circular=circular, seed=seed, batch_size=batch_size, max_new_tokens=max_new_tokens,
            bertscore_model=bertscore_model, bertscore_layers=bertscore_layers, n_boot=n_boot, device=device,
            dtype=dtype, limit=limit, engine=engine, progress=progress, prompt_style=prompt_style, per_item=per_item,
            chat_template=chat_template,
        )
        _print(results_table(summary["results"]))
        line = headline_line(summary)
        if line:
            typer.echo(line)
        typer.echo(f"predictions and summary written to {out}")
        if report_to:
            from ..tracking import report_run

            report_run(summary, report_to, log_dir=out / "runs", name=f"eval-{out.name}")

    @app.command("score")
    def score_cmd(
        predictions: Path = typer.Argument(..., help="Predictions JSONL (id, task, gold/pred or "
                                           "reference/prediction; optional source, mode, variant), or an "
                                           "lm-eval --log_samples file (samples_*.jsonl)."),
        out: Path = typer.Option(None, "-o", "--out", help="Write the summary JSON here."),
        seed: int = typer.Option(0, help="Seed for bootstrap intervals."),
        n_boot: int = typer.Option(1000, min=1, help="Bootstrap resamples per interval."),
        bertscore_model: str = typer.Option("bert-base-multilingual-cased", help="BERTScore encoder, or 'none'."),
        bertscore_layers: int = typer.Option(None, min=1, help="Encoder layer for BERTScore."),
    ) -> None:
        """Recompute every metric from predictions made by `eval` or by any other tool."""
        from ..interop.lmeval import is_samples_file, read_samples
        from ..io import refuse_overwrite
        from . import oeq
        from .summary import SCHEMA, headline_line, read_predictions, results_table, score_rows, summarize

        refuse_overwrite([predictions], [out])
        rows = read_samples(predictions) if is_samples_file(predictions) else read_predictions(predictions)
        model = oeq.resolve_bertscore_model(bertscore_model)
        bertscore = None
        if model and any(r["task"] == "oeq" for r in rows):
            bertscore = {"model": model, "layer": oeq.bertscore_layer(model, bertscore_layers)}
        score_rows(rows, bertscore_model=model, bertscore_layers=bertscore_layers)
        summary = {"schema": SCHEMA, "settings": {"predictions": str(predictions), "seed": seed, "n_boot": n_boot,
                                                  "bertscore_model": model},
                   **summarize(rows, seed=seed, n_boot=n_boot, bertscore=bertscore)}
        _print(results_table(summary["results"], title=f"medinject score {predictions.name}"))
        if headline_line(summary):
            typer.echo(headline_line(summary))
        if out:
            from ..io import write_json

            write_json(out, summary)
            typer.echo(f"summary written to {out}")

    @app.command("compare")
    def compare_cmd(
        a: Path = typer.Argument(..., help="Run A: an eval output folder or a predictions JSONL."),
        b: Path = typer.Argument(..., help="Run B."),
        metric: v.CompareMetric = typer.Option("em", help="em, hamming, or an open-ended metric."),
        test: v.CompareTest = typer.Option("bootstrap", help="bootstrap (paired) or permutation (paired sign flips)."),
        seed: int = typer.Option(0, help="Seed."),
        n_boot: int = typer.Option(1000, min=1, help="Bootstrap resamples."),
        out: Path = typer.Option(None, "-o", "--out", help="Write the comparison JSON here."),
    ) -> None:
        """Paired test between two runs on their shared items: difference B - A, interval, p-value."""
        from ..io import refuse_overwrite
        from .compare import compare_runs, compare_table

        refuse_overwrite([a, b], [out])
        report = compare_runs(a, b, metric=metric, test=test, seed=seed, n_boot=n_boot)
        _print(compare_table(report))
        if out:
            from ..io import write_json

            write_json(out, report)
