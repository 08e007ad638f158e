// Human-readable output: one block per datagram — a header line (frame, relative time, endpoints,
// exchange, M-ID, flags, decryption state, checks), then the payload chain with decoded fields, keys
// learned, notes and errors. Key material appears only where the user's key file let us decrypt it.
import { Doi, IdType, PayloadType, ProtocolId } from '../constants.js'
import { toHex } from '../crypto/bytes.js'
import { formatIp } from '../exchange/ip-address.js'
import type { DataAttribute, Payload, SaAttributePayload, TrafficId } from '../payloads/types.js'
import {
  AttributeTable, attributeName, attributeValue, authAlgorithmName, type AttributeSpace, doiName, espTransformName, icmpTypeName,
  idTypeName, ipProtocolName, kdTypeName, notifyName, opaquePayloadName, payloadName,
} from './names.js'
import type { CaptureRecord, Checks, EspInfo, InnerPacket, LearnedKey, RecordError } from './record.js'

const INDENT = '    '
/** Long non-key byte strings (KE, SIG, certificates) are shortened to this many octets. */
const SHORT_BYTES = 24

function shortHex(b: Uint8Array): string {
  return b.length <= SHORT_BYTES ? toHex(b) : `${toHex(b.subarray(0, SHORT_BYTES))}… (${b.length} bytes)`
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`
}

function attrValue(a: DataAttribute, table: AttributeSpace, fullBytes: boolean): string {
  if (a.tv) return attributeValue(table, a.type, a.value)
  if (table.numeric && a.value.length > 0 && a.value.length <= 4) return attributeValue(table, a.type, a.value.reduce((n, x) => n * 256 + x, 0))
  return fullBytes ? toHex(a.value) : shortHex(a.value)
}

function attrs(list: readonly DataAttribute[], table: AttributeSpace, fullBytes = false): string {
  return list.map((a) => `${attributeName(table, a.type)}=${attrValue(a, table, fullBytes)}`).join(' ')
}

function trafficId(id: TrafficId): string {
  const d = id.data
  let addr: string
  switch (id.idType) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      addr = formatIp(d) ?? toHex(d)
      break
    case IdType.IPV4_ADDR_SUBNET:
    case IdType.IPV6_ADDR_SUBNET:
      addr = `${formatIp(d.subarray(0, d.length / 2)) ?? '?'}/${formatIp(d.subarray(d.length / 2)) ?? '?'}`
      break
    case IdType.IPV4_ADDR_RANGE:
    case IdType.IPV6_ADDR_RANGE:
      addr = `${formatIp(d.subarray(0, d.length / 2)) ?? '?'}-${formatIp(d.subarray(d.length / 2)) ?? '?'}`
      break
    default:
      addr = `${idTypeName(id.idType)} ${toHex(d)}`
  }
  return `${addr}:${id.port === 0 ? '*' : id.port}`
}

function idData(idType: number, d: Uint8Array): string {
  switch (idType) {
    case IdType.IPV4_ADDR:
    case IdType.IPV6_ADDR:
      return formatIp(d) ?? toHex(d)
    case IdType.FQDN:
    case IdType.USER_FQDN:
      return JSON.stringify(new TextDecoder().decode(d))
    case IdType.KEY_ID: {
      const n = d.length > 0 && d.length <= 6 ? d.reduce((acc, x) => acc * 256 + x, 0) : undefined
      return n === undefined ? toHex(d) : `${toHex(d)} (${n})`
    }
    default:
      return trafficId({ idType, port: 0, data: d }).replace(/:\*$/, '')
  }
}

function nested(p: SaAttributePayload): string[] {
  if ('unknown' in p) return [`${payloadName(p.type)} (opaque) ${shortHex(p.body)}`]
  switch (p.type) {
    case PayloadType.SA_KEK:
      return [
        `SAK ${ipProtocolName(p.protocol)} ${trafficId(p.src)} → ${trafficId(p.dst)} SPI ${toHex(p.spi)}`,
        `${INDENT}${attrs(p.attributes, AttributeTable.KEK)}`,
      ]
    case PayloadType.SA_TEK: {
      if (!p.ipsec) return [`SAT protocol ${p.protocolId} ${shortHex(p.raw ?? new Uint8Array(0))}`]
      const t = p.ipsec
      return [
        `SAT ${p.protocolId === 1 ? 'ESP' : p.protocolId === 2 ? 'AH' : `protocol ${p.protocolId}`} ${hex32(t.spi)} ${espTransformName(t.transformId)} ` +
          `${t.protocol === 0 ? 'any' : ipProtocolName(t.protocol)} ${trafficId(t.src)} → ${trafficId(t.dst)}`,
        `${INDENT}${attrs(t.attributes, AttributeTable.IPSEC)}`,
      ]
    }
    case PayloadType.GAP:
      return [`GAP ${attrs(p.attributes, AttributeTable.GAP)}`]
  }
}

/** Lines for one payload (first line carries the name). */
export function payloadLines(p: Payload): string[] {
  if ('unknown' in p) return [`${opaquePayloadName(p.type)}(${p.type}) opaque ${shortHex(p.body)}`]
  switch (p.type) {
    case PayloadType.SA: {
      if (p.kind === 'gdoi') {
        return [`SA DOI ${p.doi} (${doiName(p.doi)}) situation ${p.situation}`, ...p.attributePayloads.flatMap(nested).map((l) => INDENT + l)]
      }
      const out = [`SA DOI ${p.doi} (${doiName(p.doi)}) situation ${toHex(p.situation)}`]
      for (const prop of p.proposals) {
        out.push(`${INDENT}proposal #${prop.number} protocol ${prop.protocolId}${prop.spi.length ? ` SPI ${toHex(prop.spi)}` : ''}`)
        const table = prop.protocolId === ProtocolId.ISAKMP && p.doi !== Doi.ISAKMP ? AttributeTable.IKE : AttributeTable.IPSEC
        for (const t of prop.transforms) {
          const id = prop.protocolId === ProtocolId.IPSEC_ESP ? `${t.transformId}(${espTransformName(t.transformId)})` : String(t.transformId)
          out.push(`${INDENT}${INDENT}transform #${t.number} id ${id}: ${attrs(t.attributes, table)}`)
        }
      }
      return out
    }
    case PayloadType.KE:
      return [`KE ${shortHex(p.data)}`]
    case PayloadType.ID:
      return [`ID ${idTypeName(p.idType)} ${idData(p.idType, p.data)} protocol ${p.protocol} port ${p.port}`]
    case PayloadType.CERT:
      return [`CERT encoding ${p.encoding} ${shortHex(p.data)}`]
    case PayloadType.CR:
      return [`CR type ${p.certType}${p.authority.length ? ` authority ${shortHex(p.authority)}` : ''}`]
    case PayloadType.HASH:
      return [`HASH ${toHex(p.data)}`]
    case PayloadType.SIG:
      return [`SIG ${shortHex(p.data)}`]
    case PayloadType.NONCE:
      return [`NONCE ${toHex(p.data)}`]
    case PayloadType.NOTIFICATION:
      return [`N ${notifyName(p.notifyType)}(${p.notifyType}) DOI ${p.doi} protocol ${p.protocolId}${p.spi.length ? ` SPI ${toHex(p.spi)}` : ''}${p.data.length ? ` data ${shortHex(p.data)}` : ''}`]
    case PayloadType.DELETE:
      return [`D DOI ${p.doi} protocol ${p.protocolId} SPIs ${p.spis.map(toHex).join(',')}`]
    case PayloadType.VENDOR_ID:
      return [`VID ${toHex(p.data)}`]
    case PayloadType.KEY_DOWNLOAD:
      return [
        `KD ${p.packets.length} key packet${p.packets.length === 1 ? '' : 's'}`,
        ...p.packets.map((k) => {
          const table = k.kdType === 1 ? AttributeTable.TEK_KEY : k.kdType === 2 ? AttributeTable.KEK_KEY : AttributeTable.SID
          return `${INDENT}${kdTypeName(k.kdType)}${k.spi.length ? ` SPI ${k.spi.length === 4 ? `0x${toHex(k.spi)}` : toHex(k.spi)}` : ''} ${attrs(k.attributes, table, k.kdType !== 2)}`
        }),
      ]
    case PayloadType.SEQ:
      return [`SEQ ${p.seq}`]
    case PayloadType.GAP:
      return [`GAP ${attrs(p.attributes, AttributeTable.GAP)}`]
  }
}

function checksText(c: Checks): string {
  return Object.entries(c)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ')
}

function learnedText(l: LearnedKey): string {
  switch (l.kind) {
    case 'tek':
      return `TEK ${hex32(l.spi)} ${espTransformName(l.transformId)}${l.keyLengthBits ? `-${l.keyLengthBits}` : ''}` +
        `${l.authAlgorithm === undefined ? '' : `/${authAlgorithmName(l.authAlgorithm)}`} enc ${toHex(l.encKey)}${l.authKey ? ` auth ${toHex(l.authKey)}` : ''}`
    case 'kek':
      return `KEK ${toHex(l.spi)} ${l.cipher} iv ${toHex(l.iv)} key ${toHex(l.key)}${l.sigHash ? ` sig-hash ${l.sigHash}` : ''}` +
        `${l.publicKey ? ` KS public key ${l.publicKey.length} bytes` : ' (no KS public key)'}`
    case 'seq':
      return `KEK ${toHex(l.kekSpi)} last SEQ ${l.seq}`
  }
}

function errorText(e: RecordError): string {
  return `error ${e.code}${e.offset === undefined ? '' : ` at ${e.layer} byte ${e.offset}`}: ${e.detail}`
}

function innerText(i: InnerPacket): string {
  const addrs = i.src && i.dst ? `${i.src} → ${i.dst} ` : ''
  const icmp = i.icmpType === undefined ? '' : ` ${icmpTypeName(i.icmpType)} (type ${i.icmpType} code ${i.icmpCode ?? 0})`
  const ports = i.sport === undefined ? '' : ` ${i.sport} → ${i.dport ?? 0}`
  return `inner ${addrs}${ipProtocolName(i.protocol)}${icmp}${ports}, ${i.length} bytes`
}

function espLines(e: EspInfo): string[] {
  if (!e.inner) return []
  const lines = [innerText(e.inner)]
  const n = e.inner.esp
  if (n) {
    lines.push(`${INDENT}ESP SPI ${hex32(n.spi)} seq ${n.seq} ${n.decrypted ? '[decrypted]' : '[encrypted]'}`)
    lines.push(...espLines(n).map((l) => INDENT + INDENT + l))
  }
  return lines
}

function endpoint(addr: string, port: number | undefined): string {
  return port === undefined ? addr : `${addr}:${port}`
}

/** The block for one record; `t0` is the time of the first record (times print relative to it). */
export function formatRecordText(r: CaptureRecord, t0: number): string {
  const head = [`#${r.frame}`, (r.timeSec - t0).toFixed(6), `${endpoint(r.src, r.sport)} → ${endpoint(r.dst, r.dport)}`]
  const h = r.isakmp
  if (r.kind === 'nat-keepalive') head.push('NAT-keepalive')
  else if (r.kind === 'esp' && r.esp) head.push(`ESP${r.esp.udpEncapsulated ? '-in-UDP' : ''} SPI ${hex32(r.esp.spi)} seq ${r.esp.seq}`)
  else if (h) {
    const flags = [h.flags & 1 ? 'E' : '', h.flags & 2 ? 'C' : '', h.flags & 4 ? 'A' : ''].join('')
    head.push(`${h.exchangeName}(${h.exchange}) M-ID ${hex32(h.messageId)}${flags ? ` flags ${flags}` : ''}`)
  } else head.push(r.kind.toUpperCase())
  if (r.encrypted) head.push(r.decrypted ? '[decrypted]' : '[encrypted]')
  const checks = checksText(r.checks)
  if (checks) head.push(`(${checks})`)
  const lines = [head.join('  ')]
  if (h) lines.push(`${INDENT}cookies ${toHex(h.icookie)} ${toHex(h.rcookie)} length ${h.length}${h.nonEspMarker ? ' (after non-ESP marker)' : ''}`)
  for (const p of r.payloads) lines.push(...payloadLines(p).map((l) => INDENT + l))
  if (r.esp) lines.push(...espLines(r.esp).map((l) => INDENT + l))
  for (const l of r.learned) lines.push(`${INDENT}learned ${learnedText(l)}`)
  for (const n of r.notes) lines.push(`${INDENT}note: ${n}`)
  for (const e of r.errors) lines.push(`${INDENT}${errorText(e)}`)
  return lines.join('\n')
}

export function formatText(records: readonly CaptureRecord[]): string {
  const t0 = records[0]?.timeSec ?? 0
  const withErrors = records.filter((r) => r.errors.length > 0).length
  const encrypted = records.filter((r) => r.encrypted).length
  const decrypted = records.filter((r) => r.decrypted).length
  const blocks = records.map((r) => formatRecordText(r, t0))
  blocks.push(`${records.length} datagram${records.length === 1 ? '' : 's'}, ${decrypted} of ${encrypted} encrypted decrypted, ${withErrors} with errors`)
  return `${blocks.join('\n')}\n`
}
