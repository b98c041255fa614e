// Child process of the bench: trains W1 (B=64, static weights) for N steps, prints its peak RSS as
// JSON. A process of its own, so nothing else the bench allocated counts.
//   node dist/bench/rss_w1.js <threads> <steps>
import * as hn from '../lib/index';
import { W1_TASKS, w1Model } from './workloads';

function main(): void {
  const threads = Number(process.argv[2] ?? 2);
  const steps = Number(process.argv[3] ?? 20);
  hn.setNumThreads(threads);
  hn.manualSeed(0);
  const B = 64;
  const model = w1Model();
  const opt = new hn.optim.Adam(model.parameters(), { lr: 1e-3 });
  const wopt = new hn.mtl.WeightedOptimizer(model, opt, { tasks: W1_TASKS });
  const x = hn.randn([B, 3, 32, 32]);
  const targets = { cls: hn.randint(0, 10, [B]), seg: hn.randint(0, 11, [B, 32, 32]) };
  for (let i = 0; i < steps; i++) wopt.step(model.forward(x), targets);
  // resourceUsage().maxRSS is in KiB.
  console.log(JSON.stringify({ peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

main();
