// Marching rays through an occupancy grid on the CPU: the same samples as
// nerfspec.render.sampling.march_grid (its PyTorch path), computed per ray without the
// (rays x steps) candidate tensors. Float operations follow the PyTorch expression order
// (compiled with -ffp-contract=off), so both paths keep exactly the same samples.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <vector>

namespace {

struct Grid {
    const float* lo;
    const float* size;
    const bool* occupied;
    int64_t r;
    float fr;
};

// Whether step k of a ray (t0 = t_near + k dt) has its midpoint inside the box, in an occupied cell.
inline bool keep(const Grid& g, const float* o, const float* d, float t0, float half) {
    const float t_mid = t0 + half;
    int64_t cell = 0;
    for (int a = 0; a < 3; ++a) {
        const float p = o[a] + t_mid * d[a];
        const float u = (p - g.lo[a]) / g.size[a];
        if (!(u >= 0.0f && u < 1.0f)) return false;
        int64_t i = static_cast<int64_t>(u * g.fr);
        i = i < 0 ? 0 : (i > g.r - 1 ? g.r - 1 : i);
        cell = cell * g.r + i;
    }
    return g.occupied[cell];
}

}  // namespace

std::vector<at::Tensor> march(at::Tensor origins, at::Tensor dirs, at::Tensor t_near, at::Tensor n_steps,
                              at::Tensor lo, at::Tensor size, at::Tensor occupied, double step,
                              int64_t resolution) {
    TORCH_CHECK(origins.is_contiguous() && dirs.is_contiguous() && t_near.is_contiguous(), "contiguous inputs");
    TORCH_CHECK(origins.scalar_type() == at::kFloat && n_steps.scalar_type() == at::kLong, "float32 rays, int64 steps");
    TORCH_CHECK(occupied.scalar_type() == at::kBool, "bool occupancy");
    const int64_t n = origins.size(0);
    const float* o = origins.data_ptr<float>();
    const float* d = dirs.data_ptr<float>();
    const float* tn = t_near.data_ptr<float>();
    const int64_t* ns = n_steps.data_ptr<int64_t>();
    const Grid g{lo.data_ptr<float>(), size.data_ptr<float>(), occupied.data_ptr<bool>(), resolution,
                 static_cast<float>(resolution)};
    const float dt = static_cast<float>(step);
    const float half = static_cast<float>(0.5 * step);

    at::Tensor counts = at::zeros({n}, origins.options().dtype(at::kLong));
    int64_t* c = counts.data_ptr<int64_t>();
    at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            int64_t m = 0;
            for (int64_t k = 0; k < ns[r]; ++k)
                m += keep(g, o + 3 * r, d + 3 * r, tn[r] + static_cast<float>(k) * dt, half);
            c[r] = m;
        }
    });
    at::Tensor starts = counts.cumsum(0) - counts;
    const int64_t total = n ? (starts[n - 1].item<int64_t>() + c[n - 1]) : 0;
    const int64_t* s = starts.data_ptr<int64_t>();
    at::Tensor ray_indices = at::empty({total}, counts.options());
    at::Tensor t_starts = at::empty({total}, origins.options());
    int64_t* ri = ray_indices.data_ptr<int64_t>();
    float* ts = t_starts.data_ptr<float>();
    at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            int64_t w = s[r];
            for (int64_t k = 0; k < ns[r]; ++k) {
                const float t0 = tn[r] + static_cast<float>(k) * dt;
                if (keep(g, o + 3 * r, d + 3 * r, t0, half)) {
                    ri[w] = r;
                    ts[w] = t0;
                    ++w;
                }
            }
        }
    });
    return {ray_indices, t_starts};
}

TORCH_LIBRARY(nerfspec_march, m) {
    m.def("march(Tensor origins, Tensor dirs, Tensor t_near, Tensor n_steps, Tensor lo, Tensor size, "
          "Tensor occupied, float step, int resolution) -> Tensor[]", &march);
}
