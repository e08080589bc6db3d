import { didYouMean as closest } from '@bounded/core';

/** The closest command or option: a unique prefix, or a plausible typo (core's edit-distance "did you mean"). */
export function didYouMean(input: string, candidates: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  if (lower.length >= 2) {
    const prefixed = candidates.filter(candidate => candidate.toLowerCase().startsWith(lower));
    if (prefixed.length === 1) return prefixed[0];
  }
  return closest(input, candidates);
}
