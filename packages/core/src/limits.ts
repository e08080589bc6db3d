import type { CrossRunLimits, CrossRunLimitsPolicy } from './policy/types.js';
import type { LimitRequest } from './stores/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type ScopeKind = 'global' | 'agent' | 'tenant';
type Metric = 'tool_calls' | 'usd';

interface LimitRule {
  readonly scope: ScopeKind;
  readonly metric: Metric;
  readonly windowMs: number;
  readonly limit: number;
  readonly sliding: boolean;
  /** The policy key, for decisions: `limits.per_agent.tool_calls_per_hour`. */
  readonly rule: string;
  readonly window: string;
}

/** A cross-run limit bound to one run's agent and tenant. */
export interface BoundLimit extends LimitRequest {
  /** `global`, `agent:<name>` or `tenant:<id>`: what `rate_limited:<scope>` names. */
  readonly scopeName: string;
  readonly metric: Metric;
  readonly rule: string;
  readonly window: string;
}

export interface BoundSlot {
  readonly key: string;
  readonly limit: number;
  readonly scopeName: string;
  readonly rule: string;
}

/** The policy's `limits` section, compiled once per governor. */
export class LimitPlan {
  readonly #rules: LimitRule[] = [];
  readonly #slots: Array<{ scope: ScopeKind; limit: number; rule: string }> = [];

  constructor(policy: CrossRunLimitsPolicy) {
    const sections: Array<[ScopeKind, string, CrossRunLimits | undefined]> = [
      ['global', 'limits.global', policy.global],
      ['agent', 'limits.per_agent', policy.per_agent],
      ['tenant', 'limits.per_tenant', policy.per_tenant],
    ];
    for (const [scope, prefix, limits] of sections) {
      if (!limits) continue;
      const sliding = limits.window === 'sliding';
      const add = (metric: Metric, key: keyof CrossRunLimits, windowMs: number, window: string) => {
        const limit = limits[key];
        if (typeof limit === 'number') {
          this.#rules.push({ scope, metric, windowMs, limit, sliding, rule: `${prefix}.${key}`, window });
        }
      };
      add('tool_calls', 'tool_calls_per_minute', MINUTE, 'minute');
      add('tool_calls', 'tool_calls_per_hour', HOUR, 'hour');
      add('tool_calls', 'tool_calls_per_day', DAY, 'day');
      add('usd', 'usd_per_hour', HOUR, 'hour');
      add('usd', 'usd_per_day', DAY, 'day');
      if (limits.runs_in_flight !== undefined) {
        this.#slots.push({ scope, limit: limits.runs_in_flight, rule: `${prefix}.runs_in_flight` });
      }
    }
  }

  get empty(): boolean {
    return this.#rules.length === 0 && this.#slots.length === 0;
  }

  bind(agent: string, tenant: string | undefined): { limits: BoundLimit[]; slots: BoundSlot[] } {
    const scopeName = (scope: ScopeKind) =>
      scope === 'global' ? 'global' : scope === 'agent' ? `agent:${agent}` : tenant ? `tenant:${tenant}` : undefined;
    const limits: BoundLimit[] = [];
    for (const rule of this.#rules) {
      const name = scopeName(rule.scope);
      if (!name) continue;
      limits.push({
        key: `${name}:${rule.metric}:${rule.windowMs}`,
        amount: 0,
        limit: rule.limit,
        windowMs: rule.windowMs,
        sliding: rule.sliding,
        scopeName: name,
        metric: rule.metric,
        rule: rule.rule,
        window: rule.window,
      });
    }
    const slots: BoundSlot[] = [];
    for (const slot of this.#slots) {
      const name = scopeName(slot.scope);
      if (name) slots.push({ key: `${name}:runs_in_flight`, limit: slot.limit, scopeName: name, rule: slot.rule });
    }
    return { limits, slots };
  }
}
