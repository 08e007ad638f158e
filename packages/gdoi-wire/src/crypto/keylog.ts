// Key export for offline decryption of captures: Wireshark key-table lines, and our own keylog
// format, which the capture decoder (gdoi-pcap) reads back with parseKeylog(). Pure formatting: the
// daemons decide whether and where to write (never by default — these lines are secrets).
//
// ── gdoi keylog format, version 1 ──────────────────────────────────────────────────────────────
// UTF-8 text, one record per line. Blank lines and lines starting with '#' are ignored. Tokens are
// separated by spaces or tabs. After the tag and its positional fields come NAME=VALUE fields in any
// order; unknown NAMEs are ignored (newer writers may add fields), a repeated NAME is an error. Hex is
// written lowercase without 0x and read case-insensitively. Lines with an unknown upper-case tag are
// skipped, so new record kinds do not break old readers.
//
//   IKEV1 <icookie:16 hex> <rcookie:16 hex> ENC=<cipher> KEY=<hex> HASH=<hash>
//         [SKEYID=<hex>] [SKEYID_D=<hex>] [SKEYID_A=<hex>] [SKEYID_E=<hex>]
//       One phase-1 SA. KEY = Ka, the phase-1 CBC key (spec §3.3). HASH = the negotiated hash (the
//       IV rules of §3.4 need it). SKEYID lets a decoder check the Main Mode HASH_I/HASH_R (MM5/MM6,
//       RFC 2409 §5); SKEYID_A the PULL / Quick Mode / Informational HASH payloads.
//   KEK <kek spi:32 hex> ALG=<cipher> IV=<hex> KEY=<hex> [SIGHASH=<hash>] [SIGKEY=<hex>]
//       One rekey SA: push cookies = SPI; IV and KEY are KEK_ALGORITHM_KEY split (IV first);
//       SIGKEY = the KS public key as DER SubjectPublicKeyInfo; SIGHASH = SIG_HASH_ALGORITHM.
//   ESP <spi:8 hex> TRANSFORM=<ESP transform id> [KEYBITS=<n>] [ENCKEY=<hex>] [AUTH=<auth alg id>]
//       [AUTHKEY=<hex>] [SRC=<address|*>] [DST=<address|*>]
//       One TEK: numbers are the SAT attribute values (decimal); ENCKEY = TEK_ALGORITHM_KEY as
//       delivered (counter modes: key ‖ salt), AUTHKEY = TEK_INTEGRITY_KEY.
//   <icookie:16 hex>,<key hex>
//       A Wireshark uat:ikev1_decryption_table line (fields may be "quoted"); read as an IKEV1
//       record with only icookie and KEY.
// <cipher> is one of des-cbc des-ede3-cbc aes-128-cbc aes-192-cbc aes-256-cbc;
// <hash> one of md5 sha1 sha256 sha384 sha512.
//
// Example:
//   IKEV1 a91b9d5035d8fc4f 272325e695db688b ENC=des-ede3-cbc KEY=80cd…fe69 HASH=sha1 SKEYID=1c2d…77a0 SKEYID_A=8354…dc49
//   KEK 61626364656667683031323334353637 ALG=des-ede3-cbc IV=4956495649564956 KEY=4142…5758 SIGHASH=sha1 SIGKEY=3081…0001
//   ESP 1122aabb TRANSFORM=3 ENCKEY=4142…5758 AUTH=2 AUTHKEY=3132…3930 SRC=172.19.137.42 DST=239.192.1.1
import { EspTransform, AuthAlgorithm } from '../constants.js'
import { isCbcCipherName, isHashName, type CbcCipherName, type HashName } from './algorithms.js'
import { fromHex, requireLength, toHex } from './bytes.js'
import { CryptoError, KeylogError } from './errors.js'
import { keyHolder } from './key-holder.js'

/** The ESP SA fields a key table needs (a structural subset of the ESP workstream's EspSaParams). */
export interface EspSaKeys {
  readonly spi: number
  readonly transformId: number
  readonly keyLengthBits?: number
  readonly authAlgorithm?: number
  readonly encKey: Uint8Array
  readonly authKey?: Uint8Array
  readonly src?: string // '*' when absent
  readonly dst?: string
}

export interface Ikev1Keys {
  readonly icookie: Uint8Array
  readonly rcookie: Uint8Array
  readonly cipher: CbcCipherName
  readonly encKey: Uint8Array
  readonly hash: HashName
  readonly skeyid?: Uint8Array
  readonly skeyidD?: Uint8Array
  readonly skeyidA?: Uint8Array
  readonly skeyidE?: Uint8Array
}

export interface KeylogKekKeys {
  readonly spi: Uint8Array // 16 octets
  readonly cipher: CbcCipherName
  readonly iv: Uint8Array
  readonly key: Uint8Array
  readonly sigHash?: HashName
  readonly sigKey?: Uint8Array // DER SPKI
}

/** A parsed IKEV1 record; from a Wireshark line only icookie and encKey are known. */
export type Ikev1KeylogRecord = { readonly kind: 'ikev1'; readonly line: number } & Partial<Ikev1Keys> &
  Pick<Ikev1Keys, 'icookie' | 'encKey'>
export type KekKeylogRecord = { readonly kind: 'kek'; readonly line: number } & KeylogKekKeys
export type EspKeylogRecord = { readonly kind: 'esp'; readonly line: number } & EspSaKeys
export type KeylogRecord = Ikev1KeylogRecord | KekKeylogRecord | EspKeylogRecord

// ── Wireshark tables ─────────────────────────────────────────────────────────────────────────────

/** A uat:ikev1_decryption_table line: "<icookie hex>,<Ka hex>" (spec §8.1). */
export function ikev1DecryptionLine(icookie: Uint8Array, encKey: Uint8Array): string {
  requireLength(icookie, 8, 'icookie')
  return `${toHex(icookie)},${toHex(encKey)}`
}

// Column values as Wireshark 4.0's ESP dissector names them (the UAT rejects any other string).
const WS_ENC: Readonly<Record<number, string>> = {
  [EspTransform.DES]: 'DES-CBC [RFC2405]',
  [EspTransform.TRIPLE_DES]: 'TripleDES-CBC [RFC2451]',
  [EspTransform.NULL]: 'NULL',
  [EspTransform.AES_CBC]: 'AES-CBC [RFC3602]',
  [EspTransform.AES_CTR]: 'AES-CTR [RFC3686]',
  [EspTransform.AES_GCM_8]: 'AES-GCM with 8 octet ICV [RFC4106]',
  [EspTransform.AES_GCM_12]: 'AES-GCM with 12 octet ICV [RFC4106]',
  [EspTransform.AES_GCM_16]: 'AES-GCM with 16 octet ICV [RFC4106]',
}
const WS_AUTH: Readonly<Record<number, string>> = {
  [AuthAlgorithm.HMAC_MD5]: 'HMAC-MD5-96 [RFC2403]',
  [AuthAlgorithm.HMAC_SHA1]: 'HMAC-SHA-1-96 [RFC2404]',
  [AuthAlgorithm.HMAC_SHA2_256]: 'HMAC-SHA-256-128 [RFC4868]',
  [AuthAlgorithm.HMAC_SHA2_384]: 'HMAC-SHA-384-192 [RFC4868]',
  [AuthAlgorithm.HMAC_SHA2_512]: 'HMAC-SHA-512-256 [RFC4868]',
}

const spiHex = (spi: number): string => {
  if (!Number.isInteger(spi) || spi < 0 || spi > 0xffffffff) throw new RangeError('spi: not a uint32')
  return spi.toString(16).padStart(8, '0')
}
const wsKey = (k: Uint8Array | undefined): string => (k === undefined || k.length === 0 ? '' : `0x${toHex(k)}`)
const quote = (s: string): string => `"${s.replaceAll('"', '')}"`

/**
 * A uat:esp_sa line for Wireshark 4.0 (checked against tshark 4.0.17, which has exactly these 8
 * columns): Protocol, Src IP, Dest IP, SPI, Encryption, Encryption Key, Authentication,
 * Authentication Key. Use with -o esp.enable_encryption_decode:TRUE -o 'uat:esp_sa:<line>'.
 * Wireshark 4.0 has no CCM/GMAC: those transforms throw CryptoError('ERR_UNSUPPORTED_ALGORITHM').
 */
export function espSaLine(p: EspSaKeys): string {
  const enc = WS_ENC[p.transformId]
  if (enc === undefined) throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `Wireshark esp_sa has no ESP transform ${p.transformId}`)
  let auth = 'NULL'
  if (p.authAlgorithm !== undefined) {
    const a = WS_AUTH[p.authAlgorithm]
    if (a === undefined) throw new CryptoError('ERR_UNSUPPORTED_ALGORITHM', `Wireshark esp_sa has no auth algorithm ${p.authAlgorithm}`)
    auth = a
  }
  const src = p.src ?? '*'
  const dst = p.dst ?? '*'
  const family = src.includes(':') || dst.includes(':') ? 'IPv6' : 'IPv4'
  return [family, src, dst, `0x${spiHex(p.spi)}`, enc, wsKey(p.encKey), auth, wsKey(p.authKey)].map(quote).join(',')
}

// ── our keylog lines ─────────────────────────────────────────────────────────────────────────────

export function keylogIkev1Line(k: Ikev1Keys): string {
  requireLength(k.icookie, 8, 'icookie')
  requireLength(k.rcookie, 8, 'rcookie')
  let s = `IKEV1 ${toHex(k.icookie)} ${toHex(k.rcookie)} ENC=${k.cipher} KEY=${toHex(k.encKey)} HASH=${k.hash}`
  if (k.skeyid !== undefined) s += ` SKEYID=${toHex(k.skeyid)}`
  if (k.skeyidD !== undefined) s += ` SKEYID_D=${toHex(k.skeyidD)}`
  if (k.skeyidA !== undefined) s += ` SKEYID_A=${toHex(k.skeyidA)}`
  if (k.skeyidE !== undefined) s += ` SKEYID_E=${toHex(k.skeyidE)}`
  return s
}

export function keylogKekLine(k: KeylogKekKeys): string {
  requireLength(k.spi, 16, 'KEK SPI')
  let s = `KEK ${toHex(k.spi)} ALG=${k.cipher} IV=${toHex(k.iv)} KEY=${toHex(k.key)}`
  if (k.sigHash !== undefined) s += ` SIGHASH=${k.sigHash}`
  if (k.sigKey !== undefined) s += ` SIGKEY=${toHex(k.sigKey)}`
  return s
}

export function keylogEspLine(k: EspSaKeys): string {
  let s = `ESP ${spiHex(k.spi)} TRANSFORM=${k.transformId}`
  if (k.keyLengthBits !== undefined) s += ` KEYBITS=${k.keyLengthBits}`
  if (k.encKey.length > 0) s += ` ENCKEY=${toHex(k.encKey)}`
  if (k.authAlgorithm !== undefined) s += ` AUTH=${k.authAlgorithm}`
  if (k.authKey !== undefined) s += ` AUTHKEY=${toHex(k.authKey)}`
  if (k.src !== undefined) s += ` SRC=${k.src}`
  if (k.dst !== undefined) s += ` DST=${k.dst}`
  return s
}

// ── parser ───────────────────────────────────────────────────────────────────────────────────────

const WIRESHARK_IKEV1 = /^"?([0-9a-fA-F]{16})"?\s*,\s*"?([0-9a-fA-F]*)"?$/
const TAG = /^[A-Z][A-Z0-9_]*$/

class Fields {
  readonly #line: number
  readonly #map = new Map<string, string>()
  constructor(line: number, tokens: readonly string[]) {
    this.#line = line
    for (const t of tokens) {
      const eq = t.indexOf('=')
      if (eq <= 0) throw new KeylogError(line, `expected NAME=VALUE, got a bare token`)
      const name = t.slice(0, eq)
      if (this.#map.has(name)) throw new KeylogError(line, `${name} given twice`)
      this.#map.set(name, t.slice(eq + 1))
    }
  }
  has(name: string): boolean {
    return this.#map.has(name)
  }
  str(name: string): string {
    const v = this.#map.get(name)
    if (v === undefined) throw new KeylogError(this.#line, `${name}= missing`)
    return v
  }
  hex(name: string): Uint8Array {
    const b = fromHex(this.str(name))
    if (b === undefined) throw new KeylogError(this.#line, `${name}: not hex`)
    return b
  }
  num(name: string): number {
    const v = this.str(name)
    if (!/^[0-9]{1,10}$/.test(v) || Number(v) > 0xffffffff) throw new KeylogError(this.#line, `${name}: not a decimal number`)
    return Number(v)
  }
  cipher(name: string): CbcCipherName {
    const v = this.str(name)
    if (!isCbcCipherName(v)) throw new KeylogError(this.#line, `${name}: unknown cipher`)
    return v
  }
  hash(name: string): HashName {
    const v = this.str(name)
    if (!isHashName(v)) throw new KeylogError(this.#line, `${name}: unknown hash`)
    return v
  }
}

function hexField(line: number, s: string | undefined, octets: number, what: string): Uint8Array {
  const b = s === undefined ? undefined : fromHex(s)
  if (b?.length !== octets) throw new KeylogError(line, `${what}: need ${octets * 2} hex digits`)
  return b
}

function parseIkev1(line: number, pos: readonly string[], f: Fields): Ikev1KeylogRecord {
  const r: { -readonly [K in keyof Ikev1KeylogRecord]: Ikev1KeylogRecord[K] } = {
    kind: 'ikev1', line,
    icookie: hexField(line, pos[0], 8, 'icookie'),
    rcookie: hexField(line, pos[1], 8, 'rcookie'),
    encKey: f.hex('KEY'), cipher: f.cipher('ENC'), hash: f.hash('HASH'),
  }
  if (f.has('SKEYID')) r.skeyid = f.hex('SKEYID')
  if (f.has('SKEYID_D')) r.skeyidD = f.hex('SKEYID_D')
  if (f.has('SKEYID_A')) r.skeyidA = f.hex('SKEYID_A')
  if (f.has('SKEYID_E')) r.skeyidE = f.hex('SKEYID_E')
  return r
}

function parseKek(line: number, pos: readonly string[], f: Fields): KekKeylogRecord {
  const r: { -readonly [K in keyof KekKeylogRecord]: KekKeylogRecord[K] } = {
    kind: 'kek', line, spi: hexField(line, pos[0], 16, 'KEK SPI'),
    cipher: f.cipher('ALG'), iv: f.hex('IV'), key: f.hex('KEY'),
  }
  if (f.has('SIGHASH')) r.sigHash = f.hash('SIGHASH')
  if (f.has('SIGKEY')) r.sigKey = f.hex('SIGKEY')
  return r
}

function parseEsp(line: number, pos: readonly string[], f: Fields): EspKeylogRecord {
  const spi = pos[0] !== undefined && /^[0-9a-fA-F]{1,8}$/.test(pos[0]) ? parseInt(pos[0], 16) : undefined
  if (spi === undefined) throw new KeylogError(line, 'SPI: need 1-8 hex digits')
  const r: { -readonly [K in keyof EspKeylogRecord]: EspKeylogRecord[K] } = {
    kind: 'esp', line, spi, transformId: f.num('TRANSFORM'),
    encKey: f.has('ENCKEY') ? f.hex('ENCKEY') : new Uint8Array(0),
  }
  if (f.has('KEYBITS')) r.keyLengthBits = f.num('KEYBITS')
  if (f.has('AUTH')) r.authAlgorithm = f.num('AUTH')
  if (f.has('AUTHKEY')) r.authKey = f.hex('AUTHKEY')
  if (f.has('SRC')) r.src = f.str('SRC')
  if (f.has('DST')) r.dst = f.str('DST')
  return r
}

// A Map, not an object literal: a tag like 'toString' must not find a prototype member.
const POSITIONAL: ReadonlyMap<string, number> = new Map([['IKEV1', 2], ['KEK', 1], ['ESP', 1]])

/**
 * Parses a gdoi keylog (format above), Wireshark ikev1_decryption_table lines included. Throws
 * KeylogError (with the 1-based line) on a malformed line of a known kind; records print as '[key]'.
 */
export function parseKeylog(text: string): KeylogRecord[] {
  const out: KeylogRecord[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    const s = (lines[i] ?? '').trim()
    if (s === '' || s.startsWith('#')) continue
    const ws = WIRESHARK_IKEV1.exec(s)
    if (ws !== null) {
      const encKey = fromHex(ws[2] ?? '')
      if (encKey === undefined || encKey.length === 0) throw new KeylogError(line, 'Wireshark line: key is empty or not hex')
      out.push(keyHolder({ kind: 'ikev1', line, icookie: hexField(line, ws[1], 8, 'icookie'), encKey }))
      continue
    }
    const [tag = '', ...rest] = s.split(/[ \t]+/)
    const npos = POSITIONAL.get(tag)
    if (npos === undefined) {
      if (TAG.test(tag)) continue // a record kind from a newer writer
      throw new KeylogError(line, 'neither a keylog record nor a Wireshark ikev1 line')
    }
    const pos = rest.slice(0, npos)
    const f = new Fields(line, rest.slice(npos))
    const rec = tag === 'IKEV1' ? parseIkev1(line, pos, f) : tag === 'KEK' ? parseKek(line, pos, f) : parseEsp(line, pos, f)
    out.push(keyHolder(rec))
  }
  return out
}
