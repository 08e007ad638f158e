/*
 * flood-mm1: the fastest practical sender of spoofed IKEv1 MM1 datagrams, for lab/flood.sh only.
 *
 *   flood-mm1 DST_IP DST_PORT SRC_NET/LEN MM1_FILE SECONDS [MAX_PPS]
 *
 * One thread (one core), a raw IPPROTO_RAW socket (IP_HDRINCL: we write the IPv4 header, so the source
 * address is ours to choose) and sendmmsg() in batches of 64. Every datagram gets a random source
 * address inside SRC_NET/LEN, a random source port and a fresh random initiator cookie (octets 0-7 of
 * the ISAKMP header); the rest of the MM1 (built once by @gdoi/wire, bench/flood/mm1.ts) is unchanged.
 * The kernel fills the IP checksum, ID and total length (raw(7)); the UDP checksum is 0 (none, IPv4).
 * Stops after SECONDS or at SIGTERM/SIGINT; then prints one JSON line:
 * {"sent":N,"seconds":S,"pps":P,"sendErrors":E}.
 *
 * Safety: lab/flood.sh runs it inside a network namespace whose only link leads to the key server's
 * namespace; the spoofed range (198.18.0.0/15, RFC 2544 benchmarking) is routed back into that same
 * namespace, where nothing answers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PAYLOAD 1400

static uint64_t rng_state;
static inline uint64_t next_rand(void) { /* xorshift64*: fast, good enough for addresses and cookies */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s DST_IP DST_PORT SRC_NET/LEN MM1_FILE SECONDS [MAX_PPS]\n", argv[0]);
    return 2;
  }
  struct in_addr dst, net;
  if (inet_pton(AF_INET, argv[1], &dst) != 1) { fprintf(stderr, "bad DST_IP\n"); return 2; }
  int dport = atoi(argv[2]);
  char netbuf[32];
  snprintf(netbuf, sizeof netbuf, "%s", argv[3]);
  char *slash = strchr(netbuf, '/');
  if (slash == NULL) { fprintf(stderr, "SRC_NET must be A.B.C.D/LEN\n"); return 2; }
  *slash = 0;
  int len = atoi(slash + 1);
  if (inet_pton(AF_INET, netbuf, &net) != 1 || len < 8 || len > 30) { fprintf(stderr, "bad SRC_NET\n"); return 2; }
  uint32_t hostmask = (len == 32) ? 0 : (0xffffffffu >> len);
  uint32_t netaddr = ntohl(net.s_addr) & ~hostmask;
  double seconds = atof(argv[5]);
  double max_pps = argc > 6 ? atof(argv[6]) : 0;

  unsigned char payload[MAX_PAYLOAD];
  FILE *f = fopen(argv[4], "rb");
  if (f == NULL) { perror("MM1_FILE"); return 1; }
  size_t plen = fread(payload, 1, sizeof payload, f);
  fclose(f);
  if (plen < 28) { fprintf(stderr, "MM1_FILE: %zu octets, not an ISAKMP message\n", plen); return 1; }

  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) { perror("socket(SOCK_RAW) (root needed)"); return 1; }
  int one = 1, sndbuf = 4 << 20;
  setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  static unsigned char pkts[BATCH][sizeof(struct iphdr) + sizeof(struct udphdr) + MAX_PAYLOAD];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst, .sin_port = 0 };
  size_t total = sizeof(struct iphdr) + sizeof(struct udphdr) + plen;
  for (int i = 0; i < BATCH; i++) {
    struct iphdr *ip = (struct iphdr *)pkts[i];
    struct udphdr *udp = (struct udphdr *)(pkts[i] + sizeof *ip);
    memset(pkts[i], 0, sizeof pkts[i]);
    ip->version = 4;
    ip->ihl = 5;
    ip->ttl = 64;
    ip->protocol = IPPROTO_UDP;
    ip->tot_len = htons((uint16_t)total);
    ip->daddr = dst.s_addr;
    udp->dest = htons((uint16_t)dport);
    udp->len = htons((uint16_t)(sizeof *udp + plen));
    memcpy(pkts[i] + sizeof *ip + sizeof *udp, payload, plen);
    iov[i].iov_base = pkts[i];
    iov[i].iov_len = total;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  rng_state = ((uint64_t)getpid() << 32) ^ (uint64_t)(now_sec() * 1e9) ^ 0x9e3779b97f4a7c15ULL;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  uint64_t sent = 0, errors = 0;
  double start = now_sec(), end = start + seconds, t = start;
  while (t < end && !stop_requested) {
    for (int i = 0; i < BATCH; i++) {
      struct iphdr *ip = (struct iphdr *)pkts[i];
      struct udphdr *udp = (struct udphdr *)(pkts[i] + sizeof *ip);
      uint64_t r = next_rand();
      ip->saddr = htonl(netaddr | ((uint32_t)r & hostmask));
      if ((ntohl(ip->saddr) & hostmask) == 0) ip->saddr = htonl(netaddr | 1);
      udp->source = htons((uint16_t)(1024 + (uint16_t)(r >> 32) % 64000));
      uint64_t cookie = next_rand();
      memcpy(pkts[i] + sizeof *ip + sizeof *udp, &cookie, 8);
    }
    int n = sendmmsg(fd, msgs, BATCH, 0);
    if (n < 0) {
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) { errors++; t = now_sec(); continue; }
      perror("sendmmsg");
      return 1;
    }
    sent += (uint64_t)n;
    t = now_sec();
    if (max_pps > 0) {
      double ahead = (double)sent / max_pps - (t - start);
      if (ahead > 0.0005) {
        struct timespec ts = { .tv_sec = (time_t)ahead, .tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9) };
        nanosleep(&ts, NULL);
        t = now_sec();
      }
    }
  }
  double el = t - start;
  printf("{\"sent\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"sendErrors\":%llu}\n", (unsigned long long)sent, el, el > 0 ? (double)sent / el : 0.0, (unsigned long long)errors);
  return 0;
}
