/*
 * A fake NVML (libnvidia-ml.so.1) for tests: just the functions wattmeter loads. Each
 * GPU's energy advances from the monotonic clock at a known power, so a reader can be
 * checked against watts x time. Built by test/helpers/fake-nvml.ts with
 *   -DFAKE_WATTS='{300.0, 70.0}'  the power of each GPU; a negative power is a GPU
 *                                  without energy reporting (pre-Volta: NOT_SUPPORTED)
 *   -DFAKE_INIT_ERROR=9            nvmlInit_v2 fails with this code (9: driver not loaded)
 */
#include <time.h>

#ifndef FAKE_WATTS
#define FAKE_WATTS {100.0}
#endif
#ifndef FAKE_INIT_ERROR
#define FAKE_INIT_ERROR 0
#endif

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;

static const double watts[] = FAKE_WATTS;
static const unsigned gpus = sizeof watts / sizeof watts[0];
static int initialised = 0;

/* Energy since "the driver loaded": 1000 s before the first use, so values are large. */
static double origin_s = -1;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

nvmlReturn_t nvmlInit_v2(void) {
  if (FAKE_INIT_ERROR) return FAKE_INIT_ERROR;
  if (origin_s < 0) origin_s = now_s() - 1000;
  initialised++;
  return 0;
}

nvmlReturn_t nvmlShutdown(void) {
  if (initialised == 0) return 1; /* NVML_ERROR_UNINITIALIZED */
  initialised--;
  return 0;
}

const char *nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count) {
  if (!initialised) return 1;
  *count = gpus;
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t *device) {
  if (!initialised) return 1;
  if (index >= gpus) return 2;
  *device = (nvmlDevice_t)(unsigned long)(index + 1);
  return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy_mj) {
  unsigned index = (unsigned)(unsigned long)device - 1;
  if (!initialised) return 1;
  if (index >= gpus) return 2;
  if (watts[index] < 0) return 3;
  *energy_mj = (unsigned long long)(watts[index] * (now_s() - origin_s) * 1000);
  return 0;
}
