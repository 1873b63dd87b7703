#!/usr/bin/python3
"""Plots the output of `streamix detect --echo`: the readings with the flagged rows, the score
with its threshold, and the labelled anomalies (when the output has a label column) shaded.

usage: streamix_plot.py RESULTS.csv PNG [--title TEXT]

Time on the x-axis when the results have one (`--time`, ISO dates), else the row; one panel per
feature (more than 8: one panel, each scaled to [0, 1]); the warm-up shaded grey.

Needs Debian's python3-matplotlib (run with /usr/bin/python3).
"""
import argparse
import csv
import math
import sys

try:
    import matplotlib
except ImportError:
    sys.exit("streamix_plot.py: needs matplotlib: sudo apt install python3-matplotlib, and run it "
             f"with Debian's /usr/bin/python3 (this is {sys.executable})")

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

FIXED = ["row", "time", "score", "threshold", "probability", "surprise", "anomaly_score",
         "anomaly", "top_feature", "label"]


def number(text):
    return float(text) if text != "" else math.nan


def runs(flags):
    """(first, last) index pairs of the runs of True in flags."""
    out, start = [], None
    for i, f in enumerate(flags + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def parse_time(texts):
    """The time column as datetimes if every value reads as an ISO date and time, else None."""
    from datetime import datetime
    try:
        return [datetime.fromisoformat(t.strip().replace("Z", "+00:00")) for t in texts]
    except ValueError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("png")
    parser.add_argument("--title", default=None, help="[the results file's name]")
    args = parser.parse_args()

    with open(args.results, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("streamix_plot: no rows in " + args.results)
    features = [c for c in rows[0].keys() if c not in FIXED]
    if not features:
        sys.exit("streamix_plot: no feature columns (run streamix detect with --echo)")
    times = parse_time([r["time"] for r in rows]) if all(r["time"] for r in rows) else None
    x = times if times is not None else [int(r["row"]) for r in rows]
    score = [number(r["score"]) for r in rows]
    threshold = [number(r["threshold"]) for r in rows]
    flagged = [r["anomaly"] == "1" for r in rows]
    labels = [r.get("label") == "1" for r in rows] if "label" in rows[0] else None
    # (skipped rows have no score either: the warm-up is the empty scores before the first one)
    first_scored = next((i for i, v in enumerate(score) if not math.isnan(v)), len(rows))

    # One panel per feature (each on its own axis: a temperature near 20 beside a pressure
    # near 100 would be flat), up to 8; more share one panel, each scaled to [0, 1].
    panels = features if len(features) <= 8 else [None]
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(14, 2.0 * len(panels) + 3), sharex=True,
                             gridspec_kw={"height_ratios": [2] * len(panels) + [3]}, squeeze=False)
    axes = [a[0] for a in axes]
    bottom = axes[-1]
    for ax, name in zip(axes, panels):
        shown = [name] if name is not None else features
        for feature in shown:
            values = [number(r[feature]) for r in rows]
            if name is None:
                finite = [v for v in values if math.isfinite(v)] or [0.0]
                low, high = min(finite), max(finite)
                values = [(v - low) / (high - low) if high > low else 0.5 for v in values]
            ax.plot(x, values, linewidth=0.7, label=feature)
            if name is not None:
                ax.scatter([x[i] for i in range(len(x)) if flagged[i]],
                           [values[i] for i in range(len(x)) if flagged[i]],
                           s=6, color="red", zorder=3, label="flagged")
        ax.set_ylabel(name if name is not None else "readings, each scaled to [0, 1]", fontsize=8)
        ax.legend(loc="upper left", fontsize=7, ncol=4)
    bottom.plot(x, score, linewidth=0.6, color="black", label="score = -log p(x)")
    bottom.plot(x, threshold, linewidth=1.0, color="orange", label="threshold")
    bottom.scatter([x[i] for i in range(len(x)) if flagged[i]],
                   [score[i] for i in range(len(x)) if flagged[i]],
                   s=6, color="red", zorder=3, label="flagged")
    finite = sorted(s for s in score if math.isfinite(s))
    if finite:  # keep the view on the bulk: extreme scores are clipped at the top
        bottom.set_ylim(finite[0] - 1, max(finite[int(0.999 * (len(finite) - 1))],
                                           max((t for t in threshold if math.isfinite(t)),
                                               default=finite[-1])) * 1.3 + 1)
    for ax in axes:
        if first_scored > 0:
            ax.axvspan(x[0], x[min(first_scored, len(x) - 1)], color="0.85", alpha=0.6,
                       label="warm-up" if ax is bottom else None)
        if labels is not None:
            for i, (a, b) in enumerate(runs(labels)):
                ax.axvspan(x[a], x[b], color="tab:green", alpha=0.15,
                           label="labelled anomaly" if i == 0 and ax is bottom else None)
    bottom.set_ylabel("score (nats)")
    bottom.set_xlabel("time" if times is not None else "row")
    bottom.legend(loc="upper left", fontsize=8, ncol=5)
    title = args.title if args.title is not None else "streamix detect: " + args.results
    axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(args.png)


if __name__ == "__main__":
    main()
