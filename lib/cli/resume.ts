// --resume <path>: a run folder (its config.json and last.safetensors) or a training-state file.
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from './config';
import { CONFIG_FILE, LAST_FILE } from './train_command';

export interface ResumeTarget {
  runDir: string;
  /** The run's config.json, when there is one. */
  configFile?: string;
  stateFile: string;
}

export function resolveResume(target: string): ResumeTarget {
  if (!fs.existsSync(target)) throw new ConfigError(`--resume: not found: ${target}`);
  const isDir = fs.statSync(target).isDirectory();
  const runDir = isDir ? target : path.dirname(target);
  const stateFile = isDir ? path.join(target, LAST_FILE) : target;
  if (!fs.existsSync(stateFile)) throw new ConfigError(`--resume: no ${LAST_FILE} in ${target} (the run saves it after each epoch)`);
  const configFile = path.join(runDir, CONFIG_FILE);
  return { runDir, stateFile, configFile: fs.existsSync(configFile) ? configFile : undefined };
}
