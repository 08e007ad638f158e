// The kernel side of the TUN data plane: which packets the kernel hands to the TUN and what happens to
// what the data plane writes back (README "Routing"). Linux policy routing, set up when the data plane
// starts, updated when the downloaded ACL changes (and every `refreshMs`, for LAN route changes),
// removed on shutdown. Everything goes through `ip` (iproute2) with argument arrays, never a shell.
//
// Node's sockets cannot mark their packets (no SO_MARK), so the rules are keyed on the input interface:
// what the data plane writes into the TUN comes back with iif = the TUN and is routed by the normal
// rules. The addon's ESP socket (esp-socket.ts) marks its packets; they have a fwmark rule of their own.
//
//   pref B+0  ipproto udp dport 848 goto B+9        GDOI control traffic is never diverted (and sport)
//   pref B+2  fwmark M goto B+9                     (3) ESP we built, sent on the ESP socket: normal routes
//   pref B+2  iif <tun> goto B+9                    (3) plaintext we decrypted (and ESP, without the socket)
//   pref B+3  iif <wan> ipproto esp lookup T+1      (2) ESP from the transit side for protected
//                                                       destinations behind this GM (T+1: local ∩ ACL → TUN)
//   pref B+4  iif <wan> goto B+9                        anything else from the transit side: normal routes
//   pref B+5  lookup T                              (1) plaintext from the sites and from this host for
//                                                       protected destinations (T: ACL → TUN, local → throw)
//   pref B+9  nop                                       end of the gdoi rules; the next ones (main …) follow
//
// A lookup that finds no route in T / T+1 (or a `throw` route) falls through to the next rule, so only
// protected destinations are diverted.
//
// Fail-close (config `dataPlane.failClose`, README "Fail-close"): T also holds a `blackhole` route for
// every destination routed into the TUN, at the worst metric (FAIL_CLOSE_METRIC), which the TUN route
// (metric 0) hides while it exists. When the process dies, the kernel deletes the TUN and every route
// through it; the blackholes, the throw routes and the rules stay, so plaintext for protected
// destinations is dropped instead of falling through to the main table — while the GM's own side
// (its throw routes, more specific) still falls through. A clean stop removes everything (the operator
// meant it); a start after a crash keeps the blackholes and the rules in place while it re-installs (no
// flush), and blocks the destinations they name until the first registration brings the ACL. "Local" destinations are the main table's routes through an
// interface other than the WAN and the TUN (the sites' LANs): plaintext for them is never diverted
// (`throw` in T), and only ESP for them is decrypted here (T+1); ESP for anything else is forwarded as is.
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { AclEntry } from './dataplane/policy.js'

/** Defaults: table 8480 + 2k (and 8481 + 2k), rule preferences 8480 + 10k … + 9, k = the TUN name's trailing number. */
export const ROUTING_DEFAULTS = { tableBase: 8480, preferenceBase: 8480, refreshMs: 30_000, gdoiPort: 848 } as const

/** Default firewall mark of the ESP socket: "gd" and the rule preference base (unique per TUN). */
export const ESP_MARK_BASE = 0x67640000
export const espMarkFor = (preference: number): number => ESP_MARK_BASE + (preference & 0xffff)
/** Metric of the fail-close blackhole routes: the worst there is, so the TUN route (metric 0) wins while it exists. */
export const FAIL_CLOSE_METRIC = 4294967295
/** SaTable slot id of the stand-in ACL before the first registration (fail-close): no SA ever has it. */
export const FAIL_CLOSE_POLICY_ID = 'fail-close: not registered'
/** Rule preferences used above the base. */
export const RULE_SLOTS = { CONTROL_DPORT: 0, CONTROL_SPORT: 1, FROM_TUN: 2, ESP_FROM_WAN: 3, FROM_WAN: 4, DIVERT: 5, END: 9 } as const

export type RoutingErrorCode = 'ERR_ROUTING_IP' | 'ERR_ROUTING_NO_WAN' | 'ERR_ROUTING_CONFIG'

export class RoutingError extends Error {
  override name = 'RoutingError'
  readonly code: RoutingErrorCode
  constructor(code: RoutingErrorCode, detail: string) {
    super(`${code}: ${detail}`)
    this.code = code
  }
}

/** Runs `ip` with these arguments; resolves with stdout, rejects with RoutingError (ERR_ROUTING_IP). */
export type IpRunner = (args: readonly string[]) => Promise<string>

export const runIp: IpRunner = (args) =>
  new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: 10_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new RoutingError('ERR_ROUTING_IP', `ip ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })

// ---- prefixes -----------------------------------------------------------------------------------

interface Prefix {
  readonly addr: number
  readonly len: number
}

function parseIpv4(s: string): number | undefined {
  const p = s.split('.')
  if (p.length !== 4) return undefined
  let v = 0
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) return undefined
    v = v * 256 + Number(x)
  }
  return v
}

const maskOf = (len: number): number => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0)

/** 'a.b.c.d/len', 'a.b.c.d', 'any', 'default' → normalised prefix (host bits cleared); undefined if not IPv4. */
export function parsePrefix(s: string | undefined): Prefix | undefined {
  if (s === undefined || s === 'any' || s === 'default') return { addr: 0, len: 0 }
  const [a, l] = s.split('/')
  const addr = parseIpv4(a ?? '')
  const len = l === undefined ? 32 : Number(l)
  if (addr === undefined || !Number.isInteger(len) || len < 0 || len > 32) return undefined
  return { addr: (addr & maskOf(len)) >>> 0, len }
}

export function formatPrefix(p: Prefix): string {
  const a = p.addr
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${p.len}`
}

/** Is a inside b (or equal)? */
const within = (a: Prefix, b: Prefix): boolean => a.len >= b.len && ((a.addr & maskOf(b.len)) >>> 0) === b.addr
const samePrefix = (a: Prefix, b: Prefix): boolean => a.len === b.len && a.addr === b.addr

function dedupe(ps: readonly Prefix[]): Prefix[] {
  const out: Prefix[] = []
  for (const p of ps) if (!out.some((q) => samePrefix(p, q))) out.push(p)
  return out.sort((x, y) => x.addr - y.addr || x.len - y.len)
}

/** The destinations an ACL protects: every permit entry's destination, and its source when mirrored. */
export function protectedPrefixes(acl: readonly AclEntry[]): string[] {
  const out: Prefix[] = []
  for (const e of acl) {
    if (e.action !== 'permit') continue
    const ends = e.mirrored === false ? [e.dst] : [e.dst, e.src]
    for (const s of ends) {
      const p = parsePrefix(s)
      if (p !== undefined) out.push(p)
    }
  }
  return dedupe(out).map(formatPrefix)
}

// ---- the main table: which destinations are on this GM's own side --------------------------------

/** One element of `ip -j -4 route show table main`. */
export interface IpRouteJson {
  readonly type?: string
  readonly dst?: string
  readonly dev?: string
  readonly nexthops?: readonly { readonly dev?: string }[]
}

/**
 * Destinations the main table reaches through an interface that is neither the WAN nor the TUN (nor
 * lo): the sites behind this GM. Unicast routes only; a multipath route counts as local when none of
 * its next hops leaves by the WAN.
 */
export function localPrefixes(routes: readonly IpRouteJson[], wan: string | null, tun: string): string[] {
  const out: Prefix[] = []
  for (const r of routes) {
    if (r.type !== undefined && r.type !== 'unicast') continue
    const devs = r.dev !== undefined ? [r.dev] : (r.nexthops ?? []).map((n) => n.dev ?? '')
    if (devs.length === 0 || devs.some((d) => d === '' || d === wan || d === tun || d === 'lo')) continue
    const p = parsePrefix(r.dst)
    if (p !== undefined) out.push(p)
  }
  return dedupe(out).map(formatPrefix)
}

// ---- the plan -----------------------------------------------------------------------------------

export interface RouteSpec {
  /** blackhole: fail-close only, at FAIL_CLOSE_METRIC under a unicast route into the TUN. */
  readonly type: 'unicast' | 'throw' | 'blackhole'
  readonly dst: string
  /** Route MTU (unicast routes into the TUN for plaintext): the largest inner packet whose ESP fits. */
  readonly mtu?: number
}

export interface TablePlan {
  /** Table T: plaintext for protected destinations → TUN; the GM's own side → throw (not diverted). */
  readonly out: readonly RouteSpec[]
  /** Table T+1: ESP from the WAN for protected destinations on the GM's own side → TUN. */
  readonly in: readonly RouteSpec[]
}

/** `failClose`: each unicast route into the TUN gets a blackhole twin at FAIL_CLOSE_METRIC (see the top). */
export function planTables(protectedDsts: readonly string[], localDsts: readonly string[], innerMtuBytes?: number, failClose = false): TablePlan {
  const prot = dedupe(protectedDsts.map((s) => parsePrefix(s)).filter((p): p is Prefix => p !== undefined))
  const local = dedupe(localDsts.map((s) => parsePrefix(s)).filter((p): p is Prefix => p !== undefined))
  const out: RouteSpec[] = []
  const mtu = innerMtuBytes !== undefined ? { mtu: innerMtuBytes } : {}
  for (const q of prot) {
    if (local.some((p) => within(q, p))) continue
    // the blackhole first: no moment with a route into the TUN that has nothing under it
    if (failClose) out.push({ type: 'blackhole', dst: formatPrefix(q) })
    out.push({ type: 'unicast', dst: formatPrefix(q), ...mtu })
  }
  for (const p of local) if (prot.some((q) => within(p, q) && !samePrefix(p, q))) out.push({ type: 'throw', dst: formatPrefix(p) })
  const inner: Prefix[] = []
  for (const p of local) for (const q of prot) if (within(p, q)) inner.push(p); else if (within(q, p)) inner.push(q)
  return { out, in: dedupe(inner).map((p) => ({ type: 'unicast', dst: formatPrefix(p) })) }
}

/**
 * The stand-in ACL of a fail-close member before its first registration: a permit entry (one way,
 * bound to no SA) per destination to block, so that the data plane drops and counts (dropNoSa) what
 * the routes send it. Replaced by the downloaded ACL at registration.
 */
export function failCloseAcl(dsts: readonly string[]): AclEntry[] {
  const ps = dedupe(dsts.map((s) => parsePrefix(s)).filter((p): p is Prefix => p !== undefined))
  return ps.map((p) => ({ action: 'permit', src: 'any', dst: formatPrefix(p), mirrored: false, policyId: FAIL_CLOSE_POLICY_ID }))
}

/** ESP sizes of a transform (the data plane's EspSuite has these fields). */
export interface EspOverhead {
  /** SPI, sequence number and IV. */
  readonly headerBytes: number
  readonly icvBytes: number
  readonly blockBytes: number
}

/** The worst transform we support: AES-CBC (16-octet IV and blocks) with HMAC-SHA-512-256 (32-octet ICV). */
export const WORST_ESP_OVERHEAD: EspOverhead = { headerBytes: 24, icvBytes: 32, blockBytes: 16 }

/**
 * The largest inner packet whose ESP tunnel packet (outer IPv4 ‖ ESP header ‖ IV ‖ payload ‖ pad ‖ 2 ‖
 * ICV) fits `pathMtuBytes` for every transform given — the same sum as the data plane's DF check.
 * AES-256-CBC + HMAC-SHA1-96 in 1400 octets: 1342.
 */
export function innerMtuBytes(pathMtuBytes: number, suites: readonly EspOverhead[]): number {
  const fit = (s: EspOverhead): number => {
    const room = pathMtuBytes - 20 - s.headerBytes - s.icvBytes
    return room - (room % s.blockBytes) - 2
  }
  return Math.max(68, Math.min(...(suites.length > 0 ? suites : [WORST_ESP_OVERHEAD]).map(fit)))
}

export interface RuleLayout {
  readonly tun: string
  /** The transit-side interface; null when unknown (then ESP is not diverted, only plaintext). */
  readonly wan: string | null
  readonly tableOut: number
  readonly tableIn: number
  readonly preference: number
  /** GDOI UDP ports never diverted (848, and the configured local/key-server ports). */
  readonly controlPorts: readonly number[]
  /** Firewall mark of the ESP socket's packets (esp-socket.ts): never diverted. Absent: no such rule. */
  readonly espMark?: number
}

/** `ip rule add …` argument arrays, in the order they must be added (the goto target first). */
export function ruleArgs(l: RuleLayout): string[][] {
  const pref = (slot: number): string[] => ['pref', String(l.preference + slot)]
  const end = ['goto', String(l.preference + RULE_SLOTS.END)]
  const rules: string[][] = [[...pref(RULE_SLOTS.END), 'nop']]
  for (const port of l.controlPorts) {
    rules.push([...pref(RULE_SLOTS.CONTROL_DPORT), 'ipproto', 'udp', 'dport', String(port), ...end])
    rules.push([...pref(RULE_SLOTS.CONTROL_SPORT), 'ipproto', 'udp', 'sport', String(port), ...end])
  }
  if (l.espMark !== undefined) rules.push([...pref(RULE_SLOTS.FROM_TUN), 'fwmark', `0x${l.espMark.toString(16)}`, ...end])
  rules.push([...pref(RULE_SLOTS.FROM_TUN), 'iif', l.tun, ...end])
  if (l.wan !== null) {
    rules.push([...pref(RULE_SLOTS.ESP_FROM_WAN), 'iif', l.wan, 'ipproto', 'esp', 'lookup', String(l.tableIn)])
    rules.push([...pref(RULE_SLOTS.FROM_WAN), 'iif', l.wan, ...end])
  }
  rules.push([...pref(RULE_SLOTS.DIVERT), 'lookup', String(l.tableOut)])
  return rules
}

/** Default table and preference base for a TUN name: k = its trailing number (gdoi0 → 0, gdoi3 → 3). */
export function defaultNumbers(tun: string): { tableOut: number; preference: number } {
  const k = Number(/(\d+)$/.exec(tun)?.[1] ?? '0') % 100
  return { tableOut: ROUTING_DEFAULTS.tableBase + 2 * k, preference: ROUTING_DEFAULTS.preferenceBase + 10 * k }
}

// ---- the running routing ------------------------------------------------------------------------

export interface RoutingOptions {
  readonly tun: string
  /** Configured interface the group applies to (config `interface`); null: the route to the first key server. */
  readonly interface: string | null
  readonly keyServers: readonly { readonly address: string; readonly port: number }[]
  readonly localPort: number
  readonly tableOut?: number
  readonly preference?: number
  readonly log: Logger
  readonly ip?: IpRunner
  /** How often LAN routes are re-read (ms); 0 = only on ACL changes. Default 30 s. */
  readonly refreshMs?: number
  /** /proc/sys root (tests). */
  readonly procSys?: string
  /**
   * The largest plaintext packet whose ESP packet still fits the TUN MTU (from the installed SAs'
   * transforms). It becomes the MTU of the routes that send plaintext into the TUN, so that the kernel
   * fragments packets without DF before encryption and answers packets with DF with ICMP "fragmentation
   * needed" itself. Absent / undefined: no route MTU (the data plane's own ICMP is the only guard).
   */
  readonly innerMtuBytes?: () => number | undefined
  /** Fail-close (config `dataPlane.failClose`): blackholes under the TUN routes, kept after a crash. */
  readonly failClose?: boolean
  /** Add the ESP socket's `fwmark M goto END` rule (config `dataPlane.espSocket`). Default false. */
  readonly espSocket?: boolean
  /** Its mark M (config `dataPlane.espMark`); default espMarkFor(preference). */
  readonly espMark?: number
  /** Fail-close: destinations blocked before the first registration (config `dataPlane.blockBeforeRegistration`),
   *  besides those the blackholes of a crashed run name. */
  readonly blockBeforeRegistration?: readonly string[]
}

export interface RoutingStatus {
  readonly tun: string
  readonly wan: string | null
  readonly tableOut: number
  readonly tableIn: number
  readonly preference: number
  readonly failClose: boolean
  /** Fail-close: the destinations blocked before the first registration (configured, and the blackholes
   *  a crashed run left); empty once an ACL was downloaded or in fail-open mode. */
  readonly blockedBeforeRegistration: readonly string[]
  /** The `ip rule` lines this member installed, in preference order ("pref 8480 ipproto udp dport 848 goto 8489"). */
  readonly rules: readonly string[]
  readonly protected: readonly string[]
  readonly local: readonly string[]
  readonly plan: TablePlan
  readonly updates: number
  readonly errors: number
  readonly lastError: string | null
}

type Json = Record<string, unknown>

const routeKey = (r: RouteSpec): string => `${r.type} ${r.dst}${r.mtu !== undefined ? ` mtu ${r.mtu}` : ''}`
/** unicast and throw routes share metric 0 (a replace turns one into the other); blackholes sit apart. */
const slotKey = (r: RouteSpec): string => `${r.type === 'blackhole' ? 'blackhole' : 'metric0'} ${r.dst}`
const isFileExists = (err: unknown): boolean => /File exists/i.test((err as Error).message)

function currentRoutes(json: string): RouteSpec[] {
  const arr = JSON.parse(json === '' ? '[]' : json) as IpRouteJson[]
  return arr.flatMap((r) => {
    const p = parsePrefix(r.dst)
    if (p === undefined) return []
    const mtu = (r as { metrics?: readonly { mtu?: number }[] }).metrics?.find((m) => m.mtu !== undefined)?.mtu
    const type = r.type === 'throw' || r.type === 'blackhole' ? r.type : 'unicast'
    return [{ type, dst: formatPrefix(p), ...(mtu !== undefined ? { mtu } : {}) } as RouteSpec]
  })
}

export class KernelRouting {
  readonly tun: string
  readonly wan: string | null
  readonly tableOut: number
  readonly tableIn: number
  readonly preference: number
  readonly #ip: IpRunner
  readonly #log: Logger
  readonly #o: RoutingOptions
  readonly #layout: RuleLayout
  readonly failClose: boolean
  /** The ESP socket's mark, when its rule is installed (the socket may be opened only then). */
  readonly espMark: number | undefined
  #acl: readonly AclEntry[] = []
  #blockedBeforeRegistration: string[] = []
  #protected: string[] = []
  #local: string[] = []
  #plan: TablePlan = { out: [], in: [] }
  #queue: Promise<void> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #updates = 0
  #errors = 0
  #lastError: string | null = null
  readonly #restore: { path: string; value: string }[] = []

  constructor(o: RoutingOptions, wan: string | null) {
    this.#o = o
    this.#ip = o.ip ?? runIp
    this.#log = o.log
    this.tun = o.tun
    this.wan = wan
    const d = defaultNumbers(o.tun)
    this.tableOut = o.tableOut ?? d.tableOut
    this.tableIn = this.tableOut + 1
    this.preference = o.preference ?? d.preference
    this.failClose = o.failClose ?? false
    const ports = new Set<number>([ROUTING_DEFAULTS.gdoiPort, o.localPort, ...o.keyServers.map((k) => k.port)])
    this.espMark = o.espSocket === true ? (o.espMark ?? espMarkFor(this.preference)) : undefined
    this.#layout = {
      tun: o.tun, wan, tableOut: this.tableOut, tableIn: this.tableIn, preference: this.preference, controlPorts: [...ports].sort((a, b) => a - b),
      ...(this.espMark !== undefined ? { espMark: this.espMark } : {}),
    }
  }

  /**
   * Removes whatever an earlier run left (same preferences and tables), then installs the rules.
   * Fail-close: nothing is removed first (a crashed run's rules and blackholes keep blocking while
   * this one sets up); the rules are completed, the tables converge, and before the first
   * registration (`acl` empty) the stand-in ACL blocks the configured destinations and those the
   * left-over blackholes name. `acl()` is then the ACL the data plane must start with.
   */
  async install(acl: readonly AclEntry[]): Promise<void> {
    let start = acl
    if (this.failClose) {
      const left = currentRoutes(await this.#showTable(this.tableOut)).filter((r) => r.type === 'blackhole').map((r) => r.dst)
      if (acl.length === 0) {
        start = failCloseAcl([...(this.#o.blockBeforeRegistration ?? []), ...left])
        this.#blockedBeforeRegistration = start.map((e) => e.dst ?? '')
      }
      if (left.length > 0) this.#log.warn({ event: 'gdoi.routing.fail-close.left-over', blackholes: left }, 'fail-close: blackhole routes of an earlier run found; kept until the ACL is known')
      await this.#sysctls()
      await this.#ip(['link', 'set', 'dev', this.tun, 'up'])
      await this.#ensureRules()
    } else {
      await this.#removeAll()
      await this.#sysctls() // before the link comes up: no IPv6 autoconfiguration into the TUN
      await this.#ip(['link', 'set', 'dev', this.tun, 'up'])
      for (const r of ruleArgs(this.#layout)) await this.#ip(['-4', 'rule', 'add', ...r])
    }
    this.#acl = start
    await this.#sync()
    const every = this.#o.refreshMs ?? ROUTING_DEFAULTS.refreshMs
    if (every > 0) {
      this.#timer = setInterval(() => this.#enqueue(), every)
      this.#timer.unref()
    }
    this.#log.info(
      { event: 'gdoi.routing.installed', tun: this.tun, wan: this.wan, failClose: this.failClose, blockedBeforeRegistration: this.#blockedBeforeRegistration, tableOut: this.tableOut, tableIn: this.tableIn, preference: this.preference, rules: ruleArgs(this.#layout).map((r) => r.join(' ')) },
      'routing installed',
    )
  }

  /** The ACL the routes follow now (after install: the stand-in ACL of a fail-close member not yet registered). */
  acl(): readonly AclEntry[] {
    return this.#acl
  }

  /** The downloaded ACL changed (registration, rekey with new SATs). */
  update(acl: readonly AclEntry[]): Promise<void> {
    this.#acl = acl
    this.#blockedBeforeRegistration = []
    return this.#enqueue()
  }

  /** Re-reads the LAN routes and re-applies the plan. */
  refresh(): Promise<void> {
    return this.#enqueue()
  }

  status(): RoutingStatus {
    return {
      tun: this.tun,
      wan: this.wan,
      tableOut: this.tableOut,
      tableIn: this.tableIn,
      preference: this.preference,
      failClose: this.failClose,
      blockedBeforeRegistration: this.#blockedBeforeRegistration,
      rules: ruleArgs(this.#layout)
        .sort((x, y) => Number(x[1]) - Number(y[1]))
        .map((r) => r.join(' ')),
      protected: this.#protected,
      local: this.#local,
      plan: this.#plan,
      updates: this.#updates,
      errors: this.#errors,
      lastError: this.#lastError,
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    await this.#queue.catch(() => undefined)
    await this.#removeAll()
    for (const r of this.#restore) await writeFile(r.path, r.value).catch(() => undefined)
    this.#log.info({ event: 'gdoi.routing.removed', tun: this.tun }, 'routing removed')
  }

  /** Stops without removing anything: what a crash leaves (fail-close: the blackholes keep blocking). */
  abandon(): void {
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#log.warn({ event: 'gdoi.routing.abandoned', tun: this.tun, failClose: this.failClose }, 'routing left in place')
  }

  #enqueue(): Promise<void> {
    const next = this.#queue.then(() => (this.#closed ? undefined : this.#sync()))
    this.#queue = next.catch((err: unknown) => {
      this.#errors++
      this.#lastError = (err as Error).message
      this.#log.error({ event: 'gdoi.routing.failed', err: (err as Error).message }, 'routing update failed; will retry')
    })
    return this.#queue
  }

  async #sync(): Promise<void> {
    const main = JSON.parse((await this.#ip(['-j', '-4', 'route', 'show', 'table', 'main'])) || '[]') as IpRouteJson[]
    this.#protected = protectedPrefixes(this.#acl)
    this.#local = localPrefixes(main, this.wan, this.tun)
    const plan = planTables(this.#protected, this.#local, this.#o.innerMtuBytes?.(), this.failClose)
    const changed = (await this.#apply(this.tableOut, plan.out)) + (await this.#apply(this.tableIn, plan.in))
    this.#plan = plan
    if (changed > 0) {
      this.#updates++
      this.#log.info(
        { event: 'gdoi.routing.updated', out: plan.out.map(routeKey), in: plan.in.map(routeKey), protected: this.#protected, local: this.#local },
        'routes into the TUN updated',
      )
    }
  }

  /** Makes the table hold exactly `want`: replace first (no window in which protected traffic leaks), then delete. */
  async #apply(table: number, want: readonly RouteSpec[]): Promise<number> {
    const have = currentRoutes(await this.#showTable(table))
    const haveKeys = new Set(have.map(routeKey))
    const wantSlots = new Set(want.map(slotKey))
    const blackhole = ['metric', String(FAIL_CLOSE_METRIC)]
    let n = 0
    for (const r of want) {
      if (haveKeys.has(routeKey(r))) continue
      const spec =
        r.type === 'throw' ? ['throw', r.dst]
        : r.type === 'blackhole' ? ['blackhole', r.dst, ...blackhole]
        : [r.dst, 'dev', this.tun, ...(r.mtu !== undefined ? ['mtu', String(r.mtu)] : [])]
      await this.#ip(['-4', 'route', 'replace', ...spec, 'table', String(table)])
      n++
    }
    for (const r of have) {
      if (wantSlots.has(slotKey(r))) continue
      // the type always: `del DST` alone would take whichever route of DST comes first (the blackhole too)
      const spec = r.type === 'blackhole' ? ['blackhole', r.dst, ...blackhole] : [r.type, r.dst]
      await this.#ip(['-4', 'route', 'del', ...spec, 'table', String(table)])
      n++
    }
    return n
  }

  /**
   * Fail-close start: adds the rules that are missing without removing the present ones first (no
   * moment without the divert rule). A preference that then holds more rules than it should (a
   * crashed run with another layout: other ports, another WAN) is cleared and re-added.
   */
  async #ensureRules(): Promise<void> {
    const want = ruleArgs(this.#layout)
    for (const r of want) await this.#ip(['-4', 'rule', 'add', ...r]).catch((err: unknown) => { if (!isFileExists(err)) throw err })
    const count = new Map<number, number>()
    for (const r of JSON.parse((await this.#ip(['-j', '-4', 'rule', 'show'])) || '[]') as Json[]) {
      const p = Number(r['priority'])
      if (p >= this.preference && p <= this.preference + RULE_SLOTS.END) count.set(p, (count.get(p) ?? 0) + 1)
    }
    const wanted = (p: number): string[][] => want.filter((r) => Number(r[1]) === p)
    for (const [p, have] of [...count].sort((a, b) => b[0] - a[0])) {
      if (have === wanted(p).length) continue
      this.#log.warn({ pref: p, have, want: wanted(p).length }, 'fail-close: stale routing rules of an earlier run replaced')
      for (let i = 0; i < have; i++) await this.#ip(['-4', 'rule', 'del', 'pref', String(p)]).catch(() => undefined)
      for (const r of wanted(p)) await this.#ip(['-4', 'rule', 'add', ...r])
    }
  }

  /** `ip -j route show table N`; a table that does not exist yet (no route ever added) is empty. */
  async #showTable(table: number): Promise<string> {
    try {
      return await this.#ip(['-j', '-4', 'route', 'show', 'table', String(table)])
    } catch (err) {
      if (/table does not exist/i.test((err as Error).message)) return '[]'
      throw err
    }
  }

  async #removeAll(): Promise<void> {
    const rules = JSON.parse((await this.#ip(['-j', '-4', 'rule', 'show'])) || '[]') as Json[]
    // gotos first, their target (the nop) last, so no rule is ever left pointing nowhere
    const ours = rules
      .map((r) => Number(r['priority']))
      .filter((p) => p >= this.preference && p <= this.preference + RULE_SLOTS.END)
      .sort((a, b) => a - b)
    for (const p of ours) await this.#ip(['-4', 'rule', 'del', 'pref', String(p)]).catch(() => undefined)
    for (const t of [this.tableOut, this.tableIn]) await this.#ip(['-4', 'route', 'flush', 'table', String(t)]).catch(() => undefined)
  }

  /** rp_filter: loose on the TUN and (if strict) on the WAN; IPv6 off on the TUN; warn without forwarding. */
  async #sysctls(): Promise<void> {
    const root = this.#o.procSys ?? '/proc/sys'
    const conf = (dev: string, key: string): string => `${root}/net/ipv4/conf/${dev}/${key}`
    const read = async (path: string): Promise<string | undefined> => (await readFile(path, 'utf8').catch(() => undefined))?.trim()
    const set = async (path: string, value: string, restore: boolean): Promise<void> => {
      const old = await read(path)
      if (old === undefined || old === value) return
      await writeFile(path, value).catch((err: unknown) => this.#log.warn({ path, err: (err as Error).message }, 'cannot set sysctl'))
      if (restore) this.#restore.push({ path, value: old })
    }
    // ESP leaving through the TUN has the site's source address: only a loose reverse-path check passes.
    await set(conf(this.tun, 'rp_filter'), '2', false)
    await set(`${root}/net/ipv6/conf/${this.tun}/disable_ipv6`, '1', false)
    if (this.wan !== null && this.wan !== 'lo') {
      const all = await read(conf('all', 'rp_filter'))
      const dev = await read(conf(this.wan, 'rp_filter'))
      if (all === '1' || dev === '1') {
        // Incoming ESP for the site routes to the TUN in reverse, not to the WAN: strict would drop it.
        // The effective value is max(all, dev): loose on the device wins over strict in `all`.
        await set(conf(this.wan, 'rp_filter'), '2', true)
        this.#log.warn({ dev: this.wan }, 'strict rp_filter on the WAN would drop incoming ESP: set to loose (2) until shutdown')
      }
    }
    if ((await read(`${root}/net/ipv4/ip_forward`)) === '0') {
      this.#log.warn({ sysctl: 'net.ipv4.ip_forward' }, 'IP forwarding is off: traffic of the sites behind this member is not forwarded (sysctl -w net.ipv4.ip_forward=1)')
    }
  }
}

/** The WAN: the configured interface when it exists here, else the device of the route to the first key server. */
export async function resolveWan(o: Pick<RoutingOptions, 'interface' | 'keyServers' | 'tun' | 'log'> & { readonly ip: IpRunner }): Promise<string | null> {
  if (o.interface !== null) {
    const ok = await o.ip(['link', 'show', 'dev', o.interface]).then(() => true, () => false)
    if (ok) return o.interface
    o.log.warn({ interface: o.interface }, 'configured interface not present on this host: using the route to the key server')
  }
  const ks = o.keyServers[0]
  if (ks === undefined) return null
  try {
    const r = JSON.parse(await o.ip(['-j', '-4', 'route', 'get', ks.address])) as { dev?: string }[]
    const dev = r[0]?.dev
    return dev === undefined || dev === o.tun ? null : dev
  } catch {
    return null
  }
}

/** Resolves the WAN and installs the routing for the current ACL. Throws RoutingError (after cleaning up;
 *  in fail-close mode the blackholes and rules stay, as after a crash). */
export async function startRouting(o: RoutingOptions, acl: readonly AclEntry[]): Promise<KernelRouting> {
  const ip = o.ip ?? runIp
  const wan = await resolveWan({ ...o, ip })
  if (wan === null) o.log.warn({ tun: o.tun }, 'no transit interface found: ESP from the network is not diverted into the TUN')
  const r = new KernelRouting({ ...o, ip }, wan)
  try {
    await r.install(acl)
  } catch (err) {
    if (r.failClose) r.abandon()
    else await r.close().catch(() => undefined)
    throw err
  }
  return r
}
