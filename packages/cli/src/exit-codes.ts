/** The exit codes of `bounded`. Stable: scripts and CI jobs key on them. */
export const EXIT = {
  /** The policy is valid; the tool call is allowed, auto-approved or needs approval. */
  ok: 0,
  /** The policy is invalid: every problem is printed. */
  invalidPolicy: 1,
  /** Bad usage (unknown command or option, bad `--args`), an unreadable file, or an unexpected error. */
  usage: 2,
  /** `explain`: the policy denies the tool call. */
  denied: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
