/**
 * JSON text with what `JSON.stringify` cannot write: verbatim fragments (`1e999`, `-0`, a raw control
 * character inside a string) and objects whose keys repeat. The fuzz builds payloads as these trees
 * so a mutation can reach any place of the text while the rest stays well-formed.
 */

/** A fragment written as is (it need not be valid JSON: that is the point). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object written entry by entry, in order, keys possibly repeated (JSON.parse keeps the last). */
export class OrderedJsonObject {
  constructor(readonly entries: [string, JsonTree][]) {}
}

export type JsonTree =
  null | boolean | number | string | RawJson | OrderedJsonObject | JsonTree[] | { [key: string]: JsonTree };

/** Serialises a tree; strings go through JSON.stringify, so lone surrogates and controls come out escaped. */
export function toJsonText(value: JsonTree): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof OrderedJsonObject)
    return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`;
  // JSON.stringify writes -0 as 0 and non-finite numbers as null: mutations that want those use RawJson.
  return JSON.stringify(value);
}

/** `depth` nested arrays around `inner` (`[[[…]]]`), as text: a tree that deep would overflow the serialiser's stack. */
export function nestedArrays(depth: number, inner = ''): RawJson {
  return new RawJson(`${'['.repeat(depth)}${inner}${']'.repeat(depth)}`);
}

/** `depth` nested objects `{"k":{"k":…}}` around `inner`, as text. */
export function nestedObjects(depth: number, key: string, inner = '1'): RawJson {
  return new RawJson(`${`{${JSON.stringify(key)}:`.repeat(depth)}${inner}${'}'.repeat(depth)}`);
}
