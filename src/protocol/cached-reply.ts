/** A reply already turned into JSON, sent as it is. */
export class SerializedReply {
  constructor(readonly json: string) {}
}

/**
 * Keeps one serialized reply until its source changes. List with 10,000 volumes is
 * asked often (every `docker volume ls`, every engine start) and changes rarely.
 */
export class CachedReply<T> {
  private cached: { generation: string | number; reply: SerializedReply } | undefined;

  constructor(
    private readonly generation: () => string | number,
    private readonly build: () => T,
  ) {}

  get(): SerializedReply {
    const generation = this.generation();
    if (this.cached?.generation !== generation) this.cached = { generation, reply: new SerializedReply(JSON.stringify(this.build())) };
    return this.cached.reply;
  }
}
