"""CLI verbs: `judge`, `annotate serve|export|import|tokens`, `agreement`."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import cli_values as v
from ..backends.options import llm_options


def register(app: typer.Typer) -> None:
    @app.command("judge")
    @llm_options
    def judge_cmd(
        predictions: list[str] = typer.Argument(..., help="Prediction files (or eval folders); NAME=PATH names "
                                                "the system."),
        out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
        systems: str = typer.Option(None, callback=v.comma_list(), help="Comma-separated system names, one per "
                                     "file."),
        modes: str = typer.Option("binary,graded", callback=v.comma_list(v.JUDGE_MODES),
                                  help="Absolute verdicts to ask for: paper (the authors' judge: "
                                  "English, one token, first standalone 0/1), binary, graded (ours)."),
        pairwise: v.Pairwise = typer.Option("first", help="Pairwise comparisons: first (each system against the "
                                            "first), all pairs, or none."),
        lang: v.JudgeLang = typer.Option("fr", help="Judge prompt language."),
        prompt_dir: Path = typer.Option(None, help="Folder of judge prompt files replacing the shipped ones."),
        max_tokens: int = typer.Option(512, min=1, help="Most tokens the judge may write per verdict."),
        verdict: v.JudgeVerdict = typer.Option("free", help="free: reasoning then a 'Verdict:' line, as the prompt "
                                               "asks; constrained: only a JSON verdict held to the scale (guided "
                                               "decoding locally, response_format on an API), for small models."),
        n_boot: int = typer.Option(1000, min=1, help="Bootstrap resamples for the intervals."),
        seed: int = typer.Option(0, help="Bootstrap seed."),
        report_to: str = typer.Option(None, "--report-to", help="Also log the summary, its config and data "
                                      "hashes to tensorboard (OUT/runs) or wandb (extra 'wandb')."),
        spec=None,
    ) -> None:
        """Judge open-ended answers against their references with an LLM (binary, graded, pairwise)."""
        from ..io import refuse_overwrite
        from .inputs import parse_specs
        from .judge import run_judge, summary_markdown

        answers, wanted = parse_specs(predictions, systems), _modes(modes)
        refuse_overwrite([*(p for p, _ in answers), prompt_dir, *spec.files.get("inputs", ())],
                         [out, spec.files.get("cache")])
        from .verdicts import load_prompt

        for mode in [*wanted, *(["pairwise"] if pairwise != "none" else [])]:  # fail before a model loads
            load_prompt(mode, lang, prompt_dir)
        backend = spec.build()
        try:
            summary = run_judge(answers, out, backend=backend, backend_kind=spec.kind, modes=wanted,
                                pairwise=pairwise, lang=lang, prompt_dir=prompt_dir, max_tokens=max_tokens,
                                verdict=verdict, n_boot=n_boot, seed=seed)
        finally:
            backend.close()
        typer.echo(summary_markdown(summary))
        c = summary["counts"]
        typer.echo(f"verdicts: {c['verdicts']['ok']} parsed, {c['verdicts']['unparseable']} unparseable, "
                   f"{c['verdicts']['failed']} failed; pairwise: {c['pairwise']['ok']} parsed, "
                   f"{c['pairwise']['unparseable']} unparseable, {c['pairwise']['failed']} failed")
        typer.echo(f"written to {out}")
        if report_to:
            from ..tracking import report_run

            report_run(summary, report_to, log_dir=out / "runs", name=f"judge-{out.name}",
                       inputs=[p for p, _ in parse_specs(predictions, systems)])

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
        from ..io import refuse_overwrite
        from .app import read_annotators, serve
        from .inputs import load_answers, parse_specs

        specs = parse_specs(predictions, systems)
        refuse_overwrite([*(p for p, _ in specs), annotators], [db])
        answers = load_answers(specs)
        tokens = read_annotators(annotators)
        serve(answers, tokens, db, scale=_scale(scale), host=host, port=port,
              on_ready=lambda url: typer.echo(f"rating app on {url} ({len(answers)} answers, "
                                              f"{len(tokens)} annotators, ratings in {db})"))

    @annotate.command("export")
    def export_cmd(
        predictions: list[str] = typer.Argument(None, help="With --to argilla|label-studio: prediction files "
                                                "(NAME=PATH names the system)."),
        to: str = typer.Option("csv", "--to", help="csv (the ratings in --db), or argilla / label-studio (blind "
                               "tasks to rate there)."),
        db: Path = typer.Option(None, help="SQLite file of the ratings (--to csv)."),
        annotators: str = typer.Option(None, help="With --to argilla|label-studio: the annotators file of "
                                       "`serve`, or comma-separated names."),
        systems: str = typer.Option(None, help="Comma-separated system names, one per file."),
        scale: str = typer.Option("graded", help="graded (1-10) or binary (0/1)."),
        out: Path = typer.Option(..., "-o", "--out", help="CSV to write (--to csv), or a folder."),
    ) -> None:
        """Write every rating to CSV, or blind per-annotator tasks for Argilla or Label Studio."""
        from ..errors import MedinjectError

        if to != "csv":
            from .inputs import load_answers, parse_specs
            from .tools import export_tasks

            if not predictions or not annotators:
                raise MedinjectError(f"--to {to} needs prediction files and --annotators")
            names = _annotator_names(annotators)
            written = export_tasks(load_answers(parse_specs(predictions, systems)), names, to, out,
                                   scale=_scale(scale))
            typer.echo(f"{len(written)} task file(s) for {to} in {out} ({sum(written.values())} tasks); keep "
                       f"{out / 'key.csv'} to yourself: it names the systems")
            return
        if db is None:
            raise MedinjectError("--to csv needs --db")
        from ..io import refuse_overwrite

        refuse_overwrite([db], [out])
        store = _open(db)
        n = store.export_csv(out)
        per = ", ".join(f"{a}: {k}" for a, k in sorted(store.progress().items()))
        typer.echo(f"{n} ratings written to {out}" + (f" ({per})" if per else ""))

    @annotate.command("import")
    def import_cmd(
        files: list[Path] = typer.Argument(..., help="CSV in the export format, or the tool's JSON export(s)."),
        source: str = typer.Option("csv", "--from", help="csv, argilla (records JSON) or label-studio (JSON "
                                   "export)."),
        key: Path = typer.Option(None, "--key", help="With --from argilla|label-studio: the key.csv of "
                                 "`annotate export --to`."),
        users: Path = typer.Option(None, "--users", help="Tool user (id or e-mail) to annotator name, YAML or "
                                   "CSV (default: the annotator each file was made for)."),
        db: Path = typer.Option(None, help="SQLite file of the ratings (created if missing)."),
        out: Path = typer.Option(None, "-o", "--out", help="With --from argilla|label-studio: also write the "
                                 "ratings CSV here."),
        scale: v.Scale = typer.Option(None, help="graded or binary (default for a new database: graded)."),
    ) -> None:
        """Add ratings collected elsewhere (a rating already there for the same annotator and answer is replaced)."""
        from ..errors import MedinjectError
        from ..io import refuse_overwrite
        from .store import RatingStore

        refuse_overwrite(files, [db, out])

        if source == "csv":
            if db is None or len(files) != 1:
                raise MedinjectError("--from csv takes one CSV file and --db")
            store = RatingStore(db, _scale(scale) if scale else None if db.exists() else _scale("graded"))
            n = store.import_csv(files[0])
            typer.echo(f"{n} ratings imported into {db}")
            return
        from .tools import import_ratings, read_users, write_ratings_csv

        if key is None or (db is None and out is None):
            raise MedinjectError(f"--from {source} needs --key, and --db or -o")
        rows = import_ratings(files, source, key, users=read_users(users))
        if out is not None:
            write_ratings_csv(out, rows)
            typer.echo(f"{len(rows)} ratings written to {out}")
        if db is not None:
            import tempfile

            store = RatingStore(db, _scale(scale) if scale else None if db.exists() else _scale("graded"))
            with tempfile.TemporaryDirectory() as tmp:  # one way in for every import: the checks of import_csv
                csv_path = Path(tmp) / "ratings.csv"
                write_ratings_csv(csv_path, rows)
                n = store.import_csv(csv_path)
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
        from ..io import read_json, refuse_overwrite
        from .agreement import run_agreement
        from .inputs import parse_specs

        refuse_overwrite([human, *(p for p, _ in parse_specs(scores))], [out])
        run_agreement(human, scores, out, level=level, n_boot=n_boot, seed=seed)
        typer.echo((out / "agreement.md").read_text(encoding="utf-8"))
        typer.echo(f"written to {out} ({len(read_json(out / 'agreement.json')['plots'])} plots)")


def _modes(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def _scale(name: str) -> tuple[int, int]:
    from ..errors import MedinjectError
    from .verdicts import DEFAULT_MODES, load_prompt

    if name not in DEFAULT_MODES:
        raise MedinjectError(f"--scale must be one of {', '.join(DEFAULT_MODES)}, got {name!r}")
    return load_prompt(name).scale


def _annotator_names(spec: str) -> list[str]:
    path = Path(spec)
    if path.exists():
        from .app import read_annotators

        return list(read_annotators(path).values())
    return [n.strip() for n in spec.split(",") if n.strip()]


def _open(db: Path):
    from ..errors import MedinjectError
    from .store import RatingStore

    if not db.exists():
        raise MedinjectError(f"{db}: file not found")
    return RatingStore(db)
