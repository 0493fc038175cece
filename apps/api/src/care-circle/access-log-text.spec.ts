import { describe, expect, it } from '@jest/globals';
import { accessLogSentence } from './access-log-text.js';

describe('accessLogSentence', () => {
  it('says who viewed which history, in the words the patient uses', () => {
    expect(
      accessLogSentence({
        actorName: 'Dr Reyes',
        action: 'readings.read',
        details: { metric: 'glucose', bucket: '1h' },
      }),
    ).toBe('Dr Reyes viewed your glucose (blood sugar) history');
    expect(accessLogSentence({ actorName: 'Dr Reyes', action: 'readings.read', details: { metric: null } })).toBe(
      'Dr Reyes viewed your readings history',
    );
  });

  it('words watching live, alerts and devices without jargon', () => {
    expect(accessLogSentence({ actorName: 'Maria', action: 'live.subscribe' })).toBe(
      'Maria started watching your readings as they arrive',
    );
    expect(accessLogSentence({ actorName: 'Dr Reyes', action: 'alert.acknowledge' })).toBe(
      'Dr Reyes acknowledged one of your alerts',
    );
    expect(accessLogSentence({ actorName: 'Nurse Lee', action: 'device.list' })).toBe('Nurse Lee viewed your devices');
  });

  it('says when it went through a connected health system (FHIR)', () => {
    expect(accessLogSentence({ actorName: 'Dr Reyes', action: 'patient.read', details: { via: 'fhir' } })).toBe(
      'Dr Reyes opened your record through a connected health system',
    );
  });

  it('still names who touched the data for an action without words of its own', () => {
    expect(accessLogSentence({ actorName: 'Admin', action: 'something.new' })).toBe('Admin looked at your data');
  });
});
