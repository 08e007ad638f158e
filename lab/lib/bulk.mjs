// Bulk transfers for the lab checks: bytes that must arrive intact through the GMs' data planes.
//   node bulk.mjs tcp-server PORT              one connection; prints "<bytes> <sha256>" when it ends
//   node bulk.mjs tcp-client HOST PORT BYTES   sends BYTES random bytes; prints "<bytes> <sha256>"
//   node bulk.mjs udp-server PORT COUNT        prints "<datagrams> <sha256 of all, in order of arrival>"
//                                              after COUNT datagrams or 3 s of silence
//   node bulk.mjs udp-client HOST PORT COUNT SIZE   COUNT datagrams of SIZE octets (sequence number first)
import { createHash, randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import net from 'node:net'

const [mode, ...args] = process.argv.slice(2)
const done = (n, h) => { console.log(`${n} ${h.digest('hex')}`); process.exit(0) }

if (mode === 'tcp-server') {
  const srv = net.createServer((s) => {
    const h = createHash('sha256')
    let n = 0
    s.on('data', (b) => { n += b.length; h.update(b) })
    s.on('end', () => { srv.close(); done(n, h) })
  })
  srv.listen(Number(args[0]), () => console.error('listening'))
} else if (mode === 'tcp-client') {
  const total = Number(args[2])
  const h = createHash('sha256')
  const s = net.connect(Number(args[1]), args[0], () => {
    let sent = 0
    const pump = () => {
      while (sent < total) {
        const b = randomBytes(Math.min(65536, total - sent))
        h.update(b)
        sent += b.length
        if (!s.write(b)) return void s.once('drain', pump)
      }
      s.end(() => done(sent, h))
    }
    pump()
  })
} else if (mode === 'udp-server') {
  const want = Number(args[1])
  const h = createHash('sha256')
  let n = 0
  let timer
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 })
  const idle = () => { clearTimeout(timer); timer = setTimeout(() => done(n, h), 3000) }
  sock.on('message', (m) => { n++; h.update(m); if (n === want) done(n, h); idle() })
  sock.bind(Number(args[0]), () => { console.error('listening'); idle() })
} else if (mode === 'udp-client') {
  const [host, port, count, size] = [args[0], Number(args[1]), Number(args[2]), Number(args[3])]
  const sock = dgram.createSocket('udp4')
  const h = createHash('sha256')
  let i = 0
  // bursts of 32, then yield: runs of same-size datagrams for GM-2 to coalesce, without overflowing anything
  const burst = () => {
    for (let k = 0; k < 32 && i < count; k++, i++) {
      const m = randomBytes(size)
      m.writeUInt32BE(i, 0)
      h.update(m)
      sock.send(m, port, host)
    }
    if (i < count) setTimeout(burst, 2)
    else setTimeout(() => done(count, h), 200)
  }
  burst()
} else {
  console.error('usage: bulk.mjs tcp-server|tcp-client|udp-server|udp-client …')
  process.exit(2)
}
