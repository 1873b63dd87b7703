// Objects of the C API in test-owned storage, and their snapshots, written once for every kind
// (model, detector, bank, detector bank): each kind's own size, create and save functions are
// passed in.
#ifndef STREAMIX_TESTS_C_OBJECTS_H
#define STREAMIX_TESTS_C_OBJECTS_H

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "aligned_storage.h"
#include "streamix/streamix.h"

// An object created in storage of the size its kind asks for: size(args..., &bytes), then
// create(args..., storage, bytes, &handle); e.g. Created<smx_bank>(smx_bank_size,
// smx_bank_create, &cfg, models).
template <class Handle>
struct Created {
  AlignedStorage storage;
  Handle* handle = nullptr;
  template <class Size, class Create, class... Args>
  Created(Size size, Create create, Args... args) : storage(required_bytes(size, args...)) {
    EXPECT_EQ(create(args..., storage.data, storage.size, &handle), SMX_OK);
  }

 private:
  template <class Size, class... Args>
  static size_t required_bytes(Size size, Args... args) {
    size_t n = 0;
    EXPECT_EQ(size(args..., &n), SMX_OK);
    return n;
  }
};

// A snapshot through its kind's size(args..., &bytes) and save(args..., buf, bytes, &written).
template <class Size, class Save, class... Args>
std::vector<unsigned char> snapshot_through(Size size, Save save, Args... args) {
  size_t n = 0, written = 0;
  EXPECT_EQ(size(args..., &n), SMX_OK);
  std::vector<unsigned char> out(n);
  EXPECT_EQ(save(args..., out.data(), out.size(), &written), SMX_OK);
  EXPECT_EQ(written, n);
  return out;
}

inline std::vector<unsigned char> snapshot_of(const smx_model* m) {
  return snapshot_through(smx_snapshot_size, smx_snapshot_save, m);
}
inline std::vector<unsigned char> snapshot_of(const smx_detector* d) {
  return snapshot_through(smx_detector_snapshot_size, smx_detector_snapshot_save, d);
}
inline std::vector<unsigned char> snapshot_of(smx_bank* b, uint32_t id) {
  return snapshot_through(smx_bank_snapshot_size, smx_bank_snapshot_save, b, id);
}
inline std::vector<unsigned char> snapshot_of(smx_detector_bank* b, uint32_t id) {
  return snapshot_through(smx_detector_bank_snapshot_size, smx_detector_bank_snapshot_save, b, id);
}

#endif  // STREAMIX_TESTS_C_OBJECTS_H
