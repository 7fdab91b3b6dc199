"""Command-line options shared by every verb that calls an LLM, and their conversion to a BackendSpec."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from .. import cli_values as v
from . import BackendSpec

BACKEND = typer.Option("openai", "--backend", help="openai: any OpenAI-compatible server.")
# Not required by typer: a verb that can run without a model (translate-eval --hypotheses) says what it needs,
# and BackendSpec.build() refuses an empty one in one line.
MODEL = typer.Option(None, "--model", help="Model name at the server, or a local model folder (required).")
BASE_URL = typer.Option(None, "--base-url", callback=v.url, help="OpenAI-compatible server, e.g. "
                        "http://127.0.0.1:8000/v1 (default: the OpenAI API).")
API_KEY_ENV = typer.Option(None, "--api-key-env", help="Environment variable holding the API key "
                           "(default OPENAI_API_KEY for the OpenAI API, none for other servers).")
CONCURRENCY = typer.Option(8, "--concurrency", min=1, help="Requests in flight at once (openai backend).")
CACHE = typer.Option(None, "--cache", help="Request cache file (SQLite; default $MEDINJECT_CACHE or "
                     "~/.cache/medinject/requests.sqlite), or 'off'.")
PRICES = typer.Option(None, "--prices", help="YAML/JSON file: {model: {input: X, output: Y}} in $ per "
                      "million tokens, for cost accounting.")
TIMEOUT = typer.Option(120.0, "--timeout", callback=v.positive, help="Seconds before a request counts as hung "
                       "and is retried.")
MAX_RETRIES = typer.Option(6, "--max-retries", min=0, help="Retries of a request on 429, 5xx, timeouts, dropped "
                           "connections.")
BATCH_SIZE = typer.Option(8, "--batch-size", min=1, help="Generation batch size (transformers backend).")


def load_prices(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    import yaml

    from ..errors import InputError

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except yaml.YAMLError as e:
        raise InputError(path, f"not YAML/JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of model name to {input, output} prices")
    return data


def cache_path(cache: str | None) -> Path | None:
    """The cache file named by --cache, when one is (an output of the verb)."""
    return Path(cache) if cache and cache != "off" else None


def spec_from_options(backend: str, model: str, base_url: str | None, api_key_env: str | None, concurrency: int,
                      cache: str | None, prices: Path | None, timeout: float, max_retries: int,
                      batch_size: int) -> BackendSpec:
    options: dict[str, Any] = {}
    if backend == "openai":
        options.update(timeout=timeout, max_retries=max_retries)
    elif backend == "transformers":
        options.update(batch_size=batch_size)
    return BackendSpec(kind=backend, model=model, base_url=base_url, api_key_env=api_key_env, cache=cache,
                       concurrency=concurrency, prices=load_prices(prices), options=options)


# name, type, option: the parameters `llm_options` adds to a command, in `spec_from_options` order.
SHARED = (("backend", v.BackendKind, BACKEND), ("model", str, MODEL), ("base_url", str, BASE_URL),
          ("api_key_env", str, API_KEY_ENV), ("concurrency", int, CONCURRENCY), ("cache", str, CACHE),
          ("prices", Path, PRICES), ("timeout", float, TIMEOUT), ("max_retries", int, MAX_RETRIES),
          ("batch_size", int, BATCH_SIZE))


def _prefixed(prefix: str, optional_model: bool) -> tuple:
    """The shared options renamed `--PREFIX-name` (e.g. `--judge-model` for curation's quality judge)."""
    out = []
    for name, kind, option in SHARED:
        default = None if (name == "model" and optional_model) else option.default
        flag = f"--{prefix}-{name.replace('_', '-')}"
        extra = {k: getattr(option, k) for k in ("min", "max", "callback") if getattr(option, k, None) is not None}
        out.append((f"{prefix}_{name}", kind, typer.Option(default, flag, help=option.help, **extra)))
    return tuple(out)


def llm_options(command: Callable[..., Any] | None = None, *, prefix: str = "", optional: bool = False):
    """Give a typer command every shared LLM option; it receives them as one `spec: BackendSpec` argument.

    Put it under `@app.command(...)`. The command declares `spec` (or `PREFIX_spec`) as its last parameter and
    keeps its own options; `--model` and the rest are added here, so every LLM verb takes the same ones. With
    `prefix="judge"` the options are `--judge-model`, `--judge-backend`...; with `optional=True` the model may
    be left out, and the command then receives None.
    """
    if command is None:
        return functools.partial(llm_options, prefix=prefix, optional=optional)
    shared = _prefixed(prefix, optional) if prefix else SHARED
    arg = f"{prefix}_spec" if prefix else "spec"
    sig = inspect.signature(command)
    own = [p for p in sig.parameters.values() if p.name != arg]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
             for name, kind, option in shared]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = [kwargs.pop(name) for name, _, _ in shared]
        spec = None if optional and not values[1] else spec_from_options(*values)
        if spec is not None:
            # The files behind the options, for the verb's input/output overlap check (`io.refuse_overwrite`):
            # the prices file, and the model when it is a local folder (no output may land inside it).
            local = [values[1]] if values[1] and Path(values[1]).expanduser().exists() else []
            spec.files = {"inputs": [values[6], *local], "cache": cache_path(values[5])}
        return command(**kwargs, **{arg: spec})

    wrapper.__signature__ = sig.replace(parameters=own + added)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != arg},
                               **{name: kind for name, kind, _ in shared}}
    return wrapper
