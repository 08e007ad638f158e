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

/* esp.c */
napi_status gdoi_esp_register(napi_env env, napi_value exports);
/* offload.c */
napi_status gdoi_offload_register(napi_env env, napi_value exports);
/* esp-socket.c */
napi_status gdoi_esp_socket_register(napi_env env, napi_value exports);

#endif
