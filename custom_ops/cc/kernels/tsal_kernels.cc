// CPU and GPU OpKernels of the TSAL ops: validation, allocation, then the per-element functions of
// tsal_elements.h (CPU: sharded over the TF intra-op thread pool; GPU: tsal_gpu_launch.h).
#include <algorithm>
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

}  // namespace

// ------------------------------------------------------------------ HeatmapToCoords

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
  // CPU: one pass over memory per (b, channel block): pixels outer, contiguous channels inner.
  void Run(OpKernelContext* context, const float* heatmaps, int64_t batch, int64_t height, int64_t width,
           int64_t channels, float* coords, float* confidence);
};

template <>
void HeatmapToCoordsOp<CpuDevice>::Run(OpKernelContext* context, const float* heatmaps, int64_t batch,
                                       int64_t height, int64_t width, int64_t channels, float* coords,
                                       float* confidence) {
  constexpr int64_t kBlock = 32;
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
  const int64_t pixels = height * width;
  ParallelFor(context, batch * blocks, pixels * kBlock, [&](int64_t begin, int64_t end) {
    float best[kBlock];
    int64_t best_index[kBlock];
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t b = unit / blocks;
      const int64_t n0 = (unit - b * blocks) * kBlock;
      const int64_t count = std::min(kBlock, channels - n0);
      const float* map = heatmaps + b * pixels * channels;
      for (int64_t j = 0; j < count; ++j) {
        best[j] = map[n0 + j];
        best_index[j] = 0;
      }
      for (int64_t p = 1; p < pixels; ++p) {
        const float* row = map + p * channels + n0;
        for (int64_t j = 0; j < count; ++j) {
          const bool better = row[j] > best[j];
          best[j] = better ? row[j] : best[j];
          best_index[j] = better ? p : best_index[j];
        }
      }
      for (int64_t j = 0; j < count; ++j) {
        const int64_t i = b * channels + n0 + j;
        RefinePeak(map, height, width, channels, n0 + j, best_index[j], coords + 2 * i, confidence + i);
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
  const int64_t pixels = height * width;
  ParallelFor(context, batch * pixels, 12 * channels + 30, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / pixels;
      const int64_t p = i - b * pixels;
      const int64_t y = p / width;
      WarpPixel(image + b * pixels * channels, flow + 2 * i, y, p - y * width, height, width, channels,
                out + i * channels);
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
      for (int64_t p = 0; p < pixels; ++p) {
        const int64_t i = b * pixels + p;
        const int64_t y = p / width;
        WarpPixelGrad(image + b * pixels * channels, flow + 2 * i, grad + i * channels, y, p - y * width, height,
                      width, channels, grad_image_b, grad_flow + 2 * i, PlainAdd());
      }
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
