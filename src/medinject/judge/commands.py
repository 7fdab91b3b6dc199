"""CLI verbs: `judge`, `annotate serve|export|import|tokens`, `agreement`."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import cli_values as v


def register(app: typer.Typer) -> None:
    @app.command("judge")
    def judge_cmd(
        predictions: list[str] = typer.Argument(..., help="Prediction files (or eval folders); NAME=PATH names "
                                                "the system."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
        systems: str = typer.Option(None, callback=v.comma_list(), help="Comma-separated system names, one per "
                                     "file."),
        backend: v.BackendKind = typer.Option("openai", help="Backend kind."),
        model: str = typer.Option(..., help="Judge model (name on the server, or local path)."),
        base_url: str = typer.Option(None, callback=v.url, help="OpenAI-compatible server URL (openai backend)."),
        api_key_env: str = typer.Option(None, help="Environment variable holding the API key."),
        cache: str = typer.Option(None, help="Request cache file (default: the shared cache); 'off' disables it."),
        concurrency: int = typer.Option(8, min=1, help="Requests in flight at once."),
        modes: str = typer.Option("binary,graded", callback=v.comma_list(v.JUDGE_MODES),
                                  help="Absolute verdicts to ask for: binary, graded."),
        pairwise: v.Pairwise = typer.Option("first", help="Pairwise comparisons: first (each system against the "
                                            "first), all pairs, or none."),
        lang: v.JudgeLang = typer.Option("fr", help="Judge prompt language."),
        prompt_dir: Path = typer.Option(None, help="Folder of judge prompt files replacing the shipped ones."),
        max_tokens: int = typer.Option(512, min=1, help="Most tokens the judge may write per verdict."),
        n_boot: int = typer.Option(1000, min=1, help="Bootstrap resamples for the intervals."),
        seed: int = typer.Option(0, help="Bootstrap seed."),
    ) -> None:
        """Judge open-ended answers against their references with an LLM (binary, graded, pairwise)."""
        from .inputs import parse_specs
        from .judge import run_judge, summary_markdown

        summary = run_judge(parse_specs(predictions, systems), out, backend_kind=backend, model=model,
                            base_url=base_url, api_key_env=api_key_env,
                            cache=True if cache is None else (False if cache == "off" else cache),
                            concurrency=concurrency, modes=_modes(modes), pairwise=pairwise, lang=lang,
                            prompt_dir=prompt_dir, max_tokens=max_tokens, n_boot=n_boot, seed=seed)
        typer.echo(summary_markdown(summary))
        c = summary["counts"]
        typer.echo(f"verdicts: {c['verdicts']['ok']} parsed, {c['verdicts']['unparseable']} unparseable, "
                   f"{c['verdicts']['failed']} failed; pairwise: {c['pairwise']['ok']} parsed, "
                   f"{c['pairwise']['unparseable']} unparseable, {c['pairwise']['failed']} failed")
        typer.echo(f"written to {out}")

    annotate = typer.Typer(help="Blind expert rating: a web app, and CSV export and import.", no_args_is_help=True)
    app.add_typer(annotate, name="annotate")

    @annotate.command("serve")
    def serve_cmd(
        predictions: list[str] = typer.Argument(..., help="Prediction files; NAME=PATH names the system."),
        annotators: Path = typer.Option(..., help="YAML or CSV of annotator names and access tokens."),
        db: Path = typer.Option(Path("ratings.sqlite"), help="SQLite file of the ratings."),
        systems: str = typer.Option(None, callback=v.comma_list(), help="Comma-separated system names, one per "
                                     "file."),
        scale: v.Scale = typer.Option("graded", help="graded (1-10) or binary (0/1): the judge's scales."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, min=0, max=65535, help="Port (0 picks a free one)."),
    ) -> None:
        """Serve the rating app until interrupted (Ctrl-C)."""
        from .app import read_annotators, serve
        from .inputs import load_answers, parse_specs

        answers = load_answers(parse_specs(predictions, systems))
        tokens = read_annotators(annotators)
        serve(answers, tokens, db, scale=_scale(scale), host=host, port=port,
              on_ready=lambda url: typer.echo(f"rating app on {url} ({len(answers)} answers, "
                                              f"{len(tokens)} annotators, ratings in {db})"))

    @annotate.command("export")
    def export_cmd(
        db: Path = typer.Option(..., help="SQLite file of the ratings."),
        out: Path = typer.Option(..., "-o", "--out", help="CSV to write."),
    ) -> None:
        """Write every rating to CSV (annotator, item_id, system, score, comment, created_at, updated_at)."""
        store = _open(db)
        n = store.export_csv(out)
        per = ", ".join(f"{a}: {k}" for a, k in sorted(store.progress().items()))
        typer.echo(f"{n} ratings written to {out}" + (f" ({per})" if per else ""))

    @annotate.command("import")
    def import_cmd(
        csv_file: Path = typer.Argument(..., help="CSV in the export format."),
        db: Path = typer.Option(..., help="SQLite file of the ratings (created if missing)."),
        scale: v.Scale = typer.Option(None, help="Default for a new database: graded."),
    ) -> None:
        """Add ratings collected elsewhere (a rating already there for the same annotator and answer is replaced)."""
        from .store import RatingStore

        store = RatingStore(db, _scale(scale) if scale else None if db.exists() else _scale("graded"))
        n = store.import_csv(csv_file)
        typer.echo(f"{n} ratings imported into {db}")

    @annotate.command("tokens")
    def tokens_cmd(
        names: list[str] = typer.Argument(..., callback=v.names, help="Annotator names (distinct)."),
        out: Path = typer.Option(..., "-o", "--out", help="YAML file to write (keep it private)."),
    ) -> None:
        """Write an annotators file with a fresh random token per annotator."""
        import secrets

        import yaml

        from ..io import write_text

        rows = [{"name": n, "token": secrets.token_urlsafe(18)} for n in names]
        write_text(out, yaml.safe_dump(rows, allow_unicode=True, sort_keys=False))
        out.chmod(0o600)
        typer.echo(f"{len(rows)} tokens written to {out}")

    @app.command("agreement")
    def agreement_cmd(
        human: Path = typer.Argument(..., help="Expert ratings CSV (the format of `annotate export`)."),
        scores: list[str] = typer.Argument(..., help="Judge outputs and prediction files with per-item metrics; "
                                           "NAME=PATH names a judge, or the system of a predictions file."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
        level: v.KrippendorffLevel = typer.Option(None, help="Krippendorff level (default: nominal "
                                  "for 0/1 ratings, else interval)."),
        n_boot: int = typer.Option(1000, min=1, help="Bootstrap resamples for the intervals."),
        seed: int = typer.Option(0, help="Bootstrap seed."),
    ) -> None:
        """Correlation of each judge and metric with the mean expert rating, and inter-annotator agreement."""
        from ..io import read_json
        from .agreement import run_agreement

        run_agreement(human, scores, out, level=level, n_boot=n_boot, seed=seed)
        typer.echo((out / "agreement.md").read_text(encoding="utf-8"))
        typer.echo(f"written to {out} ({len(read_json(out / 'agreement.json')['plots'])} plots)")


def _modes(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def _scale(name: str) -> tuple[int, int]:
    from ..errors import MedinjectError
    from .verdicts import MODES, load_prompt

    if name not in MODES:
        raise MedinjectError(f"--scale must be one of {', '.join(MODES)}, got {name!r}")
    return load_prompt(name).scale


def _open(db: Path):
    from ..errors import MedinjectError
    from .store import RatingStore

    if not db.exists():
        raise MedinjectError(f"{db}: file not found")
    return RatingStore(db)
