// The rekey SAs (KEKs) this member holds, next to @gdoi/wire's push state (which has what processPush
// needs: keys, signing key, last SEQ). Here: the SAK policy of each KEK for `status` (transport,
// algorithm, lifetime, signature hash/key length, ACK request), its expiry timer, the key log, and
// the log/diagnostics lines of KEK installation, retirement and expiry.
import { createPublicKey } from 'node:crypto'
import type { Logger } from 'pino'
import { kekCipherName, type KekPolicy, type MemberKek } from '@gdoi/wire/exchange/index'
import { keylogKekLine, splitKekKey } from '@gdoi/wire/crypto/index'
import { LogEvent, type Clock, type KeyLog } from '@gdoi/daemon-kit'
import { GmChannel, publishGm } from './diag.js'
import { kekAlgorithmShowName, sigHashShowName } from './show-names.js'

export interface KekRecord {
  readonly spi: Uint8Array
  readonly spiHex: string
  /** `show crypto isakmp sa` conn-id of this rekey SA. */
  readonly connId: number
  readonly policy: KekPolicy
  readonly installedAtMs: number
  /** Absent when the SAK carried no KEK_KEY_LIFETIME (gdoid): the KEK lives until replaced. */
  readonly expiresAtMs?: number
  readonly source: 'registration' | 'rekey'
  readonly from: string
  /** DER SubjectPublicKeyInfo length of the KS signing key, in bits (Cisco "Sig Key Length (bits)"). */
  readonly sigKeyDerBits: number
  /** RSA modulus length of the signing key. */
  readonly sigKeyModulusBits?: number
}

export interface KekStoreOptions {
  readonly clock: Clock
  readonly log: Logger
  readonly keylog?: KeyLog | undefined
  readonly diagId: string
  readonly groupName: string
  /** The KEK's lifetime ended: drop it from the push state. */
  readonly onExpired: (spi: Uint8Array) => void
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

function modulusBits(spki: Uint8Array): number | undefined {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength
  } catch {
    return undefined
  }
}

export class KekStore {
  readonly #o: KekStoreOptions
  readonly #log: Logger
  readonly #records = new Map<string, KekRecord>()
  readonly #timers = new Map<string, () => void>()
  #nextConnId = 2001

  constructor(o: KekStoreOptions) {
    this.#o = o
    this.#log = o.log.child({ c: 'kek' })
  }

  /** Records (or refreshes, for a SAK re-sent with the same SPI) the KEK `m` with its SAK policy. */
  upsert(m: MemberKek, policy: KekPolicy, source: KekRecord['source'], from: string): void {
    const spiHex = toHex(m.spi)
    const now = this.#o.clock.nowMs()
    const known = this.#records.get(spiHex)
    const mod = modulusBits(m.publicKey)
    const rec: KekRecord = {
      spi: m.spi.slice(),
      spiHex,
      connId: known?.connId ?? this.#nextConnId++,
      policy,
      installedAtMs: known?.installedAtMs ?? now,
      ...(policy.lifetimeSec !== undefined ? { expiresAtMs: now + policy.lifetimeSec * 1000 } : {}),
      source,
      from,
      sigKeyDerBits: m.publicKey.length * 8,
      ...(mod !== undefined ? { sigKeyModulusBits: mod } : {}),
    }
    this.#records.set(spiHex, rec)
    this.#timers.get(spiHex)?.()
    this.#timers.delete(spiHex)
    if (rec.expiresAtMs !== undefined) {
      this.#timers.set(spiHex, this.#o.clock.setTimer(rec.expiresAtMs - now, () => this.#expire(spiHex)))
    }
    if (known !== undefined) {
      this.#log.debug({ spi: spiHex, lifetimeSec: policy.lifetimeSec ?? null }, 'KEK refreshed')
      return
    }
    this.#writeKeylog(m, policy)
    this.#log.info(
      {
        event: LogEvent.KEK_INSTALLED,
        group: this.#o.groupName,
        spi: spiHex,
        algorithm: kekAlgorithmShowName(policy),
        keyBits: policy.keyBits,
        sigHash: sigHashShowName(policy.sigHash),
        lifetimeSec: policy.lifetimeSec ?? null,
        transport: `${policy.transport.src.address} -> ${policy.transport.dst.address}:${policy.transport.dst.port}`,
        ackRequested: policy.ackRequested ?? null,
        source,
      },
      'KEK installed',
    )
    publishGm(GmChannel.KEK_INSTALLED, { gm: this.#o.diagId, group: this.#o.groupName, spi: spiHex, source })
  }

  /** Forgets a KEK the push state no longer has (rollover completed, deleted, replaced by registration). */
  retire(spiHex: string, reason: string): void {
    const rec = this.#records.get(spiHex)
    this.#timers.get(spiHex)?.()
    this.#timers.delete(spiHex)
    if (rec === undefined) return
    this.#records.delete(spiHex)
    this.#log.info({ group: this.#o.groupName, spi: spiHex, reason }, 'KEK retired')
    publishGm(GmChannel.KEK_RETIRED, { gm: this.#o.diagId, group: this.#o.groupName, spi: spiHex, reason })
  }

  /** Keeps only the records whose SPI is in `live` (the push state's KEKs). */
  reconcile(live: readonly Uint8Array[], reason: string): void {
    const keep = new Set(live.map(toHex))
    for (const spiHex of [...this.#records.keys()]) if (!keep.has(spiHex)) this.retire(spiHex, reason)
  }

  get(spiHex: string): KekRecord | undefined {
    return this.#records.get(spiHex)
  }

  records(): KekRecord[] {
    return [...this.#records.values()].sort((a, b) => a.installedAtMs - b.installedAtMs)
  }

  /** Expiry of the newest KEK (the one a member falls back to); undefined: none, or no lifetime. */
  deadlineMs(): number | undefined {
    const newest = this.records().at(-1)
    return newest?.expiresAtMs
  }

  close(): void {
    for (const c of this.#timers.values()) c()
    this.#timers.clear()
  }

  #expire(spiHex: string): void {
    this.#timers.delete(spiHex)
    const rec = this.#records.get(spiHex)
    if (rec === undefined) return
    this.#records.delete(spiHex)
    this.#log.info({ event: LogEvent.KEK_EXPIRED, group: this.#o.groupName, spi: spiHex }, 'KEK expired')
    publishGm(GmChannel.KEK_RETIRED, { gm: this.#o.diagId, group: this.#o.groupName, spi: spiHex, reason: 'expired' })
    this.#o.onExpired(rec.spi)
  }

  #writeKeylog(m: MemberKek, policy: KekPolicy): void {
    const kl = this.#o.keylog
    if (kl === undefined) return
    try {
      const cipher = kekCipherName(policy)
      const { iv, key } = splitKekKey(cipher, m.algorithmKey)
      kl.write(keylogKekLine({ spi: m.spi, cipher, iv, key, sigHash: policy.sigHash, sigKey: m.publicKey }))
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'key log write failed')
    }
  }
}
