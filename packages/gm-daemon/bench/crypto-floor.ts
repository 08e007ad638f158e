// The crypto floor of one registration on the key server (the storm benchmark's baseline, bench/README.md):
// everything cryptographic the KS must do for one GM's Main Mode (PSK, DH group 5, AES-256-CBC, SHA-1)
// and GROUPKEY-PULL, with the @gdoi/wire primitives the KS uses, and nothing else (no parsing, no
// state, no I/O):
//   MM3→MM4  random DH private key + cookie + nonce, g^y (modexp), g^xy (modexp), SKEYID = prf(PSK, Ni‖Nr),
//            SKEYID_d/a/e, Ka (RFC 2409 App. B expansion), phase-1 IV = H(g^xi‖g^xr)
//   MM5→MM6  CBC-decrypt MM5, HASH_I, HASH_R, CBC-encrypt MM6
//   PULL1→2  IV = H(last block‖M-ID), decrypt PULL1, HASH(1), nonce, HASH(2), encrypt PULL2
//   PULL3→4  decrypt PULL3, HASH(3), HASH(4), encrypt PULL4
// Message sizes are those of a bench registration (see SIZES). One registration at a time on one
// thread = one core; `measureFloor` returns the median of `runs` batches in CPU µs per registration
// (process CPU time: the same on a shared machine as on an idle one; the wall-clock figure is kept too).
import { randomBytes } from 'node:crypto'
import {
  cbcDecrypt,
  cbcEncrypt,
  deriveSkeyids,
  dhPrivateKeyBytes,
  dhPublicKey,
  dhSharedSecret,
  encryptionKey,
  exchangeIv,
  hash,
  hashI,
  hashR,
  lastBlock,
  phase1Iv,
  pullHash,
  skeyidPsk,
} from '@gdoi/wire/crypto/index'

/** Encrypted body sizes (octets) of the bench exchange (PSK, AES-256/SHA-1, one TEK, a KEK with a 2048-bit signing key). */
export const SIZES = { mm5: 80, mm6: 64, pull1: 64, pull2: 256, pull3: 32, pull4: 640, saiB: 48 } as const

const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n))

/** One registration's worth of KS crypto; returns a byte so the work cannot be optimised away. */
export function oneRegistration(psk: Uint8Array, gxi: Uint8Array): number {
  const h = 'sha1'
  const c = 'aes-256-cbc'
  // MM3 → MM4
  const rcookie = rnd(8)
  const icookie = rnd(8)
  const y = rnd(dhPrivateKeyBytes(5))
  const gxr = dhPublicKey(5, y)
  const gxy = dhSharedSecret(5, y, gxi)
  const ni = rnd(20)
  const nr = rnd(20)
  const skeyid = skeyidPsk(h, psk, ni, nr)
  const k = deriveSkeyids(h, skeyid, gxy, icookie, rcookie)
  const ka = encryptionKey(h, k.e, 32)
  const iv = phase1Iv(h, gxi, gxr, 16)
  // MM5 → MM6
  const mm5 = cbcDecrypt(c, ka, iv, rnd(SIZES.mm5))
  const saiB = rnd(SIZES.saiB)
  const hi = hashI(h, skeyid, gxi, gxr, icookie, rcookie, saiB, mm5.subarray(4, 16))
  const hr = hashR(h, skeyid, gxr, gxi, rcookie, icookie, saiB, mm5.subarray(4, 16))
  const mm6 = cbcEncrypt(c, ka, lastBlock(mm5, 16), new Uint8Array(SIZES.mm6))
  // PULL1 → PULL2
  const mid = 0x12345678
  const iv1 = exchangeIv(h, lastBlock(mm6, 16), mid, 16)
  const pull1 = cbcDecrypt(c, ka, iv1, rnd(SIZES.pull1))
  const h1 = pullHash(h, k.a, mid, undefined, undefined, pull1.subarray(24))
  const nr2 = rnd(16)
  const h2 = pullHash(h, k.a, mid, ni, undefined, rnd(SIZES.pull2 - 24))
  const pull2 = cbcEncrypt(c, ka, lastBlock(rnd(SIZES.pull1), 16), new Uint8Array(SIZES.pull2))
  // PULL3 → PULL4
  const pull3 = cbcDecrypt(c, ka, lastBlock(pull2, 16), rnd(SIZES.pull3))
  const h3 = pullHash(h, k.a, mid, ni, nr2, pull3.subarray(24))
  const h4 = pullHash(h, k.a, mid, ni, nr2, new Uint8Array(SIZES.pull4 - 24))
  const pull4 = cbcEncrypt(c, ka, lastBlock(pull3, 16), new Uint8Array(SIZES.pull4))
  const d = hash(h, hi, hr, h1, h2, h3, h4)
  return ((d[0] ?? 0) ^ (pull4[0] ?? 0)) & 0xff
}

export interface FloorFigures {
  /** Median CPU µs (user + system of this thread's process) per registration over the batches: the
   *  cost on one core, whatever else the machine runs. */
  readonly usPerRegistration: number
  /** The same batches on the wall clock (longer when other processes take the core). */
  readonly wallUsPerRegistration: number
  readonly batchesUs: readonly number[]
  /** µs of one modexp (g^y alone), median of the batches: the part the floor is made of. */
  readonly modexpUs: number
}

/** `runs` batches of `perRun` registrations each, after a short warm-up. */
export function measureFloor(perRun = 100, runs = 5): FloorFigures {
  const psk = new TextEncoder().encode('BENCH-KEY')
  const x = rnd(dhPrivateKeyBytes(5))
  const gxi = dhPublicKey(5, x)
  let sink = 0
  for (let i = 0; i < 20; i++) sink ^= oneRegistration(psk, gxi)
  const batches: number[] = []
  const wall: number[] = []
  const modexp: number[] = []
  const cpuUs = (c: NodeJS.CpuUsage): number => c.user + c.system
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    for (let i = 0; i < perRun; i++) sink ^= oneRegistration(psk, gxi)
    batches.push(cpuUs(process.cpuUsage(c0)) / perRun)
    wall.push(((performance.now() - t0) * 1000) / perRun)
    const c1 = process.cpuUsage()
    for (let i = 0; i < perRun / 4; i++) sink ^= dhPublicKey(5, rnd(dhPrivateKeyBytes(5)))[0] ?? 0
    modexp.push(cpuUs(process.cpuUsage(c1)) / (perRun / 4))
  }
  if (sink === 256) console.log('unreachable')
  return { usPerRegistration: median(batches), wallUsPerRegistration: median(wall), batchesUs: batches.map((b) => Math.round(b)), modexpUs: median(modexp) }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return 0
  return n % 2 === 1 ? (s[(n - 1) / 2] ?? 0) : ((s[n / 2 - 1] ?? 0) + (s[n / 2] ?? 0)) / 2
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = measureFloor(Number(process.argv[2] ?? 200), Number(process.argv[3] ?? 5))
  console.log(JSON.stringify(f))
}
