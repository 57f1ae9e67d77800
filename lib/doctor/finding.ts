// One line of the doctor's verdict: what was checked, how it went, why, and what to run.

export type Status = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** powercap, perf_event, msr, nvml, machine, update-interval or agreement. */
  check: string;
  status: Status;
  /** One line: what was found. */
  summary: string;
  /** Why, when it is not plain from the summary. */
  why?: string;
  /** What to do: each entry a command to run or one step, the first the likeliest. */
  fix?: string[];
}
