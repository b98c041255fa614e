// The short version of the memory soak (bench/soak.ts; `npm run soak` runs 10 000 steps): 300 W2
// training steps with fresh tensors every step, half disposed, half dropped. Bound: RSS measured
// after a full GC grows by less than 16 MiB from step 100 to step 300. Keeping just each step's
// input batch (100 KiB at batch 32) would add 20 MiB; keeping a step's graph, far more. (The
// 5% bound of the long soak is for 8000 steps; over 200 steps allocator noise of a few MiB is
// several percent of a test process.)
import { describe, expect, it } from 'vitest';
import { soak } from '../bench/soak';

describe('memory soak (short)', () => {
  it('300 W2 steps: RSS after GC grows < 16 MiB from step 100 to 300, and the model learns', () => {
    const result = soak({ steps: 300, batch: 32, every: 50, baselineStep: 100 });
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(`soak (short): RSS after GC ${result.samples.map((s) => mb(s.rssAfterGc)).join(' ')} MB at steps `
      + `${result.samples.map((s) => s.step).join(' ')}; growth ${(100 * result.rssAfterGcGrowth).toFixed(2)}% after GC, `
      + `${(100 * result.rssGrowth).toFixed(2)}% sampled; loss ${result.firstLoss.toFixed(3)} -> ${result.lastLoss.toFixed(3)}`);
    const base = result.samples.find((s) => s.step === 100)!;
    const end = result.samples[result.samples.length - 1];
    expect((end.rssAfterGc - base.rssAfterGc) / 2 ** 20).toBeLessThan(16);
    expect(result.lastLoss).toBeLessThan(result.firstLoss);
  }, 120_000);
});
