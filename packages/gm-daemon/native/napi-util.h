// Small helpers shared by the addon's C files: argument unpacking that throws a TypeError and returns
// NULL from the calling N-API function on failure.
#ifndef GDOI_NAPI_UTIL_H
#define GDOI_NAPI_UTIL_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#define PROP_FLAGS ((napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable))

#define NAPI_CALL(env, call)                                   \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      gdoi_throw_last(env, #call);                             \
      return NULL;                                             \
    }                                                          \
  } while (0)

#define ARGS(env, info, n)                                     \
  napi_value argv[n];                                          \
  size_t argc = n;                                             \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL)); \
  if (argc < n) {                                              \
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "too few arguments"); \
    return NULL;                                               \
  }

void gdoi_throw_last(napi_env env, const char *what);
/* Each returns 0 on success, or throws a TypeError and returns -1. */
int gdoi_get_i32(napi_env env, napi_value v, int32_t *out);
int gdoi_get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len);
int gdoi_get_i32array(napi_env env, napi_value v, int32_t **data, size_t *len);
napi_value gdoi_int(napi_env env, int32_t v);

/* Enters the network namespace at `path` (empty: stays). Returns 0 with *oldns = the namespace to return
 * to (-1: none), or an errno. gdoi_leave_netns(*oldns) goes back; fds opened meanwhile stay where they
 * were created. */
int gdoi_enter_netns(const char *path, int *oldns);
void gdoi_leave_netns(int oldns);

/* Unpacks a write batch into `b` (argv: slab, offsets, sizes, count) or returns from the caller:
 * NULL after a TypeError, -EINVAL to JS when a packet does not fit. */
#define GET_WRITE_BATCH(env, argv, b)                          \
  gdoi_write_batch b;                                          \
  do {                                                         \
    int bad_ = gdoi_get_write_batch(env, argv, &b);            \
    if (bad_ == -1) return NULL;                               \
    if (bad_) return gdoi_int(env, bad_);                      \
  } while (0)

/* A batch of packets to write: packet i is slab[offs[i], offs[i] + sizes[i]). */
typedef struct {
  uint8_t *slab;
  size_t slab_len;
  int32_t *offs;
  int32_t *sizes;
  int32_t count;
} gdoi_write_batch;
/* Unpacks argv[0..3] = (slab, offsets, sizes, count). Returns 0, -1 after throwing a TypeError, or
 * -EINVAL when count or a packet does not fit the arrays / the slab (nothing is written then). */
int gdoi_get_write_batch(napi_env env, napi_value *argv, gdoi_write_batch *b);

/* esp.c */
napi_status gdoi_esp_register(napi_env env, napi_value exports);
/* offload.c */
napi_status gdoi_offload_register(napi_env env, napi_value exports);
/* esp-socket.c */
napi_status gdoi_esp_socket_register(napi_env env, napi_value exports);

#endif
