/**
 * Group commit (docs/ARCHITECTURE.md §3.8): sends that arrive while a transaction is in flight
 * wait and go together in the next one, so one commit (one fsync) acknowledges many
 * messages. No timer: under light load each send commits at once; under heavy load batches
 * grow by themselves up to `maxBatch`.
 */
export class GroupCommit<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 1000,
  ) {}

  /** Resolves with the item's result once the transaction holding it has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Items waiting, not counting the batch in flight. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or in flight (for shutdown). */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private kick(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // Let every send decoded from the same socket read join this batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const out = await this.flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(out[i]!));
      } catch (e) {
        // Nothing in this batch committed; each sender sees the error and retries with its idempotency id.
        for (const b of batch) b.reject(e);
      }
    }
    this.running = false;
    for (const r of this.idle.splice(0)) r();
  }
}

/**
 * Several group-commit queues side by side, chosen by a key (the chat id): transactions for
 * different chats commit in parallel, so one commit's fsync does not hold up the others,
 * while all sends to one chat stay in one queue and so keep their order.
 */
export class ShardedGroupCommit<I, O> {
  private readonly shards: GroupCommit<I, O>[];

  constructor(
    shards: number,
    private readonly keyOf: (item: I) => number,
    flush: (items: I[]) => Promise<O[]>,
    maxBatch?: number,
  ) {
    this.shards = Array.from({ length: Math.max(1, shards) }, () => new GroupCommit(flush, maxBatch));
  }

  submit(item: I): Promise<O> {
    return this.shards[this.keyOf(item) % this.shards.length]!.submit(item);
  }

  /** Items waiting over every shard, not counting batches in flight. */
  get waiting(): number {
    let n = 0;
    for (const s of this.shards) n += s.waiting;
    return n;
  }

  async drained(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.drained()));
  }
}
