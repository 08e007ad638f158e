// Capture API (API.md "Capture API"): pcap/pcapng reading and writing, and the pure decoding
// pipeline behind gdoi-pcap (IPv4/UDP/ESP dissection, key-chain following, formatters).
export { CaptureError, type CaptureErrorCode } from './capture-error.js'
export { readCapture, type CapturedPacket } from './read-capture.js'
export { writePcapIp, writePcapUdp, type IpRecord, type UdpDatagram } from './write-pcap.js'
export { LinkType } from './link-layer.js'
export { buildIpv4, buildUdp, internetChecksum, IpProto, parseIpv4, parseUdp, type Ipv4Header, type UdpHeader } from './ipv4.js'
export { createCaptureDecoder, decodeCapture, IKE_PORT, NAT_T_PORT, type CaptureDecoder } from './decode-capture.js'
export { KeyChain, NO_KEYS, type CaptureKeys, type EspKeyEntry, type KekKeyEntry, type Phase1KeyEntry } from './key-chain.js'
export { mergeKeys, parseKeyFile } from './key-file.js'
export type { CaptureRecord, Checks, CheckState, EspInfo, InnerPacket, IsakmpInfo, LearnedKey, RecordError, RecordKind } from './record.js'
export { formatRecordText, formatText, payloadLines } from './format-text.js'
export { formatJsonLines, recordToJson, toJson, type Json } from './format-json.js'
