/* The C header compiled by a C compiler (C99): a firmware-style program with static
 * storage sized by SMX_MODEL_BYTES. Exits 0 when every check holds. */
#include <math.h>
#include <stdio.h>

#include "streamix/streamix.h"

#define K 2
#define D 3
#define N 20

/* C99 has no alignment specifier: firmware toolchains (GCC, Clang, armcc) spell it so. */
static unsigned char storage[SMX_MODEL_BYTES(K, D, N, 0)] __attribute__((aligned(64)));
static unsigned char snapshot[4096];
static unsigned char restored[SMX_MODEL_BYTES(K, D, N, 0)] __attribute__((aligned(64)));
/* A detector over D readings with two views (level and residual), from static storage. */
static unsigned char detector_storage[SMX_DETECTOR_BYTES(K, D, 2, N, 0)]
    __attribute__((aligned(64)));

static int failures = 0;
#define CHECK(cond)                                               \
  do {                                                            \
    if (!(cond)) {                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                 \
    }                                                             \
  } while (0)

int main(void) {
  smx_config cfg;
  smx_model* model = NULL;
  size_t bytes = 0, written = 0;
  float x[D] = {0.0f, 0.0f, 0.0f}, log_p = 0.0f, weights[K], resp[K];
  int i;
  smx_config_init(&cfg, K, D);
  CHECK(cfg.init_samples == N);
  CHECK(smx_model_size(&cfg, &bytes) == SMX_OK && bytes == sizeof storage);
  CHECK(smx_model_create(&cfg, storage, sizeof storage, &model) == SMX_OK);
  CHECK(smx_score(model, x, &log_p) == SMX_ERR_NOT_READY);
  for (i = 0; i < 500; ++i) {
    /* two clusters, around 0 and around 10, with a little deterministic jitter */
    const float centre = (i % 2) ? 10.0f : 0.0f;
    x[0] = centre + 0.1f * (float)((i * 7) % 11 - 5);
    x[1] = centre - 0.1f * (float)((i * 3) % 7 - 3);
    x[2] = 0.05f * (float)(i % 5);
    CHECK(smx_observe(model, x, &log_p) == SMX_OK);
    CHECK(i < N - 1 ? isnan(log_p) : (i == N - 1 ? isnan(log_p) : isfinite(log_p)));
  }
  CHECK(smx_is_ready(model) == 1);
  CHECK(smx_samples_seen(model) == 500u);
  CHECK(smx_model_get_params(model, weights, NULL, NULL) == SMX_OK);
  CHECK(fabsf(weights[0] - 0.5f) < 0.05f);
  x[0] = 10.0f, x[1] = 10.0f, x[2] = 0.1f;
  CHECK(smx_responsibilities(model, x, resp) == SMX_OK);
  CHECK(fabsf(resp[0] + resp[1] - 1.0f) < 1e-6f);
  x[1] = NAN;
  CHECK(smx_observe(model, x, &log_p) == SMX_ERR_INPUT);
  CHECK(smx_snapshot_save(model, snapshot, sizeof snapshot, &written) == SMX_OK);
  CHECK(smx_snapshot_load(snapshot, written, restored, sizeof restored, &model) == SMX_OK);
  CHECK(smx_samples_seen(model) == 500u);

  {
    smx_detector_config dc;
    smx_detector* det = NULL;
    smx_detection d;
    int i, alarms = 0;
    smx_detector_config_init(&dc, K, D);
    dc.views = SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL;
    dc.model.features = D * SMX_VIEW_COUNT(dc.views);
    dc.model.init_samples = N;
    CHECK(smx_detector_size(&dc, &bytes) == SMX_OK && bytes == sizeof detector_storage);
    CHECK(smx_detector_create(&dc, detector_storage, sizeof detector_storage, &det) == SMX_OK);
    for (i = 0; i < 1000; ++i) {
      x[0] = (float)(i % 7) * 0.1f;
      x[1] = (float)(i % 5) * 0.2f;
      x[2] = i == 900 ? 40.0f : (float)(i % 3) * 0.3f; /* one fault in feature 2 */
      CHECK(smx_detect(det, x, &d) == SMX_OK);
      alarms += d.is_anomaly;
      if (i == 900) CHECK(d.is_anomaly == 1 && d.top_feature == 2);
    }
    CHECK(alarms >= 1);
    CHECK(smx_detector_samples_seen(det) == 1000u);
    CHECK(smx_is_ready(smx_detector_model(det)) == 1);
  }
  printf("c_api_test: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
