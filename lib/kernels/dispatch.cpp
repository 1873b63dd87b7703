// The active kernel table and its selection.
#include <atomic>
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace streamix::kernels {

namespace {

// STREAMIX_DEFAULT_TABLE names the build's default (kScalarTable, kHighwayTable, ...). It
// works unresolved too, so the pointer is valid from constant initialization on; the
// resolved table replaces it during dynamic initialization.
std::atomic<const KernelTable*> g_active{&STREAMIX_DEFAULT_TABLE};

const KernelTable* resolve(const KernelTable* t) { return t->resolved ? &t->resolved() : t; }

const bool g_default_resolved = (g_active.store(resolve(&STREAMIX_DEFAULT_TABLE)), true);

const KernelTable* const kCompiledIn[] = {
    &kScalarTable,
#if STREAMIX_HAVE_HIGHWAY
    &kHighwayTable,
#endif
#if STREAMIX_HAVE_XSIMD
    &kXsimdTable,
#endif
};

}  // namespace

const KernelTable& active() { return *g_active.load(std::memory_order_relaxed); }

bool select(const char* name) {
  const char* colon = std::strchr(name, ':');
  const size_t backend_length = colon ? static_cast<size_t>(colon - name) : std::strlen(name);
  for (const KernelTable* t : kCompiledIn) {
    if (std::strlen(t->name) != backend_length || std::strncmp(t->name, name, backend_length) != 0)
      continue;
    if (t->supported && !t->supported()) return false;
    if (colon) {
      if (!t->restrict_target || !t->restrict_target(colon + 1)) return false;
    } else if (t->restrict_target) {
      t->restrict_target(nullptr);  // the best target this CPU has
    }
    g_active.store(resolve(t), std::memory_order_relaxed);
    return true;
  }
  return false;
}

float lse_value(const LogSumExp& acc) {
  if (acc.max == -kInf) return -kInf;
  return acc.max + std::log(acc.sum);
}

namespace {

// The log-sum-exp of the log joint densities through t's block and log-sum-exp kernels.
// The densities go to l[0 .. P) when keep_all, else each block reuses l[0 .. kBlock) (no
// scratch needed).
LogSumExp log_density_by_blocks(const KernelTable& t, const EStepParams& p, const float* x,
                                float* l, bool keep_all) {
  LogSumExp lse;
  for (uint32_t first = 0; first < p.shape.stride; first += kBlock) {
    float* block = keep_all ? l + first : l;
    t.log_joint_block(p, x, first, block);
    t.lse_add(lse, block, kBlock);
  }
  return lse;
}

}  // namespace

float estep_composed(const KernelTable& t, const EStepParams& p, const float* x,
                     float* log_joint, float* resp) {
  const LogSumExp lse = log_density_by_blocks(t, p, x, log_joint, true);
  t.responsibilities(log_joint, p.shape.stride, lse, resp);
  return lse_value(lse);
}

void normalize_weights(const Stats& s, const ParamArrays& out) {
  const float inv_total =
      inverse_weight_total(s.shape.components, [&s](uint32_t k) { return s.weight[k]; });
  for (uint32_t k = 0; k < s.shape.components; ++k) out.weight[k] = s.weight[k] * inv_total;
}

void refresh_from_stats(const KernelTable& t, const Stats& s, const ParamArrays& out) {
  const Shape shape = s.shape;
  normalize_weights(s, out);
  if (out.mean != s.mean) {  // a held iterate: its own arrays (see kernels.h)
    const size_t matrix_bytes = sizeof(float) * shape.stride * shape.features;
    std::memcpy(out.mean, s.mean, matrix_bytes);
    std::memcpy(out.variance, s.variance, matrix_bytes);
  }
  t.derive_estep_terms(out);
}

void mstep_refresh_composed(const KernelTable& t, const Stats& s, const float* x, const float* r,
                            float gamma, float variance_floor, float weight_floor,
                            const ParamArrays& out) {
  t.mstep_update(s, x, r, gamma, variance_floor, weight_floor);
  refresh_from_stats(t, s, out);
}

void score_batch_per_sample(const KernelTable& t, const EStepParams& p, const float* x,
                            size_t n, float* out) {
  alignas(64) float block[kBlock];
  for (size_t i = 0; i < n; ++i) {
    out[i] = lse_value(log_density_by_blocks(t, p, x + i * p.shape.features, block, false));
  }
}

}  // namespace streamix::kernels
