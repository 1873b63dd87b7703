// streamix C++ API: a thin, header-only layer over the C API (streamix.h).
//
// No exceptions: every operation returns streamix::status ([[nodiscard]]). Arrays are
// passed as streamix::span views whose sizes are checked against K and D. Three handles
// share one set of operations (basic_model):
//   model_ref             non-owning, for a model in storage you manage
//   fixed_model<K, D, N>  owns its storage inline: for static storage in firmware
//   model                 owns 64-byte-aligned heap storage: the convenient host type
// and detector (with detector_config) wraps the C anomaly detector the same way.
#ifndef STREAMIX_STREAMIX_HPP
#define STREAMIX_STREAMIX_HPP

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "streamix/streamix.h"

namespace streamix {

enum class status : int {
  ok = SMX_OK,
  argument = SMX_ERR_ARGUMENT,
  storage = SMX_ERR_STORAGE,
  input = SMX_ERR_INPUT,
  not_ready = SMX_ERR_NOT_READY,
  snapshot = SMX_ERR_SNAPSHOT,
};

inline const char* to_string(status s) { return smx_status_string(static_cast<smx_status>(s)); }

// Selects the kernels for the whole process ("scalar", "xsimd", "highway", "highway:AVX2"...).
[[nodiscard]] inline status select_kernels(const char* name) noexcept {
  return static_cast<status>(smx_select_kernels(name));
}

// A contiguous view (std::span arrives only in C++20).
template <class T>
class span {
 public:
  constexpr span() noexcept = default;
  constexpr span(T* data, size_t size) noexcept : data_(data), size_(size) {}
  template <size_t N>
  constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}
  // Any contiguous container with data() and size() (std::vector, std::array, ...).
  template <class C, class = std::enable_if_t<std::is_convertible_v<
                         decltype(std::declval<C&>().data()), T*>>>
  constexpr span(C& c) noexcept : data_(c.data()), size_(c.size()) {}
  template <class C, class = std::enable_if_t<std::is_convertible_v<
                         decltype(std::declval<const C&>().data()), T*>>>
  constexpr span(const C& c) noexcept : data_(c.data()), size_(c.size()) {}
  template <class U, class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
  constexpr span(span<U> other) noexcept : data_(other.data()), size_(other.size()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T& operator[](size_t i) const noexcept { return data_[i]; }
  constexpr T* begin() const noexcept { return data_; }
  constexpr T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

// Model settings, with the library's defaults; setters chain.
class config {
 public:
  config(uint32_t components, uint32_t features) noexcept {
    smx_config_init(&c_, components, features);
  }
  explicit config(const smx_config& c) noexcept : c_(c) {}

  config& step_exponent(float alpha) noexcept { return c_.step_exponent = alpha, *this; }
  config& step_offset(float t0) noexcept { return c_.step_offset = t0, *this; }
  config& step_floor(float gamma_min) noexcept { return c_.step_floor = gamma_min, *this; }
  config& hold_samples(uint32_t n) noexcept { return c_.hold_samples = n, *this; }
  config& init_samples(uint32_t n) noexcept { return c_.init_samples = n, *this; }
  config& variance_floor(float v) noexcept { return c_.variance_floor = v, *this; }
  config& weight_floor(float w) noexcept { return c_.weight_floor = w, *this; }
  config& seed(uint32_t s) noexcept { return c_.seed = s, *this; }
  config& average_from(uint32_t n) noexcept { return c_.average_from = n, *this; }
  config& batch_size(uint32_t m) noexcept { return c_.batch_size = m, *this; }

  uint32_t components() const noexcept { return c_.components; }
  uint32_t features() const noexcept { return c_.features; }
  const smx_config& c_config() const noexcept { return c_; }

  // Storage this config needs (status::argument if the config is invalid).
  [[nodiscard]] status storage_bytes(size_t& bytes) const noexcept {
    return static_cast<status>(smx_model_size(&c_, &bytes));
  }
  // Why the config is invalid (the field and its range), or nullptr.
  const char* problem() const noexcept { return smx_config_problem(&c_); }

 private:
  smx_config c_{};
};

// The operations every handle has. Derived provides handle() (const and non-const).
template <class Derived>
class basic_model {
 public:
  bool ready() const noexcept { return smx_is_ready(c()) == 1; }
  uint64_t samples_seen() const noexcept { return smx_samples_seen(c()); }
  uint32_t components() const noexcept { return cfg().components; }
  uint32_t features() const noexcept { return cfg().features; }
  config settings() const noexcept { return config(cfg()); }

  // Learns from x; log_likelihood (optional) gets log p(x) before the update, or NaN while
  // the model warms up.
  [[nodiscard]] status observe(span<const float> x, float* log_likelihood = nullptr) noexcept {
    if (x.size() != features()) return status::argument;
    return static_cast<status>(smx_observe(m(), x.data(), log_likelihood));
  }
  // Learns from the rows of x (n x D, row-major) in order, in mini-batches of batch_size
  // (smx_observe_batch); log_likelihood (empty, or n values) gets each row's log p.
  [[nodiscard]] status observe_batch(span<const float> x, span<float> log_likelihood = {}) noexcept {
    const size_t d = features();
    if (d == 0 || x.size() % d != 0) return status::argument;
    const size_t n = x.size() / d;
    if (!log_likelihood.empty() && log_likelihood.size() != n) return status::argument;
    return static_cast<status>(smx_observe_batch(
        m(), x.data(), n, log_likelihood.empty() ? nullptr : log_likelihood.data()));
  }
  [[nodiscard]] status score(span<const float> x, float& log_likelihood) const noexcept {
    if (x.size() != features()) return status::argument;
    return static_cast<status>(smx_score(c(), x.data(), &log_likelihood));
  }
  [[nodiscard]] status responsibilities(span<const float> x, span<float> resp) const noexcept {
    if (x.size() != features() || resp.size() != components()) return status::argument;
    return static_cast<status>(smx_responsibilities(c(), x.data(), resp.data()));
  }
  // weights: K; means and variances: K * D, row k is component k.
  [[nodiscard]] status set_params(span<const float> weights, span<const float> means,
                                  span<const float> variances) noexcept {
    if (!param_sizes_match(weights.size(), means.size(), variances.size())) return status::argument;
    return static_cast<status>(
        smx_model_set_params(m(), weights.data(), means.data(), variances.data()));
  }
  [[nodiscard]] status get_params(span<float> weights, span<float> means,
                                  span<float> variances) const noexcept {
    if (!param_sizes_match(weights.size(), means.size(), variances.size())) return status::argument;
    return static_cast<status>(
        smx_model_get_params(c(), weights.data(), means.data(), variances.data()));
  }
  // log p(x_i) for the rows of x (n x D, row-major) into log_likelihood (n values).
  [[nodiscard]] status score_batch(span<const float> x, span<float> log_likelihood) const noexcept {
    const size_t d = features();
    if (d == 0 || x.size() != log_likelihood.size() * d) return status::argument;
    return static_cast<status>(
        smx_score_batch(c(), x.data(), log_likelihood.size(), log_likelihood.data()));
  }
  // Merges from's statistics into this model's (smx_model_merge); from is unchanged.
  template <class Other>
  [[nodiscard]] status merge(const basic_model<Other>& from, float weight = 1.0f) noexcept {
    return static_cast<status>(smx_model_merge(m(), from.c_model(), weight));
  }
  [[nodiscard]] status snapshot_size(size_t& bytes) const noexcept {
    return static_cast<status>(smx_snapshot_size(c(), &bytes));
  }
  [[nodiscard]] status save(span<unsigned char> buffer, size_t& written) const noexcept {
    return static_cast<status>(smx_snapshot_save(c(), buffer.data(), buffer.size(), &written));
  }

  smx_model* c_model() noexcept { return m(); }
  const smx_model* c_model() const noexcept { return c(); }

 private:
  smx_model* m() noexcept { return static_cast<Derived*>(this)->handle(); }
  const smx_model* c() const noexcept { return static_cast<const Derived*>(this)->handle(); }
  smx_config cfg() const noexcept {
    smx_config out{};
    (void)smx_model_config(c(), &out);  // a handle without a model reports K = D = 0
    return out;
  }
  bool param_sizes_match(size_t w, size_t means, size_t variances) const noexcept {
    const size_t k = components(), kd = size_t{components()} * features();
    return k > 0 && w == k && means == kd && variances == kd;
  }
};

// A non-owning handle to a model living in storage the caller manages.
class model_ref : public basic_model<model_ref> {
 public:
  model_ref() noexcept = default;
  explicit model_ref(smx_model* m) noexcept : m_(m) {}

  [[nodiscard]] static status create(const config& cfg, span<unsigned char> storage,
                                     model_ref& out) noexcept {
    smx_model* m = nullptr;
    const auto s = static_cast<status>(
        smx_model_create(&cfg.c_config(), storage.data(), storage.size(), &m));
    if (s == status::ok) out = model_ref(m);
    return s;
  }
  [[nodiscard]] static status load(span<const unsigned char> snapshot, span<unsigned char> storage,
                                   model_ref& out) noexcept {
    smx_model* m = nullptr;
    const auto s = static_cast<status>(smx_snapshot_load(snapshot.data(), snapshot.size(),
                                                         storage.data(), storage.size(), &m));
    if (s == status::ok) out = model_ref(m);
    return s;
  }

  smx_model* handle() noexcept { return m_; }
  const smx_model* handle() const noexcept { return m_; }

 private:
  smx_model* m_ = nullptr;
};

// Default warm-up length for K components, as smx_config_init sets it.
constexpr uint32_t default_init_samples(uint32_t components) {
  return components * 10u > 20u ? components * 10u : 20u;
}

// A model with compile-time K and D whose storage is a member: no heap, relocatable, usable
// as a static object in firmware. Constructed ready to warm up with the default config;
// reset() re-creates it with other settings of the same shape.
template <uint32_t K, uint32_t D, uint32_t InitSamples = default_init_samples(K),
          bool Averaging = false>
class fixed_model : public basic_model<fixed_model<K, D, InitSamples, Averaging>> {
 public:
  static constexpr size_t storage_bytes = SMX_MODEL_BYTES(K, D, InitSamples, Averaging);

  fixed_model() noexcept {
    config cfg(K, D);
    cfg.init_samples(InitSamples).average_from(Averaging ? 1u : 0u);
    (void)reset(cfg);  // cannot fail for a valid shape (checked by the tests)
  }

  // Re-creates the model; status::argument if cfg's shape differs from the template's.
  [[nodiscard]] status reset(const config& cfg) noexcept {
    if (!shape_matches(cfg.c_config())) return status::argument;
    smx_model* m = nullptr;
    return static_cast<status>(smx_model_create(&cfg.c_config(), storage_, storage_bytes, &m));
  }
  // Replaces the model with a snapshot of the same shape.
  [[nodiscard]] status load(span<const unsigned char> snapshot) noexcept {
    smx_config c{};
    const auto s = static_cast<status>(smx_snapshot_config(snapshot.data(), snapshot.size(), &c));
    if (s != status::ok) return s;
    if (!shape_matches(c)) return status::argument;
    smx_model* m = nullptr;
    return static_cast<status>(
        smx_snapshot_load(snapshot.data(), snapshot.size(), storage_, storage_bytes, &m));
  }

  smx_model* handle() noexcept { return reinterpret_cast<smx_model*>(storage_); }
  const smx_model* handle() const noexcept { return reinterpret_cast<const smx_model*>(storage_); }

 private:
  static bool shape_matches(const smx_config& c) noexcept {
    return c.components == K && c.features == D && c.init_samples == InitSamples &&
           (c.average_from > 0) == Averaging;
  }
  alignas(SMX_STORAGE_ALIGN) unsigned char storage_[storage_bytes];
};

// 64-byte-aligned heap storage, allocated once and released on destruction (move-only).
class heap_storage {
 public:
  heap_storage() noexcept = default;
  heap_storage(heap_storage&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  heap_storage& operator=(heap_storage&& other) noexcept {
    if (this != &other) {
      release();
      p_ = other.p_;
      other.p_ = nullptr;
    }
    return *this;
  }
  heap_storage(const heap_storage&) = delete;
  heap_storage& operator=(const heap_storage&) = delete;
  ~heap_storage() { release(); }

  status allocate(size_t bytes) noexcept {
    release();
    p_ = ::operator new(bytes, std::align_val_t{SMX_STORAGE_ALIGN}, std::nothrow);
    return p_ ? status::ok : status::storage;
  }
  void* get() const noexcept { return p_; }

 private:
  void release() noexcept {
    if (p_) ::operator delete(p_, std::align_val_t{SMX_STORAGE_ALIGN});
    p_ = nullptr;
  }
  void* p_ = nullptr;
};

// A model that owns 64-byte-aligned heap storage (allocated once, in create or load).
class model : public basic_model<model> {
 public:
  [[nodiscard]] static status create(const config& cfg, model& out) noexcept {
    size_t bytes = 0;
    status s = cfg.storage_bytes(bytes);
    if (s != status::ok) return s;
    model fresh;
    if ((s = fresh.storage_.allocate(bytes)) != status::ok) return s;
    smx_model* m = nullptr;
    s = static_cast<status>(smx_model_create(&cfg.c_config(), fresh.storage_.get(), bytes, &m));
    if (s == status::ok) out = static_cast<model&&>(fresh);
    return s;
  }
  [[nodiscard]] static status load(span<const unsigned char> snapshot, model& out) noexcept {
    smx_config c{};
    status s = static_cast<status>(smx_snapshot_config(snapshot.data(), snapshot.size(), &c));
    size_t bytes = 0;
    if (s != status::ok || (s = config(c).storage_bytes(bytes)) != status::ok) return s;
    model fresh;
    if ((s = fresh.storage_.allocate(bytes)) != status::ok) return s;
    smx_model* m = nullptr;
    s = static_cast<status>(
        smx_snapshot_load(snapshot.data(), snapshot.size(), fresh.storage_.get(), bytes, &m));
    if (s == status::ok) out = static_cast<model&&>(fresh);
    return s;
  }

  smx_model* handle() noexcept { return static_cast<smx_model*>(storage_.get()); }
  const smx_model* handle() const noexcept { return static_cast<const smx_model*>(storage_.get()); }

 private:
  heap_storage storage_;
};

// A bank of models of one config in 64-byte-aligned heap storage (smx_bank_*): one reading
// per model per observe, or readings for some models by id; per model a score, parameters,
// a lone copy, a snapshot in and out, a reset.
class bank {
 public:
  [[nodiscard]] static status create(const config& cfg, uint32_t models, bank& out) noexcept {
    size_t bytes = 0;
    status s = static_cast<status>(smx_bank_size(&cfg.c_config(), models, &bytes));
    if (s != status::ok) return s;
    bank fresh;
    if ((s = fresh.storage_.allocate(bytes)) != status::ok) return s;
    smx_bank* b = nullptr;
    s = static_cast<status>(smx_bank_create(&cfg.c_config(), models, fresh.storage_.get(), bytes, &b));
    if (s == status::ok) out = static_cast<bank&&>(fresh);
    return s;
  }

  uint32_t models() const noexcept { return smx_bank_models(c()); }
  uint32_t features() const noexcept { return settings().features(); }
  config settings() const noexcept {
    smx_config out{};
    smx_bank_config(c(), &out);
    return config(out);
  }

  // One reading per model: x is models() rows of D floats. log_likelihood and statuses are
  // empty or models() long (statuses: each reading's, a bad reading rejected for its model).
  [[nodiscard]] status observe(span<const float> x, span<float> log_likelihood = {},
                               span<smx_status> statuses = {}) noexcept {
    const size_t n = models();
    if (x.size() != n * features() || !fits(log_likelihood.size(), n) || !fits(statuses.size(), n))
      return status::argument;
    return static_cast<status>(smx_bank_observe(b(), x.data(), or_null(log_likelihood), or_null(statuses)));
  }
  // Reading i (row i of x) for model ids[i], in order; the outputs as in observe, ids.size() long.
  [[nodiscard]] status observe_some(span<const uint32_t> ids, span<const float> x,
                                    span<float> log_likelihood = {},
                                    span<smx_status> statuses = {}) noexcept {
    const size_t n = ids.size();
    if (x.size() != n * features() || !fits(log_likelihood.size(), n) || !fits(statuses.size(), n))
      return status::argument;
    return static_cast<status>(smx_bank_observe_some(b(), ids.data(), x.data(), n,
                                                     or_null(log_likelihood), or_null(statuses)));
  }

  [[nodiscard]] status score(uint32_t id, span<const float> x, float& log_likelihood) noexcept {
    if (x.size() != features()) return status::argument;
    return static_cast<status>(smx_bank_score(b(), id, x.data(), &log_likelihood));
  }
  // weights: K (or empty); means and variances: K * D (or empty), row k is component k.
  [[nodiscard]] status get_params(uint32_t id, span<float> weights, span<float> means,
                                  span<float> variances) noexcept {
    const size_t k = settings().components(), kd = k * features();
    if (!fits(weights.size(), k) || !fits(means.size(), kd) || !fits(variances.size(), kd))
      return status::argument;
    return static_cast<status>(
        smx_bank_get_params(b(), id, or_null(weights), or_null(means), or_null(variances)));
  }
  uint64_t samples_seen(uint32_t id) const noexcept { return smx_bank_samples_seen(c(), id); }
  bool ready(uint32_t id) const noexcept { return smx_bank_is_ready(c(), id) == 1; }

  // Model id as a lone model of its own (a copy), and a lone model (of the bank's config)
  // into model id.
  [[nodiscard]] status get(uint32_t id, model& out) const noexcept {
    model fresh;
    status s = model::create(settings(), fresh);
    smx_model* m = nullptr;
    size_t bytes = 0;
    if (s != status::ok || (s = settings().storage_bytes(bytes)) != status::ok) return s;
    s = static_cast<status>(smx_bank_model_get(c(), id, fresh.c_model(), bytes, &m));
    if (s == status::ok) out = static_cast<model&&>(fresh);
    return s;
  }
  template <class Model>
  [[nodiscard]] status set(uint32_t id, const basic_model<Model>& from) noexcept {
    return static_cast<status>(smx_bank_model_set(b(), id, from.c_model()));
  }
  [[nodiscard]] status reset(uint32_t id) noexcept { return static_cast<status>(smx_bank_model_reset(b(), id)); }

  // Model id's snapshot: an ordinary model snapshot (model::load reads it; load takes one).
  [[nodiscard]] status snapshot_size(uint32_t id, size_t& bytes) const noexcept {
    return static_cast<status>(smx_bank_snapshot_size(c(), id, &bytes));
  }
  [[nodiscard]] status save(uint32_t id, span<unsigned char> buffer, size_t& written) noexcept {
    return static_cast<status>(smx_bank_snapshot_save(b(), id, buffer.data(), buffer.size(), &written));
  }
  [[nodiscard]] status load(uint32_t id, span<const unsigned char> snapshot) noexcept {
    return static_cast<status>(smx_bank_snapshot_load(b(), id, snapshot.data(), snapshot.size()));
  }

  smx_bank* c_bank() noexcept { return b(); }
  const smx_bank* c_bank() const noexcept { return c(); }

 private:
  static bool fits(size_t given, size_t n) noexcept { return given == 0 || given == n; }
  template <class T>
  static T* or_null(span<T> s) noexcept { return s.empty() ? nullptr : s.data(); }
  smx_bank* b() noexcept { return static_cast<smx_bank*>(storage_.get()); }
  const smx_bank* c() const noexcept { return static_cast<const smx_bank*>(storage_.get()); }
  heap_storage storage_;
};

// Detector settings (see streamix.h), with the library's defaults; setters chain. The
// model's settings are reached through model(); its feature count follows the views.
class detector_config {
 public:
  detector_config(uint32_t components, uint32_t features) noexcept {
    smx_detector_config_init(&c_, components, features);
  }
  explicit detector_config(const smx_detector_config& c) noexcept : c_(c) {}

  detector_config& views(uint32_t mask) noexcept {
    c_.views = mask;
    c_.model.features = c_.features * SMX_VIEW_COUNT(mask);
    return *this;
  }
  detector_config& smoothing(float a) noexcept { return c_.smoothing = a, *this; }
  detector_config& residual_rate(float r) noexcept { return c_.residual_rate = r, *this; }
  detector_config& scaling(smx_scaling s) noexcept { return c_.scaling = s, *this; }
  detector_config& calibration_samples(uint32_t n) noexcept {
    return c_.calibration_samples = n, *this;
  }
  detector_config& tail_rate(float r) noexcept { return c_.tail_rate = r, *this; }
  detector_config& alarm_rate(float r) noexcept { return c_.alarm_rate = r, *this; }
  detector_config& anomaly_weight(float w) noexcept { return c_.anomaly_weight = w, *this; }
  // The model's settings; its feature count must stay features x views.
  detector_config& model(const config& m) noexcept { return c_.model = m.c_config(), *this; }
  config model() const noexcept { return config(c_.model); }

  uint32_t features() const noexcept { return c_.features; }
  const smx_detector_config& c_config() const noexcept { return c_; }
  [[nodiscard]] status storage_bytes(size_t& bytes) const noexcept {
    return static_cast<status>(smx_detector_size(&c_, &bytes));
  }
  const char* problem() const noexcept { return smx_detector_config_problem(&c_); }

 private:
  smx_detector_config c_{};
};

// An anomaly detector that owns 64-byte-aligned heap storage (allocated in create or load).
class detector {
 public:
  [[nodiscard]] static status create(const detector_config& cfg, detector& out) noexcept {
    size_t bytes = 0;
    status s = cfg.storage_bytes(bytes);
    if (s != status::ok) return s;
    detector fresh;
    if ((s = fresh.storage_.allocate(bytes)) != status::ok) return s;
    smx_detector* d = nullptr;
    s = static_cast<status>(
        smx_detector_create(&cfg.c_config(), fresh.storage_.get(), bytes, &d));
    if (s == status::ok) out = static_cast<detector&&>(fresh);
    return s;
  }
  [[nodiscard]] static status load(span<const unsigned char> snapshot, detector& out) noexcept {
    smx_detector_config c{};
    status s = static_cast<status>(
        smx_detector_snapshot_config(snapshot.data(), snapshot.size(), &c));
    size_t bytes = 0;
    if (s != status::ok || (s = detector_config(c).storage_bytes(bytes)) != status::ok) return s;
    detector fresh;
    if ((s = fresh.storage_.allocate(bytes)) != status::ok) return s;
    smx_detector* d = nullptr;
    s = static_cast<status>(smx_detector_snapshot_load(snapshot.data(), snapshot.size(),
                                                       fresh.storage_.get(), bytes, &d));
    if (s == status::ok) out = static_cast<detector&&>(fresh);
    return s;
  }

  [[nodiscard]] status set_scaling(span<const float> offsets, span<const float> scales) noexcept {
    if (offsets.size() != features() || scales.size() != features()) return status::argument;
    return static_cast<status>(smx_detector_set_scaling(d(), offsets.data(), scales.data()));
  }
  [[nodiscard]] status detect(span<const float> x, smx_detection& out) noexcept {
    if (x.size() != features()) return status::argument;
    return static_cast<status>(smx_detect(d(), x.data(), &out));
  }
  [[nodiscard]] status snapshot_size(size_t& bytes) const noexcept {
    return static_cast<status>(smx_detector_snapshot_size(c(), &bytes));
  }
  [[nodiscard]] status save(span<unsigned char> buffer, size_t& written) const noexcept {
    return static_cast<status>(
        smx_detector_snapshot_save(c(), buffer.data(), buffer.size(), &written));
  }

  uint32_t features() const noexcept { return settings().features(); }
  uint64_t samples_seen() const noexcept { return smx_detector_samples_seen(c()); }
  detector_config settings() const noexcept {
    smx_detector_config out{};
    (void)smx_detector_config_get(c(), &out);  // no detector: features = 0
    return detector_config(out);
  }
  const smx_model* c_model() const noexcept { return smx_detector_model(c()); }
  smx_detector* c_detector() noexcept { return d(); }

 private:
  smx_detector* d() noexcept { return static_cast<smx_detector*>(storage_.get()); }
  const smx_detector* c() const noexcept { return static_cast<const smx_detector*>(storage_.get()); }
  heap_storage storage_;
};

// M detectors of one config in one block (smx_detector_bank_*): the gateway's container.
class detector_bank {
 public:
  [[nodiscard]] static status create(const detector_config& cfg, uint32_t detectors,
                                     detector_bank& out) noexcept {
    size_t bytes = 0;
    status s = static_cast<status>(smx_detector_bank_size(&cfg.c_config(), detectors, &bytes));
    if (s != status::ok) return s;
    detector_bank fresh;
    if ((s = fresh.storage_.allocate(bytes)) != status::ok) return s;
    smx_detector_bank* b = nullptr;
    s = static_cast<status>(smx_detector_bank_create(&cfg.c_config(), detectors,
                                                     fresh.storage_.get(), bytes, &b));
    if (s == status::ok) out = static_cast<detector_bank&&>(fresh);
    return s;
  }

  uint32_t detectors() const noexcept { return smx_detector_bank_detectors(c()); }
  uint32_t features() const noexcept { return settings().features(); }
  detector_config settings() const noexcept {
    smx_detector_config out{};
    (void)smx_detector_bank_config(c(), &out);
    return detector_config(out);
  }

  // One reading per detector: x is detectors() rows of D floats; detections and statuses
  // empty or detectors() long (a bad reading rejected for its detector alone).
  [[nodiscard]] status detect(span<const float> x, span<smx_detection> detections = {},
                              span<smx_status> statuses = {}) noexcept {
    const size_t n = detectors();
    if (x.size() != n * features() || !fits(detections.size(), n) || !fits(statuses.size(), n))
      return status::argument;
    return static_cast<status>(
        smx_detector_bank_detect(b(), x.data(), or_null(detections), or_null(statuses)));
  }
  // Reading i (row i of x) for detector ids[i], in order; outputs ids.size() long or empty.
  [[nodiscard]] status detect_some(span<const uint32_t> ids, span<const float> x,
                                   span<smx_detection> detections = {},
                                   span<smx_status> statuses = {}) noexcept {
    const size_t n = ids.size();
    if (x.size() != n * features() || !fits(detections.size(), n) || !fits(statuses.size(), n))
      return status::argument;
    return static_cast<status>(smx_detector_bank_detect_some(
        b(), ids.data(), x.data(), n, or_null(detections), or_null(statuses)));
  }
  [[nodiscard]] status set_scaling(uint32_t id, span<const float> offsets,
                                   span<const float> scales) noexcept {
    if (offsets.size() != features() || scales.size() != features()) return status::argument;
    return static_cast<status>(
        smx_detector_bank_set_scaling(b(), id, offsets.data(), scales.data()));
  }
  uint64_t samples_seen(uint32_t id) const noexcept { return smx_detector_bank_samples_seen(c(), id); }

  // Detector id as a lone detector (a copy), and a lone detector (of the bank's config) into
  // detector id; reset to a fresh one.
  [[nodiscard]] status get(uint32_t id, detector& out) noexcept {
    detector fresh;
    size_t bytes = 0;
    status s = settings().storage_bytes(bytes);
    if (s != status::ok || (s = detector::create(settings(), fresh)) != status::ok) return s;
    smx_detector* d = nullptr;
    s = static_cast<status>(smx_detector_bank_get(b(), id, fresh.c_detector(), bytes, &d));
    if (s == status::ok) out = static_cast<detector&&>(fresh);
    return s;
  }
  [[nodiscard]] status set(uint32_t id, detector& from) noexcept {
    return static_cast<status>(smx_detector_bank_set(b(), id, from.c_detector()));
  }
  [[nodiscard]] status reset(uint32_t id) noexcept {
    return static_cast<status>(smx_detector_bank_reset(b(), id));
  }

  // Detector id's snapshot: an ordinary detector snapshot (detector::load reads it).
  [[nodiscard]] status snapshot_size(uint32_t id, size_t& bytes) noexcept {
    return static_cast<status>(smx_detector_bank_snapshot_size(b(), id, &bytes));
  }
  [[nodiscard]] status save(uint32_t id, span<unsigned char> buffer, size_t& written) noexcept {
    return static_cast<status>(
        smx_detector_bank_snapshot_save(b(), id, buffer.data(), buffer.size(), &written));
  }
  [[nodiscard]] status load(uint32_t id, span<const unsigned char> snapshot) noexcept {
    return static_cast<status>(
        smx_detector_bank_snapshot_load(b(), id, snapshot.data(), snapshot.size()));
  }

  smx_detector_bank* c_bank() noexcept { return b(); }

 private:
  static bool fits(size_t given, size_t n) noexcept { return given == 0 || given == n; }
  template <class T>
  static T* or_null(span<T> s) noexcept { return s.empty() ? nullptr : s.data(); }
  smx_detector_bank* b() noexcept { return static_cast<smx_detector_bank*>(storage_.get()); }
  const smx_detector_bank* c() const noexcept {
    return static_cast<const smx_detector_bank*>(storage_.get());
  }
  heap_storage storage_;
};

}  // namespace streamix

#endif  // STREAMIX_STREAMIX_HPP
