// Errors of the capture layer (pcap/pcapng container, link layer). Codec errors inside a datagram stay
// DecodeError and end up in that datagram's record; a CaptureError means the file itself is unreadable.

export type CaptureErrorCode =
  | 'ERR_CAPTURE_FORMAT' // not a pcap/pcapng file (bad magic, impossible block)
  | 'ERR_CAPTURE_TRUNCATED' // the file ends inside a header or record
  | 'ERR_LINKTYPE' // a link-layer type we cannot dissect
  | 'ERR_CAPTURE_ENCODE' // the writer was given something that does not fit a pcap record

export class CaptureError extends Error {
  override name = 'CaptureError'
  readonly code: CaptureErrorCode
  /** Byte offset in the capture file (-1 for writer errors). */
  readonly offset: number
  constructor(code: CaptureErrorCode, offset: number, detail: string) {
    super(offset >= 0 ? `${code} at file byte ${offset}: ${detail}` : `${code}: ${detail}`)
    this.code = code
    this.offset = offset
  }
}
