// The active kernel table and its selection (nothing else: what is composed from the
// kernels is in refresh.cpp).
#include <cstring>

#include "kernels/kernels.h"

#if STREAMIX_STATIC_SCALAR

namespace streamix::kernels {

bool select(const char* name) { return std::strcmp(name, "scalar") == 0; }
const char* backend_name() { return "scalar"; }
const char* backend_target() { return "portable"; }

}  // namespace streamix::kernels

#else

#include <atomic>

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

const char* backend_name() { return active().name; }
const char* backend_target() { return active().target(); }

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

}  // namespace streamix::kernels

#endif
