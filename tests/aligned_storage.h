// Storage for a model or detector owned by a test: 64-byte aligned (SMX_STORAGE_ALIGN),
// optionally painted with a fill byte so that a test can tell whether anything wrote to it.
#ifndef STREAMIX_TESTS_ALIGNED_STORAGE_H
#define STREAMIX_TESTS_ALIGNED_STORAGE_H

#include <cstddef>
#include <cstdint>
#include <vector>

struct AlignedStorage {
  std::vector<unsigned char> bytes;
  unsigned char* data;
  size_t size;
  explicit AlignedStorage(size_t n, unsigned char fill = 0) : bytes(n + 64, fill), size(n) {
    data = bytes.data() + (64 - reinterpret_cast<uintptr_t>(bytes.data()) % 64) % 64;
  }
  // The storage's bytes now.
  std::vector<unsigned char> image() const { return {data, data + size}; }
};

#endif  // STREAMIX_TESTS_ALIGNED_STORAGE_H
