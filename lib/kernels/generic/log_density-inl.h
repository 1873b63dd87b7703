// log p(x) for S samples, written once for every SIMD backend. No include guard: like
// simdjson's generic/ code, it is included inside each backend's namespace (once per
// Highway target, once for xsimd), so it compiles with that backend's instruction set and
// inlines its operations. The including namespace must define:
//   template <int S> void LogJointSamples(const EStepParams&, const float* const* xs,
//                                         uint32_t first, float* const* out);
//     the log joint densities of block `first` for S samples, xs[s] into out[s];
//   void LseAdd(LogSumExp&, const float* l, uint32_t n);
//     a streaming max-shifted log-sum-exp over n log values (n a multiple of kBlock).

// The log joint densities of kScoreChunk components at a time go to stack scratch, then each
// chunk takes one two-pass log-sum-exp (LseAdd), chunks combined by the streaming rule. S = 1
// is smx_score; S = 4 the batch path for many components, with the same bits. For K <= 64
// there is one chunk: one maximum, one exponential per component, one logarithm.
constexpr uint32_t kScoreChunk = 4 * kBlock;

template <int S>
inline void LogDensitySamples(const EStepParams& p, const float* const* xs, float* log_p) {
  const uint32_t stride = p.shape.stride;
  alignas(64) float l[S][kScoreChunk];
  float* out[S];
  LogSumExp lse[S];
  for (uint32_t first = 0; first < stride; first += kScoreChunk) {
    const uint32_t n = stride - first < kScoreChunk ? stride - first : kScoreChunk;
    for (uint32_t b = 0; b < n; b += kBlock) {
      for (int s = 0; s < S; ++s) out[s] = l[s] + b;
      LogJointSamples<S>(p, xs, first + b, out);
    }
    for (int s = 0; s < S; ++s) LseAdd(lse[s], l[s], n);
  }
  for (int s = 0; s < S; ++s) log_p[s] = lse_value(lse[s]);
}

// Batch scoring beyond the across-samples layout: four samples at a time, then one at a time
// (every result equals the one-sample call's bit for bit).
inline void ScorePerSampleLayout(const EStepParams& p, const float* x, size_t begin, size_t n,
                                 float* out) {
  const uint32_t features = p.shape.features;
  size_t i = begin;
  for (; i + 4 <= n; i += 4) {
    const float* xs[4] = {x + i * features, x + (i + 1) * features, x + (i + 2) * features,
                          x + (i + 3) * features};
    LogDensitySamples<4>(p, xs, out + i);
  }
  for (; i < n; ++i) {
    const float* xs[1] = {x + i * features};
    LogDensitySamples<1>(p, xs, out + i);
  }
}
