// `npm run bench`: every benchmark in one process, printed as one Markdown table.
//   --filter <substring>   only rows whose name contains it
//   --threads <n>          kernel threads (default: every core)
//   --only <groups>        comma-separated: kernels, workloads, strategies (default: all)
import * as hn from '../lib/index';
import { bindings } from '../lib/native';
import { formatTable, gitCommit, machineDescription, Measurement } from './harness';
import { kernelBenchmarks } from './kernels';
import { strategyBenchmarks, workloadBenchmarks } from './workloads';

interface PeakBindings {
  measurePeakGflops?(threads: number, milliseconds: number): number;
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const threads = argValue('--threads');
  if (threads) hn.setNumThreads(Number(threads));
  const filter = argValue('--filter');
  const peak = bindings<PeakBindings>().measurePeakGflops;
  const nThreads = hn.getNumThreads();
  const peakAll = peak ? peak(nThreads, 300) : NaN;
  const peakOne = peak ? peak(1, 300) : NaN;
  console.log(`# hydranet benchmarks\n`);
  console.log(`- date: ${new Date().toISOString()}`);
  console.log(`- commit: ${gitCommit()}`);
  console.log(`- machine: ${machineDescription()}`);
  console.log(`- threads: ${nThreads}; AVX2/FMA kernels: ${hn.cpuFeatures().avx2}`);
  console.log(`- measured FMA peak: ${peakAll.toFixed(1)} GFLOP/s on ${nThreads} threads, ${peakOne.toFixed(1)} on 1\n`);
  const groups = (argValue('--only') ?? 'kernels,workloads,strategies').split(',');
  let rows: Measurement[] = [
    ...(groups.includes('kernels') ? kernelBenchmarks() : []),
    ...(groups.includes('workloads') ? workloadBenchmarks() : []),
    ...(groups.includes('strategies') ? strategyBenchmarks() : []),
  ];
  if (filter) rows = rows.filter((r) => r.name.includes(filter));
  for (const r of rows) {
    if (r.flops && Number.isFinite(peakAll)) {
      const pct = (100 * r.flops) / r.seconds / 1e9 / peakAll;
      r.note = `${r.note ? r.note + '; ' : ''}${pct.toFixed(0)}% of peak`;
    }
  }
  console.log(formatTable(rows));
}

main();
