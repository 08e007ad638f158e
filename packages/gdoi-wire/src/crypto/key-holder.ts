// Objects that carry key bytes must never print them: JSON.stringify (pino) and util.inspect
// (console.log, tap diagnostics) both see '[key]'. The hooks are non-enumerable, so equality checks
// and spreading only see the data fields.
const INSPECT = Symbol.for('nodejs.util.inspect.custom')

const redact = (): string => '[key]'

export function keyHolder<T extends object>(o: T): T {
  Object.defineProperty(o, 'toJSON', { value: redact, enumerable: false })
  Object.defineProperty(o, INSPECT, { value: redact, enumerable: false })
  return o
}
