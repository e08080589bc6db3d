/**
 * Why a run stopped. Stable strings: dashboards, alerts and tests key on them.
 * Reasons that concern one tool carry it after a colon (`tool_denied:payments.refund`);
 * `rate_limited` carries the scope that ran out (`rate_limited:agent:support`).
 */
export type StopReason =
  | 'max_steps'
  | 'max_tool_calls'
  | `max_tool_calls:${string}`
  | 'max_seconds'
  | 'max_tokens'
  | 'max_input_tokens'
  | 'max_output_tokens'
  | 'max_usd'
  | `tool_denied:${string}`
  | `invalid_args:${string}`
  | `approval_rejected:${string}`
  | `approval_timeout:${string}`
  | `loop_detected:${string}`
  | `circuit_open:${string}`
  | `rate_limited:${string}`
  | 'store_unavailable'
  | 'killed'
  | 'error';

/** The part of a stop reason before the colon: what dashboards group by. */
export type StopKind =
  | 'max_steps'
  | 'max_tool_calls'
  | 'max_seconds'
  | 'max_tokens'
  | 'max_input_tokens'
  | 'max_output_tokens'
  | 'max_usd'
  | 'tool_denied'
  | 'invalid_args'
  | 'approval_rejected'
  | 'approval_timeout'
  | 'loop_detected'
  | 'circuit_open'
  | 'rate_limited'
  | 'store_unavailable'
  | 'killed'
  | 'error';

export interface StopReasonInfo {
  readonly kind: StopKind;
  /** Whether the reason names a tool or scope after a colon. */
  readonly scoped: boolean;
  readonly description: string;
}

/** The documented table of stop reasons (README and `bounded explain` print it). */
export const STOP_REASONS: readonly StopReasonInfo[] = [
  { kind: 'max_steps', scoped: false, description: 'The run used its step (model call) budget.' },
  {
    kind: 'max_tool_calls',
    scoped: false,
    description: 'The run used its tool-call budget; `max_tool_calls:<tool>` when a per-tool limit ran out.',
  },
  { kind: 'max_seconds', scoped: false, description: 'The wall-clock budget ran out; in-flight tools are aborted.' },
  { kind: 'max_tokens', scoped: false, description: 'Input + output tokens reached the budget.' },
  { kind: 'max_input_tokens', scoped: false, description: 'Input tokens reached the budget.' },
  { kind: 'max_output_tokens', scoped: false, description: 'Output tokens reached the budget.' },
  { kind: 'max_usd', scoped: false, description: 'Model and tool spend reached the USD budget (per run or per day).' },
  {
    kind: 'tool_denied',
    scoped: true,
    description: 'The tool is not allowed (deny list, not on the allow list, read-only).',
  },
  { kind: 'invalid_args', scoped: true, description: "The arguments failed the tool's schema." },
  { kind: 'approval_rejected', scoped: true, description: 'A write was rejected by its approver.' },
  { kind: 'approval_timeout', scoped: true, description: 'No approval decision arrived in time.' },
  { kind: 'loop_detected', scoped: true, description: 'The same tool was called with the same arguments too often.' },
  { kind: 'circuit_open', scoped: true, description: 'The tool failed repeatedly; calls are refused for a cool-down.' },
  { kind: 'rate_limited', scoped: true, description: 'A cross-run limit (per agent, tenant or globally) ran out.' },
  {
    kind: 'store_unavailable',
    scoped: false,
    description:
      'A shared store (Redis) could not be reached: writes are refused, other calls too unless `fail_mode.reads` is `open`.',
  },
  { kind: 'killed', scoped: false, description: 'The kill switch was thrown (global, agent or run).' },
  { kind: 'error', scoped: false, description: 'The run threw an error that is not a governance stop.' },
];

/** `stopKind('tool_denied:kb.write')` -> `'tool_denied'`. */
export function stopKind(reason: StopReason): StopKind {
  const colon = reason.indexOf(':');
  return (colon === -1 ? reason : reason.slice(0, colon)) as StopKind;
}

/** The tool or scope a reason names, if any: `stopSubject('tool_denied:kb.write')` -> `'kb.write'`. */
export function stopSubject(reason: StopReason): string | undefined {
  const colon = reason.indexOf(':');
  return colon === -1 ? undefined : reason.slice(colon + 1);
}
