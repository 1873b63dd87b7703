"""Writes what the flashed-model test programs compile (host and Cortex-M4 firmware):
    make_flashed_model.py OUTDIR
OUTDIR/flashed_model_data.c: to_c_source of a model learned here (K = 3, D = 4, fixed seed);
OUTDIR/flashed_model_expected.h: its shape, 16 rows and the log-likelihoods Python scored them
with, as hex floats (exact)."""
import os
import sys

import numpy as np

import streamix


def main(out):
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 1.0, 2.0, 3.0], [5.0, 4.0, -2.0, 0.0], [-4.0, 8.0, 0.5, -3.0]])
    rows = centres[rng.integers(0, 3, 3000)] + rng.normal(0.0, 0.7, (3000, 4))
    model = streamix.OnlineGaussianMixture(3, 4, init_samples=30).partial_fit(rows)
    probe = rows[:16].astype(np.float32)
    expected = model.score_samples(probe)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "flashed_model_data.c"), "w") as f:
        f.write(model.to_c_source("streamix_flashed_model"))
    hexes = lambda values: ", ".join(float(v).hex() + "f" for v in values)
    with open(os.path.join(out, "flashed_model_expected.h"), "w") as f:
        f.write("/* Written by make_flashed_model.py: the flashed model's shape, rows and the\n"
                " * log-likelihoods streamix's Python module gave them. */\n")
        f.write(f"#define FLASHED_K {model.n_components}\n#define FLASHED_D {model.n_features}\n")
        f.write(f"#define FLASHED_N {model.init_samples}\n#define FLASHED_A {int(model.average_from > 0)}\n")
        f.write(f"#define FLASHED_ROWS {len(probe)}\n")
        f.write("static const float flashed_rows[FLASHED_ROWS][FLASHED_D] = {\n")
        f.write(",\n".join("  {" + hexes(r) + "}" for r in probe) + "};\n")
        f.write("static const float flashed_expected[FLASHED_ROWS] = {\n  " + hexes(expected) + "};\n")


if __name__ == "__main__":
    main(sys.argv[1])
