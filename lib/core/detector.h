// The anomaly detector's state inside the caller's storage: a header, the per-feature state
// of scaling and views, then the model (64-byte aligned). It only reads the model's E-step
// results; learning goes through the learner's estep_sample / learn. Functions here assume
// validated arguments; validation lives in c_api_detector.cpp.
#ifndef STREAMIX_CORE_DETECTOR_H
#define STREAMIX_CORE_DETECTOR_H

#include <cstddef>
#include <cstdint>

#include "core/model.h"
#include "core/score_tail.h"
#include "streamix/streamix.h"

struct smx_detector {
  uint32_t magic;  // streamix::core::kDetectorMagic once created
  uint32_t has_previous;  // 1 once the views have a previous reading
  uint32_t restarted;     // 1 once a glitch among the first two readings restarted the stream
  smx_detector_config config;
  uint64_t samples_seen;  // readings accepted by smx_detect
  uint64_t scored;        // readings scored (the model was ready)
  smx_score_tail tail;
};

namespace streamix::core {

inline constexpr uint32_t kDetectorMagic = 0x54454453u;  // "SDET"
inline constexpr size_t kDetectorHeaderBytes = 256;
static_assert(sizeof(smx_detector) <= kDetectorHeaderBytes, "the size formula reserves 256 bytes");

// The per-feature state, kStateArrays arrays of D floats, and the model's input (D x views
// floats).
inline constexpr size_t kStateArrays = 7;
struct DetectorArrays {
  float* offset;    // scaling; during a warm-up scaling: the running mean
  float* scale;     // scaling; during a warm-up scaling: the running sum of squared deviations
  float* level;     // moving average of the raw readings
  float* slow;      // slower moving average of the level (residual view)
  float* innovation;  // mean square of the raw innovation x - previous level (spikes); during
                      //   the warm-up its sign bit marks a held glitch (detector.cpp)
  float* seed;      // the first two raw readings, D floats each (a glitch among them, told
                    //   at the third: detector.cpp); 0 before they arrive
  float* input;     // scratch: the views of the current reading
};

// True if s is a scale the detector may use: in [SMX_MIN_SCALE, SMX_MAX_SCALE] (fixed scales
// are checked against it, warm-up scales clamped to it, loaded ones checked).
inline bool scale_is_valid(float s) { return s >= SMX_MIN_SCALE && s <= SMX_MAX_SCALE; }

uint32_t view_count(uint32_t views);
// The first rule c breaks, its model's included (ConfigRule::kNone: valid).
ConfigRule broken_rule(const smx_detector_config& c);
bool detector_config_is_valid(const smx_detector_config& c);
// Bytes of the detector header plus its arrays: the model starts there.
size_t detector_state_bytes(const smx_detector_config& c);
size_t detector_storage_bytes(const smx_detector_config& c);

DetectorArrays detector_arrays(const smx_detector* det);
smx_model* detector_model(const smx_detector* det);

smx_detector* create_detector(const smx_detector_config& c, void* storage);

// Whether reading x shows one of the first two readings to have been a glitch, and the
// stream restarts at x (restart_stream; detector.cpp says when).
bool seed_glitch_restarts(const smx_detector* det, const float* x);
// The detector as created, with a fixed scaling kept: the next reading is the first.
void restart_stream(smx_detector* det);
// Computes the views of x into the input scratch without changing any state; false if one
// leaves the model's feature range (|v| > SMX_MAX_ABS_FEATURE, or not finite). ready: whether
// the detector's model is ready (a detector bank keeps its models apart from the detectors).
bool compute_views(const smx_detector* det, bool ready, const float* x);
// One reading through the detector; compute_views(det, ready, x) must have returned true.
void detect(smx_detector* det, const float* x, smx_detection* out);
// smx_detect's core, for a valid detector and x non-null: the reading validated (SMX_ERR_INPUT,
// nothing changed), the stream restarted after a seed glitch, then detect.
smx_status detect_reading(smx_detector* det, const float* x, smx_detection* out);

// detect in three parts, for a model kept elsewhere (a detector bank's lanes): before the
// model scores the reading, after it scored it, and after it learned it.
struct Spike {
  float z2 = 0.0f;  // the largest squared standardized innovation
  int32_t feature = -1;
};
struct Verdict {
  smx_detection result;
  float weight;      // the learning gate's weight (0: the model learns nothing)
  float limit;       // the score a reading is winsorized to (winsorize_point's max_score)
  float truncation;  // the score tracker's truncation
};
// The seed, the level and the spike view, the counts (after compute_views).
Spike detect_front(smx_detector* det, bool ready, const float* x);
// What the decision takes from the config alone (one computation for a bank's detectors).
struct JudgeConstants {
  float alarm_surprise;  // -log10(alarm_rate): the surprise at the threshold
  float excess_divisor;  // truncation_divisor(alarm_rate), once the alarms are on
};
JudgeConstants judge_constants(const smx_detector_config& c);
// The decision on a reading a ready model scored log p (v: its components, their log joint
// densities for this reading).
Verdict judge(const smx_detector* det, float log_p, const ComponentView& v, const Spike& spike,
              const JudgeConstants& constants);
// Once the model learned the reading with v.weight > 0: the score tracker and the residual
// view's baseline (moved: the reading was learned winsorized, its views moved in the input).
void settle(smx_detector* det, const Verdict& v, bool moved);

// Snapshots (format in detector.cpp).
size_t detector_snapshot_size(const smx_detector* det);
size_t detector_snapshot_save(const smx_detector* det, unsigned char* out);
bool detector_snapshot_check(const unsigned char* in, size_t len, smx_detector_config* c,
                             size_t* total, uint32_t* version = nullptr);
// SMX_OK, or the status of snapshot_load's failures (nothing written).
smx_status detector_snapshot_load(const unsigned char* in, size_t len, void* storage,
                                  size_t storage_bytes, smx_detector** det);

}  // namespace streamix::core

#endif  // STREAMIX_CORE_DETECTOR_H
