"""-v / -q on every verb: warnings through logging on stderr, quiet hides them, results stay on stdout."""

import logging
import warnings

import pytest

from medinject.logs import hoist, setup


def test_flags_after_the_verb_are_moved_before_it():
    assert hoist(["stats", "f.jsonl", "-v", "--json"]) == ["-v", "stats", "f.jsonl", "--json"]
    assert hoist(["eval", "-q", "--", "-v"]) == ["-q", "eval", "--", "-v"]


@pytest.fixture(autouse=True)
def _reset():
    yield
    setup(0)


def _stats_file(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"id": "a", "task": "oeq", "question": "q ?", "answer": "r", "origin": "native", "source": "s"}\n')
    return p


def test_warnings_reach_stderr_by_default_and_quiet_hides_them(tmp_path, run_cli, capsys):
    p = _stats_file(tmp_path)
    for args, shown in (((), True), (("-q",), False), (("-v",), True)):
        code, out, err = run_cli("stats", p, *args)
        assert code == 0 and "1 records" in out
        logging.getLogger("medinject.test").warning("a warning")
        with warnings.catch_warnings():  # pytest records warnings itself: route this one as the CLI does
            warnings.simplefilter("always")
            logging.captureWarnings(False)
            logging.captureWarnings(True)
            warnings.warn("a python warning", UserWarning, stacklevel=1)
        err = capsys.readouterr().err
        assert ("warning" in err and "a warning" in err and "a python warning" in err) == shown, (args, err)


def test_verbose_shows_info_and_the_logger_name(capsys):
    setup(1)
    logging.getLogger("medinject.curate.pipeline").info("pass 1 done")
    assert "info [curate.pipeline]: pass 1 done" in capsys.readouterr().err
    setup(0)
    logging.getLogger("medinject.curate.pipeline").info("hidden")
    assert "hidden" not in capsys.readouterr().err
