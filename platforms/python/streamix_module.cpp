// The compiled half of the Python package: a model and a detector in storage owned here,
// with whole-array calls that loop in C++ over contiguous float32 rows with the GIL
// released. The scikit-learn and River idioms are in streamix/__init__.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "detector_options.h"
#include "streamix/streamix.h"

namespace py = pybind11;

namespace {

// C-contiguous float32 rows; float64 and other dtypes are converted (a value beyond float's
// range becomes infinite, which the library rejects as input).
using Rows = py::array_t<float, py::array::c_style | py::array::forcecast>;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

[[noreturn]] void fail(const std::string& what, smx_status s) {
  throw py::value_error(what + ": " + smx_status_string(s));
}

// The rows of X as n x width floats, or ValueError for another shape.
size_t row_count(const Rows& x, uint32_t width, const char* name) {
  if (x.ndim() != 2 || x.shape(1) != static_cast<py::ssize_t>(width))
    throw py::value_error(std::string(name) + " must have shape (n_samples, " +
                          std::to_string(width) + "), got " + std::to_string(x.ndim()) +
                          "-dimensional input" +
                          (x.ndim() == 2 ? " with " + std::to_string(x.shape(1)) + " columns" : ""));
  return static_cast<size_t>(x.shape(0));
}

// Caller storage for the library: SMX_STORAGE_ALIGN-aligned bytes, and a second block of
// the same size that holds the state before a call (restored if a row is rejected) or a
// scratch copy to score without learning. The state holds no pointers into itself, so a
// byte copy is the same state.
class Storage {
 public:
  explicit Storage(size_t bytes)
      : bytes_(bytes), stride_((bytes + SMX_STORAGE_ALIGN - 1) / SMX_STORAGE_ALIGN * SMX_STORAGE_ALIGN),
        block_(2 * stride_ + SMX_STORAGE_ALIGN) {}
  unsigned char* data() { return block_.data() + pad(); }
  unsigned char* spare() { return data() + stride_; }  // (aligned too)
  size_t size() const { return bytes_; }
  void keep() { std::memcpy(spare(), data(), bytes_); }
  void restore() { std::memcpy(data(), spare(), bytes_); }

 private:
  size_t pad() const {
    return (SMX_STORAGE_ALIGN - reinterpret_cast<uintptr_t>(block_.data()) % SMX_STORAGE_ALIGN) % SMX_STORAGE_ALIGN;
  }
  size_t bytes_, stride_;
  std::vector<unsigned char> block_;
};

// A row the library rejected: its index and status (row -1: none).
struct Rejection {
  py::ssize_t row = -1;
  smx_status status = SMX_OK;
};

// learn(i) for each of n rows with the GIL released; at the first row it rejects, the state
// is put back as it was before the call and that row is returned.
template <class Learn>
Rejection learn_rows(Storage& storage, size_t n, Learn learn) {
  py::gil_scoped_release unlocked;
  storage.keep();
  for (size_t i = 0; i < n; ++i) {
    const smx_status s = learn(i);
    if (s != SMX_OK) {
      storage.restore();
      return {static_cast<py::ssize_t>(i), s};
    }
  }
  return {};
}

[[noreturn]] void reject(const Rejection& r, const char* what) {
  throw py::value_error(std::string(what) + ": row " + std::to_string(r.row) + " rejected (" +
                        smx_status_string(r.status) + "); the object is unchanged");
}

template <class Save>
py::bytes snapshot_bytes(size_t bytes, Save save) {
  std::string out(bytes, '\0');
  size_t written = 0;
  const smx_status s = save(out.data(), out.size(), &written);
  if (s != SMX_OK) fail("snapshot", s);
  out.resize(written);
  return py::bytes(out);
}

class Model {
 public:
  explicit Model(const smx_config& c) : storage_(size_of(c)) {
    const smx_status s = smx_model_create(&c, storage_.data(), storage_.size(), &m_);
    if (s != SMX_OK) fail("model settings", s);
  }
  Model(const std::string& snapshot, bool) : storage_(snapshot_size_of(snapshot)) {
    const smx_status s = smx_snapshot_load(snapshot.data(), snapshot.size(), storage_.data(),
                                           storage_.size(), &m_);
    if (s != SMX_OK) fail("snapshot", s);
  }

  smx_config config() const {
    smx_config c;
    smx_model_config(m_, &c);
    return c;
  }
  uint32_t components() const { return config().components; }
  uint32_t features() const { return config().features; }
  bool ready() const { return smx_is_ready(m_) == 1; }
  uint64_t samples_seen() const { return smx_samples_seen(m_); }

  // The rows learned in order (smx_observe_batch: whole mini-batches straight from the
  // array); prequential log p per row (NaN in the warm-up). A rejected call changes nothing;
  // then the rows go one at a time to name the one rejected.
  py::array_t<float> observe(const Rows& x) {
    const size_t n = row_count(x, features(), "X");
    py::array_t<float> out(static_cast<py::ssize_t>(n));
    const float* rows = x.data();
    float* ll = out.mutable_data();
    const size_t d = features();
    smx_status whole;
    {
      py::gil_scoped_release unlocked;
      whole = smx_observe_batch(m_, rows, n, ll);
    }
    if (whole == SMX_OK) return out;
    const Rejection r = learn_rows(storage_, n, [&](size_t i) { return smx_observe(m_, rows + i * d, ll + i); });
    if (r.row >= 0 && r.status == SMX_ERR_NOT_READY)
      throw py::value_error("the model has no parameters and no warm-up (init_samples 0): set them first");
    if (r.row >= 0) reject(r, "partial_fit");
    return out;
  }

  // from's statistics merged into this model's (smx_model_merge); from is unchanged.
  void merge(const Model& from, float weight) {
    const smx_status s = smx_model_merge(m_, from.m_, weight);
    if (s == SMX_ERR_NOT_READY) throw py::value_error("merge: both models need parameters (a model still warming up cannot merge)");
    if (s != SMX_OK) throw py::value_error("merge: the models must differ and have the same n_components and n_features, and weight must be in (0, 1]");
  }

  // log p per row under the current parameters (NaN for every row before the model is ready).
  py::array_t<float> score(const Rows& x) const {
    const size_t n = row_count(x, features(), "X");
    py::array_t<float> out(static_cast<py::ssize_t>(n));
    float* ll = out.mutable_data();
    if (!ready()) {
      std::fill(ll, ll + n, kNaN);
      return out;
    }
    smx_status s;
    {
      py::gil_scoped_release unlocked;
      s = n == 0 ? SMX_OK : smx_score_batch(m_, x.data(), n, ll);
    }
    if (s != SMX_OK) reject(first_rejected(x, n), "score_samples");
    return out;
  }

  py::array_t<float> responsibilities(const Rows& x) const {
    if (!ready()) throw py::value_error("the model is not ready: it is still warming up");
    const size_t n = row_count(x, features(), "X");
    const size_t k = components(), d = features();
    py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(k)});
    float* resp = out.mutable_data();
    Rejection r;
    {
      py::gil_scoped_release unlocked;
      for (size_t i = 0; i < n && r.row < 0; ++i) {
        const smx_status s = smx_responsibilities(m_, x.data() + i * d, resp + i * k);
        if (s != SMX_OK) r = {static_cast<py::ssize_t>(i), s};
      }
    }
    if (r.row >= 0) reject(r, "predict_proba");
    return out;
  }

  py::tuple params() const {
    if (!ready()) throw py::value_error("the model is not ready: it is still warming up");
    const py::ssize_t k = components(), d = features();
    py::array_t<float> w(k), mu({k, d}), var({k, d});
    smx_model_get_params(m_, w.mutable_data(), mu.mutable_data(), var.mutable_data());
    return py::make_tuple(w, mu, var);
  }

  void set_params(const Rows& w, const Rows& mu, const Rows& var) {
    const py::ssize_t k = components(), d = features();
    if (w.ndim() != 1 || w.shape(0) != k)
      throw py::value_error("weights must have shape (" + std::to_string(k) + ",)");
    for (const Rows* a : {&mu, &var}) {
      if (a->ndim() != 2 || a->shape(0) != k || a->shape(1) != d)
        throw py::value_error("means and covariances must have shape (" + std::to_string(k) +
                              ", " + std::to_string(d) + ")");
    }
    const smx_status s = smx_model_set_params(m_, w.data(), mu.data(), var.data());
    if (s != SMX_OK) fail("set_params (weights >= 0 with a positive sum, finite means, variances > 0)", s);
  }

  py::bytes to_bytes() const {
    size_t bytes = 0;
    smx_snapshot_size(m_, &bytes);
    return snapshot_bytes(bytes, [&](void* b, size_t n, size_t* w) { return smx_snapshot_save(m_, b, n, w); });
  }

 private:
  static size_t size_of(const smx_config& c) {
    if (const char* problem = smx_config_problem(&c)) throw py::value_error(problem);
    size_t bytes = 0;
    const smx_status s = smx_model_size(&c, &bytes);
    if (s != SMX_OK) fail("model settings", s);
    return bytes;
  }
  static size_t snapshot_size_of(const std::string& snapshot) {
    smx_config c;
    const smx_status s = smx_snapshot_config(snapshot.data(), snapshot.size(), &c);
    if (s != SMX_OK) fail("snapshot", s);
    return size_of(c);
  }
  // smx_score_batch rejects a call, not a row: the row is found only on that path.
  Rejection first_rejected(const Rows& x, size_t n) const {
    const size_t d = features();
    for (size_t i = 0; i < n; ++i) {
      float ll;
      const smx_status s = smx_score(m_, x.data() + i * d, &ll);
      if (s != SMX_OK) return {static_cast<py::ssize_t>(i), s};
    }
    return {0, SMX_ERR_INPUT};
  }

  Storage storage_;
  smx_model* m_ = nullptr;
};

// A bank of models (smx_bank_*): one reading per model, or readings for some models by id,
// with the library's per-reading verdicts (a bad reading is rejected for its model alone).
class Bank {
 public:
  Bank(const smx_config& c, uint32_t models) : storage_(size_of(c, models)) {
    const smx_status s = smx_bank_create(&c, models, storage_.data(), storage_.size(), &b_);
    if (s != SMX_OK) fail("bank settings", s);
  }

  uint32_t models() const { return smx_bank_models(b_); }
  smx_config config() const {
    smx_config c;
    smx_bank_config(b_, &c);
    return c;
  }

  // log p per reading (NaN in a model's warm-up and for a rejected reading) and whether each
  // was learned.
  py::tuple observe(const Rows& x) {
    const size_t n = row_count(x, config().features, "X");
    if (n != models()) throw py::value_error("X must have one row per model (" + std::to_string(models()) + ")");
    return learned(n, [&](float* ll, smx_status* st) { return smx_bank_observe(b_, x.data(), ll, st); });
  }
  py::tuple observe_some(const py::array_t<uint32_t, py::array::c_style | py::array::forcecast>& ids,
                         const Rows& x) {
    const size_t n = row_count(x, config().features, "X");
    if (ids.ndim() != 1 || static_cast<size_t>(ids.shape(0)) != n)
      throw py::value_error("ids must have one entry per row of X");
    return learned(n, [&](float* ll, smx_status* st) {
      return smx_bank_observe_some(b_, ids.data(), x.data(), n, ll, st);
    });
  }
  float score(uint32_t id, const Rows& x) {
    if (row_count(x, config().features, "x") != 1) throw py::value_error("one reading");
    float ll = kNaN;
    const smx_status s = smx_bank_score(b_, id, x.data(), &ll);
    if (s != SMX_OK && s != SMX_ERR_NOT_READY) fail("score", s);
    return ll;
  }
  py::tuple params(uint32_t id) {
    const py::ssize_t k = config().components, d = config().features;
    py::array_t<float> w(k), mu({k, d}), var({k, d});
    const smx_status s = smx_bank_get_params(b_, id, w.mutable_data(), mu.mutable_data(), var.mutable_data());
    if (s != SMX_OK) fail("params of model " + std::to_string(id), s);
    return py::make_tuple(w, mu, var);
  }
  uint64_t samples_seen(uint32_t id) const { return smx_bank_samples_seen(b_, id); }
  bool ready(uint32_t id) const { return smx_bank_is_ready(b_, id) == 1; }
  void reset(uint32_t id) {
    const smx_status s = smx_bank_model_reset(b_, id);
    if (s != SMX_OK) fail("reset of model " + std::to_string(id), s);
  }
  py::bytes model_bytes(uint32_t id) {
    size_t bytes = 0;
    const smx_status s = smx_bank_snapshot_size(b_, id, &bytes);
    if (s != SMX_OK) fail("model " + std::to_string(id), s);
    return snapshot_bytes(bytes, [&](void* buf, size_t len, size_t* w) {
      return smx_bank_snapshot_save(b_, id, buf, len, w);
    });
  }
  void set_model_bytes(uint32_t id, const py::bytes& snapshot) {
    const std::string b(snapshot);
    const smx_status s = smx_bank_snapshot_load(b_, id, b.data(), b.size());
    if (s == SMX_ERR_ARGUMENT) throw py::value_error("the snapshot's settings differ from the bank's, or no model " + std::to_string(id));
    if (s != SMX_OK) fail("snapshot", s);
  }

 private:
  template <class Call>
  py::tuple learned(size_t n, Call call) {
    py::array_t<float> out(static_cast<py::ssize_t>(n));
    std::vector<smx_status> statuses(n);
    smx_status whole;
    {
      py::gil_scoped_release unlocked;
      whole = n == 0 ? SMX_OK : call(out.mutable_data(), statuses.data());
    }
    (void)whole;  // (the per-reading verdicts say it all)
    py::array_t<bool> ok(static_cast<py::ssize_t>(n));
    for (size_t i = 0; i < n; ++i) ok.mutable_at(i) = statuses[i] == SMX_OK;
    return py::make_tuple(out, ok);
  }
  static size_t size_of(const smx_config& c, uint32_t models) {
    if (const char* problem = smx_config_problem(&c)) throw py::value_error(problem);
    size_t bytes = 0;
    const smx_status s = smx_bank_size(&c, models, &bytes);
    if (s != SMX_OK) throw py::value_error("n_models must be 1 to " + std::to_string(SMX_MAX_BANK_MODELS));
    return bytes;
  }

  Storage storage_;
  smx_bank* b_ = nullptr;
};

// The detection fields as NumPy arrays, one entry per row.
struct Detections {
  explicit Detections(size_t n)
      : score(n), threshold(n), probability(n), surprise(n), anomaly_score(n),
        is_anomaly(n), top_feature(n) {}
  void set(size_t i, const smx_detection& d) {
    score.mutable_at(i) = d.score;
    threshold.mutable_at(i) = d.threshold;
    probability.mutable_at(i) = d.probability;
    surprise.mutable_at(i) = d.surprise;
    anomaly_score.mutable_at(i) = d.anomaly_score;
    is_anomaly.mutable_at(i) = d.is_anomaly != 0;
    top_feature.mutable_at(i) = d.top_feature;
  }
  py::dict dict() const {
    py::dict out;
    out["score"] = score;
    out["threshold"] = threshold;
    out["probability"] = probability;
    out["surprise"] = surprise;
    out["anomaly_score"] = anomaly_score;
    out["is_anomaly"] = is_anomaly;
    out["top_feature"] = top_feature;
    return out;
  }
  py::array_t<float> score, threshold, probability, surprise, anomaly_score;
  py::array_t<bool> is_anomaly;
  py::array_t<int32_t> top_feature;
};

class Detector {
 public:
  // settings: (CLI option name, value) pairs, applied as `streamix detect` applies them.
  Detector(uint32_t features, const std::vector<std::pair<std::string, std::string>>& settings)
      : storage_(size_of(features, settings)) {
    const smx_status s = smx_detector_create(&cfg_, storage_.data(), storage_.size(), &det_);
    if (s != SMX_OK) fail("detector settings", s);
    if (cfg_.scaling == SMX_SCALING_FIXED) {
      const smx_status f = smx_detector_set_scaling(det_, settings_.offsets.data(), settings_.scales.data());
      if (f != SMX_OK) fail("offsets and scales (|offset| <= 1.8e19, scales in [5.4e-20, 1.8e19])", f);
    }
  }
  Detector(const std::string& snapshot, bool) : storage_(snapshot_size_of(snapshot)) {
    const smx_status s = smx_detector_snapshot_load(snapshot.data(), snapshot.size(),
                                                    storage_.data(), storage_.size(), &det_);
    if (s != SMX_OK) fail("snapshot", s);
    smx_detector_config_get(det_, &cfg_);
  }

  uint32_t features() const { return cfg_.features; }
  const smx_detector_config& config() const { return cfg_; }
  const smx_detector* c_detector() const { return det_; }
  uint64_t samples_seen() const { return smx_detector_samples_seen(det_); }
  bool ready() const { return smx_is_ready(smx_detector_model(det_)) == 1; }

  // Scores each row before learning from it, as smx_detect.
  py::dict detect(const Rows& x) {
    const size_t n = row_count(x, features(), "X");
    std::vector<smx_detection> found(n);
    const size_t d = features();
    const Rejection r = learn_rows(storage_, n, [&](size_t i) { return smx_detect(det_, x.data() + i * d, &found[i]); });
    if (r.row >= 0) reject(r, "detect");
    Detections out(n);
    for (size_t i = 0; i < n; ++i) out.set(i, found[i]);
    return out.dict();
  }

  // What detect would report for one reading, on a copy: the detector is unchanged.
  py::dict peek(const Rows& x) {
    const size_t n = row_count(x, features(), "x");
    if (n != 1) throw py::value_error("one reading");
    storage_.keep();
    smx_detector* copy = reinterpret_cast<smx_detector*>(storage_.spare());
    smx_detection d{};
    const smx_status s = smx_detect(copy, x.data(), &d);
    if (s != SMX_OK) reject({0, s}, "score_one");
    Detections out(1);
    out.set(0, d);
    return out.dict();
  }

  py::bytes to_bytes() const {
    size_t bytes = 0;
    smx_detector_snapshot_size(det_, &bytes);
    return snapshot_bytes(bytes, [&](void* b, size_t n, size_t* w) {
      return smx_detector_snapshot_save(det_, b, n, w);
    });
  }

 private:
  size_t size_of(uint32_t features, const std::vector<std::pair<std::string, std::string>>& settings) {
    std::string error;
    for (const auto& [name, value] : settings) {
      if (name == "kernels" || !streamix::host::is_detector_option(name))
        throw py::type_error("unknown detector setting '" + name + "'");
      if (!streamix::host::record_detector_option(name, value, settings_, error))
        throw py::value_error(error);
    }
    if (features < 1 || features > SMX_MAX_FEATURES)
      throw py::value_error("n_features must be 1 to " + std::to_string(SMX_MAX_FEATURES));
    if (!streamix::host::build_detector_config(settings_, features, cfg_, error)) throw py::value_error(error);
    size_t bytes = 0;
    const smx_status s = smx_detector_size(&cfg_, &bytes);
    if (s != SMX_OK) fail("detector settings", s);
    return bytes;
  }
  static size_t snapshot_size_of(const std::string& snapshot) {
    smx_detector_config c;
    smx_status s = smx_detector_snapshot_config(snapshot.data(), snapshot.size(), &c);
    size_t bytes = 0;
    if (s == SMX_OK) s = smx_detector_size(&c, &bytes);
    if (s != SMX_OK) fail("snapshot", s);
    return bytes;
  }

  streamix::host::DetectorSettings settings_;
  smx_detector_config cfg_{};
  Storage storage_;
  smx_detector* det_ = nullptr;
};

// A bank of detectors (smx_detector_bank_*), each starting as a copy of a template detector
// (its settings, and its fixed scaling if any).
class DetectorBank {
 public:
  DetectorBank(const Detector& fresh, uint32_t detectors) : storage_(size_of(fresh.config(), detectors)) {
    const smx_detector_config& c = fresh.config();
    smx_status s = smx_detector_bank_create(&c, detectors, storage_.data(), storage_.size(), &b_);
    for (uint32_t id = 0; id < detectors && s == SMX_OK; ++id) {
      s = smx_detector_bank_set(b_, id, fresh.c_detector());
    }
    if (s != SMX_OK) fail("detector bank settings", s);
  }

  uint32_t detectors() const { return smx_detector_bank_detectors(b_); }
  uint32_t features() const {
    smx_detector_config c;
    smx_detector_bank_config(b_, &c);
    return c.features;
  }

  py::dict detect(const Rows& x) {
    const size_t n = row_count(x, features(), "X");
    if (n != detectors())
      throw py::value_error("X must have one row per detector (" + std::to_string(detectors()) + ")");
    return detections(n, [&](smx_detection* out, smx_status* st) {
      return smx_detector_bank_detect(b_, x.data(), out, st);
    });
  }
  py::dict detect_some(const py::array_t<uint32_t, py::array::c_style | py::array::forcecast>& ids,
                       const Rows& x) {
    const size_t n = row_count(x, features(), "X");
    if (ids.ndim() != 1 || static_cast<size_t>(ids.shape(0)) != n)
      throw py::value_error("ids must have one entry per row of X");
    return detections(n, [&](smx_detection* out, smx_status* st) {
      return smx_detector_bank_detect_some(b_, ids.data(), x.data(), n, out, st);
    });
  }
  uint64_t samples_seen(uint32_t id) const { return smx_detector_bank_samples_seen(b_, id); }
  void reset(uint32_t id) {
    const smx_status s = smx_detector_bank_reset(b_, id);
    if (s != SMX_OK) fail("reset of detector " + std::to_string(id), s);
  }
  py::bytes detector_bytes(uint32_t id) {
    size_t bytes = 0;
    const smx_status s = smx_detector_bank_snapshot_size(b_, id, &bytes);
    if (s != SMX_OK) fail("detector " + std::to_string(id), s);
    return snapshot_bytes(bytes, [&](void* buf, size_t len, size_t* w) {
      return smx_detector_bank_snapshot_save(b_, id, buf, len, w);
    });
  }
  void set_detector_bytes(uint32_t id, const py::bytes& snapshot) {
    const std::string b(snapshot);
    const smx_status s = smx_detector_bank_snapshot_load(b_, id, b.data(), b.size());
    if (s == SMX_ERR_ARGUMENT)
      throw py::value_error("the snapshot's settings differ from the bank's, or no detector " + std::to_string(id));
    if (s != SMX_OK) fail("snapshot", s);
  }

 private:
  // The detections, plus `accepted`: whether each reading was taken (a rejected one leaves
  // its detector unchanged; its fields are those of a warm-up reading).
  template <class Call>
  py::dict detections(size_t n, Call call) {
    std::vector<smx_detection> found(n);
    std::vector<smx_status> statuses(n);
    {
      py::gil_scoped_release unlocked;
      if (n > 0) (void)call(found.data(), statuses.data());  // (the per-reading verdicts say it all)
    }
    Detections out(n);
    py::array_t<bool> accepted(static_cast<py::ssize_t>(n));
    for (size_t i = 0; i < n; ++i) {
      out.set(i, found[i]);
      accepted.mutable_at(i) = statuses[i] == SMX_OK;
    }
    py::dict d = out.dict();
    d["accepted"] = accepted;
    return d;
  }
  static size_t size_of(const smx_detector_config& c, uint32_t detectors) {
    size_t bytes = 0;
    if (smx_detector_bank_size(&c, detectors, &bytes) != SMX_OK)
      throw py::value_error("n_detectors must be 1 to " + std::to_string(SMX_MAX_BANK_MODELS));
    return bytes;
  }

  Storage storage_;
  smx_detector_bank* b_ = nullptr;
};

}  // namespace

PYBIND11_MODULE(_streamix, m) {
  m.doc() = "streamix's C API for the Python package (use the streamix module)";
  py::class_<smx_config>(m, "Config")
      .def(py::init([](uint32_t k, uint32_t d) {
        smx_config c;
        smx_config_init(&c, k, d);
        return c;
      }))
      .def_readwrite("components", &smx_config::components)
      .def_readwrite("features", &smx_config::features)
      .def_readwrite("step_exponent", &smx_config::step_exponent)
      .def_readwrite("step_offset", &smx_config::step_offset)
      .def_readwrite("step_floor", &smx_config::step_floor)
      .def_readwrite("hold_samples", &smx_config::hold_samples)
      .def_readwrite("init_samples", &smx_config::init_samples)
      .def_readwrite("variance_floor", &smx_config::variance_floor)
      .def_readwrite("weight_floor", &smx_config::weight_floor)
      .def_readwrite("seed", &smx_config::seed)
      .def_readwrite("average_from", &smx_config::average_from)
      .def_readwrite("batch_size", &smx_config::batch_size);
  py::class_<Model>(m, "Model")
      .def(py::init<const smx_config&>())
      .def_static("from_bytes", [](const py::bytes& b) { return Model(std::string(b), true); })
      .def_property_readonly("config", &Model::config)
      .def_property_readonly("ready", &Model::ready)
      .def_property_readonly("samples_seen", &Model::samples_seen)
      .def("observe", &Model::observe)
      .def("score", &Model::score)
      .def("responsibilities", &Model::responsibilities)
      .def("params", &Model::params)
      .def("set_params", &Model::set_params)
      .def("merge", &Model::merge)
      .def("to_bytes", &Model::to_bytes);
  py::class_<Detector>(m, "Detector")
      .def(py::init<uint32_t, const std::vector<std::pair<std::string, std::string>>&>())
      .def_static("from_bytes", [](const py::bytes& b) { return Detector(std::string(b), true); })
      .def_property_readonly("features", &Detector::features)
      .def_property_readonly("ready", &Detector::ready)
      .def_property_readonly("samples_seen", &Detector::samples_seen)
      .def("detect", &Detector::detect)
      .def("peek", &Detector::peek)
      .def("to_bytes", &Detector::to_bytes);
  py::class_<Bank>(m, "Bank")
      .def(py::init<const smx_config&, uint32_t>())
      .def_property_readonly("models", &Bank::models)
      .def_property_readonly("config", &Bank::config)
      .def("observe", &Bank::observe)
      .def("observe_some", &Bank::observe_some)
      .def("score", &Bank::score)
      .def("params", &Bank::params)
      .def("samples_seen", &Bank::samples_seen)
      .def("ready", &Bank::ready)
      .def("reset", &Bank::reset)
      .def("model_bytes", &Bank::model_bytes)
      .def("set_model_bytes", &Bank::set_model_bytes);
  py::class_<DetectorBank>(m, "DetectorBank")
      .def(py::init<const Detector&, uint32_t>())
      .def_property_readonly("detectors", &DetectorBank::detectors)
      .def("detect", &DetectorBank::detect)
      .def("detect_some", &DetectorBank::detect_some)
      .def("samples_seen", &DetectorBank::samples_seen)
      .def("reset", &DetectorBank::reset)
      .def("detector_bytes", &DetectorBank::detector_bytes)
      .def("set_detector_bytes", &DetectorBank::set_detector_bytes);
  m.attr("__version__") = smx_version();
  m.def("backend", [] { return std::string(smx_backend()) + ":" + smx_backend_target(); });
  m.def("select_kernels", [](const std::string& name) {
    if (smx_select_kernels(name.c_str()) != SMX_OK)
      throw py::value_error("unknown or unavailable kernels '" + name + "'");
  });
}
