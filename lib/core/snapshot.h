// Snapshot encoding (format described in snapshot.cpp). Arguments are validated by the C API.
#ifndef STREAMIX_CORE_SNAPSHOT_H
#define STREAMIX_CORE_SNAPSHOT_H

#include <cstddef>

#include "streamix/streamix.h"

namespace streamix::core {

size_t snapshot_size(const smx_model* m);
// Writes snapshot_size(m) bytes to out and returns that count.
size_t snapshot_save(const smx_model* m, unsigned char* out);
// Reads and checks the preamble, CRC and config; *total is the snapshot's length.
bool snapshot_config(const unsigned char* in, size_t len, smx_config* c, size_t* total);
// Validates a whole snapshot (CRC, config, state, every value and the invariants listed in
// snapshot.cpp) without writing anything; *c is its config and *total its length, and
// *header (if not null) receives its state fields (ready, buffered, counters). gate_weight:
// for a detector's model, the weight its flagged readings learn with (pending samples may
// carry it); null for a model of its own.
bool snapshot_check(const unsigned char* in, size_t len, smx_config* c, size_t* total,
                    smx_model* header, const float* gate_weight = nullptr);
// Writes the model of a snapshot that passed snapshot_check into storage (large enough).
void snapshot_restore(const unsigned char* in, const smx_config& c, void* storage,
                      smx_model** model);
// Validates everything, then creates the model in storage: SMX_OK, or SMX_ERR_SNAPSHOT (bad
// snapshot), SMX_ERR_STORAGE (storage too small or misaligned), SMX_ERR_ARGUMENT (the
// snapshot lies inside the storage it would be restored into), with nothing written.
smx_status snapshot_load(const unsigned char* in, size_t len, void* storage, size_t storage_bytes,
                         smx_model** model);

}  // namespace streamix::core

#endif  // STREAMIX_CORE_SNAPSHOT_H
