// Generates the editor JSON Schema for policy files from the zod schema (the single source of truth).
import { mkdirSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { policySchema } from '../dist/policy/schema.js';

const schema = z.toJSONSchema(policySchema, { io: 'input', target: 'draft-2020-12' });
schema.$id = 'https://bounded.dev/schema/policy.schema.json';
schema.title = 'Bounded policy';
mkdirSync(new URL('../schema/', import.meta.url), { recursive: true });
writeFileSync(new URL('../schema/policy.schema.json', import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
