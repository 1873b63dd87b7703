/* Instruction counting on the Cortex-M4 (count_instructions.sh runs it under QEMU, which
 * logs one line per executed instruction): N calls of one operation on a K x D model, with
 * the operation, K, D and N read from the semihosting command line ("observe 2 4 100").
 * The operations: observe and score (the library, parameters set, no hold), observe_batch
 * (one smx_observe_batch call over the whole pool, mini-batches of 16: a call is 64
 * samples), bank_observe (one smx_bank_observe of a bank of 16 such models, each with its
 * own reading from the pool: a call is 16 model updates), and
 * textbook_observe and textbook_score (bench/textbook.c, compiled with the same flags),
 * floor_observe (bench/method_floor.cpp: the method with nothing else) and
 * specialized_observe (bench/specialized_floor.cpp: the library's step with K and D fixed at
 * compile time; 2 x 4, 3 x 3 and 8 x 8 only).
 * Everything but the calls is the same whatever N is: the setup, and a pool of 64 samples
 * computed before the loop, so a run with N calls minus a run with none is N calls and N
 * loop iterations (a few instructions each). */
#include <stdint.h>

#include "board.h"
#include "streamix/streamix.h"
#include "method_floor.h"
#include "specialized_floor.h"
#include "textbook.h"

#define MAX_K 16
#define MAX_D 16
#define POOL 64

#define BATCH 16
static unsigned char storage[SMX_MODEL_BYTES(MAX_K, MAX_D, 0, 0)] __attribute__((aligned(64)));
static unsigned char batch_storage[SMX_MODEL_BATCH_BYTES(MAX_K, MAX_D, 0, 0, BATCH)]
    __attribute__((aligned(64)));
#define BANK 16
static unsigned char bank_storage[SMX_BANK_BYTES(MAX_K, MAX_D, 0, 0, 1, BANK)] __attribute__((aligned(64)));
static float textbook_storage[TEXTBOOK_FLOATS(MAX_K, MAX_D)];
static float floor_storage[METHOD_FLOOR_FLOATS(MAX_K, MAX_D)];
static float weights[MAX_K], means[MAX_K * MAX_D], variances[MAX_K * MAX_D];
static float pool[POOL * MAX_D];
static volatile float sink; /* keeps every result live */

static const char* skip_blanks(const char* s) {
  while (*s == ' ') ++s;
  return s;
}
static const char* read_word(const char* s, char* word, int size) {
  int n = 0;
  s = skip_blanks(s);
  for (; *s && *s != ' '; ++s) {
    if (n + 1 < size) word[n++] = *s;
  }
  word[n] = '\0';
  return s;
}
static const char* read_int(const char* s, long* v) {
  *v = 0;
  s = skip_blanks(s);
  while (*s >= '0' && *s <= '9') *v = *v * 10 + (*s++ - '0');
  return s;
}
static int same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

/* A deterministic stream around the components: uniform noise from an LCG. */
static uint32_t lcg = 12345u;
static float noise(void) {
  lcg = lcg * 1664525u + 1013904223u;
  return (float)(lcg >> 8) / 16777216.0f - 0.5f;
}

int main(void) {
  char line[256], op[24];
  long k = 0, d = 0, n = 0;
  if (board_command_line(line, sizeof line) < 0) {
    board_write("count: no command line\n");
    return 1;
  }
  /* QEMU passes the kernel's path, then what -append gave. */
  const char* s = read_word(line, op, sizeof op);
  s = read_word(s, op, sizeof op);
  s = read_int(s, &k);
  s = read_int(s, &d);
  read_int(s, &n);
  if (k < 1 || k > MAX_K || d < 1 || d > MAX_D) {
    board_write("count: usage: OP K D N (K, D <= 16), not: ");
    board_write(line);
    board_write("\n");
    return 1;
  }
  for (long c = 0; c < k; ++c) {
    weights[c] = 1.0f / (float)k;
    for (long j = 0; j < d; ++j) {
      means[c * d + j] = (float)((c * 7 + j * 3) % 11 - 5) * 0.6f;
      variances[c * d + j] = 1.0f;
    }
  }
  for (long i = 0; i < POOL; ++i) {
    for (long j = 0; j < d; ++j) pool[i * d + j] = means[(i % k) * d + j] + noise();
  }
  smx_config cfg;
  smx_config_init(&cfg, (uint32_t)k, (uint32_t)d);
  cfg.init_samples = 0;
  cfg.hold_samples = 0;
  smx_model* model = 0;
  if (smx_model_create(&cfg, storage, sizeof storage, &model) != SMX_OK ||
      smx_model_set_params(model, weights, means, variances) != SMX_OK) {
    board_write("count: setup failed\n");
    return 1;
  }
  smx_model* batch_model = 0;
  cfg.batch_size = BATCH;
  if (smx_model_create(&cfg, batch_storage, sizeof batch_storage, &batch_model) != SMX_OK ||
      smx_model_set_params(batch_model, weights, means, variances) != SMX_OK) {
    board_write("count: setup failed\n");
    return 1;
  }
  smx_bank* bank = 0;
  cfg.batch_size = 1;
  if (smx_bank_create(&cfg, BANK, bank_storage, sizeof bank_storage, &bank) != SMX_OK) {
    board_write("count: setup failed\n");
    return 1;
  }
  for (uint32_t i = 0; i < BANK; ++i) smx_bank_model_set(bank, i, model);
  smx_bank_observe(bank, pool, 0, 0);  /* (the first step after set_params runs model by model) */
  textbook_gmm textbook;
  textbook_init(&textbook, (int)k, (int)d, textbook_storage, weights, means, variances);
  method_floor floor_model;
  method_floor_init(&floor_model, (int)k, (int)d, floor_storage, weights, means, variances);
  const int specialized = specialized_floor_init((int)k, (int)d, weights, means, variances);

  float log_p = 0.0f;
  if (same(op, "observe")) {
    for (long i = 0; i < n; ++i) smx_observe(model, pool + (i % POOL) * d, &log_p), sink = log_p;
  } else if (same(op, "observe_batch")) {
    for (long i = 0; i < n; ++i) smx_observe_batch(batch_model, pool, POOL, 0);
  } else if (same(op, "bank_observe")) {
    for (long i = 0; i < n; ++i) smx_bank_observe(bank, pool + (i % (POOL / BANK)) * BANK * d, 0, 0);
  } else if (same(op, "score")) {
    for (long i = 0; i < n; ++i) smx_score(model, pool + (i % POOL) * d, &log_p), sink = log_p;
  } else if (same(op, "textbook_observe")) {
    for (long i = 0; i < n; ++i) sink = textbook_observe(&textbook, pool + (i % POOL) * d);
  } else if (same(op, "specialized_observe") && specialized) {
    for (long i = 0; i < n; ++i) sink = specialized_floor_observe(pool + (i % POOL) * d);
  } else if (same(op, "floor_observe")) {
    for (long i = 0; i < n; ++i) sink = method_floor_observe(&floor_model, pool + (i % POOL) * d);
  } else if (same(op, "textbook_score")) {
    for (long i = 0; i < n; ++i) sink = textbook_score(&textbook, pool + (i % POOL) * d);
  } else {
    board_write("count: unknown operation\n");
    return 1;
  }
  board_write("count: done\n");
  return 0;
}
