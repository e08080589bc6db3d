import { describe, expect, it } from 'vitest';
import { createGovernor } from './governor.js';

describe('governor.enforcement', () => {
  it("is the policy's, unless the option overrides it (adapters ask before refusing on the framework's side)", () => {
    expect(createGovernor({ policy: {} }).enforcement).toBe('enforce');
    expect(createGovernor({ policy: { enforcement: 'shadow' } }).enforcement).toBe('shadow');
    expect(createGovernor({ policy: { enforcement: 'shadow' }, enforcement: 'enforce' }).enforcement).toBe('enforce');
    expect(createGovernor({ policy: {}, enforcement: 'shadow' }).enforcement).toBe('shadow');
  });
});
