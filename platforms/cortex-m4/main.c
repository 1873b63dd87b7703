/* streamix on a Cortex-M4: a sensor loop in firmware style. A deterministic 3-axis signal
 * (a machine cycling through three operating modes, plus noise) with three injected faults is
 * scored and learned sample by sample through the C API, in static storage, with no heap and
 * no printf. Each detection is printed over semihosting, then a summary; the exit status says
 * whether every fault was found and nothing else was flagged.
 *
 * Built twice. sensor_loop uses the model alone, with the fixed rule below; sensor_detector
 * (STREAMIX_FIRMWARE_DETECTOR = 1) uses the anomaly detector (smx_detect: adaptive threshold,
 * learning gate) and also checks that it names the faulty axis (top_feature).
 *
 * Model-only detection rule: once the model has settled
 * (SETTLE samples: the 30-sample warm-up gives each mode only 10 samples, and the first
 * alarm-free stretch lets the stepwise EM refine them), a sample whose log-likelihood is
 * below THRESHOLD nats is flagged and not learned from (a gate, so faults do not teach the
 * model); every other sample is learned. Without the settling period, sample 52 (two steps
 * after the hold period) was a false alarm at log p = -39. */
#include <stdint.h>

#include "board.h"
#include "streamix/streamix.h"

#define K 3
#define D 3
#define N_WARMUP 30
#define SAMPLES 6000
#define SETTLE 300
#define THRESHOLD (-15.0f) /* ~ chi-square(3) tail 1e-8 below the typical log p of +5 */

#ifndef STREAMIX_FIRMWARE_DETECTOR
#define STREAMIX_FIRMWARE_DETECTOR 0
#endif
#if STREAMIX_FIRMWARE_DETECTOR
/* One view (the readings themselves), no smoothing: the machine switches modes abruptly. */
static unsigned char storage[SMX_DETECTOR_BYTES(K, D, 1, N_WARMUP, 0)] __attribute__((aligned(64)));
#else
static unsigned char storage[SMX_MODEL_BYTES(K, D, N_WARMUP, 0)] __attribute__((aligned(64)));
#endif

/* Injected faults: [first, last] sample, the axis they hit (see read_sensor). */
static const struct {
  int first, last, axis;
} faults[3] = {{2000, 2002, 2}, {3500, 3519, 0}, {5000, 5004, 1}};

/* ---- text output without printf ---------------------------------------------------- */
static char* put_text(char* out, const char* s) { /* keeps the line NUL-terminated */
  while (*s) *out++ = *s++;
  *out = '\0';
  return out;
}
static char* put_int(char* out, long v) {
  char digits[24];
  int n = 0;
  unsigned long u = v < 0 ? (unsigned long)(-v) : (unsigned long)v;
  if (v < 0) *out++ = '-';
  do digits[n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}
static char* put_fixed(char* out, float v, int decimals) { /* v with `decimals` places */
  long scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  long scaled = (long)(v * (float)scale + (v < 0 ? -0.5f : 0.5f));
  if (scaled < 0) *out++ = '-', scaled = -scaled;
  out = put_int(out, scaled / scale);
  *out++ = '.';
  for (long s = scale / 10; s > 0; s /= 10) *out++ = (char)('0' + (scaled / s) % 10);
  return out;
}

/* ---- the synthetic sensor ---------------------------------------------------------- */
static uint32_t lcg_state = 12345u;
static float uniform(void) { /* [0, 1) */
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return (float)(lcg_state >> 8) * (1.0f / 16777216.0f);
}
static float noise(void) { /* approximately normal, sd 0.05 (Irwin-Hall of 12 uniforms) */
  float s = -6.0f;
  for (int i = 0; i < 12; ++i) s += uniform();
  return 0.05f * s;
}
static void read_sensor(int t, float x[D]) {
  static const float mode_means[3][D] = {{0.0f, 0.0f, 1.0f}, {2.0f, -1.0f, 1.0f}, {-1.5f, 2.0f, 0.5f}};
  const int mode = (t / 10) % 3; /* the machine cycles through its modes every 10 samples */
  for (int d = 0; d < D; ++d) x[d] = mode_means[mode][d] + noise();
  if (t >= faults[0].first && t <= faults[0].last) x[2] += 1.0f; /* spike on axis 2 */
  if (t >= faults[1].first && t <= faults[1].last) x[0] = 5.0f;  /* axis 0 stuck high */
  if (t >= faults[2].first && t <= faults[2].last) x[1] += 0.8f; /* offset on axis 1 */
}

static int fault_at(int t) {
  for (int f = 0; f < 3; ++f) {
    if (t >= faults[f].first && t <= faults[f].last) return f;
  }
  return -1;
}

/* ---- stack measurement: paint below the current stack pointer, find the high-water mark */
#define STACK_PAINT_BYTES 8192u
static uint32_t* paint_bottom;
static uint32_t* paint_top;
static void paint_stack(void) {
  uint32_t sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  paint_top = (uint32_t*)(sp - 64u); /* leave this function's own frame alone */
  paint_bottom = (uint32_t*)(sp - STACK_PAINT_BYTES);
  for (volatile uint32_t* p = paint_bottom; p < paint_top; ++p) *p = 0xA5A5A5A5u;
}
static uint32_t stack_used(void) {
  const uint32_t* p = paint_bottom;
  while (p < paint_top && *p == 0xA5A5A5A5u) ++p;
  return (uint32_t)((uintptr_t)paint_top - (uintptr_t)p) + 64u;
}

static void print_header(const char* what, long bytes) {
  char line[160];
  char* o = put_text(line, "streamix on Cortex-M4: ");
  o = put_text(o, what);
  o = put_text(o, ", K = 3, D = 3, ");
  o = put_int(o, bytes);
  o = put_text(o, " bytes of static storage, backend ");
  o = put_text(o, smx_backend());
  put_text(o, "\n");
  board_write(line);
}

static void print_detection(int t, const char* score_name, float score, int axis, int fault) {
  char line[160];
  char* o = put_text(line, "detection: sample ");
  o = put_int(o, t);
  o = put_text(o, score_name);
  o = put_fixed(o, score, 1);
  if (axis >= 0) {
    o = put_text(o, ", axis ");
    o = put_int(o, axis);
  }
  put_text(o, fault >= 0 ? " (injected fault)\n" : " (FALSE ALARM)\n");
  board_write(line);
}

int main(void) {
  char line[160];
#if STREAMIX_FIRMWARE_DETECTOR
  smx_detector_config cfg;
  smx_detector* det = 0;
  smx_detector_config_init(&cfg, K, D);
  cfg.scaling = SMX_SCALING_NONE;
  cfg.smoothing = 1.0f;
  cfg.model.init_samples = N_WARMUP;
  cfg.calibration_samples = SETTLE - N_WARMUP;
  cfg.alarm_rate = 1e-6f; /* one false alarm expected per million readings */
  if (smx_detector_create(&cfg, storage, sizeof storage, &det) != SMX_OK) {
    board_write("detector creation failed\n");
    return 1;
  }
  print_header("detector", (long)sizeof storage);
#else
  smx_config cfg;
  smx_model* model = 0;
  smx_config_init(&cfg, K, D);
  cfg.init_samples = N_WARMUP;
  if (smx_model_create(&cfg, storage, sizeof storage, &model) != SMX_OK) {
    board_write("model creation failed\n");
    return 1;
  }
  print_header("model", (long)sizeof storage);
#endif

  paint_stack();
  int detections = 0, false_alarms = 0, found[3] = {0, 0, 0}, named[3] = {0, 0, 0}, rejected = 0;
  for (int t = 0; t < SAMPLES; ++t) {
    float x[D];
    read_sensor(t, x);
    const int f = fault_at(t);
#if STREAMIX_FIRMWARE_DETECTOR
    smx_detection r;
    if (smx_detect(det, x, &r) != SMX_OK) {
      ++rejected;
      continue;
    }
    if (!r.is_anomaly) continue;
    if (f >= 0 && r.top_feature == faults[f].axis) named[f] = 1;
    print_detection(t, ", score ", r.score, r.top_feature, f);
#else
    float log_p = 0.0f;
    if (t < SETTLE || smx_score(model, x, &log_p) != SMX_OK || log_p >= THRESHOLD) {
      if (smx_observe(model, x, &log_p) != SMX_OK) ++rejected;
      continue;
    }
    /* flagged: the gate, a flagged sample is not learned from */
    print_detection(t, ", log p = ", log_p, -1, f);
#endif
    ++detections;
    if (f >= 0) {
      found[f] = 1;
    } else {
      ++false_alarms;
    }
  }
  const uint32_t stack = stack_used();

  const int faults_found = found[0] + found[1] + found[2];
  char* o = put_text(line, "samples: ");
  o = put_int(o, SAMPLES);
  o = put_text(o, ", detections: ");
  o = put_int(o, detections);
  o = put_text(o, ", rejected inputs: ");
  o = put_int(o, rejected);
  o = put_text(o, ", stack used by the loop: ");
  o = put_int(o, (long)stack);
  put_text(o, " bytes\n");
  board_write(line);
  o = put_text(line, "faults found: ");
  o = put_int(o, faults_found);
  o = put_text(o, " of 3, false alarms: ");
  o = put_int(o, false_alarms);
#if STREAMIX_FIRMWARE_DETECTOR
  const int axes_named = named[0] + named[1] + named[2];
  o = put_text(o, ", faulty axis named: ");
  o = put_int(o, axes_named);
  o = put_text(o, " of 3");
#else
  const int axes_named = 3; /* the model alone does not name axes */
  (void)named;
#endif
  put_text(o, "\n");
  board_write(line);
  return faults_found == 3 && axes_named == 3 && false_alarms == 0 && rejected == 0 ? 0 : 1;
}
