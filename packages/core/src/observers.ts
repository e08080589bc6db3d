import type { BoundedEvent, Observer, RunStartEvent, ToolDecisionEvent } from './events.js';

export type ObserverErrorHandler = (error: unknown, observer: Observer, event: BoundedEvent | undefined) => void;

/** Fans events out to observers. Nothing an observer does can break or fail the run it watches. */
export class ObserverHub {
  readonly #observers: Observer[] = [];
  #wrappers: Observer[] = [];
  #errors = 0;
  readonly #onError: ObserverErrorHandler | undefined;

  constructor(observers: readonly Observer[], onError?: ObserverErrorHandler) {
    this.#onError = onError;
    for (const observer of observers) this.add(observer);
  }

  /** True when at least one observer listens: callers skip building events otherwise. */
  get active(): boolean {
    return this.#observers.length > 0;
  }

  get errors(): number {
    return this.#errors;
  }

  add(observer: Observer): () => void {
    this.#observers.push(observer);
    if (observer.wrap) this.#wrappers.push(observer);
    return () => {
      const index = this.#observers.indexOf(observer);
      if (index !== -1) this.#observers.splice(index, 1);
      this.#wrappers = this.#wrappers.filter(o => o !== observer);
    };
  }

  emit(event: BoundedEvent): void {
    const observers = this.#observers;
    // Indexed: an iterator per event is measurable on every tool call.
    for (let i = 0; i < observers.length; i++) {
      const observer = observers[i]!;
      if (!observer.onEvent) continue;
      try {
        const returned = observer.onEvent(event) as unknown;
        // An async onEvent must not leave an unhandled rejection behind.
        if (returned && typeof (returned as PromiseLike<unknown>).then === 'function') {
          (returned as Promise<unknown>).then(undefined, error => this.#fail(error, observer, event));
        }
      } catch (error) {
        this.#fail(error, observer, event);
      }
    }
  }

  /** Runs fn inside every wrapping observer's context. A wrapper that throws is bypassed, never fatal. */
  wrap<T>(scope: RunStartEvent | ToolDecisionEvent, fn: () => T): T {
    const wrappers = this.#wrappers;
    if (wrappers.length === 0) return fn();
    if (wrappers.length === 1) return this.#wrapOne(wrappers[0]!, scope, fn);
    let call = fn;
    for (const observer of wrappers) {
      const inner = call;
      call = () => this.#wrapOne(observer, scope, inner);
    }
    return call();
  }

  #wrapOne<T>(observer: Observer, scope: RunStartEvent | ToolDecisionEvent, fn: () => T): T {
    const guard = new Guard(fn);
    try {
      return observer.wrap!(scope, guard.run);
    } catch (error) {
      // The work's own error passes through untouched.
      if (guard.failed) throw error;
      this.#fail(error, observer, scope);
      // The wrapper failed: run the work ourselves, or keep what it already produced.
      return guard.ran ? (guard.value as T) : fn();
    }
  }

  #fail(error: unknown, observer: Observer, event: BoundedEvent | undefined): void {
    this.#errors++;
    if (!this.#onError) return;
    try {
      this.#onError(error, observer, event);
    } catch {
      // The error handler itself failed; there is nobody left to tell.
    }
  }
}

/** Remembers whether the wrapped work ran and whether it threw, to tell a failing wrapper from failing work. */
class Guard<T> {
  ran = false;
  failed = false;
  value: T | undefined = undefined;
  readonly #fn: () => T;

  constructor(fn: () => T) {
    this.#fn = fn;
  }

  readonly run = (): T => {
    this.ran = true;
    try {
      this.value = this.#fn();
    } catch (error) {
      this.failed = true;
      throw error;
    }
    return this.value;
  };
}
