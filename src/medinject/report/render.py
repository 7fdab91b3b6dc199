"""Tables and figures to CSV, Markdown and one self-contained HTML page (inline CSS, images embedded)."""

from __future__ import annotations

import base64
import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..io import write_text


@dataclass
class Table:
    name: str  # file stem of its CSV
    columns: list[str]
    rows: list[dict]
    note: str = ""


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def csv_value(v) -> str:
    """One number format for every CSV: integers as they are, other numbers with six decimals, no exponent."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def table_csv(t: Table) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=t.columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in t.rows:
        w.writerow({c: csv_value(r.get(c)) for c in t.columns})
    return buf.getvalue()


def table_markdown(t: Table) -> str:
    if not t.rows:
        return "_(no data)_\n"
    lines = ["| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
    for r in t.rows:
        lines.append("| " + " | ".join(fmt(r.get(c)).replace("|", "\\|") for c in t.columns) + " |")
    return "\n".join(lines) + "\n"


def table_html(t: Table) -> str:
    if not t.rows:
        return "<p class='empty'>(no data)</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = []
    for r in t.rows:
        cells = []
        for c in t.columns:
            v = r.get(c)
            cls = " class='num'" if isinstance(v, int | float) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{html.escape(fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # Wide tables scroll inside their own box instead of running past the page.
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2733;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;border-bottom:2px solid #2b6cb0;padding-bottom:.3rem}h2{font-size:1.25rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.88rem}th,td{border:1px solid #cbd5e0;padding:.25rem .5rem}
th{background:#edf2f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#f7fafc}.note{color:#4a5568;font-size:.85rem}.empty{color:#718096}
img{max-width:100%;border:1px solid #e2e8f0;margin:.5rem 0}.warn{background:#fffbea;border-left:4px solid #d69e2e;
padding:.5rem .8rem}.scroll{overflow-x:auto;max-width:100%}.scroll table{margin:0}.scroll{margin:.8rem 0}
"""


def _img_data(p: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(p).read_bytes()).decode()


def write_all(out: Path, title: str, intro: str, sections: list[Section]) -> dict[str, Path]:
    """Write every table as CSV, then report.md and report.html; returns their paths."""
    out = Path(out)
    md = [f"# {title}\n", intro + "\n"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<div class='warn'>{html.escape(intro)}</div>"]
    csvs = []
    for s in sections:
        md.append(f"## {s.title}\n")
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.text:
            md.append(s.text + "\n")
            parts.append(f"<p class='note'>{html.escape(s.text)}</p>")
        for t in s.tables:
            write_text(out / f"{t.name}.csv", table_csv(t))
            csvs.append(out / f"{t.name}.csv")
            md.append(table_markdown(t))
            parts.append(table_html(t))
            if t.note:
                md.append(f"_{t.note}_\n")
                parts.append(f"<p class='note'>{html.escape(t.note)}</p>")
            md.append(f"[{t.name}.csv]({t.name}.csv)\n")
        for f in s.figures:
            rel = Path(f).relative_to(out).as_posix() if Path(f).is_relative_to(out) else Path(f).name
            md.append(f"![{Path(f).stem}]({rel})\n")
            parts.append(f"<img alt='{html.escape(Path(f).stem)}' src='{_img_data(f)}'>")
    parts.append("</body></html>\n")
    write_text(out / "report.md", "\n".join(md))
    write_text(out / "report.html", "\n".join(parts))
    return {"html": out / "report.html", "markdown": out / "report.md", "csv": csvs}
