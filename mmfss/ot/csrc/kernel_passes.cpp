// Fused CPU passes of the kernel-domain Sinkhorn (mmfss.ot.kernel_sinkhorn).
//
// Each function goes over a Gibbs kernel K [B, N, M] (contiguous, float32 or float64) row
// by row and does everything one iteration (or one backward step) needs from a row while
// it is in L1: the row's product with a vector, the scaling that product gives, and the
// row's contribution to a product with K^T. One iteration therefore reads K from memory
// once, at close to the copy bandwidth. The passes: K = exp(scale C) with its column sums
// (a vectorised exponential, see exp_vec), the forward iteration, the last forward
// iteration that writes the plan, and the backward's first, middle and final passes. The
// same passes written with torch ops (row blocks, two matrix-vector products per block)
// are the reference implementation in mmfss/ot/kernel_passes.py; tests check that both
// agree.
//
// Reproducibility. Every result is a fixed sequence of floating-point operations for a
// given instruction set and shape:
// * the rows of each batch element are cut into at most kChunksPerBatch chunks whose size
//   depends on N only; each chunk accumulates its K^T products in its own [M] buffer and
//   the buffers are summed in chunk order. ATen's threads (at::parallel_for) take whole
//   chunks, so the result does not depend on the number of threads or on scheduling;
// * reductions along a row keep a fixed number of partial sums (indexed by the column,
//   not by the address), so alignment does not change them;
// * on x86-64 with GCC the passes are compiled three times, for x86-64-v4 (AVX-512),
//   x86-64-v3 (AVX2 + FMA) and the baseline (SSE2), and the caller chooses one at run time
//   (the `isa` argument; mmfss.ot.kernel_passes picks the best the CPU runs unless told
//   otherwise). The three differ only in rounding: v3 and v4 contract a * b + c into one
//   FMA, the baseline does not. Elsewhere only the baseline is compiled.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MMFSS_NO_CLONES)
#define MMFSS_X86_CLONES 1
#define MMFSS_TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define MMFSS_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#endif
#define MMFSS_INLINE inline __attribute__((always_inline))

namespace {

// sum_j x[j] y[j] with independent partial sums (several vector registers in flight)
template <typename T>
MMFSS_INLINE T dot(const T* __restrict__ x, const T* __restrict__ y, int64_t m) {
  constexpr int kLanes = 4 * 64 / static_cast<int>(sizeof(T));
  T part[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= m; j += kLanes) {
#pragma omp simd
    for (int t = 0; t < kLanes; ++t) part[t] += x[j + t] * y[j + t];
  }
  T total = 0;
  for (; j < m; ++j) total += x[j] * y[j];
  for (int t = 0; t < kLanes; ++t) total += part[t];
  return total;
}

// sum_j x[j] y[j] z[j]
template <typename T>
MMFSS_INLINE T dot3(const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ z,
                    int64_t m) {
  constexpr int kLanes = 4 * 64 / static_cast<int>(sizeof(T));
  T part[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= m; j += kLanes) {
#pragma omp simd
    for (int t = 0; t < kLanes; ++t) part[t] += x[j + t] * y[j + t] * z[j + t];
  }
  T total = 0;
  for (; j < m; ++j) total += x[j] * y[j] * z[j];
  for (int t = 0; t < kLanes; ++t) total += part[t];
  return total;
}

// acc[j] += w row[j]
template <typename T>
MMFSS_INLINE void axpy(T* __restrict__ acc, T w, const T* __restrict__ row, int64_t m) {
#pragma omp simd
  for (int64_t j = 0; j < m; ++j) acc[j] += w * row[j];
}

// Shapes and the kernel's data, shared by the passes.
template <typename T>
struct Problem {
  int64_t batch, rows, cols;
  T* kernel;  // [B, N, M], contiguous
  const T* kernel_row(int64_t r) const { return kernel + r * cols; }
};

// 64-byte vectors (GCC/Clang vector extensions: one AVX-512 register, two AVX2 ones, ...)
// with the element's alignment, for loads and stores anywhere in a row.
typedef float FloatVec __attribute__((vector_size(64), aligned(4)));
typedef double DoubleVec __attribute__((vector_size(64), aligned(8)));
typedef int32_t Int32Vec __attribute__((vector_size(64)));
typedef int64_t Int64Vec __attribute__((vector_size(64)));
template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  using type = FloatVec;
  using bits = Int32Vec;  // same lanes, for the exponent bits and comparison masks
};
template <>
struct VecOf<double> {
  using type = DoubleVec;
  using bits = Int64Vec;
};

template <typename T>
MMFSS_INLINE typename VecOf<T>::type load_vec(const T* ptr) {
  typename VecOf<T>::type x;
  __builtin_memcpy(&x, ptr, sizeof(x));
  return x;
}

template <typename T>
MMFSS_INLINE void store_vec(T* ptr, const typename VecOf<T>::type& x) {
  __builtin_memcpy(ptr, &x, sizeof(x));
}

// exp(x) for the lanes of x, by Cody and Waite's reduction x = n ln2 + r, |r| <= ln2 / 2,
// a polynomial for exp(r) and 2^n assembled in the exponent bits (the method of Cephes'
// exp/expf, whose float32 coefficients are used; float64 takes the Taylor series to
// r^13, below half an ulp on |r| <= ln2 / 2). Exact to about an ulp wherever 2^n is a
// normal number; the lanes where it is not (|x| beyond about 87 in float32, 708 in
// float64, and inf or NaN) are flagged in `outside` for the caller to redo.
template <typename T>
struct ExpConstants;
template <>
struct ExpConstants<float> {
  static constexpr float round = 12582912.0f;  // 1.5 * 2^23: x + round - round rounds x
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  static constexpr int32_t bias = 127, mantissa = 23, exponent_bits = 8, sign_shift = 31;
};
template <>
struct ExpConstants<double> {
  static constexpr double round = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double ln2_hi = 6.93145751953125e-1, ln2_lo = 1.42860682030941723212e-6;
  static constexpr int64_t bias = 1023, mantissa = 52, exponent_bits = 11, sign_shift = 63;
};

MMFSS_INLINE FloatVec exp_poly(FloatVec r) {
  const FloatVec z = r * r;
  FloatVec p = 1.9875691500e-4f * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * z + r + 1.0f;
}

MMFSS_INLINE DoubleVec exp_poly(DoubleVec r) {
  DoubleVec p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;  // 1/13!, 1/12!
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  return (p * r + 1.0) * r + 1.0;
}

template <typename T>
MMFSS_INLINE typename VecOf<T>::type exp_vec(typename VecOf<T>::type x,
                                             typename VecOf<T>::bits& outside) {
  using V = typename VecOf<T>::type;
  using Bits = typename VecOf<T>::bits;
  using E = ExpConstants<T>;
  const V shifted = x * static_cast<T>(1.4426950408889634) + E::round;
  const V n = shifted - E::round;  // round(x / ln2)
  const V r = (x - n * E::ln2_hi) - n * E::ln2_lo;
  // n sits in the low mantissa bits of `shifted` (far outside [1 - bias, bias] when x is
  // huge, inf or NaN); 2^n = (n + bias) << mantissa is normal for n in [1 - bias, bias].
  // Integer arithmetic only: GCC's 64-byte vector comparisons can fall back to scalars.
  const Bits n_bits = (Bits)shifted - (Bits)(V{} + E::round);
  outside |= ((n_bits + (E::bias - 1)) >> E::exponent_bits) |
             ((E::bias - n_bits) >> E::sign_shift);
  return exp_poly(r) * (V)((n_bits + E::bias) << E::mantissa);
}

// K = exp(scale C) for the rows [begin, end) (C with batch and row strides, unit column
// stride) and col += their sums; std::exp for a row with a lane exp_vec flags.
template <typename T>
MMFSS_INLINE void exp_pass_rows(const Problem<T>& p, int64_t begin, int64_t end,
                                const T* cost, int64_t c_batch, int64_t c_row, T scale,
                                T* col) {
  using V = typename VecOf<T>::type;
  using Bits = typename VecOf<T>::bits;
  constexpr int64_t kLanes = sizeof(V) / sizeof(T);
  for (int64_t r = begin; r < end; ++r) {
    const int64_t b = r / p.rows, i = r % p.rows;
    const T* __restrict__ c = cost + b * c_batch + i * c_row;
    T* __restrict__ out = p.kernel + r * p.cols;
    Bits outside = {};
    int64_t j = 0;
    for (; j + kLanes <= p.cols; j += kLanes)
      store_vec(out + j, exp_vec<T>(load_vec(c + j) * scale, outside));
    bool any_outside = false;
    for (int64_t l = 0; l < kLanes; ++l) any_outside |= outside[l] != 0;
    // the tail, or the whole row where 2^n would not be normal: the library's exp
    for (int64_t k = any_outside ? 0 : j; k < p.cols; ++k) out[k] = std::exp(c[k] * scale);
    axpy(col, T(1), out, p.cols);
  }
}

// The passes work on the rows [begin, end) of the flattened [B * N, M] kernel, all of one
// batch element (a chunk, see over_rows), and add their column products to `col` (the
// chunk's own [M] buffer).

// s = K x + c; w = num / s (forward: u = a / (K v)) or w = -s num / den (backward:
// ds = -du u / s); col += K^T w.
template <typename T>
MMFSS_INLINE void row_pass_rows(const Problem<T>& p, int64_t begin, int64_t end, const T* x,
                                const T* c, const T* num, const T* den, bool forward, T* s,
                                T* w, T* col) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t b = r / p.rows;
    const T* row = p.kernel_row(r);
    const T sr = dot(row, x + b * p.cols, p.cols) + c[b];
    const T wr = forward ? num[r] / sr : -sr * num[r] / den[r];
    s[r] = sr;
    w[r] = wr;
    axpy(col, wr, row, p.cols);
  }
}

// Last forward iteration: s = K v + c, u = num / s, plan = diag(u keep) K diag(v).
template <typename T>
MMFSS_INLINE void plan_pass_rows(const Problem<T>& p, int64_t begin, int64_t end, const T* v,
                                 const T* c, const T* num, const T* keep, T* s, T* u,
                                 T* plan) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t b = r / p.rows;
    const T* __restrict__ row = p.kernel_row(r);
    const T* __restrict__ vb = v + b * p.cols;
    const T sr = dot(row, vb, p.cols) + c[b];
    const T ur = num[r] / sr;
    s[r] = sr;
    u[r] = ur;
    const T scale = ur * keep[b];
    T* __restrict__ out = plan + r * p.cols;
    for (int64_t j = 0; j < p.cols; ++j) out[j] = scale * row[j] * vb[j];
  }
}

// First backward step, from the plan's gradient G (batch stride g_batch, row stride g_row,
// unit column stride): du = keep (G * K) v_fin, ds = -du num / den,
// col += (G * K)^T u_fin + K^T ds.
template <typename T>
MMFSS_INLINE void grad_first_pass_rows(const Problem<T>& p, int64_t begin, int64_t end,
                                       const T* grad, int64_t g_batch, int64_t g_row,
                                       const T* u_fin, const T* v_fin, const T* keep,
                                       const T* num, const T* den, T* ds, T* col) {
  for (int64_t r = begin; r < end; ++r) {
    const int64_t b = r / p.rows, i = r % p.rows;
    const T* __restrict__ row = p.kernel_row(r);
    const T* __restrict__ g = grad + b * g_batch + i * g_row;
    const T du = keep[b] * dot3(g, row, v_fin + b * p.cols, p.cols);
    const T dsr = -du * num[r] / den[r];
    ds[r] = dsr;
    const T ur = u_fin[r];
    T* __restrict__ acc = col;
    for (int64_t j = 0; j < p.cols; ++j) acc[j] += row[j] * (ur * g[j] + dsr);
  }
}

// The gradient pass takes kWriteRows rows of one batch element at a time and, for each
// vector of columns, keeps their kWriteRows accumulators in registers over the whole
// low-rank sum: every `right` vector loaded serves all of them.
constexpr int64_t kWriteRows = 4;

template <typename T, int kRows>
MMFSS_INLINE void grad_write_group(T* kernel_rows, int64_t cols, const T* grad_rows,
                                   int64_t g_row, const T* u, const T* v, const T* left,
                                   const T* right, int64_t rank, T scale) {
  using V = typename VecOf<T>::type;
  constexpr int64_t kLanes = sizeof(V) / sizeof(T);
  int64_t j = 0;
  for (; j + kLanes <= cols; j += kLanes) {
    V acc[kRows];
    const V vj = load_vec(v + j);
    for (int k = 0; k < kRows; ++k) acc[k] = u[k] * load_vec(grad_rows + k * g_row + j) * vj;
    for (int64_t q = 0; q < rank; ++q) {
      const V rq = load_vec(right + q * cols + j);
      for (int k = 0; k < kRows; ++k) acc[k] += left[k * rank + q] * rq;
    }
    for (int k = 0; k < kRows; ++k) {
      const V out = load_vec(kernel_rows + k * cols + j) * (scale * acc[k]);
      __builtin_memcpy(kernel_rows + k * cols + j, &out, sizeof(V));
    }
  }
  for (; j < cols; ++j) {
    for (int k = 0; k < kRows; ++k) {
      T acc = u[k] * grad_rows[k * g_row + j] * v[j];
      for (int64_t q = 0; q < rank; ++q) acc += left[k * rank + q] * right[q * cols + j];
      kernel_rows[k * cols + j] *= scale * acc;
    }
  }
}

// dC = scale K * (G * u_fin v_fin^T + left right), written over K in place
// (left [B, N, R], right [B, R, M]).
template <typename T>
MMFSS_INLINE void grad_write_pass_rows(const Problem<T>& p, int64_t begin, int64_t end,
                                       const T* grad, int64_t g_batch, int64_t g_row,
                                       const T* u_fin, const T* v_fin, const T* left,
                                       const T* right, int64_t rank, T scale) {
  int64_t count = 0;
  for (int64_t r0 = begin; r0 < end; r0 += count) {
    const int64_t b = r0 / p.rows, i0 = r0 % p.rows;
    count = std::min({kWriteRows, end - r0, p.rows - i0});  // rows of one batch element
    T* rows = p.kernel + r0 * p.cols;
    const T* g = grad + b * g_batch + i0 * g_row;
    const T *u = u_fin + r0, *v = v_fin + b * p.cols, *l = left + r0 * rank;
    const T* rb = right + b * rank * p.cols;
    switch (count) {
      case 4: grad_write_group<T, 4>(rows, p.cols, g, g_row, u, v, l, rb, rank, scale); break;
      case 3: grad_write_group<T, 3>(rows, p.cols, g, g_row, u, v, l, rb, rank, scale); break;
      case 2: grad_write_group<T, 2>(rows, p.cols, g, g_row, u, v, l, rb, rank, scale); break;
      default: grad_write_group<T, 1>(rows, p.cols, g, g_row, u, v, l, rb, rank, scale);
    }
  }
}

// One entry point per pass, dtype and instruction set: the target attribute must be on
// the functions that contain the loops (the helpers above are always inlined into them),
// and overloading on the dtype lets the templated callers pick them.
#define MMFSS_DEFINE_PASSES(T, TARGET)                                                      \
  TARGET void row_pass(const Problem<T>& p, int64_t begin, int64_t end, const T* x,         \
                       const T* c, const T* num, const T* den, bool fwd, T* s, T* w,        \
                       T* col) {                                                            \
    row_pass_rows(p, begin, end, x, c, num, den, fwd, s, w, col);                           \
  }                                                                                         \
  TARGET void plan_pass(const Problem<T>& p, int64_t begin, int64_t end, const T* v,        \
                        const T* c, const T* num, const T* keep, T* s, T* u, T* plan) {     \
    plan_pass_rows(p, begin, end, v, c, num, keep, s, u, plan);                             \
  }                                                                                         \
  TARGET void grad_first_pass(const Problem<T>& p, int64_t begin, int64_t end, const T* g,  \
                              int64_t gb, int64_t gr, const T* uf, const T* vf,             \
                              const T* keep, const T* num, const T* den, T* ds, T* col) {   \
    grad_first_pass_rows(p, begin, end, g, gb, gr, uf, vf, keep, num, den, ds, col);        \
  }                                                                                         \
  TARGET void grad_write_pass(const Problem<T>& p, int64_t begin, int64_t end, const T* g,  \
                              int64_t gb, int64_t gr, const T* uf, const T* vf,             \
                              const T* left, const T* right, int64_t rank, T scale) {       \
    grad_write_pass_rows(p, begin, end, g, gb, gr, uf, vf, left, right, rank, scale);       \
  }                                                                                         \
  TARGET void exp_pass(const Problem<T>& p, int64_t begin, int64_t end, const T* cost,      \
                       int64_t cb, int64_t cr, T scale, T* col) {                           \
    exp_pass_rows(p, begin, end, cost, cb, cr, scale, col);                                 \
  }

#define MMFSS_NO_TARGET
namespace isa_baseline {
MMFSS_DEFINE_PASSES(float, MMFSS_NO_TARGET)
MMFSS_DEFINE_PASSES(double, MMFSS_NO_TARGET)
}  // namespace isa_baseline
#ifdef MMFSS_X86_CLONES
namespace isa_v3 {
MMFSS_DEFINE_PASSES(float, MMFSS_TARGET_V3)
MMFSS_DEFINE_PASSES(double, MMFSS_TARGET_V3)
}  // namespace isa_v3
namespace isa_v4 {
MMFSS_DEFINE_PASSES(float, MMFSS_TARGET_V4)
MMFSS_DEFINE_PASSES(double, MMFSS_TARGET_V4)
}  // namespace isa_v4
#endif

// The instruction sets, by index: the `isa` argument of the Python entry points.
const char* const kIsaNames[] = {"baseline", "x86-64-v3", "x86-64-v4"};
#ifdef MMFSS_X86_CLONES
constexpr int64_t kIsaCount = 3;
#else
constexpr int64_t kIsaCount = 1;
#endif

bool cpu_runs(int64_t isa) {
#ifdef MMFSS_X86_CLONES
  __builtin_cpu_init();
  if (isa == 2) return __builtin_cpu_supports("x86-64-v4");
  if (isa == 1) return __builtin_cpu_supports("x86-64-v3");
#endif
  return isa == 0;
}

void check_isa(int64_t isa) {
  TORCH_CHECK(isa >= 0 && isa < kIsaCount, "isa must be an index below ", kIsaCount,
              " (the instruction sets this build holds), got ", isa);
  TORCH_CHECK(cpu_runs(isa), "this CPU cannot run the ", kIsaNames[isa], " passes");
}

// Calls `fn` of the instruction set `isa` (checked by check_isa).
#ifdef MMFSS_X86_CLONES
#define MMFSS_CALL(isa, fn, ...)                    \
  do {                                              \
    if ((isa) == 2) isa_v4::fn(__VA_ARGS__);        \
    else if ((isa) == 1) isa_v3::fn(__VA_ARGS__);   \
    else isa_baseline::fn(__VA_ARGS__);             \
  } while (0)
#else
#define MMFSS_CALL(isa, fn, ...) isa_baseline::fn(__VA_ARGS__)
#endif

// Rows of one batch element are cut into at most kChunksPerBatch chunks of equal size
// (the last one shorter), a function of N only.
constexpr int64_t kChunksPerBatch = 16;

// Runs body(begin, end, buffer) over the chunks of rows, in parallel (a thread takes whole
// chunks). With `col` ([B, M]), every chunk gets its own zeroed [M] buffer for its column
// products, and col[b] is the sum of batch element b's buffers in chunk order: the result
// is the same whatever the number of threads.
template <typename T, typename Body>
void over_rows(const Problem<T>& p, T* col, const Body& body) {
  const int64_t chunk_rows = std::max<int64_t>(1, (p.rows + kChunksPerBatch - 1) / kChunksPerBatch);
  const int64_t per_batch = (p.rows + chunk_rows - 1) / chunk_rows;
  const int64_t chunks = p.batch * per_batch;
  std::unique_ptr<T[]> buffers(col == nullptr ? nullptr : new T[chunks * p.cols]);
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    for (int64_t k = first; k < last; ++k) {
      const int64_t b = k / per_batch, start = (k % per_batch) * chunk_rows;
      T* buffer = nullptr;
      if (col != nullptr) {
        buffer = buffers.get() + k * p.cols;
        std::fill(buffer, buffer + p.cols, T(0));
      }
      body(b * p.rows + start, b * p.rows + std::min(p.rows, start + chunk_rows), buffer);
    }
  });
  if (col == nullptr) return;
  // col[b, j] = buffer 0 + buffer 1 + ... in this order; split over column blocks
  constexpr int64_t kBlock = 1024;
  const int64_t blocks = (p.cols + kBlock - 1) / kBlock;
  at::parallel_for(0, p.batch * blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t k = first; k < last; ++k) {
      const int64_t b = k / blocks, j0 = (k % blocks) * kBlock;
      const int64_t j1 = std::min(p.cols, j0 + kBlock);
      T* __restrict__ out = col + b * p.cols;
      std::fill(out + j0, out + j1, T(0));
      for (int64_t c = 0; c < per_batch; ++c) {
        const T* __restrict__ in = buffers.get() + (b * per_batch + c) * p.cols;
        for (int64_t j = j0; j < j1; ++j) out[j] += in[j];
      }
    }
  });
}

// ------------------------------------------------------------------ argument checking
void check_kernel(const at::Tensor& kernel) {
  TORCH_CHECK(kernel.device().is_cpu(), "kernel must be on the CPU, got ", kernel.device());
  TORCH_CHECK(kernel.dim() == 3, "kernel must be [B, N, M], got ", kernel.sizes());
  TORCH_CHECK(kernel.is_contiguous(), "kernel must be contiguous");
  TORCH_CHECK(kernel.scalar_type() == at::kFloat || kernel.scalar_type() == at::kDouble,
              "kernel must be float32 or float64, got ", kernel.scalar_type());
}

void check_vec(const at::Tensor& t, const at::Tensor& kernel, at::IntArrayRef shape,
               const char* name) {
  TORCH_CHECK(t.sizes() == shape, name, " must have shape ", shape, ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == kernel.scalar_type(), name, " must be ",
              kernel.scalar_type(), ", got ", t.scalar_type());
  TORCH_CHECK(t.device().is_cpu() && t.is_contiguous(), name, " must be contiguous on the CPU");
}

void check_grad(const at::Tensor& grad, const at::Tensor& kernel) {
  TORCH_CHECK(grad.sizes() == kernel.sizes(), "grad must have shape ", kernel.sizes(),
              ", got ", grad.sizes());
  TORCH_CHECK(grad.scalar_type() == kernel.scalar_type() && grad.device().is_cpu(),
              "grad must be a CPU tensor of the kernel's dtype");
  TORCH_CHECK(grad.stride(2) == 1, "grad must have unit column stride, got strides ",
              grad.strides());
}

template <typename T>
Problem<T> problem(const at::Tensor& kernel) {
  return Problem<T>{kernel.size(0), kernel.size(1), kernel.size(2), kernel.data_ptr<T>()};
}

// ------------------------------------------------------------------ Python entry points
at::Tensor exp_pass_op(const at::Tensor& cost, double scale, at::Tensor& kernel, int64_t isa) {
  check_isa(isa);
  check_kernel(kernel);
  TORCH_CHECK(cost.sizes() == kernel.sizes(), "cost must have shape ", kernel.sizes(),
              ", got ", cost.sizes());
  TORCH_CHECK(cost.scalar_type() == kernel.scalar_type() && cost.device().is_cpu(),
              "cost must be a CPU tensor of the kernel's dtype");
  TORCH_CHECK(cost.stride(2) == 1, "cost must have unit column stride, got strides ",
              cost.strides());
  auto col = at::empty({kernel.size(0), kernel.size(2)}, kernel.options());
  AT_DISPATCH_FLOATING_TYPES(kernel.scalar_type(), "exp_pass", [&] {
    const auto p = problem<scalar_t>(kernel);
    const scalar_t* cp = cost.data_ptr<scalar_t>();
    const int64_t cb = cost.stride(0), cr = cost.stride(1);
    const auto sc = static_cast<scalar_t>(scale);
    over_rows(p, col.data_ptr<scalar_t>(), [&](int64_t begin, int64_t end, scalar_t* acc) {
      MMFSS_CALL(isa, exp_pass, p, begin, end, cp, cb, cr, sc, acc);
    });
  });
  return col;
}

std::vector<at::Tensor> row_pass_op(const at::Tensor& kernel, const at::Tensor& x,
                                    const at::Tensor& c, const at::Tensor& num,
                                    const at::Tensor& den, bool forward, int64_t isa) {
  check_isa(isa);
  check_kernel(kernel);
  const int64_t B = kernel.size(0), N = kernel.size(1), M = kernel.size(2);
  check_vec(x, kernel, {B, M}, "x");
  check_vec(c, kernel, {B}, "c");
  check_vec(num, kernel, {B, N}, "num");
  if (!forward) check_vec(den, kernel, {B, N}, "den");
  auto s = at::empty({B, N}, kernel.options());
  auto w = at::empty({B, N}, kernel.options());
  auto col = at::empty({B, M}, kernel.options());
  AT_DISPATCH_FLOATING_TYPES(kernel.scalar_type(), "row_pass", [&] {
    const auto p = problem<scalar_t>(kernel);
    const scalar_t *xp = x.data_ptr<scalar_t>(), *cp = c.data_ptr<scalar_t>(),
                   *np = num.data_ptr<scalar_t>();
    const scalar_t* dp = forward ? nullptr : den.data_ptr<scalar_t>();
    scalar_t *sp = s.data_ptr<scalar_t>(), *wp = w.data_ptr<scalar_t>();
    over_rows(p, col.data_ptr<scalar_t>(), [&](int64_t begin, int64_t end, scalar_t* acc) {
      MMFSS_CALL(isa, row_pass, p, begin, end, xp, cp, np, dp, forward, sp, wp, acc);
    });
  });
  return {s, w, col};
}

std::vector<at::Tensor> plan_pass_op(const at::Tensor& kernel, const at::Tensor& v,
                                     const at::Tensor& c, const at::Tensor& num,
                                     const at::Tensor& keep, at::Tensor& plan, int64_t isa) {
  check_isa(isa);
  check_kernel(kernel);
  const int64_t B = kernel.size(0), N = kernel.size(1), M = kernel.size(2);
  check_vec(v, kernel, {B, M}, "v");
  check_vec(c, kernel, {B}, "c");
  check_vec(num, kernel, {B, N}, "num");
  check_vec(keep, kernel, {B}, "keep");
  check_vec(plan, kernel, kernel.sizes(), "plan");
  auto s = at::empty({B, N}, kernel.options());
  auto u = at::empty({B, N}, kernel.options());
  AT_DISPATCH_FLOATING_TYPES(kernel.scalar_type(), "plan_pass", [&] {
    const auto p = problem<scalar_t>(kernel);
    const scalar_t *vp = v.data_ptr<scalar_t>(), *cp = c.data_ptr<scalar_t>(),
                   *np = num.data_ptr<scalar_t>(), *kp = keep.data_ptr<scalar_t>();
    scalar_t *sp = s.data_ptr<scalar_t>(), *up = u.data_ptr<scalar_t>(),
             *pp = plan.data_ptr<scalar_t>();
    over_rows(p, static_cast<scalar_t*>(nullptr), [&](int64_t begin, int64_t end, scalar_t*) {
      MMFSS_CALL(isa, plan_pass, p, begin, end, vp, cp, np, kp, sp, up, pp);
    });
  });
  return {s, u};
}

std::vector<at::Tensor> grad_first_pass_op(const at::Tensor& kernel, const at::Tensor& grad,
                                           const at::Tensor& u_fin, const at::Tensor& v_fin,
                                           const at::Tensor& keep, const at::Tensor& num,
                                           const at::Tensor& den, int64_t isa) {
  check_isa(isa);
  check_kernel(kernel);
  check_grad(grad, kernel);
  const int64_t B = kernel.size(0), N = kernel.size(1), M = kernel.size(2);
  check_vec(u_fin, kernel, {B, N}, "u_fin");
  check_vec(v_fin, kernel, {B, M}, "v_fin");
  check_vec(keep, kernel, {B}, "keep");
  check_vec(num, kernel, {B, N}, "num");
  check_vec(den, kernel, {B, N}, "den");
  auto ds = at::empty({B, N}, kernel.options());
  auto col = at::empty({B, M}, kernel.options());
  AT_DISPATCH_FLOATING_TYPES(kernel.scalar_type(), "grad_first_pass", [&] {
    const auto p = problem<scalar_t>(kernel);
    const scalar_t *gp = grad.data_ptr<scalar_t>(), *ufp = u_fin.data_ptr<scalar_t>(),
                   *vfp = v_fin.data_ptr<scalar_t>(), *kp = keep.data_ptr<scalar_t>(),
                   *np = num.data_ptr<scalar_t>(), *dp = den.data_ptr<scalar_t>();
    const int64_t gb = grad.stride(0), gr = grad.stride(1);
    scalar_t* dsp = ds.data_ptr<scalar_t>();
    over_rows(p, col.data_ptr<scalar_t>(), [&](int64_t begin, int64_t end, scalar_t* acc) {
      MMFSS_CALL(isa, grad_first_pass, p, begin, end, gp, gb, gr, ufp, vfp, kp, np, dp, dsp, acc);
    });
  });
  return {ds, col};
}

void grad_write_pass_op(at::Tensor& kernel, const at::Tensor& grad, const at::Tensor& u_fin,
                        const at::Tensor& v_fin, const at::Tensor& left,
                        const at::Tensor& right, double scale, int64_t isa) {
  check_isa(isa);
  check_kernel(kernel);
  check_grad(grad, kernel);
  const int64_t B = kernel.size(0), N = kernel.size(1), M = kernel.size(2);
  const int64_t R = left.dim() == 3 ? left.size(2) : -1;
  check_vec(u_fin, kernel, {B, N}, "u_fin");
  check_vec(v_fin, kernel, {B, M}, "v_fin");
  check_vec(left, kernel, {B, N, R}, "left");
  check_vec(right, kernel, {B, R, M}, "right");
  AT_DISPATCH_FLOATING_TYPES(kernel.scalar_type(), "grad_write_pass", [&] {
    const auto p = problem<scalar_t>(kernel);
    const scalar_t *gp = grad.data_ptr<scalar_t>(), *ufp = u_fin.data_ptr<scalar_t>(),
                   *vfp = v_fin.data_ptr<scalar_t>(), *lp = left.data_ptr<scalar_t>(),
                   *rp = right.data_ptr<scalar_t>();
    const int64_t gb = grad.stride(0), gr = grad.stride(1);
    const auto sc = static_cast<scalar_t>(scale);
    over_rows(p, static_cast<scalar_t*>(nullptr), [&](int64_t begin, int64_t end, scalar_t*) {
      MMFSS_CALL(isa, grad_write_pass, p, begin, end, gp, gb, gr, ufp, vfp, lp, rp, R, sc);
    });
  });
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Fused CPU passes of mmfss.ot's kernel-domain Sinkhorn";
  m.def("isa_names", [] { return std::vector<std::string>(kIsaNames, kIsaNames + kIsaCount); },
        "the instruction sets this build holds, by index (the `isa` argument)");
  m.def("cpu_runs", [](int64_t isa) { return isa >= 0 && isa < kIsaCount && cpu_runs(isa); },
        "whether this CPU can run the instruction set of that index");
  m.def("exp_pass", &exp_pass_op, "kernel = exp(scale cost); returns its column sums");
  m.def("row_pass", &row_pass_op,
        "s = K x + c; w = num / s (forward) or -s num / den; returns s, w, K^T w");
  m.def("plan_pass", &plan_pass_op,
        "s = K v + c; u = num / s; writes plan = diag(u keep) K diag(v); returns s, u");
  m.def("grad_first_pass", &grad_first_pass_op,
        "first backward step from the plan's gradient; returns ds, col");
  m.def("grad_write_pass", &grad_write_pass_op,
        "K <- scale K * (G * u v^T + left right), in place");
}
