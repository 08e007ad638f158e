// Crash-safe files: write a private temp file next to the target, fsync it, rename it over the target,
// fsync the directory. A crash at any point leaves either the old or the new content under `path`,
// never a mix; at worst a stale `<name>.tmp-*` file stays behind, which readers ignore and the next
// write removes.
import { promises as fsp, constants as fsc } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'

export class StateFileError extends Error {
  override name = 'StateFileError'
  readonly code: 'ERR_STATE_CORRUPT' | 'ERR_STATE_IO'
  readonly path: string
  constructor(code: 'ERR_STATE_CORRUPT' | 'ERR_STATE_IO', path: string, detail: string, options?: { cause?: unknown }) {
    super(`${path}: ${detail}`, options)
    this.code = code
    this.path = path
  }
}

export interface AtomicWriteOptions {
  /** File mode of the result (default 0600). */
  readonly mode?: number
  /** Test hook: called after the temp file is written and synced, before the rename. Throwing here
   *  simulates a crash at the worst moment. */
  readonly afterTempWrite?: (tmpPath: string) => void | Promise<void>
}

const TMP_MARK = '.tmp-'

function tempPathFor(path: string): string {
  return join(dirname(path), `${basename(path)}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`)
}

/** Atomically replaces `path` with `data`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600
  const dir = dirname(path)
  const tmp = tempPathFor(path)
  // O_EXCL: never follow or reuse an existing file (or symlink) at the temp name.
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode)
  try {
    await fh.chmod(mode) // the umask may have cleared bits we asked for; 0600 is never widened by it
    await fh.writeFile(data)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await fsp.rm(tmp, { force: true })
    throw err
  }
  await fh.close()
  if (opts.afterTempWrite) await opts.afterTempWrite(tmp)
  try {
    await fsp.rename(tmp, path)
  } catch (err) {
    await fsp.rm(tmp, { force: true })
    throw err
  }
  await fsyncDir(dir)
  await removeStaleTemps(path)
}

/** fsync a directory so a rename in it is durable (ignored where directories can't be opened). */
export async function fsyncDir(dir: string): Promise<void> {
  let dh: fsp.FileHandle | undefined
  try {
    dh = await fsp.open(dir, fsc.O_RDONLY)
    await dh.sync()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw err
  } finally {
    await dh?.close()
  }
}

/** Deletes temp files a crashed writer of `path` left behind. Returns their names. */
export async function removeStaleTemps(path: string): Promise<string[]> {
  const dir = dirname(path)
  const prefix = `${basename(path)}${TMP_MARK}`
  let names: string[]
  try {
    names = await fsp.readdir(dir)
  } catch {
    return []
  }
  const stale = names.filter((n) => n.startsWith(prefix))
  await Promise.all(stale.map((n) => fsp.rm(join(dir, n), { force: true })))
  return stale
}

/** Writes `value` as pretty JSON, atomically, mode 0600. */
export async function writeJsonAtomic(path: string, value: unknown, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, opts)
}

/** Reads JSON from `path`: `undefined` when the file does not exist; StateFileError ERR_STATE_CORRUPT
 *  when it is not valid JSON (never silently replaced — the caller decides). */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string
  try {
    text = await fsp.readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StateFileError('ERR_STATE_IO', path, `cannot read: ${(err as Error).message}`, { cause: err })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new StateFileError('ERR_STATE_CORRUPT', path, `not valid JSON (${(err as Error).message})`, { cause: err })
  }
}

/** Creates `dir` (and parents) with mode 0700 if missing. Returns a warning when an existing directory
 *  is writable by group/others or not owned by us. */
export async function ensurePrivateDir(dir: string): Promise<string | undefined> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 })
  const st = await fsp.stat(dir)
  if (!st.isDirectory()) throw new StateFileError('ERR_STATE_IO', dir, 'not a directory')
  const uid = process.getuid?.()
  if (uid !== undefined && st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not by this process (uid ${uid})`
  if ((st.mode & 0o077) !== 0) return `${dir} has mode ${(st.mode & 0o777).toString(8)}; other users can read it (0700 recommended)`
  return undefined
}
