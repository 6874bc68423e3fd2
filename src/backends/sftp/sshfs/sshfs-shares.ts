import fs from 'fs-extra';
import path from 'node:path';
import { KeyedMutex } from '../../../common/keyed-mutex';
import { describe, PluginError } from '../../../errors';
import type { Logger } from '../../../log';
import { writeFileAtomic } from '../../../system/atomic-write';
import { lstatBounded } from '../../../system/bounded-lstat';
import { bindMount, unmountAll } from '../../../system/mount-commands';
import { readMounts, topMountAt } from '../../../system/mountinfo';
import { mappedFiles } from '../../../system/processes';
import { raiseReadAhead } from '../../../system/read-ahead';
import type { HandshakeGate } from '../control/handshake-gate';
import { msLeft, shareDeadline, type ShareDeadline } from './share-deadline';
import type { ShareRecipe } from './share-recipe';
import { startSshfs } from './sshfs-start';
import { SshfsProcess } from './sshfs-process';
import { preloadsOf } from './sshfs-runtime';

/** Users of a share that are a Create's hold, not volumes (volume names hold no ':'). */
const WARM = 'warm:';

/** How often the watcher looks for shares whose sshfs died. */
const WATCH_MS = 500;

/** The least time a check through the share is given, even at a deadline's end. */
const MIN_CHECK_MS = 500;

/** A share is not started with less time than this left: it could not connect in it. */
const MIN_START_MS = 2000;

interface Share {
  key: string;
  mountpoint: string;
  sshfs: SshfsProcess;
  /** major:minor of the FUSE mount: a volume's bind is of this share when it has the same. */
  device: string;
  users: Set<string>;
  /** Another host's change shows within this (plus a round trip), by the libraries its sshfs has mapped; unknown for one adopted from an earlier daemon. */
  staleForAtMostSeconds?: number;
  /** Set when its sshfs was found dead: since when, and what sshfs last said. */
  died?: { at: string; reason: string };
}

/** A Create's hold on its volume's share; `dropped` once a Remove or shutdown ends it early. */
interface WarmHold {
  share?: Share;
  timer?: NodeJS.Timeout;
  dropped: boolean;
}

/**
 * One sshfs per server login and mount options, shared by every volume that agrees on
 * them; a volume is a bind mount of its directory inside the share. A host then holds at
 * most `connections` SSH connections per server whatever its number of volumes, a mount
 * storm costs one handshake per server (sshd's MaxStartups never sees it), and a volume on
 * a server this host already mounts costs one bind mount. Shares live in the run directory
 * of the plugin's own mount namespace (not propagated): only volumes reach the host.
 */
export class SshfsShares {
  private readonly shares = new Map<string, Share>();
  private readonly bound = new Map<string, Share>();
  private readonly holds = new Map<string, WarmHold>();
  /** The last failed start of each share key, and when it failed: what the calls waiting for it get. */
  private readonly failedStarts = new Map<string, { error: unknown; at: number }>();
  private readonly lock = new KeyedMutex();
  private readonly watcher = setInterval(() => void this.watch(), WATCH_MS).unref();
  private closing = false;

  /** `dir`: where shares live (recipes are made for it); `gate`: shared with the control connections. */
  constructor(
    readonly dir: string,
    private readonly gate: HandshakeGate,
    private readonly log: Logger,
  ) {}

  /**
   * Makes `mountpoint` show `remotePath` (relative to the recipe's root) through the share,
   * starting the share if none serves. The bind is checked in the mount table afterwards:
   * a symbolic link on the way would have been followed on this host, not on the server.
   * Everything, the share's start included, ends by `deadline`.
   */
  async bind(volume: string, mountpoint: string, remotePath: string, recipe: ShareRecipe, deadline: ShareDeadline): Promise<void> {
    const share = await this.join(recipe, volume, deadline);
    try {
      await this.bindInto(share, mountpoint, remotePath, recipe.login, deadline);
      this.bound.set(volume, share);
    } catch (error) {
      await this.leave(share, volume);
      throw error;
    }
  }

  /**
   * Starts the share a new volume will use, if none serves, and holds it `holdMs`: a Create
   * is usually followed by a Mount (docker run, compose up), which then finds the SSH
   * connection made. The hold is a user of its own, so a share's life stays a count; a
   * Remove of the volume (dropWarm) or the daemon's stop ends it early, also mid-start.
   */
  async warm(volume: string, recipe: ShareRecipe, holdMs: number): Promise<void> {
    await this.dropWarm(volume);
    const hold: WarmHold = { dropped: false };
    this.holds.set(volume, hold);
    let share: Share;
    try {
      share = await this.join(recipe, `${WARM}${volume}`, shareDeadline(recipe.connectTimeoutSeconds));
    } catch (error) {
      if (this.holds.get(volume) === hold) this.holds.delete(volume);
      throw error;
    }
    hold.share = share;
    if (hold.dropped || this.closing) {
      await this.leave(share, `${WARM}${volume}`);
      return;
    }
    hold.timer = setTimeout(() => void (this.holds.get(volume) === hold && this.dropWarm(volume)), holdMs).unref();
  }

  /** Ends the hold a Create took on the volume's share: the share stops if nothing else uses it. */
  async dropWarm(volume: string): Promise<void> {
    const hold = this.holds.get(volume);
    if (hold === undefined) return;
    this.holds.delete(volume);
    hold.dropped = true;
    clearTimeout(hold.timer);
    if (hold.share !== undefined) await this.leave(hold.share, `${WARM}${volume}`);
  }

  /** Removes the volume's bind; the share stops with its last volume. */
  async unbind(volume: string, mountpoint: string): Promise<void> {
    const share = this.bound.get(volume);
    this.bound.delete(volume);
    await unmountAll(mountpoint);
    if (share !== undefined) await this.leave(share, volume);
  }

  /** The volume has a bind, live or not. */
  isBound(volume: string): boolean {
    return this.bound.has(volume);
  }

  /** The volume's bind is of a share whose sshfs still runs. */
  serves(volume: string): boolean {
    const share = this.bound.get(volume);
    return share !== undefined && this.shares.get(share.key) === share && share.sshfs.alive;
  }

  /** The last lines the sshfs of the volume's share wrote. */
  lastError(volume: string): string | undefined {
    return this.bound.get(volume)?.sshfs.lastError();
  }

  /** How long another host's change may stay unseen through the volume's share (plus a round trip). */
  staleForAtMost(volume: string): number | undefined {
    return this.bound.get(volume)?.staleForAtMostSeconds;
  }

  /** When the sshfs of the volume's share was found dead, and why; undefined while it serves. */
  outage(volume: string): { at: string; reason: string } | undefined {
    return this.bound.get(volume)?.died;
  }

  /**
   * At start, before recovery: takes over the shares an earlier daemon left running and
   * detaches those whose sshfs is gone. None has a volume until `claim`.
   */
  async adoptLeftovers(): Promise<void> {
    if (!(await fs.pathExists(this.dir))) return;
    const mounts = await readMounts();
    for (const key of await fs.readdir(this.dir)) {
      const mountpoint = path.join(this.dir, key, 'mnt');
      const entry = topMountAt(mounts, mountpoint);
      const sshfs = await SshfsProcess.adopt(mountpoint);
      if (entry !== undefined && sshfs !== undefined) {
        this.shares.set(key, { key, mountpoint, sshfs, device: entry.device, users: new Set() });
        this.log.info('adopted a running sshfs share', { share: key, pid: sshfs.pid });
        continue;
      }
      if (entry !== undefined) await unmountAll(mountpoint);
      if (sshfs !== undefined) await sshfs.stop();
      await fs.rm(path.join(this.dir, key), { recursive: true, force: true });
    }
  }

  /** At recovery: the bind at `mountpoint`, when it is of a live adopted share, is kept. */
  async claim(volume: string, mountpoint: string): Promise<boolean> {
    const entry = topMountAt(await readMounts(), mountpoint);
    const share = entry === undefined ? undefined : [...this.shares.values()].find((candidate) => candidate.device === entry.device);
    if (share === undefined || !share.sshfs.alive) return false;
    share.users.add(volume);
    this.bound.set(volume, share);
    return true;
  }

  /** After recovery: shares no volume claimed are stopped. */
  async stopUnclaimed(): Promise<void> {
    for (const share of [...this.shares.values()]) {
      await this.lock.run(share.key, async () => {
        if (share.users.size === 0) await this.stop(share);
      });
    }
  }

  /** Counts `user` in the recipe's share, started first if none serves. */
  private join(recipe: ShareRecipe, user: string, deadline: ShareDeadline): Promise<Share> {
    return this.lock.run(recipe.key, async () => {
      const live = await this.startOnce(recipe, deadline);
      live.users.add(user);
      return live;
    });
  }

  /**
   * One start for all the calls waiting on a share: a call sent before the last start
   * failed was waiting for that start, and gets its error rather than trying again (12
   * Mounts of a silent server would each wait out the connect timeout in turn); a call
   * sent after the failure tries again.
   */
  private async startOnce(recipe: ShareRecipe, deadline: ShareDeadline): Promise<Share> {
    const existing = this.shares.get(recipe.key);
    if (existing?.sshfs.alive) return existing;
    const failed = this.failedStarts.get(recipe.key);
    if (failed !== undefined && deadline.sentAt <= failed.at) throw failed.error;
    if (msLeft(deadline) < MIN_START_MS) {
      const waited = ((Date.now() - deadline.sentAt) / 1000).toFixed(1);
      throw new PluginError('REMOTE_UNREACHABLE', `${recipe.login} was not tried: the Mount had waited ${waited} s for earlier calls, nearly all of its connect_timeout + 5 s; start the container again`);
    }
    try {
      const share = await this.liveShare(recipe, deadline);
      this.failedStarts.delete(recipe.key);
      return share;
    } catch (error) {
      this.failedStarts.set(recipe.key, { error, at: Date.now() });
      throw error;
    }
  }

  private async liveShare(recipe: ShareRecipe, deadline: ShareDeadline): Promise<Share> {
    if (this.closing) throw new PluginError('BACKEND_FAILED', 'the plugin is stopping; mount the volume again once it runs');
    const key = recipe.key;
    const existing = this.shares.get(key);
    if (existing?.sshfs.alive) return existing;
    if (existing !== undefined) {
      // Its sshfs died: the volumes still bound to it are remounted by their next Mount.
      this.log.warn('sshfs share had stopped; starting it again', { share: key, error: existing.sshfs.lastError() ?? 'no reason given' });
      await this.stop(existing);
    }
    const mountpoint = recipe.mountpoint;
    await fs.mkdirp(mountpoint, { mode: 0o700 }); // and its parents, this.dir among them
    await unmountAll(mountpoint);
    await writeFileAtomic(recipe.knownHostsFile, recipe.knownHosts);
    await writeFileAtomic(recipe.sshConfigFile, recipe.sshConfig);
    const sshfs = await startSshfs(this.gate, recipe, this.log, deadline);
    const entry = topMountAt(await readMounts(), mountpoint);
    if (entry === undefined) {
      await sshfs.stop();
      // It served a stat a moment ago, so the connection broke right after it was made.
      throw new PluginError('REMOTE_UNREACHABLE', `sshfs for ${recipe.login} mounted and then stopped: ${sshfs.lastError() ?? 'no reason given'}`);
    }
    await raiseReadAhead(entry.device);
    const staleForAtMostSeconds = await this.checkPreloads(sshfs, recipe);
    const share: Share = { key, mountpoint, sshfs, device: entry.device, users: new Set(), staleForAtMostSeconds };
    this.shares.set(key, share);
    this.log.info('sshfs share started', { share: key, server: recipe.login, pid: sshfs.pid });
    return share;
  }

  /**
   * The libraries sshfs was given, looked for in its memory map. Without the clock library
   * its cache reads the quarter-second ticks of its options as whole seconds, so changes
   * may stay unseen longer than cache_timeout: that is logged and is what Status says.
   */
  private async checkPreloads(sshfs: SshfsProcess, recipe: ShareRecipe): Promise<number> {
    let mapped: Set<string>;
    try {
      mapped = await mappedFiles(sshfs.pid);
    } catch {
      return recipe.staleForAtMostSeconds; // it exited meanwhile: the watcher says so
    }
    const missing = preloadsOf(recipe.env).filter((library) => !mapped.has(library));
    if (missing.length === 0) return recipe.staleForAtMostSeconds;
    const clockMissing = missing.some((library) => path.basename(library) === 'sshfs-clock.so');
    const bound = clockMissing ? recipe.staleForAtMostWithoutClockSeconds : recipe.staleForAtMostSeconds;
    this.log.warn('sshfs did not load a library it was given', {
      share: recipe.key,
      pid: sshfs.pid,
      missing: missing.map((library) => path.basename(library)).join(' '),
      staleForAtMostSeconds: bound,
      promisedSeconds: recipe.staleForAtMostSeconds,
    });
    return bound;
  }

  private async bindInto(share: Share, mountpoint: string, remotePath: string, server: string, deadline: ShareDeadline): Promise<void> {
    const wanted = path.posix.join('/', remotePath);
    const source = path.join(share.mountpoint, wanted);
    const leadsElsewhere = new PluginError(
      'BAD_OPTION',
      `${remotePath} on ${server} is a symbolic link or passes through one; a volume's path must be a real directory on the server (use the link's target as path=)`,
    );
    try {
      // Not fs.lstat: see lstatBounded. A server that stopped answering fails the Mount on time.
      const found = await lstatBounded(source, Math.max(msLeft(deadline), MIN_CHECK_MS));
      if (found.kind === 'symbolic link') throw leadsElsewhere;
      if (found.kind !== 'directory') throw new PluginError('BAD_OPTION', `${remotePath} on ${server} is not a directory; choose another path`);
    } catch (error) {
      if (error instanceof PluginError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new PluginError('BAD_OPTION', `the volume's directory ${remotePath} is gone from ${server}; its data was not touched here. Create the directory again, or remove the volume`);
      }
      if (code === 'EPERM' || code === 'EACCES') {
        throw new PluginError('REMOTE_PERMISSION', `${server} refused access to ${remotePath}: check its permissions, and that no part of it is a symbolic link`);
      }
      if (code === 'ETIMEDOUT') {
        throw new PluginError('REMOTE_UNREACHABLE', `${server} stopped answering: it did not show ${remotePath} within the Mount's connect_timeout + 5 s; check the server, then start the container again`);
      }
      throw new PluginError('REMOTE_UNREACHABLE', `${server} did not show ${remotePath}: ${describe(error)}`);
    }
    await fs.mkdirp(mountpoint);
    await bindMount(source, mountpoint, Math.max(msLeft(deadline), MIN_CHECK_MS));
    const entry = topMountAt(await readMounts(), mountpoint);
    if (entry?.device !== share.device || entry.root !== wanted) {
      await unmountAll(mountpoint);
      throw leadsElsewhere;
    }
  }

  private async leave(share: Share, volume: string): Promise<void> {
    await this.lock.run(share.key, async () => {
      share.users.delete(volume);
      if (share.users.size === 0 && this.shares.get(share.key) === share) await this.stop(share);
    });
  }

  private async stop(share: Share): Promise<void> {
    if (this.shares.get(share.key) === share) this.shares.delete(share.key);
    try {
      await share.sshfs.stop();
    } catch (error) {
      this.log.warn('sshfs share not stopped cleanly', { share: share.key, error: describe(error) });
    }
    this.log.info('sshfs share stopped', { share: share.key });
  }

  /**
   * A share whose sshfs died is stopped (its mount detached) and noted, so that Status says
   * so at once and the next Mount starts a new one. Containers that used it keep a dead
   * mount: they need a restart (sshfs's own reconnect covers a lost connection, not this).
   */
  private async watch(): Promise<void> {
    for (const share of [...this.shares.values()]) {
      if (share.sshfs.alive) continue;
      const reason = share.sshfs.lastError() ?? 'no reason given';
      share.died = { at: new Date().toISOString(), reason };
      this.log.warn('sshfs share died; its volumes are disconnected until mounted again', { share: share.key, pid: share.sshfs.pid, reason, volumes: share.users.size });
      await this.lock.run(share.key, () => (this.shares.get(share.key) === share ? this.stop(share) : Promise.resolve()));
    }
  }

  /**
   * At shutdown: shares started or held only for a Mount to come (a Create's warm-up, also
   * one still starting) are stopped; the others serve containers and stay.
   */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watcher);
    await this.lock.idle();
    await Promise.all([...this.holds.keys()].map((volume) => this.dropWarm(volume)));
    this.shares.clear();
    this.bound.clear();
    this.failedStarts.clear();
  }
}

