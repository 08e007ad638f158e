// The ESP socket: the GM sends the ESP packets it builds on a raw IPv4 socket (IPPROTO_RAW, so the
// header is ours: address preservation keeps the inner addresses) with sendmmsg, instead of writing them
// into the TUN. A TUN write makes each packet enter the kernel as if received: input routing through
// the gdoi policy rules, forwarding, then output. The socket's packets are locally sent: one output
// route lookup, which the packets' firewall mark sends straight to the normal routes (routing.ts adds
// `fwmark M goto END` before the rule that diverts protected destinations into the TUN).
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "napi-util.h"

#define MAX_BATCH 256

// espSocketOpen(netnsPath: string | null, mark: number) → fd | -errno
static napi_value EspSocketOpen(napi_env env, napi_callback_info info) {
  ARGS(env, info, 2);
  char netns[512] = {0};
  size_t n = 0;
  napi_valuetype vt;
  NAPI_CALL(env, napi_typeof(env, argv[0], &vt));
  if (vt == napi_string) NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], netns, sizeof netns, &n));
  int32_t mark;
  if (gdoi_get_i32(env, argv[1], &mark)) return NULL;
  int oldns;
  int err = gdoi_enter_netns(netns, &oldns); // the socket belongs to the namespace it is created in
  if (err) return gdoi_int(env, -err);
  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW); // implies IP_HDRINCL; send-only (receives nothing)
  if (fd < 0) {
    err = errno;
  } else {
    uint32_t m = (uint32_t)mark;
    int sndbuf = 4 << 20; // a burst of a batch never waits (SO_SNDBUFFORCE: beyond wmem_max as root)
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof m) < 0) err = errno;
    else if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0) {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf); // best effort without CAP_NET_ADMIN
    }
    if (err) {
      close(fd);
      fd = -1;
    }
  }
  gdoi_leave_netns(oldns);
  return gdoi_int(env, fd < 0 ? -err : fd);
}

// espSocketSend(fd, slab, offsets, sizes, count) → packets sent | -errno. Each packet is a complete IPv4
// packet; its destination address is where it goes. An error after some packets returns how many went.
static napi_value EspSocketSend(napi_env env, napi_callback_info info) {
  ARGS(env, info, 5);
  int32_t fd;
  if (gdoi_get_i32(env, argv[0], &fd)) return NULL;
  GET_WRITE_BATCH(env, argv + 1, b);
  uint8_t *slab = b.slab;
  const int32_t *offs = b.offs, *sizes = b.sizes;
  int32_t count = b.count;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_in to[MAX_BATCH];
  int32_t sent = 0;
  while (sent < count) {
    int k = 0;
    for (; k < MAX_BATCH && sent + k < count; k++) {
      int32_t off = offs[sent + k], len = sizes[sent + k];
      if (len < 20) return gdoi_int(env, sent + k > 0 ? sent + k : -EINVAL); // not an IPv4 packet
      memset(&to[k], 0, sizeof to[k]);
      to[k].sin_family = AF_INET;
      memcpy(&to[k].sin_addr, slab + off + 16, 4);
      iov[k] = (struct iovec){slab + off, (size_t)len};
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_name = &to[k];
      msgs[k].msg_hdr.msg_namelen = sizeof to[k];
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r;
    do r = sendmmsg(fd, msgs, (unsigned)k, 0); while (r < 0 && errno == EINTR);
    if (r < 0) return gdoi_int(env, sent > 0 ? sent : -errno);
    sent += r;
    if (r < k) break; // the next packet failed: the caller learns which by the count
  }
  return gdoi_int(env, sent);
}

napi_status gdoi_esp_socket_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"espSocketOpen", NULL, EspSocketOpen, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"espSocketSend", NULL, EspSocketSend, NULL, NULL, NULL, PROP_FLAGS, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
