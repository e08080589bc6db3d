/**
 * The Standard Schema interface (https://standardschema.dev), copied as its spec asks, so tools can declare
 * argument schemas with zod, valibot, arktype or anything else that implements it, at any version.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return typeof value === 'object' && value !== null && '~standard' in value;
}

/** `amount: expected number; to: invalid email` */
export function formatStandardIssues(issues: readonly StandardIssue[]): string {
  return issues
    .map(issue => {
      const path = (issue.path ?? [])
        .map(part => String(typeof part === 'object' && part !== null && 'key' in part ? part.key : part))
        .join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
