"""From an experiment file to the ordered list of nodes the runner executes."""

from __future__ import annotations

from functools import partial

from . import stages
from .config import Experiment
from .engine import Node
from .runtime import backend_settings, input_ref

BASE = "base"


def _train_recipe(exp: Experiment) -> dict:
    """The recipe file's content (so editing the file reruns training), plus the experiment's overrides."""
    recipe = {}
    if exp.train.recipe:
        from .config import plain
        from .runtime import resolve_path
        from .yamlload import load_yaml

        recipe = plain(load_yaml(resolve_path(exp, exp.train.recipe))) or {}
    return {"model": exp.train.model, "recipe": recipe, "overrides": exp.train.overrides}


def _llm(exp: Experiment, name: str) -> str:
    b = exp.backends[name]
    return f"{b.model}{' (served locally)' if b.serve else ''}"


def _recipe_line(recipe: dict) -> str:
    from ..train.config import describe_recipe

    return describe_recipe({**recipe["recipe"], **recipe["overrides"]})


def _eval_line(exp: Experiment) -> str:
    ev = exp.evaluate
    bits = [f"{ev.mode} mode"] + ([f"{ev.permute} permutations"] if ev.permute else []) + \
        (["circular"] if ev.circular else []) + [f"on {', '.join(ev.sets)}"]
    return ", ".join(bits)


def build_nodes(exp: Experiment) -> list[Node]:
    from ..mix.spec import describe as describe_mix

    nodes: list[Node] = []
    for s in exp.sources:
        what = f"{s.path} ({', '.join(x for x in (s.format, s.split, s.origin and s.origin.value) if x)}" \
               f"{f', first {s.limit}' if s.limit else ''})"
        nodes.append(Node(f"ingest/{s.name}", "ingest", partial(stages.ingest, s),
                          settings=s.model_dump(mode="json"), files=[input_ref(exp, s.path)], describe=what))
    for j in exp.translate:
        nodes.append(Node(f"translate/{j.name}", "translate", partial(stages.translate, j),
                          settings={**j.model_dump(mode="json"), "backend": backend_settings(exp, j.backend),
                                    "prompt": _prompt_version(j.options)},
                          deps=[f"ingest/{j.input}"], describe=f"{j.input} to French with {_llm(exp, j.backend)}",
                          uses=[j.backend]))
    for j in exp.synthesize:
        nodes.append(Node(f"synthesize/{j.name}", "synthesize", partial(stages.synthesize, j),
                          settings={**j.model_dump(mode="json"), "backend": backend_settings(exp, j.backend),
                                    "kinds": _kind_versions(j.options)},
                          deps=[f"ingest/{j.passages}"],
                          describe=f"tasks from {j.passages} with {_llm(exp, j.backend)}", uses=[j.backend]))
    producers = {n.name.split("/", 1)[1]: n.name for n in nodes}
    eval_deps = [f"ingest/{name}" for name in exp.evaluate.sets]
    curate_deps = [producers[name] for name in exp.curate_inputs()]
    cs = exp.curate.model_dump(mode="json")
    if exp.curate.backend:
        cs["backend"] = backend_settings(exp, exp.curate.backend)
    nodes.append(Node("curate", "curate", stages.curate, settings=cs, views={"records": stages.curated_view},
                      uses=[exp.curate.backend] if exp.curate.backend else [],
                      deps=curate_deps + (eval_deps if exp.curate.decontaminate else []),
                      describe=f"filter, dedup{', decontaminate' if exp.curate.decontaminate else ''}: "
                               f"{', '.join(exp.curate_inputs())}"))
    nodes.append(Node("mix", "mix", stages.mix, settings=exp.mix.model_dump(mode="json"), deps=["curate#records"],
                      views={c: partial(stages.mix_view, c) for c in exp.mix.configs},
                      describe=describe_mix(exp.mix.configs, exp.mix.size, exp.mix.seed, exp.mix.options)))

    recipe = _train_recipe(exp)
    val = [f"ingest/{exp.train.validation}"] if exp.train.validation else []
    for c in exp.mix.configs:
        nodes.append(Node(f"train/{c}", "train", partial(stages.train, c), settings=recipe,
                          deps=[f"mix#{c}"] + val, views={"": stages.adapter_view}, slurm=True,
                          describe=f"{exp.train.model} + {_recipe_line(recipe)} on {c}"))

    ev = exp.evaluate.model_dump(mode="json", exclude={"model", "base", "batch_size"})
    ev["model"] = exp.eval_model
    configs = ([BASE] if exp.evaluate.base else []) + list(exp.mix.configs)
    for c in configs:
        deps = ([] if c == BASE else [f"train/{c}"]) + eval_deps
        nodes.append(Node(f"evaluate/{c}", "evaluate", partial(stages.evaluate, c), settings=ev, deps=deps,
                          views={"oeq": stages.oeq_view, "oeq-scores": stages.oeq_scores_view}, slurm=True,
                          describe=f"{'base model' if c == BASE else 'adapter ' + c}: {_eval_line(exp)}"))

    judged = []
    if exp.judge is not None:
        js = {**exp.judge.model_dump(mode="json", exclude={"experts"}),
              "backend": backend_settings(exp, exp.judge.backend)}
        # One node for every system: pairwise comparisons need them all, and the request cache makes
        # re-judging an unchanged system free.
        nodes.append(Node("judge", "judge", partial(stages.judge, configs), settings=js,
                          deps=[f"evaluate/{c}#oeq" for c in configs], uses=[exp.judge.backend],
                          describe=f"{'+'.join(exp.judge.modes)} by {_llm(exp, exp.judge.backend)}, "
                                   f"{len(configs)} systems"))
        judged.append("judge")
        if exp.judge.experts:
            nodes.append(Node("agreement", "judge", partial(stages.agreement, configs),
                              settings={"seed": exp.report.seed, "n_boot": exp.report.n_boot},
                              deps=["judge"] + [f"evaluate/{c}#oeq-scores" for c in configs],
                              files=[input_ref(exp, exp.judge.experts)],
                              describe=f"judge and metrics against experts ({exp.judge.experts})"))
            judged.append("agreement")

    generated = [f"translate/{j.name}" for j in exp.translate] + [f"synthesize/{j.name}" for j in exp.synthesize]
    report_deps = (["curate", "mix"] + [f"evaluate/{c}" for c in configs] + judged + generated
                   + [f"train/{c}" for c in exp.mix.configs])  # the loss curves
    nodes.append(Node("report", "report", stages.report, settings=exp.report.model_dump(mode="json"),
                      deps=report_deps, describe="tables, plots: HTML, Markdown, CSV"))
    return nodes



# A finished translation or synthesis stays valid only for the prompts it was made with: their versions are part
# of the node's settings, so a new prompt (packaged or the user's) reruns the job instead of reusing stale records.
def _prompt_version(options: dict) -> str:
    from ..translate.translate import load_prompt

    return load_prompt("record", options.get("prompt_file")).version


def _kind_versions(options: dict) -> dict[str, str]:
    from ..synthesize.kinds import load_kinds

    kinds = options.get("kinds")
    return {k.name: k.version for k in load_kinds(kinds if isinstance(kinds, list) else None, options.get("kinds_dir"))}
