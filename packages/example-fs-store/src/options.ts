/** Options for {@link fsStore}. */
export interface FsStoreOptions {
  /**
   * Name of the tier in stats, metrics and errors (the level becomes `l2_<name>`).
   * @default 'fs'
   */
  readonly name?: string
  /**
   * Largest entry value, in bytes. A larger one is refused with `ValueTooLargeError` and the key
   * keeps its previous entry.
   * @default no limit
   */
  readonly maxEntryBytes?: number
}
