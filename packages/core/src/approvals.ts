import { randomUUID } from 'node:crypto';
import { compileGlob } from './glob.js';
import type { AutoApproveRule, Comparison } from './policy/types.js';

/** A write waiting for a decision. */
export interface ApprovalRequest {
  readonly id: string;
  readonly runId: string;
  readonly agent: string;
  readonly tenant: string | undefined;
  readonly tool: string;
  readonly callId: string;
  readonly args: unknown;
  /** Epoch milliseconds. */
  readonly requestedAt: number;
  /** Epoch milliseconds after which the request times out. */
  readonly expiresAt: number;
  /** Aborts when the request times out or its run stops; an approver should stop waiting then. */
  readonly signal: AbortSignal;
}

export interface ApprovalDecision {
  readonly approved: boolean;
  /** Who decided: a person, a rule, a service. Recorded in every event and in the audit log. */
  readonly by: string;
  readonly reason?: string;
}

/** Decides whether a write may run. The governor applies the timeout; an approver may take as long as it likes. */
export interface Approver {
  readonly name?: string;
  request(request: ApprovalRequest): Promise<ApprovalDecision>;
  /**
   * Errors for which this returns true pass through `run.tool()` unchanged: a framework's way of pausing for a
   * human (LangGraph's interrupt). The call is then neither approved nor refused. Any other error from `request`
   * is a refusal (`approval_rejected`, "approver failed").
   */
  rethrows?(error: unknown): boolean;
}

/**
 * An approver from a function. Return `true`/`false`, or a full decision to say who decided and why.
 *
 * ```ts
 * const approver = callbackApprover(req => req.tool !== 'payments.refund', { name: 'ops-bot' });
 * ```
 */
export function callbackApprover(
  decide: (request: ApprovalRequest) => boolean | ApprovalDecision | Promise<boolean | ApprovalDecision>,
  options: { name?: string } = {},
): Approver {
  const name = options.name ?? 'callback';
  return {
    name,
    async request(request) {
      const decision = await decide(request);
      return typeof decision === 'boolean' ? { approved: decision, by: name } : decision;
    },
  };
}

export interface ApprovalRule {
  /** Tool name or glob. */
  readonly tool: string;
  /** When absent the rule matches every call of the tool. */
  readonly when?: (args: unknown, request: ApprovalRequest) => boolean;
  readonly decision: 'approve' | 'reject';
  /** Recorded as `rule:<name>` in `by`. */
  readonly name: string;
  readonly reason?: string;
}

/**
 * Decides by the first matching rule; hands anything else to `otherwise`, or rejects it when there is none.
 *
 * ```ts
 * rulesApprover({
 *   rules: [{ name: 'small-refunds', tool: 'payments.refund', when: a => a.amount <= 50, decision: 'approve' }],
 *   otherwise: queue,
 * });
 * ```
 */
export function rulesApprover(options: {
  readonly rules: readonly ApprovalRule[];
  readonly otherwise?: Approver;
  readonly name?: string;
}): Approver {
  const rules = options.rules.map(rule => ({ rule, matches: compileGlob(rule.tool) }));
  return {
    name: options.name ?? 'rules',
    async request(request) {
      for (const { rule, matches } of rules) {
        if (!matches(request.tool)) continue;
        if (rule.when && !rule.when(request.args, request)) continue;
        return {
          approved: rule.decision === 'approve',
          by: `rule:${rule.name}`,
          ...(rule.reason ? { reason: rule.reason } : {}),
        };
      }
      if (options.otherwise) return options.otherwise.request(request);
      return { approved: false, by: options.name ?? 'rules', reason: 'no rule matched' };
    },
  };
}

/** A request waiting in an ApprovalQueue, as shown to whoever decides. */
export interface PendingApproval {
  readonly id: string;
  readonly runId: string;
  readonly agent: string;
  readonly tenant: string | undefined;
  readonly tool: string;
  readonly args: unknown;
  readonly requestedAt: number;
  readonly expiresAt: number;
}

/**
 * Writes wait here until a person (or a service) approves or rejects them, e.g. from an admin page.
 *
 * ```ts
 * const queue = new ApprovalQueue();
 * queue.onRequest(p => notify(`approve ${p.tool}? id=${p.id}`));
 * // later, elsewhere:
 * queue.approve(id, { by: 'alice@example.com' });
 * ```
 */
export class ApprovalQueue implements Approver {
  readonly name = 'queue';
  readonly #pending = new Map<
    string,
    { view: PendingApproval; resolve: (decision: ApprovalDecision) => void; cleanup: () => void }
  >();
  readonly #listeners = new Set<(pending: PendingApproval) => void>();

  request(request: ApprovalRequest): Promise<ApprovalDecision> {
    return new Promise(resolve => {
      const view: PendingApproval = {
        id: request.id,
        runId: request.runId,
        agent: request.agent,
        tenant: request.tenant,
        tool: request.tool,
        args: request.args,
        requestedAt: request.requestedAt,
        expiresAt: request.expiresAt,
      };
      const onAbort = () => this.#pending.delete(request.id);
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(request.id, {
        view,
        resolve,
        cleanup: () => request.signal.removeEventListener('abort', onAbort),
      });
      for (const listener of this.#listeners) {
        try {
          listener(view);
        } catch {
          // A failing notifier must not lose the request: it stays pending.
        }
      }
    });
  }

  /** Requests still waiting, oldest first. */
  pending(): PendingApproval[] {
    return [...this.#pending.values()].map(entry => entry.view);
  }

  /** Called for every new request (to notify a person). Returns an unsubscribe function. */
  onRequest(listener: (pending: PendingApproval) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  approve(id: string, options: { by: string; reason?: string }): boolean {
    return this.#decide(id, { approved: true, ...options });
  }

  reject(id: string, options: { by: string; reason?: string }): boolean {
    return this.#decide(id, { approved: false, ...options });
  }

  #decide(id: string, decision: ApprovalDecision): boolean {
    const entry = this.#pending.get(id);
    if (!entry) return false;
    this.#pending.delete(id);
    entry.cleanup();
    entry.resolve(decision);
    return true;
  }
}

/** Compiled `writes.auto_approve` rules from the policy file. */
export interface CompiledAutoApprove {
  /** The first rule whose tool and conditions match, and its conditions as text (`amount <= 50`). */
  match(tool: string, args: unknown): { rule: string; conditions: string } | undefined;
  /** Labels of the rules that name the tool, whatever the arguments. */
  rulesFor(tool: string): string[];
}

export function compileAutoApprove(rules: readonly AutoApproveRule[]): CompiledAutoApprove {
  const compiled = rules.map((rule, index) => {
    const when = Object.entries(rule.when ?? {});
    return {
      matches: compileGlob(rule.tool),
      when,
      label: `writes.auto_approve[${index}]${rule.name ? ` "${rule.name}"` : ''}`,
      conditions: when.length === 0 ? 'every call' : when.map(([path, c]) => describeComparison(path, c)).join(' and '),
    };
  });
  return {
    match(tool, args) {
      for (const rule of compiled) {
        if (!rule.matches(tool)) continue;
        if (rule.when.every(([path, comparison]) => compare(readPath(args, path), comparison))) {
          return { rule: rule.label, conditions: rule.conditions };
        }
      }
      return undefined;
    },
    rulesFor(tool) {
      return compiled.filter(rule => rule.matches(tool)).map(rule => `${rule.label}: ${rule.conditions}`);
    },
  };
}

function describeComparison(path: string, c: Comparison): string {
  const parts: string[] = [];
  if (c.eq !== undefined) parts.push(`${path} == ${JSON.stringify(c.eq)}`);
  if (c.ne !== undefined) parts.push(`${path} != ${JSON.stringify(c.ne)}`);
  if (c.lt !== undefined) parts.push(`${path} < ${c.lt}`);
  if (c.lte !== undefined) parts.push(`${path} <= ${c.lte}`);
  if (c.gt !== undefined) parts.push(`${path} > ${c.gt}`);
  if (c.gte !== undefined) parts.push(`${path} >= ${c.gte}`);
  if (c.in !== undefined) parts.push(`${path} in ${JSON.stringify(c.in)}`);
  return parts.join(' and ');
}

function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Every condition must hold; a missing field never satisfies a numeric bound. */
function compare(value: unknown, c: Comparison): boolean {
  if (c.eq !== undefined && value !== c.eq) return false;
  if (c.ne !== undefined && value === c.ne) return false;
  if (c.in !== undefined && !c.in.includes(value as string | number | boolean)) return false;
  const bounded = c.lt !== undefined || c.lte !== undefined || c.gt !== undefined || c.gte !== undefined;
  if (bounded) {
    if (typeof value !== 'number' || Number.isNaN(value)) return false;
    if (c.lt !== undefined && !(value < c.lt)) return false;
    if (c.lte !== undefined && !(value <= c.lte)) return false;
    if (c.gt !== undefined && !(value > c.gt)) return false;
    if (c.gte !== undefined && !(value >= c.gte)) return false;
  }
  return true;
}

export function newApprovalId(): string {
  return randomUUID();
}
