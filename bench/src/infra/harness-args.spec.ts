import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { parseHarnessArgs } from './harness-args.js';

const FLAGS = {
  quick: { type: 'boolean' },
  devices: { type: 'number' },
  rate: { type: 'number', default: 1000 },
  phases: { type: 'string', default: 'a,b' },
  out: { type: 'string' },
} as const;

describe('parseHarnessArgs', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('gives every flag its default, or undefined and false, when none is passed', () => {
    expect(parseHarnessArgs([], FLAGS, 'help')).toEqual({
      quick: false,
      devices: undefined,
      rate: 1000,
      phases: 'a,b',
      out: undefined,
    });
  });

  it('reads `--flag value`, `--flag=value` and switches, numbers as numbers', () => {
    expect(parseHarnessArgs(['--devices', '40', '--rate=250.5', '--quick', '--out', 'x.json'], FLAGS, 'help')).toEqual({
      quick: true,
      devices: 40,
      rate: 250.5,
      phases: 'a,b',
      out: 'x.json',
    });
  });

  it('reads a negative number after a space as the value, not as a flag', () => {
    expect(parseHarnessArgs(['--rate', '-5', '--devices=-2'], FLAGS, 'help')).toMatchObject({ rate: -5, devices: -2 });
  });

  it('refuses a number flag that is not a number, naming the flag', () => {
    expect(() => parseHarnessArgs(['--devices', 'ten'], FLAGS, 'help')).toThrow(
      "--devices must be a number, got 'ten'",
    );
  });

  it('refuses an unknown flag, a stray word and a flag without its value instead of ignoring them', () => {
    expect(() => parseHarnessArgs(['--devics', '40'], FLAGS, 'help')).toThrow(/Unknown option '--devics'.*--help/);
    expect(() => parseHarnessArgs(['--quick', 'true'], FLAGS, 'help')).toThrow(/Unexpected argument 'true'/);
    expect(() => parseHarnessArgs(['--out'], FLAGS, 'help')).toThrow(/'--out <value>' argument missing/);
  });

  it('prints the help and returns undefined on --help, whatever else is passed', () => {
    const printed: unknown[] = [];
    jest.spyOn(console, 'log').mockImplementation((line: unknown) => printed.push(line));
    expect(parseHarnessArgs(['--devices', '5', '--help'], FLAGS, 'npm run x -- [flags]')).toBeUndefined();
    expect(printed).toEqual(['npm run x -- [flags]']);
  });
});
