// A pasted Cisco IOS key-server configuration → the YAML schema's input (then the same validation and
// defaults as YAML). Understood: crypto isakmp policy/key, crypto keyring, crypto ipsec transform-set,
// crypto ipsec profile, ip access-list extended/standard, access-list N, crypto key generate rsa,
// crypto gdoi group (identity, server local: rekey algorithm/lifetime/retransmit/authentication/
// transport/address/sig-hash, sa ipsec N: profile/match address, address ipv4, authorization address).
// Everything else is ignored with a warning; errors carry the line number.
//
// GET VPN has no words for where a key-server cluster keeps its state, so gdoi-ks adds one block of its
// own (README "Clustering on etcd"), in IOS style: a top-level `gdoi-ks store etcd` with one setting per
// indented line (endpoint, prefix, key-encryption-key, tls, auth, lease-ttl, instance-name,
// request-timeout). It sits in the same file as the pasted GET VPN configuration; a router would
// reject the line, which is the point: it is not a Cisco command.
import {
  iosAccessLists,
  iosGroupIdentity,
  iosIkePolicies,
  iosPreSharedKeys,
  isIpv4,
  isMulticastIpv4,
  startsWith,
  type IosAcl,
  type IosDoc,
  type IosNode,
} from '@gdoi/daemon-kit'
import { KS_DEFAULTS } from './types.js'

type Obj = Record<string, unknown>

interface TransformSet {
  readonly words: readonly string[]
  readonly line: number
}
interface Profile {
  readonly transformSet?: string
  readonly lifetimeSec?: number
  readonly line: number
}

function transformSets(doc: IosDoc): Map<string, TransformSet> {
  const out = new Map<string, TransformSet>()
  for (const n of doc.find(['crypto', 'ipsec', 'transform-set'])) {
    doc.take(n)
    const name = n.words[3]
    if (name === undefined) {
      doc.error(n.line, 'crypto ipsec transform-set: missing name')
      continue
    }
    out.set(name, { words: n.words.slice(4), line: n.line })
    for (const c of n.children) {
      const [cmd, mode] = c.words.map((w) => w.toLowerCase())
      if (cmd === 'mode') {
        doc.take(c)
        if (mode !== 'tunnel') doc.warn(c.line, `mode ${mode ?? ''}: group SAs use tunnel mode with address preservation; ignored`)
      }
    }
  }
  return out
}

function profiles(doc: IosDoc): Map<string, Profile> {
  const out = new Map<string, Profile>()
  for (const n of doc.find(['crypto', 'ipsec', 'profile'])) {
    doc.take(n)
    const name = n.words[3]
    if (name === undefined) {
      doc.error(n.line, 'crypto ipsec profile: missing name')
      continue
    }
    let transformSet: string | undefined
    let lifetimeSec: number | undefined
    for (const c of n.children) {
      if (startsWith(c, ['set', 'transform-set'])) {
        doc.take(c)
        transformSet = c.words[2]
        if (c.words.length > 3) doc.warn(c.line, 'only the first transform set of a profile is used')
      } else if (startsWith(c, ['set', 'security-association', 'lifetime', 'seconds'])) {
        doc.take(c)
        lifetimeSec = Number(c.words[4])
      } else if (startsWith(c, ['set', 'security-association', 'lifetime', 'kilobytes'])) {
        doc.take(c)
        doc.warn(c.line, 'volume lifetimes do not apply to group SAs; ignored')
      }
    }
    out.set(name, {
      ...(transformSet !== undefined ? { transformSet } : {}),
      ...(lifetimeSec !== undefined ? { lifetimeSec } : {}),
      line: n.line,
    })
  }
  return out
}

/** `crypto key generate rsa [general-keys] [label L] [modulus N] [exportable]` → label → bits. */
function rsaKeys(doc: IosDoc): Map<string, { bits: number; line: number }> {
  const out = new Map<string, { bits: number; line: number }>()
  for (const n of doc.find(['crypto', 'key', 'generate', 'rsa'])) {
    doc.take(n)
    const w = n.words.map((x) => x.toLowerCase())
    const li = w.indexOf('label')
    const mi = w.indexOf('modulus')
    const label = li >= 0 ? n.words[li + 1] : undefined
    const bits = mi >= 0 ? Number(w[mi + 1]) : 2048
    if (label === undefined) {
      doc.warn(n.line, 'crypto key generate rsa without a label: not usable for rekey authentication; ignored')
      continue
    }
    out.set(label, { bits, line: n.line })
  }
  return out
}

function aclPath(doc: IosDoc, acls: Map<string, IosAcl>, name: string | undefined, line: number, what: string): IosAcl | undefined {
  if (name === undefined) {
    doc.error(line, `${what}: missing access-list name`)
    return undefined
  }
  const acl = acls.get(name)
  if (!acl) doc.error(line, `${what}: access-list ${name} is not defined`)
  return acl
}

interface ServerLocal {
  readonly group: Obj
  readonly address?: { value: string; line: number }
}

function serverLocal(doc: IosDoc, sl: IosNode, path: string, ctx: Ctx): ServerLocal {
  doc.take(sl)
  const group: Obj = {}
  const kek: Obj = {}
  const rekey: Obj = {}
  let auth: { label: string; line: number } | undefined
  let unicast = false
  let rekeyAcl: { name: string | undefined; line: number } | undefined
  let address: { value: string; line: number } | undefined
  const rekeyLines: IosNode[] = []
  const sas: IosNode[] = []

  for (const c of sl.children) {
    const w = c.words.map((x) => x.toLowerCase())
    if (w[0] === 'rekey') {
      rekeyLines.push(c)
      doc.take(c)
      if (w[1] === 'algorithm') {
        doc.mapPath(`${path}.kek.algorithm`, c.line)
        if (w[2] === 'aes' && (w[3] === '256' || w[3] === undefined)) kek['algorithm'] = 'aes-256-cbc'
        else if (w[2] === 'aes' && w[3] === '128') kek['algorithm'] = 'aes-128-cbc'
        else if (w[2] === '3des') kek['algorithm'] = '3des'
        else doc.error(c.line, `rekey algorithm ${w.slice(2).join(' ')}: use aes 256, aes 128 or 3des`, `${path}.kek.algorithm`)
      } else if (w[1] === 'lifetime' && w[2] === 'seconds') {
        doc.mapPath(`${path}.kek.lifetimeSec`, c.line)
        kek['lifetimeSec'] = Number(w[3])
      } else if (w[1] === 'retransmit') {
        doc.mapPath(`${path}.rekey.retransmitPeriodSec`, c.line)
        doc.mapPath(`${path}.rekey.retransmitCount`, c.line)
        rekey['retransmitPeriodSec'] = Number(w[2])
        if (w[3] === 'number') rekey['retransmitCount'] = Number(w[4])
        else if (w[3] !== undefined) doc.error(c.line, `rekey retransmit ${w[2] ?? ''} ${w[3]}: expected "rekey retransmit P number N"`)
      } else if (w[1] === 'authentication') {
        if (w[2] === 'mypubkey' && w[3] === 'rsa' && c.words[4] !== undefined) auth = { label: c.words[4], line: c.line }
        else if (w[2] === 'no') auth = undefined
        else doc.error(c.line, 'expected "rekey authentication mypubkey rsa LABEL"')
      } else if (w[1] === 'transport') {
        if (w[2] === 'unicast') unicast = true
        else doc.error(c.line, `rekey transport ${w[2] ?? ''}: expected "rekey transport unicast"`)
      } else if (w[1] === 'address' && w[2] === 'ipv4') {
        rekeyAcl = { name: c.words[3], line: c.line }
      } else if (w[1] === 'sig-hash' && w[2] === 'algorithm') {
        doc.mapPath(`${path}.rekey.sigHash`, c.line)
        if (w[3] === 'sha' || w[3] === 'sha1') rekey['sigHash'] = 'sha1'
        else if (w[3] === 'sha256') rekey['sigHash'] = 'sha256'
        else doc.error(c.line, `rekey sig-hash algorithm ${w[3] ?? ''}: use sha or sha256`, `${path}.rekey.sigHash`)
      } else {
        doc.warn(c.line, `ignored: "${c.words.slice(0, 3).join(' ')}"`)
      }
    } else if (w[0] === 'sa' && w[1] === 'ipsec') {
      doc.take(c)
      sas.push(c)
    } else if (w[0] === 'address' && w[1] === 'ipv4' && c.words[2] !== undefined) {
      doc.take(c)
      address = { value: c.words[2], line: c.line }
    } else if (w[0] === 'authorization' && w[1] === 'address' && w[2] === 'ipv4') {
      doc.take(c)
      const acl = aclPath(doc, ctx.acls, c.words[3], c.line, 'authorization address ipv4')
      if (acl) {
        const list: string[] = []
        acl.entries.forEach((e) => {
          if (e.input['action'] !== 'permit') doc.error(e.line, 'deny lines are not supported in an authorization access-list')
          else {
            doc.mapPath(`${path}.authorization[${list.length}]`, e.line)
            list.push(String(e.input['source']))
          }
        })
        group['authorization'] = list
      }
    } else if (w[0] === 'redundancy') {
      doc.takeTree(c)
      doc.warn(c.line, 'COOP key server redundancy is not supported; ignored')
    }
  }

  // sa ipsec N → acl, transform, TEK lifetime
  if (sas.length === 0) doc.error(sl.line, 'no "sa ipsec N" block: the group has no traffic policy', `${path}.acl`)
  if (sas.length > 1) doc.error((sas[1] as IosNode).line, 'only one "sa ipsec" per group is supported')
  const sa = sas[0]
  if (sa) {
    for (const c of sa.children) {
      const w = c.words.map((x) => x.toLowerCase())
      if (w[0] === 'profile') {
        doc.take(c)
        const p = c.words[1] !== undefined ? ctx.profiles.get(c.words[1]) : undefined
        if (!p) {
          doc.error(c.line, `profile ${c.words[1] ?? ''} is not defined (crypto ipsec profile)`, `${path}.transform`)
          continue
        }
        if (p.lifetimeSec !== undefined) {
          group['tekLifetimeSec'] = p.lifetimeSec
          doc.mapPath(`${path}.tekLifetimeSec`, p.line)
        }
        const ts = p.transformSet !== undefined ? ctx.transformSets.get(p.transformSet) : undefined
        if (!ts) doc.error(p.line, `profile ${c.words[1] ?? ''}: transform set ${p.transformSet ?? '(none)'} is not defined`, `${path}.transform`)
        else {
          group['transform'] = ts.words.join(' ')
          doc.mapPath(`${path}.transform`, ts.line)
        }
      } else if (w[0] === 'match' && w[1] === 'address' && w[2] === 'ipv4') {
        doc.take(c)
        const acl = aclPath(doc, ctx.acls, c.words[3], c.line, 'match address ipv4')
        if (acl) {
          if (acl.kind !== 'extended') doc.error(c.line, `access-list ${acl.name} must be an extended access-list`, `${path}.acl`)
          doc.mapPath(`${path}.acl`, acl.line)
          acl.entries.forEach((e, i) => doc.mapPath(`${path}.acl[${i}]`, e.line))
          group['acl'] = acl.entries.map((e) => e.input)
        }
      } else if (w[0] === 'replay' || (w[0] === 'no' && w[1] === 'replay')) {
        doc.take(c)
        doc.warn(c.line, 'anti-replay is enforced by each group member; the key server ignores this line')
      }
    }
    if (group['acl'] === undefined) doc.error(sa.line, 'sa ipsec: no "match address ipv4 ACL" line', `${path}.acl`)
  }

  if (Object.keys(kek).length > 0) group['kek'] = kek
  if (auth === undefined) {
    if (rekeyLines.length > 0) {
      doc.warn(sl.line, 'no "rekey authentication mypubkey rsa LABEL": no KEK is sent, group members get TEKs only and re-register before they expire')
    }
    group['rekey'] = 'none'
  } else {
    doc.mapPath(`${path}.rekey`, auth.line)
    const key = ctx.rsaKeys.get(auth.label)
    if (!key) doc.warn(auth.line, `no "crypto key generate rsa … label ${auth.label}" line: a ${KS_DEFAULTS.signingKeyBits}-bit key will be generated`)
    else doc.mapPath(`${path}.rekey.signingKey`, key.line)
    rekey['signingKey'] = { generate: { bits: key?.bits ?? KS_DEFAULTS.signingKeyBits, label: auth.label } }
    if (unicast) {
      // Cisco acknowledges unicast rekeys (its own ACK); we ask for RFC 8263 ACKs instead: the
      // schema's default for unicast (rekey.ack), so pasted IOS and the equivalent YAML agree.
      rekey['transport'] = 'unicast'
    } else {
      // IOS default: multicast, to the destination of the rekey ACL's permit line.
      rekey['transport'] = 'multicast'
      if (!rekeyAcl) {
        doc.error(sl.line, 'multicast rekey (the IOS default) needs "rekey address ipv4 ACL"; or add "rekey transport unicast"', `${path}.rekey.multicastAddress`)
      } else {
        const acl = aclPath(doc, ctx.acls, rekeyAcl.name, rekeyAcl.line, 'rekey address ipv4')
        const permit = acl?.entries.find((e) => e.input['action'] === 'permit')
        const dst = permit ? String(permit.input['destination']) : undefined
        if (acl && (dst === undefined || !isMulticastIpv4(dst))) {
          doc.error(
            rekeyAcl.line,
            `access-list ${acl.name}: its permit line must have a multicast host destination (e.g. "permit udp host KS eq 848 host 239.192.1.1 eq 848")`,
            `${path}.rekey.multicastAddress`,
          )
        } else if (dst !== undefined) {
          rekey['multicastAddress'] = dst
          doc.mapPath(`${path}.rekey.multicastAddress`, permit?.line ?? rekeyAcl.line)
          // The ACL's source host is the key server (the push source); use it when there is no
          // `address ipv4` line.
          const src = permit ? String(permit.input['source']) : ''
          if (address === undefined && isIpv4(src)) address = { value: src, line: permit?.line ?? rekeyAcl.line }
        }
      }
    }
    group['rekey'] = rekey
  }
  if (unicast && auth === undefined && rekeyAcl) doc.warn(rekeyAcl.line, 'rekey address ignored: no rekey authentication')
  return { group, ...(address ? { address } : {}) }
}

interface Ctx {
  readonly acls: Map<string, IosAcl>
  readonly profiles: Map<string, Profile>
  readonly transformSets: Map<string, TransformSet>
  readonly rsaKeys: Map<string, { bits: number; line: number }>
}

/** `gdoi-ks store etcd` / `gdoi-ks store file` → the `store:` input of the schema (or undefined). */
function storeBlock(doc: IosDoc): Obj | undefined {
  const blocks = doc.find(['gdoi-ks', 'store'])
  if (blocks.length === 0) return undefined
  for (const extra of blocks.slice(1)) doc.error(extra.line, 'more than one "gdoi-ks store" block', 'store')
  const b = blocks[0] as IosNode
  doc.takeTree(b)
  doc.mapPath('store', b.line)
  const kind = b.words[2]?.toLowerCase()
  if (kind === 'file') {
    for (const c of b.children) doc.error(c.line, 'gdoi-ks store file takes no settings', 'store')
    return { kind: 'file' }
  }
  if (kind !== 'etcd') {
    doc.error(b.line, `gdoi-ks store ${b.words[2] ?? ''}: expected "gdoi-ks store etcd" or "gdoi-ks store file"`, 'store')
    return undefined
  }
  const store: Obj = { kind: 'etcd' }
  const endpoints: string[] = []
  const seen = new Map<string, number>()
  const once = (c: IosNode, name: string): boolean => {
    const prev = seen.get(name)
    if (prev !== undefined) {
      doc.error(c.line, `${name} is already set on line ${prev}`)
      return false
    }
    seen.set(name, c.line)
    return true
  }
  /** `word VALUE word VALUE …` → map (lower-case words); an error for an odd count or an unknown word. */
  const pairs = (c: IosNode, from: number, allowed: readonly string[]): Map<string, string> | undefined => {
    const out = new Map<string, string>()
    const w = c.words.slice(from)
    for (let i = 0; i < w.length; i += 2) {
      const k = (w[i] ?? '').toLowerCase()
      const v = w[i + 1]
      if (!allowed.includes(k)) {
        doc.error(c.line, `${c.words.slice(0, from).join(' ')}: "${w[i] ?? ''}" is not one of ${allowed.join(', ')}`)
        return undefined
      }
      if (v === undefined) {
        doc.error(c.line, `${c.words.slice(0, from).join(' ')} ${k}: missing value`)
        return undefined
      }
      out.set(k, v)
    }
    return out
  }
  for (const c of b.children) {
    const cmd = (c.words[0] ?? '').toLowerCase()
    const arg = c.words[1]
    switch (cmd) {
      case 'endpoint':
      case 'endpoints':
        if (arg === undefined) doc.error(c.line, 'endpoint: give one or more etcd client URLs (https://10.0.20.11:2379)', 'store.endpoints')
        for (const e of c.words.slice(1)) {
          doc.mapPath(`store.endpoints[${endpoints.length}]`, c.line)
          endpoints.push(e)
        }
        doc.mapPath('store.endpoints', c.line)
        break
      case 'prefix':
      case 'instance-name': {
        const field = cmd === 'prefix' ? 'prefix' : 'instanceName'
        if (!once(c, cmd)) break
        if (arg === undefined || c.words.length > 2) doc.error(c.line, `${cmd}: expected exactly one value`, `store.${field}`)
        else store[field] = arg
        doc.mapPath(`store.${field}`, c.line)
        break
      }
      case 'lease-ttl':
      case 'request-timeout': {
        const field = cmd === 'lease-ttl' ? 'leaseTtlSec' : 'requestTimeoutSec'
        if (!once(c, cmd)) break
        if (arg === undefined || c.words.length > 2) doc.error(c.line, `${cmd}: expected a number of seconds`, `store.${field}`)
        else store[field] = Number(arg)
        doc.mapPath(`store.${field}`, c.line)
        break
      }
      case 'key-encryption-key': {
        if (!once(c, cmd)) break
        const src = arg?.toLowerCase()
        doc.mapPath('store.keyEncryptionKey', c.line)
        if ((src !== 'file' && src !== 'env') || c.words[2] === undefined || c.words.length > 3) {
          doc.error(c.line, 'expected "key-encryption-key file PATH" or "key-encryption-key env VARIABLE" (never the key itself)', 'store.keyEncryptionKey')
        } else store['keyEncryptionKey'] = { [src]: c.words[2] }
        break
      }
      case 'tls': {
        if (!once(c, cmd)) break
        doc.mapPath('store.tls', c.line)
        const m = pairs(c, 1, ['ca', 'cert', 'key'])
        if (m === undefined) break
        store['tls'] = {
          ...(m.has('ca') ? { caFile: m.get('ca') } : {}),
          ...(m.has('cert') ? { certFile: m.get('cert') } : {}),
          ...(m.has('key') ? { keyFile: m.get('key') } : {}),
        }
        if (!m.has('ca')) doc.error(c.line, 'tls: expected "tls ca PATH [cert PATH key PATH]"', 'store.tls')
        break
      }
      case 'auth': {
        if (!once(c, cmd)) break
        doc.mapPath('store.auth', c.line)
        if (c.words.slice(1).some((w) => w.toLowerCase() === 'password')) {
          doc.error(c.line, 'auth: inline passwords are not accepted; use "password-file PATH" (mode 0600) or "password-env VARIABLE"', 'store.auth')
          break
        }
        const m = pairs(c, 1, ['user', 'password-file', 'password-env'])
        if (m === undefined) break
        store['auth'] = {
          ...(m.has('user') ? { user: m.get('user') } : {}),
          ...(m.has('password-file') ? { passwordFile: m.get('password-file') } : {}),
          ...(m.has('password-env') ? { passwordEnv: m.get('password-env') } : {}),
        }
        if (!m.has('user')) doc.error(c.line, 'auth: expected "auth user NAME password-file PATH" (or password-env VARIABLE)', 'store.auth')
        break
      }
      default:
        doc.error(
          c.line,
          `gdoi-ks store etcd: unknown setting "${c.words[0] ?? ''}" (endpoint, prefix, key-encryption-key, tls, auth, lease-ttl, instance-name, request-timeout)`,
          'store',
        )
    }
  }
  if (endpoints.length === 0) doc.error(b.line, 'gdoi-ks store etcd: no "endpoint URL" line', 'store.endpoints')
  else store['endpoints'] = endpoints
  if (!seen.has('key-encryption-key')) doc.error(b.line, 'gdoi-ks store etcd: no "key-encryption-key file PATH" (or env VARIABLE) line', 'store.keyEncryptionKey')
  return store
}

/** IOS text (as an IosDoc) → KsConfig schema input. */
export function ksFromIos(doc: IosDoc): unknown {
  const ctx: Ctx = { acls: iosAccessLists(doc), profiles: profiles(doc), transformSets: transformSets(doc), rsaKeys: rsaKeys(doc) }
  const input: Obj = {}
  const policies = iosIkePolicies(doc)
  const keys = iosPreSharedKeys(doc)
  if (policies.length === 0) doc.error(1, 'no "crypto isakmp policy" block', 'ike.policies')
  input['ike'] = { policies, preSharedKeys: keys }

  const groups: Obj[] = []
  let listen: { value: string; line: number } | undefined
  for (const g of doc.find(['crypto', 'gdoi', 'group'])) {
    const name = g.words[3]
    const locals = g.children.filter((c) => startsWith(c, ['server', 'local']))
    if (locals.length === 0) {
      if (g.children.some((c) => startsWith(c, ['server', 'address']))) {
        doc.takeTree(g)
        doc.warn(g.line, `crypto gdoi group ${name ?? ''}: a group-member group (server address); the key server ignores it`)
      }
      continue
    }
    doc.take(g)
    const path = `groups[${groups.length}]`
    doc.mapPath(path, g.line)
    doc.mapPath(`${path}.name`, g.line)
    const identity = iosGroupIdentity(doc, g, `${path}.identity`)
    const sl = serverLocal(doc, locals[0] as IosNode, path, ctx)
    if (locals.length > 1) doc.error((locals[1] as IosNode).line, 'more than one "server local" block')
    if (sl.address) {
      if (!isIpv4(sl.address.value)) doc.error(sl.address.line, 'address ipv4: expected an IPv4 address', 'listen.address')
      else if (listen && listen.value !== sl.address.value) {
        doc.error(sl.address.line, `address ipv4 ${sl.address.value}: another group uses ${listen.value}; one key server address per daemon`, 'listen.address')
      } else listen = sl.address
    }
    groups.push({ name, ...(identity ? { identity } : {}), ...sl.group })
  }
  if (groups.length === 0) doc.error(1, 'no "crypto gdoi group NAME" with "server local"', 'groups')
  input['groups'] = groups
  if (listen) {
    input['listen'] = { address: listen.value }
    doc.mapPath('listen.address', listen.line)
  }
  const store = storeBlock(doc)
  if (store !== undefined) input['store'] = store
  return input
}
