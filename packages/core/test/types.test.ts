import { join } from 'node:path'
import ts from 'typescript'
import { expect, test } from 'vitest'

test('the public types refuse what the runtime refuses (test/types/*.ts compiles, every @ts-expect-error is used)', () => {
  const file = join(import.meta.dirname, 'types', 'set-value.ts')
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  })
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  expect(diagnostics).toEqual([])
  // A whole TypeScript program: seconds when idle, over 30 s on a saturated machine.
}, 180_000)
