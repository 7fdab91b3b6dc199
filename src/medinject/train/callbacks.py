"""Trainer callbacks: per-step seeding, a progress bar with loss and tokens/s, wall time that survives a resume."""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

WALL_FILE = "medinject_wall_time.json"


def previous_wall_time(checkpoint: str | Path | None) -> float:
    if checkpoint is None:
        return 0.0
    try:
        return float(json.loads((Path(checkpoint) / WALL_FILE).read_text())["wall_time_s"])
    except (OSError, ValueError, KeyError):
        return 0.0


class StepSeed(TrainerCallback):
    """Seeds the RNGs at each optimizer step from (seed, step), so dropout masks do not depend on history.

    The Trainer restores RNG state from a checkpoint, but that state is saved before the epoch-end evaluation,
    whose data loader draws from the global generator: a resumed run would then drop out different units.
    """

    def on_step_begin(self, args, state, control, **kwargs):
        from transformers import set_seed

        set_seed(args.seed + state.global_step)


class WallClock(TrainerCallback):
    """Stores the run's total wall time so far in each checkpoint, so a resumed run reports the whole."""

    def __init__(self, before_s: float = 0.0):
        self.before_s = before_s
        self.t0 = time.monotonic()

    @property
    def total_s(self) -> float:
        return self.before_s + time.monotonic() - self.t0

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                (ckpt / WALL_FILE).write_text(json.dumps({"wall_time_s": self.total_s}))


class ProgressBar(TrainerCallback):
    """One bar over optimizer steps; the postfix shows the last logged loss and this session's tokens/s."""

    def __init__(self):
        self.bar = None
        self.stack = None
        self.step = 0
        self.t0 = 0.0
        self.tokens0 = 0
        self.postfix: dict[str, str] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        import contextlib

        from ..progress import progress

        self.stack = contextlib.ExitStack()
        self.bar = self.stack.enter_context(progress("train", state.max_steps, completed=state.global_step,
                                                     stats=True))
        self.step = state.global_step
        self.t0 = time.monotonic()
        self.tokens0 = state.num_input_tokens_seen

    def _stats(self) -> str:
        return "  ".join(f"{k} {v}" for k, v in self.postfix.items())

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is None:
            return
        elapsed = time.monotonic() - self.t0
        if elapsed > 0:
            self.postfix["tok/s"] = f"{(state.num_input_tokens_seen - self.tokens0) / elapsed:,.0f}"
        self.bar.advance(state.global_step - self.step, stats=self._stats())
        self.step = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is None or not logs:
            return
        if "loss" in logs:
            self.postfix["loss"] = f"{logs['loss']:.4f}"
        if "eval_loss" in logs:
            self.postfix["eval_loss"] = f"{logs['eval_loss']:.4f}"
        self.bar.advance(0, stats=self._stats())

    def on_train_end(self, args, state, control, **kwargs):
        if self.stack is not None:
            self.stack.close()
            self.bar = self.stack = None
