import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalHash } from '@bounded/core';
import { RedisStoreOptionsError } from './errors.js';

/** An approval decision as it travels through Redis: signed, bound to one request, valid for a short time. */
export interface SignedDecision {
  readonly v: 1;
  /** The approval request it decides. */
  readonly id: string;
  readonly approved: boolean;
  readonly by: string;
  readonly reason: string | null;
  /** Epoch ms. */
  readonly decidedAt: number;
  /** Epoch ms after which the decision is refused (a late or replayed decision decides nothing). */
  readonly expiresAt: number;
  /** SHA-256 of the request as the decider saw it (tool, arguments, run): a decision cannot be moved to another. */
  readonly request: string;
  /** HMAC-SHA256 of the fields above, base64url. */
  readonly sig: string;
}

/** Why a decision was refused. */
export type DecisionRefusal = 'malformed' | 'bad_signature' | 'expired' | 'wrong_request';

export type DecisionCheck =
  | { readonly ok: true; readonly decision: SignedDecision }
  | { readonly ok: false; readonly reason: DecisionRefusal };

/** At least 32 bytes: an HMAC-SHA256 key shorter than its output weakens it. */
export function signingKey(secret: string | Uint8Array): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (key.length < 32) {
    throw new RedisStoreOptionsError(
      `the approval signing secret must be at least 32 bytes (got ${key.length}); e.g. crypto.randomBytes(32).toString('base64')`,
    );
  }
  return key;
}

/** The digest a decision is bound to: the request as stored in the queue (what the decider was shown). */
export function requestDigest(stored: unknown): string {
  return canonicalHash(stored);
}

/** Signs a decision (what `approve`/`reject` do; exported for deciders that write decisions themselves). */
export function signDecision(secret: string | Uint8Array, fields: Omit<SignedDecision, 'v' | 'sig'>): SignedDecision {
  const unsigned = { v: 1 as const, ...fields };
  return { ...unsigned, sig: mac(signingKey(secret), unsigned) };
}

/** Checks a decision's form, signature, binding to the request and expiry. */
export function verifyDecision(
  secret: string | Uint8Array,
  text: string,
  expected: { readonly id: string; readonly request: string },
  now: number = Date.now(),
): DecisionCheck {
  let decision: SignedDecision;
  try {
    decision = JSON.parse(text) as SignedDecision;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!wellFormed(decision)) return { ok: false, reason: 'malformed' };
  const expectedSig = Buffer.from(mac(signingKey(secret), decision), 'utf8');
  const actualSig = Buffer.from(decision.sig, 'utf8');
  if (expectedSig.length !== actualSig.length || !timingSafeEqual(expectedSig, actualSig)) {
    return { ok: false, reason: 'bad_signature' };
  }
  if (decision.id !== expected.id || decision.request !== expected.request)
    return { ok: false, reason: 'wrong_request' };
  if (now > decision.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, decision };
}

function mac(key: Buffer, d: Omit<SignedDecision, 'sig'>): string {
  // A fixed field order, so the same decision always signs the same bytes.
  const payload = JSON.stringify([d.v, d.id, d.approved, d.by, d.reason, d.decidedAt, d.expiresAt, d.request]);
  return createHmac('sha256', key).update(payload).digest('base64url');
}

function wellFormed(d: SignedDecision): boolean {
  return (
    typeof d === 'object' &&
    d !== null &&
    d.v === 1 &&
    typeof d.id === 'string' &&
    typeof d.approved === 'boolean' &&
    typeof d.by === 'string' &&
    (d.reason === null || typeof d.reason === 'string') &&
    Number.isFinite(d.decidedAt) &&
    Number.isFinite(d.expiresAt) &&
    typeof d.request === 'string' &&
    typeof d.sig === 'string'
  );
}
