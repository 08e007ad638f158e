// Key export lines for a phase-1 SA, formatted by src/crypto/keylog.ts. These ARE key material: a
// daemon writes them only to a keylog file the operator asked for, never to a log line.
import { ikev1DecryptionLine, keylogIkev1Line } from '../crypto/keylog.js'
import type { Phase1Sa } from './types.js'

/** Wireshark `uat:ikev1_decryption_table` lines: "<CKY-I hex>,<Ka hex>" (spec §8.1). */
export function keylogLines(sa: Pick<Phase1Sa, 'icookie' | 'encKey'>): string[] {
  return [ikev1DecryptionLine(sa.icookie, sa.encKey)]
}

/** The same SA as a gdoi keylog IKEV1 record (cookies, cipher, Ka, hash, SKEYID, SKEYID_d/a/e), read back by gdoi-pcap. */
export function gdoiKeylogLines(sa: Phase1Sa): string[] {
  return [
    keylogIkev1Line({
      icookie: sa.icookie,
      rcookie: sa.rcookie,
      cipher: sa.cipher.name,
      encKey: sa.encKey,
      hash: sa.hash,
      skeyid: sa.skeyid,
      skeyidD: sa.skeyidD,
      skeyidA: sa.skeyidA,
      skeyidE: sa.skeyidE,
    }),
  ]
}
