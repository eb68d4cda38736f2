"""Repository rule exposing the pip-installed TensorFlow (and nvcc, when present) to Bazel, offline.

It runs custom_ops/bazel/find_toolchain.py with $TSAL_PYTHON (default: the project's .venv, else python3),
symlinks TensorFlow's
include/ and libtensorflow_framework.so.2 into the repository and writes settings.bzl with the compile
flags and the CUDA paths (HAS_NVCC False when no nvcc is found).
"""

def _tf_configure_impl(ctx):
    venv_python = ctx.path(Label("//:WORKSPACE")).dirname.get_child(".venv").get_child("bin").get_child("python")
    python = ctx.os.environ.get("TSAL_PYTHON") or (str(venv_python) if venv_python.exists else "python3")
    script = ctx.path(Label("//custom_ops/bazel:find_toolchain.py"))
    result = ctx.execute([python, str(script)], quiet = True, timeout = 600)
    if result.return_code != 0:
        fail("could not query TensorFlow with %s: %s" % (python, result.stderr))
    settings = json.decode(result.stdout)
    ctx.symlink(settings["tf_include"], "include")
    ctx.symlink(settings["tf_lib"], "libtensorflow_framework.so.2")
    has_nvcc = settings["nvcc"] != "" and settings["cudart_static"] != ""
    if has_nvcc:
        ctx.symlink(settings["cudart_static"], "libcudart_static.a")
    ctx.file("BUILD", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "tf_headers",
    hdrs = glob(["include/**/*.h", "include/**/*.inc", "include/**/*.hpp",
                 "include/unsupported/Eigen/**", "include/Eigen/**"], allow_empty = True),
    includes = ["include", "include/third_party/gpus/cuda/include"],
)

cc_library(
    name = "tf_framework",
    srcs = ["libtensorflow_framework.so.2"],
)

cc_library(
    name = "cudart_static",
    srcs = {cudart},
    linkopts = ["-ldl", "-lrt", "-lpthread"],
)
""".format(cudart = '["libcudart_static.a"]' if has_nvcc else "[]"))
    ctx.file("settings.bzl", """
TF_CFLAGS = {cflags}
HAS_NVCC = {has_nvcc}
NVCC = "{nvcc}"
""".format(cflags = settings["tf_cflags"], has_nvcc = has_nvcc, nvcc = settings["nvcc"]))

tf_configure = repository_rule(
    implementation = _tf_configure_impl,
    environ = ["TSAL_PYTHON", "TSAL_NVCC", "PATH"],
    local = True,
)
