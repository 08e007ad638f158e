// Text rendering of the status object, in the spirit of IOS `show crypto gdoi ks`, `show crypto gdoi
// ks policy`, `show crypto gdoi ks members` and `show crypto isakmp sa` (captures/references.md §2b),
// so people who run GET VPN find the same lines in the same places.
import type { GroupStatus, KsStatus } from './status.js'
import type { ClusterStatus } from './cluster.js'

function row(label: string, value: string | number, width = 31): string {
  return `    ${label.padEnd(width)}: ${value}`
}

function hms(totalSec: number): string {
  const h = Math.floor(totalSec / 3600)
  const m = Math.floor((totalSec % 3600) / 60)
  const s = totalSec % 60
  return [h, m, s].map((x) => String(x).padStart(2, '0')).join(':')
}

function groupInfo(g: GroupStatus): string[] {
  const out = [
    row('Group Name', g.name),
    row('Group Identity', g.identity),
    row('Group Members', g.members.length),
    row('IPSec SA Direction', 'Both'),
  ]
  if (g.kek !== null) {
    out.push(row('Group Rekey Lifetime', `${g.kek.origLifetimeSec} secs`), row('Group Rekey Remaining Lifetime', `${g.kek.remainingSec} secs`))
    out.push(row('Rekey Retransmit Period', `${g.retransmitPeriodSec ?? 0} secs`), row('Rekey Retransmit Attempts', g.retransmitCount ?? 0))
  } else {
    out.push(row('Group Rekey', 'none (no KEK: members re-register before their TEKs expire)'))
  }
  out.push(row('Rekey Transport', g.transport === 'multicast' ? `Multicast to ${g.multicastAddress ?? '?'}` : g.transport === 'unicast' ? 'Unicast' : 'none'))
  out.push(row('Rekeys sent', g.rekeysSent), row('Rekey Sequence Number', g.seq ?? 'n/a'))
  out.push(row('IPSec SA Number', 1), row('IPSec SA Rekey Lifetime', `${g.tekLifetimeSec} secs`))
  if (g.authorization !== null) out.push(row('Authorization', g.authorization.join(', ')))
  out.push('    ACL Configured:')
  for (const a of g.acl) out.push(`        access-list ${a}`)
  return out
}

function groupPolicy(g: GroupStatus): string[] {
  const out = [`  Group ${g.name} (identity ${g.identity}):`, '', `    # of teks : ${g.teks.length}  Seq num : ${g.seq ?? 'n/a'}`]
  const k = g.kek
  if (k !== null) {
    const pair = (a: string, av: string | number, b: string, bv: string | number): string => `      ${a.padEnd(19)}: ${String(av).padEnd(15)} ${b.padEnd(22)}: ${bv}`
    out.push(
      `    KEK POLICY (transport type : ${g.transport === 'multicast' ? 'Multicast' : 'Unicast'})`,
      `      spi                : ${k.spi}`,
      pair('management alg', 'disabled', 'encrypt alg', k.algorithm),
      pair('crypto iv length', k.ivLengthBytes, 'key size', k.keySizeBytes),
      pair('orig life(sec)', k.origLifetimeSec, 'remaining life(sec)', k.remainingSec),
      `      time to rekey (sec): ${k.timeToRekeySec}`,
      pair('sig hash algorithm', `enabled (${k.sigHash})`, 'sig key length', k.sigKeyLengthBytes ?? 'n/a'),
      `      sig size           : ${k.sigKeyBits !== null ? k.sigKeyBits / 8 : 'n/a'}`,
      `      sig key name       : ${k.sigKeyName ?? 'n/a'}`,
      `      acknowledgement    : ${k.ack === 'rfc8263' ? 'RFC 8263' : 'none'}`,
      '',
    )
  }
  for (const t of g.teks) {
    const pair = (a: string, av: string | number, b: string, bv: string | number): string => `      ${a.padEnd(19)}: ${String(av).padEnd(15)} ${b.padEnd(22)}: ${bv}`
    out.push(
      '    TEK POLICY (encaps : ENCAPS_TUNNEL)',
      `      spi                : ${t.spi}`,
      `      transform          : ${t.transform}`,
      pair('alg key size', t.algKeySizeBytes, 'sig key size', t.sigKeySizeBytes),
      pair('orig life(sec)', t.origLifetimeSec, 'remaining life(sec)', t.remainingSec),
      pair('tek life(sec)', t.origLifetimeSec, 'elapsed time(sec)', t.elapsedSec),
      `      time to rekey (sec): ${t.timeToRekeySec ?? 'n/a'}`,
    )
    for (const a of t.acl) out.push(`      access-list        : ${a}`)
    out.push('')
  }
  return out
}

function groupMembers(g: GroupStatus): string[] {
  const out = [`  Group Member Information for group ${g.name}:`]
  if (g.members.length === 0) out.push('    (no members)')
  for (const m of g.members) {
    out.push(
      '',
      `    Group Member ID    : ${m.address}  port: ${m.port}`,
      `      Identity         : ${m.identity}`,
      `      Registered at    : ${m.registeredAt}`,
      `      Last acked seq   : ${m.lastAckSeq ?? 'none'}`,
      `      Missed rekeys    : ${m.missedPushes}`,
    )
    if (m.senderIds.length > 0) out.push(`      Sender IDs       : ${m.senderIds.join(', ')}`)
  }
  return out
}

/** `show crypto gdoi ks redundancy`, for the etcd cluster. */
function clusterInfo(c: ClusterStatus): string[] {
  const out = [
    'KEY SERVER REDUNDANCY (etcd)',
    '',
    row('Local instance', c.instance),
    row('Local role', c.role === 'primary' ? 'Primary' : 'Secondary'),
    row('Primary', c.primary === null ? 'none elected' : `${c.primary}${c.primaryForSec !== null ? ` (for ${hms(c.primaryForSec)})` : ''}`),
    row('Lease', `${c.leaseId ?? 'none'}, TTL ${c.leaseTtlSec} secs, last keepalive ${c.leaseAgeSec !== null ? `${c.leaseAgeSec} secs ago` : 'never'}`),
    row('etcd', `${c.store.available ? 'available' : `UNAVAILABLE${c.store.lastErrorKind !== null ? ` [${c.store.lastErrorKind}]` : ''}`} since ${c.store.since}${c.store.lastError !== null ? ` (${c.store.lastError})` : ''}`),
    row('etcd security', `${c.store.security.tls ? `TLS${c.store.security.clientCert ? ' + client certificate' : ''}` : 'plain http'}, ${c.store.security.user !== null ? `user ${c.store.security.user}` : 'no authentication'}`),
    row('etcd request errors', Object.entries(c.store.errors).map(([k, v]) => `${k} ${v}`).join(', ')),
    row('etcd prefix', c.store.prefix),
    row('Store key fingerprint', c.store.keyFingerprint),
    row('Fenced writes', `${c.fencedWrites} ok, ${c.fenceFailures} refused`),
    '    etcd endpoints:',
  ]
  for (const e of c.store.endpoints) {
    out.push(`      ${e.endpoint.padEnd(28)} ${e.healthy ? `healthy${e.raftLeader ? ' (raft leader)' : ''}, etcd ${e.version ?? '?'}` : `UNHEALTHY${e.error !== null ? `: ${e.error}` : ''}`}`)
  }
  out.push('    Group policy (digest of ACL, transform, lifetimes, rekey settings):')
  for (const p of c.policy) {
    const state = p.matches === null ? 'primary unknown' : p.matches ? 'matches the primary' : `DIFFERS from the primary's ${p.primary ?? ''}${p.differs.length > 0 ? ` (${p.differs.join(', ')})` : ''}`
    out.push(`      ${p.group.padEnd(28)} own ${p.own}, ${state}; serving the ${p.serving === 'primary' ? "primary's" : 'own'} policy`)
  }
  out.push('    Key servers:')
  for (const i of c.instances) {
    const pol = i.policyMatchesPrimary === null ? '' : i.policyMatchesPrimary ? '  policy = primary' : '  POLICY DIFFERS'
    out.push(`      ${(i.primary ? '* ' : '  ') + i.id.padEnd(34)} ${i.listen.padEnd(22)} pid ${String(i.pid).padEnd(8)} up since ${i.startedAt}${pol}`)
  }
  return out
}

/** The whole report: `show crypto gdoi ks` + `ks policy` + `ks members` + `isakmp sa` + counters. */
export function renderStatus(s: KsStatus): string {
  const out: string[] = [
    `Key Server ${s.daemon} ${s.version} (pid ${s.pid}) listening on ${s.listen}, up ${hms(s.uptimeSec)}`,
    `State saved      : ${s.stateSavedAt ?? 'never'}`,
    '',
    'GROUP INFORMATION',
    '',
  ]
  for (const g of s.groups) out.push(...groupInfo(g), '')
  if (s.cluster !== null) out.push(...clusterInfo(s.cluster), '')
  out.push('Key Server Policy:')
  for (const g of s.groups) out.push(...groupPolicy(g))
  out.push('Key Server Members:')
  for (const g of s.groups) out.push(...groupMembers(g), '')
  if (s.pushesInProgress.length > 0) {
    out.push('Rekeys in progress:')
    for (const p of s.pushesInProgress) {
      const acks = p.ackMode ? `awaiting ack from: ${p.awaitingAck.length > 0 ? p.awaitingAck.join(', ') : 'nobody'}` : 'no acknowledgements requested'
      out.push(`  ${p.group} ${p.kind} seq ${p.seq}: retransmissions so far ${p.retransmits}, ${acks}`)
    }
    out.push('')
  }
  out.push(`ISAKMP SAs (half-open ${s.ikeHalfOpen.count} of at most ${s.ikeHalfOpen.limit}):`, `  ${'peer'.padEnd(22)}${'icookie'.padEnd(18)}${'rcookie'.padEnd(18)}${'state'.padEnd(13)}remaining`)
  for (const sa of s.ikeSas) {
    out.push(`  ${sa.peer.padEnd(22)}${sa.icookie.padEnd(18)}${sa.rcookie.padEnd(18)}${sa.state.padEnd(13)}${sa.remainingSec ?? '-'}`)
  }
  out.push('', 'Counters:')
  for (const [k, v] of Object.entries(s.counters)) out.push(`  ${k.padEnd(36)}${v}`)
  return `${out.join('\n')}\n`
}
