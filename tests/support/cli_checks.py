"""The bad-input contract every CLI test checks: exit 2, one line starting `error: `, no traceback."""

from __future__ import annotations


def one_error_line(code: int, out: str, err: str, *must: str, prefix: str = "error: ") -> str:
    """The single error line of a refused command, after checking it holds each of `must`."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith(prefix), err
    assert "Traceback" not in err
    for m in must:
        assert m in lines[0], f"{m!r} not in {lines[0]!r}"
    return lines[0]
