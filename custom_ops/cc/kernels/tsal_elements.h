// Per-element functions of the TSAL ops, shared by the CPU kernels, the CUDA kernels and the standalone
// GPU harness. No TensorFlow here: plain C++ that nvcc and g++ both compile.
//
// Layouts are NHWC, float32, row-major. Coordinates are 0-based pixel centres, (x, y) = (column, row).
//
// HeatmapToCoords, per (b, n): integer argmax over the H x W map (first maximum in row-major order), then a
// per-axis parabolic refinement  d = 0.5 * (h[+1] - h[-1]) / (2 h[0] - h[-1] - h[+1])  applied only when the
// peak is interior on that axis and the denominator is positive, clipped to [-0.5, 0.5].
//
// DenseWarp: out[b, y, x, c] = bilinear sample of image[b] at (x + flow[b,y,x,0], y + flow[b,y,x,1]), the
// sampling point clamped to [0, W-1] x [0, H-1] ("clamp" border: edge pixels repeat; the flow gradient is zero
// along an axis where the point was clamped).
#ifndef TSAL_CUSTOM_OPS_KERNELS_TSAL_ELEMENTS_H_
#define TSAL_CUSTOM_OPS_KERNELS_TSAL_ELEMENTS_H_

#include <cstdint>

#if defined(__CUDACC__)
#define TSAL_HD __host__ __device__ __forceinline__
#else
#define TSAL_HD inline
#endif

namespace tsal {

// ---------------------------------------------------------------- HeatmapToCoords

// Parabolic sub-pixel shift from the peak value and its two neighbours.
TSAL_HD float ParabolicShift(float left, float centre, float right, bool interior) {
  const float denominator = 2.0f * centre - left - right;
  if (!interior || !(denominator > 0.0f)) return 0.0f;
  float shift = 0.5f * (right - left) / denominator;
  shift = shift < -0.5f ? -0.5f : shift;
  return shift > 0.5f ? 0.5f : shift;
}

// Refine the integer peak `index` (= y * width + x) of channel n of the map starting at `map` (element
// (y, x, n) at map[(y * width + x) * channels + n]) and write coords[0..1] and the confidence.
TSAL_HD void RefinePeak(const float* map, int64_t height, int64_t width, int64_t channels, int64_t n,
                        int64_t index, float* coords, float* confidence) {
  const int64_t y = index / width;
  const int64_t x = index - y * width;
  const float centre = map[index * channels + n];
  const bool interior_x = x > 0 && x < width - 1;
  const bool interior_y = y > 0 && y < height - 1;
  const float left = interior_x ? map[(index - 1) * channels + n] : centre;
  const float right = interior_x ? map[(index + 1) * channels + n] : centre;
  const float up = interior_y ? map[(index - width) * channels + n] : centre;
  const float down = interior_y ? map[(index + width) * channels + n] : centre;
  coords[0] = static_cast<float>(x) + ParabolicShift(left, centre, right, interior_x);
  coords[1] = static_cast<float>(y) + ParabolicShift(up, centre, down, interior_y);
  *confidence = centre;
}

// Argmax of one (b, n) map read with stride `channels`: the rule written out once, as the host oracle of the GPU
// harness (the CPU kernel scans all channels of a pixel at a time, the GPU kernel folds pixel slices).
TSAL_HD int64_t ChannelArgmax(const float* map, int64_t pixels, int64_t channels, int64_t n) {
  int64_t best_index = 0;
  float best = map[n];
  for (int64_t p = 1; p < pixels; ++p) {
    const float v = map[p * channels + n];
    if (v > best) {
      best = v;
      best_index = p;
    }
  }
  return best_index;
}

// ---------------------------------------------------------------- DenseWarp

struct BilinearTap {
  int64_t i00, i01, i10, i11;   // element offsets (pixel index * channels) of the four neighbours
  float w00, w01, w10, w11;     // their weights
  float fx, fy;                 // fractional parts
  bool clamped_x, clamped_y;    // the sampling point was outside on that axis
  int64_t x0, y0, x1, y1;
};

TSAL_HD BilinearTap MakeTap(float sx, float sy, int64_t height, int64_t width, int64_t channels) {
  BilinearTap t;
  const float max_x = static_cast<float>(width - 1);
  const float max_y = static_cast<float>(height - 1);
  t.clamped_x = !(sx >= 0.0f && sx <= max_x);
  t.clamped_y = !(sy >= 0.0f && sy <= max_y);
  sx = sx < 0.0f ? 0.0f : (sx > max_x ? max_x : sx);
  sy = sy < 0.0f ? 0.0f : (sy > max_y ? max_y : sy);
  if (sx != sx) sx = 0.0f;  // NaN flow samples the corner instead of reading out of bounds
  if (sy != sy) sy = 0.0f;
  t.x0 = static_cast<int64_t>(sx);
  t.y0 = static_cast<int64_t>(sy);
  t.x1 = t.x0 + 1 < width ? t.x0 + 1 : width - 1;
  t.y1 = t.y0 + 1 < height ? t.y0 + 1 : height - 1;
  t.fx = sx - static_cast<float>(t.x0);
  t.fy = sy - static_cast<float>(t.y0);
  t.w00 = (1.0f - t.fy) * (1.0f - t.fx);
  t.w01 = (1.0f - t.fy) * t.fx;
  t.w10 = t.fy * (1.0f - t.fx);
  t.w11 = t.fy * t.fx;
  t.i00 = (t.y0 * width + t.x0) * channels;
  t.i01 = (t.y0 * width + t.x1) * channels;
  t.i10 = (t.y1 * width + t.x0) * channels;
  t.i11 = (t.y1 * width + t.x1) * channels;
  return t;
}

// Forward warp of one output pixel (all channels). `image` points at batch b, `flow_px` at flow[b, y, x].
TSAL_HD void WarpPixel(const float* image, const float* flow_px, int64_t y, int64_t x, int64_t height,
                       int64_t width, int64_t channels, float* out_px) {
  const BilinearTap t = MakeTap(static_cast<float>(x) + flow_px[0], static_cast<float>(y) + flow_px[1],
                                height, width, channels);
  for (int64_t c = 0; c < channels; ++c) {
    out_px[c] = t.w00 * image[t.i00 + c] + t.w01 * image[t.i01 + c] + t.w10 * image[t.i10 + c] +
                t.w11 * image[t.i11 + c];
  }
}

// Backward of one output pixel: flow gradient written to grad_flow_px[0..1]; image gradient scattered
// into grad_image (batch b) through `add(pointer, value)` (plain += on the CPU, atomicAdd on the GPU).
template <typename Add>
TSAL_HD void WarpPixelGrad(const float* image, const float* flow_px, const float* grad_out_px, int64_t y,
                           int64_t x, int64_t height, int64_t width, int64_t channels, float* grad_image,
                           float* grad_flow_px, Add add) {
  const BilinearTap t = MakeTap(static_cast<float>(x) + flow_px[0], static_cast<float>(y) + flow_px[1],
                                height, width, channels);
  float gx = 0.0f, gy = 0.0f;
  for (int64_t c = 0; c < channels; ++c) {
    const float g = grad_out_px[c];
    const float v00 = image[t.i00 + c], v01 = image[t.i01 + c];
    const float v10 = image[t.i10 + c], v11 = image[t.i11 + c];
    gx += g * ((1.0f - t.fy) * (v01 - v00) + t.fy * (v11 - v10));
    gy += g * ((1.0f - t.fx) * (v10 - v00) + t.fx * (v11 - v01));
    add(grad_image + t.i00 + c, g * t.w00);
    add(grad_image + t.i01 + c, g * t.w01);
    add(grad_image + t.i10 + c, g * t.w10);
    add(grad_image + t.i11 + c, g * t.w11);
  }
  grad_flow_px[0] = t.clamped_x ? 0.0f : gx;
  grad_flow_px[1] = t.clamped_y ? 0.0f : gy;
}

}  // namespace tsal

#endif  // TSAL_CUSTOM_OPS_KERNELS_TSAL_ELEMENTS_H_
