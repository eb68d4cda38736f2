// Launchers of the TSAL CUDA kernels. Plain C++ declarations (no CUDA or TensorFlow headers), so the TF op
// kernels and the standalone harness (custom_ops/gpu_harness) call the very same launch code.
// `stream` is a cudaStream_t passed as void*. Pointers are device pointers; shapes as in tsal_elements.h.
#ifndef TSAL_CUSTOM_OPS_KERNELS_TSAL_GPU_LAUNCH_H_
#define TSAL_CUSTOM_OPS_KERNELS_TSAL_GPU_LAUNCH_H_

#include <cstdint>

namespace tsal {

// heatmaps [B, H, W, N] -> coords [B, N, 2], confidence [B, N]. Returns a cudaError_t as int.
int LaunchHeatmapToCoordsGpu(void* stream, const float* heatmaps, int64_t batch, int64_t height, int64_t width,
                             int64_t channels, float* coords, float* confidence);

// image [B, H, W, C], flow [B, H, W, 2] -> out [B, H, W, C].
int LaunchDenseWarpGpu(void* stream, const float* image, const float* flow, int64_t batch, int64_t height,
                       int64_t width, int64_t channels, float* out);

// Gradients of DenseWarp: grad_image [B, H, W, C] (zeroed here, then accumulated with atomics) and
// grad_flow [B, H, W, 2].
int LaunchDenseWarpGradGpu(void* stream, const float* image, const float* flow, const float* grad_out,
                           int64_t batch, int64_t height, int64_t width, int64_t channels, float* grad_image,
                           float* grad_flow);

}  // namespace tsal

#endif  // TSAL_CUSTOM_OPS_KERNELS_TSAL_GPU_LAUNCH_H_
