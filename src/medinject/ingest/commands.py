from __future__ import annotations

from pathlib import Path

import typer

from ..records import Origin


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_cmd(
        source: Path = typer.Argument(..., help="File or folder to import (or a hub id for "
                               "--format medinjection: a component set or the merged set)."),
        fmt: str = typer.Option(..., "--format", "-f", help="frenchmedmcqa, medqa, mmlu, medinjection, "
                                "reference-eval, e3c, morfitt or generic."),
        origin: Origin = typer.Option(None, help="native, translated or synthetic (required for records)."),
        split: str = typer.Option(None, help="Split name stored in every record (default: train). medinjection: "
                                  "splits come from the Train/Validation/Test folders or file names, and a "
                                  "given split selects that one."),
        source_name: str = typer.Option(None, "--source", help="Data set name stored in `source`."),
        lang: str = typer.Option(None, help="Language code (default: the format's own)."),
        mapping: str = typer.Option(None, "--map", help="generic: field mapping, a YAML file or "
                                    "'question=q,options=opt_a|opt_b,answer=gold,...'."),
        out: Path = typer.Option(..., "-o", "--out", help="Output .jsonl or .parquet."),
    ) -> None:
        """Import a data set into medinject records (or passages, for e3c and morfitt)."""
        from ..errors import MedinjectError
        from ..io import write_jsonl, write_records
        from . import PASSAGE_FORMATS, get_importer

        importer = get_importer(fmt)
        allowed = (".jsonl",) if fmt in PASSAGE_FORMATS else (".jsonl", ".parquet")
        if out.suffix not in allowed:
            raise MedinjectError(f"{out}: the output must be a {' or '.join(allowed)} file")
        if mapping and fmt != "generic":
            raise MedinjectError(f"--map only applies to --format generic, not {fmt}")
        kwargs = {"split": split or "train"} if split or fmt != "medinjection" else {}
        if fmt not in PASSAGE_FORMATS:
            if origin is None and fmt not in ("medinjection", "reference-eval"):
                raise MedinjectError(f"--origin is required for --format {fmt} (native, translated or synthetic)")
            kwargs["origin"] = origin
        if source_name:
            kwargs["source"] = source_name
        if lang:
            kwargs["lang"] = lang
        if mapping:
            kwargs["mapping"] = mapping
        stats: dict = {}
        if fmt == "medinjection":
            kwargs["stats"] = stats
        items = importer(source, **kwargs)
        n = write_jsonl(out, items) if fmt in PASSAGE_FORMATS else write_records(out, items)
        kind = "passages" if fmt in PASSAGE_FORMATS else "records"
        note = ""
        if stats.get("options_unparsed"):
            note = (f"; {stats['options_unparsed']} with options that could not be read from the prompt (kept with "
                    "meta.options_parsed=false, evaluated through their verbatim prompt)")
        typer.echo(f"{n} {kind} written to {out}{note}")
