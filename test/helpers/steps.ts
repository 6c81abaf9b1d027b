/**
 * A long end-to-end scenario as steps that report separately. Each `step` is its own vitest
 * test, run in order, sharing the scenario's state through variables of the enclosing scope;
 * each has its own timeout, so a slow machine is measured against one phase, not the sum of
 * eight. When a step fails (an assertion or its timeout), every later step of the scenario is
 * reported as skipped with a note naming the step that failed: the later steps build on its
 * state, so running them would only add failures that say nothing new, and marking them
 * skipped (rather than passing) keeps them visible in the report.
 *
 * Run a scenario whole: a `-t` filter that selects a later step alone leaves it without the
 * state the earlier steps make.
 */
import { type TestContext, describe, test } from "vitest";

/** Declares one step: `title`, its body, and optionally its own timeout. */
export type StepFn = (title: string, body: (ctx: TestContext) => Promise<void> | void, timeoutMs?: number) => void;

/** A `describe` named `name` whose `step`s run in order and stop at the first failure. */
export function scenario(name: string, define: (step: StepFn) => void): void {
  describe.sequential(name, () => {
    let failed: string | undefined;
    define((title, body, timeoutMs) => {
      test(
        title,
        async (ctx) => {
          if (failed !== undefined) ctx.skip(`not run: the earlier step "${failed}" failed`);
          ctx.onTestFailed(() => {
            failed ??= title;
          });
          await body(ctx);
        },
        timeoutMs,
      );
    });
  });
}
