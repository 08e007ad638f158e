// TUN segmentation offloads: the kernel and the data plane exchange 64 KB TCP "super-packets" instead of
// one packet per read and write (the route wireguard-go took to move > 10 Gbit/s through a TUN).
//
// The device is opened with IFF_VNET_HDR, so every read and write starts with a virtio_net_hdr, and
// TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) lets the kernel queue a TSO packet whole, with its TCP checksum
// left to us (CHECKSUM_PARTIAL). Then:
//   read:  one read brings up to 64 KB; we cut it into MSS-sized IPv4/TCP segments (headers copied,
//          sequence numbers, IP ids, lengths and checksums rewritten) straight into the slab slots, so the
//          data plane still sees one ordinary packet per slot. Segments that do not fit this batch wait
//          in the handle for the next one.
//   write: consecutive packets of one TCP flow (or same-size datagrams of one UDP flow) whose bytes
//          continue each other are written as one GSO packet with writev (headers of the first, then the
//          payloads, no copy): the kernel forwards one skb, and the receiving host's stack sees one
//          GRO-sized packet. Anything else (ESP, ICMP, SYN/FIN/RST, options differing) goes out alone.
// Integrity is unchanged: a packet only leaves the GM encrypted with every byte covered by the ICV, and a
// coalesced packet carries only bytes that ESP authenticated.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "napi-util.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 // Linux 5.18 uapi; the running kernel (≥ 6.2 for TUN) knows it
#endif

#define VHDR_BYTES ((int)sizeof(struct virtio_net_hdr))
#define MAX_PACKET 65535
#define MAX_GROUP 64 // packets per coalesced write (iovecs: header + first + 63 payloads)
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

// Counters, in the order gsoStats reports them.
enum {
  ST_SUPER_READ,      // GSO packets read
  ST_SEGMENTS,        // segments cut from them
  ST_CSUM_COMPLETED,  // non-GSO packets whose partial checksum we completed
  ST_READ_DROPS,      // unusable GSO packets (bad headers, not IPv4 TCP/UDP)
  ST_COALESCED_WRITES,
  ST_COALESCED_PACKETS,
  ST_SINGLE_WRITES,
  ST_COALESCE_REFUSED, // a coalesced write the kernel refused: its packets were written one by one
  ST_COUNT
};

typedef struct {
  int fd;
  int max_slot;        // the largest slot a read may be given
  uint8_t *scratch;    // max_slot + MAX_PACKET: a super-packet being cut up
  // the pending super-packet (in scratch)
  int p_len, p_hlen, p_gso, p_segs, p_next, p_udp;
  int udp_coalesce;    // cleared when the kernel refuses a UDP GSO write
  double stats[ST_COUNT];
} gdoi_gso;

// ---- Internet checksum (RFC 1071): summed in host order, stored with memcpy, so it is right on either endianness.

static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n) {
  while (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint16_t w = 0;
    memcpy(&w, p, 1); // the odd last octet is the high-order octet of a zero-padded word (network order)
    sum += w;
  }
  return sum;
}

static uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

static uint64_t pseudo_header(const uint8_t *ip, uint8_t proto, uint16_t l4_len) {
  uint8_t ph[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
  return csum_add(csum_add(0, ip + 12, 8), ph, 4);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

static void ipv4_checksum(uint8_t *ip, int ihl) {
  ip[10] = ip[11] = 0;
  uint16_t c = (uint16_t)~csum_fold(csum_add(0, ip, (size_t)ihl));
  memcpy(ip + 10, &c, 2);
}

// Full L4 checksum of an IPv4 packet whose L4 header starts at ihl (checksum field at ihl + field).
static void l4_checksum(uint8_t *ip, int ihl, int len, uint8_t proto, int field) {
  uint8_t *l4 = ip + ihl;
  l4[field] = l4[field + 1] = 0;
  uint16_t c = (uint16_t)~csum_fold(csum_add(pseudo_header(ip, proto, (uint16_t)(len - ihl)), l4, (size_t)(len - ihl)));
  if (c == 0 && proto == PROTO_UDP) c = 0xffff; // RFC 768: 0 means "no checksum"
  memcpy(l4 + field, &c, 2);
}

// ---- read side: cutting a super-packet ------------------------------------------------------------

// Checks a GSO packet and records it as pending. Returns 0, or -1 if it cannot be cut (dropped).
static int gso_begin(gdoi_gso *g, const struct virtio_net_hdr *vh, int len, int max) {
  const uint8_t *ip = g->scratch;
  int type = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  if (len < 20 || ip[0] >> 4 != 4) return -1;
  int ihl = (ip[0] & 0x0f) * 4;
  if (ihl < 20 || len < ihl + 8) return -1;
  int udp = type == VIRTIO_NET_HDR_GSO_UDP_L4;
  if (type == VIRTIO_NET_HDR_GSO_TCPV4) {
    if (ip[9] != PROTO_TCP || len < ihl + 20) return -1;
  } else if (!udp || ip[9] != PROTO_UDP) {
    return -1;
  }
  int l4h = udp ? 8 : (ip[ihl + 12] >> 4) * 4;
  if (l4h < 8 || ihl + l4h > len) return -1;
  int gso = vh->gso_size;
  if (gso <= 0 || ihl + l4h + gso > max) return -1; // a segment must fit a slot
  g->p_len = len;
  g->p_hlen = ihl + l4h;
  g->p_gso = gso;
  g->p_udp = udp;
  g->p_segs = len == g->p_hlen ? 1 : (len - g->p_hlen + gso - 1) / gso;
  g->p_next = 0;
  g->stats[ST_SUPER_READ]++;
  return 0;
}

// Writes segment i of the pending super-packet to out; returns its length.
static int gso_emit(gdoi_gso *g, int i, uint8_t *out) {
  const uint8_t *src = g->scratch;
  int hlen = g->p_hlen, ihl = (src[0] & 0x0f) * 4;
  int at = hlen + i * g->p_gso;
  int plen = g->p_len - at < g->p_gso ? g->p_len - at : g->p_gso;
  if (plen < 0) plen = 0;
  memcpy(out, src, (size_t)hlen);
  memcpy(out + hlen, src + at, (size_t)plen);
  int len = hlen + plen;
  wr16(out + 2, (uint16_t)len);
  wr16(out + 4, (uint16_t)(rd16(src + 4) + i)); // consecutive IP ids, as the kernel's own segmentation
  ipv4_checksum(out, ihl);
  uint8_t *l4 = out + ihl;
  if (g->p_udp) {
    wr16(l4 + 4, (uint16_t)(len - ihl));
    l4_checksum(out, ihl, len, PROTO_UDP, 6);
  } else {
    wr32(l4 + 4, rd32(src + ihl + 4) + (uint32_t)(i * g->p_gso));
    if (i != g->p_segs - 1) l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH); // only the last segment ends the push
    if (i != 0) l4[13] &= (uint8_t)~TCP_CWR;                          // only the first one signals CWR
    l4_checksum(out, ihl, len, PROTO_TCP, 16);
  }
  g->stats[ST_SEGMENTS]++;
  return len;
}

// A non-GSO packet with VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds the pseudo-header sum; complete it.
static void complete_checksum(gdoi_gso *g, const struct virtio_net_hdr *vh, uint8_t *p, int len) {
  int start = vh->csum_start, field = start + vh->csum_offset;
  if (start >= len || field + 2 > len) return;
  uint16_t c = (uint16_t)~csum_fold(csum_add(0, p + start, (size_t)(len - start)));
  if (c == 0 && len > 9 && p[9] == PROTO_UDP) c = 0xffff;
  memcpy(p + field, &c, 2);
  g->stats[ST_CSUM_COMPLETED]++;
}

static gdoi_gso *get_gso(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected an offload handle");
    return NULL;
  }
  return p;
}

static void gso_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  gdoi_gso *g = data;
  free(g->scratch);
  free(g);
}

// gsoNew(fd, maxSlotBytes) → handle. The fd must be a TUN opened with IFF_VNET_HDR.
static napi_value GsoNew(napi_env env, napi_callback_info info) {
  ARGS(env, info, 2);
  int32_t fd, max;
  if (gdoi_get_i32(env, argv[0], &fd) || gdoi_get_i32(env, argv[1], &max)) return NULL;
  if (max < 576 || max > MAX_PACKET) {
    napi_throw_range_error(env, "ERR_NATIVE_ARGS", "maxSlotBytes must be 576…65535");
    return NULL;
  }
  gdoi_gso *g = calloc(1, sizeof *g);
  uint8_t *scratch = malloc((size_t)max + MAX_PACKET);
  if (!g || !scratch) {
    free(g);
    free(scratch);
    napi_throw_error(env, "ENOMEM", "gsoNew: out of memory");
    return NULL;
  }
  g->fd = fd;
  g->max_slot = max;
  g->scratch = scratch;
  g->udp_coalesce = 1;
  napi_value ext;
  if (napi_create_external(env, g, gso_finalize, NULL, &ext) != napi_ok) {
    gso_finalize(env, g, NULL);
    gdoi_throw_last(env, "gsoNew");
    return NULL;
  }
  return ext;
}

// gsoReadBatch(h, slab, offsets, count, maxBytes, sizes) → packets | -errno. Like fdReadBatch, with
// segments of a super-packet filling consecutive slots (and the next call, when they do not all fit).
static napi_value GsoReadBatch(napi_env env, napi_callback_info info) {
  ARGS(env, info, 6);
  gdoi_gso *g = get_gso(env, argv[0]);
  if (!g) return NULL;
  int32_t count, max;
  uint8_t *slab;
  size_t slab_len, no, ns;
  int32_t *offs, *sizes;
  if (gdoi_get_u8(env, argv[1], &slab, &slab_len) || gdoi_get_i32array(env, argv[2], &offs, &no) ||
      gdoi_get_i32(env, argv[3], &count) || gdoi_get_i32(env, argv[4], &max) ||
      gdoi_get_i32array(env, argv[5], &sizes, &ns)) return NULL;
  if (count < 0 || (size_t)count > no || (size_t)count > ns || max < 0 || max > g->max_slot) return gdoi_int(env, -EINVAL);
  int32_t n = 0;
  while (n < count) {
    int32_t off = offs[n];
    if (off < 0 || (size_t)off + (size_t)max > slab_len) return gdoi_int(env, n > 0 ? n : -EINVAL);
    uint8_t *slot = slab + off;
    if (g->p_next < g->p_segs) { // segments left from the last super-packet
      sizes[n++] = gso_emit(g, g->p_next++, slot);
      continue;
    }
    struct virtio_net_hdr vh;
    struct iovec iov[3] = {
      {&vh, VHDR_BYTES}, {slot, (size_t)max}, {g->scratch + max, MAX_PACKET}, // a long packet runs on into scratch
    };
    ssize_t r;
    do r = readv(g->fd, iov, 3); while (r < 0 && errno == EINTR);
    if (r < 0) return gdoi_int(env, n > 0 ? n : -errno);
    int len = (int)r - VHDR_BYTES;
    if (len <= 0) continue;
    if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
      if (len > max) { g->stats[ST_READ_DROPS]++; continue; } // cannot happen: the MTU bounds it
      if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) complete_checksum(g, &vh, slot, len);
      sizes[n++] = len;
      continue;
    }
    memcpy(g->scratch, slot, (size_t)(len < max ? len : max)); // make the super-packet contiguous
    if (gso_begin(g, &vh, len, max) < 0) { g->stats[ST_READ_DROPS]++; continue; }
  }
  return gdoi_int(env, n);
}

// ---- write side: coalescing -----------------------------------------------------------------------

// Can this packet be part of a coalesced write? Returns its protocol (TCP/UDP) or 0.
static int coalescable(const uint8_t *p, int len, int udp_ok) {
  if (len < 28 || p[0] != 0x45 || rd16(p + 2) != len || (rd16(p + 6) & 0x3fff) != 0) return 0; // options, fragments
  if (p[9] == PROTO_TCP) {
    int thl = (p[32] >> 4) * 4;
    if (len < 40 || thl < 20 || 20 + thl >= len) return 0; // no payload: pure ACKs stay alone
    uint8_t f = p[33];
    if ((f & TCP_ACK) == 0 || (f & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)) != 0) return 0;
    return PROTO_TCP;
  }
  if (p[9] == PROTO_UDP && udp_ok && len > 28 && rd16(p + 24) == len - 20) return PROTO_UDP;
  return 0;
}

// Does b continue a (same flow, header fields GRO would insist on)? hlen: IP + L4 header octets.
static int continues(const uint8_t *a, const uint8_t *b, int proto, int hlen, uint32_t next_seq) {
  if (a[1] != b[1] || a[8] != b[8] || (a[6] & 0x40) != (b[6] & 0x40) || memcmp(a + 12, b + 12, 8) != 0) return 0;
  if (memcmp(a + 20, b + 20, 4) != 0) return 0; // ports
  if (proto == PROTO_UDP) return 1;
  if (rd32(b + 24) != next_seq || memcmp(a + 28, b + 28, 4) != 0) return 0; // seq follows, same ack
  if (a[32] != b[32] || ((a[33] ^ b[33]) & (uint8_t)~TCP_PSH) != 0 || memcmp(a + 34, b + 34, 2) != 0) return 0;
  return memcmp(a + 40, b + 40, (size_t)(hlen - 40)) == 0; // options (timestamps) identical
}

static ssize_t writev_all(int fd, struct iovec *iov, int n) {
  ssize_t r;
  do r = writev(fd, iov, n); while (r < 0 && errno == EINTR);
  return r;
}

static const struct virtio_net_hdr NO_OFFLOAD; // all zero: a complete, checksummed packet

// gsoWriteBatch(h, slab, offsets, sizes, count) → packets written | -errno (like fdWriteBatch: an error
// after some packets returns how many went; the caller skips the refused one and goes on).
static napi_value GsoWriteBatch(napi_env env, napi_callback_info info) {
  ARGS(env, info, 5);
  gdoi_gso *g = get_gso(env, argv[0]);
  if (!g) return NULL;
  GET_WRITE_BATCH(env, argv + 1, b);
  uint8_t *slab = b.slab;
  const int32_t *offs = b.offs, *sizes = b.sizes;
  int32_t count = b.count;
  struct iovec iov[MAX_GROUP + 1];
  int32_t i = 0;
  while (i < count) {
    uint8_t *first = slab + offs[i];
    int flen = sizes[i];
    int proto = coalescable(first, flen, g->udp_coalesce);
    int group = 1, total = flen, hlen = 0, seg = 0;
    if (proto) {
      hlen = 20 + (proto == PROTO_TCP ? (first[32] >> 4) * 4 : 8);
      seg = flen - hlen;
      uint32_t next_seq = proto == PROTO_TCP ? rd32(first + 24) + (uint32_t)seg : 0;
      const uint8_t *prev = first;
      int prev_len = seg;
      while (i + group < count && group < MAX_GROUP) {
        if (prev_len < seg || (proto == PROTO_TCP && (prev[33] & TCP_PSH))) break; // a short or pushed one ends it
        const uint8_t *b = slab + offs[i + group];
        int blen = sizes[i + group];
        if (coalescable(b, blen, g->udp_coalesce) != proto || blen - hlen > seg || blen - hlen <= 0) break;
        if (total + blen - hlen > MAX_PACKET || !continues(first, b, proto, hlen, next_seq)) break;
        total += blen - hlen;
        next_seq += (uint32_t)(blen - hlen);
        prev = b;
        prev_len = blen - hlen;
        group++;
      }
    }
    if (group == 1) {
      iov[0] = (struct iovec){(void *)&NO_OFFLOAD, VHDR_BYTES};
      iov[1] = (struct iovec){first, (size_t)flen};
      if (writev_all(g->fd, iov, 2) < 0) return gdoi_int(env, i > 0 ? i : -errno);
      g->stats[ST_SINGLE_WRITES]++;
      i++;
      continue;
    }
    // One GSO packet: the first packet's headers describe the whole; the kernel fills in each segment's.
    uint8_t saved[80]; // IPv4 without options (20) + the longest TCP header (60)
    memcpy(saved, first, (size_t)hlen);
    const uint8_t *last = slab + offs[i + group - 1];
    wr16(first + 2, (uint16_t)total);
    ipv4_checksum(first, 20);
    uint16_t partial;
    if (proto == PROTO_TCP) {
      first[33] = (uint8_t)((first[33] & ~TCP_PSH) | (last[33] & TCP_PSH));
      partial = csum_fold(pseudo_header(first, PROTO_TCP, (uint16_t)(total - 20)));
      memcpy(first + 36, &partial, 2);
    } else {
      // USO: the UDP length (and pseudo-header) of the whole, as udp_send_skb builds one: segmentation
      // rewrites it per datagram, and local delivery first trims the skb to it (one segment's length
      // there left a GSO skb UDP could not segment: every datagram dropped, no counter moved).
      wr16(first + 24, (uint16_t)(total - 20));
      partial = csum_fold(pseudo_header(first, PROTO_UDP, (uint16_t)(total - 20)));
      memcpy(first + 26, &partial, 2);
    }
    struct virtio_net_hdr vh = {
      .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
      .gso_type = proto == PROTO_TCP ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_UDP_L4,
      .hdr_len = (uint16_t)hlen,
      .gso_size = (uint16_t)seg,
      .csum_start = 20,
      .csum_offset = proto == PROTO_TCP ? 16 : 6,
    };
    iov[0] = (struct iovec){&vh, VHDR_BYTES};
    iov[1] = (struct iovec){first, (size_t)flen};
    for (int k = 1; k < group; k++) iov[k + 1] = (struct iovec){slab + offs[i + k] + hlen, (size_t)(sizes[i + k] - hlen)};
    ssize_t r = writev_all(g->fd, iov, group + 1);
    memcpy(first, saved, (size_t)hlen); // the slot holds the packet as it was (callers may retry singly)
    if (r < 0) {
      if (errno != EINVAL) return gdoi_int(env, i > 0 ? i : -errno);
      // A kernel without UDP GSO on TUN writes (before 6.2): stop trying, send these one by one.
      g->stats[ST_COALESCE_REFUSED]++;
      if (proto == PROTO_UDP) g->udp_coalesce = 0;
      for (int k = 0; k < group; k++) {
        iov[0] = (struct iovec){(void *)&NO_OFFLOAD, VHDR_BYTES};
        iov[1] = (struct iovec){slab + offs[i + k], (size_t)sizes[i + k]};
        if (writev_all(g->fd, iov, 2) < 0) return gdoi_int(env, i + k > 0 ? i + k : -errno);
        g->stats[ST_SINGLE_WRITES]++;
      }
      i += group;
      continue;
    }
    g->stats[ST_COALESCED_WRITES]++;
    g->stats[ST_COALESCED_PACKETS] += group;
    i += group;
  }
  return gdoi_int(env, i);
}

// gsoPending(h) → segments of a super-packet still waiting for slots (the fd may not be readable then).
static napi_value GsoPending(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  gdoi_gso *g = get_gso(env, argv[0]);
  if (!g) return NULL;
  return gdoi_int(env, g->p_segs - g->p_next);
}

// gsoStats(h, out: Float64Array(ST_COUNT)) → ST_COUNT
static napi_value GsoStats(napi_env env, napi_callback_info info) {
  ARGS(env, info, 2);
  gdoi_gso *g = get_gso(env, argv[0]);
  if (!g) return NULL;
  napi_typedarray_type t;
  size_t len = 0;
  void *p = NULL;
  if (napi_get_typedarray_info(env, argv[1], &t, &len, &p, NULL, NULL) != napi_ok || t != napi_float64_array || len < ST_COUNT) {
    napi_throw_type_error(env, "ERR_NATIVE_ARGS", "expected a Float64Array of the counters' length");
    return NULL;
  }
  memcpy(p, g->stats, sizeof g->stats);
  return gdoi_int(env, ST_COUNT);
}

napi_status gdoi_offload_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"gsoNew", NULL, GsoNew, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"gsoReadBatch", NULL, GsoReadBatch, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"gsoWriteBatch", NULL, GsoWriteBatch, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"gsoPending", NULL, GsoPending, NULL, NULL, NULL, PROP_FLAGS, NULL},
    {"gsoStats", NULL, GsoStats, NULL, NULL, NULL, PROP_FLAGS, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
