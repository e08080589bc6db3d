import type { StandardSchemaV1, ToolDefinition } from '@bounded/core';

/** The part of a LangChain tool this reads: its name and its argument schema. */
export interface NamedTool {
  readonly name: string;
  readonly schema?: unknown;
}

export interface ToolDefinitionsOptions {
  /** Maps a LangChain tool name to the policy's name, as in `boundedMiddleware({ toolName })`. */
  readonly toolName?: (name: string) => string;
  /** Merged over what the tools say, by (policy) tool name: `{ crm_update: { write: true } }`. */
  readonly extra?: Readonly<Record<string, ToolDefinition>>;
}

/**
 * Tool definitions for `createGovernor({ tools })` from LangChain tools: each tool's zod schema (any Standard
 * Schema) becomes the gateway's argument check, so bad arguments stop the run as `invalid_args:<tool>` before
 * the tool runs. Tools whose schema is plain JSON Schema are left without a check.
 *
 * ```ts
 * const governor = createGovernor({ policy, tools: toolDefinitions([searchKb, refund], { extra: { refund: { write: true } } }) });
 * ```
 */
export function toolDefinitions(
  tools: readonly NamedTool[],
  options: ToolDefinitionsOptions = {},
): Record<string, ToolDefinition> {
  const out: Record<string, ToolDefinition> = {};
  for (const tool of tools) {
    const name = options.toolName ? options.toolName(tool.name) : tool.name;
    if (isStandardSchema(tool.schema)) out[name] = { schema: tool.schema };
  }
  for (const [name, definition] of Object.entries(options.extra ?? {})) out[name] = { ...out[name], ...definition };
  return out;
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const standard = (value as { '~standard'?: { validate?: unknown } })['~standard'];
  return typeof standard === 'object' && standard !== null && typeof standard.validate === 'function';
}
