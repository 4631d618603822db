// Marching rays through occupancy grid cascades with cone-angle steps on the CPU: the same
// samples as nerfspec.render.cascades.march_cascades (its PyTorch path), per ray in a loop.
// Float operations follow the PyTorch expression order (compiled with -ffp-contract=off), so
// both paths keep exactly the same samples.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

namespace {

struct Cascades {
    const float* aabbs;  // (L, 6)
    const bool* occupied;  // (L R^3)
    int64_t levels;
    int64_t r;
    float fr;
};

// Whether the point at t_mid lies in an occupied cell of the finest level holding it.
inline bool keep(const Cascades& g, const float* o, const float* d, float t_mid) {
    float p[3];
    for (int a = 0; a < 3; ++a) p[a] = o[a] + t_mid * d[a];
    for (int64_t l = 0; l < g.levels; ++l) {
        const float* box = g.aabbs + 6 * l;
        float u[3];
        bool inside = true;
        for (int a = 0; a < 3; ++a) {
            u[a] = (p[a] - box[a]) / (box[a + 3] - box[a]);
            inside = inside && (u[a] >= 0.0f && u[a] < 1.0f);
        }
        if (!inside) continue;
        int64_t cell = 0;
        for (int a = 0; a < 3; ++a) {
            int64_t i = static_cast<int64_t>(u[a] * g.fr);
            i = i < 0 ? 0 : (i > g.r - 1 ? g.r - 1 : i);
            cell = cell * g.r + i;
        }
        return g.occupied[l * g.r * g.r * g.r + cell];
    }
    return false;
}

// Visit the steps of one ray: f(t_start, t_end) for each kept step.
template <typename F>
inline void march_ray(const Cascades& g, const float* o, const float* d, float t_near, float t_far,
                      float step, float cone, F f) {
    float t = t_near;
    if (!(t_near < t_far)) return;
    while (true) {
        const float dt = std::max(t * cone, step);
        const float mid = t + dt * 0.5f;
        if (!(mid < t_far)) return;
        const float t_next = t + dt;
        if (keep(g, o, d, mid)) f(t, t_next);
        t = t_next;
    }
}

}  // namespace

std::vector<at::Tensor> march(at::Tensor origins, at::Tensor dirs, at::Tensor t_near, at::Tensor t_far,
                              at::Tensor aabbs, at::Tensor occupied, double step, double cone_angle,
                              int64_t resolution) {
    TORCH_CHECK(origins.is_contiguous() && dirs.is_contiguous() && t_near.is_contiguous() &&
                t_far.is_contiguous() && aabbs.is_contiguous(), "contiguous inputs");
    TORCH_CHECK(origins.scalar_type() == at::kFloat && aabbs.scalar_type() == at::kFloat, "float32 rays and boxes");
    TORCH_CHECK(occupied.scalar_type() == at::kBool, "bool occupancy");
    const int64_t n = origins.size(0);
    const float* o = origins.data_ptr<float>();
    const float* d = dirs.data_ptr<float>();
    const float* tn = t_near.data_ptr<float>();
    const float* tf = t_far.data_ptr<float>();
    const Cascades g{aabbs.data_ptr<float>(), occupied.data_ptr<bool>(), aabbs.size(0), resolution,
                     static_cast<float>(resolution)};
    const float dt = static_cast<float>(step);
    const float cone = static_cast<float>(cone_angle);

    at::Tensor counts = at::zeros({n}, origins.options().dtype(at::kLong));
    int64_t* c = counts.data_ptr<int64_t>();
    at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            int64_t m = 0;
            march_ray(g, o + 3 * r, d + 3 * r, tn[r], tf[r], dt, cone, [&](float, float) { ++m; });
            c[r] = m;
        }
    });
    at::Tensor starts = counts.cumsum(0) - counts;
    const int64_t total = n ? (starts[n - 1].item<int64_t>() + c[n - 1]) : 0;
    const int64_t* s = starts.data_ptr<int64_t>();
    at::Tensor ray_indices = at::empty({total}, counts.options());
    at::Tensor t_starts = at::empty({total}, origins.options());
    at::Tensor t_ends = at::empty({total}, origins.options());
    int64_t* ri = ray_indices.data_ptr<int64_t>();
    float* ts = t_starts.data_ptr<float>();
    float* te = t_ends.data_ptr<float>();
    at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            int64_t w = s[r];
            march_ray(g, o + 3 * r, d + 3 * r, tn[r], tf[r], dt, cone, [&](float t0, float t1) {
                ri[w] = r;
                ts[w] = t0;
                te[w] = t1;
                ++w;
            });
        }
    });
    return {ray_indices, t_starts, t_ends};
}

TORCH_LIBRARY(nerfspec_cascades, m) {
    m.def("march(Tensor origins, Tensor dirs, Tensor t_near, Tensor t_far, Tensor aabbs, Tensor occupied, "
          "float step, float cone_angle, int resolution) -> Tensor[]", &march);
}
