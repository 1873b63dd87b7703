/* A model trained in Python, flashed as C source: loads the bytes streamix.to_c_source wrote
 * (flashed_model_data.c) with smx_snapshot_load and scores the rows Python scored
 * (flashed_model_expected.h). Built for the host (tests of the Python package) and as
 * Cortex-M4 firmware (STREAMIX_BARE_METAL, under qemu-system-arm). Tolerance: on the same
 * backend the scores are bit for bit Python's; the firmware's scalar exp and log differ from
 * the SIMD ones by a few ulps, so |difference| <= 1e-5 max(1, |log p|) (float32 sums of D
 * terms and a log-sum-exp, each within ~1e-6 relative of values of magnitude <= 10). */
#include <stddef.h>

#include "flashed_model_expected.h"
#include "streamix/streamix.h"

extern const unsigned char streamix_flashed_model[];
extern const size_t streamix_flashed_model_size;

#ifdef STREAMIX_BARE_METAL
#include "board.h"
static void say(const char* s) { board_write(s); }
static void finish(int status) { board_exit(status); }
#else
#include <stdio.h>
#include <stdlib.h>
static void say(const char* s) { fputs(s, stdout); }
static void finish(int status) { exit(status); }
#endif

static unsigned char storage[SMX_MODEL_BYTES(FLASHED_K, FLASHED_D, FLASHED_N, FLASHED_A)]
    __attribute__((aligned(SMX_STORAGE_ALIGN)));

static void say_count(int n) {
  char digits[12];
  int i = (int)sizeof digits - 1;
  digits[i] = '\0';
  do {
    digits[--i] = (char)('0' + n % 10);
    n /= 10;
  } while (n > 0 && i > 0);
  say(digits + i);
}

int main(void) {
  smx_model* model = NULL;
  const smx_status s = smx_snapshot_load(streamix_flashed_model, streamix_flashed_model_size,
                                         storage, sizeof storage, &model);
  if (s != SMX_OK) {
    say("flashed model: failed to load: ");
    say(smx_status_string(s));
    say("\n");
    finish(1);
  }
  int agree = 0;
  for (int i = 0; i < FLASHED_ROWS; ++i) {
    float log_p = 0.0f;
    if (smx_score(model, flashed_rows[i], &log_p) != SMX_OK) continue;
    const float e = flashed_expected[i];
    const float scale = e > 1.0f ? e : (e < -1.0f ? -e : 1.0f);
    const float gap = log_p > e ? log_p - e : e - log_p;
    agree += gap <= 1e-5f * scale;
  }
  say("flashed model: ");
  say_count(agree);
  say(" of ");
  say_count(FLASHED_ROWS);
  say(" rows scored as in Python\n");
  finish(agree == FLASHED_ROWS ? 0 : 1);
  return 0;
}
