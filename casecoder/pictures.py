"""Pictures: the mechanism diagram and heatmaps, drawn with matplotlib.

Chinese text needs a CJK font. The project's set-up installs Debian's
``fonts-noto-cjk``; this module finds Noto Sans CJK by name and uses it explicitly.
If no CJK font is installed it raises CC505 rather than drawing empty boxes.
Output is deterministic: no dates in the files, a fixed SVG hash salt.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from casecoder.errors import CasecoderError
from casecoder.fileio import write_bytes

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "Source Han Sans SC")
LAYER_X = {"context": 0, "practice": 1, "mechanism": 2, "problem": 2.5, "outcome": 3,
           "theory": 4}
LAYER_COLOR = {"context": "#cfe2f3", "practice": "#fce5cd", "mechanism": "#d9ead3",
               "outcome": "#f4cccc", "problem": "#dddddd", "theory": "#e6d7f5"}


def cjk_font() -> Any:
    """The FontProperties of an installed CJK font (CC505 when there is none)."""
    from matplotlib import font_manager

    for family in CJK_FAMILIES:
        for f in sorted(font_manager.fontManager.ttflist, key=lambda f: f.fname):
            if f.name == family:
                return font_manager.FontProperties(fname=f.fname)
    for path in sorted(Path("/usr/share/fonts").rglob("NotoSansCJK*")):
        return font_manager.FontProperties(fname=str(path))
    raise CasecoderError("CC505", families=", ".join(CJK_FAMILIES))


def _setup() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "casecoder"
    plt.rcParams["svg.fonttype"] = "path"
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _save(fig: Any, path: str | Path | None, fmt: str) -> bytes:
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight", metadata=meta)
    data = buf.getvalue()
    if path is not None:
        write_bytes(path, data)
    return data


def draw_graph(g: Any, path: str | Path | None = None, fmt: str = "png",
               title: str = "") -> bytes:
    """Draw a mechanism graph in its layers (context → practice → mechanism → outcome,
    theory at the right); causal edges solid and labelled with their support."""
    plt = _setup()
    font = cjk_font()
    columns: dict[float, list[str]] = {}
    for n in sorted(g.nodes):
        columns.setdefault(LAYER_X.get(g.nodes[n].get("layer", "mechanism"), 2), []).append(n)
    pos = {}
    height = max((len(v) for v in columns.values()), default=1)
    for x, nodes in columns.items():
        for i, n in enumerate(nodes):
            pos[n] = (x * 3.2, -i * 1.0 - (height - len(nodes)) / 2)
    fig, ax = plt.subplots(figsize=(15, max(4, height * 0.62)))
    ax.axis("off")
    for u, v, d in sorted(g.edges(data=True), key=lambda e: (e[0], e[1])):
        causal = d.get("kind") == "causal"
        neg = d.get("polarity", 1) < 0 or d.get("negative", 0) > d.get("positive", 10 ** 9)
        ax.annotate("", xy=pos[v], xytext=pos[u],
                    arrowprops={"arrowstyle": "->", "lw": 0.6 + 0.25 * min(8, d.get(
                        "case_support", d.get("citations", 1))) if causal else 0.6,
                        "ls": "-" if causal else ":",
                        "color": "#b03a2e" if neg else ("#444444" if causal else "#999999"),
                        "shrinkA": 28, "shrinkB": 28, "connectionstyle": "arc3,rad=0.08"})
        if causal:
            mx, my = (pos[u][0] + pos[v][0]) / 2, (pos[u][1] + pos[v][1]) / 2
            ax.text(mx, my, str(d.get("case_support", d.get("citations", ""))), fontsize=7,
                    color="#555555", ha="center")
    for n, (x, y) in sorted(pos.items()):
        d = g.nodes[n]
        label = d.get("label", n)
        if "state" in d:
            label = f"{label} · {d['state']}"
        ax.text(x, y, f"{label}\n{n if not n.startswith('theory:') else ''}".strip(),
                fontproperties=font, fontsize=9, ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.4", "fc": LAYER_COLOR.get(d.get("layer"), "#fff"),
                      "ec": "#888888"})
    for x, name in sorted({(LAYER_X[g.nodes[n].get("layer", "mechanism")], g.nodes[n].get(
            "layer", "mechanism")) for n in g.nodes if g.nodes[n].get("layer") in LAYER_X}):
        ax.text(x * 3.2, 1.0, name, fontsize=10, ha="center", color="#333333", weight="bold")
    if title:
        ax.set_title(title, fontproperties=font, fontsize=12)
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    ax.set_xlim(min(xs) - 2, max(xs) + 2)
    ax.set_ylim(min(ys) - 1, 1.6)
    data = _save(fig, path, fmt)
    plt.close(fig)
    return data


def heatmap(rows: list[str], cols: list[str], values: dict[tuple[str, str], float],
            path: str | Path | None = None, fmt: str = "png", title: str = "",
            row_labels: dict[str, str] | None = None) -> bytes:
    """A heatmap of ``values[(row, col)]`` with the numbers written in the cells."""
    import numpy as np

    plt = _setup()
    font = cjk_font()
    m = np.array([[values.get((r, c), 0) for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(cols) + 3), max(3, 0.4 * len(rows) + 1.5)))
    ax.imshow(m if m.size else np.zeros((1, 1)), cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=60, ha="right", fontproperties=font, fontsize=8)
    ax.set_yticks(range(len(rows)))
    labels = [f"{(row_labels or {}).get(r, '')} {r}".strip() for r in rows]
    ax.set_yticklabels(labels, fontproperties=font, fontsize=8)
    top = m.max() if m.size else 0
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = m[i, j]
            if v:
                ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=7,
                        color="white" if v > top * 0.6 else "black")
    if title:
        ax.set_title(title, fontproperties=font, fontsize=11)
    data = _save(fig, path, fmt)
    plt.close(fig)
    return data
