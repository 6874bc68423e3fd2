/**
 * Option specs: each checks a value and parses it into its typed form, so a value is read
 * by the same rule that accepted it. `check` throws an Error whose message completes the
 * sentence "option name=value: ..."; stored options stay the strings the user gave.
 */
import type { OptionSpec } from './schema';

/** A spec that also turns an accepted value into what it means. */
export interface TypedOption<T> extends OptionSpec {
  parse(value: string): T;
}

const fail = (message: string): never => {
  throw new Error(message);
};

function typed<T>(check: (value: string) => void, parse: (value: string) => T): TypedOption<T> {
  return {
    check,
    parse(value) {
      check(value);
      return parse(value);
    },
  };
}

export function integer(min: number, max: number): TypedOption<number> {
  return typed((value) => {
    if (!/^[0-9]{1,10}$/.test(value)) fail(`expected a whole number from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) fail(`expected a whole number from ${min} to ${max}`);
  }, Number);
}

/** Seconds with up to three decimals, such as 0.5. */
export function seconds(max: number): TypedOption<number> {
  return typed((value) => {
    if (!/^[0-9]{1,5}(\.[0-9]{1,3})?$/.test(value) || Number(value) > max) fail(`expected seconds from 0 to ${max}, such as 0.5`);
  }, Number);
}

/** An octal mode such as 0755, as a number. */
export const fileMode: TypedOption<number> = typed(
  (value) => {
    if (!/^0?[0-7]{3,4}$/.test(value)) fail('expected an octal mode such as 0755');
  },
  (value) => parseInt(value, 8),
);

export function oneOf<T extends string>(...choices: T[]): TypedOption<T> {
  return typed(
    (value) => {
      if (!(choices as string[]).includes(value)) fail(`expected one of ${choices.join(', ')}`);
    },
    (value) => value as T,
  );
}

const BOOLEAN_WORDS = oneOf('true', 'false', 'yes', 'no', '1', '0');
export const boolean: TypedOption<boolean> = typed(
  (value) => BOOLEAN_WORDS.check(value),
  (value) => ['true', 'yes', '1'].includes(value),
);

/** A file name inside a fixed directory: no separators, no traversal, no hidden files. */
export const fileName: TypedOption<string> = matching(/^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$/, 'a plain file name (letters, digits, _ . @ -), not a path');

/** Matches a whole value against `pattern`; `expected` completes "expected ...". */
export function matching(pattern: RegExp, expected: string): TypedOption<string> {
  return typed(
    (value) => {
      if (!pattern.test(value)) fail(`expected ${expected}`);
    },
    (value) => value,
  );
}

/**
 * Wraps a spec with the rules every value handed to another program obeys: no comma
 * (FUSE splits -o values on commas, so "1,ssh_command=x" would become two options), no
 * leading dash (it would read as a flag), no control characters, at most 256 characters.
 */
export function passedOn<T>(spec: TypedOption<T>): TypedOption<T> {
  return typed((value) => {
    if (value.includes(',')) fail('commas are not allowed in option values');
    if (value.startsWith('-')) fail('values must not start with "-"');
    if (/[\u0000-\u001f\u007f]/.test(value)) fail('control characters are not allowed');
    if (value.length > 256) fail('at most 256 characters');
    spec.check(value);
  }, (value) => spec.parse(value));
}
