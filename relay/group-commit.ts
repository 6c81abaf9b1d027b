/**
 * Group commit (docs/ARCHITECTURE.md §3.8): sends that arrive while a transaction is in flight
 * wait and go together in the next one, so one commit (one fsync) acknowledges many
 * messages. No timer: under light load each send commits at once; under heavy load batches
 * grow by themselves up to `maxBatch`.
 *
 * Pipelining: up to `depth` batches may be in flight at once, as long as no key (chat) is in
 * two of them. A send to a chat whose batch is committing waits for that commit, so one chat's
 * sends still commit one batch after another, in order (which keeps its message ids
 * increasing); a send to any other chat need not wait behind an unrelated fsync. Under
 * saturation every chat has a batch in flight and this is plain group commit again.
 */
export class GroupCommit<I, O> {
  private queue: { item: I; key: number; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  /** Keys with a batch in flight: their queued items wait until it has committed. */
  private readonly busy = new Set<number>();
  private scheduled = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly keyOf: (item: I) => number,
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 1000,
    private readonly depth = 1,
  ) {}

  /** Resolves with the item's result once the transaction holding it has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, key: this.keyOf(item), resolve, reject });
      this.kick();
    });
  }

  /** Items waiting, not counting the batches in flight. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or in flight (for shutdown). */
  drained(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private kick(): void {
    if (this.scheduled || this.inFlight >= this.depth) return;
    this.scheduled = true;
    // Let every send decoded from the same socket read join this batch.
    setImmediate(() => {
      this.scheduled = false;
      this.startBatches();
    });
  }

  /** Starts batches of queued items whose keys are not in flight, while the depth allows. */
  private startBatches(): void {
    while (this.inFlight < this.depth && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return;
      void this.run(batch);
    }
    if (this.inFlight === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
  }

  /**
   * Takes, in queue order, up to maxBatch items whose keys are not busy. An item is left
   * behind only for a busy key (busy for the whole pass) or a full batch (nothing later is
   * taken), so a key's items keep their order.
   */
  private take(): GroupCommit<I, O>["queue"] {
    const batch: GroupCommit<I, O>["queue"] = [];
    const kept: GroupCommit<I, O>["queue"] = [];
    for (const q of this.queue) {
      if (batch.length < this.maxBatch && !this.busy.has(q.key)) batch.push(q);
      else kept.push(q);
    }
    this.queue = kept;
    for (const b of batch) this.busy.add(b.key);
    return batch;
  }

  private async run(batch: GroupCommit<I, O>["queue"]): Promise<void> {
    this.inFlight++;
    try {
      const out = await this.flush(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i]!));
    } catch (e) {
      // Nothing in this batch committed; each sender sees the error and retries with its idempotency id.
      for (const b of batch) b.reject(e);
    }
    for (const b of batch) this.busy.delete(b.key);
    this.inFlight--;
    // What queued meanwhile goes at once: it has waited a whole commit already.
    this.startBatches();
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
    /** Batches of distinct chats each shard may have in flight (GroupCommit's `depth`). */
    depth?: number,
  ) {
    this.shards = Array.from({ length: Math.max(1, shards) }, () => new GroupCommit(keyOf, flush, maxBatch, depth));
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
