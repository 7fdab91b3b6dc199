from __future__ import annotations

from pathlib import Path

import typer

from ..cli_values import comma_list


def register(app: typer.Typer) -> None:
    @app.command("mix")
    def mix_cmd(
        out: Path = typer.Option(..., "-o", "--out", help="Output folder: one sub-folder per configuration."),
        spec_file: Path = typer.Option(None, "--spec", help="YAML mix spec (size, seed, pools, configs, weights, "
                                       "tasks); the options below override it."),
        native: list[Path] = typer.Option(None, "--native", help="Native pool file(s)."),
        translated: list[Path] = typer.Option(None, "--translated", help="Translated pool file(s)."),
        synthetic: list[Path] = typer.Option(None, "--synthetic", help="Synthetic pool file(s)."),
        pool: list[Path] = typer.Option(None, "--pool", help="A file holding several provenances (e.g. "
                                        "curated.jsonl): each record joins the pool of its origin."),
        size: int = typer.Option(None, "--size", min=1, help="Records per configuration (the paper: 33493)."),
        seed: int = typer.Option(None, "--seed", help="Sampling seed (default 0)."),
        configs: str = typer.Option(None, "--configs", callback=comma_list(), help="Comma-separated subset, "
                                    "e.g. NAT,TRAD,ALL (default: the paper's seven plus the spec's custom ones)."),
        allow_shrink: bool = typer.Option(False, "--allow-shrink", help="If a pool is too small for N, build "
                                          "every configuration with the largest N possible (the manifest says so)."),
        task_types: str = typer.Option(None, "--task-types", help="Comma-separated tasks to draw, e.g. mcq,mcqu "
                                       "(the paper: multiple-choice only); default: all."),
        missing_tasks: str = typer.Option(None, "--missing-tasks", help="A task some pools have and one lacks: "
                                          "error (default), redistribute (that origin spreads its share over its "
                                          "other tasks) or drop (left out everywhere)."),
    ) -> None:
        """Build the provenance mixtures NAT, TRAD, SYN, NAT-TRAD, NAT-SYN, TRAD-SYN, ALL (or custom ones)."""
        from ..errors import MedinjectError
        from ..records import Origin
        from .pipeline import run_spec
        from .spec import load_spec, parse_spec

        data = load_spec(spec_file).model_dump(mode="json") if spec_file else {}
        pools = {k: list(v) for k, v in data.get("pools", {}).items()}
        if spec_file:  # paths in a spec are relative to the spec file
            pools = {k: [str((spec_file.parent / p) if not Path(p).is_absolute() else p) for p in v]
                     for k, v in pools.items()}
        for origin, files in ((Origin.NATIVE, native), (Origin.TRANSLATED, translated),
                              (Origin.SYNTHETIC, synthetic)):
            if files:
                pools[origin.value] = [str(f) for f in files]
        for f in pool or []:
            for origin in Origin:
                pools.setdefault(origin.value, [])
                if str(f) not in pools[origin.value]:
                    pools[origin.value].append(str(f))
        pools = {k: v for k, v in pools.items() if v}
        if not pools:
            raise MedinjectError("no pools: give --native/--translated/--synthetic FILE, --pool FILE or --spec")
        data["pools"] = pools
        from ..io import refuse_overwrite

        refuse_overwrite([spec_file, *(f for files in pools.values() for f in files)], [out])
        for key, value in (("size", size), ("seed", seed)):
            if value is not None:
                data[key] = value
        if "size" not in data:
            raise MedinjectError("--size is required (or `size:` in the spec)")
        if configs:
            data["configs"] = [c.strip() for c in configs.split(",") if c.strip()]
        if allow_shrink:
            data["allow_shrink"] = True
        if task_types:
            data["task_types"] = [t.strip() for t in task_types.split(",") if t.strip()]
        if missing_tasks:
            data["missing_tasks"] = missing_tasks
        summary = run_spec(parse_spec(data, spec_file), out)
        if summary["shrunk"]:
            import logging

            logging.getLogger("medinject.mix").warning(summary["shrink_reason"])
        for name, m in summary["configs"].items():
            origins = ", ".join(f"{k} {v}" for k, v in m["counts"]["origin"].items())
            tasks = ", ".join(f"{k} {v}" for k, v in m["counts"]["task"].items())
            typer.echo(f"{name}: {m['size']} records ({origins}; {tasks}) -> {out / name / 'train.jsonl'}")
        if summary.get("plot"):
            typer.echo(f"composition plot: {summary['plot']}")
