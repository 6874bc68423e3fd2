/**
 * A swarm of private engines on loopback aliases (/work/shared/NOTES.md section 5): the
 * first engine inits it and is the only manager, the others join as workers. Both nodes
 * of one machine report the same hostname: nodes are told apart by node ID.
 */
import assert from 'node:assert/strict';
import type { Engine } from './engine';
import { eventually } from './proc';

/** A swarm task as `docker inspect TASK` shows it (the fields used here). */
export interface SwarmTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  Slot?: number;
  Status: { State: string; Err?: string; Message?: string; ContainerStatus?: { ContainerID?: string } };
}

export class Swarm {
  private constructor(
    readonly nodes: readonly Engine[],
    /** Node ID of each engine, in the order of `nodes`. */
    readonly nodeIds: readonly string[],
  ) {}

  get manager(): Engine {
    return this.nodes[0] as Engine;
  }

  /**
   * `swarm init` on nodes[0] at addresses[0], `swarm join` of the others at theirs (each a
   * loopback alias such as 127.0.0.2), waits until every node is Ready.
   */
  static async form(nodes: readonly Engine[], addresses: readonly string[], initArgs: readonly string[] = []): Promise<Swarm> {
    const [manager, ...workers] = nodes;
    const [managerAddress] = addresses;
    assert.ok(manager !== undefined && managerAddress !== undefined && addresses.length === nodes.length);
    await manager.dockerOk(['swarm', 'init', '--advertise-addr', managerAddress, '--listen-addr', `${managerAddress}:2377`, ...initArgs]);
    const token = (await manager.dockerOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    for (const [i, worker] of workers.entries()) {
      const address = addresses[i + 1] as string;
      await worker.dockerOk(['swarm', 'join', '--advertise-addr', address, '--listen-addr', `${address}:2377`, '--token', token, `${managerAddress}:2377`]);
    }
    const ids = await Promise.all(nodes.map(async (e) => (await e.dockerOk(['info', '--format', '{{.Swarm.NodeID}}'])).trim()));
    await eventually(
      'every swarm node Ready and active',
      async () => {
        const rows = (await manager.dockerOk(['node', 'ls', '--format', '{{.ID}} {{.Status}} {{.Availability}}'])).trim().split('\n');
        for (const id of ids) assert.ok(rows.includes(`${id} Ready Active`), `node ${id} in: ${rows.join('; ')}`);
      },
      60_000,
      500,
    );
    return new Swarm(nodes, ids);
  }

  /** The engine of a node ID. */
  engineOf(nodeId: string | undefined): Engine {
    const i = this.nodeIds.indexOf(nodeId ?? '');
    assert.ok(i >= 0, `node ${String(nodeId)} is not one of ${this.nodeIds.join(', ')}`);
    return this.nodes[i] as Engine;
  }

  nodeIdOf(engine: Engine): string {
    const i = this.nodes.indexOf(engine);
    assert.ok(i >= 0, `${engine.name} is not a node of this swarm`);
    return this.nodeIds[i] as string;
  }

  /** Every task of `service` (history included), as the manager has them. */
  async tasks(service: string): Promise<SwarmTask[]> {
    const ids = (await this.manager.dockerOk(['service', 'ps', '-q', '--no-trunc', service])).split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    return JSON.parse(await this.manager.dockerOk(['inspect', '--type', 'task', ...ids])) as SwarmTask[];
  }

  /** One line per task, for messages. */
  async describeTasks(service: string): Promise<string> {
    const tasks = await this.tasks(service).catch(() => [] as SwarmTask[]);
    return tasks
      .map((t) => {
        const node = this.nodes[this.nodeIds.indexOf(t.NodeID ?? '')]?.name ?? t.NodeID ?? '-';
        return `${t.ID.slice(0, 12)} slot ${t.Slot ?? '-'} on ${node}: desired ${t.DesiredState}, ${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ''}`;
      })
      .join('\n');
  }

  /**
   * Waits until `service` has, on each node (order of `nodes`), exactly `perNode[i]` tasks
   * running and meant to run; returns them. A task that failed or was rejected on the way
   * (the swarm would retry it) fails the wait at once.
   */
  async waitRunning(service: string, perNode: readonly number[], timeoutMs = 90_000): Promise<SwarmTask[]> {
    let broken: SwarmTask | undefined;
    let running: SwarmTask[] = [];
    try {
      await eventually(
        `${service}: running tasks per node ${perNode.join('/')}`,
        async () => {
          const tasks = await this.tasks(service);
          broken = tasks.find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
          if (broken !== undefined) return;
          running = tasks.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
          const counts = this.nodeIds.map((id) => running.filter((t) => t.NodeID === id).length);
          assert.deepEqual(counts, [...perNode]);
        },
        timeoutMs,
        500,
      );
      if (broken !== undefined) throw new Error(`${service}: task ${broken.ID.slice(0, 12)} ${broken.Status.State}: ${broken.Status.Err ?? broken.Status.Message ?? ''}`);
      return running;
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${await this.describeTasks(service)}`);
    }
  }

  /** The container of a task on its node (it has its volumes mounted while the task runs). */
  containerOf(task: SwarmTask): { engine: Engine; container: string } {
    const container = task.Status.ContainerStatus?.ContainerID;
    assert.ok(container !== undefined && container !== '', `task ${task.ID} has no container`);
    return { engine: this.engineOf(task.NodeID), container };
  }

  /** `docker service rm`, then waits until no node has a container of it left. */
  async removeService(service: string, timeoutMs = 60_000): Promise<void> {
    await this.manager.docker(['service', 'rm', service]);
    await eventually(
      `the containers of ${service} gone from every node`,
      async () => {
        for (const e of this.nodes) {
          const left = (await e.dockerOk(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${service}`])).trim();
          assert.equal(left, '', `${e.name} still has ${left.split('\n').length} container(s)`);
        }
      },
      timeoutMs,
      500,
    );
  }

  /** Workers leave, then the manager (forced); never throws. */
  async leave(): Promise<void> {
    for (const e of [...this.nodes].reverse()) await e.docker(['swarm', 'leave', '--force']).catch(() => undefined);
  }
}
