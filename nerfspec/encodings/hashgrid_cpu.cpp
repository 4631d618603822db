// Multiresolution hash encoding (Mueller et al. 2022) on the CPU: the forward features (and, on
// request, their derivatives in the positions), the gradient of the table, and an Adam step that
// skips table entries without gradient. The maths is that of nerfspec/encodings/hashgrid_math.py:
//   p = v N_l, base = clamp(floor(p), 0, N_l - 1), frac = p - base,
//   corner k = base + (k & 1, k >> 1 & 1, k >> 2 & 1), w_k = prod_i (bit_i(k) ? frac_i : 1 - frac_i),
//   row = dense ? x + (N_l + 1) (y + (N_l + 1) z) : (x ^ y * 2654435761 ^ z * 805459861) mod T,
//   out[n, l, :] = sum_k w_k table[offset_l + row_k, :],
//   d out[n, l, :] / d v_i = N_l sum_k (d w_k / d frac_i) table[offset_l + row_k, :]
// (the derivative of the trilinear blend inside the cell; what camera pose gradients need). That
// derivative jumps at every cell face; with ``smooth`` the op returns instead the derivative of
// the blend with smoothstep weights s(f) = f^2 (3 - 2 f) per axis (Heo et al. 2023's remedy for
// pose refinement on hash grids: the features stay trilinear, only the gradient in the
// positions is smoothed, vanishing at cell faces and averaging the same over a cell).
// The table rows a batch touches are scattered over megabytes, so the kernels are bound by memory
// latency, not arithmetic: they work on blocks of points, first computing every corner row of
// the block and prefetching it, then reading (forward) or updating (backward) the rows, so that
// the block's cache misses overlap instead of following one another (3x faster forward here).
// Forward runs in parallel over blocks of points (each thread writes its own rows). The
// backward scatter-adds into the table, so it runs in parallel over levels instead: levels own
// disjoint rows, so there are no races and no atomics, and the result does not depend on the
// thread count. Threads take levels from a shared counter, finest (slowest) first.

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

constexpr uint32_t kPrimeY = 2654435761u;
constexpr uint32_t kPrimeZ = 805459861u;

struct Level {
  int64_t offset;  // first row of the level in the table
  int32_t res;     // N_l, cells per axis
  uint32_t mask;   // T - 1 (hashed levels)
  bool dense;
};

struct Corners {
  uint32_t row[8];
  float w[8];
  float frac[3];
};

// The 8 corner rows (in the level's own table) and trilinear weights of the cell holding v.
inline void cell_corners(const float* v, const Level& lv, Corners& c) {
  uint32_t base[3];
  float frac[3];
  const float top = static_cast<float>(lv.res - 1);
  for (int i = 0; i < 3; ++i) {
    const float p = v[i] * static_cast<float>(lv.res);
    float b = std::floor(p);
    // written so that a NaN coordinate lands in cell 0 (with NaN weights) instead of reading
    // outside the table
    if (!(b >= 0.f)) b = 0.f;
    if (b > top) b = top;
    base[i] = static_cast<uint32_t>(b);
    frac[i] = p - b;
    c.frac[i] = frac[i];
  }
  const uint32_t s = static_cast<uint32_t>(lv.res) + 1;
  for (int k = 0; k < 8; ++k) {
    const uint32_t x = base[0] + (k & 1), y = base[1] + ((k >> 1) & 1), z = base[2] + ((k >> 2) & 1);
    c.row[k] = lv.dense ? x + s * (y + s * z) : ((x ^ (y * kPrimeY) ^ (z * kPrimeZ)) & lv.mask);
    const float wx = (k & 1) ? frac[0] : 1.f - frac[0];
    const float wy = ((k >> 1) & 1) ? frac[1] : 1.f - frac[1];
    const float wz = ((k >> 2) & 1) ? frac[2] : 1.f - frac[2];
    c.w[k] = (wx * wy) * wz;
  }
}

std::vector<Level> make_levels(at::IntArrayRef offsets, at::IntArrayRef resolutions,
                               at::IntArrayRef dense, int64_t table_rows) {
  const int64_t n_levels = static_cast<int64_t>(resolutions.size());
  TORCH_CHECK(static_cast<int64_t>(offsets.size()) == n_levels + 1, "offsets must have L + 1 entries");
  TORCH_CHECK(static_cast<int64_t>(dense.size()) == n_levels, "dense must have L entries");
  TORCH_CHECK(offsets[n_levels] == table_rows, "offsets must end at the number of table rows");
  std::vector<Level> levels(n_levels);
  for (int64_t l = 0; l < n_levels; ++l) {
    const int64_t size = offsets[l + 1] - offsets[l];
    const int64_t res = resolutions[l];
    TORCH_CHECK(res >= 1 && res < (int64_t{1} << 20), "resolution out of range");
    if (dense[l]) {
      TORCH_CHECK(size == (res + 1) * (res + 1) * (res + 1), "a dense level holds (N + 1)^3 rows");
    } else {
      TORCH_CHECK(size > 0 && (size & (size - 1)) == 0 && size <= (int64_t{1} << 31),
                  "a hashed level holds a power of two rows");
    }
    levels[l] = Level{offsets[l], static_cast<int32_t>(res), static_cast<uint32_t>(size - 1), dense[l] != 0};
  }
  return levels;
}

void check_points(const at::Tensor& points) {
  TORCH_CHECK(points.device().is_cpu() && points.scalar_type() == at::kFloat && points.dim() == 2 &&
                  points.size(1) == 3 && points.is_contiguous(),
              "points must be a contiguous float32 CPU tensor of shape (N, 3)");
}

void check_table(const at::Tensor& table) {
  TORCH_CHECK(table.device().is_cpu() && table.scalar_type() == at::kFloat && table.dim() == 2 &&
                  table.is_contiguous(),
              "table must be a contiguous float32 CPU tensor of shape (rows, F)");
}

constexpr int kBlock = 64;  // points whose corner rows are prefetched together

// With JAC, jac (N, L F, 3) receives d out / d v (module comment): for corner k,
// d w_k / d frac_x = (bit_0(k) ? 1 : -1) w_y w_z, and alike for y and z; with SMOOTH the factors
// are smoothstep weights and the derivative s'(f) = 6 f (1 - f) replaces 1.
template <int F, bool JAC, bool SMOOTH = false>
void forward_kernel_impl(const float* pts, const float* table, float* out, float* jac,
                         const std::vector<Level>& levels, int64_t n) {
  const int64_t n_levels = static_cast<int64_t>(levels.size());
  at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
    Corners c[kBlock];
    for (int64_t l = 0; l < n_levels; ++l) {
      const Level& lv = levels[l];
      const float* tab = table + lv.offset * F;
      const float scale = static_cast<float>(lv.res);
      for (int64_t i0 = begin; i0 < end; i0 += kBlock) {
        const int m = static_cast<int>(std::min<int64_t>(kBlock, end - i0));
        for (int j = 0; j < m; ++j) {
          cell_corners(pts + 3 * (i0 + j), lv, c[j]);
          for (int k = 0; k < 8; ++k) __builtin_prefetch(tab + static_cast<int64_t>(c[j].row[k]) * F, 0, 1);
        }
        for (int j = 0; j < m; ++j) {
          float acc[F] = {};
          float dacc[F][3] = {};
          float fr[3] = {}, slope[3] = {1.f, 1.f, 1.f};
          if constexpr (JAC) {
            for (int i = 0; i < 3; ++i) {
              const float f = c[j].frac[i];
              fr[i] = SMOOTH ? f * f * (3.f - 2.f * f) : f;
              if constexpr (SMOOTH) slope[i] = 6.f * f * (1.f - f);
            }
          }
          for (int k = 0; k < 8; ++k) {
            const float* row = tab + static_cast<int64_t>(c[j].row[k]) * F;
            for (int f = 0; f < F; ++f) acc[f] += c[j].w[k] * row[f];
            if constexpr (JAC) {
              const float wx = (k & 1) ? fr[0] : 1.f - fr[0];
              const float wy = ((k >> 1) & 1) ? fr[1] : 1.f - fr[1];
              const float wz = ((k >> 2) & 1) ? fr[2] : 1.f - fr[2];
              const float dx = ((k & 1) ? slope[0] : -slope[0]) * (wy * wz);
              const float dy = (((k >> 1) & 1) ? slope[1] : -slope[1]) * (wx * wz);
              const float dz = (((k >> 2) & 1) ? slope[2] : -slope[2]) * (wx * wy);
              for (int f = 0; f < F; ++f) {
                dacc[f][0] += dx * row[f];
                dacc[f][1] += dy * row[f];
                dacc[f][2] += dz * row[f];
              }
            }
          }
          float* o = out + ((i0 + j) * n_levels + l) * F;
          for (int f = 0; f < F; ++f) o[f] = acc[f];
          if constexpr (JAC) {
            float* d = jac + (((i0 + j) * n_levels + l) * F) * 3;
            for (int f = 0; f < F; ++f) {
              for (int i = 0; i < 3; ++i) d[3 * f + i] = scale * dacc[f][i];
            }
          }
        }
      }
    }
  });
}

template <int F>
void forward_kernel(const float* pts, const float* table, float* out, const std::vector<Level>& levels,
                    int64_t n) {
  forward_kernel_impl<F, false>(pts, table, out, nullptr, levels, n);
}

template <int F>
void forward_jacobian_kernel(const float* pts, const float* table, float* out, float* jac,
                             const std::vector<Level>& levels, int64_t n, bool smooth) {
  if (smooth) {
    forward_kernel_impl<F, true, true>(pts, table, out, jac, levels, n);
  } else {
    forward_kernel_impl<F, true, false>(pts, table, out, jac, levels, n);
  }
}

template <int F>
void backward_kernel(const float* pts, const float* grad_out, float* grad_table,
                     const std::vector<Level>& levels, int64_t n) {
  const int64_t n_levels = static_cast<int64_t>(levels.size());
  std::atomic<int64_t> next{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) {
    Corners c[kBlock];
    for (int64_t j0 = next.fetch_add(1); j0 < n_levels; j0 = next.fetch_add(1)) {
      const int64_t l = n_levels - 1 - j0;
      const Level& lv = levels[l];
      float* tab = grad_table + lv.offset * F;
      for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
        const int m = static_cast<int>(std::min<int64_t>(kBlock, n - i0));
        for (int j = 0; j < m; ++j) {
          cell_corners(pts + 3 * (i0 + j), lv, c[j]);
          for (int k = 0; k < 8; ++k) __builtin_prefetch(tab + static_cast<int64_t>(c[j].row[k]) * F, 1, 1);
        }
        for (int j = 0; j < m; ++j) {
          const float* g = grad_out + ((i0 + j) * n_levels + l) * F;
          for (int k = 0; k < 8; ++k) {
            float* row = tab + static_cast<int64_t>(c[j].row[k]) * F;
            for (int f = 0; f < F; ++f) row[f] += c[j].w[k] * g[f];
          }
        }
      }
    }
  });
}

#define NERFSPEC_DISPATCH_F(F_VALUE, KERNEL, ...)                                      \
  switch (F_VALUE) {                                                                   \
    case 1: KERNEL<1>(__VA_ARGS__); break;                                             \
    case 2: KERNEL<2>(__VA_ARGS__); break;                                             \
    case 4: KERNEL<4>(__VA_ARGS__); break;                                             \
    case 8: KERNEL<8>(__VA_ARGS__); break;                                             \
    default: TORCH_CHECK(false, "features per level must be 1, 2, 4 or 8, got ", F_VALUE); \
  }

// (N, 3) points in [0, 1]^3, (rows, F) table -> (N, L * F) features.
at::Tensor hash_grid_forward(const at::Tensor& points, const at::Tensor& table, at::IntArrayRef offsets,
                             at::IntArrayRef resolutions, at::IntArrayRef dense) {
  check_points(points);
  check_table(table);
  const auto levels = make_levels(offsets, resolutions, dense, table.size(0));
  const int64_t n = points.size(0), n_levels = static_cast<int64_t>(levels.size()), f = table.size(1);
  at::Tensor out = at::empty({n, n_levels * f}, points.options());
  NERFSPEC_DISPATCH_F(f, forward_kernel, points.data_ptr<float>(), table.data_ptr<float>(),
                      out.data_ptr<float>(), levels, n);
  return out;
}

// (N, 3) points, (rows, F) table -> features (N, L * F) and their derivatives in the points
// (N, L * F, 3), those of the smoothstep blend with ``smooth``.
std::vector<at::Tensor> hash_grid_forward_jacobian(const at::Tensor& points, const at::Tensor& table,
                                                   at::IntArrayRef offsets, at::IntArrayRef resolutions,
                                                   at::IntArrayRef dense, bool smooth) {
  check_points(points);
  check_table(table);
  const auto levels = make_levels(offsets, resolutions, dense, table.size(0));
  const int64_t n = points.size(0), n_levels = static_cast<int64_t>(levels.size()), f = table.size(1);
  at::Tensor out = at::empty({n, n_levels * f}, points.options());
  at::Tensor jac = at::empty({n, n_levels * f, 3}, points.options());
  NERFSPEC_DISPATCH_F(f, forward_jacobian_kernel, points.data_ptr<float>(), table.data_ptr<float>(),
                      out.data_ptr<float>(), jac.data_ptr<float>(), levels, n, smooth);
  return {out, jac};
}

// d loss / d table for d loss / d features (N, L * F); (rows, F) like the table.
at::Tensor hash_grid_backward(const at::Tensor& grad_out, const at::Tensor& points, int64_t rows,
                              int64_t features, at::IntArrayRef offsets, at::IntArrayRef resolutions,
                              at::IntArrayRef dense) {
  check_points(points);
  const auto levels = make_levels(offsets, resolutions, dense, rows);
  const int64_t n = points.size(0), n_levels = static_cast<int64_t>(levels.size());
  TORCH_CHECK(grad_out.device().is_cpu() && grad_out.scalar_type() == at::kFloat && grad_out.is_contiguous() &&
                  grad_out.dim() == 2 && grad_out.size(0) == n && grad_out.size(1) == n_levels * features,
              "grad_out must be a contiguous float32 CPU tensor of shape (N, L * F)");
  at::Tensor grad_table = at::zeros({rows, features}, grad_out.options());
  NERFSPEC_DISPATCH_F(features, backward_kernel, points.data_ptr<float>(), grad_out.data_ptr<float>(),
                      grad_table.data_ptr<float>(), levels, n);
  return grad_table;
}

struct AdamConstants {
  float beta1, beta2, eps, step_size, bias2_sqrt;
};

// The entries [begin, end) in chunks of 16: a chunk without gradient is skipped after one read
// of it; a chunk with some is updated without branches (entries without gradient keep their
// old values), which the compiler vectorises (hence the restrict pointers).
void lazy_adam_range(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                     float* __restrict__ v, int64_t begin, int64_t end, const AdamConstants& c) {
  constexpr int64_t kChunk = 16;
  for (int64_t c0 = begin; c0 < end; c0 += kChunk) {
    const int64_t c1 = std::min(c0 + kChunk, end);
    bool any = false;
    for (int64_t i = c0; i < c1; ++i) any |= g[i] != 0.f;
    if (!any) continue;
    for (int64_t i = c0; i < c1; ++i) {
      const float gi = g[i], mi_old = m[i], vi_old = v[i], pi_old = p[i];
      const bool touched = gi != 0.f;
      const float mi = c.beta1 * mi_old + (1.f - c.beta1) * gi;
      const float vi = c.beta2 * vi_old + (1.f - c.beta2) * gi * gi;
      const float update = c.step_size * mi / (std::sqrt(vi) / c.bias2_sqrt + c.eps);
      m[i] = touched ? mi : mi_old;
      v[i] = touched ? vi : vi_old;
      p[i] = touched ? pi_old - update : pi_old;
    }
  }
}

// Adam on a float32 tensor, skipping every entry whose gradient is exactly 0 (its value and
// moments stay as they are), as Mueller et al. do for the hash tables: a batch touches a small
// share of the rows.
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)      (torch.optim.Adam's formula)
void sparse_adam_step(at::Tensor& param, const at::Tensor& grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                      int64_t step, double lr, double beta1, double beta2, double eps) {
  for (const at::Tensor& t : {param, grad, exp_avg, exp_avg_sq}) {
    TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous() &&
                    t.numel() == param.numel(),
                "param, grad and moments must be contiguous float32 CPU tensors of one size");
  }
  TORCH_CHECK(step >= 1, "step counts from 1");
  const double t = static_cast<double>(step);
  const AdamConstants c{static_cast<float>(beta1), static_cast<float>(beta2), static_cast<float>(eps),
                        static_cast<float>(lr / (1.0 - std::pow(beta1, t))),
                        static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)))};
  float* p = param.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  at::parallel_for(0, param.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    lazy_adam_range(p, g, m, v, begin, end, c);
  });
}

}  // namespace

TORCH_LIBRARY(nerfspec_hashgrid, m) {
  m.def("forward(Tensor points, Tensor table, int[] offsets, int[] resolutions, int[] dense) -> Tensor");
  m.def("forward_jacobian(Tensor points, Tensor table, int[] offsets, int[] resolutions, int[] dense, "
        "bool smooth) -> Tensor[]");
  m.def("backward(Tensor grad_out, Tensor points, int rows, int features, int[] offsets, int[] resolutions, "
        "int[] dense) -> Tensor");
  m.def("sparse_adam_step(Tensor(a!) param, Tensor grad, Tensor(b!) exp_avg, Tensor(c!) exp_avg_sq, int step, "
        "float lr, float beta1, float beta2, float eps) -> ()");
}

TORCH_LIBRARY_IMPL(nerfspec_hashgrid, CPU, m) {
  m.impl("forward", &hash_grid_forward);
  m.impl("forward_jacobian", &hash_grid_forward_jacobian);
  m.impl("backward", &hash_grid_backward);
  m.impl("sparse_adam_step", &sparse_adam_step);
}
