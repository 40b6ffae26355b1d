import { runStoreSuite } from '@tiercache/store-test-suite'
import { describe, expect, test } from 'vitest'
import { fsStore } from '../src/index.js'

runStoreSuite({ describe, test, expect, create: () => fsStore() })
