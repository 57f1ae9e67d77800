// The least any sampler can cost: a bare C loop that sleeps to absolute deadlines and
// preads the same files, with no ring, no histogram, no parsing. bench/sampler.ts
// compiles and runs it beside the native sampler, so the sampler's CPU is shown against
// the price of the wake-ups themselves (on a VM, each timer wake-up traps into the
// hypervisor, which costs more than the reads).
//
// Usage: floor RATE_HZ SECONDS FILE...   Prints {"cpuPercent": ..., "ticks": ...}.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec * 1e-6; }

int main(int argc, char** argv) {
  if (argc < 4) return fprintf(stderr, "usage: floor RATE_HZ SECONDS FILE...\n"), 2;
  const long rate = atol(argv[1]), ticks = rate * atol(argv[2]), period = 1000000000L / rate;
  const int files = argc - 3;
  int fds[files];
  for (int i = 0; i < files; i++) {
    if ((fds[i] = open(argv[3 + i], O_RDONLY)) < 0) return perror(argv[3 + i]), 1;
  }
  prctl(PR_SET_TIMERSLACK, 1UL);  // as the sampler does
  char text[32];
  struct timespec deadline, start, end;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  start = deadline;
  for (long i = 0; i < ticks; i++) {
    deadline.tv_nsec += period;
    while (deadline.tv_nsec >= 1000000000L) deadline.tv_nsec -= 1000000000L, deadline.tv_sec++;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    for (int f = 0; f < files; f++) pread(fds[f], text, sizeof text, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double wall = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
  printf("{\"cpuPercent\": %.4f, \"ticks\": %ld}\n", (seconds(usage.ru_utime) + seconds(usage.ru_stime)) / wall * 100, ticks);
  return 0;
}
