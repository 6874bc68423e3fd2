import { PluginError } from '../errors';

/** Volume options as Docker passes them (`-o key=value`): always strings. */
export type VolumeOptions = Readonly<Record<string, string>>;

export interface OptionSpec {
  /** Throws a message (without the option name) when the value is not acceptable. */
  readonly check: (value: string) => void;
}

export type OptionSchema = Readonly<Record<string, OptionSpec>>;

/** Options refused by name, each with the reason shown to the user. */
export type RefusedOptions = Readonly<Record<string, string>>;

/**
 * The allowlist check every option goes through before any backend sees it. Unknown
 * names are refused with the accepted list; values are checked by their spec. Values are
 * echoed in messages only for accepted names, whose values are never secret.
 */
export function checkOptions(
  backendName: string,
  schema: OptionSchema,
  options: VolumeOptions,
  refused: RefusedOptions = {},
): void {
  for (const [name, value] of Object.entries(options)) {
    const refusal = lookup(refused, name.toLowerCase());
    if (refusal !== undefined) {
      throw new PluginError('BAD_OPTION', `option "${name}" is refused: ${refusal}`);
    }
    const spec = lookup(schema, name);
    if (spec === undefined) {
      const accepted = Object.keys(schema).sort().join(', ');
      throw new PluginError('BAD_OPTION', `unknown option "${printable(name)}" for a ${backendName} volume; accepted options: ${accepted}`);
    }
    try {
      spec.check(value);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new PluginError('BAD_OPTION', `option ${name}=${JSON.stringify(value)}: ${reason}`);
    }
  }
}

/** The same names with the same values. */
export function sameOptions(a: VolumeOptions, b: VolumeOptions): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}

function lookup<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// Option names come from the user; keep the message one readable line.
function printable(name: string): string {
  return name.length > 64 ? `${JSON.stringify(name.slice(0, 64)).slice(0, -1)}…"` : name.replace(/[^\x20-\x7e]/g, '?');
}
