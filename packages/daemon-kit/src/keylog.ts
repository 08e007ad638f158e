// Append-only key log for Wireshark (ikev1_decryption_table / esp_sa lines, formatted by
// @gdoi/wire's crypto/keylog.ts). This file *is* key material on purpose: it is created mode 0600,
// never through a symlink, and each line is written with one write(2) in append mode, so lines from
// a crash are whole or absent.
import { openSync, writeSync, closeSync, fchmodSync, fstatSync, constants as fsc } from 'node:fs'

export interface KeyLog {
  readonly path: string
  /** Appends one line (no newline inside; it is added). Throws if closed or the line is malformed. */
  write(line: string): void
  writeLines(lines: readonly string[]): void
  readonly linesWritten: number
  close(): Promise<void>
}

export class KeyLogError extends Error {
  override name = 'KeyLogError'
  readonly code: 'ERR_KEYLOG'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = 'ERR_KEYLOG'
  }
}

/** Opens (creating 0600) the key log at `path` for appending. An existing file with wider permissions
 *  is narrowed to 0600; a symlink or a non-regular file is refused. */
export async function openKeyLog(path: string): Promise<KeyLog> {
  let fd: number
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ELOOP' ? 'is a symbolic link (refused)' : `cannot be opened (${code ?? String(err)})`
    throw new KeyLogError(`key log ${path} ${why}`, { cause: err })
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new KeyLogError(`key log ${path} is not a regular file`)
    if ((st.mode & 0o777) !== 0o600) fchmodSync(fd, 0o600)
  } catch (err) {
    closeSync(fd)
    throw err
  }
  return new KeyLogImpl(path, fd)
}

class KeyLogImpl implements KeyLog {
  readonly path: string
  #fd: number | undefined
  #count = 0
  constructor(path: string, fd: number) {
    this.path = path
    this.#fd = fd
  }
  get linesWritten(): number {
    return this.#count
  }
  write(line: string): void {
    this.writeLines([line])
  }
  writeLines(lines: readonly string[]): void {
    if (this.#fd === undefined) throw new KeyLogError(`key log ${this.path} is closed`)
    for (const l of lines) {
      if (/[\r\n]/.test(l)) throw new KeyLogError('key log line must not contain a line break')
    }
    if (lines.length === 0) return
    const buf = Buffer.from(`${lines.join('\n')}\n`, 'utf8')
    let off = 0
    while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off)
    this.#count += lines.length
  }
  close(): Promise<void> {
    if (this.#fd !== undefined) {
      closeSync(this.#fd)
      this.#fd = undefined
    }
    return Promise.resolve()
  }
}
