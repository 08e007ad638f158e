// KsStore in a JSON file in the state directory (default /var/lib/gdoi/ks/ks-state.json):
// - the directory is created 0700, the file written 0600 via temp + fsync + rename + fsync(dir);
// - load() checks the file against the schema; a damaged file is an error, never replaced silently
//   (starting over means new keys and every GM re-registering — the operator decides);
// - a lock file (ks.lock, O_EXCL, holding our pid) keeps two key servers off one directory; a lock
//   left by a dead process is taken over;
// - registrations go to a journal next to it (ks-members.journal): one JSON line per member change,
//   appended and fdatasync'ed (group-committed by persist.ts), so a registration storm writes ≈ 200
//   bytes per member instead of the whole member list per batch (bench/README.md "storm"). Every full
//   save starts a new journal (atomically replaced) whose first line names the state it continues
//   (`stateSavedAtMs`); load() replays a journal only onto that state, so a crash between the state's
//   rename and the journal's never replays stale records. A torn last line (a crash during an append
//   that was never acknowledged) is ignored; a damaged line before it is ERR_STATE_CORRUPT.
import { promises as fsp, constants as fsc, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensurePrivateDir, readJsonFile, removeStaleTemps, StateFileError, writeFileAtomic, writeJsonAtomic } from '@gdoi/daemon-kit'
import { applyMemberChanges, decodeMemberChange, decodeState, encodeMemberChange, encodeState } from './state-codec.js'
import { StoreError, type KsState, type KsStore, type MemberChange } from './types.js'

export const STATE_FILE_NAME = 'ks-state.json'
export const JOURNAL_SUFFIX = '.members.journal'
/** A journal larger than this and than twice the last full state asks for a full save. */
const JOURNAL_MIN_COMPACT_BYTES = 256 * 1024
export const LOCK_FILE_NAME = 'ks.lock'

export interface FileStoreOptions {
  /** State directory (KsConfig.stateDir). */
  readonly dir: string
  readonly fileName?: string
  /** Test hook passed to the atomic writer (throw to simulate a crash before the rename). */
  readonly afterTempWrite?: (tmpPath: string) => void | Promise<void>
}

export interface FileStore extends KsStore {
  readonly path: string
  /** Problems with the directory's permissions, for the caller to log. */
  readonly warnings: readonly string[]
}

/** A zombie (exited, not yet reaped by its parent) answers kill(pid, 0) but holds nothing: seen after a
 *  SIGKILL when the supervisor restarts the key server before it reaps the old one (RELIABILITY.md
 *  "Faults"). Linux only; elsewhere every answering process counts as alive. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z' // "pid (comm) S …"
  } catch {
    return false
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  return !isZombie(pid)
}

async function acquireLock(path: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600)
      await fh.writeFile(`${process.pid}\n`)
      await fh.close()
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreError('ERR_STATE_IO', `cannot create ${path}: ${(err as Error).message}`, { cause: err })
      }
    }
    const pid = Number((await fsp.readFile(path, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new StoreError('ERR_STATE_LOCKED', `${path}: the state directory is in use by process ${pid}`)
    }
    if (pid === process.pid) throw new StoreError('ERR_STATE_LOCKED', `${path}: this process already has the state directory open`)
    await fsp.rm(path, { force: true }) // stale: its process is gone
  }
  throw new StoreError('ERR_STATE_LOCKED', `${path}: could not take the lock`)
}

/** Opens (creating the directory if needed) and locks the state directory. */
export async function openFileStore(opts: FileStoreOptions): Promise<FileStore> {
  const warnings: string[] = []
  let w: string | undefined
  try {
    w = await ensurePrivateDir(opts.dir)
  } catch (err) {
    throw new StoreError('ERR_STATE_IO', `cannot create state directory ${opts.dir}: ${(err as Error).message}`, { cause: err })
  }
  if (w !== undefined) warnings.push(`state directory: ${w}`)
  const path = join(opts.dir, opts.fileName ?? STATE_FILE_NAME)
  const lockPath = join(opts.dir, LOCK_FILE_NAME)
  await acquireLock(lockPath)
  const stale = await removeStaleTemps(path)
  if (stale.length > 0) warnings.push(`removed ${stale.length} unfinished state write(s) from an earlier crash`)

  let queue: Promise<void> = Promise.resolve()
  let closed = false
  const journalPath = `${path}${JOURNAL_SUFFIX}`
  const staleJournal = await removeStaleTemps(journalPath)
  if (staleJournal.length > 0) warnings.push(`removed ${staleJournal.length} unfinished journal write(s) from an earlier crash`)
  /** Append handle of the current journal (opened by the first full save). */
  let journal: fsp.FileHandle | undefined
  let journalBytes = 0
  let stateBytes = 0

  /** A new, empty journal continuing the state saved at `savedAtMs` (replaces the old one atomically). */
  const startJournal = async (savedAtMs: number): Promise<void> => {
    await journal?.close().catch(() => {})
    journal = undefined
    const header = `${JSON.stringify({ journal: 1, stateSavedAtMs: savedAtMs })}\n`
    await writeFileAtomic(journalPath, header)
    journal = await fsp.open(journalPath, fsc.O_WRONLY | fsc.O_APPEND)
    journalBytes = header.length
  }

  /** The journal's changes for the state saved at `savedAtMs` (none when it continues another state). */
  const readJournal = async (savedAtMs: number): Promise<MemberChange[]> => {
    let text: string
    try {
      text = await fsp.readFile(journalPath, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new StoreError('ERR_STATE_IO', `cannot read ${journalPath}: ${(err as Error).message}`, { cause: err })
    }
    const lines = text.split('\n')
    const complete = lines.slice(0, -1) // the part after the last newline was never acknowledged
    const parse = (line: string, n: number): unknown => {
      try {
        return JSON.parse(line) as unknown
      } catch {
        throw new StoreError('ERR_STATE_CORRUPT', `${journalPath} is corrupt: line ${n} is not JSON; move it aside to start from ${path} alone (members registered since its last save will re-register)`)
      }
    }
    if (complete.length === 0) return []
    const head = parse(complete[0] as string, 1) as { journal?: unknown; stateSavedAtMs?: unknown }
    if (head.journal !== 1 || typeof head.stateSavedAtMs !== 'number') throw new StoreError('ERR_STATE_CORRUPT', `${journalPath} is corrupt: line 1 is not a journal header`)
    if (head.stateSavedAtMs !== savedAtMs) return [] // written before the state was: all in the state
    return complete.slice(1).map((l, i) => decodeMemberChange(parse(l, i + 2), `${journalPath} line ${i + 2}`))
  }

  return {
    path,
    warnings,
    async load() {
      if (closed) throw new StoreError('ERR_STATE_CLOSED', 'store is closed')
      let json: unknown
      try {
        json = await readJsonFile(path)
      } catch (err) {
        if (err instanceof StateFileError && err.code === 'ERR_STATE_CORRUPT') {
          throw new StoreError('ERR_STATE_CORRUPT', `${err.message}; move it aside to start with fresh keys (every group member will re-register)`, {
            cause: err,
          })
        }
        throw new StoreError('ERR_STATE_IO', (err as Error).message, { cause: err })
      }
      if (json === undefined) return undefined
      try {
        const state: KsState = decodeState(json, path)
        return applyMemberChanges(state, await readJournal(state.savedAtMs))
      } catch (err) {
        if (err instanceof StoreError && err.code === 'ERR_STATE_CORRUPT') {
          throw new StoreError('ERR_STATE_CORRUPT', `${err.message}; move it aside to start with fresh keys (every group member will re-register)`, {
            cause: err,
          })
        }
        throw err
      }
    },
    save(state) {
      if (closed) return Promise.reject(new StoreError('ERR_STATE_CLOSED', 'store is closed'))
      const json = encodeState(state) // encode now: the caller may change its objects afterwards
      const run = async (): Promise<void> => {
        try {
          await writeJsonAtomic(path, json, opts.afterTempWrite ? { afterTempWrite: opts.afterTempWrite } : {})
          stateBytes = (await fsp.stat(path)).size
          await startJournal(state.savedAtMs)
        } catch (err) {
          throw new StoreError('ERR_STATE_IO', `cannot save ${path}: ${(err as Error).message}`, { cause: err })
        }
      }
      const p = queue.then(run)
      queue = p.catch(() => {})
      return p
    },
    saveMembers(changes) {
      if (closed) return Promise.reject(new StoreError('ERR_STATE_CLOSED', 'store is closed'))
      const text = changes.map((c) => `${encodeMemberChange(c)}\n`).join('') // encode now, as save() does
      const run = async (): Promise<void> => {
        // No journal yet (no full save since the store was opened): the records have no state to
        // continue, so the caller must save the whole state first.
        if (journal === undefined) throw new StoreError('ERR_STATE_IO', `cannot append to ${journalPath}: no full save yet`)
        try {
          await journal.write(text)
          await journal.datasync()
          journalBytes += Buffer.byteLength(text)
        } catch (err) {
          throw new StoreError('ERR_STATE_IO', `cannot append to ${journalPath}: ${(err as Error).message}`, { cause: err })
        }
      }
      const p = queue.then(run)
      queue = p.catch(() => {})
      return p
    },
    membersJournalFull: () => journal === undefined || journalBytes > Math.max(JOURNAL_MIN_COMPACT_BYTES, 2 * stateBytes),
    async close() {
      if (closed) return
      closed = true
      await queue
      await journal?.close().catch(() => {})
      journal = undefined
      await fsp.rm(lockPath, { force: true })
    },
  }
}
