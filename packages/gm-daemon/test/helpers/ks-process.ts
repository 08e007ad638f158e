// A test key server as its own process (for the spawned-CLI test): TestKeyServer on UDP
// ADDRESS:PORT (argv), prints "ready" when bound, exits when its stdin closes (or after 60 s).
import { createUdpTransport } from '@gdoi/daemon-kit'
import { TestKeyServer } from './test-ks.js'

const [address = '127.0.1.1', port = '848'] = process.argv.slice(2)
const transport = await createUdpTransport({ address, port: Number(port) })
const ks = new TestKeyServer(transport, { address }, () => Date.now())
process.stdout.write('ready\n')
const stop = (): void => {
  void transport.close().then(() => process.exit(0))
}
process.stdin.on('end', stop)
process.stdin.resume()
setTimeout(stop, 60_000)
void ks
