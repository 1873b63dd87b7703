/*
 * streamix: online (stepwise) expectation-maximization for diagonal Gaussian mixtures
 * in fixed, caller-provided memory.
 *
 * The C API. Compiles as C99 and as C++. Every function validates its arguments; on any
 * error it returns a status other than SMX_OK and leaves the model bit-for-bit unchanged.
 * Nothing here allocates, throws, locks or does I/O. One model must not be used from two
 * threads at once without a lock; distinct models are independent.
 */
#ifndef STREAMIX_STREAMIX_H
#define STREAMIX_STREAMIX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smx_status {
  SMX_OK = 0,
  SMX_ERR_ARGUMENT,  /* null pointer, invalid config or parameter value */
  SMX_ERR_STORAGE,   /* storage too small or not aligned to SMX_STORAGE_ALIGN bytes */
  SMX_ERR_INPUT,     /* a feature is NaN, infinite, or its square overflows float */
  SMX_ERR_NOT_READY, /* the model has no parameters yet (still warming up) */
  SMX_ERR_SNAPSHOT   /* snapshot truncated, corrupted, of another version, or inconsistent */
} smx_status;

/* Limits checked by smx_model_size / smx_model_create. */
/* The library's version (CMakeLists.txt reads it from here). */
#define SMX_VERSION_MAJOR 0
#define SMX_VERSION_MINOR 3
#define SMX_VERSION_PATCH 0
/* "MAJOR.MINOR.PATCH" of the library linked in (may differ from the header's). */
const char* smx_version(void);

#define SMX_MAX_COMPONENTS 1024u
#define SMX_MAX_FEATURES 4096u
#define SMX_MAX_INIT_SAMPLES 65536u
#define SMX_MAX_BATCH_SIZE 4096u
/* Largest accepted |x_d|: sqrt(FLT_MAX), so that x_d * x_d is finite. */
#define SMX_MAX_ABS_FEATURE 1.8446742e19f
/* Largest variance a model holds: 2^125, so that 1 / (2 variance) is a normal float. Larger
 * variances (given, or from samples ~1e19 apart) are lowered to it. */
#define SMX_MAX_VARIANCE 4.2535296e37f

typedef struct smx_config {
  uint32_t components;    /* K, 1 <= K <= SMX_MAX_COMPONENTS */
  uint32_t features;      /* D, 1 <= D <= SMX_MAX_FEATURES */
  float step_exponent;    /* alpha in (0.5, 1], default 0.6 */
  float step_offset;      /* t0 >= 1, default 2 */
  float step_floor;       /* gamma_min in [0, 1), default 0; > 0 forgets exponentially */
  uint32_t hold_samples;  /* samples after initialization before the first M-step, default 20 */
  uint32_t init_samples;  /* warm-up buffer for self-initialization: 0 (parameters must be
                             set with smx_model_set_params) or K..SMX_MAX_INIT_SAMPLES;
                             default max(10 K, 20) */
  float variance_floor;   /* lower bound of every variance, in squared feature units;
                             FLT_MIN..SMX_MAX_VARIANCE, default 1e-6 */
  float weight_floor;     /* lower bound of every weight statistic, in [FLT_MIN, 1/K);
                             default 0.01 / K. A component held at the floor is dead
                             and is re-seeded at the next poorly explained sample. */
  uint32_t seed;          /* k-means++ seeding of the self-initialization, default 1 */
  uint32_t average_from;  /* Polyak-Ruppert averaging: 0 = off (default); n >= 1 averages
                             the parameter iterates from the n-th M-step on */
  uint32_t batch_size;    /* m, 1..SMX_MAX_BATCH_SIZE, default 1: samples per stepwise
                             update (mini-batch stepwise EM; see smx_observe_batch) */
} smx_config;

/* Opaque: lives inside the caller's storage. The storage holds no pointers into itself,
 * so a model can be copied or moved with memcpy to other storage of the same size. */
typedef struct smx_model smx_model;

/* Storage alignment required by smx_model_create and smx_snapshot_load. */
#define SMX_STORAGE_ALIGN 64u

/*
 * Storage size in bytes, as an integer constant expression (usable for static arrays):
 *   SMX_MODEL_BYTES(K, D, N, A) = 256 + 4 P (6 + 3A) + 4 P D (6 + 3A) + ceil64(4 N (D + 1))
 * with P the padded components (4 for K <= 4, 8 for K <= 8, else K rounded up to a multiple
 * of 16), N = init_samples, A = 1 if average_from > 0:
 * a 256-byte header; 6 P-vectors and 6 D-by-P arrays (statistics, E-step parameters,
 * scratch), 3 + 3 more with averaging; the warm-up buffer of N samples plus one float per
 * sample for k-means++ seeding. That is for batch_size 1; with mini-batches of M > 1,
 *   SMX_MODEL_BATCH_BYTES(K, D, N, A, M) = SMX_MODEL_BYTES(K, D, N, A)
 *                                         + 4 P (1 + 2 D) + ceil64(4 M (P + D + 2))
 * adds the mini-batch's sums (a P-vector and two D-by-P arrays) and, per sample of the
 * mini-batch, its responsibilities, its features (samples wait there), its log p and its
 * learning weight (a detector's gate).
 * smx_model_size computes the same value after validating the config.
 */
#define SMX_PADDED_COMPONENTS(K) \
  ((size_t)(K) <= 4u ? (size_t)4u : (size_t)(K) <= 8u ? (size_t)8u : (((size_t)(K)) + 15u) / 16u * 16u)
#define SMX_MODEL_BYTES(K, D, N, A)                                                  \
  ((size_t)256u + (size_t)4u * SMX_PADDED_COMPONENTS(K) * (6u + 3u * ((A) ? 1u : 0u)) + \
   (size_t)4u * SMX_PADDED_COMPONENTS(K) * (size_t)(D) * (6u + 3u * ((A) ? 1u : 0u)) +   \
   ((size_t)4u * (size_t)(N) * ((size_t)(D) + 1u) + 63u) / 64u * 64u)
#define SMX_MODEL_BATCH_BYTES(K, D, N, A, M)                                               \
  (SMX_MODEL_BYTES(K, D, N, A) +                                                          \
   ((M) > 1u ? (size_t)4u * SMX_PADDED_COMPONENTS(K) * (1u + 2u * (size_t)(D)) +           \
                   ((size_t)4u * (size_t)(M) *                                             \
                        (SMX_PADDED_COMPONENTS(K) + (size_t)(D) + 2u) + 63u) / 64u * 64u  \
             : (size_t)0u))

/* Fills *cfg with the defaults above for K components and D features (cfg may be NULL). */
void smx_config_init(smx_config* cfg, uint32_t components, uint32_t features);

/* Validates cfg and gives the storage it needs. */
smx_status smx_model_size(const smx_config* cfg, size_t* bytes);
/* Why cfg is invalid: the first rule it breaks, naming the field and its range (a static
 * string, e.g. "step_exponent must be in (0.5, 1]"); NULL if cfg is valid or NULL. */
const char* smx_config_problem(const smx_config* cfg);

/* Creates a model in storage (aligned to SMX_STORAGE_ALIGN, at least smx_model_size bytes).
 * The model is not ready until it has parameters: either set them, or observe init_samples
 * samples. */
smx_status smx_model_create(const smx_config* cfg, void* storage, size_t storage_bytes,
                            smx_model** model);

/* Sets the parameters (weights: K, normalized here; means and variances: K*D, row k is
 * component k). Weights must be finite and >= 0 with a positive sum, means finite with
 * |mean| <= SMX_MAX_ABS_FEATURE, variances finite and > 0. Variances below the variance
 * floor and weights below the weight floor are raised to them; variances above
 * SMX_MAX_VARIANCE are lowered to it. The model becomes ready;
 * the step counter and the hold period restart from here. */
smx_status smx_model_set_params(smx_model* m, const float* weights, const float* means,
                                const float* variances);

/* Copies the current parameters out (any of the three pointers may be NULL);
 * SMX_ERR_NOT_READY before the model has parameters. With
 * averaging on and at least one averaged step, these are the averaged parameters. */
smx_status smx_model_get_params(const smx_model* m, float* weights, float* means,
                                float* variances);

/* Learns from one sample x (D floats). If log_likelihood is not NULL it receives
 * log p(x) in nats under the parameters before this update (prequential), or NaN while
 * the model is warming up (the sample is buffered; the sample that completes the buffer
 * initializes the model and also reports NaN). SMX_ERR_NOT_READY (model unchanged) if the
 * model has neither parameters nor a warm-up buffer (init_samples = 0). */
smx_status smx_observe(smx_model* m, const float* x, float* log_likelihood);

/* Learns from n samples (x: n rows of D floats, row-major), in order; log_likelihood (n
 * floats, may be NULL) receives each sample's prequential log p, as smx_observe would. With
 * batch_size m = 1 this is n calls of smx_observe, bit for bit. With m > 1, once the model
 * is ready, samples are learned in mini-batches of exactly m (stepwise EM with mini-batches,
 * Liang & Klein 2009): the m samples share the parameters before their mini-batch (each is
 * scored under them), their responsibilities and their statistics, centred on the current
 * means, are summed, and the statistics move once by the mini-batch's step towards the
 * mini-batch's average, followed by one refresh. The step of a mini-batch that ends at
 * position t (counted in samples, as steps and the hold are) is min(1, m gamma_t): the share
 * of the statistics its m samples are worth when the statistics are worth 1 / gamma_t
 * samples (with step_exponent 1: exactly what m single steps give). Samples that do not
 * complete a mini-batch wait in the model (its storage holds m of them; a snapshot keeps
 * them) and complete it in a later call, so where calls split a stream does not change what
 * is learned; smx_observe feeds the same mini-batches one sample at a time. Warm-up samples
 * are buffered as by smx_observe. At most one dead component is re-seeded per mini-batch,
 * by its first sample that no live component explains.
 * Every row is validated before anything is learned: a bad row (SMX_ERR_INPUT) rejects the
 * whole call with the model and log_likelihood unchanged. SMX_ERR_NOT_READY as smx_observe. */
smx_status smx_observe_batch(smx_model* m, const float* x, size_t n, float* log_likelihood);

/* log p(x) in nats under the current parameters. SMX_ERR_NOT_READY before the model has
 * parameters. -INFINITY if x is so far from every component that no density is
 * representable in float. */
smx_status smx_score(const smx_model* m, const float* x, float* log_likelihood);

/* Posterior probabilities P(z = k | x), K floats summing to 1 (values below 2^-64 of the
 * largest log-density gap are returned as 0). */
smx_status smx_responsibilities(const smx_model* m, const float* x, float* resp);

/* Merges the statistics of `from` into `into`, as if `into` had also learned from the
 * samples `from` learned from: for fleets (a gateway aggregates its devices' models) and
 * back-fills (shards learned in parallel, then merged). Each model counts with its
 * effective sample count n = 1 / gamma_t, the inverse of its step size at its schedule
 * position t (under the 1/t schedule, step_exponent = 1, exactly the samples its
 * statistics average, step_offset counting as prior samples; otherwise the weight one more
 * sample is averaged against); `from`'s count is scaled by weight, in (0, 1]. Per
 * component k, with counts c = n s0_k, the pairwise (Chan et al.) combination: weights add,
 * means combine by count, variances pool within and between (mean distance squared).
 * `into`'s average (averaging on, with iterates) merges with `from`'s reported parameters
 * the same way. The merged parameters are in effect at once (also during the hold);
 * samples_seen adds `from`'s, and `into`'s schedule moves on to the position whose step is
 * 1 / (n_into + weight n_from), never back and never past samples_seen. `from` is not
 * changed.
 * Meaningful only when component k of both models describes the same thing: both started
 * from the same parameters (smx_model_set_params from one source, or one model's snapshot
 * loaded twice) and learned similar data; two models that initialized from their own
 * warm-ups generally number their components differently.
 * SMX_ERR_ARGUMENT (both unchanged) for a null or invalid model, another K or D, weight
 * outside (0, 1] or NaN, or the same (or overlapping) storage; SMX_ERR_NOT_READY if either
 * model has no parameters yet. */
smx_status smx_model_merge(smx_model* into, const smx_model* from, float weight);

/* The config the model was created with. */
smx_status smx_model_config(const smx_model* m, smx_config* cfg);

/* Samples accepted by smx_observe since creation (or since the snapshot's model was),
 * plus those of every model merged into it. */
uint64_t smx_samples_seen(const smx_model* m);

/* 1 once the model has parameters, 0 before (and for a NULL or invalid model). */
int smx_is_ready(const smx_model* m);

/* Snapshots: a versioned, little-endian, CRC-32-protected byte image of the whole state,
 * identical on every architecture. Loading validates everything before it writes to the
 * target storage: it accepts exactly the states the library can reach (the invariants are
 * listed with the format in lib/core/snapshot.cpp), so every snapshot the library saves
 * loads, and nothing else does. SMX_ERR_SNAPSHOT for a truncated, corrupted or impossible
 * snapshot, SMX_ERR_STORAGE for storage too small or misaligned, SMX_ERR_ARGUMENT for a
 * buffer that overlaps the storage it would be loaded into; the storage is then untouched. */
smx_status smx_snapshot_size(const smx_model* m, size_t* bytes);
smx_status smx_snapshot_save(const smx_model* m, void* buf, size_t buf_bytes, size_t* written);
smx_status smx_snapshot_load(const void* buf, size_t len, void* storage, size_t storage_bytes,
                             smx_model** model);
/* The config stored in a snapshot, so the caller can size storage before loading. */
smx_status smx_snapshot_config(const void* buf, size_t len, smx_config* cfg);

/* A static, human-readable description of s. */
const char* smx_status_string(smx_status s);

/* log p(x_i) for n samples at once: x holds n rows of D floats (row-major), log_likelihood
 * receives n values. For gateways and back-fill: the kernels vectorize across samples where
 * that beats the per-sample E-step. Every sample is validated before anything is computed;
 * one bad sample rejects the call (SMX_ERR_INPUT) with log_likelihood untouched. */
smx_status smx_score_batch(const smx_model* m, const float* x, size_t n, float* log_likelihood);

/*
 * Banks: M models of one configuration in one block of caller storage, for many streams
 * (sensors, devices, keys) with a small model each. The models are interleaved so that one
 * SIMD lane is one model: smx_bank_observe steps a group of 16 models in one pass of vector
 * code (each element one AVX-512 vector, two AVX2, four NEON), where a lone model of K <= 4
 * spends most of its lanes on padding and its time on per-call work (6 times faster per model
 * at K = 2, D = 4 on AVX-512; on a scalar core a bank saves memory, not time). Readings for
 * scattered models (smx_bank_observe_some) step packed 16 at a time, which pays for small
 * models only (bench/README.md, Banks).
 * Every model of a bank behaves like a lone model with the bank's config (same warm-up,
 * hold, schedule, re-seeding, mini-batches, averaging): models that have finished their hold
 * (with batch_size 1, no averaging and K <= 16) step lanes-across-models, any other state
 * through the lone model's own code on a copy (the bank's scratch model). The lanes' arithmetic
 * is the SIMD backends' lone E-step and M-step lane by lane: the same state bit for bit on the
 * Highway backend for K <= 2 (but on 32-bit ARM); otherwise within rounding (the sum of the
 * K exponentials may round differently; xsimd runs lone models of K <= 4 without FMA;
 * lib/core/README.md).
 * Per model, a bank gives what a lone model gives: its score and parameters, a copy as a lone
 * model, its snapshot (an ordinary model snapshot: a stream moves between a bank and a lone
 * model, and between machines), a reset. Bad input is per reading: it is rejected for its
 * model (status), that model unchanged bit for bit, and the other readings proceed.
 * Nothing allocates; one bank must not be used from two threads at once (even the functions
 * that read one model use the bank's scratch model; the copy functions are const).
 *
 * Storage, as an integer constant expression (G = ceil(M / 16) groups of 16 lanes):
 *   SMX_BANK_BYTES(K, D, N, A, B, M) = 256 + ceil64(SMX_MODEL_BATCH_BYTES(K, D, N, A, B))
 *                                    + 768 G + ceil64(8 G) + 64 (G + 1) (F + D)
 *   F = K (4 + 3A) + K D (6 + 3A) + N D + (B > 1 ? B (D + 1) : 0)
 * with N = init_samples, A = 1 with averaging, B = batch_size: a header, the scratch model,
 * 48 bytes of counters per lane, two words per group, and per lane F floats of state (the
 * statistics and the iterate without padding, the warm-up buffer, the mini-batch's samples)
 * and D floats for the reading staged for its step, in G groups and one spare (where
 * readings for scattered models are packed to step together). Per model that is
 * 4 (F + D) + 48 bytes plus the scratch model and the spare group shared by all: at K = 2,
 * D = 4 (N = 20) 608 bytes against a lone model's 1,184.
 */
#define SMX_MAX_BANK_MODELS 16777216u
#define SMX_BANK_FLOATS(K, D, N, A, B)                                                   \
  ((size_t)(K) * (4u + 3u * ((A) ? 1u : 0u)) +                                           \
   (size_t)(K) * (size_t)(D) * (6u + 3u * ((A) ? 1u : 0u)) + (size_t)(N) * (size_t)(D) + \
   ((B) > 1u ? (size_t)(B) * ((size_t)(D) + 1u) : (size_t)0u))
#define SMX_BANK_GROUPS(M) (((size_t)(M) + 15u) / 16u)
#define SMX_BANK_BYTES(K, D, N, A, B, M)                                                 \
  ((size_t)256u + (SMX_MODEL_BATCH_BYTES(K, D, N, A, B) + 63u) / 64u * 64u +             \
   (size_t)768u * SMX_BANK_GROUPS(M) + ((size_t)8u * SMX_BANK_GROUPS(M) + 63u) / 64u * 64u + \
   (size_t)64u * (SMX_BANK_GROUPS(M) + 1u) * (SMX_BANK_FLOATS(K, D, N, A, B) + (size_t)(D)))

typedef struct smx_bank smx_bank;

/* Validates cfg and 1 <= models <= SMX_MAX_BANK_MODELS, and gives the storage needed. */
smx_status smx_bank_size(const smx_config* cfg, uint32_t models, size_t* bytes);
/* Creates a bank of `models` fresh models (each as smx_model_create makes it) in storage
 * aligned to SMX_STORAGE_ALIGN. Models are numbered 0 .. models - 1. */
smx_status smx_bank_create(const smx_config* cfg, uint32_t models, void* storage,
                           size_t storage_bytes, smx_bank** bank);
/* The number of models (0 for a NULL or invalid bank) and the config. */
uint32_t smx_bank_models(const smx_bank* bank);
smx_status smx_bank_config(const smx_bank* bank, smx_config* cfg);

/* One reading for every model: x holds M rows of D floats, row i for model i. Each model
 * learns from its row as smx_observe would; log_likelihood (M floats, may be NULL) receives
 * each prequential log p (NaN during a model's warm-up, as smx_observe, and for a rejected
 * reading), status (M entries, may be NULL) each reading's status: SMX_OK, SMX_ERR_INPUT
 * (NaN, infinite or too large a feature) or SMX_ERR_NOT_READY (a model with neither
 * parameters nor a warm-up buffer); a rejected reading leaves its model bit-for-bit unchanged
 * and the others proceed. Returns SMX_OK if every reading was learned, else the status of the
 * first one rejected; SMX_ERR_ARGUMENT (nothing changed) for a null bank or x. */
smx_status smx_bank_observe(smx_bank* bank, const float* x, float* log_likelihood,
                            smx_status* status);
/* n readings for some models: reading i (row i of x, D floats) is for model ids[i]. Readings
 * are learned in order; several for one model in one call are learned one after the other,
 * in the order given (readings of different models are independent, so their relative order
 * does not matter). log_likelihood and status as in smx_bank_observe (n entries each); an id
 * >= smx_bank_models is rejected as SMX_ERR_ARGUMENT for that reading alone. */
smx_status smx_bank_observe_some(smx_bank* bank, const uint32_t* ids, const float* x, size_t n,
                                 float* log_likelihood, smx_status* status);

/* Model `id` copied out as a lone model into storage of smx_model_size bytes: score it, read
 * its parameters, merge it, observe it, snapshot it. The bank is not changed. */
smx_status smx_bank_model_get(const smx_bank* bank, uint32_t id, void* storage,
                              size_t storage_bytes, smx_model** model);
/* Model `id` becomes a copy of the lone model `model`, whose config must equal the bank's
 * (field by field: SMX_ERR_ARGUMENT otherwise, the bank unchanged). */
smx_status smx_bank_model_set(smx_bank* bank, uint32_t id, const smx_model* model);
/* Model `id` becomes a fresh model (as created). */
smx_status smx_bank_model_reset(smx_bank* bank, uint32_t id);
/* smx_score, smx_model_get_params, smx_samples_seen and smx_is_ready of model `id`. */
smx_status smx_bank_score(smx_bank* bank, uint32_t id, const float* x, float* log_likelihood);
smx_status smx_bank_get_params(smx_bank* bank, uint32_t id, float* weights, float* means,
                               float* variances);
uint64_t smx_bank_samples_seen(const smx_bank* bank, uint32_t id);
int smx_bank_is_ready(const smx_bank* bank, uint32_t id);
/* Snapshots of one model of a bank: the bytes of smx_snapshot_save of the same model alone,
 * so they load with smx_snapshot_load as a lone model, and a lone model's snapshot (of the
 * bank's config: SMX_ERR_ARGUMENT otherwise) loads into a bank. The load validates as
 * smx_snapshot_load does and leaves the bank unchanged on any error. */
smx_status smx_bank_snapshot_size(const smx_bank* bank, uint32_t id, size_t* bytes);
smx_status smx_bank_snapshot_save(smx_bank* bank, uint32_t id, void* buf, size_t buf_bytes,
                                  size_t* written);
smx_status smx_bank_snapshot_load(smx_bank* bank, uint32_t id, const void* buf, size_t len);

/*
 * Anomaly detector: a model plus what turns its log-likelihoods into decisions, in one block
 * of caller storage. Each smx_detect scores a reading under the model *before* learning from
 * it, compares the score with an adaptive threshold, and then learns from the reading with a
 * weight set by the learning gate. The README ("Detecting anomalies") explains the choices.
 *
 * Input features pass through three stages, all in fixed memory:
 *   scaling   z_d = (x_d - offset_d) / scale_d: none, estimated over the model's warm-up
 *             (then fixed: a scaling that kept moving would shift every learned component),
 *             or fixed by smx_detector_set_scaling;
 *   views     what the model sees, D values per view: LEVEL = an exponential moving average
 *             of z (smoothing = weight of the newest reading; 1 = z itself), DELTA = the
 *             level's change since the previous reading, RESIDUAL = the level minus a slower
 *             moving average of it (residual_rate = that average's weight), i.e. the
 *             departure from the recent past;
 *   model     a mixture over D x (number of views) features.
 * Spikes, which the level averages away, are caught beside it: each feature's raw innovation
 * (reading - previous level) is measured in its own tracked root mean square, and past 8 of
 * them the reading is flagged as a spike (with smoothing < 1; its surprise is then the normal
 * tail's beyond 8, and score/threshold stay the model's). What one reading can teach the
 * model, the score tracker and the baselines is bounded (winsorized updates: README); in the
 * warm-up, a reading beyond 16 root-mean-square innovations of the level (1,000 among the
 * first 32 readings, from the 3rd) is held unless the next one confirms a change.
 * The score's distribution is tracked in fixed memory with forgetting: streaming estimates
 * of its median and 90 % quantile (stochastic approximation with a forgetting step) and an
 * exponential tail above the 90 % quantile fitted by its mean excess (peaks over threshold;
 * at least 1 nat, the limit of a log density's tail, and the 90 % quantile held within
 * Cantelli's bound, mean + 3 standard deviations).
 * probability is that fitted distribution's CDF at the score, and the threshold is the score
 * whose tail probability (1 - CDF) is alarm_rate: the fraction of readings that would raise
 * an alarm if nothing changed. It is a float of its own, not 1 - probability, so that
 * thresholds far out in the tail (1e-20) stay expressible.
 */
typedef enum smx_scaling {
  SMX_SCALING_NONE = 0,   /* features used as given */
  SMX_SCALING_WARMUP = 1, /* mean and standard deviation of the model's warm-up readings */
  SMX_SCALING_FIXED = 2   /* offsets and scales from smx_detector_set_scaling (default 0, 1) */
} smx_scaling;

#define SMX_VIEW_LEVEL 1u
#define SMX_VIEW_DELTA 2u
#define SMX_VIEW_RESIDUAL 4u
/* Number of views in a view mask (0..3). */
#define SMX_VIEW_COUNT(V) ((((V) >> 0) & 1u) + (((V) >> 1) & 1u) + (((V) >> 2) & 1u))

typedef struct smx_detector_config {
  smx_config model;           /* the model's settings (defaults of smx_config_init except
                                 step_exponent 1 and init_samples max(10 K, 200));
                                 model.features must equal
                                 features x SMX_VIEW_COUNT(views) (smx_detector_config_init
                                 sets it; keep it in step when changing views) */
  uint32_t features;          /* D, readings per sample */
  uint32_t views;             /* non-empty mask of SMX_VIEW_*; default LEVEL */
  float smoothing;            /* (0, 1], default 0.1 (1 = no smoothing) */
  float residual_rate;        /* (0, 1), default 0.02 */
  uint32_t scaling;           /* smx_scaling; default SMX_SCALING_WARMUP (needs
                                 model.init_samples >= 2) */
  uint32_t calibration_samples; /* scored readings after the warm-up before any alarm,
                                 default 100 */
  float tail_rate;            /* forgetting of the score distribution, (0, 1]: about the
                                 inverse of the number of recent scores it reflects;
                                 default 0.002 */
  float alarm_rate;           /* alarm when the score's tail probability is below this,
                                 [FLT_MIN, 0.1]; default 1e-2 */
  float anomaly_weight;       /* learning gate: weight, in [0, 1], with which a flagged reading
                                 updates the model and the score distribution. 1 = learn from
                                 everything, 0 = skip flagged readings, between = down-weight;
                                 default 0.01: a sustained fault stays flagged for hundreds of
                                 readings while a lasting change of regime is learned */
} smx_detector_config;

typedef struct smx_detection {
  float score;         /* -log p(x) in nats under the model before learning from x; NaN
                          during the warm-up; +INFINITY if no density is representable */
  float threshold;     /* the score whose tail probability is alarm_rate; NaN
                          during the warm-up */
  float probability;   /* in [0, 1]: how unusual the score is among recent scores (the
                          fraction of them expected below it); 0 during the warm-up.
                          Saturates: 1 - probability is below float resolution from a tail
                          of 6e-8 on, so rank and threshold the far tail by these two: */
  float surprise;      /* -log10 of the score's tail probability (1 - CDF), computed in the
                          log domain: 2 at a tail of 1e-2, 20 at 1e-20, never saturating;
                          0 during the warm-up */
  float anomaly_score; /* in [0, 1): surprise / (surprise - log10(alarm_rate)), 0.5 at the
                          threshold whatever alarm_rate is, distinct from 1 up to a surprise
                          of ~1e7 (for consumers that threshold a [0, 1] score); 0 during
                          the warm-up */
  int32_t top_feature; /* input feature (0..D-1) whose deviation from the most responsible
                          component contributes most to the score, summed over views;
                          -1 during the warm-up */
  int32_t is_anomaly;  /* 1 if score > threshold (anomaly_score > 0.5) after the
                          calibration period, else 0 */
} smx_detection;

typedef struct smx_detector smx_detector;

/*
 * Storage size, as an integer constant expression: a 256-byte header, 7 D + D V floats of
 * state (rounded up to 64 bytes), then the model with D V features.
 *   SMX_DETECTOR_BYTES(K, D, V, N, A) with V = SMX_VIEW_COUNT(views), N = model.init_samples,
 *   A = 1 if model.average_from > 0; SMX_DETECTOR_BATCH_BYTES(K, D, V, N, A, M) for a model
 *   with batch_size M (a detector that learns in mini-batches: each reading is scored, and
 *   flagged, before its mini-batch is learned; flagged readings join it at anomaly_weight).
 */
#define SMX_DETECTOR_BATCH_BYTES(K, D, V, N, A, M)                                          \
  ((size_t)256u + ((size_t)4u * (size_t)(D) * (7u + (size_t)(V)) + 63u) / 64u * 64u +       \
   SMX_MODEL_BATCH_BYTES(K, (size_t)(D) * (size_t)(V), N, A, M))
#define SMX_DETECTOR_BYTES(K, D, V, N, A) SMX_DETECTOR_BATCH_BYTES(K, D, V, N, A, 1u)

/* Fills *cfg with the defaults above for K components and D features (cfg may be NULL). */
void smx_detector_config_init(smx_detector_config* cfg, uint32_t components, uint32_t features);
smx_status smx_detector_size(const smx_detector_config* cfg, size_t* bytes);
/* As smx_config_problem, for a detector's config (its model's fields named as in smx_config). */
const char* smx_detector_config_problem(const smx_detector_config* cfg);
/* Creates a detector in storage (aligned to SMX_STORAGE_ALIGN, at least smx_detector_size). */
smx_status smx_detector_create(const smx_detector_config* cfg, void* storage,
                               size_t storage_bytes, smx_detector** detector);
/* The range of a scale (2^-64 .. 2^64): fixed scales must lie in it, and warm-up scales are
 * clamped to it, so that readings near the offsets always give valid views. */
#define SMX_MIN_SCALE 5.42101086e-20f
#define SMX_MAX_SCALE 1.84467441e19f
/* Fixed scaling: z_d = (x_d - offsets[d]) / scales[d]. Only with SMX_SCALING_FIXED and before
 * the first reading; |offsets| <= SMX_MAX_ABS_FEATURE, scales in [SMX_MIN_SCALE,
 * SMX_MAX_SCALE]. */
smx_status smx_detector_set_scaling(smx_detector* det, const float* offsets, const float* scales);
/* Scores x (D readings), decides, learns. SMX_ERR_INPUT (nothing changed) for a non-finite
 * reading or one whose scaled views leave the model's feature range. */
smx_status smx_detect(smx_detector* det, const float* x, smx_detection* out);
smx_status smx_detector_config_get(const smx_detector* det, smx_detector_config* cfg);
/* The detector's model (read-only: score it, read its parameters, snapshot it). */
const smx_model* smx_detector_model(const smx_detector* det);
/* Readings accepted by smx_detect, counted from the third when a glitch among the first two
 * restarted the stream there (once per detector: the first or second reading far beyond the
 * other two's distance). */
uint64_t smx_detector_samples_seen(const smx_detector* det);

/*
 * Alarm events: runs of flagged readings, which is what users act on. An event opens at a
 * flagged reading and closes once min_gap readings in a row after its last flagged one are
 * not flagged (hysteresis: shorter gaps join two runs into one event). Plain state in the
 * caller's memory, independent of the detector (feed it the detections of any stream).
 */
typedef struct smx_alarm_event {
  uint64_t first;       /* index of the first flagged reading */
  uint64_t last;        /* index of the last flagged reading */
  uint64_t flagged;     /* flagged readings in [first, last] */
  float peak_surprise;  /* the largest surprise in it (the model's or a spike's) */
  float peak_score;     /* the score of that reading */
  int32_t top_feature;  /* the top_feature of that reading */
} smx_alarm_event;

typedef struct smx_alarm_events {
  uint32_t min_gap;    /* unflagged readings that close an event, >= 1 */
  uint32_t open;       /* 1 while an event is open */
  uint64_t next;       /* the smallest index the next reading may have */
  smx_alarm_event event;  /* the open event */
} smx_alarm_events;

/* An empty tracker (SMX_ERR_ARGUMENT for a null pointer or min_gap 0). */
smx_status smx_alarm_events_init(smx_alarm_events* t, uint32_t min_gap);
/* Feeds the detection of reading `index` (strictly increasing; gaps count as unflagged
 * readings). *ended is 1 when this closed an event, then copied to *event; else 0. Bad
 * arguments (null pointers, an index not past the previous one, an invalid tracker) leave
 * everything unchanged. */
smx_status smx_alarm_events_feed(smx_alarm_events* t, uint64_t index, const smx_detection* d,
                                 smx_alarm_event* event, int* ended);
/* Closes the open event, if any, at the end of a stream (*ended as above). */
smx_status smx_alarm_events_flush(smx_alarm_events* t, smx_alarm_event* event, int* ended);
/* Snapshots of the whole detector (its state and its model), with the same guarantees as
 * model snapshots. */
smx_status smx_detector_snapshot_size(const smx_detector* det, size_t* bytes);
smx_status smx_detector_snapshot_save(const smx_detector* det, void* buf, size_t buf_bytes,
                                      size_t* written);
smx_status smx_detector_snapshot_load(const void* buf, size_t len, void* storage,
                                      size_t storage_bytes, smx_detector** detector);
smx_status smx_detector_snapshot_config(const void* buf, size_t len, smx_detector_config* cfg);

/*
 * Detector banks: M detectors of one configuration in one block of caller storage (a
 * gateway's sensors, a keyed stream's keys). Each detector is a lone detector (its scaling,
 * views, score tracker, learning gate) whose model lives in a model bank: detectors whose
 * model steps in the lanes (past its warm-up and hold, batch_size 1, no averaging, K <= 16)
 * are scored 16 at a time in one pass of vector code, decide as a lone detector does, and
 * learn 16 at a time, each with its own learning weight (a flagged reading at
 * anomaly_weight, a far one winsorized); every other state runs smx_detect's own code on a
 * copy (the bank's scratch detector). Each detector behaves as a lone detector with the
 * bank's config fed the same readings: the same detections and state bit for bit where a
 * model bank's lanes are (smx_bank above), else within their rounding.
 * Per detector: a copy as a lone detector, set from one, a reset, a fixed scaling, and
 * snapshots (ordinary detector snapshots: a stream moves between a bank and a lone detector).
 * Bad input is per reading, as in banks: rejected for its detector alone (status), that
 * detector unchanged bit for bit, its detection NaN/0/-1 as during a warm-up.
 * Nothing allocates; one bank must not be used from two threads at once.
 *
 * Storage, as an integer constant expression (V = SMX_VIEW_COUNT(views), N, A, B as for
 * SMX_DETECTOR_BATCH_BYTES): a header, a scratch detector, each detector's own state, and a
 * model bank of M models over D V features:
 *   SMX_DETECTOR_BANK_BYTES(K, D, V, N, A, B, M) = 256 + ceil64(SMX_DETECTOR_BATCH_BYTES(...))
 *       + M SMX_DETECTOR_STATE_BYTES(D, V) + SMX_BANK_BYTES(K, D V, N, A, B, M)
 */
#define SMX_DETECTOR_STATE_BYTES(D, V) \
  ((size_t)256u + ((size_t)4u * (size_t)(D) * (7u + (size_t)(V)) + 63u) / 64u * 64u)
#define SMX_DETECTOR_BANK_BYTES(K, D, V, N, A, B, M)                                       \
  ((size_t)256u + (SMX_DETECTOR_BATCH_BYTES(K, D, V, N, A, B) + 63u) / 64u * 64u +         \
   (size_t)(M) * SMX_DETECTOR_STATE_BYTES(D, V) +                                          \
   SMX_BANK_BYTES(K, (size_t)(D) * (size_t)(V), N, A, B, M))

typedef struct smx_detector_bank smx_detector_bank;

/* Validates cfg and 1 <= detectors <= SMX_MAX_BANK_MODELS, and gives the storage needed. */
smx_status smx_detector_bank_size(const smx_detector_config* cfg, uint32_t detectors,
                                  size_t* bytes);
/* Creates a bank of fresh detectors, numbered 0 .. detectors - 1, in storage aligned to
 * SMX_STORAGE_ALIGN. */
smx_status smx_detector_bank_create(const smx_detector_config* cfg, uint32_t detectors,
                                    void* storage, size_t storage_bytes,
                                    smx_detector_bank** bank);
/* The number of detectors (0 for a NULL or invalid bank) and the config. */
uint32_t smx_detector_bank_detectors(const smx_detector_bank* bank);
smx_status smx_detector_bank_config(const smx_detector_bank* bank, smx_detector_config* cfg);
/* One reading for every detector: x holds M rows of D floats, row i for detector i; out (M
 * detections, may be NULL) and status (M, may be NULL) per reading, each reading as smx_detect
 * takes it (SMX_ERR_INPUT for a rejected one). Returns SMX_OK if every reading was taken, else
 * the status of the first one rejected; SMX_ERR_ARGUMENT (nothing changed) for a null bank
 * or x. */
smx_status smx_detector_bank_detect(smx_detector_bank* bank, const float* x, smx_detection* out,
                                    smx_status* status);
/* n readings for some detectors: reading i (row i of x) for detector ids[i], one detector's
 * readings in the order given; out and status n entries each; an id >= the number of
 * detectors is rejected as SMX_ERR_ARGUMENT for that reading alone. */
smx_status smx_detector_bank_detect_some(smx_detector_bank* bank, const uint32_t* ids,
                                         const float* x, size_t n, smx_detection* out,
                                         smx_status* status);
/* smx_detector_set_scaling for detector id (SMX_SCALING_FIXED, before its first reading). */
smx_status smx_detector_bank_set_scaling(smx_detector_bank* bank, uint32_t id,
                                         const float* offsets, const float* scales);
/* Detector id copied out as a lone detector into storage (smx_detector_size bytes, aligned,
 * apart from the bank), and detector id set from a lone detector of the same config, or
 * reset to a fresh one. (get is not const: it assembles the copy in the scratch detector.) */
smx_status smx_detector_bank_get(smx_detector_bank* bank, uint32_t id, void* storage,
                                 size_t storage_bytes, smx_detector** detector);
smx_status smx_detector_bank_set(smx_detector_bank* bank, uint32_t id, const smx_detector* det);
smx_status smx_detector_bank_reset(smx_detector_bank* bank, uint32_t id);
/* smx_detector_samples_seen of detector id (0 for an invalid bank or id). */
uint64_t smx_detector_bank_samples_seen(const smx_detector_bank* bank, uint32_t id);
/* Detector id's snapshot: the bytes of smx_detector_snapshot_save for it as a lone detector.
 * A detector snapshot of the bank's config (SMX_ERR_ARGUMENT otherwise) loads into detector
 * id, validated as smx_detector_snapshot_load does; the bank is unchanged on any error. */
smx_status smx_detector_bank_snapshot_size(smx_detector_bank* bank, uint32_t id, size_t* bytes);
smx_status smx_detector_bank_snapshot_save(smx_detector_bank* bank, uint32_t id, void* buf,
                                           size_t buf_bytes, size_t* written);
smx_status smx_detector_bank_snapshot_load(smx_detector_bank* bank, uint32_t id, const void* buf,
                                           size_t len);

/*
 * Kernels. Every backend this platform supports is compiled in (scalar always; Highway with
 * dynamic dispatch over SSE4/AVX2/AVX-512 on x86-64 and NEON on ARM; xsimd for AVX2+FMA on
 * x86-64 and NEON on ARM); the build's STREAMIX_BACKEND is active at start-up.
 * smx_select_kernels switches backend for the whole process: "scalar", "xsimd", "highway", or
 * "highway:<TARGET>" (SSSE3, SSE4, AVX2, AVX3, AVX3_DL, NEON, SVE, SVE2, SCALAR, ...) to restrict
 * Highway to one target. SMX_ERR_ARGUMENT if it is not compiled in or this CPU lacks it.
 * Call it before models are used from other threads; results differ between backends only
 * by rounding (see the README for the tolerances the tests hold them to).
 */
smx_status smx_select_kernels(const char* name);
/* The active backend ("scalar", "highway", "xsimd") and its instruction set ("portable",
 * "AVX3", "AVX2", "NEON", ...). */
const char* smx_backend(void);
const char* smx_backend_target(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STREAMIX_STREAMIX_H */
