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

// HeatmapToCoords in two kernels, with no scratch memory: the coords output [B, N, 2] doubles as one 64-bit
// argmax key per (b, n),  key = ordered(value) << 32 | (0xFFFFFFFF - pixel)  (a larger key is a larger value,
// then an earlier pixel: the "first maximum" rule of tsal_elements.h). Kernel 1 (grid: pixel slices x batch;
// block: 32 channels x kPixelLanes pixels, so a warp reads 32 consecutive floats of one pixel) folds its slice
// into one key per channel and atomicMax-es it into the slot; kernel 2 (one thread per (b, n)) decodes the key
// and refines the peak with RefinePeak, overwriting the slot with the coordinates.
constexpr int kPixelLanes = 8;
constexpr int64_t kPixelsPerBlock = 64;

__device__ __forceinline__ unsigned long long ArgmaxKey(float value, int64_t pixel) {
  const unsigned int bits = __float_as_uint(value);
  unsigned int ordered = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);  // monotone in value
  if (value != value) ordered = 0;  // NaN never wins over a number (maps holding NaN: results unspecified)
  return (static_cast<unsigned long long>(ordered) << 32) | (0xFFFFFFFFu - static_cast<unsigned int>(pixel));
}

__global__ void HeatmapArgmaxKernel(const float* __restrict__ heatmaps, int64_t pixels, int64_t channels,
                                    unsigned long long* __restrict__ keys) {
  __shared__ unsigned long long lane_best[kPixelLanes][32];
  const int64_t b = blockIdx.y;
  const int64_t first = blockIdx.x * kPixelsPerBlock;
  const int64_t last = first + kPixelsPerBlock < pixels ? first + kPixelsPerBlock : pixels;
  const float* map = heatmaps + b * pixels * channels;
  for (int64_t group = 0; group < channels; group += 32) {
    const int64_t n = group + threadIdx.x;
    unsigned long long best = 0;  // below every real key
    if (n < channels) {
      for (int64_t p = first + threadIdx.y; p < last; p += kPixelLanes) {
        const unsigned long long key = ArgmaxKey(map[p * channels + n], p);
        best = key > best ? key : best;
      }
    }
    lane_best[threadIdx.y][threadIdx.x] = best;
    __syncthreads();
    if (threadIdx.y == 0 && n < channels) {
      for (int lane = 1; lane < kPixelLanes; ++lane) {
        best = lane_best[lane][threadIdx.x] > best ? lane_best[lane][threadIdx.x] : best;
      }
      atomicMax(keys + b * channels + n, best);
    }
    __syncthreads();
  }
}

__global__ void HeatmapRefineKernel(const float* __restrict__ heatmaps, int64_t batch, int64_t height,
                                    int64_t width, int64_t channels, float* __restrict__ coords,
                                    float* __restrict__ confidence) {
  const int64_t total = batch * channels;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = i / channels;
    const unsigned long long key = reinterpret_cast<const unsigned long long*>(coords)[i];
    const int64_t peak = 0xFFFFFFFFu - static_cast<unsigned int>(key & 0xFFFFFFFFull);
    RefinePeak(heatmaps + b * height * width * channels, height, width, channels, i - b * channels, peak,
               coords + 2 * i, confidence + i);
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
  const int64_t pixels = height * width;
  if (work == 0 || pixels == 0) return 0;
  if (pixels > 0xFFFFFFFFll || batch > 65535) return static_cast<int>(cudaErrorInvalidValue);
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  unsigned long long* keys = reinterpret_cast<unsigned long long*>(coords);  // 8 bytes per (b, n)
  cudaError_t status = cudaMemsetAsync(keys, 0, sizeof(unsigned long long) * work, s);
  if (status != cudaSuccess) return static_cast<int>(status);
  const dim3 slices((pixels + kPixelsPerBlock - 1) / kPixelsPerBlock, batch);
  HeatmapArgmaxKernel<<<slices, dim3(32, kPixelLanes), 0, s>>>(heatmaps, pixels, channels, keys);
  HeatmapRefineKernel<<<Blocks(work), kThreads, 0, s>>>(heatmaps, batch, height, width, channels, coords,
                                                         confidence);
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
