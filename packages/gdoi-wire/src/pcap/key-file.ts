// Key files → CaptureKeys (pure: text in). Accepted, freely mixed in one file:
//  - our keylog format (src/crypto/keylog.ts: IKEV1 / KEK / ESP records),
//  - Wireshark uat:ikev1_decryption_table lines  "icookie,Ka"  (bare or quoted hex),
//  - Wireshark uat:esp_sa lines  "IPv4","src","dst","0xSPI","AES-CBC [RFC3602]","0xkey","HMAC-SHA-1-96 [RFC2404]","0xkey".
import { AuthAlgorithm, EspTransform } from '../constants.js'
import { cbcCipher } from '../crypto/algorithms.js'
import { fromHex } from '../crypto/bytes.js'
import { KeylogError } from '../crypto/errors.js'
import { parseKeylog } from '../crypto/keylog.js'
import type { CaptureKeys, EspKeyEntry, KekKeyEntry, Phase1KeyEntry } from './key-chain.js'

const ESP_SA_LINE = /^"?IPv[46]"?\s*,/

/** Throws KeylogError (1-based line) on a malformed line. */
export function parseKeyFile(text: string): CaptureKeys {
  const lines = text.split(/\r?\n/)
  const esp: EspKeyEntry[] = []
  // Wireshark esp_sa lines are ours to read; blank them for parseKeylog so its line numbers stay right.
  const rest = lines.map((l, i) => {
    if (!ESP_SA_LINE.test(l.trim())) return l
    esp.push(parseEspSaLine(l.trim(), i + 1))
    return ''
  })
  const phase1: Phase1KeyEntry[] = []
  const keks: KekKeyEntry[] = []
  for (const r of parseKeylog(rest.join('\n'))) {
    switch (r.kind) {
      case 'ikev1':
        phase1.push({
          icookie: r.icookie,
          encKey: r.encKey,
          ...(r.rcookie === undefined ? {} : { rcookie: r.rcookie }),
          ...(r.skeyid === undefined ? {} : { skeyid: r.skeyid }),
          ...(r.skeyidA === undefined ? {} : { skeyidA: r.skeyidA }),
          ...(r.skeyidE === undefined ? {} : { skeyidE: r.skeyidE }),
          ...(r.cipher === undefined ? {} : { cipher: cbcCipher(r.cipher) }),
          ...(r.hash === undefined ? {} : { hash: r.hash }),
        })
        break
      case 'kek':
        keks.push({
          spi: r.spi,
          cipher: cbcCipher(r.cipher),
          iv: r.iv,
          key: r.key,
          ...(r.sigHash === undefined ? {} : { sigHash: r.sigHash }),
          ...(r.sigKey === undefined ? {} : { publicKey: r.sigKey }),
        })
        break
      case 'esp':
        esp.push({
          spi: r.spi,
          transformId: r.transformId,
          encKey: r.encKey,
          ...(r.keyLengthBits === undefined ? {} : { keyLengthBits: r.keyLengthBits }),
          ...(r.authAlgorithm === undefined ? {} : { authAlgorithm: r.authAlgorithm }),
          ...(r.authKey === undefined ? {} : { authKey: r.authKey }),
          ...(r.src === undefined ? {} : { src: r.src }),
          ...(r.dst === undefined ? {} : { dst: r.dst }),
        })
        break
    }
  }
  return { phase1, esp, keks }
}

export function mergeKeys(...all: readonly CaptureKeys[]): CaptureKeys {
  return {
    phase1: all.flatMap((k) => k.phase1),
    esp: all.flatMap((k) => k.esp),
    keks: all.flatMap((k) => k.keks ?? []),
  }
}

// Wireshark's ESP column names (prefix match, so the "[RFC…]" suffix and newer variants are accepted).
const WS_ENC: readonly (readonly [string, number])[] = [
  ['NULL', EspTransform.NULL],
  ['DES-CBC', EspTransform.DES],
  ['TripleDES-CBC', EspTransform.TRIPLE_DES],
  ['AES-CBC', EspTransform.AES_CBC],
  ['AES-CTR', EspTransform.AES_CTR],
  ['AES-GCM with 8 octet ICV', EspTransform.AES_GCM_8],
  ['AES-GCM with 12 octet ICV', EspTransform.AES_GCM_12],
  ['AES-GCM with 16 octet ICV', EspTransform.AES_GCM_16],
]
const WS_AUTH: readonly (readonly [string, number | undefined])[] = [
  ['NULL', undefined],
  ['HMAC-MD5-96', AuthAlgorithm.HMAC_MD5],
  ['HMAC-SHA-1-96', AuthAlgorithm.HMAC_SHA1],
  ['HMAC-SHA-256-128', AuthAlgorithm.HMAC_SHA2_256],
  ['HMAC-SHA-384-192', AuthAlgorithm.HMAC_SHA2_384],
  ['HMAC-SHA-512-256', AuthAlgorithm.HMAC_SHA2_512],
]

function csvFields(line: string): string[] {
  return line.split(',').map((f) => f.trim().replace(/^"(.*)"$/, '$1'))
}

function wsHex(s: string, line: number, what: string): Uint8Array {
  const b = fromHex(s.replace(/^0x/i, ''))
  if (b === undefined) throw new KeylogError(line, `esp_sa ${what}: not hex`)
  return b
}

function parseEspSaLine(s: string, line: number): EspKeyEntry {
  const [, src = '*', dst = '*', spiS = '', encName = '', encKeyS = '', authName = 'NULL', authKeyS = ''] = csvFields(s)
  if (!/^(0x)?[0-9a-fA-F]{1,8}$/.test(spiS)) throw new KeylogError(line, 'esp_sa SPI: need 0x + 1-8 hex digits')
  const enc = WS_ENC.find(([n]) => encName.startsWith(n))
  if (enc === undefined) throw new KeylogError(line, `esp_sa encryption "${encName}" not supported`)
  const auth = WS_AUTH.find(([n]) => authName.startsWith(n))
  if (auth === undefined) throw new KeylogError(line, `esp_sa authentication "${authName}" not supported`)
  const encKey = encKeyS === '' ? new Uint8Array(0) : wsHex(encKeyS, line, 'encryption key')
  const entry: EspKeyEntry = {
    spi: parseInt(spiS.replace(/^0x/i, ''), 16),
    transformId: enc[1],
    encKey,
    ...(auth[1] === undefined ? {} : { authAlgorithm: auth[1], authKey: wsHex(authKeyS, line, 'authentication key') }),
    ...(src === '*' ? {} : { src }),
    ...(dst === '*' ? {} : { dst }),
  }
  return entry
}
