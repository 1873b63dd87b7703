// The texts of the config rules (model.h), in a file of their own: a program that never asks
// why a config is invalid (smx_config_problem) links none of them.
#include "core/model.h"

namespace streamix::core {

const char* rule_text(ConfigRule r) {
  switch (r) {
    case ConfigRule::kNone: return nullptr;
    case ConfigRule::kComponents: return "components must be 1 to 1024";
    case ConfigRule::kFeatures: return "features must be 1 to 4096";
    case ConfigRule::kStepExponent: return "step_exponent must be in (0.5, 1]";
    case ConfigRule::kStepOffset: return "step_offset must be finite and at least 1";
    case ConfigRule::kStepFloor: return "step_floor must be in [0, 1)";
    case ConfigRule::kInitSamples:
      return "init_samples must be 0 (parameters set by the caller) or from the component count to 65536";
    case ConfigRule::kVarianceFloor: return "variance_floor must be in [1.2e-38, 4.3e37]";
    case ConfigRule::kWeightFloor: return "weight_floor must be at least 1.2e-38 and below 1 / components";
    case ConfigRule::kBatchSize: return "batch_size must be 1 to 4096";
    case ConfigRule::kDetectorFeatures: return "features must be 1 to 4096";
    case ConfigRule::kViews: return "views must be a non-empty mask of SMX_VIEW_LEVEL, _DELTA, _RESIDUAL";
    case ConfigRule::kViewFeatures:
      return "model.features must be features times the number of views (at most 4096)";
    case ConfigRule::kSmoothing: return "smoothing must be in (0, 1]";
    case ConfigRule::kResidualRate: return "residual_rate must be in (0, 1)";
    case ConfigRule::kScaling: return "scaling must be SMX_SCALING_NONE, _WARMUP or _FIXED";
    case ConfigRule::kWarmupSamples: return "init_samples must be at least 2 with a warm-up scaling (1 without)";
    case ConfigRule::kTailRate: return "tail_rate must be in (0, 1]";
    case ConfigRule::kAlarmRate: return "alarm_rate must be in [1.2e-38, 0.1]";
    case ConfigRule::kAnomalyWeight: return "anomaly_weight must be in [0, 1]";
  }
  return nullptr;
}

}  // namespace streamix::core
