// Google Highway backend: the primitives of generic/kernels-inl.h for each target, and the
// kernel table. This file is compiled once per target by foreach_target.h (SSSE3, SSE4,
// AVX2, AVX3, AVX3_DL and HWY_SCALAR on x86-64, dispatched at run time to the best the CPU
// has). On ARM it is built with HWY_COMPILE_ONLY_STATIC: one target, the compiler's baseline
// (NEON), header-only. Vectors are CappedTag<float, kBlock>: a block of 16 components is 1
// AVX-512 vector, 2 AVX2 or 4 SSE/NEON vectors, and never more than 16 lanes (SVE may be
// wider). Exp and Log come from hwy/contrib/math (Exp 1 ULP, Log 4 ULP).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/highway/kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/exact_division.h"
#include "kernels/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace streamix::kernels::highway {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// The primitives generic/kernels-inl.h is written over, for this target: vectors of at most
// B lanes (CappedTag), B being the model's block of 4, 8 or 16 components.
template <uint32_t B>
struct Simd {
  static constexpr uint32_t kWidth = B;
  using D = hn::CappedTag<float, B>;
  using DI = hn::RebindToSigned<D>;
  using V = hn::Vec<D>;
  using VI = hn::Vec<DI>;
  using M = hn::Mask<D>;
  static HWY_INLINE size_t lanes() { return hn::Lanes(D()); }
  static HWY_INLINE V zero() { return hn::Zero(D()); }
  static HWY_INLINE V set(float f) { return hn::Set(D(), f); }
  static HWY_INLINE VI set_int(int32_t i) { return hn::Set(DI(), i); }
  static HWY_INLINE V load(const float* p) { return hn::Load(D(), p); }
  static HWY_INLINE V loadu(const float* p) { return hn::LoadU(D(), p); }
  static HWY_INLINE void store(V v, float* p) { hn::Store(v, D(), p); }
  static HWY_INLINE void storeu(V v, float* p) { hn::StoreU(v, D(), p); }
  static HWY_INLINE V add(V a, V b) { return hn::Add(a, b); }
  static HWY_INLINE V sub(V a, V b) { return hn::Sub(a, b); }
  static HWY_INLINE V mul(V a, V b) { return hn::Mul(a, b); }
  // IEEE division (exact_division.h): on ARMv7 Highway's Div is a refined reciprocal estimate.
  static HWY_INLINE V div(V a, V b) {
#if HWY_ARCH_ARM_V7
    return divide_lane_by_lane<Simd>(a, b);
#else
    return hn::Div(a, b);
#endif
  }
  static HWY_INLINE V min(V a, V b) { return hn::Min(a, b); }
  static HWY_INLINE V max(V a, V b) { return hn::Max(a, b); }
  static HWY_INLINE V mul_add(V a, V b, V c) { return hn::MulAdd(a, b, c); }
  static HWY_INLINE M ge(V a, V b) { return hn::Ge(a, b); }
  static HWY_INLINE M gt(V a, V b) { return hn::Gt(a, b); }
  static HWY_INLINE M eq(V a, V b) { return hn::Eq(a, b); }
  static HWY_INLINE V select(M m, V a, V b) { return hn::IfThenElse(m, a, b); }
  static HWY_INLINE V zero_unless(M m, V a) { return hn::IfThenElseZero(m, a); }
  static HWY_INLINE bool all_true(M m) { return hn::AllTrue(D(), m); }
  static HWY_INLINE V exp(V v) { return hn::Exp(D(), v); }  // 1 ULP (hwy/contrib/math)
  static HWY_INLINE V log(V v) { return hn::Log(D(), v); }  // 4 ULP
  static HWY_INLINE float sum_of_lanes(V v) { return hn::GetLane(hn::SumOfLanes(D(), v)); }
  static HWY_INLINE float max_of_lanes(V v) { return hn::GetLane(hn::MaxOfLanes(D(), v)); }
  static HWY_INLINE VI bits(V v) { return hn::BitCast(DI(), v); }
  static HWY_INLINE V from_bits(VI v) { return hn::BitCast(D(), v); }
  static HWY_INLINE VI int_add(VI a, VI b) { return hn::Add(a, b); }
  static HWY_INLINE VI int_sub(VI a, VI b) { return hn::Sub(a, b); }
  static HWY_INLINE VI int_and(VI a, int32_t b) { return hn::And(a, hn::Set(DI(), b)); }
  static HWY_INLINE VI int_or(VI a, int32_t b) { return hn::Or(a, hn::Set(DI(), b)); }
  static HWY_INLINE VI shift_right_23(VI v) { return hn::ShiftRight<23>(v); }
  static HWY_INLINE V to_float(VI v) { return hn::ConvertTo(D(), v); }
};

#include "kernels/generic/kernels-inl.h"
#include "kernels/generic/bank-inl.h"

void BankObserve(const BankGroup& g, const float* x, const float* gamma, float variance_floor,
                 float weight_floor, float* log_p) {
  generic::BankObserve<Simd<kBankLanes>>(g, x, gamma, variance_floor, weight_floor, log_p);
}

void BankScore(const BankGroup& g, const float* x, float* log_joint, float* top, float* total) {
  generic::BankScore<Simd<kBankLanes>>(g, x, log_joint, top, total);
}

}  // namespace HWY_NAMESPACE
}  // namespace streamix::kernels::highway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace streamix::kernels {
namespace highway {

HWY_EXPORT(LogJointBlock);
HWY_EXPORT(LseAdd);
HWY_EXPORT(Responsibilities);
HWY_EXPORT(MstepUpdate);
HWY_EXPORT(DeriveEstepTerms);
HWY_EXPORT(RunningMean);
HWY_EXPORT(ScoreBatch);
HWY_EXPORT(EStep);
HWY_EXPORT(MstepRefresh);
HWY_EXPORT(BatchEStep);
HWY_EXPORT(BatchAccumulate);
HWY_EXPORT(BatchUpdate);
HWY_EXPORT(BankObserve);
HWY_EXPORT(BankScore);

namespace {

void log_joint_block(const EStepParams& p, const float* x, uint32_t first, float* l) {
  HWY_DYNAMIC_DISPATCH(LogJointBlock)(p, x, first, l);
}
void lse_add(LogSumExp& acc, const float* l, uint32_t n) { HWY_DYNAMIC_DISPATCH(LseAdd)(acc, l, n); }
void responsibilities(const float* l, uint32_t n, const LogSumExp& lse, float* r) {
  HWY_DYNAMIC_DISPATCH(Responsibilities)(l, n, lse, r);
}
void mstep_update(const Stats& s, const float* x, const float* r, float gamma,
                  float variance_floor, float weight_floor) {
  HWY_DYNAMIC_DISPATCH(MstepUpdate)(s, x, r, gamma, variance_floor, weight_floor);
}
void derive_estep_terms(const ParamArrays& p) { HWY_DYNAMIC_DISPATCH(DeriveEstepTerms)(p); }
void running_mean(float* avg, const float* value, size_t n, float inv_count) {
  HWY_DYNAMIC_DISPATCH(RunningMean)(avg, value, n, inv_count);
}
void score_batch(const EStepParams& p, const float* x, size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(ScoreBatch)(p, x, n, out);
}
float estep(const EStepParams& p, const float* x, float* log_joint, float* resp) {
  return HWY_DYNAMIC_DISPATCH(EStep)(p, x, log_joint, resp);
}
void mstep_refresh(const Stats& s, const float* x, const float* r, float gamma,
                   float variance_floor, float weight_floor, const ParamArrays& out) {
  HWY_DYNAMIC_DISPATCH(MstepRefresh)(s, x, r, gamma, variance_floor, weight_floor, out);
}
void batch_estep(const EStepParams& p, const float* x, size_t n, float* log_p, float* resp) {
  HWY_DYNAMIC_DISPATCH(BatchEStep)(p, x, n, log_p, resp);
}
void batch_accumulate(const Stats& s, const float* x, const float* resp, size_t n, float scale,
                      const BatchSums& sums) {
  HWY_DYNAMIC_DISPATCH(BatchAccumulate)(s, x, resp, n, scale, sums);
}
void batch_update(const Stats& s, const BatchSums& sums, float gamma, float variance_floor,
                  float weight_floor) {
  HWY_DYNAMIC_DISPATCH(BatchUpdate)(s, sums, gamma, variance_floor, weight_floor);
}
void bank_observe(const BankGroup& g, const float* x, const float* gamma, float variance_floor,
                  float weight_floor, float* log_p) {
  HWY_DYNAMIC_DISPATCH(BankObserve)(g, x, gamma, variance_floor, weight_floor, log_p);
}
void bank_score(const BankGroup& g, const float* x, float* log_joint, float* top, float* total) {
  HWY_DYNAMIC_DISPATCH(BankScore)(g, x, log_joint, top, total);
}

#if defined(HWY_COMPILE_ONLY_STATIC)
// Static dispatch: the one compiled target is the only one to select.
bool restrict_target(const char* name) {
  return name == nullptr || std::strcmp(hwy::TargetName(HWY_STATIC_TARGET), name) == 0;
}

const char* target() { return hwy::TargetName(HWY_STATIC_TARGET); }
#else
// A restriction to one target is kept here, as the slot of that target's functions in
// HWY_EXPORT's tables: Highway's own target mask (SetSupportedTargetsForTest, a test hook)
// would change dispatch for the whole process and every other library in it that uses
// Highway.
constexpr size_t kNoRestriction = ~size_t{0};
size_t g_restricted_slot = kNoRestriction;
int64_t g_restricted_target = 0;

// The slot of target bit t in a dispatch table: Highway's ChosenTarget index (its mask
// format, shifted by one for the initializing trampoline in slot 0); the targets outside
// the dynamic range (HWY_SCALAR, HWY_EMU128) use the last slot.
size_t slot_of(int64_t t) {
  const int64_t shifted = HWY_CHOSEN_TARGET_SHIFT(t);
  return shifted ? hwy::Num0BitsBelowLS1Bit_Nonzero64(static_cast<uint64_t>(shifted))
                 : HWY_MAX_DYNAMIC_TARGETS + 1;
}

bool restrict_target(const char* name) {
  if (name == nullptr) {
    g_restricted_slot = kNoRestriction;
    g_restricted_target = 0;
    return true;
  }
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    if (std::strcmp(hwy::TargetName(t), name) == 0) {
      g_restricted_slot = slot_of(t);
      g_restricted_target = t;
      return true;
    }
  }
  return false;  // unknown or unsupported: the old choice stays
}

// The target dispatch picks: the best (lowest bit) of the supported, compiled targets.
const char* target() {
  if (g_restricted_target != 0) return hwy::TargetName(g_restricted_target);
  const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(targets & -targets);
}
#endif

// HWY_EXPORT's tables have one slot per target (plus, with dynamic dispatch, the
// initializing trampoline and the fallback); slot_table(i) is kHighwayTable with slot i's
// functions.
constexpr size_t kSlots = sizeof(HWY_DISPATCH_TABLE(EStep)) / sizeof(HWY_DISPATCH_TABLE(EStep)[0]);

KernelTable slot_table(size_t i) {
  KernelTable t = kHighwayTable;
  t.log_joint_block = HWY_DISPATCH_TABLE(LogJointBlock)[i];
  t.lse_add = HWY_DISPATCH_TABLE(LseAdd)[i];
  t.responsibilities = HWY_DISPATCH_TABLE(Responsibilities)[i];
  t.mstep_update = HWY_DISPATCH_TABLE(MstepUpdate)[i];
  t.derive_estep_terms = HWY_DISPATCH_TABLE(DeriveEstepTerms)[i];
  t.mstep_refresh = HWY_DISPATCH_TABLE(MstepRefresh)[i];
  t.running_mean = HWY_DISPATCH_TABLE(RunningMean)[i];
  t.estep = HWY_DISPATCH_TABLE(EStep)[i];
  t.score_batch = HWY_DISPATCH_TABLE(ScoreBatch)[i];
  t.batch_estep = HWY_DISPATCH_TABLE(BatchEStep)[i];
  t.batch_accumulate = HWY_DISPATCH_TABLE(BatchAccumulate)[i];
  t.batch_update = HWY_DISPATCH_TABLE(BatchUpdate)[i];
  t.bank_observe = HWY_DISPATCH_TABLE(BankObserve)[i];
  t.bank_score = HWY_DISPATCH_TABLE(BankScore)[i];
  t.resolved = nullptr;
  return t;
}

// The table of the target dispatch chooses now, or of the restricted one. Measured against
// dispatching inside every call: 33 fewer instructions per smx_score and 63 per smx_observe
// at K = D = 16 (callgrind, AVX2); the time change was within the noise.
const KernelTable& resolved() {
  static const struct Slots {
    KernelTable table[kSlots];
    Slots() {
      for (size_t i = 0; i < kSlots; ++i) table[i] = slot_table(i);
    }
  } slots;
#if defined(HWY_COMPILE_ONLY_STATIC)
  return slots.table[0];
#else
  if (g_restricted_slot != kNoRestriction) return slots.table[g_restricted_slot];
  hwy::ChosenTarget& chosen = hwy::GetChosenTarget();
  chosen.Update(hwy::SupportedTargets());
  return slots.table[chosen.GetIndex()];
#endif
}

}  // namespace
}  // namespace highway

const KernelTable kHighwayTable = {"highway",
                                   highway::log_joint_block,
                                   highway::lse_add,
                                   highway::responsibilities,
                                   highway::mstep_update,
                                   highway::derive_estep_terms,
                                   highway::mstep_refresh,
                                   highway::running_mean,
                                   highway::estep,
                                   highway::score_batch,
                                   highway::batch_estep,
                                   highway::batch_accumulate,
                                   highway::batch_update,
                                   highway::bank_observe,
                                   highway::bank_score,
                                   nullptr,
                                   highway::restrict_target,
                                   highway::target,
                                   highway::resolved};

}  // namespace streamix::kernels
#endif  // HWY_ONCE
