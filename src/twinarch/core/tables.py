"""Writing one table as CSV (raw numbers), Markdown and LaTeX, with the best value per column in bold.

pandas writes CSV and LaTeX-free Markdown; the bolding and the booktabs LaTeX are ours because
pandas' Styler needs jinja2 and cannot mark one cell per column in Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from twinarch.core.io import TABLE_SUFFIXES, atomic_write_text


def best_rows(df: pd.DataFrame, column: str, higher_is_better: bool = True) -> set[int]:
    """Positions (0-based) of the best value in a column; ties are all best; NaN never is."""
    values = pd.to_numeric(df[column], errors="coerce")
    if values.notna().sum() == 0:
        return set()
    best = values.max() if higher_is_better else values.min()
    return {i for i, v in enumerate(values) if not math.isnan(v) and v == best}


def _fmt(value: object, digits: int) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(a, b)
    return text


def write_table(
    df: pd.DataFrame,
    prefix: str | Path,
    *,
    bold_max: Iterable[str] = (),
    bold_min: Iterable[str] = (),
    digits: int = 2,
    caption: str = "",
    notes: Iterable[str] = (),
    intervals: Mapping[str, Sequence[tuple[float, float] | None]] | None = None,
) -> list[Path]:
    """Write `<prefix>.csv`, `.md` and `.tex`; returns the paths. `notes` go under the table.

    `intervals[column][row]` (low, high) is printed after the value, `x [low, high]`, one digit
    less; the CSV gets them as `<column> low` and `<column> high` columns. Bold marks the best value.
    """
    prefix = Path(prefix)
    intervals = dict(intervals or {})
    bold: dict[str, set[int]] = {c: best_rows(df, c, True) for c in bold_max}
    bold.update({c: best_rows(df, c, False) for c in bold_min})
    columns = [str(c) for c in df.columns]

    def cell(column: str, row: int, value: object) -> str:
        text = _fmt(value, digits)
        span = intervals.get(column, [None] * len(df))[row]
        if span is not None and not any(math.isnan(x) for x in span) and text != "–":
            text += f" [{span[0]:.{max(digits - 1, 0)}f}, {span[1]:.{max(digits - 1, 0)}f}]"
        return text

    cells = [[cell(c, i, v) for c, v in zip(columns, row)] for i, row in enumerate(df.itertuples(index=False))]

    def marked(wrap: str) -> list[list[str]]:
        out = []
        for i, row in enumerate(cells):
            out.append([wrap.format(v) if i in bold.get(c, ()) else v for c, v in zip(columns, row)])
        return out

    md_lines = [f"**{caption}**", ""] if caption else []
    md_lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    md_lines += ["| " + " | ".join(r) + " |" for r in marked("**{}**")]
    md_lines += [""] + [f"{n}" for n in notes] if notes else []

    tex_rows = [[_tex_escape(v) for v in r] for r in cells]
    tex_rows = [
        [r"\textbf{" + v + "}" if i in bold.get(c, ()) else v for c, v in zip(columns, r)]
        for i, r in enumerate(tex_rows)
    ]
    align = "l" + "r" * (len(columns) - 1)
    tex = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{align}}}", r"\toprule"]
    tex += [" & ".join(_tex_escape(c) for c in columns) + r" \\", r"\midrule"]
    tex += [" & ".join(r) + r" \\" for r in tex_rows]
    tex += [r"\bottomrule", r"\end{tabular}"]
    if caption or notes:
        tex.append(r"\caption{" + _tex_escape(" ".join([caption, *notes]).strip()) + "}")
    tex.append(r"\end{table}")

    csv = df.copy()
    for column, spans in intervals.items():
        position = list(csv.columns).index(column) + 1
        for offset, (name, side) in enumerate(((f"{column} low", 0), (f"{column} high", 1))):
            csv.insert(position + offset, name, [span[side] if span else math.nan for span in spans])
    paths = [prefix.with_suffix(s) for s in TABLE_SUFFIXES]
    atomic_write_text(paths[0], csv.to_csv(index=False))
    atomic_write_text(paths[1], "\n".join(md_lines) + "\n")
    atomic_write_text(paths[2], "\n".join(tex) + "\n")
    return paths
