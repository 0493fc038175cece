/** T with its readonly fields writable: for state the ingest updates in place on every message. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
