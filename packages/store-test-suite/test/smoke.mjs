// Runs in a fresh folder where only @tiercache/store-test-suite and its peer @tiercache/core are installed.
import { runStoreSuite } from '@tiercache/store-test-suite'

const tests = []
runStoreSuite({
  describe: (_name, fn) => fn(),
  test: (name, fn) => tests.push({ name, fn }),
  expect: () => new Proxy({}, { get: () => () => {} }),
  create: () => ({
    name: 'x',
    kind: 'remote',
    capabilities: {},
    get() {},
    set() {},
    delete: () => true,
    clear() {},
  }),
})
if (tests.length < 10) throw new Error(`only ${tests.length} tests registered`)
console.log('smoke ok')
