import { describe, expect, it } from '@jest/globals';
import { isForwarded, isLoopbackAddress, metricsAccess } from './metrics-access.js';

describe('metricsAccess', () => {
  const local = { remoteAddress: '127.0.0.1', forwarded: false };

  it('without a token, answers loopback peers only, and never a forwarded request', () => {
    expect(metricsAccess(local, undefined)).toBe('allowed');
    expect(metricsAccess({ remoteAddress: '::1', forwarded: false }, undefined)).toBe('allowed');
    expect(metricsAccess({ remoteAddress: '::ffff:127.0.0.1', forwarded: false }, undefined)).toBe('allowed');
    expect(metricsAccess({ remoteAddress: '10.0.0.5', forwarded: false }, undefined)).toBe('forbidden');
    expect(metricsAccess({ remoteAddress: '::ffff:192.168.1.2', forwarded: false }, undefined)).toBe('forbidden');
    expect(metricsAccess({ remoteAddress: '127.0.0.1', forwarded: true }, undefined)).toBe('forbidden');
    expect(metricsAccess({ forwarded: false }, undefined)).toBe('forbidden');
  });

  it('with a token, wants it as a bearer token from everyone, loopback included', () => {
    const token = 'a-metrics-token-of-some-length';
    expect(metricsAccess({ ...local, authorization: `Bearer ${token}` }, token)).toBe('allowed');
    expect(metricsAccess({ remoteAddress: '10.0.0.5', forwarded: true, authorization: `bearer ${token}` }, token)).toBe(
      'allowed',
    );
    expect(metricsAccess(local, token)).toBe('unauthorized');
    expect(metricsAccess({ ...local, authorization: `Bearer ${token}x` }, token)).toBe('unauthorized');
    expect(metricsAccess({ ...local, authorization: token }, token)).toBe('unauthorized');
    expect(metricsAccess({ ...local, authorization: ['a', 'b'] }, token)).toBe('unauthorized');
  });

  it('recognizes loopback addresses and forwarding headers', () => {
    expect(isLoopbackAddress('127.8.9.10')).toBe(true);
    expect(isLoopbackAddress('128.0.0.1')).toBe(false);
    expect(isLoopbackAddress('::2')).toBe(false);
    expect(isForwarded({ 'x-forwarded-for': '203.0.113.9' })).toBe(true);
    expect(isForwarded({ forwarded: 'for=203.0.113.9' })).toBe(true);
    expect(isForwarded({ host: 'x' })).toBe(false);
  });
});
