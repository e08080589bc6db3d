import type { ActiveRun, BudgetSnapshot } from '@bounded/core';

/**
 * Whether the run's step, token or dollar budget is spent, for `stopWhen` after every step. Reading the run's budgets
 * builds a snapshot of each; this reads them once and then follows the steps and tokens this adapter itself takes and
 * records (asking the run again only for dollars, which its price table computes).
 */
export class SpendWatch {
  readonly #steps: number | undefined;
  readonly #tokens: number | undefined;
  readonly #input: number | undefined;
  readonly #output: number | undefined;
  readonly #usd: boolean;
  #stepsUsed = 0;
  #inputUsed = 0;
  #outputUsed = 0;

  constructor(budgets: readonly BudgetSnapshot[]) {
    const find = (kind: BudgetSnapshot['kind']) => budgets.find(budget => budget.kind === kind);
    const steps = find('steps');
    const tokens = find('tokens');
    const input = find('input_tokens');
    const output = find('output_tokens');
    this.#steps = steps?.limit;
    this.#tokens = tokens?.limit;
    this.#input = input?.limit;
    this.#output = output?.limit;
    this.#usd = find('usd') !== undefined;
    this.#stepsUsed = steps?.used ?? 0;
    // What was used before this watch began (a run spanning several calls): tokens are all one can know.
    this.#inputUsed = input?.used ?? tokens?.used ?? 0;
    this.#outputUsed = output?.used ?? 0;
  }

  /** Nothing to watch: no step, token or dollar budget. */
  get idle(): boolean {
    return (
      this.#steps === undefined &&
      this.#tokens === undefined &&
      this.#input === undefined &&
      this.#output === undefined &&
      !this.#usd
    );
  }

  step(): void {
    this.#stepsUsed++;
  }

  usage(input: number, output: number): void {
    this.#inputUsed += input;
    this.#outputUsed += output;
  }

  /** A budget the next model call cannot have: the steps are used up, or the tokens or dollars are spent. */
  spent(run: ActiveRun): boolean {
    if (this.#steps !== undefined && this.#stepsUsed >= this.#steps) return true;
    if (this.#tokens !== undefined && this.#inputUsed + this.#outputUsed >= this.#tokens) return true;
    if (this.#input !== undefined && this.#inputUsed >= this.#input) return true;
    if (this.#output !== undefined && this.#outputUsed >= this.#output) return true;
    if (!this.#usd) return false;
    for (const budget of run.budgets()) if (budget.kind === 'usd') return budget.remaining <= 0;
    return false;
  }
}
