/**
 * A small side-by-side harness: every case runs in the same process, in interleaved rounds (so drift in machine
 * load hits all cases alike), and each figure is the median of the rounds' per-operation times.
 */
export interface BenchCase {
  readonly name: string;
  /** Runs the operation `iterations` times. */
  readonly run: (iterations: number) => Promise<void>;
}

export interface BenchResult {
  readonly name: string;
  /** Median nanoseconds per operation over the rounds. */
  readonly ns: number;
  readonly minNs: number;
  readonly maxNs: number;
  readonly rounds: number;
  /** Nanoseconds per operation in each round, in round order (for ratios paired within a round). */
  readonly perRound: readonly number[];
}

export interface CompareOptions {
  readonly rounds?: number;
  readonly iterations?: number;
  readonly warmupIterations?: number;
}

export async function compare(cases: readonly BenchCase[], options: CompareOptions = {}): Promise<BenchResult[]> {
  const rounds = options.rounds ?? 15;
  const iterations = options.iterations ?? 20_000;
  for (const bench of cases) await bench.run(options.warmupIterations ?? iterations);
  const samples = new Map<string, number[]>(cases.map(c => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no case always runs right after another's garbage.
    for (let i = 0; i < cases.length; i++) {
      const bench = cases[(round + i) % cases.length]!;
      const started = process.hrtime.bigint();
      await bench.run(iterations);
      const elapsed = Number(process.hrtime.bigint() - started);
      samples.get(bench.name)!.push(elapsed / iterations);
    }
  }
  return cases.map(bench => {
    const perRound = samples.get(bench.name)!;
    const sorted = [...perRound].sort((a, b) => a - b);
    return {
      name: bench.name,
      perRound,
      ns: sorted[Math.floor(sorted.length / 2)]!,
      minNs: sorted[0]!,
      maxNs: sorted.at(-1)!,
      rounds: sorted.length,
    };
  });
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export function printTable(title: string, results: readonly BenchResult[], baseline: string): void {
  const base = results.find(r => r.name === baseline);
  console.log(`\n${title}`);
  const width = Math.max(...results.map(r => r.name.length));
  for (const r of results) {
    const added = base && r.name !== baseline ? `  (+${formatNs(Math.max(0, r.ns - base.ns))} over ${baseline})` : '';
    console.log(
      `  ${r.name.padEnd(width)}  ${formatNs(r.ns).padStart(9)} /op   [min ${formatNs(r.minNs)}, max ${formatNs(r.maxNs)}]${added}`,
    );
  }
}

export function environment(): string {
  return `node ${process.version}, ${process.platform}/${process.arch}`;
}

/**
 * The median over rounds of (a - base) / (b - base), each round's figures taken together: load that drifts across
 * a run (other processes on a small machine) moves both sides of a round alike and cancels out.
 */
export function pairedRatio(a: BenchResult, b: BenchResult, base: BenchResult): number {
  const ratios = a.perRound.map((ns, i) => (ns - base.perRound[i]!) / (b.perRound[i]! - base.perRound[i]!));
  ratios.sort((x, y) => x - y);
  return ratios[Math.floor(ratios.length / 2)]!;
}

/** The median over rounds of a / b, each round's figures taken together (see pairedRatio). */
export function pairedQuotient(a: BenchResult, b: BenchResult): number {
  const ratios = a.perRound.map((ns, i) => ns / b.perRound[i]!);
  ratios.sort((x, y) => x - y);
  return ratios[Math.floor(ratios.length / 2)]!;
}
