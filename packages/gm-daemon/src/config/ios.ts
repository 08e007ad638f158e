// A pasted Cisco IOS group-member configuration → the GM YAML schema's input. Understood:
// crypto isakmp policy/key, crypto keyring, crypto gdoi group (identity, server address ipv4,
// client registration interface), crypto map NAME N gdoi / set group, crypto map NAME gdoi fail-close /
// activate (→ dataPlane.failClose), interface (ip address, crypto map). Everything else is ignored with
// a warning; errors carry the line number.
import {
  iosGroupIdentity,
  iosIkePolicies,
  iosPreSharedKeys,
  isIpv4,
  startsWith,
  type IosDoc,
  type IosNode,
} from '@gdoi/daemon-kit'

type Obj = Record<string, unknown>

interface Iface {
  readonly name: string
  readonly node: IosNode
  readonly address?: { value: string; line: number }
  readonly cryptoMap?: string
}

function interfaces(doc: IosDoc): Map<string, Iface> {
  const out = new Map<string, Iface>()
  for (const n of doc.find(['interface'])) {
    const name = n.words.slice(1).join(' ')
    let address: Iface['address']
    let addressNode: IosNode | undefined
    let cryptoMap: string | undefined
    for (const c of n.children) {
      if (startsWith(c, ['ip', 'address']) && c.words[2] !== undefined && isIpv4(c.words[2])) {
        address = { value: c.words[2], line: c.line }
        addressNode = c
      } else if (startsWith(c, ['crypto', 'map']) && c.words[2] !== undefined) {
        cryptoMap = c.words[2]
        doc.take(n, c)
      }
    }
    if (cryptoMap !== undefined && addressNode) doc.take(addressNode)
    out.set(name, { name, node: n, ...(address ? { address } : {}), ...(cryptoMap !== undefined ? { cryptoMap } : {}) })
  }
  return out
}

/** `crypto map NAME SEQ gdoi` / `set group G` → map name → group names. */
function gdoiMaps(doc: IosDoc): Map<string, { groups: string[]; line: number }> {
  const out = new Map<string, { groups: string[]; line: number }>()
  for (const n of doc.find(['crypto', 'map'])) {
    if (n.words[4]?.toLowerCase() !== 'gdoi') continue
    const name = n.words[2] ?? ''
    doc.take(n)
    const entry = out.get(name) ?? { groups: [], line: n.line }
    for (const c of n.children) {
      if (startsWith(c, ['set', 'group']) && c.words[2] !== undefined) {
        doc.take(c)
        entry.groups.push(c.words[2])
      }
    }
    out.set(name, entry)
  }
  return out
}

/**
 * `crypto map NAME gdoi fail-close` with `activate` under it → the map names in fail-close mode (an
 * inactive block is Cisco's way to stage it). Its `match address` ACL (traffic let through in clear
 * before registration) is not supported: left for the "ignored" warning.
 */
function failCloseMaps(doc: IosDoc): Map<string, number> {
  const out = new Map<string, number>()
  for (const n of doc.find(['crypto', 'map'])) {
    if (n.words[3]?.toLowerCase() !== 'gdoi' || n.words[4]?.toLowerCase() !== 'fail-close') continue
    const activate = n.children.find((c) => startsWith(c, ['activate']))
    doc.take(n, ...(activate ? [activate] : []))
    if (activate) out.set(n.words[2] ?? '', n.line)
    else doc.warn(n.line, `crypto map ${n.words[2] ?? ''} gdoi fail-close without "activate": fail-open`)
  }
  return out
}

/** IOS text (as an IosDoc) → GmConfig schema input. */
export function gmFromIos(doc: IosDoc): unknown {
  const input: Obj = {}
  const policies = iosIkePolicies(doc)
  const keys = iosPreSharedKeys(doc)
  if (policies.length === 0) doc.error(1, 'no "crypto isakmp policy" block', 'ike.policies')
  input['ike'] = { policies, preSharedKeys: keys }

  const ifaces = interfaces(doc)
  const maps = gdoiMaps(doc)
  const groups = new Map<string, IosNode>()
  for (const g of doc.find(['crypto', 'gdoi', 'group'])) {
    if (!g.children.some((c) => startsWith(c, ['server', 'address']))) continue
    groups.set(g.words[3] ?? '', g)
  }

  // Which group: the one a crypto map applies to an interface; else the only one.
  const applied: { group: string; iface: Iface }[] = []
  for (const i of ifaces.values()) {
    const m = i.cryptoMap !== undefined ? maps.get(i.cryptoMap) : undefined
    for (const gname of m?.groups ?? []) if (groups.has(gname)) applied.push({ group: gname, iface: i })
  }
  let chosen: { group: IosNode; iface?: Iface } | undefined
  const appliedGroups = [...new Set(applied.map((a) => a.group))]
  if (appliedGroups.length > 1) {
    doc.error(applied[1]?.iface.node.line ?? 1, `groups ${appliedGroups.join(', ')} are applied to interfaces; one gdoi-gm serves one group`, 'group')
  } else if (appliedGroups.length === 1) {
    const a = applied[0]
    if (a) chosen = { group: groups.get(a.group) as IosNode, iface: a.iface }
    if (applied.length > 1) doc.warn(applied[1]?.iface.node.line ?? 1, `group ${a?.group ?? ''} is applied to several interfaces; using ${a?.iface.name ?? ''}`)
  } else if (groups.size === 1) {
    chosen = { group: [...groups.values()][0] as IosNode }
    doc.warn(chosen.group.line, 'no crypto map applies this group to an interface; set "interface" and "local.address" on the command line or in YAML')
  } else if (groups.size > 1) {
    doc.error(1, `${groups.size} group-member groups and none applied to an interface with a crypto map`, 'group')
  } else {
    doc.error(1, 'no "crypto gdoi group NAME" with "server address ipv4 A"', 'group')
  }
  if (!chosen) {
    doc.suppress('keyServers')
    return input
  }

  const g = chosen.group
  doc.take(g)
  doc.mapPath('group', g.line)
  doc.mapPath('group.name', g.line)
  const identity = iosGroupIdentity(doc, g, 'group.identity')
  input['group'] = { name: g.words[3], ...(identity ? { identity } : {}) }

  const servers: string[] = []
  let regIface: { name: string; line: number } | undefined
  for (const c of g.children) {
    const w = c.words.map((x) => x.toLowerCase())
    if (w[0] === 'server' && w[1] === 'address') {
      doc.take(c)
      if (w[2] !== 'ipv4' || c.words[3] === undefined) {
        doc.error(c.line, 'expected "server address ipv4 A.B.C.D"', `keyServers[${servers.length}]`)
        continue
      }
      doc.mapPath(`keyServers[${servers.length}]`, c.line)
      servers.push(c.words[3])
    } else if (w[0] === 'client' && w[1] === 'registration' && w[2] === 'interface' && c.words[3] !== undefined) {
      doc.take(c)
      regIface = { name: c.words.slice(3).join(' '), line: c.line }
    }
  }
  if (servers.length > 0) input['keyServers'] = servers

  // Local address: `client registration interface X`'s address, else the crypto-map interface's.
  const srcIface = regIface ? ifaces.get(regIface.name) : chosen.iface
  if (regIface && !srcIface) doc.error(regIface.line, `interface ${regIface.name} is not defined`, 'local.address')
  if (srcIface?.address) {
    input['local'] = { address: srcIface.address.value }
    doc.mapPath('local.address', srcIface.address.line)
    doc.take(srcIface.node, ...srcIface.node.children.filter((c) => startsWith(c, ['ip', 'address'])))
  }
  if (chosen.iface) {
    input['interface'] = chosen.iface.name
    doc.mapPath('interface', chosen.iface.node.line)
  }
  const failCloseMap = failCloseMaps(doc)
  const failCloseLine = chosen.iface?.cryptoMap !== undefined ? failCloseMap.get(chosen.iface.cryptoMap) : undefined
  if (failCloseLine !== undefined) {
    input['dataPlane'] = { failClose: true }
    doc.mapPath('dataPlane', failCloseLine)
  }
  return input
}
