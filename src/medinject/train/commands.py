from __future__ import annotations

from pathlib import Path

import typer

from ..cli_values import Dtype


def register(app: typer.Typer) -> None:
    @app.command("train", context_settings={"allow_extra_args": False})
    def train_cmd(
        overrides: list[str] = typer.Argument(None, help="Settings as key=value (dotted for nested: adapter.r=8); "
                                              "any SFTConfig field, e.g. max_steps=5 learning_rate=2e-4."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML config, e.g. configs/train/paper.yaml."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in output_dir "
                                    "(starts afresh when there is none)."),
    ) -> None:
        """Fine-tune a causal LM with a DoRA adapter on record files (one mix)."""
        from .config import load_config
        from .recipe import train

        extra = ["resume=true"] if resume else []
        cfg = load_config(config, [*(overrides or []), *extra])
        from ..io import refuse_overwrite

        local_model = [cfg.model] if Path(str(cfg.model)).exists() else []
        refuse_overwrite([config, *cfg.data, *cfg.eval_data, *local_model], [cfg.output_dir])
        out = train(cfg)
        typer.echo(f"adapter, tokenizer, manifest and model card written to {out}")

    @app.command("merge")
    def merge_cmd(
        adapter: Path = typer.Argument(..., help="A trained adapter folder (the output_dir of `medinject train`)."),
        out: Path = typer.Option(..., "-o", "--out", help="Folder for the merged model."),
        base: str = typer.Option(None, help="Base model (default: the one recorded in the adapter)."),
        dtype: Dtype = typer.Option("auto", help="Dtype of the merged weights."),
    ) -> None:
        """Fold an adapter into its base model's weights."""
        from ..io import refuse_overwrite
        from .merge import merge_adapter

        refuse_overwrite([adapter, *([base] if base and Path(base).exists() else [])], [out])
        merge_adapter(adapter, out, base=base, dtype=dtype)
        typer.echo(f"merged model written to {out}")
