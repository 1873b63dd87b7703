// The bank kernel: lanes across models (kernels.h, BankGroup), written once for every backend.
// No include guard (see kernels-inl.h): included in each backend's namespace after
// elements-inl.h, with S = the backend's Simd<kBankLanes> (the scalar backend's has one lane).
//
// Per lane the arithmetic is the lone model's on the SIMD backends (LogJointSamples,
// EStepFromLogJoint, MstepRefresh): the log joint density's two FMA chains (even and odd
// features), exp cut at 2^-64, log p = max + log(sum), r = e / sum, the weight statistics,
// their normalization summed in component order, the Welford move, the normalizer's log sum.
// Three differences: a lone model sums its exponentials across its lanes (a horizontal sum in
// the target's order), a bank in component order, so for K >= 3 r may differ in the last bit
// (for K <= 2 the two sums are the same additions); the lone model divides by the sum of
// exponentials and by the sum of weights in scalar arithmetic, a bank with vectors (the same
// IEEE division on every target: exact_division.h); and log p takes the vector logarithm.

namespace generic {

// The M-step of the lanes at j that learn (step > 0): learn's fused update and refresh
// (MstepRefresh's arithmetic). e holds the exponentials exp(l - max) and total their sum;
// x points at lane j of the staged readings. kEveryLane: every lane learns (no selects).
template <class S, bool kEveryLane>
inline void BankLearn(const BankGroup& g, const float* x, size_t j, typename S::V* e,
                      typename S::V total, typename S::V step, typename S::M learn,
                      float variance_floor, float weight_floor) {
  using V = typename S::V;
  constexpr size_t L = kBankLanes;
  const uint32_t k_count = g.components, features = g.features;
  const size_t row = size_t{k_count} * L;
  const V one = S::set(1.0f), half = S::set(0.5f), smallest = S::set(0x1.0p-64f);
  const V v_weight_floor = S::set(weight_floor), v_variance_floor = S::set(variance_floor);
  const V ceiling = S::set(kMaxVariance);
  // The new value where the lane learns, the old one elsewhere.
  auto learned = [&](V updated, V old) { return kEveryLane ? updated : S::select(learn, updated, old); };
  auto learned_at = [&](V updated, const float* old) {
    return kEveryLane ? updated : S::select(learn, updated, S::load(old));
  };
  const V inv = S::div(one, total), keep = S::sub(one, step);
  V s0[kBankMaxComponents];
  V weight_total = S::zero();
  for (uint32_t k = 0; k < k_count; ++k) {
    const V r = S::mul(e[k], inv);
    const V gr = S::mul(step, S::zero_unless(S::ge(r, smallest), r));
    const V old = S::load(g.stats_weight + k * L + j);
    s0[k] = learned(S::max(S::mul_add(keep, old, gr), v_weight_floor), old);
    S::store(s0[k], g.stats_weight + k * L + j);
    e[k] = S::div(gr, s0[k]);  // eta: 0 in the lanes that do not learn
    weight_total = S::add(weight_total, s0[k]);
  }
  const V inv_weight_total = S::div(one, weight_total);
  for (uint32_t k = 0; k < k_count; ++k) {
    const size_t at = k * L + j;
    const V w = S::mul(s0[k], inv_weight_total);
    S::store(learned_at(w, g.weight + at), g.weight + at);
    S::store(learned_at(LogWeight<S>(w), g.log_weight + at), g.log_weight + at);
  }
  for (uint32_t k = 0; k < k_count; ++k) {
    LogNormSum<S> sum(features);
    for (uint32_t f = 0; f < features; ++f) {
      const size_t at = f * row + k * L + j;
      const V mean = S::load(g.mean + at), residual = S::load(g.mean_residual + at);
      const V variance = S::load(g.variance + at);
      const V delta = S::sub(S::sub(S::load(x + f * L), mean), residual);
      const Moments<S> m = WelfordMove<S, false>(e[k], delta, S::zero(), mean, residual, variance,
                                                 v_variance_floor, ceiling);
      const V updated = learned(m.variance, variance);
      S::store(learned(m.mean, mean), g.mean + at);
      S::store(learned(m.residual, residual), g.mean_residual + at);
      S::store(updated, g.variance + at);
      S::store(learned_at(S::div(half, updated), g.half_precision + at), g.half_precision + at);
      sum.add(updated, f);
    }
    const size_t at = k * L + j;
    S::store(learned_at(sum.log_norm(), g.log_norm + at), g.log_norm + at);
  }
}

// The E-step of the 16 lanes' models at j (their lanes within the group), as the lone
// EStep: e[k] gets the log joint density l_k, then exp(l_k - max) cut at 2^-64; returns the
// maximum (-inf in a lane no component can take), and total the sum of e.
template <class S>
__attribute__((always_inline)) inline typename S::V BankEStep(const BankGroup& g, const float* x,
                                                               size_t j, typename S::V* e,
                                                               typename S::V* total,
                                                               float* log_joint = nullptr) {
  using V = typename S::V;
  constexpr size_t L = kBankLanes;
  const uint32_t k_count = g.components, features = g.features;
  const size_t row = size_t{k_count} * L;  // from feature d to d + 1 of one component
  for (uint32_t k = 0; k < k_count; ++k) {
    const float* mean = g.mean + k * L + j;
    const float* half_precision = g.half_precision + k * L + j;
    V even = S::zero(), odd = S::zero();
    uint32_t f = 0;
    for (; f + 2 <= features; f += 2, mean += 2 * row, half_precision += 2 * row) {
      const V d0 = S::sub(S::load(x + f * L + j), S::load(mean));
      const V d1 = S::sub(S::load(x + (f + 1) * L + j), S::load(mean + row));
      even = S::mul_add(S::mul(S::load(half_precision), d0), d0, even);
      odd = S::mul_add(S::mul(S::load(half_precision + row), d1), d1, odd);
    }
    if (f < features) {
      const V d0 = S::sub(S::load(x + f * L + j), S::load(mean));
      even = S::mul_add(S::mul(S::load(half_precision), d0), d0, even);
    }
    const V constant = S::add(S::load(g.log_weight + k * L + j), S::load(g.log_norm + k * L + j));
    e[k] = S::sub(constant, S::add(even, odd));
    if (log_joint != nullptr) S::store(e[k], log_joint + k * L + j);
  }
  V top = S::set(-kInf);
  for (uint32_t k = 0; k < k_count; ++k) top = S::max(top, e[k]);
  V sum = S::zero();
  for (uint32_t k = 0; k < k_count; ++k) {
    e[k] = ExpCut<S>(S::sub(e[k], top), kMinLogResponsibility);  // 0 in a lane of all -inf
    sum = S::add(sum, e[k]);
  }
  *total = sum;
  return top;
}

// The E-step alone, for callers that decide each lane's step from its score (a detector
// bank): the log joint densities (K rows of kBankLanes), and per lane the largest of them and
// the sum of exp(l_k - max), from which log p = max + log(sum) as the lone E-step takes it.
template <class S>
inline void BankScore(const BankGroup& g, const float* x, float* log_joint, float* top,
                      float* total) {
  using V = typename S::V;
  for (size_t j = 0; j < kBankLanes; j += S::lanes()) {
    V e[kBankMaxComponents], sum;
    S::store(BankEStep<S>(g, x, j, e, &sum, log_joint), top + j);
    S::store(sum, total + j);
  }
}

template <class S>
inline void BankObserve(const BankGroup& g, const float* x, const float* gamma,
                        float variance_floor, float weight_floor, float* log_p) {
  using V = typename S::V;
  constexpr size_t L = kBankLanes;
  const size_t lanes = S::lanes();
  const V one = S::set(1.0f);
  for (size_t j = 0; j < L; j += lanes) {
    V e[kBankMaxComponents];  // exp(l - max), then responsibilities
    V total;
    const V top = BankEStep<S>(g, x, j, e, &total);
    // log p = max + log(sum), with the vector logarithm (the lone E-step takes the scalar
    // one: log p may differ by its rounding, a few ulps; nothing learned depends on it).
    const auto finite = S::gt(top, S::set(-kInf));
    S::storeu(S::select(finite, S::add(top, S::log(S::select(finite, total, one))), S::set(-kInf)),
              log_p + j);
    // The learning lanes: a step size and a finite log p (a lone model learns nothing from a
    // sample no component can take).
    const V step = S::zero_unless(finite, S::load(gamma + j));
    const auto learn = S::gt(step, S::zero());
    if (S::all_true(S::eq(step, S::zero()))) continue;
    // Lanes that do not learn keep their values (selects); when every lane learns, as when
    // one reading comes for each model, the selects and their loads are left out.
    if (S::all_true(learn)) {
      BankLearn<S, true>(g, x + j, j, e, total, step, learn, variance_floor, weight_floor);
    } else {
      BankLearn<S, false>(g, x + j, j, e, total, step, learn, variance_floor, weight_floor);
    }
  }
}

}  // namespace generic
