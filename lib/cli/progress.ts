// Training progress on the terminal: a live bar per epoch (steps, images/s, ETA, running loss of
// each task) when stdout is a TTY; plain lines (about ten per epoch) when it is not, so logs and
// CI output stay readable.
import type { StepInfo } from '../train/fit';

interface Bar {
  start(total: number, value: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}
interface CliProgress {
  SingleBar: new (options: object, preset?: object) => Bar;
  Presets: Record<string, object>;
}
// cli-progress ships no type declarations; this is the part of its API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cliProgress = require('cli-progress') as CliProgress;

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  const sec = total % 60;
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function formatLosses(losses: Record<string, number>): string {
  return Object.entries(losses).map(([t, v]) => `${t} ${v.toFixed(4)}`).join('  ');
}

/** Where the CLI writes: process.stdout, or anything with write() (tests capture it). */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressReporter {
  epochStart(epoch: number, epochs: number, batches: number): void;
  step(info: StepInfo): void;
  epochEnd(): void;
}

export function createProgress(stream: Output = process.stdout, forcePlain = false): ProgressReporter {
  return stream.isTTY && !forcePlain ? new TtyProgress(stream) : new PlainProgress(stream);
}

class TtyProgress implements ProgressReporter {
  private bar: Bar | null = null;
  constructor(private readonly stream: Output) {}

  epochStart(epoch: number, epochs: number, batches: number): void {
    this.bar = new cliProgress.SingleBar({
      stream: this.stream,
      format: `epoch ${epoch + 1}/${epochs} {bar} {value}/{total} | {speed} img/s | ETA {etaText} | {losses}`,
      barsize: 24,
      hideCursor: true,
      fps: 8,
    }, cliProgress.Presets.shades_classic);
    this.bar.start(batches, 0, { speed: '-', etaText: '--', losses: '' });
  }

  step(info: StepInfo): void {
    const remaining = (info.batches - info.batch - 1) * (info.seconds / (info.batch + 1));
    this.bar?.update(info.batch + 1, {
      speed: info.imagesPerSecond.toFixed(0),
      etaText: formatSeconds(remaining),
      losses: formatLosses(info.runningLoss),
    });
  }

  epochEnd(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

class PlainProgress implements ProgressReporter {
  private every = 1;
  private epochs = 1;
  constructor(private readonly stream: Output) {}

  epochStart(epoch: number, epochs: number, batches: number): void {
    this.epochs = epochs;
    this.every = Math.max(1, Math.ceil(batches / 10));
  }

  step(info: StepInfo): void {
    const n = info.batch + 1;
    if (n % this.every !== 0 && n !== info.batches) return;
    const remaining = (info.batches - n) * (info.seconds / n);
    this.stream.write(`epoch ${info.epoch + 1}/${this.epochs} step ${n}/${info.batches} | ${info.imagesPerSecond.toFixed(0)} img/s | `
      + `ETA ${formatSeconds(remaining)} | ${formatLosses(info.runningLoss)}\n`);
  }

  epochEnd(): void {}
}
