import ts from 'typescript'
import { tiercacheProject } from '../../vitest.shared.js'

/**
 * The seed tests use standard (TC39) decorators, as the seed's `@cache_decorator` does; vitest's
 * own transform does not lower them, so TypeScript compiles those files first.
 */
const standardDecorators = {
  name: 'tiercache:standard-decorators',
  enforce: 'pre' as const,
  transform(code: string, id: string) {
    if (!/\/test\/seed(-[a-z]+)?\.test\.ts$/.test(id)) return undefined
    const out = ts.transpileModule(code, {
      fileName: id,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        experimentalDecorators: false,
        sourceMap: true,
        inlineSources: true,
      },
    })
    return { code: out.outputText, map: out.sourceMapText ?? null }
  },
}

export default { ...tiercacheProject(import.meta.dirname), plugins: [standardDecorators] }
