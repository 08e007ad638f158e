// Which local address the kernel would use to reach a key server: a connected UDP socket's address.
// connect(2) on a datagram socket only looks up the route; nothing is sent. Used when the member binds
// 0.0.0.0 and still needs its own address for ID payloads and ACKs.
import { createSocket } from 'node:dgram'

export async function routeSourceAddress(to: string, port = 848): Promise<string> {
  const s = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.connect(port, to, () => {
        s.off('error', reject)
        resolve()
      })
    })
    return s.address().address
  } finally {
    s.close()
  }
}
