/** The exit codes of `bounded`. Stable: scripts and CI jobs key on them. */
export const EXIT = {
  /** The policy is valid; the tool call is allowed, auto-approved or needs approval; the command did its work. */
  ok: 0,
  /** The policy is invalid: every problem is printed. */
  invalidPolicy: 1,
  /** An input with problems (policy, suite, config, traces, audit log that is not one), or nothing to act on. */
  invalid: 1,
  /** Bad usage (unknown command or option, bad `--args`), an unreadable file, or an unexpected error. */
  usage: 2,
  /** `explain`: the policy denies the tool call. */
  denied: 3,
  /** `golden run`, `canary report`: the candidate drifted past a threshold. */
  drift: 4,
  /** `audit verify`: the chain is broken (a record edited, inserted, removed or reordered). */
  tampered: 5,
  /** A service (Jaeger, Prometheus, Redis) cannot be reached. */
  unreachable: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
