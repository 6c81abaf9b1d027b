/**
 * The order test files start in. Vitest starts the files it has durations for longest first, but
 * a fresh clone has none, and then it starts the larger files first: a short file that runs long
 * (an e2e file driving many `smsg` processes, the one-byte vector sweep) could start last and
 * keep one worker busy while the other sat idle. So, without a duration for every file, the files
 * named here start first, in this order, then the rest in vitest's order.
 *
 * The list is the slowest files of one fresh-clone run of `npx vitest run` (2 workers), slowest
 * first. It only orders the run: a file missing from it, or one listed that got faster, runs
 * all the same.
 */
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const SLOWEST_FIRST = [
  "test/e2e/killed-receiver.test.ts",
  "test/e2e/exit-codes.test.ts",
  "test/e2e/devices.test.ts",
  "test/e2e/device.test.ts",
  "test/e2e/one-to-one.test.ts",
  "test/e2e/killed-client.test.ts",
  "test/crypto/vectors-one-byte.test.ts",
  "test/relay/account-admin.test.ts",
  "test/relay/cli.test.ts",
  "test/relay/embedded/from-pglite.test.ts",
  "test/crypto/vector-suites-own.test.ts",
  "test/e2e/tui.test.ts",
  "test/e2e/group.test.ts",
];

export class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = this.ctx.config.root;
    const path = (f: TestSpecification) => relative(root, f.moduleId).split("\\").join("/");
    const measured = files.every((f) => this.ctx.cache.getFileTestResults(`${f.project.name}:${path(f)}`));
    if (measured) return sorted;
    const rank = (f: TestSpecification) => {
      const i = SLOWEST_FIRST.indexOf(path(f));
      return i === -1 ? SLOWEST_FIRST.length : i;
    };
    return sorted.sort((a, b) => rank(a) - rank(b)); // stable: the rest keep vitest's order
  }
}
