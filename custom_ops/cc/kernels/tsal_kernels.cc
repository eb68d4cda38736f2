// CPU and GPU OpKernels of the TSAL ops: validation, allocation, then the per-element functions of
// tsal_elements.h (CPU: sharded over the TF intra-op thread pool; GPU: tsal_gpu_launch.h).
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/platform/threadpool.h"
#include "tsal_elements.h"
#if GOOGLE_CUDA
#define EIGEN_USE_GPU
#include "tensorflow/core/framework/register_types.h"
#include "tsal_gpu_launch.h"
#include "unsupported/Eigen/CXX11/Tensor"
#endif

namespace tsal {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
namespace errors = ::tensorflow::errors;

struct CpuDevice {};
struct GpuDevice {};

namespace {

void ParallelFor(OpKernelContext* context, int64_t units, int64_t cost_per_unit,
                 const std::function<void(int64_t, int64_t)>& work) {
  context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(units, cost_per_unit, work);
}

::tensorflow::Status ValidateWarpInputs(const Tensor& image, const Tensor& flow) {
  if (image.dims() != 4) {
    return errors::InvalidArgument("Tsal>DenseWarp: image must be rank 4 [B, H, W, C], got shape ",
                                   image.shape().DebugString());
  }
  if (flow.dims() != 4 || flow.dim_size(3) != 2) {
    return errors::InvalidArgument("Tsal>DenseWarp: flow must be [B, H, W, 2], got shape ",
                                   flow.shape().DebugString());
  }
  if (image.dim_size(0) != flow.dim_size(0) || image.dim_size(1) != flow.dim_size(1) ||
      image.dim_size(2) != flow.dim_size(2)) {
    return errors::InvalidArgument("Tsal>DenseWarp: image ", image.shape().DebugString(), " and flow ",
                                   flow.shape().DebugString(), " disagree in batch or spatial size");
  }
  return ::tensorflow::Status();
}

// Calls body(c) where c() returns the channel count: a compile-time constant for 1, 2, 3 and 4 channels
// (so the per-element channel loop is unrolled), the run-time value otherwise.
template <int64_t kChannels>
struct FixedChannels {
  constexpr int64_t operator()() const { return kChannels; }
};
struct AnyChannels {
  int64_t channels;
  int64_t operator()() const { return channels; }
};
template <typename Body>
void WithChannels(int64_t channels, Body&& body) {
  switch (channels) {
    case 1: return body(FixedChannels<1>());
    case 2: return body(FixedChannels<2>());
    case 3: return body(FixedChannels<3>());
    case 4: return body(FixedChannels<4>());
    default: return body(AnyChannels{channels});
  }
}

}  // namespace

// ------------------------------------------------------------------ HeatmapToCoords

// Running maximum and its pixel index (carried as a float: exact below 2^24 pixels) of channels
// [n0, n0 + 8 * kVectors) over pixels [p_begin, p_end) of one [P, N] block, held in 8-float vector registers
// (GCC vector extensions: AVX in the avx2/avx512f clones, pairs of SSE registers in the default one). The
// first maximum wins (strict >). Cloned per instruction set with run-time dispatch.
typedef float Float8 __attribute__((vector_size(32)));

template <int kVectors>
__attribute__((target_clones("avx512f", "avx2", "default")))
void ScanVectors(const float* __restrict__ map, int64_t p_begin, int64_t p_end, int64_t channels, int64_t n0,
                 float* __restrict__ best_io, float* __restrict__ index_io) {
  Float8 best[kVectors], best_index[kVectors];
  std::memcpy(best, best_io, sizeof(best));
  std::memcpy(best_index, index_io, sizeof(best_index));
  const float* __restrict__ row = map + p_begin * channels + n0;
  for (int64_t p = p_begin; p < p_end; ++p, row += channels) {
    const Float8 index = Float8{} + static_cast<float>(p);
    for (int j = 0; j < kVectors; ++j) {
      Float8 value;
      std::memcpy(&value, row + 8 * j, sizeof(value));  // unaligned vector load
      const auto better = value > best[j];
      best[j] = better ? value : best[j];
      best_index[j] = better ? index : best_index[j];
    }
  }
  std::memcpy(best_io, best, sizeof(best));
  std::memcpy(index_io, best_index, sizeof(best_index));
}

// The same for the last channels (fewer than 8), one at a time.
void ScanScalar(const float* map, int64_t p_begin, int64_t p_end, int64_t channels, int64_t n, float* best_io,
                float* index_io) {
  float best = *best_io, best_index = *index_io;
  for (int64_t p = p_begin; p < p_end; ++p) {
    const float value = map[p * channels + n];
    if (value > best) {
      best = value;
      best_index = static_cast<float>(p);
    }
  }
  *best_io = best;
  *index_io = best_index;
}

// Peak pixel index of every channel of one [P, N] block in a single pass over memory: tiles of pixels
// small enough for L1 are visited once, and within a tile chunks of 32 and 8 channels, then single channels,
// are scanned.
void ChannelPeaks(const float* map, int64_t pixels, int64_t channels, float* best, float* best_index) {
  const int64_t tile = std::max<int64_t>(1, 16384 / (channels * static_cast<int64_t>(sizeof(float))));
  std::copy_n(map, channels, best);
  std::fill_n(best_index, channels, 0.0f);
  for (int64_t p0 = 1; p0 < pixels; p0 += tile) {
    const int64_t p1 = std::min(pixels, p0 + tile);
    int64_t n = 0;
    for (; n + 32 <= channels; n += 32) ScanVectors<4>(map, p0, p1, channels, n, best + n, best_index + n);
    for (; n + 8 <= channels; n += 8) ScanVectors<1>(map, p0, p1, channels, n, best + n, best_index + n);
    for (; n < channels; ++n) ScanScalar(map, p0, p1, channels, n, best + n, best_index + n);
  }
}

template <typename Device>
class HeatmapToCoordsOp : public OpKernel {
 public:
  explicit HeatmapToCoordsOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& heatmaps = context->input(0);
    OP_REQUIRES(context, heatmaps.dims() == 4,
                errors::InvalidArgument("Tsal>HeatmapToCoords: heatmaps must be rank 4 [B, H, W, N], got shape ",
                                        heatmaps.shape().DebugString()));
    const int64_t batch = heatmaps.dim_size(0), height = heatmaps.dim_size(1);
    const int64_t width = heatmaps.dim_size(2), channels = heatmaps.dim_size(3);
    OP_REQUIRES(context, batch == 0 || channels == 0 || (height > 0 && width > 0),
                errors::InvalidArgument("Tsal>HeatmapToCoords: heatmaps have no pixels, shape ",
                                        heatmaps.shape().DebugString()));
    Tensor* coords = nullptr;
    Tensor* confidence = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, TensorShape({batch, channels, 2}), &coords));
    OP_REQUIRES_OK(context, context->allocate_output(1, TensorShape({batch, channels}), &confidence));
    if (batch == 0 || channels == 0) return;
    Run(context, heatmaps.flat<float>().data(), batch, height, width, channels, coords->flat<float>().data(),
        confidence->flat<float>().data());
  }

 private:
  void Run(OpKernelContext* context, const float* heatmaps, int64_t batch, int64_t height, int64_t width,
           int64_t channels, float* coords, float* confidence);
};

template <>
void HeatmapToCoordsOp<CpuDevice>::Run(OpKernelContext* context, const float* heatmaps, int64_t batch,
                                       int64_t height, int64_t width, int64_t channels, float* coords,
                                       float* confidence) {
  // One unit per image, one pass over its memory (see ChannelPeaks; the pixel index is carried as a float,
  // exact below 2^24 pixels), then the shared per-element refinement.
  const int64_t pixels = height * width;
  ParallelFor(context, batch, pixels * channels * 2, [&](int64_t begin, int64_t end) {
    std::vector<float> best(channels), best_index(channels);
    for (int64_t b = begin; b < end; ++b) {
      const float* map = heatmaps + b * pixels * channels;
      ChannelPeaks(map, pixels, channels, best.data(), best_index.data());
      for (int64_t n = 0; n < channels; ++n) {
        const int64_t i = b * channels + n;
        RefinePeak(map, height, width, channels, n, static_cast<int64_t>(best_index[n]), coords + 2 * i,
                   confidence + i);
      }
    }
  });
}

// ------------------------------------------------------------------ DenseWarp

template <typename Device>
class DenseWarpOp : public OpKernel {
 public:
  explicit DenseWarpOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& image = context->input(0);
    const Tensor& flow = context->input(1);
    OP_REQUIRES_OK(context, ValidateWarpInputs(image, flow));
    Tensor* out = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, image.shape(), &out));
    if (image.NumElements() == 0) return;
    Run(context, image.flat<float>().data(), flow.flat<float>().data(), image.dim_size(0), image.dim_size(1),
        image.dim_size(2), image.dim_size(3), out->flat<float>().data());
  }

 private:
  void Run(OpKernelContext* context, const float* image, const float* flow, int64_t batch, int64_t height,
           int64_t width, int64_t channels, float* out);
};

template <>
void DenseWarpOp<CpuDevice>::Run(OpKernelContext* context, const float* image, const float* flow, int64_t batch,
                                 int64_t height, int64_t width, int64_t channels, float* out) {
  // Units are image rows (b, y): no integer division in the per-pixel loop.
  const int64_t pixels = height * width;
  ParallelFor(context, batch * height, width * (12 * channels + 30), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / height;
      const int64_t y = row - b * height;
      const float* image_b = image + b * pixels * channels;
      WithChannels(channels, [&](auto c) {  // compile-time channel count for the common sizes
        for (int64_t x = 0; x < width; ++x) {
          const int64_t i = row * width + x;
          WarpPixel(image_b, flow + 2 * i, y, x, height, width, c(), out + i * c());
        }
      });
    }
  });
}

template <typename Device>
class DenseWarpGradOp : public OpKernel {
 public:
  explicit DenseWarpGradOp(OpKernelConstruction* context) : OpKernel(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& image = context->input(0);
    const Tensor& flow = context->input(1);
    const Tensor& grad = context->input(2);
    OP_REQUIRES_OK(context, ValidateWarpInputs(image, flow));
    OP_REQUIRES(context, grad.shape() == image.shape(),
                errors::InvalidArgument("Tsal>DenseWarpGrad: gradient shape ", grad.shape().DebugString(),
                                        " != image shape ", image.shape().DebugString()));
    Tensor* grad_image = nullptr;
    Tensor* grad_flow = nullptr;
    OP_REQUIRES_OK(context, context->allocate_output(0, image.shape(), &grad_image));
    OP_REQUIRES_OK(context, context->allocate_output(1, flow.shape(), &grad_flow));
    if (image.NumElements() == 0) {
      if (flow.NumElements()) std::fill_n(grad_flow->flat<float>().data(), flow.NumElements(), 0.0f);
      return;
    }
    Run(context, image.flat<float>().data(), flow.flat<float>().data(), grad.flat<float>().data(),
        image.dim_size(0), image.dim_size(1), image.dim_size(2), image.dim_size(3),
        grad_image->flat<float>().data(), grad_flow->flat<float>().data());
  }

 private:
  void Run(OpKernelContext* context, const float* image, const float* flow, const float* grad, int64_t batch,
           int64_t height, int64_t width, int64_t channels, float* grad_image, float* grad_flow);
};

struct PlainAdd {
  void operator()(float* address, float value) const { *address += value; }
};

template <>
void DenseWarpGradOp<CpuDevice>::Run(OpKernelContext* context, const float* image, const float* flow,
                                     const float* grad, int64_t batch, int64_t height, int64_t width,
                                     int64_t channels, float* grad_image, float* grad_flow) {
  // The image gradient is scattered, so work is sharded by image: no two threads touch the same image.
  const int64_t pixels = height * width;
  ParallelFor(context, batch, pixels * (24 * channels + 40), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      float* grad_image_b = grad_image + b * pixels * channels;
      std::fill_n(grad_image_b, pixels * channels, 0.0f);
      WithChannels(channels, [&](auto c) {
        for (int64_t y = 0; y < height; ++y) {
          for (int64_t x = 0; x < width; ++x) {
            const int64_t i = (b * height + y) * width + x;
            WarpPixelGrad(image + b * pixels * c(), flow + 2 * i, grad + i * c(), y, x, height, width, c(),
                          grad_image_b, grad_flow + 2 * i, PlainAdd());
          }
        }
      });
    }
  });
}

REGISTER_KERNEL_BUILDER(Name("Tsal>HeatmapToCoords").Device(DEVICE_CPU), HeatmapToCoordsOp<CpuDevice>);
REGISTER_KERNEL_BUILDER(Name("Tsal>DenseWarp").Device(DEVICE_CPU), DenseWarpOp<CpuDevice>);
REGISTER_KERNEL_BUILDER(Name("Tsal>DenseWarpGrad").Device(DEVICE_CPU), DenseWarpGradOp<CpuDevice>);

#if GOOGLE_CUDA
namespace {
void* StreamOf(OpKernelContext* context) {
  return static_cast<void*>(context->eigen_device<Eigen::GpuDevice>().stream());
}
void CheckLaunch(OpKernelContext* context, int status, const char* op) {
  OP_REQUIRES(context, status == 0, errors::Internal(op, ": CUDA launch failed with error ", status));
}
}  // namespace

template <>
void HeatmapToCoordsOp<GpuDevice>::Run(OpKernelContext* context, const float* heatmaps, int64_t batch,
                                       int64_t height, int64_t width, int64_t channels, float* coords,
                                       float* confidence) {
  CheckLaunch(context, LaunchHeatmapToCoordsGpu(StreamOf(context), heatmaps, batch, height, width, channels,
                                                coords, confidence), "Tsal>HeatmapToCoords");
}

template <>
void DenseWarpOp<GpuDevice>::Run(OpKernelContext* context, const float* image, const float* flow, int64_t batch,
                                 int64_t height, int64_t width, int64_t channels, float* out) {
  CheckLaunch(context, LaunchDenseWarpGpu(StreamOf(context), image, flow, batch, height, width, channels, out),
              "Tsal>DenseWarp");
}

template <>
void DenseWarpGradOp<GpuDevice>::Run(OpKernelContext* context, const float* image, const float* flow,
                                     const float* grad, int64_t batch, int64_t height, int64_t width,
                                     int64_t channels, float* grad_image, float* grad_flow) {
  CheckLaunch(context, LaunchDenseWarpGradGpu(StreamOf(context), image, flow, grad, batch, height, width,
                                              channels, grad_image, grad_flow), "Tsal>DenseWarpGrad");
}

REGISTER_KERNEL_BUILDER(Name("Tsal>HeatmapToCoords").Device(::tensorflow::DEVICE_GPU),
                        HeatmapToCoordsOp<GpuDevice>);
REGISTER_KERNEL_BUILDER(Name("Tsal>DenseWarp").Device(::tensorflow::DEVICE_GPU), DenseWarpOp<GpuDevice>);
REGISTER_KERNEL_BUILDER(Name("Tsal>DenseWarpGrad").Device(::tensorflow::DEVICE_GPU), DenseWarpGradOp<GpuDevice>);
#endif  // GOOGLE_CUDA

}  // namespace tsal
