// The group member's YAML schema (zod v4). The IOS front end (ios.ts) produces the same input shape.
//
//   group: { name: GETVPN-GRP, identity: { number: 1234 } }
//   keyServers: [127.0.1.1]            # or "127.0.1.1:848", or { address, port }
//   local: { address: 127.0.1.11 }
//   ike: { policies: [...], preSharedKeys: [{ peer: 127.0.1.1, keyFile: /etc/gdoi/psk }] }
import { z } from 'zod'
import {
  DEFAULT_GM_CONTROL_SOCKET,
  DEFAULT_MAX_DATAGRAM_BYTES,
  MAX_MAX_DATAGRAM_BYTES,
  MIN_MAX_DATAGRAM_BYTES,
  groupIdentity,
  groupName,
  ikeSchema,
  ipv4,
  listenPort,
  logSchema,
  pathIn,
  port,
  strict,
  unicastIpv4,
  type ConfigContext,
} from '@gdoi/daemon-kit'
import { metricsConfigSchema } from '@gdoi/daemon-kit/metrics-config'
import { parsePrefix } from '../routing.js'
import { GM_DEFAULTS, type GmConfig } from './types.js'

/** An IPv4 destination prefix: "10.1.0.0/16", "10.1.2.3" (a host) or "any". */
const ipv4Prefix = z.string().refine((s) => parsePrefix(s.trim()) !== undefined, 'expected an IPv4 prefix like 10.1.0.0/16, an address, or "any"')

/** "A.B.C.D" or "A.B.C.D:PORT" → { address, port }; objects pass through. */
const keyServer = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v
    const m = /^([^:]+):(\d+)$/.exec(v.trim())
    return m ? { address: m[1], port: Number(m[2]) } : { address: v.trim() }
  },
  strict({ address: unicastIpv4, port: port.default(GM_DEFAULTS.port) }),
)

export function gmConfigSchema(ctx: ConfigContext): z.ZodType<GmConfig> {
  return strict({
    group: strict({ name: groupName, identity: groupIdentity }),
    keyServers: z.array(keyServer).min(1),
    local: strict({
      address: ipv4.default(GM_DEFAULTS.localAddress),
      port: listenPort.default(GM_DEFAULTS.port),
    }).prefault({}),
    ike: ikeSchema(ctx),
    tun: z.preprocess((v) => (v === 'none' || v === false ? { enabled: false } : v), strict({
      enabled: z.boolean().default(true),
      name: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1..15 letters, digits, ".", "_" or "-"')
        .default(GM_DEFAULTS.tunName),
      mtuBytes: z.int().min(576).max(9000).default(GM_DEFAULTS.mtuBytes),
      // segmentation offloads on the TUN (64 KB TCP packets in, coalesced runs out): README "Offloads"
      offload: z.boolean().default(true),
    })).prefault({}),
    routing: z.preprocess((v) => (v === 'none' || v === false ? { enabled: false } : v === true ? {} : v), strict({
      enabled: z.boolean().default(true),
      // 253 default, 254 main, 255 local are the kernel's own tables
      table: z.int().min(1).max(0x7ffffffe).refine((n) => n < 253 || n > 255, 'not 253–255 (the kernel\'s default, main and local tables)').optional(),
      preference: z.int().min(1).max(32700).optional(),
    })).optional(),
    // Cisco `crypto map … gdoi fail-close`: protected traffic without an SA is dropped, not sent in clear
    dataPlane: strict({
      failClose: z.boolean().default(false),
      blockBeforeRegistration: z.array(ipv4Prefix).min(1).optional(),
      // sealed ESP leaves on a raw socket with a firewall mark instead of through the TUN (README "ESP socket")
      espSocket: z.boolean().default(true),
      espMark: z.int().min(1).max(0xffffffff).optional(),
    }).superRefine((v, c) => {
      if (v.blockBeforeRegistration !== undefined && !v.failClose) {
        c.addIssue({ code: 'custom', path: ['blockBeforeRegistration'], message: 'only with failClose: true (a fail-open member blocks nothing)' })
      }
    }).optional(),
    // Not limited to Linux's 15 characters: a pasted IOS config names e.g. GigabitEthernet0/1; the
    // daemon checks the name against the host's interfaces when it starts.
    interface: z.string().min(1).optional(),
    controlSocket: pathIn(ctx).default(DEFAULT_GM_CONTROL_SOCKET),
    keylog: pathIn(ctx).optional(),
    log: logSchema,
    reregister: strict({
      beforeExpirySec: z.int().min(0).max(3600).default(GM_DEFAULTS.reregisterBeforeExpirySec),
      jitterSec: z.int().min(0).max(600).default(GM_DEFAULTS.reregisterJitterSec),
    }).prefault({}),
    retransmit: strict({
      intervalSec: z.int().min(1).max(60).default(GM_DEFAULTS.retransmitIntervalSec),
      count: z.int().min(0).max(10).default(GM_DEFAULTS.retransmitCount),
    }).prefault({}),
    rekeyAck: z.enum(['rfc8263', 'none']).default('rfc8263'),
    limits: strict({
      maxDatagramBytes: z.int().min(MIN_MAX_DATAGRAM_BYTES).max(MAX_MAX_DATAGRAM_BYTES).default(DEFAULT_MAX_DATAGRAM_BYTES),
    }).prefault({}),
    metrics: metricsConfigSchema,
  }).transform(
    (v): GmConfig => ({
      group: v.group,
      keyServers: v.keyServers,
      local: v.local,
      ike: v.ike,
      tun: v.tun,
      ...(v.routing !== undefined
        ? { routing: { enabled: v.routing.enabled, ...(v.routing.table !== undefined ? { table: v.routing.table } : {}), ...(v.routing.preference !== undefined ? { preference: v.routing.preference } : {}) } }
        : {}),
      ...(v.dataPlane !== undefined
        ? { dataPlane: { failClose: v.dataPlane.failClose, ...(v.dataPlane.blockBeforeRegistration !== undefined ? { blockBeforeRegistration: v.dataPlane.blockBeforeRegistration.map((s) => s.trim()) } : {}) } }
        : {}),
      interface: v.interface ?? null,
      controlSocket: v.controlSocket,
      keylog: v.keylog ?? null,
      log: v.log,
      reregister: v.reregister,
      retransmit: v.retransmit,
      rekeyAck: v.rekeyAck,
      limits: v.limits,
      ...(v.metrics.listen !== null ? { metrics: v.metrics } : {}),
    }),
  ) as unknown as z.ZodType<GmConfig>
}
