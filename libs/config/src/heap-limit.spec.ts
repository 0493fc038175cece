import { describe, expect, it } from '@jest/globals';
import { HEAP_LIMIT_MB, withHeapLimit } from './heap-limit.js';

describe('withHeapLimit', () => {
  it('adds the heap limit to nothing, or to the options already given', () => {
    expect(withHeapLimit(undefined)).toBe(`--max-old-space-size=${HEAP_LIMIT_MB}`);
    expect(withHeapLimit('')).toBe(`--max-old-space-size=${HEAP_LIMIT_MB}`);
    expect(withHeapLimit('--enable-source-maps')).toBe(`--enable-source-maps --max-old-space-size=${HEAP_LIMIT_MB}`);
  });

  it("leaves an operator's own limit alone", () => {
    expect(withHeapLimit('--max-old-space-size=4096')).toBe('--max-old-space-size=4096');
  });
});
