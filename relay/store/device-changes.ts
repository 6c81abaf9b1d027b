/**
 * What a new device list changes against the account's current devices (SECURITY.md §17.8),
 * as pure functions of id sets: the store decides with them under the account's lock
 * (devices.ts), and the passphrase phase (§18.6) asks the same "adds exactly one" question.
 */

/** The ids in `next` that are not in `current`, and those in `current` that are not in `next`, ascending. */
export function deviceChanges(
  current: readonly number[],
  next: readonly number[],
): { added: number[]; removed: number[] } {
  const had = new Set(current);
  const has = new Set(next);
  return {
    added: [...has].filter((id) => !had.has(id)).sort((a, b) => a - b),
    removed: [...had].filter((id) => !has.has(id)).sort((a, b) => a - b),
  };
}

/**
 * The one device id `next` adds when it keeps every id of `current` and adds exactly one
 * (§18.6: the only change a connection that holds no device of the account may make);
 * undefined for any other change.
 */
export function addsExactlyOne(current: readonly number[], next: readonly number[]): number | undefined {
  const { added, removed } = deviceChanges(current, next);
  return removed.length === 0 && added.length === 1 ? added[0] : undefined;
}
