import path from 'node:path';
import type { StoreFileInfo, StoreFiles } from '../../src/backends/sftp/catalogue/store-files';

/**
 * An SFTP server in memory, for the catalogue protocol's simulation (the fake sits at the
 * process boundary: the real code talks to it through StoreFiles). Operations do not run
 * when called: each waits in `pending` until the simulation's scheduler picks it, so a
 * seeded PRNG decides the interleaving of every host's requests. Each picked operation is
 * applied atomically, as an SFTP server applies one request; a fault can fail it before or
 * after it takes effect (a connection that drops after the server renamed, say).
 */
interface Node {
  kind: 'file' | 'dir';
  data: Buffer;
  mtime: number;
  owner: string;
}

export interface PendingOperation {
  login: string;
  /** Which host sent it. */
  host: string;
  what: string;
  /** Applies the operation to the store; its result or error goes to the caller. */
  apply(fault: 'none' | 'before' | 'after'): void;
}

/** What a mutating operation did, for invariant checks. */
export interface StoreMutation {
  op: 'write' | 'rename' | 'replace' | 'mkdir' | 'unlink' | 'rmdir' | 'times';
  path: string;
  /** For renames: the source. */
  from?: string;
  by: string;
}

export class SimulatedStore {
  private readonly nodes = new Map<string, Node>([['/', { kind: 'dir', data: Buffer.alloc(0), mtime: 0, owner: 'root' }]]);
  /** Each directory's children's paths, kept beside `nodes` so a listing does not scan the store. */
  private readonly childrenOf = new Map<string, Set<string>>([['/', new Set()]]);
  readonly pending: PendingOperation[] = [];
  /** The server's clock in seconds; steps when the simulation says so. */
  now = 1_000_000;
  onMutation: (mutation: StoreMutation) => void = () => undefined;
  /** Applies each request as it comes (in order), for tests of one scenario without a scheduler. */
  auto = false;
  /** In auto mode: a request this says to fail fails (before it takes effect, or after). */
  fault: (operation: PendingOperation) => 'none' | 'before' | 'after' = () => 'none';
  /** Every request applied, in order (auto mode), as "host: what". */
  readonly log: string[] = [];

  /** StoreFiles as one login on this server sees it. */
  files(login: string, host = login): StoreFiles {
    const op = <T>(what: string, run: () => T): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const operation: PendingOperation = {
          login,
          host,
          what,
          apply: (fault) => {
            if (fault === 'before') return reject(new Error(`connection lost before ${what}`));
            let result: T;
            try {
              result = run();
            } catch (error) {
              return reject(error instanceof Error ? error : new Error(String(error)));
            }
            if (fault === 'after') return reject(new Error(`connection lost after ${what}`));
            resolve(result);
          },
        };
        if (!this.auto) return void this.pending.push(operation);
        this.log.push(`${host}: ${what}`);
        operation.apply(this.fault(operation));
      });
    const mutated = (mutation: Omit<StoreMutation, 'by'>): void => this.onMutation({ ...mutation, by: login });
    return {
      stat: (file) => op(`stat ${file}`, () => this.info(file)),
      list: (dir) =>
        op(`list ${dir}`, () => {
          const node = this.nodes.get(norm(dir));
          if (node === undefined) return undefined;
          if (node.kind !== 'dir') throw new Error(`not a directory: ${dir}`);
          return this.children(norm(dir)).map((child) => this.info(child) as StoreFileInfo);
        }),
      read: (file) =>
        op(`read ${file}`, () => {
          const node = this.nodes.get(norm(file));
          if (node === undefined) return undefined;
          if (node.kind !== 'file') throw new Error(`is a directory: ${file}`);
          return Buffer.from(node.data);
        }),
      write: (file, data) =>
        op(`write ${file}`, () => {
          this.needParent(file);
          const existing = this.nodes.get(norm(file));
          if (existing?.kind === 'dir') throw new Error(`is a directory: ${file}`);
          if (existing !== undefined && existing.owner !== login) throw new Error(`permission denied: ${file}`);
          this.put(norm(file), { kind: 'file', data: Buffer.from(data), mtime: Math.floor(this.now), owner: login });
          mutated({ op: 'write', path: norm(file) });
        }),
      rename: (from, to) =>
        op(`rename ${from} ${to}`, () => {
          if (!this.nodes.has(norm(from))) return 'missing' as const;
          if (this.nodes.has(norm(to))) return 'exists' as const;
          this.move(from, to);
          mutated({ op: 'rename', path: norm(to), from: norm(from) });
          return 'moved' as const;
        }),
      replace: (from, to) =>
        op(`posix-rename ${from} ${to}`, () => {
          if (!this.nodes.has(norm(from))) return 'missing' as const;
          const target = this.nodes.get(norm(to));
          if (target?.kind === 'dir') throw new Error(`is a directory: ${to}`);
          this.drop(norm(to));
          this.move(from, to);
          mutated({ op: 'replace', path: norm(to), from: norm(from) });
          return 'moved' as const;
        }),
      makeDir: (dir) =>
        op(`mkdir -p ${dir}`, () => {
          const parts = norm(dir).split('/').filter(Boolean);
          let at = '';
          for (const part of parts) {
            at = `${at}/${part}`;
            const node = this.nodes.get(at);
            if (node?.kind === 'file') throw new Error(`not a directory: ${at}`);
            if (node === undefined) {
              this.put(at, { kind: 'dir', data: Buffer.alloc(0), mtime: Math.floor(this.now), owner: login });
              mutated({ op: 'mkdir', path: at });
            }
          }
        }),
      unlink: (file) =>
        op(`unlink ${file}`, () => {
          const node = this.nodes.get(norm(file));
          if (node === undefined) return;
          if (node.kind === 'dir') throw new Error(`is a directory: ${file}`);
          this.drop(norm(file));
          mutated({ op: 'unlink', path: norm(file) });
        }),
      removeDir: (dir) =>
        op(`rmdir ${dir}`, () => {
          const node = this.nodes.get(norm(dir));
          if (node?.kind !== 'dir' || this.children(norm(dir)).length > 0) return false;
          this.drop(norm(dir));
          mutated({ op: 'rmdir', path: norm(dir) });
          return true;
        }),
      setTimes: (file, seconds) =>
        op(`utimes ${file}`, () => {
          const node = this.nodes.get(norm(file));
          if (node === undefined) throw new Error(`No such file: ${file}`);
          // Only the owner may set explicit times (POSIX utimes with times, not NULL).
          if (node.owner !== login) throw new Error(`permission denied: ${file}`);
          node.mtime = seconds;
          mutated({ op: 'times', path: norm(file) });
        }),
    };
  }

  has(file: string): boolean {
    return this.nodes.has(norm(file));
  }

  kind(file: string): 'file' | 'dir' | undefined {
    return this.nodes.get(norm(file))?.kind;
  }

  text(file: string): string | undefined {
    const node = this.nodes.get(norm(file));
    return node?.kind === 'file' ? node.data.toString('utf8') : undefined;
  }

  mtime(file: string): number | undefined {
    return this.nodes.get(norm(file))?.mtime;
  }

  /** Direct children's names of a directory (empty when missing). */
  names(dir: string): string[] {
    return this.children(norm(dir)).map((child) => path.posix.basename(child));
  }

  /** Every path below `dir` (files and directories), parents before children. */
  below(dir: string): string[] {
    const result: string[] = [];
    for (const child of this.childrenOf.get(norm(dir)) ?? []) result.push(child, ...this.below(child));
    return result;
  }

  /** Moves a directory aside or back, as an administrator would (not a host's operation). */
  moveTree(from: string, to: string): void {
    if (this.nodes.has(norm(from)) && !this.nodes.has(norm(to))) this.move(from, to);
  }

  private info(file: string): StoreFileInfo | undefined {
    const node = this.nodes.get(norm(file));
    return node === undefined ? undefined : { name: path.posix.basename(norm(file)), kind: node.kind, mtime: node.mtime, size: node.data.length };
  }

  private children(dir: string): string[] {
    return [...(this.childrenOf.get(dir) ?? [])].sort();
  }

  private put(file: string, node: Node): void {
    this.nodes.set(file, node);
    this.childrenOf.get(path.posix.dirname(file))?.add(file);
    if (node.kind === 'dir' && !this.childrenOf.has(file)) this.childrenOf.set(file, new Set());
  }

  private drop(file: string): void {
    if (!this.nodes.delete(file)) return;
    this.childrenOf.get(path.posix.dirname(file))?.delete(file);
    this.childrenOf.delete(file);
  }

  private needParent(file: string): void {
    if (this.nodes.get(path.posix.dirname(norm(file)))?.kind !== 'dir') throw new Error(`No such file: ${path.posix.dirname(norm(file))}`);
  }

  private move(from: string, to: string): void {
    this.needParent(to);
    const source = norm(from);
    const target = norm(to);
    const moving = [source, ...this.below(source)].map((key) => [key, this.nodes.get(key) as Node] as const);
    for (const [key] of [...moving].reverse()) this.drop(key);
    for (const [key, node] of moving) this.put(target + key.slice(source.length), node);
  }
}

/** Paths from path.posix.join are normal already; anything else is normalized. */
const norm = (file: string): string =>
  file.startsWith('/') && !file.includes('//') && !/\/\.\.?(\/|$)/.test(file) && (file.length === 1 || !file.endsWith('/'))
    ? file
    : path.posix.normalize(path.posix.join('/', file)).replace(/(.)\/+$/, '$1');
