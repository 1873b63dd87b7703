#!/usr/bin/python3
"""Plots the output of `streamix detect --echo`: the readings with the flagged rows, the score
with its threshold, and the labelled anomalies (when the output has a label column) shaded.

usage: streamix_plot.py RESULTS.csv PNG [--title TEXT]

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("png")
    parser.add_argument("--title", default="")
    args = parser.parse_args()

    with open(args.results, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("streamix_plot: no rows in " + args.results)
    features = [c for c in rows[0].keys() if c not in FIXED]
    if not features:
        sys.exit("streamix_plot: no feature columns (run streamix detect with --echo)")
    x = [int(r["row"]) for r in rows]
    score = [number(r["score"]) for r in rows]
    threshold = [number(r["threshold"]) for r in rows]
    flagged = [r["anomaly"] == "1" for r in rows]
    labels = [r.get("label") == "1" for r in rows] if "label" in rows[0] else None

    fig, axes = plt.subplots(2, 1, figsize=(14, 7), sharex=True,
                             gridspec_kw={"height_ratios": [3, 2]})
    top, bottom = axes
    for name in features:
        top.plot(x, [number(r[name]) for r in rows], linewidth=0.7, label=name)
    first = [number(rows[i][features[0]]) for i in range(len(rows))]
    top.scatter([x[i] for i in range(len(x)) if flagged[i]],
                [first[i] for i in range(len(x)) if flagged[i]],
                s=6, color="red", zorder=3, label="flagged")
    bottom.plot(x, score, linewidth=0.6, color="black", label="score = -log p(x)")
    bottom.plot(x, threshold, linewidth=1.0, color="orange", label="threshold")
    bottom.scatter([x[i] for i in range(len(x)) if flagged[i]],
                   [score[i] for i in range(len(x)) if flagged[i]],
                   s=6, color="red", zorder=3)
    finite = sorted(s for s in score if math.isfinite(s))
    if finite:  # keep the view on the bulk: extreme scores are clipped at the top
        bottom.set_ylim(finite[0] - 1, max(finite[int(0.999 * (len(finite) - 1))],
                                           max((t for t in threshold if math.isfinite(t)),
                                               default=finite[-1])) * 1.3 + 1)
    if labels is not None:
        for i, (a, b) in enumerate(runs(labels)):
            for ax in axes:
                ax.axvspan(x[a], x[b], color="tab:green", alpha=0.15,
                           label="labelled anomaly" if i == 0 and ax is top else None)
    top.set_ylabel("reading")
    bottom.set_ylabel("score (nats)")
    bottom.set_xlabel("row")
    top.legend(loc="upper left", fontsize=8, ncol=4)
    bottom.legend(loc="upper left", fontsize=8)
    if args.title:
        top.set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(args.png)


if __name__ == "__main__":
    main()
