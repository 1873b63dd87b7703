// The element-wise steps every kernel shares: the cut exponential, the log weight, the
// weighted-Welford move and the normalizer's log sum. No include guard (see kernels-inl.h):
// included in each backend's namespace after its `Simd` primitives, by kernels-inl.h for the
// SIMD backends and directly by the scalar one (for the bank kernel, bank-inl.h).

namespace generic {

constexpr float kLog2Pi = 1.8378770664093453f;
// exp(-87) = 1.6e-38 is the smallest exp result kept: anything below would be denormal
// (FLT_MIN = 1.18e-38) and is flushed to 0 by construction, not by the FPU mode.
constexpr float kExpFloor = -87.0f;

// exp(x) for x <= 0 that never produces a denormal: lanes below max(cut, kExpFloor) give
// exactly 0. The input is clamped before exp, so no lane computes garbage.
template <class S>
inline typename S::V ExpCut(typename S::V x, float cut) {
  const typename S::V floor = S::set(cut > kExpFloor ? cut : kExpFloor);
  return S::zero_unless(S::ge(x, floor), S::exp(S::max(x, floor)));
}

// log w, or -inf where the weight is 0 (padding).
template <class S>
inline typename S::V LogWeight(typename S::V w) {
  return S::select(S::gt(w, S::zero()), S::log(w), S::set(-kInf));
}

// The weighted-Welford move of an element by e towards a point delta away from the mean
// (mean + residual), plus e times the spread within a mini-batch (kWithin): the new mean (a
// TwoSum of mean and residual + step, exact), residual and variance.
template <class S>
struct Moments {
  typename S::V mean, residual, variance;
};
template <class S, bool kWithin>
inline Moments<S> WelfordMove(typename S::V e, typename S::V delta, typename S::V within,
                              typename S::V mean, typename S::V residual, typename S::V variance,
                              typename S::V variance_floor, typename S::V ceiling) {
  using V = typename S::V;
  const V addend = S::mul_add(e, delta, residual);
  const V sum = S::add(mean, addend);
  const V addend_part = S::sub(sum, mean);
  const V new_residual = S::add(S::sub(mean, S::sub(sum, addend_part)), S::sub(addend, addend_part));
  // (e delta) delta may overflow to +inf, never NaN: min turns it into the ceiling.
  const V increment = S::min(S::mul(S::mul(e, delta), delta), ceiling);
  V updated = S::mul(S::sub(S::set(1.0f), e), S::add(variance, increment));
  if (kWithin) updated = S::mul_add(e, within, updated);
  return Moments<S>{sum, new_residual, S::min(S::max(updated, variance_floor), ceiling)};
}

// WelfordMove of the statistics' lanes at `at` (mean and residual loaded by the caller),
// stored; returns the variance.
template <class S, bool kWithin>
inline typename S::V WelfordStep(typename S::V e, typename S::V delta, typename S::V within,
                                 typename S::V mean, typename S::V residual, const Stats& s,
                                 size_t at, typename S::V variance_floor, typename S::V ceiling) {
  const Moments<S> m = WelfordMove<S, kWithin>(e, delta, within, mean, residual, S::load(s.variance + at),
                                               variance_floor, ceiling);
  S::store(m.residual, s.mean_residual + at);
  S::store(m.mean, s.mean + at);
  S::store(m.variance, s.variance + at);
  return m.variance;
}

// sum_d log(var_d) with one log per kLogGroup features instead of one per feature:
// var = 2^e m with m in [1, 2); the exponents add exactly as integers, the mantissas
// multiply (8 of them stay below 256, no overflow) and the product takes one log. Every
// variance is a normal float (>= the floor >= FLT_MIN), so the bit fields are well formed.
// log_norm = -1/2 (D log 2 pi + sum log var), with ln 2 split so that n ln2_hi is exact.
template <class S>
class LogNormSum {
 public:
  using V = typename S::V;
  using VI = typename S::VI;
  explicit LogNormSum(uint32_t features)
      : features_(features), exponents_(S::set_int(0)), product_(S::set(1.0f)),
        log_mantissas_(S::zero()) {}
  void add(V variance, uint32_t f) {
    const VI b = S::bits(variance);
    exponents_ = S::int_add(exponents_, S::shift_right_23(b));
    product_ = S::mul(product_, S::from_bits(S::int_or(S::int_and(b, 0x007FFFFF), 0x3F800000)));
    if ((f + 1) % kLogGroup == 0 || f + 1 == features_) {
      log_mantissas_ = S::add(log_mantissas_, S::log(product_));
      product_ = S::set(1.0f);
    }
  }
  V log_norm() const {
    const V n = S::to_float(S::int_sub(exponents_, S::set_int(static_cast<int32_t>(127 * features_))));
    const V log_variance_sum = S::add(
        log_mantissas_, S::mul_add(n, S::set(kLn2Hi), S::mul(n, S::set(kLn2Lo))));
    return S::mul(S::set(-0.5f), S::add(S::set(kLog2Pi * static_cast<float>(features_)), log_variance_sum));
  }

 private:
  static constexpr uint32_t kLogGroup = 8;
  uint32_t features_;
  VI exponents_;
  V product_, log_mantissas_;
};

}  // namespace generic
