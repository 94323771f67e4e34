"""Plots as inline SVG (matplotlib), each with the numbers it shows as a table.

Axes, units and directions come from the metric schema. Text from records is written by
matplotlib as escaped SVG text (math parsing off), so a name cannot inject markup.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from benches.report.scaling import fit_scaling  # noqa: E402
from benches.schema import METRICS, number  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text: small, selectable, escaped
    "svg.hashsalt": "benches",  # stable ids: the same records give the same file
    "text.parse_math": False,
    "font.family": ["DejaVu Sans", "sans-serif"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


@dataclass
class Plot:
    """A figure and the numbers behind it."""

    id: str
    title: str
    caption: str
    svg: str
    headers: list[str]
    rows: list[list[str]]

    @property
    def heading(self) -> str:
        """The title without its "where:" prefix, first letter capitalised."""
        text = self.title.split(": ", 1)[-1]
        return text[:1].upper() + text[1:]


@dataclass
class Series:
    """One line of a scaling plot: values of metrics at each T."""

    label: str
    method: str
    ts: list[int]
    values: dict[str, list[float | None]]
    claims: dict[str, str] = field(default_factory=dict)  # metric → claimed O(·)


def method_colors(methods: list[str]) -> dict[str, str]:
    """A fixed colour per method, the same in every plot of a site."""
    names = sorted(set(methods))
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {m: matplotlib.colors.to_hex(cmap(i % cmap.N)) for i, m in enumerate(names)}


def to_svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


PLAIN = FuncFormatter(lambda v, _: f"{v:g}")


def _plain_log(ax: Axes, axis: str = "both") -> None:
    """Plain numbers on log axes (math text is off, so the default labels would show TeX)."""
    for name in ("x", "y") if axis == "both" else (axis,):
        a = getattr(ax, f"{name}axis")
        if a.get_scale() == "log":
            a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            a.set_major_formatter(PLAIN)
            a.set_minor_formatter(NullFormatter())


def pareto_front(points: list[tuple[float, float]], higher_y: bool = True) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x, better y)."""
    order = sorted(range(len(points)),
                   key=lambda i: (points[i][0], -points[i][1] if higher_y else points[i][1]))
    front, best = [], -math.inf
    for i in order:
        y = points[i][1] if higher_y else -points[i][1]
        if y > best:
            front.append(i)
            best = y
    return front


def tradeoff(plot_id: str, title: str, points: list[dict], x_key: str, y_key: str,
             colors: dict[str, str]) -> Plot | None:
    """Scatter of ``y_key`` against ``x_key`` (log x), colour by method, marker by T, with the
    Pareto front (cheaper and more accurate) as a dashed step line. ``points`` hold
    ``label``, ``method``, ``T`` and the metric values in display units."""
    pts = [p for p in points if p.get(x_key) is not None and p.get(y_key) is not None
           and p[x_key] > 0]
    if len(pts) < 2:
        return None
    xm, ym = METRICS[x_key], METRICS[y_key]
    front = pareto_front([(p[x_key], p[y_key]) for p in pts], ym.better != "lower")
    ts = sorted({p["T"] for p in pts})
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for p in pts:
            ax.scatter(p[x_key], p[y_key], s=36, color=colors[p["method"]],
                       marker=MARKERS[ts.index(p["T"]) % len(MARKERS)],
                       edgecolors="black", linewidths=0.4, zorder=3)
        fx = [pts[i][x_key] for i in front]
        fy = [pts[i][y_key] for i in front]
        ax.step(fx, fy, where="post", linestyle="--", color="black", linewidth=1, zorder=2)
        ax.scatter(fx, fy, s=140, facecolors="none", edgecolors="black", linewidths=0.9,
                   zorder=4)
        ax.set_xscale("log")
        _plain_log(ax)
        ax.set_xlabel(f"{xm.title} {xm.arrow}")
        ax.set_ylabel(f"{ym.title} {ym.arrow}")
        ax.set_title(title, fontsize=10)
        handles = [Line2D([], [], color=c, marker="o", linestyle="", label=m)
                   for m, c in colors.items() if any(p["method"] == m for p in pts)]
        handles += [Line2D([], [], color="grey", marker=MARKERS[i % len(MARKERS)],
                           linestyle="", label=f"T={t}") for i, t in enumerate(ts)]
        handles.append(Line2D([], [], color="black", linestyle="--", marker="o",
                              markerfacecolor="none", label="Pareto front"))
        ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
                  frameon=False)
        svg = to_svg(fig)
    rows = [[p["label"], str(p["T"]), number(p[x_key], xm.digits), number(p[y_key], ym.digits),
             "yes" if i in front else ""] for i, p in enumerate(pts)]
    rows.sort(key=lambda r: (r[4] != "yes", r[0]))
    return Plot(plot_id, title,
                f"Each point is one configuration (mean over seeds). The dashed line joins the "
                f"Pareto front: no other configuration has both a lower {xm.name.lower()} and a "
                f"better {ym.name.lower()}.",
                svg, ["Configuration", "T", xm.title, ym.title, "On the front"], rows)


def scaling(plot_id: str, title: str, series: list[Series], metrics: tuple[str, ...],
            colors: dict[str, str]) -> Plot | None:
    """Each metric against T on log–log axes, one line per series, with the fitted exponent b
    of y = a·T^b and the claimed complexity in the legend."""
    usable = [s for s in series if len(set(s.ts)) >= 2]
    metrics = tuple(m for m in metrics if any(
        any(v is not None for v in s.values.get(m, [])) for s in usable))
    if not usable or not metrics:
        return None
    rows = []
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 4.0),
                                 squeeze=False)
        styles = ["-", "--", ":", "-."]
        seen: dict[str, int] = {}
        for s in usable:
            style = styles[seen.get(s.method, 0) % len(styles)]
            seen[s.method] = seen.get(s.method, 0) + 1
            for ax, m in zip(axes[0], metrics, strict=True):
                metric = METRICS[m]
                ys = [metric.display(v) for v in s.values.get(m, [])]
                pairs = [(t, y) for t, y in zip(s.ts, ys, strict=False)
                         if y is not None and y > 0]
                if len(pairs) < 2:
                    continue
                fit = fit_scaling([t for t, _ in pairs], [y for _, y in pairs])
                claim = s.claims.get(m)
                label = f"{s.label}: b={number(fit.exponent, 2)}" if fit else s.label
                if claim:
                    label += f" (claims O({claim}))"
                ax.plot([t for t, _ in pairs], [y for _, y in pairs], marker="o", markersize=3,
                        linestyle=style, color=colors[s.method], label=label)
                rows.append([s.label, metric.title,
                             " · ".join(f"T={t}: {number(y, metric.digits)}" for t, y in pairs),
                             number(fit.exponent if fit else None, 2),
                             f"O({claim})" if claim else "–"])
        for ax, m in zip(axes[0], metrics, strict=True):
            metric = METRICS[m]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ts = sorted({t for s in usable for t in s.ts})
            _plain_log(ax)
            ax.set_xticks(ts, [str(t) for t in ts])
            ax.set_xlabel("T (time steps)")
            ax.set_ylabel(f"{metric.title} {metric.arrow}")
            ax.legend(fontsize=6.5, frameon=False, loc="upper left")
        fig.suptitle(title, fontsize=10)
        svg = to_svg(fig)
    return Plot(plot_id, title,
                "Log–log axes: a straight line of slope b is y ∝ T^b. O(1) in T shows as a flat "
                "line (b ≈ 0), O(T) as slope 1. The claimed complexity is what the method's "
                "paper states (L layers, T steps, K sampled steps).",
                svg, ["Series", "Metric", "Values", "Fitted b", "Claimed"], rows)


def over_t(plot_id: str, title: str, series: list[Series], metric_key: str,
           colors: dict[str, str], log_y: bool = False, reference: float | None = None
           ) -> Plot | None:
    """One metric against T (log₂ x axis), one line per series."""
    metric = METRICS[metric_key]
    usable = [s for s in series if any(v is not None for v in s.values.get(metric_key, []))]
    if not usable:
        return None
    rows = []
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for s in usable:
            pairs = [(t, y) for t, v in zip(s.ts, s.values[metric_key], strict=False)
                     if (y := metric.display(v)) is not None]
            ax.plot([t for t, _ in pairs], [y for _, y in pairs], marker="o", markersize=3,
                    color=colors[s.method], label=s.label)
            rows.append([s.label, *[f"T={t}: {number(y, metric.digits + 1)}" for t, y in pairs]])
        if reference is not None:
            ax.axhline(reference, color="black", linewidth=0.8, linestyle=":")
        ts = sorted({t for s in usable for t in s.ts})
        ax.set_xscale("log", base=2)
        if log_y:
            ax.set_yscale("log")
        _plain_log(ax)
        ax.set_xticks(ts, [str(t) for t in ts])
        ax.set_xlabel("T (time steps)")
        ax.set_ylabel(f"{metric.title} {metric.arrow}")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        svg = to_svg(fig)
    rows = [[r[0], " · ".join(r[1:])] for r in rows]
    return Plot(plot_id, title, metric.description, svg, ["Series", metric.title], rows)


def curves(plot_id: str, title: str, groups: dict[int, list[dict]],
           colors: dict[str, str]) -> Plot | None:
    """Test accuracy and training loss per epoch: one row of two panels per T; ``groups``
    maps T to lines ``{label, method, acc: [...], loss: [...]}`` (means over seeds)."""
    groups = {t: lines for t, lines in sorted(groups.items()) if lines}
    if not groups:
        return None
    acc, loss = METRICS["test_top1"], "training loss"
    rows = []
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(groups), 2, figsize=(9.6, 2.6 * len(groups)),
                                 squeeze=False)
        for (t, lines), (ax_acc, ax_loss) in zip(groups.items(), axes, strict=True):
            for line in lines:
                epochs = range(1, len(line["acc"]) + 1)
                ax_acc.plot(epochs, [acc.display(a) for a in line["acc"]], marker=".",
                            color=colors[line["method"]], label=line["label"])
                ax_loss.plot(range(1, len(line["loss"]) + 1), line["loss"], marker=".",
                             color=colors[line["method"]], label=line["label"])
                rows.append([line["label"], str(t),
                             " ".join(number(acc.display(a), 1) for a in line["acc"]),
                             " ".join(number(x, 3) for x in line["loss"])])
            ax_acc.set_ylabel(f"{acc.title} {acc.arrow}")
            ax_acc.set_title(f"T={t}: test accuracy", fontsize=9)
            ax_loss.set_ylabel(loss)
            ax_loss.set_yscale("log")
            _plain_log(ax_loss)
            ax_loss.set_title(f"T={t}: training loss (epoch mean)", fontsize=9)
            for ax in (ax_acc, ax_loss):
                ax.set_xlabel("epoch")
        axes[0][1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
                          frameon=False)
        fig.suptitle(title, fontsize=10)
        svg = to_svg(fig)
    return Plot(plot_id, title,
                "Means over seeds after each epoch: test top-1 (left) and the mean training "
                "loss of the epoch (right, log scale).",
                svg, ["Configuration", "T", "Test top-1 per epoch (%)",
                      "Training loss per epoch"], rows)
