// gdoi_native: the GM data plane's native part.
//   TUN:  tunOpen (TUNSETIFF IFF_TUN|IFF_NO_PI, optional MTU, optional network namespace), read/write on
//         the fd without exceptions (return -errno), batch variants over one slab, and a libuv poll
//         handle that tells JS when the fd is readable. Nothing here blocks the event loop.
//   ESP:  see esp.c (EVP cipher contexts reused per SA, HMAC from precomputed pad states).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "napi-util.h"

// ---- helpers ---------------------------------------------------------------------------------------

void gdoi_throw_last(napi_env env, const char *what) {
  const napi_extended_error_info *info = NULL;
  bool pending = false;
  napi_get_last_error_info(env, &info);
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", what,
           info && info->error_message ? info->error_message : "unknown N-API error");
  napi_throw_error(env, "ERR_NATIVE", msg);
}

int gdoi_get_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected a number");
    return -1;
  }
  return 0;
}

int gdoi_get_u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type t;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok || t != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected a Uint8Array");
    return -1;
  }
  *data = p;
  return 0;
}

int gdoi_get_i32array(napi_env env, napi_value v, int32_t **data, size_t *len) {
  napi_typedarray_type t;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok || t != napi_int32_array) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected an Int32Array");
    return -1;
  }
  *data = p;
  return 0;
}

int gdoi_get_write_batch(napi_env env, napi_value *argv, gdoi_write_batch *b) {
  size_t no, ns;
  if (gdoi_get_u8(env, argv[0], &b->slab, &b->slab_len) || gdoi_get_i32array(env, argv[1], &b->offs, &no) ||
      gdoi_get_i32array(env, argv[2], &b->sizes, &ns) || gdoi_get_i32(env, argv[3], &b->count)) return -1;
  if (b->count < 0 || (size_t)b->count > no || (size_t)b->count > ns) return -EINVAL;
  for (int32_t i = 0; i < b->count; i++) {
    if (b->offs[i] < 0 || b->sizes[i] < 0 || (size_t)b->offs[i] + (size_t)b->sizes[i] > b->slab_len) return -EINVAL;
  }
  return 0;
}

napi_value gdoi_int(napi_env env, int32_t v) {
  napi_value r;
  if (napi_create_int32(env, v, &r) != napi_ok) return NULL;
  return r;
}

static const char *errno_code(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EEXIST: return "EEXIST";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: return "EIO";
  }
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_value code, text, err, num;
  napi_create_string_utf8(env, errno_code(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &err);
  napi_create_int32(env, e, &num);
  napi_set_named_property(env, err, "errno", num);
  napi_value stage;
  napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &stage);
  napi_set_named_property(env, err, "stage", stage);
  napi_throw(env, err);
  return NULL;
}

int gdoi_enter_netns(const char *path, int *oldns) {
  *oldns = -1;
  if (!path[0]) return 0;
  int old = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int ns = old < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
    int e = errno;
    if (ns >= 0) close(ns);
    if (old >= 0) close(old);
    return e;
  }
  close(ns);
  *oldns = old;
  return 0;
}

void gdoi_leave_netns(int oldns) {
  if (oldns < 0) return;
  // Back to the namespace the process started in. Staying elsewhere would send everything the
  // process does afterwards into the wrong network: better to stop.
  if (setns(oldns, CLONE_NEWNET) < 0) abort();
  close(oldns);
}

// ---- TUN -------------------------------------------------------------------------------------------

static int if_mtu(const char *name, int set_mtu, int *out_mtu) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  int rc = 0;
  if (set_mtu > 0) {
    ifr.ifr_mtu = set_mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) rc = errno;
  }
  if (rc == 0) {
    if (ioctl(s, SIOCGIFMTU, &ifr) < 0) rc = errno;
    else *out_mtu = ifr.ifr_mtu;
  }
  close(s);
  return rc;
}

// tunOpen(name, nonBlocking, netnsPath: string | null, mtu, offload: boolean) → [fd, name, mtu, offloads]
// offload: IFF_VNET_HDR, then TUNSETOFFLOAD(CSUM | TSO4) (offload.c); `offloads` is the TUN_F_* set the
// kernel took (0: none, every packet still carries a virtio_net_hdr).
static napi_value TunOpen(napi_env env, napi_callback_info info) {
  ARGS(env, info, 5);
  char name[IFNAMSIZ] = {0};
  char netns[512] = {0};
  size_t n = 0;
  napi_valuetype vt;
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n));
  bool nonblock = false;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &nonblock));
  NAPI_CALL(env, napi_typeof(env, argv[2], &vt));
  if (vt == napi_string) NAPI_CALL(env, napi_get_value_string_utf8(env, argv[2], netns, sizeof netns, &n));
  int32_t mtu = 0;
  if (gdoi_get_i32(env, argv[3], &mtu)) return NULL;
  bool offload = false;
  NAPI_CALL(env, napi_get_value_bool(env, argv[4], &offload));
  int32_t offloads = 0;

  int oldns = -1, err = 0, fd = -1, got_mtu = 0;
  const char *stage = "open /dev/net/tun";
  err = gdoi_enter_netns(netns, &oldns);
  if (err) return throw_errno(env, "enter network namespace", err);
  fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
  if (fd < 0) {
    err = errno;
  } else {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = errno;
      stage = "TUNSETIFF";
    } else {
      // A kernel that refuses the offloads still hands over single packets behind the header: go on.
      if (offload && ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) == 0) offloads = TUN_F_CSUM | TUN_F_TSO4;
      memcpy(name, ifr.ifr_name, IFNAMSIZ);
      name[IFNAMSIZ - 1] = 0;
      err = if_mtu(name, mtu, &got_mtu);
      if (err) stage = "set/get MTU";
    }
    if (err) {
      close(fd);
      fd = -1;
    }
  }
  gdoi_leave_netns(oldns); // the fd keeps the device where it was created
  if (err) return throw_errno(env, stage, err);

  napi_value arr, v;
  NAPI_CALL(env, napi_create_array_with_length(env, 4, &arr));
  NAPI_CALL(env, napi_create_int32(env, fd, &v));
  NAPI_CALL(env, napi_set_element(env, arr, 0, v));
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL(env, napi_set_element(env, arr, 1, v));
  NAPI_CALL(env, napi_create_int32(env, got_mtu, &v));
  NAPI_CALL(env, napi_set_element(env, arr, 2, v));
  NAPI_CALL(env, napi_create_int32(env, offloads, &v));
  NAPI_CALL(env, napi_set_element(env, arr, 3, v));
  return arr;
}

// fdClose(fd) → 0 | -errno
static napi_value FdClose(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  int32_t fd;
  if (gdoi_get_i32(env, argv[0], &fd)) return NULL;
  return gdoi_int(env, close(fd) < 0 ? -errno : 0);
}

// fdRead(fd, buf, offset, maxBytes) → bytes | -errno
static napi_value FdRead(napi_env env, napi_callback_info info) {
  ARGS(env, info, 4);
  int32_t fd, off, max;
  uint8_t *buf;
  size_t len;
  if (gdoi_get_i32(env, argv[0], &fd) || gdoi_get_u8(env, argv[1], &buf, &len) ||
      gdoi_get_i32(env, argv[2], &off) || gdoi_get_i32(env, argv[3], &max)) return NULL;
  if (off < 0 || max < 0 || (size_t)off + (size_t)max > len) return gdoi_int(env, -EINVAL);
  ssize_t r;
  do r = read(fd, buf + off, (size_t)max); while (r < 0 && errno == EINTR);
  return gdoi_int(env, r < 0 ? -errno : (int32_t)r);
}

// fdWrite(fd, buf, offset, bytes) → bytes | -errno
static napi_value FdWrite(napi_env env, napi_callback_info info) {
  ARGS(env, info, 4);
  int32_t fd, off, n;
  uint8_t *buf;
  size_t len;
  if (gdoi_get_i32(env, argv[0], &fd) || gdoi_get_u8(env, argv[1], &buf, &len) ||
      gdoi_get_i32(env, argv[2], &off) || gdoi_get_i32(env, argv[3], &n)) return NULL;
  if (off < 0 || n < 0 || (size_t)off + (size_t)n > len) return gdoi_int(env, -EINVAL);
  ssize_t r;
  do r = write(fd, buf + off, (size_t)n); while (r < 0 && errno == EINTR);
  return gdoi_int(env, r < 0 ? -errno : (int32_t)r);
}

// fdReadBatch(fd, slab, offsets: Int32Array, count, maxBytes, sizes: Int32Array) → packets read | -errno
// Reads until `count` packets or EAGAIN; an error after the first packet ends the batch quietly.
static napi_value FdReadBatch(napi_env env, napi_callback_info info) {
  ARGS(env, info, 6);
  int32_t fd, count, max;
  uint8_t *slab;
  size_t slab_len, no, ns;
  int32_t *offs, *sizes;
  if (gdoi_get_i32(env, argv[0], &fd) || gdoi_get_u8(env, argv[1], &slab, &slab_len) ||
      gdoi_get_i32array(env, argv[2], &offs, &no) || gdoi_get_i32(env, argv[3], &count) ||
      gdoi_get_i32(env, argv[4], &max) || gdoi_get_i32array(env, argv[5], &sizes, &ns)) return NULL;
  if (count < 0 || (size_t)count > no || (size_t)count > ns || max < 0) return gdoi_int(env, -EINVAL);
  int32_t i = 0;
  for (; i < count; i++) {
    int32_t off = offs[i];
    if (off < 0 || (size_t)off + (size_t)max > slab_len) return gdoi_int(env, i > 0 ? i : -EINVAL);
    ssize_t r;
    do r = read(fd, slab + off, (size_t)max); while (r < 0 && errno == EINTR);
    if (r < 0) return gdoi_int(env, i > 0 ? i : -errno);
    sizes[i] = (int32_t)r;
  }
  return gdoi_int(env, i);
}

// fdWriteBatch(fd, slab, offsets: Int32Array, sizes: Int32Array, count) → packets written | -errno
static napi_value FdWriteBatch(napi_env env, napi_callback_info info) {
  ARGS(env, info, 5);
  int32_t fd;
  if (gdoi_get_i32(env, argv[0], &fd)) return NULL;
  GET_WRITE_BATCH(env, argv + 1, b);
  int32_t i = 0;
  for (; i < b.count; i++) {
    ssize_t r;
    do r = write(fd, b.slab + b.offs[i], (size_t)b.sizes[i]); while (r < 0 && errno == EINTR);
    if (r < 0) return gdoi_int(env, i > 0 ? i : -errno);
  }
  return gdoi_int(env, i);
}

// ---- readiness poll ---------------------------------------------------------------------------------
// pollNew(fd, callback(status)) → handle; pollArm(handle) waits for one readable event, then disarms and
// calls back (one-shot, so JS decides when to read). pollClose(handle) releases it; the fd is not closed.

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int armed;
  int closed;     // uv_close requested
  int uv_done;    // uv close callback ran
  int finalized;  // the JS external is gone (or was never created)
} gdoi_poll;

// Freed when both owners are done: libuv (close callback) and the JS external (finalizer).
static void poll_on_close(uv_handle_t *h) {
  gdoi_poll *p = h->data;
  p->uv_done = 1;
  if (p->finalized) free(p);
}

static void poll_release(gdoi_poll *p) {
  if (p->closed) return;
  p->closed = 1;
  if (p->callback) napi_delete_reference(p->env, p->callback);
  if (p->async) napi_async_destroy(p->env, p->async);
  p->callback = NULL;
  p->async = NULL;
  uv_close((uv_handle_t *)&p->handle, poll_on_close);
}

static void poll_on_event(uv_poll_t *h, int status, int events) {
  (void)events;
  gdoi_poll *p = h->data;
  uv_poll_stop(&p->handle);
  p->armed = 0;
  if (p->closed || !p->callback) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv); // make_callback converts the receiver to an object: undefined would throw
    napi_create_int32(env, status, &arg);
    // make_callback drains the microtask queue afterwards, so promises resolved in cb settle now.
    if (napi_make_callback(env, p->async, recv, cb, 1, &arg, NULL) == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poll_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  gdoi_poll *p = data;
  p->finalized = 1;
  poll_release(p);
  if (p->uv_done) free(p);
}

static napi_value PollNew(napi_env env, napi_callback_info info) {
  ARGS(env, info, 2);
  int32_t fd;
  if (gdoi_get_i32(env, argv[0], &fd)) return NULL;
  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  gdoi_poll *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, "pollNew", ENOMEM);
  p->env = env;
  int rc = uv_poll_init(loop, &p->handle, fd);
  if (rc < 0) {
    free(p);
    return throw_errno(env, "uv_poll_init", -rc);
  }
  p->handle.data = p;
  napi_value name, ext;
  napi_create_string_utf8(env, "gdoi:tun-poll", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &p->async) != napi_ok ||
      napi_create_external(env, p, poll_finalize, NULL, &ext) != napi_ok) {
    p->finalized = 1;
    poll_release(p);
    gdoi_throw_last(env, "pollNew");
    return NULL;
  }
  return ext;
}

static gdoi_poll *get_poll(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected a poll handle");
    return NULL;
  }
  return p;
}

static napi_value PollArm(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  gdoi_poll *p = get_poll(env, argv[0]);
  if (!p) return NULL;
  if (p->closed) return gdoi_int(env, -EBADF);
  if (p->armed) return gdoi_int(env, 0);
  int rc = uv_poll_start(&p->handle, UV_READABLE, poll_on_event);
  if (rc == 0) p->armed = 1;
  return gdoi_int(env, rc);
}

static napi_value PollClose(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  gdoi_poll *p = get_poll(env, argv[0]);
  if (!p) return NULL;
  if (!p->closed) {
    uv_poll_stop(&p->handle);
    p->armed = 0;
  }
  poll_release(p);
  return gdoi_int(env, 0);
}

// ---- module -----------------------------------------------------------------------------------------

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"tunOpen", NULL, TunOpen, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"fdClose", NULL, FdClose, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"fdRead", NULL, FdRead, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"fdWrite", NULL, FdWrite, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"fdReadBatch", NULL, FdReadBatch, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"fdWriteBatch", NULL, FdWriteBatch, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"pollNew", NULL, PollNew, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"pollArm", NULL, PollArm, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"pollClose", NULL, PollClose, NULL, NULL, NULL, PROP_FLAGS, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (gdoi_esp_register(env, exports) != napi_ok) return NULL;
  if (gdoi_offload_register(env, exports) != napi_ok) return NULL;
  if (gdoi_esp_socket_register(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
