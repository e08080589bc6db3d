import { ApprovalQueue, createGovernor, loadPolicy, type Observer } from '@bounded/core';
import { answer, call, type ScriptedModel, script } from './agent.js';
import { supportDesk } from './desk.js';
import { APPROVER, DEFAULT_POLICY } from './scenarios.js';
import { createWorld } from './world.js';

/**
 * A day at the support desk, for `bounded mine`: many tickets, mostly alike. Routine ones the workflow answers; the
 * rest go to the agent, and most of those follow one scripted path (search, then read the article, then answer): the
 * common path an operator would move from the agent into the workflow.
 */
export interface TicketKind {
  readonly id: string;
  /** Of every 50 tickets. */
  readonly per50: number;
  readonly text: string;
  readonly model: () => ScriptedModel;
  /** The tools the agent's path calls (admitted calls, in order); empty when the workflow answers. */
  readonly path: readonly string[];
}

export const TICKET_KINDS: readonly TicketKind[] = [
  {
    id: 'routine',
    per50: 15,
    text: 'How do I reset my password? I am locked out.',
    model: () => script(answer('unused: the workflow answers this one')),
    path: [],
  },
  {
    id: 'replacement-part',
    per50: 21,
    text: 'My replacement part has not arrived yet, where is it?',
    model: () =>
      script(
        call('search.read', { q: 'replacement part delivery' }),
        call('kb.read', { topic: 'shipping' }),
        answer('Replacement parts: damaged parts are replaced at cost; we ship within two days.'),
      ),
    path: ['search.read', 'kb.read'],
  },
  {
    id: 'plan-upgrade',
    per50: 7,
    text: 'We signed the priority contract yesterday, please upgrade our plan.',
    model: () =>
      script(
        call('crm.update', { customer: 'cus_1042', plan: 'priority' }),
        answer('Done: your account is on the priority plan now.'),
      ),
    path: ['crm.update'],
  },
  {
    id: 'retried-charge',
    per50: 4,
    text: 'As agreed on the phone, charge me $40 for the expedited replacement.',
    model: () =>
      script(
        call('payments.charge', { customer: 'cus_2001', amount_usd: 40, reason: 'expedited replacement' }),
        call('payments.charge', { customer: 'cus_2001', amount_usd: 40, reason: 'expedited replacement' }),
        answer('Charged $40 for the expedited replacement.'),
      ),
    path: ['payments.charge', 'payments.charge'],
  },
  {
    id: 'search-thrash',
    per50: 3,
    text: 'My widget makes a clicking noise at night, only on Tuesdays.',
    model: () => script((turn: number) => call('search.read', { q: `widget clicking noise v${turn}` })),
    path: Array(12).fill('search.read'),
  },
];

export interface TrafficOptions {
  /** Tickets to run; the mix holds exactly for multiples of 50. Default 50. */
  readonly tickets?: number;
  readonly observers?: readonly Observer[];
  readonly policyPath?: string | URL;
}

export interface TrafficOutcome {
  /** Tickets of each kind. */
  readonly tickets: Readonly<Record<string, number>>;
  /** Runs handled by the agent, by kind. */
  readonly agentRuns: number;
}

/** Runs the traffic through one governor, tickets in a fixed shuffled order (the same every time). */
export async function runTraffic(options: TrafficOptions = {}): Promise<TrafficOutcome> {
  const total = options.tickets ?? 50;
  const kinds: TicketKind[] = [];
  for (let i = 0; i < total; i++) {
    // Kind of ticket i: the mix, spread over each block of 50.
    let slot = i % 50;
    for (const kind of TICKET_KINDS) {
      if (slot < kind.per50) {
        kinds.push(kind);
        break;
      }
      slot -= kind.per50;
    }
  }
  shuffle(kinds, 7);
  const approvals = new ApprovalQueue();
  approvals.onRequest(pending => setTimeout(() => approvals.approve(pending.id, { by: APPROVER }), 5));
  const governor = createGovernor({
    policy: await loadPolicy(options.policyPath ?? DEFAULT_POLICY),
    approver: approvals,
    observers: options.observers ?? [],
  });
  const counts: Record<string, number> = {};
  let agentRuns = 0;
  try {
    for (const [i, kind] of kinds.entries()) {
      counts[kind.id] = (counts[kind.id] ?? 0) + 1;
      const result = await governor.workflow(
        supportDesk(createWorld()),
        { id: `T-${2000 + i}`, customer: 'cus_1042', text: kind.text, model: kind.model() },
        { metadata: { ticket: `T-${2000 + i}`, kind: kind.id } },
      );
      if (result.handledBy === 'agent') agentRuns++;
    }
  } finally {
    governor.close();
  }
  return { tickets: counts, agentRuns };
}

/** Fisher-Yates with a small seeded generator (mulberry32): a mixed order that is the same on every run. */
function shuffle<T>(items: T[], seed: number): void {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
