import t from 'tap'
import { parseYaml } from '../../src/config/yaml.js'

t.test('values, lines of paths', (t) => {
  const y = parseYaml('a: 1\nlist:\n  - x: 2\n  - x: 3\n    y: [1, 2]\n')
  t.same(y.issues, [])
  t.same(y.value, { a: 1, list: [{ x: 2 }, { x: 3, y: [1, 2] }] })
  t.equal(y.lineFor(['a']), 1)
  t.equal(y.lineFor(['list', 1, 'x']), 4)
  t.equal(y.lineFor(['list', 1, 'y', 1]), 5)
  t.equal(y.lineFor(['list', 1, 'nope', 'deeper']), 4, 'falls back to the nearest existing parent')
  t.end()
})

t.test('syntax errors carry the line, never the source text', (t) => {
  const y = parseYaml('ike:\n  preSharedKeys:\n    - key: "TOPSECRET\n')
  t.ok(y.issues.length > 0)
  t.equal(y.issues[0]?.path, '')
  t.ok(y.issues[0]?.line !== undefined)
  t.notMatch(JSON.stringify(y.issues), /TOPSECRET/)
  const d = parseYaml('a: 1\na: 2\n')
  t.match(d.issues, [{ message: /YAML: .*unique/i, line: 2 }])
  t.same(parseYaml('').issues, [{ path: '', message: 'the file is empty' }])
  t.same(parseYaml('# only comments\n').issues, [{ path: '', message: 'the file is empty' }])
  t.end()
})
