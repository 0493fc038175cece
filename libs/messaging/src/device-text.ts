/**
 * Text that devices send, checked before it is stored or echoed. PostgreSQL refuses U+0000 and
 * unpaired surrogates in `text` and `jsonb` (SQLSTATE 22021 / 22P05): such a value must never reach a
 * writer, where the batch holding it would fail on every retry. Control characters are refused too:
 * no field a device sends (firmware, unit, metric) has any use for them, and they garble logs.
 */

// Unicode category Cc: C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Length after which echoed device text is cut (in code points). */
export const ECHO_MAX_CHARS = 64;

const codePoint = (unit: number): string => `U+${unit.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * What makes a device-provided string unfit to store, in words ("contains U+0000 at index 2"), or
 * undefined when it is fine. Never echoes the text itself.
 */
export function textProblem(text: string): string | undefined {
  const control = CONTROL.exec(text);
  if (control) return `contains the control character ${codePoint(control[0].charCodeAt(0))} at index ${control.index}`;
  const lone = LONE_SURROGATE.exec(text);
  if (lone) return `contains an unpaired surrogate ${codePoint(lone[0].charCodeAt(0))} at index ${lone.index}`;
  return undefined;
}

/**
 * Device text made safe to put into a rejection reason (stored, logged, sent back to the device):
 * control characters and unpaired surrogates become `\uXXXX` escapes, and it is cut after
 * `max` code points (never inside a surrogate pair) with "…".
 */
export function echoText(text: string, max = ECHO_MAX_CHARS): string {
  let out = '';
  let chars = 0;
  for (let i = 0; i < text.length; i++) {
    if (chars >= max) return `${out}…`;
    chars++;
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += text.slice(i, i + 2);
        i++;
        continue;
      }
    }
    const unsafe = unit < 0x20 || (unit >= 0x7f && unit <= 0x9f) || (unit >= 0xd800 && unit <= 0xdfff);
    out += unsafe ? `\\u${unit.toString(16).padStart(4, '0')}` : text[i];
  }
  return out;
}
