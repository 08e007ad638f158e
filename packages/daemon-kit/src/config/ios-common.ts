// IOS commands both daemons understand, translated into the YAML schema's input shape (so both formats
// go through the same validation and defaults): `crypto isakmp policy`, `crypto isakmp key`,
// `crypto keyring … pre-shared-key`, access lists, `crypto gdoi group … identity`.
import { isIpv4, netmaskLength, wildcardLength, PROTOCOLS } from './net.js'
import { startsWith, type IosDoc, type IosNode } from './ios-tree.js'

type Obj = Record<string, unknown>

/** `crypto isakmp policy N` blocks → `ike.policies` entries. */
export function iosIkePolicies(doc: IosDoc, basePath = 'ike.policies'): Obj[] {
  const out: Obj[] = []
  for (const n of doc.find(['crypto', 'isakmp', 'policy'])) {
    doc.take(n)
    const prio = Number(n.words[3])
    if (!Number.isInteger(prio) || prio < 1 || prio > 10000) {
      doc.error(n.line, 'crypto isakmp policy: priority must be 1..10000')
      continue
    }
    const path = `${basePath}[${out.length}]`
    doc.mapPath(path, n.line)
    const p: Obj = { priority: prio }
    let sawEncr = false
    let sawGroup = false
    let sawAuth = false
    for (const c of n.children) {
      const [cmd, a1, a2] = c.words.map((w) => w.toLowerCase())
      if (cmd === 'encr' || cmd === 'encryption') {
        doc.take(c)
        sawEncr = true
        doc.mapPath(`${path}.encryption`, c.line)
        if (a1 === 'aes') {
          const bits = a2 ?? '128'
          if (bits === '128' || bits === '256') p['encryption'] = `aes-${bits}`
          else doc.error(c.line, `encr aes ${bits}: only AES-128 and AES-256 are supported`, `${path}.encryption`)
        } else if (a1 === '3des') {
          p['encryption'] = '3des'
        } else {
          doc.error(c.line, `encr ${a1 ?? ''}: not supported (use aes 256, aes 128 or 3des)`, `${path}.encryption`)
        }
      } else if (cmd === 'hash') {
        doc.take(c)
        doc.mapPath(`${path}.hash`, c.line)
        if (a1 === 'sha') p['hash'] = 'sha1'
        else if (a1 === 'sha256') p['hash'] = 'sha256'
        else doc.error(c.line, `hash ${a1 ?? ''}: not supported (use sha or sha256)`, `${path}.hash`)
      } else if (cmd === 'authentication') {
        doc.take(c)
        sawAuth = true
        doc.mapPath(`${path}.authentication`, c.line)
        if (a1 === 'pre-share' || a1 === 'rsa-sig') p['authentication'] = a1
        else doc.error(c.line, `authentication ${a1 ?? ''}: not supported (use pre-share or rsa-sig)`, `${path}.authentication`)
      } else if (cmd === 'group') {
        doc.take(c)
        sawGroup = true
        doc.mapPath(`${path}.group`, c.line)
        p['group'] = Number(a1)
      } else if (cmd === 'lifetime') {
        doc.take(c)
        doc.mapPath(`${path}.lifetimeSec`, c.line)
        p['lifetimeSec'] = Number(a1)
      }
    }
    // IOS defaults: DES, SHA-1, rsa-sig, group 1, 86400 s. DES and group 1 are not supported here.
    if (!sawEncr) doc.error(n.line, 'no "encr" line: the IOS default (DES) is not supported; add "encr aes 256"', `${path}.encryption`)
    if (!sawGroup) doc.error(n.line, 'no "group" line: the IOS default (group 1) is not supported; add "group 5" or "group 14"', `${path}.group`)
    if (!sawAuth) p['authentication'] = 'rsa-sig'
    out.push(p)
  }
  return out
}

/** Peer address of `address A [MASK]`: a lone 0.0.0.0 means any peer (IOS wildcard key). */
function peerFrom(doc: IosDoc, node: IosNode, addr: string | undefined, mask: string | undefined): string | undefined {
  if (addr === undefined || !isIpv4(addr)) {
    doc.error(node.line, 'expected "address A.B.C.D [MASK]"')
    return undefined
  }
  if (mask === undefined || !isIpv4(mask)) return addr === '0.0.0.0' ? 'any' : addr
  const len = netmaskLength(mask)
  if (len === undefined) {
    doc.error(node.line, 'the netmask is not contiguous')
    return undefined
  }
  return len === 0 ? 'any' : `${addr}/${len}`
}

/** `crypto isakmp key [0] K address A [MASK]` and `crypto keyring` `pre-shared-key address A [MASK] key K`
 *  → `ike.preSharedKeys`. Error messages never repeat the key. */
export function iosPreSharedKeys(doc: IosDoc, basePath = 'ike.preSharedKeys'): Obj[] {
  const out: Obj[] = []
  const add = (node: IosNode, key: string, peer: string): void => {
    doc.mapPath(`${basePath}[${out.length}]`, node.line)
    out.push({ peer, key })
  }
  for (const n of doc.find(['crypto', 'isakmp', 'key'])) {
    doc.take(n)
    let i = 3
    const w = n.words
    if (w[i] === '6' || w[i] === '7') {
      doc.error(n.line, `crypto isakmp key: an encrypted (type ${w[i]}) key can't be used; paste the clear-text key or use keyFile in YAML`)
      continue
    }
    if (w[i] === '0') i++
    const key = w[i]
    const kw = w[i + 1]?.toLowerCase()
    if (key === undefined || kw === undefined) {
      doc.error(n.line, 'crypto isakmp key: expected "crypto isakmp key KEY address A.B.C.D [MASK]"')
      continue
    }
    if (kw !== 'address') {
      doc.error(n.line, `crypto isakmp key … ${kw}: only "address" peers are supported`)
      continue
    }
    const peer = peerFrom(doc, n, w[i + 2], w[i + 3])
    if (peer !== undefined) add(n, key, peer)
  }
  for (const kr of doc.find(['crypto', 'keyring'])) {
    doc.take(kr)
    for (const c of kr.children) {
      if (!startsWith(c, ['pre-shared-key', 'address'])) continue
      doc.take(c)
      const w = c.words
      const ki = w.findIndex((x, idx) => idx >= 2 && x.toLowerCase() === 'key')
      const key = ki >= 0 ? w[ki + 1] : undefined
      if (key === undefined || key === '6' || key === '7') {
        doc.error(c.line, 'pre-shared-key: expected "pre-shared-key address A [MASK] key KEY" with a clear-text key')
        continue
      }
      const peer = peerFrom(doc, c, w[2], ki > 3 ? w[3] : undefined)
      if (peer !== undefined) add(c, key, peer)
    }
  }
  return out
}

export interface IosAce {
  readonly input: Obj
  readonly line: number
}
export interface IosAcl {
  readonly name: string
  readonly kind: 'extended' | 'standard'
  readonly line: number
  readonly entries: readonly IosAce[]
}

/** `any` | `host A` | `A WILDCARD` (| `A` alone in standard ACLs) starting at words[i]. */
function addressSpec(doc: IosDoc, node: IosNode, w: readonly string[], i: number, standard: boolean): { value: string; next: number } | undefined {
  const a = w[i]?.toLowerCase()
  if (a === 'any') return { value: 'any', next: i + 1 }
  if (a === 'host') {
    const h = w[i + 1]
    if (h === undefined || !isIpv4(h)) {
      doc.error(node.line, 'expected an address after "host"')
      return undefined
    }
    return { value: h, next: i + 2 }
  }
  if (a === 'object-group' || a === 'addrgroup') {
    doc.error(node.line, 'object-group in an ACL is not supported; list the addresses')
    return undefined
  }
  if (a === undefined || !isIpv4(a)) {
    doc.error(node.line, `expected "any", "host A" or "A WILDCARD"${a === undefined ? '' : `, not "${a}"`}`)
    return undefined
  }
  const wc = w[i + 1]
  if (wc === undefined || !isIpv4(wc)) {
    if (standard) return { value: a, next: i + 1 }
    doc.error(node.line, `expected a wildcard mask after ${a}`)
    return undefined
  }
  const len = wildcardLength(wc)
  if (len === undefined) {
    doc.error(node.line, `wildcard ${wc} is not contiguous; a GDOI policy can only carry a prefix`)
    return undefined
  }
  return { value: len === 0 ? 'any' : `${a}/${len}`, next: i + 2 }
}

function portSpec(doc: IosDoc, node: IosNode, w: readonly string[], i: number): { port?: string; next: number } | undefined {
  const op = w[i]?.toLowerCase()
  if (op === 'eq') {
    const p = w[i + 1]
    if (p === undefined) {
      doc.error(node.line, 'expected a port after "eq"')
      return undefined
    }
    return { port: p, next: i + 2 }
  }
  if (op === 'range' || op === 'gt' || op === 'lt' || op === 'neq') {
    doc.error(node.line, `port operator "${op}" can't be expressed in a GDOI policy; use "eq"`)
    return undefined
  }
  return { next: i }
}

/** Parses `[seq] permit|deny PROTO SRC [eq P] DST [eq P] [log]` (extended) or `permit|deny SRC` (standard). */
function parseAce(doc: IosDoc, node: IosNode, words: readonly string[], standard: boolean): Obj | undefined {
  let i = 0
  if (/^\d+$/.test(words[0] ?? '')) i++
  const action = words[i]?.toLowerCase()
  if (action !== 'permit' && action !== 'deny') {
    doc.error(node.line, 'expected "permit" or "deny"')
    return undefined
  }
  i++
  if (standard) {
    const src = addressSpec(doc, node, words, i, true)
    if (!src) return undefined
    return { action, source: src.value }
  }
  const protoWord = words[i]?.toLowerCase()
  let protocol: string | number
  if (protoWord !== undefined && PROTOCOLS[protoWord] !== undefined) protocol = protoWord
  else if (protoWord !== undefined && /^\d+$/.test(protoWord)) protocol = Number(protoWord)
  else {
    doc.error(node.line, `unknown protocol "${protoWord ?? ''}"`)
    return undefined
  }
  i++
  const src = addressSpec(doc, node, words, i, false)
  if (!src) return undefined
  const sp = portSpec(doc, node, words, src.next)
  if (!sp) return undefined
  const dst = addressSpec(doc, node, words, sp.next, false)
  if (!dst) return undefined
  const dp = portSpec(doc, node, words, dst.next)
  if (!dp) return undefined
  const rest = words.slice(dp.next).filter((x) => !/^log(-input)?$/i.test(x))
  if (rest.length > 0) {
    doc.error(node.line, `"${rest.join(' ')}" can't be expressed in a GDOI policy`)
    return undefined
  }
  const ace: Obj = { action, protocol, source: src.value, destination: dst.value }
  if (sp.port !== undefined) ace['sourcePort'] = sp.port
  if (dp.port !== undefined) ace['destinationPort'] = dp.port
  return ace
}

/** Every named (`ip access-list extended|standard NAME`) and numbered (`access-list N …`) ACL. */
export function iosAccessLists(doc: IosDoc): Map<string, IosAcl> {
  const acls = new Map<string, { name: string; kind: 'extended' | 'standard'; line: number; entries: IosAce[] }>()
  for (const n of doc.find(['ip', 'access-list'])) {
    const kind = n.words[2]?.toLowerCase()
    const name = n.words[3]
    if ((kind !== 'extended' && kind !== 'standard') || name === undefined) continue
    doc.take(n)
    const acl = { name, kind: kind as 'extended' | 'standard', line: n.line, entries: [] as IosAce[] }
    acls.set(name, acl)
    for (const c of n.children) {
      if (c.words[0]?.toLowerCase() === 'remark') {
        doc.take(c)
        continue
      }
      doc.take(c)
      const ace = parseAce(doc, c, c.words, acl.kind === 'standard')
      if (ace) acl.entries.push({ input: ace, line: c.line })
    }
  }
  for (const n of doc.find(['access-list'])) {
    const name = n.words[1] ?? ''
    const num = Number(name)
    if (!Number.isInteger(num)) continue
    doc.take(n)
    if (n.words[2]?.toLowerCase() === 'remark') continue
    const kind = (num >= 1 && num <= 99) || (num >= 1300 && num <= 1999) ? 'standard' : 'extended'
    let acl = acls.get(name)
    if (!acl) {
      acl = { name, kind, line: n.line, entries: [] }
      acls.set(name, acl)
    }
    const ace = parseAce(doc, n, n.words.slice(2), kind === 'standard')
    if (ace) acl.entries.push({ input: ace, line: n.line })
  }
  return acls
}

/** `identity number N` | `identity address ipv4 A` under `crypto gdoi group`. */
export function iosGroupIdentity(doc: IosDoc, group: IosNode, path: string): Obj | undefined {
  const ids = group.children.filter((c) => startsWith(c, ['identity']))
  if (ids.length === 0) {
    doc.error(group.line, 'no "identity number N" or "identity address ipv4 A" line', path)
    return undefined
  }
  const id = ids[0] as IosNode
  doc.take(...ids)
  if (ids.length > 1) doc.error((ids[1] as IosNode).line, 'more than one identity line', path)
  doc.mapPath(path, id.line)
  const w = id.words.map((x) => x.toLowerCase())
  if (w[1] === 'number' && w[2] !== undefined && /^\d+$/.test(w[2])) return { number: Number(w[2]) }
  if (w[1] === 'address' && w[2] === 'ipv4' && id.words[3] !== undefined) return { address: id.words[3] }
  doc.error(id.line, 'expected "identity number N" or "identity address ipv4 A.B.C.D"', path)
  return undefined
}
