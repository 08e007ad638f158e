// The file store's member journal (incremental registration writes, bench/README.md "storm"): what a
// restart loads is the last full save with the journal's records applied — and only the journal that
// continues that save; a torn last record is dropped, damage before it is reported.
import t from 'tap'
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { asKey } from '@gdoi/daemon-kit'
import { openFileStore, STATE_FILE_NAME, JOURNAL_SUFFIX } from '../../src/store/file-store.js'
import { createMemoryStore } from '../../src/store/memory-store.js'
import { StoreError, type KsState, type MemberState } from '../../src/store/types.js'

function member(i: number, extra: Partial<MemberState> = {}): MemberState {
  return { address: `127.0.2.${i}`, port: 848, identity: `ipv4 127.0.2.${i}`, registeredAtMs: 1_700_000_000_000 + i, missedPushes: 0, lastAckSeq: null, senderIds: [], ...extra }
}

function state(savedAtMs: number, members: MemberState[]): KsState {
  return {
    version: 1,
    savedAtMs,
    groups: {
      G: {
        kek: null,
        teks: [
          {
            spi: 0x01020304,
            transform: { cipher: 'aes-cbc', keyBits: 128, integrity: 'hmac-sha1' },
            encKey: asKey(new Uint8Array(16).fill(1)),
            authKey: asKey(new Uint8Array(20).fill(2)),
            createdMs: 1,
            expiresMs: 2,
          },
        ],
        members,
        senderIdNext: 1,
        signingKey: null,
      },
    },
  }
}

const keyOf = (m: MemberState): string => `${m.address}:${m.port}`

t.test('registrations appended to the journal survive a restart without a full save', async (t) => {
  const dir = join(t.testdir(), 'state')
  const s1 = await openFileStore({ dir })
  await s1.save(state(1000, [member(1)]))
  const m2 = member(2, { senderIds: [5, 6] })
  await s1.saveMembers?.([{ group: 'G', key: keyOf(m2), member: m2, senderIdNext: 7 }])
  await s1.saveMembers?.([
    { group: 'G', key: keyOf(member(1)), member: null, senderIdNext: 7 },
    { group: 'G', key: keyOf(member(3)), member: member(3), senderIdNext: 7 },
    { group: 'GONE', key: '127.0.0.1:1', member: member(9), senderIdNext: 1 },
  ])
  // the state file itself still holds only member 1: the rest is in the journal
  const onDisk = JSON.parse(readFileSync(join(dir, STATE_FILE_NAME), 'utf8')) as { groups: { G: { members: unknown[] } } }
  t.equal(onDisk.groups.G.members.length, 1)
  t.equal(statSync(join(dir, `${STATE_FILE_NAME}${JOURNAL_SUFFIX}`)).mode & 0o777, 0o600, 'journal is 0600')
  // a crash: the store is not closed (no final save); the lock's owner (this process) is gone for the test
  const s2 = await openFileStoreAfterCrash(dir, s1)
  const loaded = await s2.load()
  const g = loaded?.groups['G']
  t.same(g?.members.map(keyOf).sort(), [keyOf(m2), keyOf(member(3))], 'member 1 removed, 2 and 3 added')
  t.same(g?.members.find((m) => m.address === m2.address)?.senderIds, [5, 6])
  t.equal(g?.senderIdNext, 7, 'sender IDs granted with a registration are not handed out again')
  t.notOk(loaded?.groups['GONE'], 'records of unknown groups are dropped')
  await s2.close()
})

t.test('a full save starts the journal over; a journal that continues another state is ignored', async (t) => {
  const dir = join(t.testdir(), 'state')
  const s1 = await openFileStore({ dir })
  await s1.save(state(1000, []))
  await s1.saveMembers?.([{ group: 'G', key: keyOf(member(1)), member: member(1), senderIdNext: 1 }])
  const journalPath = join(dir, `${STATE_FILE_NAME}${JOURNAL_SUFFIX}`)
  const oldJournal = readFileSync(journalPath, 'utf8')
  await s1.save(state(2000, [member(1), member(2)]))
  t.equal(readFileSync(journalPath, 'utf8').split('\n').length, 2, 'only the header after a full save')
  await s1.close()
  // as after a crash between the state's rename and the journal's: the old journal next to the new state
  writeFileSync(journalPath, oldJournal + `${JSON.stringify({ g: 'G', k: keyOf(member(2)), m: null, sid: 1 })}\n`)
  const s2 = await openFileStore({ dir })
  const g = (await s2.load())?.groups['G']
  t.same(g?.members.map(keyOf).sort(), [keyOf(member(1)), keyOf(member(2))], 'the old journal (for the state of 1000) is not replayed onto the state of 2000')
  await s2.close()
})

t.test('a torn last record is dropped; a damaged one before it is ERR_STATE_CORRUPT', async (t) => {
  const dir = join(t.testdir(), 'state')
  const s1 = await openFileStore({ dir })
  await s1.save(state(1000, []))
  await s1.saveMembers?.([{ group: 'G', key: keyOf(member(1)), member: member(1), senderIdNext: 1 }])
  await s1.close() // close() does not save; the journal stays
  const journalPath = join(dir, `${STATE_FILE_NAME}${JOURNAL_SUFFIX}`)
  appendFileSync(journalPath, '{"g":"G","k":"127.0.2.2:848","m":{"addr') // a crash mid-append
  const s2 = await openFileStore({ dir })
  t.same((await s2.load())?.groups['G']?.members.map(keyOf), [keyOf(member(1))])
  await s2.close()
  writeFileSync(journalPath, readFileSync(journalPath, 'utf8').replace('"port":848', '"port":"x"') + '\n')
  const s3 = await openFileStore({ dir })
  const err = await s3.load().then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof StoreError && err.code === 'ERR_STATE_CORRUPT', 'damaged record')
  t.match((err as Error).message, /journal line 2/)
  await s3.close()
})

t.test('no journal before the first full save; the memory store does the same', async (t) => {
  const s1 = await openFileStore({ dir: join(t.testdir(), 'state') })
  t.equal(s1.membersJournalFull?.(), true, 'asks for a full save first')
  await t.rejects(s1.saveMembers?.([{ group: 'G', key: 'a:1', member: member(1), senderIdNext: 1 }]) ?? Promise.resolve(), { code: 'ERR_STATE_IO' })
  await s1.close()
  const m = createMemoryStore()
  await t.rejects(m.saveMembers?.([]) ?? Promise.resolve(), { code: 'ERR_STATE_IO' })
  await m.save(state(1, []))
  await m.saveMembers?.([{ group: 'G', key: keyOf(member(4)), member: member(4), senderIdNext: 3 }])
  const g = (await m.load())?.groups['G']
  t.same(g?.members.map(keyOf), [keyOf(member(4))])
  t.equal(g?.senderIdNext, 3)
  t.equal(m.memberSaves, 1)
})

/** The same directory opened again as by a new process after a crash of `old` (its lock file left). */
async function openFileStoreAfterCrash(dir: string, old: { close(): Promise<void> }): Promise<Awaited<ReturnType<typeof openFileStore>>> {
  // close() only waits for pending writes and drops the lock: it writes nothing, like a crash after the
  // last acknowledged write
  await old.close()
  return openFileStore({ dir })
}
