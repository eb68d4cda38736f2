// CUDA kernels of the TSAL ops: thin grid-stride loops around the per-element functions of tsal_elements.h.
#include <cuda_runtime.h>

#include "tsal_elements.h"
#include "tsal_gpu_launch.h"

namespace tsal {
namespace {

constexpr int kThreads = 256;

int Blocks(int64_t work) {
  int64_t blocks = (work + kThreads - 1) / kThreads;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  return static_cast<int>(blocks > 0 ? blocks : 1);
}

// One thread per (b, n): threads of a warp read consecutive channels of the same pixel (coalesced).
__global__ void HeatmapToCoordsKernel(const float* __restrict__ heatmaps, int64_t batch, int64_t height,
                                      int64_t width, int64_t channels, float* __restrict__ coords,
                                      float* __restrict__ confidence) {
  const int64_t total = batch * channels;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = i / channels;
    const int64_t n = i - b * channels;
    const float* map = heatmaps + b * height * width * channels;
    const int64_t peak = ChannelArgmax(map, height * width, channels, n);
    RefinePeak(map, height, width, channels, n, peak, coords + 2 * i, confidence + i);
  }
}

__global__ void DenseWarpKernel(const float* __restrict__ image, const float* __restrict__ flow, int64_t batch,
                                int64_t height, int64_t width, int64_t channels, float* __restrict__ out) {
  const int64_t pixels = batch * height * width;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < pixels;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = i / (height * width);
    const int64_t p = i - b * height * width;
    const int64_t y = p / width;
    WarpPixel(image + b * height * width * channels, flow + 2 * i, y, p - y * width, height, width, channels,
              out + i * channels);
  }
}

struct AtomicAdd {
  __device__ void operator()(float* address, float value) const { atomicAdd(address, value); }
};

__global__ void DenseWarpGradKernel(const float* __restrict__ image, const float* __restrict__ flow,
                                    const float* __restrict__ grad_out, int64_t batch, int64_t height,
                                    int64_t width, int64_t channels, float* grad_image,
                                    float* __restrict__ grad_flow) {
  const int64_t pixels = batch * height * width;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < pixels;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = i / (height * width);
    const int64_t p = i - b * height * width;
    const int64_t y = p / width;
    const int64_t offset = b * height * width * channels;
    WarpPixelGrad(image + offset, flow + 2 * i, grad_out + i * channels, y, p - y * width, height, width,
                  channels, grad_image + offset, grad_flow + 2 * i, AtomicAdd());
  }
}

}  // namespace

int LaunchHeatmapToCoordsGpu(void* stream, const float* heatmaps, int64_t batch, int64_t height, int64_t width,
                             int64_t channels, float* coords, float* confidence) {
  const int64_t work = batch * channels;
  if (work == 0) return 0;
  HeatmapToCoordsKernel<<<Blocks(work), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      heatmaps, batch, height, width, channels, coords, confidence);
  return static_cast<int>(cudaGetLastError());
}

int LaunchDenseWarpGpu(void* stream, const float* image, const float* flow, int64_t batch, int64_t height,
                       int64_t width, int64_t channels, float* out) {
  const int64_t work = batch * height * width;
  if (work == 0) return 0;
  DenseWarpKernel<<<Blocks(work), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      image, flow, batch, height, width, channels, out);
  return static_cast<int>(cudaGetLastError());
}

int LaunchDenseWarpGradGpu(void* stream, const float* image, const float* flow, const float* grad_out,
                           int64_t batch, int64_t height, int64_t width, int64_t channels, float* grad_image,
                           float* grad_flow) {
  const int64_t work = batch * height * width;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t status = cudaMemsetAsync(grad_image, 0, sizeof(float) * work * channels, s);
  if (status != cudaSuccess || work == 0) return static_cast<int>(status);
  DenseWarpGradKernel<<<Blocks(work), kThreads, 0, s>>>(image, flow, grad_out, batch, height, width, channels,
                                                        grad_image, grad_flow);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace tsal
