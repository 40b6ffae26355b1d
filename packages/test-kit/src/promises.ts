/**
 * Promise helpers: a deferred, an error catcher, a settler, and `waitFor` for conditions that
 * change in the background.
 *
 * @module
 */

/** A promise you resolve from outside. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Catches an error from a promise or function. */
export async function caught(fn: () => unknown): Promise<any> {
  try {
    await fn()
  } catch (e) {
    return e
  }
  throw new Error('expected an error')
}

/** Settles a promise into `{ ok, value | error }` so a test can inspect rejections calmly. */
export async function settle<T>(
  p: T | PromiseLike<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p }
  } catch (error) {
    return { ok: false, error }
  }
}

/**
 * Polls `check` every 10 ms until it returns true; throws once `timeout` ms pass. For state that
 * changes in the background (connections, bus messages), never as a sleep.
 *
 * @param timeout - milliseconds, default 5000
 * @param what - named in the timeout error; a function is called at the timeout, so the error shows the state then
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeout = 5000,
  what: string | (() => string | Promise<string>) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeout
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) {
      // A function names the condition with the state at the timeout, not when the wait began.
      const text = typeof what === 'function' ? await what() : what
      throw new Error(`timed out after ${timeout}ms waiting for ${text}`)
    }
    await new Promise((r) => setTimeout(r, 10))
  }
}
