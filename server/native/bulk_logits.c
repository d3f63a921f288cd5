// bulk_logits: every logit of many positions in one call, from the same llama.cpp library
// node-llama-cpp ships (its prebuilt libllama and CPU backends, loaded with dlopen at run time).
//
// node-llama-cpp hands logits out one position at a time (an asynchronous sampleToken call, the
// vocabulary sorted, a JS array of 2 × vocabulary values and a Map each). Corpus KL divergence
// reads every logit of every scored position of two models, and that per-position path cost more
// than llama.cpp's own compute (docs/benchmarks.md, "Issue 13"). This addon decodes a batch of
// tokens and copies the logits of the positions asked for into one Float32Array, off the main
// thread (napi async work), and does nothing else: tokenizing, batching and all statistics stay
// in TypeScript (server/src/llm/native/bulk-logits.ts is the only module that loads it).
//
// Node-API only (no V8/Node internals), so one binary serves every Node ABI and Electron.
// Built by extension/scripts/natives.mjs against the llama.h of the llama.cpp source node-llama-cpp
// ships (the same release as its binaries).
#define NAPI_VERSION 8
#include <node_api.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-backend.h"
#include "llama.h"

// ------------------------------------------------------------------ llama.cpp, resolved with dlsym

static struct {
  void *lib;
  void (*backend_init)(void);
  void (*log_set)(ggml_log_callback, void *);
  size_t (*reg_count)(void);
  ggml_backend_reg_t (*reg_by_name)(const char *);
  void (*load_all_from_path)(const char *);
  struct llama_model_params (*model_default_params)(void);
  struct llama_model *(*model_load_from_file)(const char *, struct llama_model_params);
  void (*model_free)(struct llama_model *);
  const struct llama_vocab *(*model_get_vocab)(const struct llama_model *);
  int32_t (*vocab_n_tokens)(const struct llama_vocab *);
  llama_token (*vocab_bos)(const struct llama_vocab *);
  bool (*vocab_get_add_bos)(const struct llama_vocab *);
  int32_t (*tokenize)(const struct llama_vocab *, const char *, int32_t, llama_token *, int32_t, bool, bool);
  struct llama_context_params (*context_default_params)(void);
  struct llama_context *(*init_from_model)(struct llama_model *, struct llama_context_params);
  void (*free)(struct llama_context *);
  llama_memory_t (*get_memory)(const struct llama_context *);
  void (*memory_clear)(llama_memory_t, bool);
  bool (*memory_seq_rm)(llama_memory_t, llama_seq_id, llama_pos, llama_pos);
  int32_t (*decode)(struct llama_context *, struct llama_batch);
  struct llama_batch (*batch_init)(int32_t, int32_t, int32_t);
  void (*batch_free)(struct llama_batch);
  float *(*get_logits_ith)(struct llama_context *, int32_t);
} L;

// The last few warning and error lines llama.cpp logged (its own explanation of a failure).
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char last_log[1024];

static void on_log(enum ggml_log_level level, const char *text, void *user) {
  (void)user;
  if (level != GGML_LOG_LEVEL_ERROR && level != GGML_LOG_LEVEL_WARN) return;
  if (!text || !*text || !strcmp(text, "\n")) return;
  pthread_mutex_lock(&log_mutex);
  size_t have = strlen(last_log);
  size_t add = strlen(text);
  if (have + add >= sizeof(last_log)) {
    // Keep the newest text: drop the oldest half.
    size_t keep = have / 2;
    memmove(last_log, last_log + have - keep, keep);
    last_log[keep] = 0;
    have = keep;
  }
  if (have + add < sizeof(last_log)) memcpy(last_log + have, text, add + 1);
  pthread_mutex_unlock(&log_mutex);
}

static void clear_log(void) {
  pthread_mutex_lock(&log_mutex);
  last_log[0] = 0;
  pthread_mutex_unlock(&log_mutex);
}

// ------------------------------------------------------------------ N-API helpers

#define CHECK(env, call)                                             \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error((env), NULL, "bulk_logits: N-API call failed"); \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value throw_msg(napi_env env, const char *fmt, const char *a) {
  char buf[1400];
  snprintf(buf, sizeof(buf), fmt, a ? a : "");
  napi_throw_error(env, NULL, buf);
  return NULL;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static bool get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok && len < cap - 1;
}

static bool get_i32(napi_env env, napi_value obj, const char *key, int32_t *out) {
  napi_value v;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static bool get_bool(napi_env env, napi_value obj, const char *key, bool *out) {
  napi_value v;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  return napi_get_value_bool(env, v, out) == napi_ok;
}

/** A typed array argument of the expected type: its data and length (elements). */
static bool typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) != napi_ok) return false;
  return type == want;
}

// ------------------------------------------------------------------ load(libDir)

static bool loaded = false;

#define SYM(field, name)                                      \
  do {                                                        \
    *(void **)(&L.field) = dlsym(L.lib, name);                \
    if (!L.field) return throw_msg(env, "bulk_logits: %s is missing from llama.cpp's library", name); \
  } while (0)

/** load(libraryFile, backendsDir): dlopen's node-llama-cpp's libllama and registers its CPU backend. */
static napi_value js_load(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char lib[4096], dir[4096];
  if (argc < 2 || !get_string(env, argv[0], lib, sizeof(lib)) || !get_string(env, argv[1], dir, sizeof(dir))) return throw_msg(env, "bulk_logits.load(libraryFile, backendsDir) takes two paths%s", "");
  if (loaded) return undefined(env);
  L.lib = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
  if (!L.lib) return throw_msg(env, "bulk_logits: cannot load llama.cpp's library: %s", dlerror());
  SYM(backend_init, "llama_backend_init");
  SYM(log_set, "llama_log_set");
  SYM(reg_count, "ggml_backend_reg_count");
  SYM(reg_by_name, "ggml_backend_reg_by_name");
  SYM(load_all_from_path, "ggml_backend_load_all_from_path");
  SYM(model_default_params, "llama_model_default_params");
  SYM(model_load_from_file, "llama_model_load_from_file");
  SYM(model_free, "llama_model_free");
  SYM(model_get_vocab, "llama_model_get_vocab");
  SYM(vocab_n_tokens, "llama_vocab_n_tokens");
  SYM(vocab_bos, "llama_vocab_bos");
  SYM(vocab_get_add_bos, "llama_vocab_get_add_bos");
  SYM(tokenize, "llama_tokenize");
  SYM(context_default_params, "llama_context_default_params");
  SYM(init_from_model, "llama_init_from_model");
  SYM(free, "llama_free");
  SYM(get_memory, "llama_get_memory");
  SYM(memory_clear, "llama_memory_clear");
  SYM(memory_seq_rm, "llama_memory_seq_rm");
  SYM(decode, "llama_decode");
  SYM(batch_init, "llama_batch_init");
  SYM(batch_free, "llama_batch_free");
  SYM(get_logits_ith, "llama_get_logits_ith");
  L.log_set(on_log, NULL);
  L.reg_count();
  // The CPU backend node-llama-cpp picks for this machine (the best libggml-cpu-<variant>); not
  // again when node-llama-cpp's addon registered it in this process already.
  if (!L.reg_by_name("CPU")) L.load_all_from_path(dir);
  if (!L.reg_by_name("CPU")) return throw_msg(env, "bulk_logits: no CPU backend of llama.cpp loads from %s", dir);
  L.backend_init();
  loaded = true;
  return undefined(env);
}

static napi_value js_last_log(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  pthread_mutex_lock(&log_mutex);
  napi_status st = napi_create_string_utf8(env, last_log, NAPI_AUTO_LENGTH, &s);
  pthread_mutex_unlock(&log_mutex);
  if (st != napi_ok) return undefined(env);
  return s;
}

// ------------------------------------------------------------------ models

typedef struct {
  struct llama_model *model;
  int32_t contexts;  // contexts still open on it
  bool freed;        // freeModel called (freed for real once no context is open)
} Model;

static void maybe_free_model(Model *m) {
  if (m->freed && m->contexts == 0 && m->model) {
    L.model_free(m->model);
    m->model = NULL;
  }
}

static void finalize_model(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Model *m = data;
  m->freed = true;
  // A context holds a reference to its model's JS object, so none is open here.
  maybe_free_model(m);
  free(m);
}

static Model *get_model(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  Model *m = p;
  return m->model ? m : NULL;
}

/** loadModel(path, vocabOnly) → model (synchronous: the model is memory-mapped). */
static napi_value js_load_model(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!loaded) return throw_msg(env, "bulk_logits: load() first%s", "");
  char path[4096];
  if (argc < 1 || !get_string(env, argv[0], path, sizeof(path))) return throw_msg(env, "bulk_logits.loadModel(path, vocabOnly): the path is missing or too long%s", "");
  bool vocab_only = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &vocab_only);
  struct llama_model_params p = L.model_default_params();
  p.vocab_only = vocab_only;
  p.n_gpu_layers = 0;
  clear_log();
  struct llama_model *model = L.model_load_from_file(path, p);
  if (!model) return throw_msg(env, "llama.cpp could not load the model%s", "");
  Model *m = calloc(1, sizeof(Model));
  if (!m) {
    L.model_free(model);
    return throw_msg(env, "bulk_logits: out of memory%s", "");
  }
  m->model = model;
  napi_value ext;
  if (napi_create_external(env, m, finalize_model, NULL, &ext) != napi_ok) {
    L.model_free(model);
    free(m);
    return throw_msg(env, "bulk_logits: N-API call failed%s", "");
  }
  return ext;
}

/** freeModel(model): frees it now, or when its last context is freed. */
static napi_value js_free_model(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p) return undefined(env);
  Model *m = p;
  m->freed = true;
  maybe_free_model(m);
  return undefined(env);
}

/** modelInfo(model) → { vocab, bos, addBos } */
static napi_value js_model_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Model *m = argc ? get_model(env, argv[0]) : NULL;
  if (!m) return throw_msg(env, "bulk_logits.modelInfo: not an open model%s", "");
  const struct llama_vocab *v = L.model_get_vocab(m->model);
  napi_value o, n_vocab, bos, add_bos;
  CHECK(env, napi_create_object(env, &o));
  CHECK(env, napi_create_int32(env, L.vocab_n_tokens(v), &n_vocab));
  CHECK(env, napi_create_int32(env, L.vocab_bos(v), &bos));
  CHECK(env, napi_get_boolean(env, L.vocab_get_add_bos(v), &add_bos));
  CHECK(env, napi_set_named_property(env, o, "vocab", n_vocab));
  CHECK(env, napi_set_named_property(env, o, "bos", bos));
  CHECK(env, napi_set_named_property(env, o, "addBos", add_bos));
  return o;
}

/** tokenize(model, text) → Int32Array: no special tokens added, none parsed (llama-perplexity's reading of a text). */
static napi_value js_tokenize(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Model *m = argc ? get_model(env, argv[0]) : NULL;
  if (!m) return throw_msg(env, "bulk_logits.tokenize: not an open model%s", "");
  size_t len = 0;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) return throw_msg(env, "bulk_logits.tokenize(model, text): text must be a string%s", "");
  if (len > INT32_MAX - 1) return throw_msg(env, "bulk_logits.tokenize: the text is too long%s", "");
  char *text = malloc(len + 1);
  if (!text) return throw_msg(env, "bulk_logits: out of memory%s", "");
  napi_get_value_string_utf8(env, argv[1], text, len + 1, &len);
  const struct llama_vocab *v = L.model_get_vocab(m->model);
  // At most one token per byte, plus room for what a tokenizer may add.
  int32_t cap = (int32_t)len + 8;
  llama_token *tokens = malloc(sizeof(llama_token) * (size_t)cap);
  if (!tokens) {
    free(text);
    return throw_msg(env, "bulk_logits: out of memory%s", "");
  }
  int32_t n = L.tokenize(v, text, (int32_t)len, tokens, cap, false, false);
  if (n < 0) {
    cap = -n;
    llama_token *more = realloc(tokens, sizeof(llama_token) * (size_t)cap);
    if (!more) {
      free(tokens);
      free(text);
      return throw_msg(env, "bulk_logits: out of memory%s", "");
    }
    tokens = more;
    n = L.tokenize(v, text, (int32_t)len, tokens, cap, false, false);
  }
  free(text);
  if (n < 0) {
    free(tokens);
    return throw_msg(env, "llama.cpp could not tokenize the text%s", "");
  }
  napi_value ab, arr;
  void *data = NULL;
  if (napi_create_arraybuffer(env, sizeof(int32_t) * (size_t)n, &data, &ab) != napi_ok) {
    free(tokens);
    return throw_msg(env, "bulk_logits: N-API call failed%s", "");
  }
  if (n) memcpy(data, tokens, sizeof(int32_t) * (size_t)n);
  free(tokens);
  CHECK(env, napi_create_typedarray(env, napi_int32_array, (size_t)n, ab, 0, &arr));
  return arr;
}

// ------------------------------------------------------------------ contexts

typedef struct {
  struct llama_context *ctx;
  Model *model;
  napi_ref model_ref;  // keeps the model's JS object (and so the model) alive
  struct llama_batch batch;
  int32_t n_batch;
  int32_t n_seq;
  int32_t n_vocab;
  bool busy;
  bool freed;
} Context;

static void context_free(napi_env env, Context *c) {
  if (c->freed) return;
  c->freed = true;
  if (c->ctx) L.free(c->ctx);
  c->ctx = NULL;
  L.batch_free(c->batch);
  c->model->contexts--;
  maybe_free_model(c->model);
  if (c->model_ref) napi_delete_reference(env, c->model_ref);
  c->model_ref = NULL;
}

static void finalize_context(napi_env env, void *data, void *hint) {
  (void)hint;
  Context *c = data;
  if (!c->busy) {
    context_free(env, c);
    free(c);
  }
  // A context collected while a decode runs is impossible: the decode holds a reference to it.
}

static Context *get_context(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  Context *c = p;
  return c->freed ? NULL : c;
}

/**
 * newContext(model, { contextSize, sequences, batchSize, threads, flashAttention? }) → context
 * (flash attention as llama.cpp decides, unless given).
 * `contextSize` cells per sequence (as node-llama-cpp sizes a context), one batch of `batchSize`
 * tokens at most per llama_decode.
 */
static napi_value js_new_context(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Model *m = argc ? get_model(env, argv[0]) : NULL;
  if (!m || m->freed) return throw_msg(env, "bulk_logits.newContext: not an open model%s", "");
  int32_t ctx_size = 0, seqs = 1, n_batch = 0, threads = 0;
  bool flash = false;
  bool flash_set = false;
  if (argc < 2 || !get_i32(env, argv[1], "contextSize", &ctx_size) || !get_i32(env, argv[1], "threads", &threads)) return throw_msg(env, "bulk_logits.newContext(model, options): contextSize and threads are required%s", "");
  get_i32(env, argv[1], "sequences", &seqs);
  get_i32(env, argv[1], "batchSize", &n_batch);
  flash_set = get_bool(env, argv[1], "flashAttention", &flash);
  if (ctx_size < 4 || seqs < 1 || threads < 1 || (int64_t)ctx_size * seqs > (1 << 24)) return throw_msg(env, "bulk_logits.newContext: invalid contextSize, sequences or threads%s", "");
  if (n_batch <= 0) n_batch = ctx_size * seqs;
  struct llama_context_params p = L.context_default_params();
  p.n_ctx = (uint32_t)(ctx_size * seqs);
  p.n_batch = (uint32_t)n_batch;
  p.n_ubatch = (uint32_t)n_batch;
  p.n_seq_max = (uint32_t)seqs;
  p.n_threads = threads;
  p.n_threads_batch = threads;
  p.no_perf = true;
  p.swa_full = false;
  p.kv_unified = false;
  // llama.cpp's choice unless told (node-llama-cpp's and llama-perplexity's default too).
  p.flash_attn_type = !flash_set ? LLAMA_FLASH_ATTN_TYPE_AUTO : flash ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  clear_log();
  struct llama_context *ctx = L.init_from_model(m->model, p);
  if (!ctx) return throw_msg(env, "llama.cpp could not create a context%s", "");
  Context *c = calloc(1, sizeof(Context));
  if (!c) {
    L.free(ctx);
    return throw_msg(env, "bulk_logits: out of memory%s", "");
  }
  c->ctx = ctx;
  c->model = m;
  c->n_batch = n_batch;
  c->n_seq = seqs;
  c->n_vocab = L.vocab_n_tokens(L.model_get_vocab(m->model));
  c->batch = L.batch_init(n_batch, 0, 1);
  m->contexts++;
  napi_value ext;
  if (napi_create_reference(env, argv[0], 1, &c->model_ref) != napi_ok || napi_create_external(env, c, finalize_context, NULL, &ext) != napi_ok) {
    context_free(env, c);
    free(c);
    return throw_msg(env, "bulk_logits: N-API call failed%s", "");
  }
  return ext;
}

/** freeContext(context): frees it now (not while a decode runs on it). */
static napi_value js_free_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Context *c = argc ? get_context(env, argv[0]) : NULL;
  if (!c) return undefined(env);
  if (c->busy) return throw_msg(env, "bulk_logits.freeContext: a decode is still running on this context%s", "");
  context_free(env, c);
  return undefined(env);
}

/** removeTokens(context, sequence, from): drops the sequence's cells from position `from` on (all with 0). */
static napi_value js_remove_tokens(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Context *c = argc ? get_context(env, argv[0]) : NULL;
  int32_t seq = -1, from = 0;
  if (!c || argc < 3 || napi_get_value_int32(env, argv[1], &seq) != napi_ok || napi_get_value_int32(env, argv[2], &from) != napi_ok) return throw_msg(env, "bulk_logits.removeTokens(context, sequence, from): bad arguments%s", "");
  if (c->busy) return throw_msg(env, "bulk_logits.removeTokens: a decode is running on this context%s", "");
  if (seq < 0 || seq >= c->n_seq || from < 0) return throw_msg(env, "bulk_logits.removeTokens: sequence or position out of range%s", "");
  napi_value ok;
  CHECK(env, napi_get_boolean(env, L.memory_seq_rm(L.get_memory(c->ctx), seq, from, -1), &ok));
  return ok;
}

// ------------------------------------------------------------------ decode

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  Context *c;
  napi_ref ctx_ref;
  napi_ref out_ref;
  int32_t n;
  int32_t *seq;
  int32_t *pos;
  int32_t *tok;
  uint8_t *want;
  float *out;
  int32_t status;  // llama_decode's result (0 = done)
  int32_t failed_at;
} Decode;

static void decode_execute(napi_env env, void *data) {
  (void)env;
  Decode *d = data;
  Context *c = d->c;
  const size_t V = (size_t)c->n_vocab;
  float *dst = d->out;
  d->status = 0;
  for (int32_t start = 0; start < d->n; start += c->n_batch) {
    const int32_t len = d->n - start < c->n_batch ? d->n - start : c->n_batch;
    struct llama_batch *b = &c->batch;
    b->n_tokens = len;
    for (int32_t i = 0; i < len; i++) {
      b->token[i] = d->tok[start + i];
      b->pos[i] = d->pos[start + i];
      b->n_seq_id[i] = 1;
      b->seq_id[i][0] = d->seq[start + i];
      b->logits[i] = d->want[start + i] ? 1 : 0;
    }
    int32_t r = L.decode(c->ctx, *b);
    if (r != 0) {
      d->status = r;
      d->failed_at = start;
      return;
    }
    for (int32_t i = 0; i < len; i++) {
      if (!d->want[start + i]) continue;
      const float *lg = L.get_logits_ith(c->ctx, i);
      if (!lg) {
        d->status = -100;
        d->failed_at = start + i;
        return;
      }
      memcpy(dst, lg, V * sizeof(float));
      dst += V;
    }
  }
}

static void decode_complete(napi_env env, napi_status status, void *data) {
  Decode *d = data;
  d->c->busy = false;
  if (status == napi_ok && d->status == 0) {
    napi_resolve_deferred(env, d->deferred, undefined(env));
  } else {
    char msg[1400];
    pthread_mutex_lock(&log_mutex);
    if (d->status == 1) snprintf(msg, sizeof(msg), "llama.cpp found no room in the context for the batch (llama_decode returned 1)");
    else if (d->status == -100) snprintf(msg, sizeof(msg), "llama.cpp returned no logits for a position that asked for them");
    else snprintf(msg, sizeof(msg), "llama_decode failed (%d)%s%s", d->status, last_log[0] ? ": " : "", last_log);
    pthread_mutex_unlock(&log_mutex);
    napi_value m, err;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
    napi_create_error(env, NULL, m, &err);
    napi_reject_deferred(env, d->deferred, err);
  }
  napi_delete_reference(env, d->ctx_ref);
  napi_delete_reference(env, d->out_ref);
  napi_delete_async_work(env, d->work);
  free(d->seq);
  free(d);
}

/**
 * decode(context, seq: Int32Array, pos: Int32Array, tokens: Int32Array, want: Uint8Array,
 *        out: Float32Array) → Promise<void>
 * Evaluates the tokens (entry i: token tokens[i] at position pos[i] of sequence seq[i]) in
 * batches of the context's batch size, in order, and copies the logits of every entry with
 * want[i] ≠ 0 into `out`, one vocabulary-long row per such entry, in entry order. Inputs are
 * copied before it returns; `out` must not be touched until the promise settles.
 */
static napi_value js_decode(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Context *c = argc ? get_context(env, argv[0]) : NULL;
  if (!c || argc < 6) return throw_msg(env, "bulk_logits.decode(context, seq, pos, tokens, want, out): bad arguments%s", "");
  if (c->busy) return throw_msg(env, "bulk_logits.decode: a decode is already running on this context%s", "");
  void *seq, *pos, *tok, *want, *out;
  size_t n_seq, n_pos, n_tok, n_want, n_out;
  if (!typed(env, argv[1], napi_int32_array, &seq, &n_seq) || !typed(env, argv[2], napi_int32_array, &pos, &n_pos) || !typed(env, argv[3], napi_int32_array, &tok, &n_tok) ||
      !typed(env, argv[4], napi_uint8_array, &want, &n_want) || !typed(env, argv[5], napi_float32_array, &out, &n_out))
    return throw_msg(env, "bulk_logits.decode: seq, pos and tokens must be Int32Arrays, want a Uint8Array, out a Float32Array%s", "");
  if (n_seq != n_tok || n_pos != n_tok || n_want != n_tok || n_tok > INT32_MAX / 4) return throw_msg(env, "bulk_logits.decode: seq, pos, tokens and want must have the same length%s", "");
  size_t rows = 0;
  for (size_t i = 0; i < n_tok; i++) {
    const int32_t s = ((int32_t *)seq)[i], t = ((int32_t *)tok)[i], p = ((int32_t *)pos)[i];
    if (s < 0 || s >= c->n_seq) return throw_msg(env, "bulk_logits.decode: a sequence id is out of range%s", "");
    if (t < 0 || t >= c->n_vocab) return throw_msg(env, "bulk_logits.decode: a token is outside the model's vocabulary%s", "");
    if (p < 0) return throw_msg(env, "bulk_logits.decode: a position is negative%s", "");
    if (((uint8_t *)want)[i]) rows++;
  }
  if (n_out < rows * (size_t)c->n_vocab) return throw_msg(env, "bulk_logits.decode: out is smaller than rows × vocabulary%s", "");
  Decode *d = calloc(1, sizeof(Decode));
  // One allocation for the copied inputs: seq, pos, tok (int32 each) and want (bytes).
  void *buf = d ? malloc(n_tok * (3 * sizeof(int32_t) + 1) + 1) : NULL;
  if (!d || !buf) {
    free(d);
    return throw_msg(env, "bulk_logits: out of memory%s", "");
  }
  d->c = c;
  d->n = (int32_t)n_tok;
  d->seq = buf;
  d->pos = d->seq + n_tok;
  d->tok = d->pos + n_tok;
  d->want = (uint8_t *)(d->tok + n_tok);
  memcpy(d->seq, seq, n_tok * sizeof(int32_t));
  memcpy(d->pos, pos, n_tok * sizeof(int32_t));
  memcpy(d->tok, tok, n_tok * sizeof(int32_t));
  memcpy(d->want, want, n_tok);
  d->out = out;
  napi_value promise, name;
  if (napi_create_reference(env, argv[0], 1, &d->ctx_ref) != napi_ok || napi_create_reference(env, argv[5], 1, &d->out_ref) != napi_ok ||
      napi_create_promise(env, &d->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "bulk_logits.decode", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, decode_execute, decode_complete, d, &d->work) != napi_ok) {
    free(d->seq);
    free(d);
    return throw_msg(env, "bulk_logits: N-API call failed%s", "");
  }
  clear_log();
  c->busy = true;
  if (napi_queue_async_work(env, d->work) != napi_ok) {
    c->busy = false;
    return throw_msg(env, "bulk_logits: cannot queue the decode%s", "");
  }
  return promise;
}

// ------------------------------------------------------------------ module

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"load", NULL, js_load, NULL, NULL, NULL, napi_default, NULL},
      {"lastLog", NULL, js_last_log, NULL, NULL, NULL, napi_default, NULL},
      {"loadModel", NULL, js_load_model, NULL, NULL, NULL, napi_default, NULL},
      {"freeModel", NULL, js_free_model, NULL, NULL, NULL, napi_default, NULL},
      {"modelInfo", NULL, js_model_info, NULL, NULL, NULL, napi_default, NULL},
      {"tokenize", NULL, js_tokenize, NULL, NULL, NULL, napi_default, NULL},
      {"newContext", NULL, js_new_context, NULL, NULL, NULL, napi_default, NULL},
      {"freeContext", NULL, js_free_context, NULL, NULL, NULL, napi_default, NULL},
      {"removeTokens", NULL, js_remove_tokens, NULL, NULL, NULL, napi_default, NULL},
      {"decode", NULL, js_decode, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
