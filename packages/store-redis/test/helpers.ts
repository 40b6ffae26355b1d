/** Commands the store must never send: disabled on every test server. */
export const FORBIDDEN_COMMANDS: readonly string[] = [
  '--rename-command',
  'KEYS',
  '',
  '--rename-command',
  'FLUSHDB',
  '',
  '--rename-command',
  'FLUSHALL',
  '',
]
