// A valid-looking IKEv1 Main Mode MM1 (HDR, SA) for the flood benchmark and tests, built by @gdoi/wire's
// own initiator: the proposal is one the lab key server accepts (lab/config/ks.yaml: AES-256, SHA-1,
// MODP-1536, pre-shared key), so every spoofed MM1 costs the key server a full half-open SA and an MM2.
// The flooder (flood-mm1.c) only rewrites the initiator cookie (octets 0-7) and the IP/UDP source.
//
//   node … packages/ks-daemon/bench/flood/mm1.ts OUT.bin      writes one MM1 (lab/flood.sh does this)
import { writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { idIpv4 } from '@gdoi/wire'
import { createInitiator, stepInitiator, type Phase1Proposal } from '@gdoi/wire/exchange/index'

/** lab/config/ks.yaml's IKE policy (and the test key server's, test/helpers/ks-fixture.ts). */
export const FLOOD_PROPOSAL: Phase1Proposal = { encryption: 'aes256', hash: 'sha1', auth: 'psk', group: 5, lifetimeSec: 86400 }

/** One MM1 with a random initiator cookie. */
export function buildMm1(proposal: Phase1Proposal = FLOOD_PROPOSAL): Uint8Array {
  const init = createInitiator({ proposals: [proposal], localId: idIpv4('198.18.0.1'), psk: new Uint8Array(16) })
  const [, actions] = stepInitiator(init, { type: 'start' }, { rng: (n) => new Uint8Array(randomBytes(n)), nowMs: () => 0 })
  for (const a of actions) if (a.type === 'send') return a.bytes
  throw new Error('the initiator sent no MM1')
}

/** The same MM1 under another initiator cookie (what the C flooder does per datagram). */
export function withCookie(mm1: Uint8Array, icookie: Uint8Array = new Uint8Array(randomBytes(8))): Uint8Array {
  const out = Uint8Array.from(mm1)
  out.set(icookie.subarray(0, 8), 0)
  return out
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const out = process.argv[2]
  if (out === undefined) {
    process.stderr.write('usage: mm1.ts OUT.bin\n')
    process.exit(2)
  }
  writeFileSync(out, buildMm1())
}
