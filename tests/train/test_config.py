from pathlib import Path

import pytest

from medinject.errors import InputError, MedinjectError
from medinject.train.config import load_config, parse_overrides

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "configs" / "train" / "paper.yaml"
REQUIRED = ["model=m", "data=a.jsonl", "output_dir=o"]


def test_paper_config_is_the_papers_setup():
    cfg = load_config(PAPER, ["data=mix.jsonl", "output_dir=out"])
    t = cfg.trainer_args
    assert cfg.recipe == "paper"
    assert (cfg.loss_on, cfg.prompt, cfg.over_long, cfg.add_pad_token) == ("all", "paper", "truncate", "[PAD]")
    assert t["train_sampling_strategy"] == "group_by_length"
    assert "activation_checkpointing" not in t  # the authors stated nothing: TRL's default stands
    assert cfg.model == "Qwen/Qwen3-4B-Instruct-2507"
    assert cfg.adapter["use_dora"] is True
    assert (cfg.adapter["r"], cfg.adapter["lora_alpha"], cfg.adapter["lora_dropout"]) == (16, 16, 0.05)
    assert cfg.adapter["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"]
    assert t["num_train_epochs"] == 10
    assert t["per_device_train_batch_size"] == 12 and "gradient_accumulation_steps" not in t
    assert cfg.global_batch_size == 192
    assert t["learning_rate"] == pytest.approx(1e-4)
    assert (t["lr_scheduler_type"], t["warmup_steps"]) == ("cosine", 0.05)
    assert (t["max_length"], t["bf16"], t["seed"]) == (2048, "auto", 42)


@pytest.mark.parametrize("world, accumulation", [(1, 16), (2, 8), (4, 4)])
def test_paper_recipe_keeps_192_sequences_per_step_at_any_world_size(world, accumulation):
    from medinject.train.recipe import batch_plan, sft_arguments

    cfg = load_config(PAPER, ["model=m", "data=mix.jsonl", "output_dir=out"])
    assert cfg.accumulation(world) == accumulation
    args = sft_arguments(cfg, bf16=False, has_eval=False, world_size=world)
    plan = batch_plan(cfg, args)
    # in this process the Trainer sees one process; the plan is computed for `world`, as the manifest states it
    assert args.gradient_accumulation_steps == accumulation
    assert plan["per_device_train_batch_size"] * plan["gradient_accumulation_steps"] * world == 192
    assert plan["accumulation"] == "derived from global_batch_size"


def test_global_batch_that_cannot_be_split_and_conflicting_accumulation():
    cfg = load_config(PAPER, ["model=m", "data=mix.jsonl", "output_dir=out"])
    with pytest.raises(InputError, match="a per-device batch of 8 fits") as e:
        cfg.accumulation(3)
    assert e.value.field == "global_batch_size"
    with pytest.raises(InputError) as e:
        load_config(PAPER, [*REQUIRED, "gradient_accumulation_steps=2"])
    assert e.value.field == "gradient_accumulation_steps" and "global_batch_size=null" in str(e.value)
    # accumulation given with the global size only defaulted: accumulation as given
    cfg = load_config(None, [*REQUIRED, "gradient_accumulation_steps=2"])
    assert cfg.global_batch_size is None and cfg.accumulation(4) == 2


def test_medinject_recipe_is_ours_and_the_default():
    ours = load_config(REPO / "configs" / "train" / "medinject.yaml", ["data=mix.jsonl", "output_dir=out"])
    bare = load_config(None, REQUIRED)
    for cfg in (ours, bare):
        assert cfg.recipe == "medinject"
        assert (cfg.loss_on, cfg.prompt, cfg.over_long, cfg.add_pad_token) == ("answer", "medinject", "drop", None)
        assert cfg.trainer_args["train_sampling_strategy"] == "batch_rebalance"
        assert cfg.accumulation(2) == 8


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_train_config_loads(path):
    cfg = load_config(path, ["model=m", "data=a.jsonl", "output_dir=o"])
    assert cfg.output_dir == Path("o")


def test_overrides_flat_nested_and_typed():
    cfg = load_config(PAPER, ["model=/toy", "data=[a.jsonl, b.jsonl]", "output_dir=o", "max_steps=5",
                              "adapter.r=8", "adapter.use_dora=false", "learning_rate=2e-4", "lr_scheduler_kwargs.x=1"])
    assert cfg.model == "/toy" and cfg.data == [Path("a.jsonl"), Path("b.jsonl")]
    assert cfg.trainer_args["max_steps"] == 5 and cfg.trainer_args["learning_rate"] == pytest.approx(2e-4)
    assert cfg.adapter["r"] == 8 and cfg.adapter["use_dora"] is False
    assert cfg.adapter["lora_alpha"] == 16  # the rest of the adapter keeps its defaults
    assert cfg.trainer_args["lr_scheduler_kwargs"] == {"x": 1}


def test_dict_config_and_deprecated_alias():
    cfg = load_config(None, {"model": "m", "data": "a.jsonl", "output_dir": "o", "gradient_checkpointing": True})
    assert cfg.trainer_args["gradient_checkpointing"] is True
    assert "activation_checkpointing" not in cfg.trainer_args


@pytest.mark.parametrize("override, field, words", [
    ("lerning_rate=1", "lerning_rate", "did you mean 'learning_rate'"),
    ("learning_rate=abc", "learning_rate", "valid number"),
    ("adapter.rank=3", "adapter.rank", "unknown key"),
    ("assistant_only_loss=true", "assistant_only_loss", "loss_on"),
    ("loss_on=prompt", "loss_on", "'answer' or 'all'"),
    ("per_device_train_batch_size=big", "per_device_train_batch_size", "valid integer"),
])
def test_bad_settings_name_the_field(override, field, words):
    with pytest.raises(InputError) as e:
        load_config(PAPER, [*REQUIRED, override])
    assert e.value.field == field and words in str(e.value)
    assert "command line" in str(e.value)


def test_bad_key_in_file_names_the_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: m\ndata: a.jsonl\noutput_dir: o\nnum_epochs: 3\n")
    with pytest.raises(InputError) as e:
        load_config(f)
    assert str(f) in str(e.value) and e.value.field == "num_epochs" and "num_train_epochs" in str(e.value)


def test_malformed_yaml_and_override(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: [unclosed\n")
    with pytest.raises(InputError, match="malformed YAML"):
        load_config(f)
    f.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="expected a mapping"):
        load_config(f)
    with pytest.raises(MedinjectError, match="key=value"):
        parse_overrides(["max_steps"])


def test_cli_bad_config_exits_2(run_cli, tmp_path):
    code, out, err = run_cli("train", "--config", PAPER, "data=a.jsonl", f"output_dir={tmp_path}", "warmup=3")
    assert code == 2
    assert err.strip().count("\n") == 0 and "warmup" in err and "Traceback" not in err


def test_model_refs_fail_at_once_with_one_line(tmp_path, monkeypatch):
    from medinject.train.recipe import check_model_ref

    with pytest.raises(InputError, match="model folder not found") as e:
        check_model_ref(str(tmp_path / "no" / "such-model"))
    assert e.value.field == "model"
    check_model_ref(str(tmp_path))  # an existing folder passes (its loading says what is wrong inside)
    # a hub id neither cached nor reachable: a closed port on loopback stands for a network that is down
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="not in the local cache and 127.0.0.1 cannot be reached"):
        check_model_ref("someorg/somemodel")
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError, match="HF_HUB_OFFLINE is set"):
        check_model_ref("someorg/somemodel")
