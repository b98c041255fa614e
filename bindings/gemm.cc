// Bindings for the matrix product (native/cpu/gemm.h) and the FMA peak probe
// (native/cpu/peak.h):
//   sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
//     C[M,N] = alpha * op(A) * op(B) + beta * C on row-major Float32Arrays, BLAS-style:
//     A is M x K (K x M when transA), B is K x N (N x K when transB), each row `ld` apart.
//   measurePeakGflops(threads, milliseconds) -> GFLOP/s (0 without AVX2/FMA)
// Every leading dimension must cover its row and every array the strided extent it spans, so
// no argument can make the kernel read or write out of bounds.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "../native/cpu/gemm.h"
#include "../native/cpu/peak.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

// A row-major matrix argument: its array, stored shape and leading dimension.
struct Matrix {
  ArrayView<float> view;
  int64_t rows = 0, cols = 0, ld = 0;
};

// Reads the array at `array_index` and the leading dimension at `ld_index` of a stored
// rows x cols matrix, and checks that both cover it.
Matrix matrix(const Napi::CallbackInfo& info, size_t array_index, size_t ld_index,
              const char* arg, const char* ld_arg, int64_t rows, int64_t cols) {
  Napi::Env env = info.Env();
  Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.view = float_array(info, array_index, "sgemm", arg);
  m.ld = integer(info, ld_index, "sgemm", ld_arg, 1);
  const int64_t row_length = std::max<int64_t>(cols, 1);
  if (m.ld < row_length) {
    throw_range_error(env, "sgemm", ld_arg,
                      ">= " + std::to_string(row_length) + " (the row length of " + arg + ")",
                      std::to_string(m.ld));
  }
  // The last row need only hold `cols` elements, as in BLAS.
  const int64_t needed = rows == 0 || cols == 0 ? 0 : (rows - 1) * m.ld + cols;
  if (static_cast<int64_t>(m.view.length) < needed) {
    throw_range_error(env, "sgemm", arg,
                      "at least " + std::to_string(needed) + " elements (" +
                          std::to_string(rows) + " x " + std::to_string(cols) +
                          " with leading dimension " + std::to_string(m.ld) + ")",
                      std::to_string(m.view.length) + " elements");
  }
  return m;
}

bool overlaps(const ArrayView<float>& a, const ArrayView<float>& b) {
  return a.length > 0 && b.length > 0 && a.data < b.data + b.length && b.data < a.data + a.length;
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool trans_a = boolean(info, 0, "sgemm", "transA");
  const bool trans_b = boolean(info, 1, "sgemm", "transB");
  const int64_t M = integer(info, 2, "sgemm", "M", 0);
  const int64_t N = integer(info, 3, "sgemm", "N", 0);
  const int64_t K = integer(info, 4, "sgemm", "K", 0);
  const float alpha = static_cast<float>(number(info, 5, "sgemm", "alpha"));
  const Matrix A = matrix(info, 6, 7, "A", "lda", trans_a ? K : M, trans_a ? M : K);
  const Matrix B = matrix(info, 8, 9, "B", "ldb", trans_b ? N : K, trans_b ? K : N);
  const float beta = static_cast<float>(number(info, 10, "sgemm", "beta"));
  const Matrix C = matrix(info, 11, 12, "C", "ldc", M, N);
  // The kernel reads A and B after it has begun writing C.
  if (overlaps(C.view, A.view) || overlaps(C.view, B.view)) {
    throw_range_error(env, "sgemm", "C", "an array sharing no memory with A or B",
                      "an array overlapping " + std::string(overlaps(C.view, A.view) ? "A" : "B"));
  }
  hn::cpu::sgemm(trans_a, trans_b, M, N, K, alpha, A.view.data, A.ld, B.view.data, B.ld, beta,
                 C.view.data, C.ld);
  return env.Undefined();
}

Napi::Value MeasurePeakGflops(const Napi::CallbackInfo& info) {
  const int64_t threads = integer(info, 0, "measurePeakGflops", "threads", 1, 1024);
  const int64_t milliseconds = integer(info, 1, "measurePeakGflops", "milliseconds", 1, 60000);
  return Napi::Number::New(info.Env(),
                           hn::cpu::measure_peak_gflops(static_cast<int>(threads),
                                                        static_cast<double>(milliseconds)));
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<Sgemm>(env, exports, "sgemm");
  export_function<MeasurePeakGflops>(env, exports, "measurePeakGflops");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
