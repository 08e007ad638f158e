// KsStore in a JSON file in the state directory (default /var/lib/gdoi/ks/ks-state.json):
// - the directory is created 0700, the file written 0600 via temp + fsync + rename + fsync(dir);
// - load() checks the file against the schema; a damaged file is an error, never replaced silently
//   (starting over means new keys and every GM re-registering — the operator decides);
// - a lock file (ks.lock, O_EXCL, holding our pid) keeps two key servers off one directory; a lock
//   left by a dead process is taken over.
import { promises as fsp, constants as fsc } from 'node:fs'
import { join } from 'node:path'
import { ensurePrivateDir, readJsonFile, removeStaleTemps, StateFileError, writeJsonAtomic } from '@gdoi/daemon-kit'
import { decodeState, encodeState } from './state-codec.js'
import { StoreError, type KsStore } from './types.js'

export const STATE_FILE_NAME = 'ks-state.json'
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
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
        return decodeState(json, path)
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
        } catch (err) {
          throw new StoreError('ERR_STATE_IO', `cannot save ${path}: ${(err as Error).message}`, { cause: err })
        }
      }
      const p = queue.then(run)
      queue = p.catch(() => {})
      return p
    },
    async close() {
      if (closed) return
      closed = true
      await queue
      await fsp.rm(lockPath, { force: true })
    },
  }
}
