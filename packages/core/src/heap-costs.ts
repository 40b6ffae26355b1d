/**
 * @module
 * Heap costs per structural element of a JSON value, shared by the serializer's walk and the byte scan.
 */
/**
 * What a live value is estimated to hold on the V8 heap beyond its JSON text, per structural
 * element of that text (64-bit V8 without pointer compression, as Node ships it): an object's
 * header and in-object slots, an array's header and backing store, a property or element slot,
 * and a string's header (counted per quote, so a key and its value each count). Calibrated
 * against `process.memoryUsage().heapUsed` deltas; the error is stated in the core README
 * ("Memory accounting").
 */
export const HEAP_PER_OBJECT = 48
/** @see HEAP_PER_OBJECT */
export const HEAP_PER_ARRAY = 32
/** @see HEAP_PER_OBJECT */
export const HEAP_PER_SLOT = 8
/** @see HEAP_PER_OBJECT */
export const HEAP_PER_QUOTE = 8
