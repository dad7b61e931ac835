// Learning-rate schedules as pure functions of the step: constant, step decay, cosine, each with
// an optional linear warm-up. Pure, so a resumed run gets exactly the same rates.

import { ConfigError } from '../errors.js';

export interface ScheduleConfig {
  kind: 'constant' | 'step' | 'cosine';
  /** Linear warm-up from 0 to the base rate over this many steps (default 0). */
  warmupSteps?: number;
  /** step: multiply by gamma every stepSize steps. */
  stepSize?: number;
  gamma?: number;
  /** cosine: decay to minLr (default 0) at totalSteps. */
  totalSteps?: number;
  minLr?: number;
}

export type Schedule = (step: number) => number;

/** Returns lr(step) for 0-based step. */
export function makeSchedule(baseLr: number, cfg: ScheduleConfig): Schedule {
  const warm = cfg.warmupSteps ?? 0;
  if (!(warm >= 0)) throw new ConfigError(`schedule: warmupSteps must be >= 0, got ${warm}`);
  let main: Schedule;
  switch (cfg.kind) {
    case 'constant':
      main = () => baseLr;
      break;
    case 'step': {
      const size = cfg.stepSize ?? 0;
      const gamma = cfg.gamma ?? 0.1;
      if (!(size > 0)) throw new ConfigError(`schedule 'step': stepSize must be > 0, got ${cfg.stepSize}`);
      main = (s) => baseLr * Math.pow(gamma, Math.floor(s / size));
      break;
    }
    case 'cosine': {
      const total = cfg.totalSteps ?? 0;
      const minLr = cfg.minLr ?? 0;
      if (!(total > 0)) throw new ConfigError(`schedule 'cosine': totalSteps must be > 0, got ${cfg.totalSteps}`);
      main = (s) => {
        const t = Math.min(1, Math.max(0, (s - warm) / Math.max(1, total - warm)));
        return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * t));
      };
      break;
    }
    default:
      throw new ConfigError(`schedule: kind must be constant, step or cosine, got ${JSON.stringify((cfg as { kind: unknown }).kind)}`);
  }
  if (warm === 0) return main;
  return (s) => (s < warm ? (baseLr * (s + 1)) / warm : main(s));
}
