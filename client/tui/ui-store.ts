/**
 * Holds the terminal UI's state: `dispatch` runs the reducer (view-model.ts), tells the
 * subscribers (the renderer redraws) and hands the effects to whoever carries them out (the
 * controller; a test may collect them instead).
 */
import type { State } from "./state.js";
import { type Action, type Effect, update } from "./view-model.js";

/** The state, its subscribers and its effect handler. */
export class UiStore {
  private state: State;
  private readonly listeners = new Set<() => void>();
  /** Receives the effects of each dispatch, after the subscribers were told. */
  onEffect: (e: Effect) => void = () => undefined;

  constructor(initial: State) {
    this.state = initial;
  }

  readonly getState = (): State => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly dispatch = (action: Action): void => {
    const { state, effects } = update(this.state, action);
    if (state !== this.state) {
      this.state = state;
      for (const l of this.listeners) l();
    }
    for (const e of effects) this.onEffect(e);
  };
}
