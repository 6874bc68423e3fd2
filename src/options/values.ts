/**
 * Value checks for option specs. Each throws an Error whose message completes the
 * sentence "option name=value: ...". They return nothing: stored options stay the strings
 * the user gave, and backends read typed values with the parse* helpers below.
 */
import type { OptionSpec } from './schema';

const fail = (message: string): never => {
  throw new Error(message);
};

export function integer(min: number, max: number): OptionSpec {
  return {
    check(value) {
      if (!/^[0-9]{1,10}$/.test(value)) fail(`expected a whole number from ${min} to ${max}`);
      const n = Number(value);
      if (n < min || n > max) fail(`expected a whole number from ${min} to ${max}`);
    },
  };
}

/** Seconds with up to three decimals, such as 0.5. */
export function seconds(max: number): OptionSpec {
  return {
    check(value) {
      if (!/^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(value) || Number(value) > max) fail(`expected seconds from 0 to ${max}, such as 0.5`);
    },
  };
}

export const parseSeconds = (value: string | undefined, fallback: number): number => (value === undefined ? fallback : Number(value));

export const fileMode: OptionSpec = {
  check(value) {
    if (!/^0?[0-7]{3,4}$/.test(value)) fail('expected an octal mode such as 0755');
  },
};

export function oneOf(...choices: string[]): OptionSpec {
  return {
    check(value) {
      if (!choices.includes(value)) fail(`expected one of ${choices.join(', ')}`);
    },
  };
}

export const boolean: OptionSpec = oneOf('true', 'false', 'yes', 'no', '1', '0');

export const parseBoolean = (value: string | undefined, fallback: boolean): boolean =>
  value === undefined ? fallback : ['true', 'yes', '1'].includes(value);

export const parseInteger = (value: string | undefined, fallback: number): number =>
  value === undefined ? fallback : Number(value);

export const parseMode = (value: string | undefined): number | undefined =>
  value === undefined ? undefined : parseInt(value, 8);

/** A file name inside a fixed directory: no separators, no traversal, no hidden files. */
export const fileName: OptionSpec = {
  check(value) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$/.test(value)) {
      fail('expected a plain file name (letters, digits, _ . @ -), not a path');
    }
  },
};

/** Matches a whole value against `pattern`; `expected` completes "expected ...". */
export function matching(pattern: RegExp, expected: string): OptionSpec {
  return {
    check(value) {
      if (!pattern.test(value)) fail(`expected ${expected}`);
    },
  };
}

/**
 * Wraps a spec with the rules every value handed to another program obeys: no comma
 * (FUSE splits -o values on commas, so "1,ssh_command=x" would become two options), no
 * leading dash (it would read as a flag), no control characters, at most 256 characters.
 */
export function passedOn(spec: OptionSpec): OptionSpec {
  return {
    check(value) {
      if (value.includes(',')) fail('commas are not allowed in option values');
      if (value.startsWith('-')) fail('values must not start with "-"');
      if (/[\u0000-\u001f\u007f]/.test(value)) fail('control characters are not allowed');
      if (value.length > 256) fail('at most 256 characters');
      spec.check(value);
    },
  };
}
