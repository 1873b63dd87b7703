"""streamix: online (streaming) EM for Gaussian mixtures in fixed memory, and its anomaly detector.

Two classes over the C library:

- ``OnlineGaussianMixture``: a diagonal Gaussian mixture learned one row at a time
  (stepwise EM), in scikit-learn's idiom (``partial_fit``, ``score_samples``, ``weights_``...).
- ``Detector``: the anomaly detector of ``streamix detect``, with its settings by their
  command-line names (underscored), whole-array ``detect`` and River's ``learn_one`` /
  ``score_one``.

Both save to the C library's snapshot bytes (``to_bytes``), which load on every platform
the library runs on, a Cortex-M4 included (``to_c_source`` writes them as a C array).
Whole-array calls release the GIL and loop in C++; a rejected row raises ``ValueError``
naming it, with the object unchanged.
"""

import copy as _copy
import re as _re

import numpy as _np

from . import _streamix

__all__ = ["OnlineGaussianMixture", "Detector", "Bank", "DetectorBank", "backend", "select_kernels"]

__version__ = _streamix.__version__
backend = _streamix.backend
select_kernels = _streamix.select_kernels

# scikit-learn's names for the model's settings, and the C config field each sets.
_MODEL_SETTINGS = {
    "step_exponent": "step_exponent",
    "step_offset": "step_offset",
    "step_floor": "step_floor",
    "hold_samples": "hold_samples",
    "init_samples": "init_samples",
    "variance_floor": "variance_floor",
    "weight_floor": "weight_floor",
    "average_from": "average_from",
    "batch_size": "batch_size",
    "random_state": "seed",
}


def _rows(X, n_features, name="X"):
    """X as a 2-D array (a single row of n_features values is taken as one sample)."""
    a = _np.asarray(X)
    if a.ndim == 1 and a.shape[0] == n_features:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (n_samples, {n_features}), got {a.shape}")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold numbers, got dtype {a.dtype}")
    with _np.errstate(over="ignore"):  # beyond float32: infinite, which the library rejects
        return _np.ascontiguousarray(a, dtype=_np.float32)


def _c_source(name, data, what):
    if not _re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise ValueError(f"{name!r} is not a C identifier")
    lines = [", ".join(f"0x{b:02x}" for b in data[i:i + 12]) for i in range(0, len(data), 12)]
    body = ",\n  ".join(lines)
    return (
        f"/* {what}: a streamix snapshot of {len(data)} bytes, written by streamix.to_c_source.\n"
        f" * Declare it where it is used:\n"
        f" *   extern const unsigned char {name}[];\n"
        f" *   extern const size_t {name}_size;\n"
        f" * and load it with smx_snapshot_load({name}, {name}_size, storage, bytes, &model)\n"
        f" * (a detector's with smx_detector_snapshot_load). */\n"
        f"#include <stddef.h>\n\n"
        f"#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L\n"
        f"_Alignas(8)\n"
        f"#elif defined(__GNUC__)\n"
        f"__attribute__((aligned(8)))\n"
        f"#endif\n"
        f"const unsigned char {name}[{len(data)}] = {{\n  {body}\n}};\n"
        f"const size_t {name}_size = {len(data)};\n"
    )


class _Snapshotted:
    """Snapshots, pickling and copies through the C library's snapshot bytes, for a class whose
    native object (with to_bytes and from_bytes) is the attribute named by _native."""

    _native = None  # the attribute's name
    _native_class = None  # its class

    def to_bytes(self):
        """The C library's snapshot of the whole state (portable across platforms)."""
        return getattr(self, self._native).to_bytes()

    def to_c_source(self, name):
        """C source defining `name` as the snapshot's bytes and `name_size` as their count."""
        return _c_source(name, self.to_bytes(), type(self).__name__)

    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k != self._native}
        state["_snapshot"] = self.to_bytes()
        return state

    def __setstate__(self, state):
        state = dict(state)
        snapshot = state.pop("_snapshot")
        self.__dict__.update(state)
        setattr(self, self._native, self._native_class.from_bytes(snapshot))

    def __deepcopy__(self, memo):
        new = self.__class__.__new__(self.__class__)
        new.__setstate__(_copy.deepcopy(self.__getstate__(), memo))
        return new

    def __copy__(self):
        new = self.__class__.__new__(self.__class__)
        new.__setstate__(self.__getstate__())
        return new


class OnlineGaussianMixture(_Snapshotted):
    """A diagonal Gaussian mixture learned online by stepwise EM (Cappé & Moulines 2009).

    The names follow scikit-learn's ``GaussianMixture(covariance_type='diag')`` where the
    concept is the same. The step size is (t + step_offset) ** -step_exponent, never below
    step_floor; the model initializes itself from its first ``init_samples`` rows (k-means++
    with ``random_state``), and takes ``hold_samples`` more before its first M-step. Memory
    is fixed at creation.
    """

    _native, _native_class = "_model", _streamix.Model

    def __init__(self, n_components, n_features, *, step_exponent=0.6, step_offset=2,
                 step_floor=0.0, hold_samples=20, init_samples=None, variance_floor=1e-6,
                 weight_floor=None, average_from=0, batch_size=1, random_state=1):
        self.n_components = n_components
        self.n_features = n_features
        self.step_exponent = step_exponent
        self.step_offset = step_offset
        self.step_floor = step_floor
        self.hold_samples = hold_samples
        self.init_samples = init_samples
        self.variance_floor = variance_floor
        self.weight_floor = weight_floor
        self.average_from = average_from
        self.batch_size = batch_size
        self.random_state = random_state
        self._model = self._new_model()

    def _new_model(self):
        for name in ("n_components", "n_features"):
            v = getattr(self, name)
            if not isinstance(v, (int, _np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        c = _streamix.Config(int(self.n_components), int(self.n_features))
        for name, field in _MODEL_SETTINGS.items():
            v = getattr(self, name)
            if v is None:
                continue  # the library's default
            try:
                setattr(c, field, v)
            except TypeError:
                raise ValueError(f"{name}: invalid value {v!r}") from None
        try:
            return _streamix.Model(c)
        except ValueError as e:
            raise ValueError(f"invalid settings for OnlineGaussianMixture: {e}") from None

    # -- learning ------------------------------------------------------------------------
    def partial_fit(self, X, y=None):
        """Learns from the rows of X (n_samples x n_features), in order: one stepwise update
        per row, or per mini-batch of batch_size rows (rows that do not complete one wait in
        the model for the next call); returns self."""
        self._model.observe(_rows(X, self.n_features))
        return self

    def fit(self, X, y=None):
        """A fresh model (same settings) learned from X by partial_fit; returns self."""
        rows = _rows(X, self.n_features)
        model = self._new_model()
        model.observe(rows)
        self._model = model
        return self

    # -- scoring -------------------------------------------------------------------------
    def score_samples(self, X):
        """log p(x) in nats per row (float32), NaN while the model warms up."""
        return self._model.score(_rows(X, self.n_features))

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of X."""
        return float(_np.mean(self.score_samples(X), dtype=_np.float64))

    def predict_proba(self, X):
        """Responsibilities, n_samples x n_components."""
        return self._model.responsibilities(_rows(X, self.n_features))

    def predict(self, X):
        """The most responsible component of each row."""
        return _np.argmax(self.predict_proba(X), axis=1)

    # -- parameters ----------------------------------------------------------------------
    @property
    def is_ready(self):
        return self._model.ready

    @property
    def n_samples_seen_(self):
        return self._model.samples_seen

    @property
    def weights_(self):
        return self._model.params()[0]

    @property
    def means_(self):
        return self._model.params()[1]

    @property
    def covariances_(self):
        """Per-component diagonal variances, n_components x n_features (covariance_type='diag')."""
        return self._model.params()[2]

    def set_params(self, weights, means, covariances):
        """Sets the mixture's parameters (covariances: diagonal, n_components x n_features);
        the model is then ready, and its step count and hold restart. Returns self."""
        self._model.set_params(_np.asarray(weights, dtype=_np.float32),
                               _np.asarray(means, dtype=_np.float32),
                               _np.asarray(covariances, dtype=_np.float32))
        return self

    def merge(self, other, weight=1.0):
        """Merges other's statistics into this model's, as if this model had also learned
        from what other learned (smx_model_merge): each counts by its effective number of
        samples, other's scaled by weight in (0, 1]. Meaningful when the components
        correspond (both started from the same parameters). other is unchanged; returns self."""
        if not isinstance(other, OnlineGaussianMixture):
            raise TypeError(f"merge takes an OnlineGaussianMixture, not {type(other).__name__}")
        self._model.merge(other._model, float(weight))
        return self

    @classmethod
    def from_sklearn(cls, gm, **settings):
        """A model with the parameters of a fitted sklearn.mixture.GaussianMixture whose
        covariance_type is 'diag' or 'spherical' (then learning goes on from them)."""
        kind = getattr(gm, "covariance_type", None)
        if kind not in ("diag", "spherical"):
            raise ValueError(f"from_sklearn takes covariance_type 'diag' or 'spherical', not {kind!r}")
        if not hasattr(gm, "means_"):
            raise ValueError("from_sklearn needs a fitted GaussianMixture")
        means = _np.asarray(gm.means_)
        k, d = means.shape
        cov = _np.asarray(gm.covariances_)
        if kind == "spherical":
            cov = _np.repeat(cov.reshape(k, 1), d, axis=1)
        model = cls(k, d, **settings)
        return model.set_params(gm.weights_, means, cov)

    # -- snapshots (and _Snapshotted's) ------------------------------------------------------
    @classmethod
    def from_bytes(cls, data):
        """The model saved in data, with its settings."""
        model = _streamix.Model.from_bytes(bytes(data))
        c = model.config
        self = cls.__new__(cls)
        self.n_components, self.n_features = c.components, c.features
        for name, field in _MODEL_SETTINGS.items():
            setattr(self, name, getattr(c, field))
        self._model = model
        return self

    def __repr__(self):
        return (f"OnlineGaussianMixture(n_components={self.n_components}, "
                f"n_features={self.n_features}, n_samples_seen_={self.n_samples_seen_})")


class Detector(_Snapshotted):
    """The anomaly detector of ``streamix detect``: each reading is scored under the model
    before the model learns from it.

    Settings by their command-line names with underscores (``smoothing``, ``alarm_rate``,
    ``anomaly_weight``, ``rows='independent'``, ``views='level,delta'``, ``offsets`` and
    ``scales`` as lists, ...: ``streamix detect --help`` lists them with their defaults).
    """

    _native, _native_class = "_detector", _streamix.Detector

    def __init__(self, n_features, n_components=2, **settings):
        pairs = [("components", str(n_components))]
        for name, value in settings.items():
            if isinstance(value, (list, tuple, _np.ndarray)):
                value = ",".join(repr(float(v)) if not isinstance(v, str) else v for v in value)
            elif isinstance(value, float):
                value = repr(value)
            pairs.append((name.replace("_", "-"), str(value)))
        self.n_features = n_features
        self.n_components = n_components
        self.settings = dict(settings)
        self._feature_names = None
        try:
            self._detector = _streamix.Detector(int(n_features), pairs)
        except ValueError as e:  # the CLI's wording ("--alarm-rate 0.5: ...") in Python's
            message = _re.sub(r"--([a-z-]+) ", lambda m: m.group(1).replace("-", "_") + "=", str(e))
            raise ValueError(message) from None

    def detect(self, X):
        """Each row scored, then learned: a dict of arrays, one entry per row: score,
        threshold, probability, surprise, anomaly_score, is_anomaly, top_feature."""
        return self._detector.detect(_rows(X, self.n_features))

    # -- River's idiom ---------------------------------------------------------------------
    def _row(self, x):
        if self._feature_names is None:
            if len(x) != self.n_features:
                raise ValueError(f"the first reading has {len(x)} features, not {self.n_features}")
            self._feature_names = list(x)
        names = self._feature_names
        extra = [k for k in x if k not in set(names)]
        if extra:
            raise KeyError(extra[0])
        return _np.array([[x[k] for k in names]], dtype=_np.float64)  # a missing key: KeyError

    def learn_one(self, x):
        """Learns reading x (a dict; its keys fixed by the first one); returns self."""
        self._detector.detect(self._row(x))
        return self

    def score_one(self, x):
        """The anomaly_score reading x would get, in [0, 1) (0.5 at the threshold; 0 in the
        warm-up), without learning from it."""
        return float(self._detector.peek(self._row(x))["anomaly_score"][0])

    @property
    def n_samples_seen_(self):
        return self._detector.samples_seen

    @property
    def is_ready(self):
        return self._detector.ready

    # -- snapshots (and _Snapshotted's) ------------------------------------------------------
    @classmethod
    def from_bytes(cls, data):
        self = cls.__new__(cls)
        self._detector = _streamix.Detector.from_bytes(bytes(data))
        self.n_features = self._detector.features
        self.n_components = None
        self.settings = {}
        self._feature_names = None
        return self



class Bank:
    """Many models of one configuration, one per stream (a sensor, a device, a key), in one
    block of memory with lanes across models (the C library's smx_bank): ``partial_fit``
    learns one reading per model, ``partial_fit_some`` readings for the models named by id
    (a model several times in one call: in order). Each model learns exactly as an
    ``OnlineGaussianMixture`` with the same settings would. A bad reading (NaN, infinite) is
    rejected for its model alone: the returned ``learned`` flags say which.
    ``model(i)`` gives model i as an ``OnlineGaussianMixture`` (a copy); ``set_model(i, m)``
    puts one in (same settings); ``reset(i)`` starts model i afresh.
    """

    def __init__(self, n_models, n_components, n_features, **settings):
        self.n_models = n_models
        self._template = OnlineGaussianMixture(n_components, n_features, **settings)
        config = self._template._model.config
        try:
            self._bank = _streamix.Bank(config, int(n_models))
        except (ValueError, TypeError) as e:
            raise ValueError(f"invalid settings for Bank: {e}") from None

    @property
    def n_features(self):
        return self._template.n_features

    def partial_fit(self, X):
        """Row i of X (n_models x n_features) for model i. Returns (log_p, learned): each
        reading's prequential log-likelihood (NaN in a model's warm-up and where rejected)
        and whether it was learned."""
        return self._bank.observe(_rows(X, self.n_features))

    def partial_fit_some(self, ids, X):
        """Row i of X for model ids[i], in order. Returns (log_p, learned) as partial_fit; an
        id past the bank is rejected like a bad reading."""
        return self._bank.observe_some(_np.asarray(ids, dtype=_np.uint32), _rows(X, self.n_features))

    def score(self, i, x):
        """log p(x) under model i (NaN before it is ready)."""
        return self._bank.score(i, _rows(_np.asarray(x).reshape(1, -1), self.n_features))

    def params(self, i):
        """Model i's (weights, means, variances)."""
        return self._bank.params(i)

    def samples_seen(self, i):
        return self._bank.samples_seen(i)

    def model(self, i):
        """Model i as an OnlineGaussianMixture (a copy: the bank is unchanged)."""
        out = _copy.copy(self._template)
        out._model = _streamix.Model.from_bytes(self._bank.model_bytes(i))
        return out

    def set_model(self, i, model):
        """Model i becomes a copy of `model` (an OnlineGaussianMixture with the bank's settings)."""
        self._bank.set_model_bytes(i, model.to_bytes())

    def reset(self, i):
        self._bank.reset(i)


class DetectorBank:
    """Many anomaly detectors of one configuration, one per stream, in one block of memory
    (the C library's smx_detector_bank): ``detect`` takes one reading per detector,
    ``detect_some`` readings for the detectors named by id (a detector several times in one
    call: in order). Each detector decides exactly as a ``Detector`` with the same settings
    would. Both return the dict of ``Detector.detect`` plus ``accepted``: a bad reading is
    rejected for its detector alone (unchanged; its fields as in a warm-up).
    ``detector(i)`` gives detector i as a ``Detector`` (a copy); ``set_detector(i, d)`` puts
    one in (same settings); ``reset(i)`` starts detector i afresh.
    """

    def __init__(self, n_detectors, n_features, n_components=2, **settings):
        self.n_detectors = n_detectors
        self._template = Detector(n_features, n_components, **settings)
        try:
            self._bank = _streamix.DetectorBank(self._template._detector, int(n_detectors))
        except (ValueError, TypeError) as e:
            raise ValueError(f"invalid settings for DetectorBank: {e}") from None

    @property
    def n_features(self):
        return self._template.n_features

    def detect(self, X):
        """Row i of X (n_detectors x n_features) for detector i."""
        return self._bank.detect(_rows(X, self.n_features))

    def detect_some(self, ids, X):
        """Row i of X for detector ids[i], in order; an id past the bank is rejected like a
        bad reading."""
        return self._bank.detect_some(_np.asarray(ids, dtype=_np.uint32), _rows(X, self.n_features))

    def samples_seen(self, i):
        return self._bank.samples_seen(i)

    def detector(self, i):
        """Detector i as a Detector (a copy: the bank is unchanged)."""
        out = Detector.from_bytes(self._bank.detector_bytes(i))
        out.n_components = self._template.n_components
        out.settings = dict(self._template.settings)
        return out

    def set_detector(self, i, detector):
        """Detector i becomes a copy of `detector` (a Detector with the bank's settings)."""
        self._bank.set_detector_bytes(i, detector.to_bytes())

    def reset(self, i):
        """Detector i starts afresh (with the bank's fixed scaling, if any)."""
        self._bank.set_detector_bytes(i, self._template.to_bytes())
