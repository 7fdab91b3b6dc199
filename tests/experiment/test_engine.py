"""The runner core with lightweight stages: hashing, skipping, reruns, resume, selection."""

from __future__ import annotations

import json

import pytest

from medinject.errors import MedinjectError
from medinject.experiment.engine import MARKER, Node, Runner, digest_tree, format_plan


class Pipeline:
    """Three stages: make -> double -> total, plus a `side` view that ignores part of `double`'s output."""

    def __init__(self, n=3, factor=2, crash_in=None):
        self.calls: list[str] = []
        self.n, self.factor, self.crash_in = n, factor, crash_in

    def nodes(self):
        def make(ctx):
            self.calls.append(ctx.node.name)
            (ctx.out / "nums.json").write_text(json.dumps(list(range(self.n))))

        def double(ctx):
            self.calls.append(ctx.node.name)
            if self.crash_in == ctx.node.name and not ctx.resume:
                (ctx.out / "partial.txt").write_text("half done")
                raise RuntimeError("simulated crash")
            nums = json.loads((ctx.inputs["ingest/a"] / "nums.json").read_text())
            (ctx.out / "nums.json").write_text(json.dumps([x * self.factor for x in nums]))
            (ctx.out / "count.txt").write_text(str(len(nums)))
            return {"resumed": ctx.resume}

        def total(ctx):
            self.calls.append(ctx.node.name)
            nums = json.loads((ctx.inputs["train/b"] / "nums.json").read_text())
            (ctx.out / "total.txt").write_text(str(sum(nums)))

        def count(ctx):
            self.calls.append(ctx.node.name)
            (ctx.out / "n.txt").write_text((ctx.inputs["train/b"] / "count.txt").read_text())

        return [
            Node("ingest/a", "ingest", make, settings={"n": self.n}),
            Node("train/b", "train", double, settings={"factor": self.factor}, deps=["ingest/a"],
                 views={"count": lambda p: digest_tree(p, include=["count.txt"])}),
            Node("evaluate/c", "evaluate", total, deps=["train/b"]),
            Node("judge/d", "judge", count, deps=["train/b#count"]),
        ]


def run(p, tmp_path, **kw):
    return Runner(p.nodes(), tmp_path, log=lambda s: None).run(**kw)


def test_first_run_runs_all_then_everything_is_cached(tmp_path):
    p = Pipeline()
    steps = run(p, tmp_path)
    assert p.calls == ["ingest/a", "train/b", "evaluate/c", "judge/d"]
    assert all(s.state == "cached" for s in steps)
    out = {s.node.name: s.dir for s in steps}
    assert (out["evaluate/c"] / "total.txt").read_text() == "6"
    assert (out["train/b"] / MARKER).exists()
    p2 = Pipeline()
    run(p2, tmp_path)
    assert p2.calls == []
    index = json.loads((tmp_path / "results.json").read_text())
    assert set(index["nodes"]) == {"ingest/a", "train/b", "evaluate/c", "judge/d"}
    assert (tmp_path / "train/b/latest").resolve() == out["train/b"].resolve()


def test_changed_setting_reruns_only_dependants(tmp_path):
    run(Pipeline(), tmp_path)
    p = Pipeline(factor=3)
    steps = run(p, tmp_path)
    # ingest is untouched; train reruns; its count view is unchanged, so the judge stays cached.
    assert p.calls == ["train/b", "evaluate/c"]
    out = {s.node.name: s.dir for s in steps}
    assert (out["evaluate/c"] / "total.txt").read_text() == "9"
    # Going back to the old setting finds the old folders again: nothing runs.
    p3 = Pipeline()
    run(p3, tmp_path)
    assert p3.calls == []


def test_upstream_change_propagates(tmp_path):
    run(Pipeline(), tmp_path)
    p = Pipeline(n=4)
    run(p, tmp_path)
    assert p.calls == ["ingest/a", "train/b", "evaluate/c", "judge/d"]


def test_resume_after_crash_reruns_only_the_unfinished_node(tmp_path):
    p = Pipeline(crash_in="train/b")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(p, tmp_path)
    assert p.calls == ["ingest/a", "train/b"]
    plan = Runner(Pipeline().nodes(), tmp_path, log=lambda s: None).plan()
    assert [s.state for s in plan] == ["cached", "resume", "pending", "pending"]
    p2 = Pipeline(crash_in="train/b")
    steps = run(p2, tmp_path)
    assert p2.calls == ["train/b", "evaluate/c", "judge/d"]
    train = next(s for s in steps if s.node.name == "train/b")
    assert train.marker["info"] == {"resumed": True}
    assert (train.dir / "partial.txt").exists()  # the interrupted run's files are still there to resume from


def test_dry_run_plan_reports_cached_and_pending(tmp_path):
    runner = Runner(Pipeline().nodes(), tmp_path, log=lambda s: None)
    assert [s.state for s in runner.plan()] == ["run", "pending", "pending", "pending"]
    run(Pipeline(), tmp_path)
    plan = Runner(Pipeline(factor=5).nodes(), tmp_path, log=lambda s: None).plan()
    assert [s.state for s in plan] == ["cached", "run", "pending", "pending"]
    text = format_plan(plan)
    assert "train/b" in text and "4 nodes: 3 to run, 1 cached" in text


def test_only_and_from_select_stages(tmp_path):
    p = Pipeline()
    with pytest.raises(MedinjectError, match="cannot run train/b: it needs ingest/a"):
        run(p, tmp_path, only=["train"])
    assert p.calls == []
    run(p, tmp_path, only=["ingest"])
    assert p.calls == ["ingest/a"]
    p2 = Pipeline()
    steps = run(p2, tmp_path, start="train")
    assert p2.calls == ["train/b", "evaluate/c", "judge/d"]
    assert all(s.state == "cached" for s in steps)
    p3 = Pipeline()
    evaluate_dir = next(s.dir for s in steps if s.node.name == "evaluate/c")
    (evaluate_dir / "stale.txt").write_text("from before")
    run(p3, tmp_path, only=["evaluate/c"], force=True)
    assert p3.calls == ["evaluate/c"]
    assert not (evaluate_dir / "stale.txt").exists() and (evaluate_dir / "total.txt").read_text() == "6"
    with pytest.raises(MedinjectError, match="--only nope"):
        run(p3, tmp_path, only=["nope"])
    with pytest.raises(MedinjectError, match="--from nope"):
        run(p3, tmp_path, start="nope")


def test_not_selected_downstream_is_left_alone(tmp_path):
    p = Pipeline()
    steps = run(p, tmp_path, only=["ingest", "train"])
    assert p.calls == ["ingest/a", "train/b"]
    assert [s.state for s in steps] == ["cached", "cached", "skip", "skip"]


def test_stage_error_names_the_node(tmp_path):
    def bad(ctx):
        raise MedinjectError("data.jsonl: line 3: field 'answer': nope")

    with pytest.raises(MedinjectError, match=r"^ingest/x: data.jsonl: line 3"):
        Runner([Node("ingest/x", "ingest", bad)], tmp_path, log=lambda s: None).run()


def test_dependency_must_come_first(tmp_path):
    with pytest.raises(ValueError, match="does not come before"):
        Runner([Node("a", "train", lambda c: None, deps=["b"]), Node("b", "ingest", lambda c: None)], tmp_path)


def test_shared_resources_released_when_the_next_node_does_not_use_them(tmp_path):
    class Rt:
        def __init__(self):
            self.calls = []

        def release(self, keep):
            self.calls.append(sorted(keep))

    def noop(ctx):
        return None

    nodes = [Node("translate/a", "translate", noop, uses=["llm"]),
             Node("synthesize/b", "synthesize", noop, uses=["llm"]), Node("train/c", "train", noop),
             Node("judge", "judge", noop, uses=["llm"]), Node("report", "report", noop)]
    rt = Rt()
    Runner(nodes, tmp_path, runtime=rt, log=lambda s: None).run()
    assert rt.calls == [["llm"], [], ["llm"], [], []]
