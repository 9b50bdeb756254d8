"""Reading a rendered matplotlib figure's text back: every drawn text box, whether two overlap,
whether one leaves the figure, and how many labelled ticks each numeric axis has."""
from __future__ import annotations

import re

_NUMBER = re.compile(r"^[−\-+]?(\d+([.,]\d*)?|\.\d+)([eE][−\-+]?\d+)?%?$")


def _drawn_ticks(axis, minor: bool = False):
    """(location, label Text) of the ticks the axis draws (inside its view interval)."""
    lo, hi = sorted(axis.get_view_interval())
    locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
    labels = axis.get_minorticklabels() if minor else axis.get_majorticklabels()
    span = hi - lo
    out = []
    for loc, lab in zip(locs, labels):
        if lo - 1e-9 * span <= loc <= hi + 1e-9 * span and lab.get_visible() and lab.get_text().strip():
            out.append((loc, lab))
    return out


def drawn_texts(fig):
    """[(text, window bbox)] of every non-empty text the figure draws."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = []
    for t in (fig._suptitle, fig._supxlabel, fig._supylabel, *fig.texts):
        if t is not None:
            texts.append(t)
    for leg in [*fig.legends, *(a.get_legend() for a in fig.axes)]:
        if leg is not None:
            texts += [*leg.get_texts(), leg.get_title()]
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text(), *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            texts += [lab for _, lab in _drawn_ticks(axis)] + [lab for _, lab in _drawn_ticks(axis, True)]
    out, seen = [], set()
    for t in texts:
        if id(t) in seen:              # the suptitle is also one of fig.texts
            continue
        seen.add(id(t))
        if t.get_visible() and t.get_text().strip():
            out.append((t.get_text(), t.get_window_extent(r)))
    return out


def overlaps(fig, tol: float = 0.5):
    """Pairs of drawn texts whose boxes overlap by more than ``tol`` pixels each way."""
    boxes = drawn_texts(fig)
    bad = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i][1], boxes[j][1]
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            if w > tol and h > tol:
                bad.append((boxes[i][0], boxes[j][0]))
    return bad


def outside(fig, tol: float = 1.0):
    """Drawn texts whose box leaves the figure."""
    fb = fig.bbox
    return [t for t, b in drawn_texts(fig)
            if b.x0 < fb.x0 - tol or b.y0 < fb.y0 - tol or b.x1 > fb.x1 + tol or b.y1 > fb.y1 + tol]


def numeric_axes_with_few_ticks(fig):
    """Numeric axes (any axis whose tick labels are not a fixed list of names) with fewer than
    two labelled ticks inside the view; axes whose labels a shared axis hides are skipped."""
    from matplotlib.ticker import FixedFormatter
    fig.canvas.draw()
    bad = []
    for k, ax in enumerate(fig.axes):
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if isinstance(axis.get_major_formatter(), FixedFormatter):
                continue                                   # categories: names, not numbers
            if not axis.get_majorticklabels():             # only visible labels are returned:
                continue                                   # a shared axis shows them elsewhere
            labels = [lab.get_text() for _, lab in _drawn_ticks(axis)]
            if len(labels) < 2:
                bad.append((k, name, labels))
    return bad


def problems(fig) -> list[str]:
    """Every layout problem of a figure, as readable lines (empty: none)."""
    out = [f"overlap: {a!r} / {b!r}" for a, b in overlaps(fig)]
    out += [f"outside the figure: {t!r}" for t in outside(fig)]
    out += [f"axes {k} {n}: fewer than two labelled ticks {labels}"
            for k, n, labels in numeric_axes_with_few_ticks(fig)]
    return out


def is_numeric_label(text: str) -> bool:
    return bool(_NUMBER.match(text.replace("\u2212", "-").strip()))


__all__ = ["drawn_texts", "overlaps", "outside", "numeric_axes_with_few_ticks", "problems",
           "is_numeric_label"]
