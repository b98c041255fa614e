// `npm run bench`: every benchmark in one process, printed as one Markdown table, side by side with
// onnxruntime-node (W1 inference) and PyTorch (every kernel and workload) when found.
//   --filter <substring>   only rows whose name contains it
//   --threads <n>          kernel threads for hydranet and the peers (default 2)
//   --only <groups>        comma-separated: kernels, workloads, strategies, rss (default: all)
//   --no-peers             hydranet alone
//   --rss-steps <n>        W1 training steps of the peak-RSS runs (default 20)
//   --torch-wait <mode>    PyTorch's OpenMP threads: 'both' (default: the peer runs once
//                          spinning, its default, and once waiting passively, and each row
//                          keeps the faster), 'spin' or 'passive
import * as hn from '../lib/index';
import { bindings } from '../lib/native';
import { formatTable, gitCommit, machineDescription, Measurement, PeerColumn, Target } from './harness';
import { kernelBenchmarks } from './kernels';
import { findTorchPython, hydranetPeakRss, ortPeer, torchPeakRss, torchPeer } from './peers';
import { strategyBenchmarks, w1InferenceCases, workloadBenchmarks } from './workloads';

interface PeakBindings {
  measurePeakGflops?(threads: number, milliseconds: number): number;
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const KERNEL_ROWS = [
  'K1 conv2d 64->64 32x32 k3p1', 'K2 conv2d 3->64 32x32 k3p1', 'K3 conv2d 128->128 8x8 k3p1', 'K4 convT 128->64 8->16 k2s2',
  'K5 convT 64->32 16->32 k4s2p1', 'K6 maxPool2d 2x2 64x64x32x32', 'K7 linear 8192->10 B=64',
];

/** The goals of issue 7 (peer time / hydranet time). */
function targets(): Record<string, Target[]> {
  const t: Record<string, Target[]> = {
    'W1 inference B=64': [{ peer: 'ORT', ratio: 1.0 }],
    'W1 inference B=1': [{ peer: 'ORT', ratio: 1.0 }],
    'W1 train step B=64 (static)': [{ peer: 'PyTorch', ratio: 1.5 }],
    'W2 train step B=256': [{ peer: 'PyTorch', ratio: 2.0 }],
    'K8 fused multi-loss fwd+bwd': [{ peer: 'PyTorch', ratio: 1.0 }],
  };
  for (const k of KERNEL_ROWS) for (const dir of ['fwd', 'bwd']) t[`${k} ${dir}`] = [{ peer: 'PyTorch', ratio: 1.0 }];
  return t;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const nThreads = Number(argValue('--threads') ?? 2);
  hn.setNumThreads(nThreads);
  const filter = argValue('--filter');
  const withPeers = !process.argv.includes('--no-peers');
  const groups = (argValue('--only') ?? 'kernels,workloads,strategies,rss').split(',');
  const rssSteps = Number(argValue('--rss-steps') ?? 20);
  const torchWait = argValue('--torch-wait') ?? 'both';
  if (!['both', 'spin', 'passive'].includes(torchWait)) throw new Error(`--torch-wait: expected both, spin or passive, got ${torchWait}`);
  const torchModes = torchWait === 'both' ? [false, true] : [torchWait === 'spin'];
  const peak = bindings<PeakBindings>().measurePeakGflops;
  const peakAll = peak ? peak(nThreads, 300) : NaN;
  const peakOne = peak ? peak(1, 300) : NaN;
  console.log(`# hydranet benchmarks\n`);
  console.log(`- date: ${new Date().toISOString()}`);
  console.log(`- commit: ${gitCommit()}`);
  console.log(`- machine: ${machineDescription()}`);
  console.log(`- threads: ${nThreads}; AVX2/FMA kernels: ${hn.cpuFeatures().avx2}`);
  console.log(`- measured FMA peak: ${peakAll.toFixed(1)} GFLOP/s on ${nThreads} threads, ${peakOne.toFixed(1)} on 1`);

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
  const sgemm = rows.find((r) => r.name.startsWith('SGEMM'));
  if (sgemm && Number.isFinite(peakAll)) {
    const pct = (100 * 2 * 1024 ** 3) / sgemm.seconds / 1e9 / peakAll;
    sgemm.note = `${sgemm.note}; target >= 85%: ${pct >= 85 ? 'met' : 'MISSED'}`;
  }

  const peers: PeerColumn[] = [];
  const rowNames = new Set(rows.map((r) => r.name));
  if (withPeers && rows.some((r) => r.name.startsWith('W1 inference'))) {
    const cases = w1InferenceCases().filter((c) => rowNames.has(c.name));
    const ort = await ortPeer(nThreads, Object.fromEntries(cases.map((c) => [c.name, c.forward])));
    console.log(`- ORT: ${ort.info}`);
    if (ort.available) peers.push({ label: 'ORT', seconds: ort.seconds });
    for (const r of rows) if (ort.ours[r.name] !== undefined) r.seconds = ort.ours[r.name];
  }
  const python = withPeers ? findTorchPython() : null;
  if (withPeers && !python) console.log('- PyTorch: skipped (no python3 with torch found: tried python3, /usr/bin/python3)');
  if (python && rows.length > 0) {
    // Spinning OpenMP threads are fastest on an idle machine and can be 10x slower on a shared
    // one: by default each row keeps the faster of the two runs, so the peer is never handicapped.
    const seconds: Record<string, number> = {};
    for (const spin of torchModes) {
      const torch = torchPeer(python, nThreads, groups, spin);
      console.log(`- PyTorch: ${torch.info}`);
      for (const [k, v] of Object.entries(torch.seconds)) {
        if (rowNames.has(k) && !(seconds[k] <= v)) seconds[k] = v;
      }
    }
    if (torchModes.length > 1) console.log('- PyTorch column: per row, the faster of the two runs above');
    peers.push({ label: 'PyTorch', seconds });
  }
  console.log('');
  console.log(formatTable(rows, peers, targets()));

  if (groups.includes('rss')) {
    const ours = hydranetPeakRss(nThreads, rssSteps);
    let line = `\nPeak RSS of a W1 training run (B=64, ${rssSteps} steps, separate process): hydranet ${mib(ours)}`;
    if (python) {
      const theirs = Math.min(...torchModes.map((spin) => torchPeakRss(python, nThreads, rssSteps, spin)));
      line += `, PyTorch ${mib(theirs)} (${(ours / theirs).toFixed(2)}x; target <= 1.00x: ${ours <= theirs ? 'met' : 'MISSED'})`;
    }
    console.log(line);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
