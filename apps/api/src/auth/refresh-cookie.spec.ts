import { describe, expect, it } from '@jest/globals';
import { refreshTokenFromCookies } from './refresh-cookie.js';

describe('refreshTokenFromCookies', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['lantern_refresh=abc', 'abc'],
    ['theme=dark; lantern_refresh=abc-_12; other=1', 'abc-_12'],
    [' lantern_refresh = abc ', 'abc'],
    ['lantern_refresh=', undefined],
    ['not_lantern_refresh=abc', undefined],
    ['lantern_refresh=a%2Bb', 'a+b'],
    ['lantern_refresh=%E0%A4%A', undefined],
    ['lantern_refresh', undefined],
  ])('%p → %p', (header, expected) => {
    expect(refreshTokenFromCookies(header)).toBe(expected);
  });
});
