// The least any sampler can cost and the best it can keep time: a bare C loop that sleeps
// to absolute deadlines as the sampler does (clock_nanosleep TIMER_ABSTIME, 1 ns of timer
// slack, deadlines on whole milliseconds of CLOCK_REALTIME) and preads the same files,
// with no ring, no histogram, no parsing. bench/sampler.ts
// compiles and runs it beside the native sampler, so the sampler's CPU and lateness are
// shown against the price of the wake-ups themselves (on a VM, each timer wake-up traps
// into the hypervisor, which costs more than the reads) and against the scheduler.
//
// Usage: floor [--slice | --fifo] RATE_HZ SECONDS FILE...
//   --fifo   SCHED_FIFO priority 10, as the sampler's realtime option (needs root or
//            CAP_SYS_NICE): no task in the guest can then delay a wake-up, so what lateness
//            remains comes from below it (the hypervisor, interrupts)
//   --slice  ask EEVDF for a 0.1 ms slice (sched_setattr, sched_runtime with SCHED_OTHER,
//            Linux 6.12+, unprivileged), the sampler's best unprivileged setting
// Prints {"cpuPercent", "ticks", "overruns", "latenessUs": {"p50", "p99", "max"}, "sliceUs",
// "fifo"}: sliceUs is the slice sched_getattr reports in force (0 where the kernel reports
// none); fifo, whether SCHED_FIFO was granted.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct sched_attr_ {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec * 1e-6; }
static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }
static int cmp(const void* a, const void* b) { return (*(const int64_t*)a > *(const int64_t*)b) - (*(const int64_t*)a < *(const int64_t*)b); }

int main(int argc, char** argv) {
  int slice = argc > 1 && strcmp(argv[1], "--slice") == 0;
  int fifo = argc > 1 && strcmp(argv[1], "--fifo") == 0;
  argv += slice + fifo, argc -= slice + fifo;
  if (argc < 4) return fprintf(stderr, "usage: floor [--slice | --fifo] RATE_HZ SECONDS FILE...\n"), 2;
  const long rate = atol(argv[1]), ticks = rate * atol(argv[2]), period = 1000000000L / rate;
  const int files = argc - 3;
  int fds[files];
  for (int i = 0; i < files; i++) {
    if ((fds[i] = open(argv[3 + i], O_RDONLY)) < 0) return perror(argv[3 + i]), 1;
  }
  int64_t* late = calloc(ticks, sizeof *late);  // calloc'd and touched before the loop
  if (!late) return perror("calloc"), 1;
  for (long i = 0; i < ticks; i++) late[i] = 0;
  prctl(PR_SET_TIMERSLACK, 1UL);  // as the sampler does
  struct sched_attr_ attr = {.size = sizeof attr, .policy = SCHED_OTHER};
  if (slice) {
    attr.runtime = 100000;
    syscall(SYS_sched_setattr, 0, &attr, 0);
  }
  struct sched_param priority = {.sched_priority = 10};
  const int fifoInForce = fifo && sched_setscheduler(0, SCHED_FIFO, &priority) == 0;
  memset(&attr, 0, sizeof attr);
  syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0);
  char text[32];
  struct timespec deadline, start, now, end;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  start = deadline;
  // The first deadline on a whole millisecond of the wall clock, as the sampler's: a loop
  // whose deadlines fall elsewhere meets other periodic work at other moments.
  struct timespec realtime;
  clock_gettime(CLOCK_REALTIME, &realtime);
  const int64_t first = ns(deadline) + 1000000 - (ns(realtime) % 1000000) - period;
  deadline.tv_sec = first / 1000000000, deadline.tv_nsec = first % 1000000000;
  long n = 0, overruns = 0;
  for (long i = 0; i < ticks; i++) {
    deadline.tv_nsec += period;
    while (deadline.tv_nsec >= 1000000000L) deadline.tv_nsec -= 1000000000L, deadline.tv_sec++;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    late[n++] = ns(now) - ns(deadline);
    // Missed deadlines are skipped, as the sampler skips them.
    long missed = late[n - 1] / period;
    for (long m = 0; m < missed; m++, i++, overruns++) {
      deadline.tv_nsec += period;
      while (deadline.tv_nsec >= 1000000000L) deadline.tv_nsec -= 1000000000L, deadline.tv_sec++;
    }
    for (int f = 0; f < files; f++) pread(fds[f], text, sizeof text, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double wall = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
  qsort(late, n, sizeof *late, cmp);
  // The same ranks as the sampler's histogram: the value at rank round(q * n), from 1.
  long p50 = (long)(0.50 * n + 0.5), p99 = (long)(0.99 * n + 0.5);
  printf("{\"cpuPercent\": %.4f, \"ticks\": %ld, \"overruns\": %ld, \"latenessUs\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}, \"sliceUs\": %.1f, \"fifo\": %s}\n",
         (seconds(usage.ru_utime) + seconds(usage.ru_stime)) / wall * 100, n, overruns, late[p50 > 0 ? p50 - 1 : 0] / 1e3,
         late[p99 > 0 ? p99 - 1 : 0] / 1e3, late[n - 1] / 1e3, attr.runtime / 1e3,
         fifoInForce ? "true" : "false");
  return 0;
}
