"""SLURM scripts: one sbatch per train/evaluate node, `accelerate launch`, chained with afterok."""

from __future__ import annotations

import re
from pathlib import Path

from medinject.experiment.config import load_experiment
from medinject.experiment.engine import Runner
from medinject.experiment.graph import build_nodes
from medinject.experiment.run import _local_part
from medinject.experiment.slurm import write_scripts

EXP = """\
name: cluster
sources:
  - {name: nat, path: package:sample/native.jsonl, format: records}
  - {name: test, path: package:sample/eval.jsonl, format: records}
mix: {size: 10, configs: [NAT, ALL]}
train: {model: toy:tiny}
evaluate: {sets: [test]}
slurm:
  partition: gpu
  account: proj42
  gpus_per_node: 4
  nodes: 2
  accelerate_config: configs/accelerate/fsdp.yaml
  setup: [module load cuda, source .venv/bin/activate]
  extra: [--qos=long]
"""


def test_scripts_chain_train_then_evaluate_then_finish(tmp_path):
    (tmp_path / "exp.yaml").write_text(EXP)
    exp = load_experiment(tmp_path / "exp.yaml")
    nodes = build_nodes(exp)
    assert _local_part(nodes) == ["ingest/nat", "ingest/test", "curate", "mix"]
    steps = Runner(nodes, tmp_path / "w", log=lambda s: None).plan()
    submit = write_scripts(exp, tmp_path / "exp.yaml", ["evaluate.permute=2"], steps, tmp_path / "w")
    d = submit.parent
    assert sorted(p.name for p in d.glob("*.sbatch")) == [
        "evaluate-ALL.sbatch", "evaluate-NAT.sbatch", "evaluate-base.sbatch", "finish.sbatch",
        "train-ALL.sbatch", "train-NAT.sbatch"]

    train = (d / "train-NAT.sbatch").read_text()
    assert train.startswith("#!/bin/bash\n#SBATCH --job-name=cluster-train-NAT\n")
    for line in ["#SBATCH --nodes=2", "#SBATCH --gres=gpu:4", "#SBATCH --partition=gpu", "#SBATCH --account=proj42",
                 "#SBATCH --qos=long", "#SBATCH --time=24:00:00", "module load cuda", "source .venv/bin/activate"]:
        assert line in train.splitlines(), line
    launch = train.splitlines()[-1]
    assert launch.startswith("srun --ntasks-per-node=1 bash -c \"accelerate launch --config_file "
                             "configs/accelerate/fsdp.yaml --num_processes 8 --num_machines 2")
    assert f"-m medinject.cli run {tmp_path / 'exp.yaml'} evaluate.permute=2 --workdir {tmp_path / 'w'} " \
           "--only train/NAT" in launch

    ev = (d / "evaluate-NAT.sbatch").read_text()
    assert "#SBATCH --gres=gpu:1" in ev and "#SBATCH --nodes=1" in ev
    assert "accelerate launch --config_file configs/accelerate/fsdp.yaml --num_processes 1" in ev
    assert ev.rstrip().endswith("--only evaluate/NAT")

    lines = submit.read_text().splitlines()
    jobs = {m.group(1): m.group(2) for m in (re.match(r"(jid_\w+)=\$\(sbatch --parsable (.*)\)$", x) for x in lines)
            if m}
    assert jobs["jid_train_NAT"] == "train-NAT.sbatch"
    assert jobs["jid_evaluate_NAT"] == "--dependency=afterok:${jid_train_NAT} evaluate-NAT.sbatch"
    assert jobs["jid_evaluate_ALL"] == "--dependency=afterok:${jid_train_ALL} evaluate-ALL.sbatch"
    assert jobs["jid_evaluate_base"] == "evaluate-base.sbatch"
    # Each job is submitted after the jobs it waits for.
    order = [x.split("=")[0] for x in lines if x.startswith("jid_")]
    assert order.index("jid_train_NAT") < order.index("jid_evaluate_NAT")
    final = lines[-1]
    assert final.startswith("sbatch --parsable --dependency=afterok:") and final.endswith("finish.sbatch")
    assert set(re.findall(r"\$\{(\w+)\}", final)) == set(jobs)
    fin = (d / "finish.sbatch").read_text()
    assert "--gres" not in fin and fin.rstrip().endswith(f"--workdir {tmp_path / 'w'}")
    assert Path(submit).stat().st_mode & 0o111
