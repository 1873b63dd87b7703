// Detector banks: M detectors of one config in one block of storage. Each detector's own state
// (a lone detector's header and arrays: scaling, views, score tracker) lies in its "shell";
// the models lie in a model bank (bank.h). Detectors whose model steps in the lanes are
// scored there (kernels::bank_score), decide in their shells as a lone detector does
// (detector.h: detect_front, judge, settle) and learn in the lanes with their own weights;
// every other state runs smx_detect's code on the bank's scratch detector (gather, detect,
// scatter). Functions here assume validated arguments (c_api_detector_bank.cpp).
#ifndef STREAMIX_CORE_DETECTOR_BANK_H
#define STREAMIX_CORE_DETECTOR_BANK_H

#include <cstddef>
#include <cstdint>

#include "core/bank.h"
#include "core/detector.h"
#include "streamix/streamix.h"

// The header at the start of the storage (offsets, no pointers: relocatable).
struct smx_detector_bank {
  uint32_t magic;      // streamix::core::kDetectorBankMagic once created
  uint32_t detectors;  // M
  smx_detector_config config;
  uint64_t shell_bytes;  // detector_state_bytes(config)
  uint64_t scratch_offset, shells_offset, models_offset;
};

namespace streamix::core {

inline constexpr uint32_t kDetectorBankMagic = 0x4B424453u;  // "SDBK"

// The storage a detector bank needs (0 if it does not fit in size_t).
size_t detector_bank_bytes(const smx_detector_config& c, uint32_t detectors);
smx_detector_bank* create_detector_bank(const smx_detector_config& c, uint32_t detectors,
                                        void* storage);

// Detector id's own state (its model is not behind it: detector_model does not apply).
smx_detector* detector_shell(const smx_detector_bank* b, uint32_t id);
smx_bank* detector_models(const smx_detector_bank* b);
// The scratch detector, holding detector id (its shell and its model) after gather.
smx_detector* gather_detector(smx_detector_bank* b, uint32_t id);
// Detector id becomes det (a detector with the bank's config).
void scatter_detector(smx_detector_bank* b, uint32_t id, const smx_detector* det);
// A fresh detector in the bank's scratch storage.
smx_detector* fresh_detector(smx_detector_bank* b);

// One reading for every detector (x: M rows of D floats); see smx_detector_bank_detect.
smx_status detector_bank_detect_all(smx_detector_bank* b, const float* x, smx_detection* out,
                                    smx_status* status);
// n readings for the detectors ids[i], in order; see smx_detector_bank_detect_some.
smx_status detector_bank_detect_some(smx_detector_bank* b, const uint32_t* ids, const float* x,
                                     size_t n, smx_detection* out, smx_status* status);

}  // namespace streamix::core

#endif  // STREAMIX_CORE_DETECTOR_BANK_H
