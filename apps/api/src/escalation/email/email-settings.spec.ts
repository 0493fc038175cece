import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@lantern/config';

/** The e-mail settings as libs/config reads them (docs/configuration.md). */
describe('e-mail settings', () => {
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('leave e-mail off by default, from Lantern, and over TLS only', () => {
    const config = loadConfig({});
    expect(config.smtpUrl).toBeUndefined();
    expect(config.emailFrom).toBe('Lantern <alerts@localhost>');
    expect(config.smtpRequireTls).toBe(true);
  });

  it('take smtp:// and smtps:// URLs with a login', () => {
    expect(loadConfig({ SMTP_URL: 'smtps://lantern:p%40ss@mail.example.org:465' }).smtpUrl).toBe(
      'smtps://lantern:p%40ss@mail.example.org:465',
    );
    expect(loadConfig({ SMTP_URL: 'smtp://relay.local' }).smtpUrl).toBe('smtp://relay.local');
  });

  it('refuse another scheme without quoting the URL, which may hold the password', () => {
    const found = problems({ SMTP_URL: 'https://lantern:secret-password@mail.example.org' });
    expect(found).toEqual(["SMTP_URL must use smtp:// or smtps://, got 'https://'"]);
    expect(problems({ SMTP_URL: 'not a url secret-password' }).join()).not.toContain('secret-password');
  });

  it('refuse a sender that is not an address or Name <address>', () => {
    expect(loadConfig({ EMAIL_FROM: 'alerts@clinic.example' }).emailFrom).toBe('alerts@clinic.example');
    expect(loadConfig({ EMAIL_FROM: 'Clinic Alerts <alerts@clinic.example>' }).emailFrom).toBe(
      'Clinic Alerts <alerts@clinic.example>',
    );
    expect(problems({ EMAIL_FROM: 'Clinic Alerts' })).toEqual([
      "EMAIL_FROM must be an address or Name <address>, got 'Clinic Alerts'",
    ]);
    expect(problems({ SMTP_REQUIRE_TLS: 'maybe' })).toEqual(["SMTP_REQUIRE_TLS must be true or false, got 'maybe'"]);
  });
});
