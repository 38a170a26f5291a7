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
// Rows are split between ATen's threads (at::parallel_for); every thread accumulates the
// K^T products in its own [B, M] buffer and the buffers are summed at the end, so results
// do not depend on scheduling. On x86-64 with GCC the loops are compiled for AVX-512, for
// AVX2 + FMA and for the baseline, and the best one the CPU supports is picked at load
// time (function multi-versioning), so the built library runs on any x86-64 CPU.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(MMFSS_NO_CLONES)
#define MMFSS_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MMFSS_CLONES
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
    axpy(col + b * p.cols, T(1), out, p.cols);
  }
}

// The passes below work on the rows [begin, end) of the flattened [B * N, M] kernel (the
// callers split the rows between threads) and add their column products to `col`
// ([B, M], the calling thread's own buffer).

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
    axpy(col + b * p.cols, wr, row, p.cols);
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
    T* __restrict__ acc = col + b * p.cols;
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

// One multi-versioned entry point per pass and dtype: the clones must be the functions
// that contain the loops (a template or the lambda given to at::parallel_for cannot carry
// them), and overloading on the dtype lets the templated callers pick them.
#define MMFSS_DEFINE_CLONES(T)                                                              \
  MMFSS_CLONES void row_pass_clone(const Problem<T>& p, int64_t begin, int64_t end,         \
                                   const T* x, const T* c, const T* num, const T* den,      \
                                   bool fwd, T* s, T* w, T* col) {                          \
    row_pass_rows(p, begin, end, x, c, num, den, fwd, s, w, col);                           \
  }                                                                                         \
  MMFSS_CLONES void plan_pass_clone(const Problem<T>& p, int64_t begin, int64_t end,        \
                                    const T* v, const T* c, const T* num, const T* keep,    \
                                    T* s, T* u, T* plan) {                                  \
    plan_pass_rows(p, begin, end, v, c, num, keep, s, u, plan);                             \
  }                                                                                         \
  MMFSS_CLONES void grad_first_pass_clone(const Problem<T>& p, int64_t begin, int64_t end,  \
                                          const T* g, int64_t gb, int64_t gr, const T* uf,  \
                                          const T* vf, const T* keep, const T* num,         \
                                          const T* den, T* ds, T* col) {                    \
    grad_first_pass_rows(p, begin, end, g, gb, gr, uf, vf, keep, num, den, ds, col);        \
  }                                                                                         \
  MMFSS_CLONES void grad_write_pass_clone(const Problem<T>& p, int64_t begin, int64_t end,  \
                                          const T* g, int64_t gb, int64_t gr, const T* uf,  \
                                          const T* vf, const T* left, const T* right,       \
                                          int64_t rank, T scale) {                          \
    grad_write_pass_rows(p, begin, end, g, gb, gr, uf, vf, left, right, rank, scale);       \
  }                                                                                         \
  MMFSS_CLONES void exp_pass_clone(const Problem<T>& p, int64_t begin, int64_t end,         \
                                   const T* cost, int64_t cb, int64_t cr, T scale, T* col) { \
    exp_pass_rows(p, begin, end, cost, cb, cr, scale, col);                                 \
  }

MMFSS_DEFINE_CLONES(float)
MMFSS_DEFINE_CLONES(double)

// Splits the rows between ATen's threads. With `col`, every thread gets its own zeroed
// [B, M] buffer for its column products and the buffers are summed into `col` at the end
// (the result does not depend on scheduling).
template <typename T, typename Body>
void over_rows(const Problem<T>& p, T* col, const Body& body) {
  const int64_t size = p.batch * p.cols;
  std::vector<T> buffers(col == nullptr ? 0 : static_cast<size_t>(at::get_num_threads() * size),
                         T(0));
  at::parallel_for(0, p.batch * p.rows, 1, [&](int64_t begin, int64_t end) {
    body(begin, end, col == nullptr ? nullptr : buffers.data() + at::get_thread_num() * size);
  });
  if (col == nullptr) return;
  std::fill(col, col + size, T(0));
  for (size_t start = 0; start < buffers.size(); start += static_cast<size_t>(size))
    for (int64_t j = 0; j < size; ++j) col[j] += buffers[start + j];
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
at::Tensor exp_pass_op(const at::Tensor& cost, double scale, at::Tensor& kernel) {
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
      exp_pass_clone(p, begin, end, cp, cb, cr, sc, acc);
    });
  });
  return col;
}

std::vector<at::Tensor> row_pass_op(const at::Tensor& kernel, const at::Tensor& x,
                                    const at::Tensor& c, const at::Tensor& num,
                                    const at::Tensor& den, bool forward) {
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
      row_pass_clone(p, begin, end, xp, cp, np, dp, forward, sp, wp, acc);
    });
  });
  return {s, w, col};
}

std::vector<at::Tensor> plan_pass_op(const at::Tensor& kernel, const at::Tensor& v,
                                     const at::Tensor& c, const at::Tensor& num,
                                     const at::Tensor& keep, at::Tensor& plan) {
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
      plan_pass_clone(p, begin, end, vp, cp, np, kp, sp, up, pp);
    });
  });
  return {s, u};
}

std::vector<at::Tensor> grad_first_pass_op(const at::Tensor& kernel, const at::Tensor& grad,
                                           const at::Tensor& u_fin, const at::Tensor& v_fin,
                                           const at::Tensor& keep, const at::Tensor& num,
                                           const at::Tensor& den) {
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
      grad_first_pass_clone(p, begin, end, gp, gb, gr, ufp, vfp, kp, np, dp, dsp, acc);
    });
  });
  return {ds, col};
}

void grad_write_pass_op(at::Tensor& kernel, const at::Tensor& grad, const at::Tensor& u_fin,
                        const at::Tensor& v_fin, const at::Tensor& left,
                        const at::Tensor& right, double scale) {
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
      grad_write_pass_clone(p, begin, end, gp, gb, gr, ufp, vfp, lp, rp, R, sc);
    });
  });
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "Fused CPU passes of mmfss.ot's kernel-domain Sinkhorn";
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
