import { RawJson, type JsonTree } from '../json-text.js';
import { codeOf, insertAt, pick, stringField, type Mutation } from './mutation.js';

/**
 * Mutations of the text inside a message: control characters (escaped, raw inside a string, between
 * tokens, in a key) and unpaired UTF-16 surrogates (escaped, or UTF-8-encoded as no valid UTF-8 allows).
 */

const CONTROLS = ['\u0000', '\u0001', '\u0007', '\b', '\u000b', '\f', '\u001b', '\u001f', '\u007f', '\u0085', '\u009f'];

/** control_characters */
export const controlCharacters: Mutation = (prng, draft, env) => {
  const c = pick(prng, CONTROLS);
  const variant = prng.int(0, 3);
  if (variant === 0) {
    const field = stringField(prng, draft, env);
    field.set(insertAt(field.original, prng.int(0, field.original.length), c));
    return `escaped ${codeOf(c)} in ${field.name}`;
  }
  if (variant === 1) {
    // Unescaped inside a string: JSON forbids U+0000–U+001F there (DEL and C1 are allowed).
    const field = stringField(prng, draft, env);
    const quoted = JSON.stringify(field.original);
    field.set(new RawJson(insertAt(quoted, prng.int(1, quoted.length - 1), c)));
    return `raw ${codeOf(c)} in ${field.name}`;
  }
  if (variant === 2) {
    // Between tokens: tab, newline and carriage return are JSON whitespace, the rest are not.
    const between = pick(prng, [...CONTROLS, '\t', '\n', '\r']);
    draft.finish = (payload) => Buffer.concat([payload.subarray(0, 1), Buffer.from(between), payload.subarray(1)]);
    return `raw ${codeOf(between)} between tokens`;
  }
  (draft.body as Record<string, JsonTree>)[`x${c}y`] = 1;
  return `${codeOf(c)} in an unknown key`;
};

const SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800'];
/** Stands for bytes that cannot be written as a JS string; replaced after serialising. */
const BYTES_MARK = 'QQBYTESQQ';

function replaceMark(bytes: Buffer): (payload: Buffer) => Buffer {
  return (payload) => {
    const at = payload.indexOf(BYTES_MARK);
    return at < 0 ? payload : Buffer.concat([payload.subarray(0, at), bytes, payload.subarray(at + BYTES_MARK.length)]);
  };
}

/** unpaired_surrogates */
export const unpairedSurrogates: Mutation = (prng, draft, env) => {
  const s = pick(prng, SURROGATES);
  const name = [...s].map(codeOf).join('+');
  const variant = prng.int(0, 3);
  const field = stringField(prng, draft, env);
  if (variant === 0) {
    field.set(insertAt(field.original, prng.int(0, field.original.length), s));
    return `escaped ${name} in ${field.name}`;
  }
  if (variant === 1) {
    // A surrogate encoded as UTF-8 (CESU-8 style): not valid UTF-8.
    const bytes = Buffer.from(
      pick(prng, [
        [0xed, 0xa0, 0x80],
        [0xed, 0xbf, 0xbf],
        [0xed, 0xb0, 0x80],
      ]),
    );
    field.set(insertAt(field.original, prng.int(0, field.original.length), BYTES_MARK));
    draft.finish = replaceMark(bytes);
    return `UTF-8-encoded surrogate ${bytes.toString('hex')} in ${field.name}`;
  }
  if (variant === 2) {
    (draft.body as Record<string, JsonTree>)[`k${s}`] = 'v';
    return `escaped ${name} in an unknown key`;
  }
  // A proper pair: valid text (stored in firmware, an unknown metric elsewhere).
  field.set(insertAt(field.original, prng.int(0, field.original.length), '\ud83d\ude00'));
  return `surrogate pair in ${field.name}`;
};
