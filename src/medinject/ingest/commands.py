from __future__ import annotations

from pathlib import Path

import typer

from ..cli_values import IngestFormat
from ..records import Origin


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_cmd(
        source: Path = typer.Argument(..., help="File or folder to import (or a hub id for "
                                      "--format medinjection: a component set or the merged set)."),
        fmt: IngestFormat = typer.Option(..., "--format", "-f", help="Source format."),
        origin: Origin = typer.Option(None, help="Provenance of the records (required for records)."),
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
        from ..io import refuse_overwrite, write_jsonl, write_records
        from . import PASSAGE_FORMATS, IngestSummary, get_importer, ingest

        map_file = mapping if mapping and Path(mapping).is_file() else None
        refuse_overwrite([source, map_file], [out])
        get_importer(fmt)  # an unknown format fails before anything else
        allowed = (".jsonl",) if fmt in PASSAGE_FORMATS else (".jsonl", ".parquet")
        if out.suffix not in allowed:
            raise MedinjectError(f"{out}: the output must be a {' or '.join(allowed)} file")
        if mapping and fmt != "generic":
            raise MedinjectError(f"--map only applies to --format generic, not {fmt}")
        kwargs = {"split": split or "train"} if split or fmt != "medinjection" else {}
        if fmt not in PASSAGE_FORMATS:
            if origin is None and fmt not in ("medinjection", "reference-eval", "generic"):
                raise MedinjectError(f"--origin is required for --format {fmt} (native, translated or synthetic)")
            kwargs["origin"] = origin
        if source_name:
            kwargs["source"] = source_name
        if lang:
            kwargs["lang"] = lang
        if mapping:
            kwargs["mapping"] = mapping
        summary = IngestSummary()
        items = ingest(source, fmt, summary=summary, **kwargs)
        n = write_jsonl(out, items) if fmt in PASSAGE_FORMATS else write_records(out, items)
        kind = "passages" if fmt in PASSAGE_FORMATS else "records"
        changes = summary.line()
        typer.echo(f"{n} {kind} written to {out}" + (f" ({changes})" if changes else ""))
