import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalFingerprint, canonicalHash, canonicalJson, FingerprintCounter } from './canonical.js';

/** Rebuilds every object with its keys in a shuffled order. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, i) => shuffleKeys(item, seed + i));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    entries.sort((a, b) => ((hash(a[0]) ^ seed) % 7) - ((hash(b[0]) ^ seed) % 7) || (seed % 2 ? 1 : -1));
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

function hash(text: string): number {
  let h = 7;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

describe('canonical JSON', () => {
  it('ignores key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        expect(canonicalJson(shuffleKeys(value, seed))).toBe(canonicalJson(value));
        expect(canonicalHash(shuffleKeys(value, seed))).toBe(canonicalHash(value));
      }),
      { numRuns: 1000 },
    );
  });

  it('distinguishes different values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        // JSON values that differ after a JSON round trip must never share a canonical form.
        const same = isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
        expect(canonicalJson(a) === canonicalJson(b)).toBe(same);
      }),
      { numRuns: 3000 },
    );
  });

  it('tells apart values that differ in one leaf', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
        fc.string(),
        (object, key) => {
          const changed = { ...object, [key]: typeof object[key] === 'string' ? `${object[key]}x` : 'x' };
          expect(canonicalJson(changed)).not.toBe(canonicalJson(object));
        },
      ),
    );
  });

  it('is valid JSON, equal to the value, for JSON input', () => {
    fc.assert(
      fc.property(fc.jsonValue(), value => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 1000 },
    );
  });

  it('escapes strings exactly as JSON does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), text => {
        expect(canonicalJson(text)).toBe(JSON.stringify(text));
        expect(canonicalJson({ [text]: 1 })).toBe(JSON.stringify({ [text]: 1 }));
      }),
      { numRuns: 2000 },
    );
  });

  it('follows JSON for undefined members, Dates and toJSON', () => {
    expect(canonicalJson({ b: undefined, a: 1 })).toBe('{"a":1}');
    expect(canonicalJson({ at: new Date('2026-01-02T03:04:05.000Z') })).toBe('{"at":"2026-01-02T03:04:05.000Z"}');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson([undefined, () => 1])).toBe('[null,null]');
  });

  it('gives values JSON cannot carry tokens that no string produces', () => {
    expect(canonicalJson(Number.NaN)).toBe('NaN');
    expect(canonicalJson(Number.POSITIVE_INFINITY)).not.toBe(canonicalJson('Infinity'));
    expect(canonicalJson(10n)).toBe('10n');
    expect(
      canonicalJson(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe(
      canonicalJson(
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    );
    expect(canonicalJson(new Set([2, 1]))).toBe('Set[1,2]');
    expect(canonicalJson(new Uint8Array([1, 2]))).toBe('Bytes(AQI=)');
  });

  it('refuses cycles instead of recursing forever', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
  });
});

describe('canonical fingerprints (loop detection)', () => {
  it('agree with canonical JSON: equal exactly when the canonical text is equal', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.integer(), (a, b, seed) => {
        expect(canonicalFingerprint(shuffleKeys(a, seed))).toBe(canonicalFingerprint(a));
        const sameText = canonicalJson(a) === canonicalJson(b);
        expect(canonicalFingerprint(a) === canonicalFingerprint(b)).toBe(sameText);
      }),
      { numRuns: 5000 },
    );
  });

  it('are safe integers, and follow JSON for the odd cases', () => {
    const fingerprint = canonicalFingerprint({ q: 'x', n: [1, 2.5, -3] });
    expect(Number.isSafeInteger(fingerprint)).toBe(true);
    expect(canonicalFingerprint(-0)).toBe(canonicalFingerprint(0));
    expect(canonicalFingerprint(Number.NaN)).toBe(canonicalFingerprint(0 / 0));
    expect(canonicalFingerprint({ a: 1, b: undefined })).toBe(canonicalFingerprint({ a: 1 }));
    expect(canonicalFingerprint([undefined])).toBe(canonicalFingerprint([null]));
    expect(canonicalFingerprint({ at: new Date(0) })).toBe(canonicalFingerprint({ at: '1970-01-01T00:00:00.000Z' }));
    expect(canonicalFingerprint(new Map([['a', 1]]))).not.toBe(canonicalFingerprint({ a: 1 }));
    expect(canonicalFingerprint({ a: [1, 2] })).not.toBe(canonicalFingerprint({ a: [2, 1] }));
    expect(canonicalFingerprint({ a: 1, b: 2 })).not.toBe(canonicalFingerprint({ a: 2, b: 1 }));
    // An integer and the double whose high word it equals (1.5 is 0x3ff80000_00000000).
    expect(canonicalFingerprint({ amount: 1.5 })).not.toBe(canonicalFingerprint({ amount: 0x3ff80000 }));
    expect(canonicalFingerprint(0.5)).not.toBe(canonicalFingerprint(0x3fe00000));
  });

  it('tell integers from doubles exactly as the canonical text does', () => {
    const view = new DataView(new ArrayBuffer(8));
    const highWordOf = (value: number) => {
      view.setFloat64(0, value);
      return view.getInt32(0);
    };
    fc.assert(
      fc.property(fc.double({ noNaN: true }), value => {
        const integer = highWordOf(value);
        expect(canonicalFingerprint(value) === canonicalFingerprint(integer)).toBe(
          canonicalJson(value) === canonicalJson(integer),
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('have no collisions across a million distinct argument sets', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1_000_000; i++) seen.add(canonicalFingerprint({ q: `query ${i}`, page: i % 7 }));
    expect(seen.size).toBe(1_000_000);
  });
});

describe('FingerprintCounter (loop detection)', () => {
  it('counts the same tool and arguments together, whatever the key order, and keeps counts as it grows', () => {
    const counter = new FingerprintCounter();
    expect(counter.add(0, { q: 'a', page: 1 })).toBe(1);
    expect(counter.add(0, { page: 1, q: 'a' })).toBe(2);
    expect(counter.add(1, { q: 'a', page: 1 })).toBe(1); // another tool
    for (let i = 0; i < 10_000; i++) expect(counter.add(0, { q: `other ${i}` })).toBe(1);
    expect(counter.add(0, { q: 'a', page: 1 })).toBe(3);
    expect(counter.add(1, { page: 1, q: 'a' })).toBe(2);
    for (let i = 0; i < 10_000; i++) expect(counter.add(0, { q: `other ${i}` })).toBe(2);
  });

  it("comes back from the pool empty, so one run never sees another run's counts", () => {
    const first = FingerprintCounter.take();
    for (let i = 0; i < 5; i++) first.add(0, { q: 'same' });
    for (let i = 0; i < 10; i++) first.add(0, { q: `distinct ${i}` });
    first.release();
    const second = FingerprintCounter.take();
    expect(second).toBe(first); // reused, not remade
    expect(second.add(0, { q: 'same' })).toBe(1);
    for (let i = 0; i < 10; i++) expect(second.add(0, { q: `distinct ${i}` })).toBe(1);
    second.release();
  });
});
