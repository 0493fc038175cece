import { describe, expect, it } from '@jest/globals';
import { createECDH, randomBytes } from 'node:crypto';
import { endpointProblem, keysProblem } from './push-endpoint.js';

describe('endpointProblem', () => {
  const production = { allowLoopback: false };
  const test = { allowLoopback: true };

  it('accepts the https endpoints browsers are given', () => {
    for (const endpoint of [
      'https://fcm.googleapis.com/fcm/send/dXJsLXNhZmU6a2V5',
      'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk',
      'https://web.push.apple.com/QGuQyavXutnMZ6H',
    ])
      expect(endpointProblem(endpoint, production)).toBeUndefined();
  });

  it('refuses plain http, IP addresses, credentials and non-URLs', () => {
    expect(endpointProblem('http://push.example.org/x', production)).toBe('endpoint must be an https URL');
    expect(endpointProblem('http://push.example.org/x', test)).toBe('endpoint must be an https URL');
    expect(endpointProblem('https://10.0.0.5/x', production)).toBe('endpoint must name its host, not an IP address');
    expect(endpointProblem('https://[fd00::1]/x', production)).toBe('endpoint must name its host, not an IP address');
    expect(endpointProblem('https://u:p@push.example.org/x', production)).toBe('endpoint must not carry credentials');
    expect(endpointProblem('not a url', production)).toBe('endpoint must be a URL');
    expect(endpointProblem(`https://push.example.org/${'a'.repeat(2048)}`, production)).toMatch(/at most 2048/);
  });

  it("takes loopback endpoints (the tests' push service) only under NODE_ENV=test", () => {
    for (const endpoint of ['http://127.0.0.1:8080/push/1', 'https://localhost/push/1', 'http://[::1]:9/push']) {
      expect(endpointProblem(endpoint, test)).toBeUndefined();
      expect(endpointProblem(endpoint, production)).toBe('endpoint must be a push service, not this machine');
    }
  });
});

describe('keysProblem', () => {
  const browserKey = (): string => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return ecdh.getPublicKey('base64url');
  };
  const auth = randomBytes(16).toString('base64url');

  it("accepts a browser's P-256 key and 16-byte auth secret", () => {
    expect(keysProblem(browserKey(), auth)).toBeUndefined();
  });

  it('refuses a short auth secret, a compressed or truncated key, and a point off the curve', () => {
    expect(keysProblem(browserKey(), randomBytes(8).toString('base64url'))).toBe(
      'keys.auth must be 16 bytes in base64url',
    );
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    expect(keysProblem(ecdh.getPublicKey('base64url', 'compressed'), auth)).toMatch(/uncompressed P-256/);
    expect(keysProblem(browserKey().slice(0, 40), auth)).toMatch(/uncompressed P-256/);
    const offCurve = Buffer.alloc(65, 1);
    offCurve[0] = 4;
    expect(keysProblem(offCurve.toString('base64url'), auth)).toBe('keys.p256dh is not a point of P-256');
  });
});
