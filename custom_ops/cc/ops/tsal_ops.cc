// Interfaces and shape functions of the TSAL ops (namespace "Tsal>").
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace tsal {

using ::tensorflow::Status;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("Tsal>HeatmapToCoords")
    .Input("heatmaps: float")
    .Output("coords: float")
    .Output("confidence: float")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle heatmaps;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &heatmaps));  // [B, H, W, N]
      DimensionHandle batch = c->Dim(heatmaps, 0);
      DimensionHandle points = c->Dim(heatmaps, 3);
      c->set_output(0, c->MakeShape({batch, points, 2}));
      c->set_output(1, c->MakeShape({batch, points}));
      return Status();
    })
    .Doc(R"doc(
Landmark coordinates from heatmaps: per channel, the integer argmax refined by a parabolic fit on each axis.
heatmaps: [B, H, W, N].
coords: [B, N, 2] as (x, y), 0-based pixel centres.
confidence: [B, N], the peak value.
)doc");

Status WarpShape(InferenceContext* c) {
  ShapeHandle image, flow, merged;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &image));  // [B, H, W, C]
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &flow));   // [B, H, W, 2]
  TF_RETURN_IF_ERROR(c->Merge(c->Vector(c->Dim(image, 0)), c->Vector(c->Dim(flow, 0)), &merged));
  DimensionHandle two;
  TF_RETURN_IF_ERROR(c->WithValue(c->Dim(flow, 3), 2, &two));
  ShapeHandle spatial_image = c->Matrix(c->Dim(image, 1), c->Dim(image, 2));
  ShapeHandle spatial_flow = c->Matrix(c->Dim(flow, 1), c->Dim(flow, 2));
  TF_RETURN_IF_ERROR(c->Merge(spatial_image, spatial_flow, &merged));
  c->set_output(0, image);
  return Status();
}

REGISTER_OP("Tsal>DenseWarp")
    .Input("image: float")
    .Input("flow: float")
    .Output("warped: float")
    .SetShapeFn(WarpShape)
    .Doc(R"doc(
Backward bilinear warp: warped[b,y,x] = image[b] sampled at (x + flow[b,y,x,0], y + flow[b,y,x,1]), the
sampling point clamped to the image ("clamp" border).
)doc");

REGISTER_OP("Tsal>DenseWarpGrad")
    .Input("image: float")
    .Input("flow: float")
    .Input("grad_warped: float")
    .Output("grad_image: float")
    .Output("grad_flow: float")
    .SetShapeFn([](InferenceContext* c) {
      TF_RETURN_IF_ERROR(WarpShape(c));
      ShapeHandle grad;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), c->input(2), &grad));
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      return Status();
    })
    .Doc("Gradients of Tsal>DenseWarp with respect to the image and the flow.");

}  // namespace tsal
