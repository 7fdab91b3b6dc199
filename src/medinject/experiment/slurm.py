"""Train and evaluate nodes as SLURM jobs: one sbatch script per run, chained with `afterok` dependencies.

Each job runs `medinject run EXPERIMENT --only NODE` under `accelerate launch`, so on the cluster the same
hashing, markers and resume apply as on a laptop. A last CPU job reruns the whole experiment once every
GPU job has succeeded: it finds them all done and runs what is left (judge, report).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import MedinjectError
from ..io import write_text
from .config import Experiment, SlurmSpec
from .engine import Step


def job_name(node_name: str) -> str:
    return node_name.replace("/", "-")


def _var(node_name: str) -> str:
    return "jid_" + "".join(c if c.isalnum() else "_" for c in node_name)


def _header(spec: SlurmSpec, name: str, time: str, gpus: int, logs: Path) -> list[str]:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --nodes={spec.nodes if gpus > 1 else 1}",
             "#SBATCH --ntasks-per-node=1", f"#SBATCH --cpus-per-task={spec.cpus_per_task}",
             f"#SBATCH --gres=gpu:{gpus}", f"#SBATCH --time={time}", f"#SBATCH --output={logs}/%x-%j.out"]
    if spec.partition:
        lines.append(f"#SBATCH --partition={spec.partition}")
    if spec.account:
        lines.append(f"#SBATCH --account={spec.account}")
    if spec.mem:
        lines.append(f"#SBATCH --mem={spec.mem}")
    lines += [f"#SBATCH {x}" for x in spec.extra]
    return lines


def _runner_args(exp_path: Path, overrides: Sequence[str], workdir: Path, node: str | None) -> str:
    args = ["run", str(exp_path), *overrides, "--workdir", str(workdir)]
    if node:
        args += ["--only", node]
    return " ".join(shlex.quote(a) for a in args)


def _launch(spec: SlurmSpec, node: str, gpus: int, args: str) -> list[str]:
    cfg = f" --config_file {shlex.quote(spec.accelerate_config)}" if spec.accelerate_config else ""
    if gpus == 1:
        return [f"accelerate launch{cfg} --num_processes 1 --num_machines 1 -m medinject.cli {args}"]
    # One launcher per node; accelerate starts one process per GPU and wires up DDP/FSDP between them.
    return [
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"srun --ntasks-per-node=1 bash -c \"accelerate launch{cfg} --num_processes {gpus * spec.nodes} "
        f"--num_machines {spec.nodes} --machine_rank \\$SLURM_NODEID --main_process_ip $MASTER_ADDR "
        f"--main_process_port 29500 -m medinject.cli {args}\"",
    ]


def write_scripts(exp: Experiment, exp_path: Path, overrides: Sequence[str], steps: list[Step], workdir: Path,
                  out_dir: Path | None = None) -> Path:
    """Write one sbatch script per train/evaluate node still to run, a final job, and `submit.sh`."""
    spec = exp.slurm or SlurmSpec()
    out_dir = Path(out_dir or workdir / "slurm")
    logs = workdir / "logs" / "slurm"
    exp_path, cwd = Path(exp_path).resolve(), Path.cwd().resolve()
    todo = [s for s in steps if s.node.slurm and s.will_run]
    if not todo:
        raise MedinjectError("every train and evaluate node is already done: nothing to submit")
    names = {s.node.name for s in todo}
    submit = ["#!/bin/bash", "# Submit the GPU jobs in dependency order, then the job that finishes the study.",
              "set -euo pipefail", 'cd "$(dirname "$0")"', f"mkdir -p {shlex.quote(str(logs))}"]
    for s in todo:
        n = s.node
        gpus = spec.gpus_per_node if n.stage == "train" else 1
        time = spec.time_train if n.stage == "train" else spec.time_evaluate
        body = _header(spec, f"{exp.name}-{job_name(n.name)}", time, gpus, logs)
        body += ["set -euo pipefail", *spec.setup, f"cd {shlex.quote(str(cwd))}",
                 *_launch(spec, n.name, gpus, _runner_args(exp_path, overrides, workdir, n.name))]
        script = f"{job_name(n.name)}.sbatch"
        write_text(out_dir / script, "\n".join(body) + "\n")
        after = [_var(d.partition("#")[0]) for d in n.deps if d.partition("#")[0] in names]
        dep = f"--dependency=afterok:{':'.join('${' + a + '}' for a in after)} " if after else ""
        submit.append(f"{_var(n.name)}=$(sbatch --parsable {dep}{script})")
    final = _header(spec, f"{exp.name}-finish", spec.time_evaluate, 0, logs)
    final = [x for x in final if not x.startswith("#SBATCH --gres")]
    final += ["set -euo pipefail", *spec.setup, f"cd {shlex.quote(str(cwd))}",
              f"medinject {_runner_args(exp_path, overrides, workdir, None)}"]
    write_text(out_dir / "finish.sbatch", "\n".join(final) + "\n")
    every = ":".join("${" + _var(s.node.name) + "}" for s in todo)
    submit.append(f"sbatch --parsable --dependency=afterok:{every} finish.sbatch")
    write_text(out_dir / "submit.sh", "\n".join(submit) + "\n")
    (out_dir / "submit.sh").chmod(0o755)
    return out_dir / "submit.sh"


def submit(script: Path) -> str:
    if shutil.which("sbatch") is None:
        raise MedinjectError(f"sbatch not found: submit the jobs on the cluster with `bash {script}`")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    if done.returncode != 0:
        raise MedinjectError(f"{script} failed: {done.stderr.strip()[-500:]}")
    return done.stdout
