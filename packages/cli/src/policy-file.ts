import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BoundedError, loadPolicy, type Policy, type PolicyError, type PolicyIssue } from '@bounded/core';

export type PolicyFileResult =
  | { readonly status: 'ok'; readonly file: string; readonly policy: Policy }
  | { readonly status: 'invalid'; readonly file: string; readonly issues: readonly PolicyIssue[] }
  | { readonly status: 'unreadable'; readonly file: string; readonly message: string };

/**
 * Loads a policy file with `loadPolicy`. Tells an invalid policy (its issues) from a file that cannot be read,
 * which a CI job wants to treat differently (exit 1 vs exit 2). Other errors are thrown.
 */
export async function readPolicyFile(file: string): Promise<PolicyFileResult> {
  const absolute = resolve(file);
  const unreadable = await checkReadable(absolute);
  if (unreadable) return { status: 'unreadable', file, message: `cannot read ${file}: ${unreadable}` };
  try {
    // A file URL, so a path is never mistaken for policy text (loadPolicy takes a string with a newline as text).
    const policy = await loadPolicy(pathToFileURL(absolute));
    return { status: 'ok', file, policy };
  } catch (error) {
    if (!isPolicyError(error)) throw error;
    if (error.code === 'POLICY_UNREADABLE') {
      // The file went away (or became unreadable) between the check and the read.
      return { status: 'unreadable', file, message: `${error.issues[0]?.message ?? 'cannot read policy'} (${file})` };
    }
    return { status: 'invalid', file, issues: error.issues };
  }
}

async function checkReadable(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) return 'it is a directory, not a policy file';
    await access(path, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'file not found';
    if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
    return error instanceof Error ? error.message : String(error);
  }
}

/** Works across copies of @bounded/core, like `BoundedError.isInstance`. */
function isPolicyError(error: unknown): error is PolicyError {
  return BoundedError.isInstance(error) && (error.code === 'POLICY_INVALID' || error.code === 'POLICY_UNREADABLE');
}
