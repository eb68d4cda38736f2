// Standalone proof of the TSAL CUDA kernels (no TensorFlow): the same per-element functions
// (../cc/kernels/tsal_elements.h) and the same launch code (../cc/kernels/tsal_gpu_launch.cu.cc) the TF ops
// use, checked against those functions run on the host, and timed against a device-to-device cudaMemcpy of
// the same byte count.
//
//   ./harness            parity + timing at the training shapes of issue 4
//   ./harness --quick    parity only, small shapes (for compute-sanitizer memcheck / racecheck)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "tsal_elements.h"
#include "tsal_gpu_launch.h"

#define CHECK(call)                                                                                  \
  do {                                                                                               \
    cudaError_t status_ = (call);                                                                    \
    if (status_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(status_)); \
      std::exit(1);                                                                                  \
    }                                                                                                \
  } while (0)

namespace {

struct DeviceBuffer {
  float* data = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) { CHECK(cudaMalloc(&data, std::max<size_t>(n, 1) * sizeof(float))); }
  ~DeviceBuffer() { cudaFree(data); }
  void Upload(const std::vector<float>& host) { CHECK(cudaMemcpy(data, host.data(), count * 4, cudaMemcpyHostToDevice)); }
  std::vector<float> Download() const {
    std::vector<float> host(count);
    CHECK(cudaMemcpy(host.data(), data, count * 4, cudaMemcpyDeviceToHost));
    return host;
  }
};

// ---------------------------------------------------------------- host references (same element functions)

void HostHeatmapToCoords(const std::vector<float>& heatmaps, int64_t batch, int64_t height, int64_t width,
                         int64_t channels, std::vector<float>* coords, std::vector<float>* confidence) {
  coords->assign(batch * channels * 2, 0.0f);
  confidence->assign(batch * channels, 0.0f);
  for (int64_t b = 0; b < batch; ++b) {
    const float* map = heatmaps.data() + b * height * width * channels;
    for (int64_t n = 0; n < channels; ++n) {
      const int64_t peak = tsal::ChannelArgmax(map, height * width, channels, n);
      tsal::RefinePeak(map, height, width, channels, n, peak, coords->data() + 2 * (b * channels + n),
                       confidence->data() + b * channels + n);
    }
  }
}

void HostWarp(const std::vector<float>& image, const std::vector<float>& flow, int64_t batch, int64_t height,
              int64_t width, int64_t channels, std::vector<float>* out) {
  out->assign(image.size(), 0.0f);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) {
        const int64_t i = (b * height + y) * width + x;
        tsal::WarpPixel(image.data() + b * height * width * channels, flow.data() + 2 * i, y, x, height, width,
                        channels, out->data() + i * channels);
      }
}

struct HostAdd {
  TSAL_HD void operator()(float* address, float value) const { *address += value; }
};

void HostWarpGrad(const std::vector<float>& image, const std::vector<float>& flow, const std::vector<float>& grad,
                  int64_t batch, int64_t height, int64_t width, int64_t channels, std::vector<float>* grad_image,
                  std::vector<float>* grad_flow) {
  grad_image->assign(image.size(), 0.0f);
  grad_flow->assign(flow.size(), 0.0f);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x) {
        const int64_t i = (b * height + y) * width + x;
        const int64_t offset = b * height * width * channels;
        tsal::WarpPixelGrad(image.data() + offset, flow.data() + 2 * i, grad.data() + i * channels, y, x, height,
                            width, channels, grad_image->data() + offset, grad_flow->data() + 2 * i, HostAdd());
      }
}

// ---------------------------------------------------------------- comparison and timing

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

// max |a - b| / max(1, |b|): gradients accumulated with atomics sum in another order.
double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(b[i]))));
  return worst;
}

template <typename Launch>
float MedianMs(Launch launch, int repeats = 25) {
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) launch();
  CHECK(cudaDeviceSynchronize());
  std::vector<float> times;
  for (int i = 0; i < repeats; ++i) {
    CHECK(cudaEventRecord(start));
    launch();
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Time a kernel moving `bytes` (read + written) next to a device-to-device copy of the same byte count.
template <typename Launch>
void Report(const char* name, Launch launch, double bytes) {
  DeviceBuffer a(static_cast<size_t>(bytes / 8)), b(static_cast<size_t>(bytes / 8));  // copy reads + writes bytes
  const float kernel_ms = MedianMs(launch);
  const float copy_ms = MedianMs([&] { CHECK(cudaMemcpyAsync(b.data, a.data, a.count * 4, cudaMemcpyDeviceToDevice)); });
  const double kernel_gbs = bytes / (kernel_ms * 1e6), copy_gbs = bytes / (copy_ms * 1e6);
  std::printf("  %-44s %8.3f ms %8.1f GB/s | memcpy %8.3f ms %8.1f GB/s | %5.1f%% of memcpy\n", name, kernel_ms,
              kernel_gbs, copy_ms, copy_gbs, 100.0 * kernel_gbs / copy_gbs);
}

bool Expect(const char* what, double value, double bound) {
  const bool ok = value <= bound;
  std::printf("  %-44s %.3g (bound %.0e) %s\n", what, value, bound, ok ? "ok" : "FAILED");
  return ok;
}

bool HeatmapCase(int64_t batch, int64_t height, int64_t width, int64_t channels, bool time_it, std::mt19937* rng) {
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> heatmaps(batch * height * width * channels);
  for (auto& v : heatmaps) v = uniform(*rng);
  for (int64_t p = 0; p < height * width; ++p) heatmaps[p * channels + 0] = 0.25f;  // flat map in channel 0
  std::vector<float> want_coords, want_conf;
  HostHeatmapToCoords(heatmaps, batch, height, width, channels, &want_coords, &want_conf);
  DeviceBuffer d_heat(heatmaps.size()), d_coords(batch * channels * 2), d_conf(batch * channels);
  d_heat.Upload(heatmaps);
  auto launch = [&] {
    CHECK(static_cast<cudaError_t>(tsal::LaunchHeatmapToCoordsGpu(nullptr, d_heat.data, batch, height, width,
                                                                  channels, d_coords.data, d_conf.data)));
  };
  launch();
  CHECK(cudaDeviceSynchronize());
  char name[128];
  std::snprintf(name, sizeof(name), "HeatmapToCoords [%ld,%ld,%ld,%ld] max |diff|", long(batch), long(height),
                long(width), long(channels));
  bool ok = Expect(name, std::max(MaxAbsDiff(d_coords.Download(), want_coords), MaxAbsDiff(d_conf.Download(), want_conf)), 1e-5);
  if (time_it) Report("HeatmapToCoords", launch, 4.0 * (heatmaps.size() + batch * channels * 3));
  return ok;
}

bool WarpCase(int64_t batch, int64_t height, int64_t width, int64_t channels, bool time_it, std::mt19937* rng) {
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f), motion(-12.0f, 12.0f);
  std::vector<float> image(batch * height * width * channels), flow(batch * height * width * 2),
      grad(image.size());
  for (auto& v : image) v = uniform(*rng);
  for (auto& v : flow) v = motion(*rng);  // many samples fall outside the image (clamp border)
  for (auto& v : grad) v = uniform(*rng) - 0.5f;
  std::vector<float> want_out, want_gi, want_gf;
  HostWarp(image, flow, batch, height, width, channels, &want_out);
  HostWarpGrad(image, flow, grad, batch, height, width, channels, &want_gi, &want_gf);
  DeviceBuffer d_image(image.size()), d_flow(flow.size()), d_grad(grad.size()), d_out(image.size()),
      d_gi(image.size()), d_gf(flow.size());
  d_image.Upload(image);
  d_flow.Upload(flow);
  d_grad.Upload(grad);
  auto forward = [&] {
    CHECK(static_cast<cudaError_t>(tsal::LaunchDenseWarpGpu(nullptr, d_image.data, d_flow.data, batch, height,
                                                             width, channels, d_out.data)));
  };
  auto backward = [&] {
    CHECK(static_cast<cudaError_t>(tsal::LaunchDenseWarpGradGpu(nullptr, d_image.data, d_flow.data, d_grad.data,
                                                                 batch, height, width, channels, d_gi.data,
                                                                 d_gf.data)));
  };
  forward();
  backward();
  CHECK(cudaDeviceSynchronize());
  char shape[64];
  std::snprintf(shape, sizeof(shape), "[%ld,%ld,%ld,%ld]", long(batch), long(height), long(width), long(channels));
  char name[128];
  std::snprintf(name, sizeof(name), "DenseWarp %s forward max |diff|", shape);
  bool ok = Expect(name, MaxAbsDiff(d_out.Download(), want_out), 1e-5);
  std::snprintf(name, sizeof(name), "DenseWarp %s grad image max rel diff", shape);
  ok = Expect(name, MaxRelDiff(d_gi.Download(), want_gi), 1e-4) && ok;
  std::snprintf(name, sizeof(name), "DenseWarp %s grad flow max rel diff", shape);
  ok = Expect(name, MaxRelDiff(d_gf.Download(), want_gf), 1e-4) && ok;
  if (time_it) {
    const double pixels = double(batch) * height * width;
    std::snprintf(name, sizeof(name), "DenseWarp forward %s", shape);
    Report(name, forward, 4.0 * (pixels * channels * 2 + pixels * 2));  // read image + flow, write out
    std::snprintf(name, sizeof(name), "DenseWarp backward %s", shape);
    Report(name, backward, 4.0 * (pixels * channels * 4 + pixels * 4));  // read image, grad, flow; write both
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  cudaDeviceProp properties;
  CHECK(cudaGetDeviceProperties(&properties, 0));
  std::printf("device: %s (sm_%d%d), %s\n", properties.name, properties.major, properties.minor,
              quick ? "quick parity run" : "parity + timing (median of 25 after warm-up)");
  std::mt19937 rng(1234);
  bool ok = true;
  if (quick) {
    ok = HeatmapCase(2, 9, 11, 70, false, &rng) && ok;
    ok = WarpCase(2, 13, 17, 3, false, &rng) && ok;
  } else {
    const int pairs = 8 * (3 - 1);  // 8 clips, K = 3
    ok = HeatmapCase(8, 64, 64, 68, true, &rng) && ok;
    ok = WarpCase(pairs, 128, 128, 3, true, &rng) && ok;
    ok = WarpCase(pairs, 256, 256, 3, true, &rng) && ok;
  }
  std::printf("%s\n", ok ? "ALL PARITY CHECKS PASSED" : "PARITY FAILURES");
  return ok ? 0 : 1;
}
