"""The Python package against scikit-learn, a known mixture, its own snapshots and bad input.
Run by ctest (python_tests) with PYTHONPATH=build/host/python; fixed seeds throughout."""
import copy
import os
import pickle
import subprocess
import threading

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.mixture import GaussianMixture

import streamix

DEFAULT_BACKEND = streamix.backend().split(":")[0]


@pytest.fixture(autouse=True, params=["highway", "xsimd", "scalar"])
def kernels(request):
    """Every test on every backend compiled in (the library's kernels are process-wide)."""
    try:
        streamix.select_kernels(request.param)
    except ValueError:
        pytest.skip(f"no {request.param} kernels in this build")
    yield request.param
    streamix.select_kernels(DEFAULT_BACKEND)


def two_blobs(n=20000, seed=3):
    """A known mixture: weights 0.3 / 0.7, means (0, 0) and (6, -3), sds (1, 0.5) and (0.8, 2)."""
    rng = np.random.default_rng(seed)
    first = rng.random(n) < 0.3
    x = np.where(first[:, None], rng.normal([0.0, 0.0], [1.0, 0.5], (n, 2)),
                 rng.normal([6.0, -3.0], [0.8, 2.0], (n, 2)))
    return x


# -- parity with scikit-learn ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["diag", "spherical"])
def test_from_sklearn_scores_as_sklearn_on_iris(kind):
    # sklearn scores in float64, streamix in float32: log p of iris rows is -1 to -12 nats and
    # sums D = 4 terms, so float32's 6e-8 relative rounding of each term and of the
    # log-sum-exp stays below 1e-5 nats; 1e-4 absolute plus 1e-5 relative covers it.
    X = load_iris().data
    gm = GaussianMixture(3, covariance_type=kind, random_state=0).fit(X)
    model = streamix.OnlineGaussianMixture.from_sklearn(gm)
    assert model.is_ready
    np.testing.assert_allclose(model.score_samples(X), gm.score_samples(X), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(X), gm.predict_proba(X), atol=1e-4)
    assert (model.predict(X) == gm.predict(X)).all()
    assert model.score(X) == pytest.approx(gm.score(X), rel=1e-5)
    np.testing.assert_allclose(model.weights_, gm.weights_, rtol=1e-6)


def test_from_sklearn_rejects_other_covariances():
    X = load_iris().data
    with pytest.raises(ValueError, match="'full'"):
        streamix.OnlineGaussianMixture.from_sklearn(GaussianMixture(2, random_state=0).fit(X))
    with pytest.raises(ValueError, match="fitted"):
        streamix.OnlineGaussianMixture.from_sklearn(GaussianMixture(2, covariance_type="diag"))


# -- learning ------------------------------------------------------------------------------

def test_partial_fit_recovers_a_known_mixture():
    # 20,000 rows of two_blobs, in chunks: the weights within 0.02, each mean within 0.15
    # standard deviations and each standard deviation within 10 % of the truth. The iterate
    # of stepwise EM with steps t^-0.6 fluctuates by about sqrt(step / 2) = 0.036 standard
    # deviations at t = 20,000: 0.15 is 4 of those. (Measured: 0.009, 0.05 sd, 2.8 %.)
    X = two_blobs()
    model = streamix.OnlineGaussianMixture(2, 2)
    for chunk in np.array_split(X, 7):
        assert model.partial_fit(chunk) is model
    assert model.n_samples_seen_ == len(X)
    order = np.argsort(model.means_[:, 0])
    np.testing.assert_allclose(model.weights_[order], [0.3, 0.7], atol=0.02)
    sd = np.array([[1.0, 0.5], [0.8, 2.0]])
    assert (np.abs(model.means_[order] - [[0.0, 0.0], [6.0, -3.0]]) <= 0.15 * sd).all()
    np.testing.assert_allclose(np.sqrt(model.covariances_[order]), sd, rtol=0.1)


def test_fit_is_a_fresh_model_and_float64_equals_float32_input():
    X = two_blobs(3000)
    a = streamix.OnlineGaussianMixture(2, 2).fit(X)
    b = streamix.OnlineGaussianMixture(2, 2).partial_fit(X[:100]).fit(X.astype(np.float32))
    assert a.to_bytes() == b.to_bytes()


def test_shards_learned_from_one_start_merge_to_the_whole():
    # A back-fill in two shards: one model warms up, two copies learn a shard each, and the
    # merge sits where one model that learned both shards does. Step exponent 1 (a plain
    # average of the samples): the two differ by the doubled warm-up only, so the weights
    # agree within 0.005 and the means within 0.02 standard deviations (measured: 0.00006 and
    # 0.0005; the first shard alone: 0.007).
    X = two_blobs(40000, seed=8)
    start = streamix.OnlineGaussianMixture(2, 2, step_exponent=1.0).partial_fit(X[:200])
    whole, first, second = copy.deepcopy(start), copy.deepcopy(start), copy.deepcopy(start)
    whole.partial_fit(X[200:])
    first.partial_fit(X[200:20000])
    second.partial_fit(X[20000:])
    alone = first.means_.copy()
    assert first.merge(second) is first
    assert first.n_samples_seen_ == 200 + len(X)  # both copies had seen the warm-up
    sd = np.sqrt(whole.covariances_)
    np.testing.assert_allclose(first.weights_, whole.weights_, atol=0.005)
    assert (np.abs(first.means_ - whole.means_) <= 0.02 * sd).all()
    assert np.abs(alone - whole.means_).max() > np.abs(first.means_ - whole.means_).max()
    with pytest.raises(ValueError, match="weight"):
        first.merge(second, weight=0.0)
    with pytest.raises(ValueError, match="warming up"):
        first.merge(streamix.OnlineGaussianMixture(2, 2))
    with pytest.raises(ValueError, match="n_components"):
        first.merge(streamix.OnlineGaussianMixture(3, 2).partial_fit(X[:100]))
    with pytest.raises(TypeError):
        first.merge(X)


def test_mini_batches_learn_as_single_rows_do_and_pending_rows_are_kept():
    # batch_size 64 recovers the known mixture within the bounds of
    # test_partial_fit_recovers_a_known_mixture (measured: weights 0.011 off, means 0.051
    # sd, sds 3.6 %; one update per row: 0.009, 0.052, 2.8 %); chunks that split
    # mini-batches give the same model bit for bit, and a pickle keeps the rows waiting.
    X = two_blobs()
    batched = streamix.OnlineGaussianMixture(2, 2, batch_size=64).fit(X)
    order = np.argsort(batched.means_[:, 0])
    sd = np.array([[1.0, 0.5], [0.8, 2.0]])
    np.testing.assert_allclose(batched.weights_[order], [0.3, 0.7], atol=0.02)
    assert (np.abs(batched.means_[order] - [[0.0, 0.0], [6.0, -3.0]]) <= 0.15 * sd).all()
    np.testing.assert_allclose(np.sqrt(batched.covariances_[order]), sd, rtol=0.1)
    chunked = streamix.OnlineGaussianMixture(2, 2, batch_size=64)
    for chunk in np.array_split(X, 13):
        chunked.partial_fit(chunk)
    assert chunked.to_bytes() == batched.to_bytes()
    assert batched.n_samples_seen_ == len(X)
    copy_ = pickle.loads(pickle.dumps(batched))
    assert copy_.batch_size == 64
    rows = two_blobs(100, seed=4)
    np.testing.assert_array_equal(copy_.partial_fit(rows).means_, batched.partial_fit(rows).means_)


def test_warmup_scores_are_nan():
    model = streamix.OnlineGaussianMixture(2, 2, init_samples=50)
    model.partial_fit(two_blobs(10))
    assert not model.is_ready
    assert np.isnan(model.score_samples(two_blobs(4))).all()
    with pytest.raises(ValueError, match="warming up"):
        model.predict_proba(two_blobs(4))


# -- snapshots -----------------------------------------------------------------------------

def test_snapshot_bytes_are_equal_across_bytes_pickle_and_copies():
    model = streamix.OnlineGaussianMixture(3, 2, average_from=10).partial_fit(two_blobs(5000))
    b = model.to_bytes()
    for other in (streamix.OnlineGaussianMixture.from_bytes(b), pickle.loads(pickle.dumps(model)),
                  copy.deepcopy(model), copy.copy(model)):
        assert other.to_bytes() == b
        X = two_blobs(500, seed=8)
        np.testing.assert_array_equal(other.score_samples(X), model.score_samples(X))
    # and they learn on alike
    twin = pickle.loads(pickle.dumps(model))
    more = two_blobs(1000, seed=9)
    assert twin.partial_fit(more).to_bytes() == model.partial_fit(more).to_bytes()


def test_detector_snapshot_bytes_are_equal_across_bytes_pickle_and_copies():
    det = streamix.Detector(2, alarm_rate=0.02)
    det.detect(two_blobs(1000))
    b = det.to_bytes()
    for other in (streamix.Detector.from_bytes(b), pickle.loads(pickle.dumps(det)), copy.deepcopy(det)):
        assert other.to_bytes() == b
    twin = pickle.loads(pickle.dumps(det))
    X = two_blobs(300, seed=4)
    mine, theirs = det.detect(X), twin.detect(X)
    for key in mine:
        np.testing.assert_array_equal(theirs[key], mine[key])
    assert twin.to_bytes() == det.to_bytes()


def test_c_source_is_the_snapshot():
    model = streamix.OnlineGaussianMixture(2, 2).partial_fit(two_blobs(500))
    src = model.to_c_source("my_model")
    b = model.to_bytes()
    assert f"const unsigned char my_model[{len(b)}]" in src
    assert f"const size_t my_model_size = {len(b)};" in src
    body = src[src.index("{", src.index("my_model[")) + 1:src.index("};")]
    assert bytes(int(v, 16) for v in body.replace("\n", "").split(",")) == b
    with pytest.raises(ValueError, match="C identifier"):
        model.to_c_source("2bad name")


def test_c_source_compiles_and_loads_in_a_c_program():
    # Built by CMake from the source make_flashed_model.py wrote (ctest python_flashed_model
    # runs it too; the Cortex-M4 preset builds it as firmware): here, run it once more.
    build = os.environ.get("STREAMIX_BUILD_DIR")
    if build is None:
        pytest.skip("STREAMIX_BUILD_DIR not set (ctest sets it)")
    program = os.path.join(build, "platforms", "python", "python_flashed_model")
    out = subprocess.run([program], capture_output=True, text=True, check=True).stdout
    assert "16 of 16 rows scored as in Python" in out


# -- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39, 2e19])
def test_a_bad_row_raises_naming_it_and_changes_nothing(bad):
    model = streamix.OnlineGaussianMixture(2, 2).partial_fit(two_blobs(500))
    before = model.to_bytes()
    X = two_blobs(20, seed=5)
    X[13, 1] = bad
    with pytest.raises(ValueError, match="row 13"):
        model.partial_fit(X)
    assert model.to_bytes() == before
    with pytest.raises(ValueError, match="row 13"):
        model.score_samples(X)
    with pytest.raises(ValueError, match="row 13"):
        model.predict_proba(X)
    det = streamix.Detector(2)
    det.detect(two_blobs(300))
    det_before = det.to_bytes()
    with pytest.raises(ValueError, match="row 13"):
        det.detect(X)
    assert det.to_bytes() == det_before


def test_wrong_shapes_and_settings_raise():
    model = streamix.OnlineGaussianMixture(2, 3)
    for X in (np.zeros((4, 2)), np.zeros((2, 3, 1)), np.zeros(5), [["a", "b", "c"]]):
        with pytest.raises(ValueError):
            model.partial_fit(X)
    assert model.n_samples_seen_ == 0
    with pytest.raises(ValueError, match="means and covariances"):
        model.set_params([0.5, 0.5], np.zeros((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError):
        model.set_params([0.5, 0.5], np.zeros((2, 3)), -np.ones((2, 3)))
    for settings in ({"step_exponent": 0.3}, {"n_components": 0}, {"batch_size": 0},
                     {"weight_floor": 0.9}, {"init_samples": 1}):
        args = {"n_components": 2, "n_features": 3, **settings}
        with pytest.raises(ValueError):
            streamix.OnlineGaussianMixture(**args)
    with pytest.raises(ValueError, match=r"smoothing=5: smoothing must be in \(0, 1\]"):
        streamix.Detector(2, smoothing=5)
    with pytest.raises(ValueError, match=r"step_exponent must be in \(0.5, 1\]"):
        streamix.OnlineGaussianMixture(2, 2, step_exponent=0.3)
    with pytest.raises(TypeError, match="smothing"):
        streamix.Detector(2, smothing=0.5)
    with pytest.raises(ValueError, match="one value per feature"):
        streamix.Detector(2, offsets=[0.0], scales=[1.0])
    with pytest.raises(ValueError):
        streamix.Detector(2, offsets=[0.0, 0.0], scales=[1.0, -1.0])
    fixed = streamix.Detector(2, offsets=[0.0, 1.0], scales=[1.0, 2.0], init_samples=20)
    assert np.isfinite(fixed.detect(two_blobs(30))["score"][-1])
    with pytest.raises(ValueError):
        streamix.OnlineGaussianMixture.from_bytes(b"not a snapshot")
    b = bytearray(model.partial_fit(np.zeros((30, 3)) + np.arange(3)).to_bytes())
    b[40] ^= 1
    with pytest.raises(ValueError, match="snapshot"):
        streamix.OnlineGaussianMixture.from_bytes(bytes(b))


# -- the detector ----------------------------------------------------------------------------

def test_detector_flags_a_fault_and_names_its_feature():
    rng = np.random.default_rng(2)
    X = rng.normal(0.0, 1.0, (3000, 3))
    X[2500:2550, 2] += 8.0
    r = streamix.Detector(3).detect(X)
    assert set(r) >= {"score", "threshold", "probability", "surprise", "anomaly_score",
                      "is_anomaly", "top_feature"}
    assert np.isnan(r["score"][:200]).all()  # the warm-up
    assert r["is_anomaly"][2500:2550].sum() >= 45
    assert r["is_anomaly"][300:2500].mean() < 0.05
    assert (r["top_feature"][2500:2550][r["is_anomaly"][2500:2550]] == 2).all()


def test_river_idiom_learns_one_and_scores_without_learning():
    rng = np.random.default_rng(6)
    det = streamix.Detector(2, rows="independent")
    batch = streamix.Detector(2, rows="independent")
    X = rng.normal(0.0, 1.0, (600, 2))
    for row in X:
        det.learn_one({"a": row[0], "b": row[1]})
    batch.detect(X)
    assert det.to_bytes() == batch.to_bytes()  # learn_one is detect on one row
    before = det.to_bytes()
    ordinary = det.score_one({"b": 0.1, "a": 0.0})
    far = det.score_one({"a": 9.0, "b": 0.0})
    assert det.to_bytes() == before
    assert 0.0 <= ordinary < 0.5 < far < 1.0
    with pytest.raises(KeyError):
        det.learn_one({"a": 0.0})
    with pytest.raises(KeyError):
        det.score_one({"a": 0.0, "b": 1.0, "c": 2.0})
    assert det.to_bytes() == before


def test_batch_calls_release_the_gil():
    # While one thread learns 200,000 rows in C++, another runs Python: with the GIL held it
    # could not count until the call returned.
    model = streamix.OnlineGaussianMixture(2, 2)
    X = two_blobs(200000)
    counter = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    before = counter[0]
    model.partial_fit(X)
    during = counter[0] - before
    done.set()
    t.join()
    assert model.n_samples_seen_ == len(X)
    assert during > 1000


# -- banks ----------------------------------------------------------------------------------

def test_bank_models_learn_as_lone_models_and_move_out_and_in():
    """Each model of a bank against an OnlineGaussianMixture fed its readings: the same
    parameters (the C tests hold the bits; here within 1e-4, as the backends' rounding of
    the sum over components may differ), and models move out and in as snapshots."""
    rng = np.random.default_rng(5)
    n_models, steps = 20, 200
    centres = rng.normal(0.0, 5.0, (n_models, 2, 3))
    pick = rng.random((steps, n_models)) < 0.4
    x = np.where(pick[..., None], centres[None, :, 0], centres[None, :, 1]) + rng.normal(0, 1, (steps, n_models, 3))
    bank = streamix.Bank(n_models, 2, 3)
    lone = [streamix.OnlineGaussianMixture(2, 3) for _ in range(n_models)]
    for t in range(steps):
        log_p, learned = bank.partial_fit(x[t])
        assert learned.all()
        for i in range(n_models):
            lone[i].partial_fit(x[t, i])
    for i in range(n_models):
        copy_i = bank.model(i)
        assert copy_i.n_samples_seen_ == steps
        np.testing.assert_allclose(copy_i.means_, lone[i].means_, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(copy_i.weights_, lone[i].weights_, atol=1e-4)
    # Out and in: model 3's state into model 4 gives model 4 model 3's parameters.
    bank.set_model(4, bank.model(3))
    np.testing.assert_array_equal(bank.params(4)[1], bank.params(3)[1])
    bank.reset(4)
    assert bank.samples_seen(4) == 0 and np.isnan(bank.score(4, x[0, 4]))


def test_detector_bank_detects_as_lone_detectors():
    """Each detector of a bank against a Detector with the same settings fed its readings:
    the same scores (within 1e-3 relative: the C tests hold the bits where the arithmetic is
    the same) and nearly the same decisions, a fault flagged on its stream alone, detectors
    out and in as snapshots, a bad reading rejected for its detector alone."""
    rng = np.random.default_rng(8)
    n, steps = 12, 500
    x = rng.normal(0.0, 1.0, (steps, n, 2)) + np.arange(n)[None, :, None]
    x[450:, 5, 1] += np.linspace(0.0, 30.0, steps - 450)  # sensor 5 drifts off in feature 1
    settings = dict(calibration=50, alarm_rate=0.01)
    bank = streamix.DetectorBank(n, 2, **settings)
    lone = [streamix.Detector(2, **settings) for _ in range(n)]
    flagged = np.zeros(n, dtype=int)
    differ = 0
    for t in range(steps):
        got = bank.detect(x[t])
        assert got["accepted"].all()
        for i in range(n):
            want = lone[i].detect(x[t, i][None, :])
            if np.isfinite(want["score"][0]):
                assert abs(got["score"][i] - want["score"][0]) <= 1e-3 * max(1.0, abs(want["score"][0]))
            differ += int(got["is_anomaly"][i] != want["is_anomaly"][0])
        if t >= 470:
            flagged += got["is_anomaly"]
    assert flagged[5] == 30 and differ <= 2
    assert bank.detect(x[-1])["top_feature"][5] == 1
    # Out and in: detector 3 as a lone Detector, then into detector 4.
    three = bank.detector(3)
    assert three.n_samples_seen_ == steps + 1
    bank.set_detector(4, three)
    assert bank.detector(4).to_bytes() == three.to_bytes()
    bank.reset(4)
    assert bank.samples_seen(4) == 0
    # A NaN for detector 2 and an id past the bank: rejected for their readings alone.
    before = bank.detector(2).to_bytes()
    got = bank.detect_some([2, 1, 99], [[np.nan, 0.0], [1.0, 1.0], [0.0, 0.0]])
    assert list(got["accepted"]) == [False, True, False]
    assert np.isnan(got["score"][0]) and bank.detector(2).to_bytes() == before
    with pytest.raises(ValueError):
        bank.set_detector(0, streamix.Detector(2, alarm_rate=0.05))  # other settings


def test_bank_rejects_a_bad_reading_for_its_model_alone():
    bank = streamix.Bank(5, 2, 2, init_samples=20)
    rng = np.random.default_rng(1)
    for _ in range(30):
        bank.partial_fit(rng.normal(0, 1, (5, 2)))
    before = bank.model(2).to_bytes()
    readings = rng.normal(0, 1, (5, 2))
    readings[2, 1] = np.nan
    log_p, learned = bank.partial_fit(readings)
    assert list(learned) == [True, True, False, True, True]
    assert np.isnan(log_p[2]) and np.isfinite(log_p[[0, 1, 3, 4]]).all()
    assert bank.model(2).to_bytes() == before
    log_p, learned = bank.partial_fit_some([1, 7, 1], rng.normal(0, 1, (3, 2)))
    assert list(learned) == [True, False, True] and bank.samples_seen(1) == 33
    with pytest.raises(ValueError):
        bank.partial_fit(rng.normal(0, 1, (4, 2)))  # one row per model
    with pytest.raises(ValueError):
        bank.set_model(0, streamix.OnlineGaussianMixture(3, 2))  # other settings
