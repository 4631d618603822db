// Marching rays through an occupancy grid on the CPU: the same samples as
// nerfspec.render.sampling.march_grid (its PyTorch path), computed per ray without the
// (rays x steps) candidate tensors. Float operations follow the PyTorch expression order
// (compiled with -ffp-contract=off), so both paths keep exactly the same samples.
//
// Empty space is skipped: a step whose midpoint lies in an empty cell jumps to the last step
// whose midpoint is still at least MARGIN cells inside the largest empty block of 2^m cells per
// side (m >= 0, aligned as a mip pyramid of the grid) that holds the cell. Every step jumped over
// thus has its midpoint in an empty block with a margin some 300 times the float rounding of the
// midpoint, so it would have been dropped: the kept samples are those of the step-by-step march.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace {

constexpr double MARGIN = 1e-2;  // cells: how far inside an empty block a skipped midpoint stays

struct Grid {
    const float* lo;
    const float* size;
    double cell[3];  // a cell's side in world units, per axis
    const bool* occupied;
    // mips[m - 1]: (nb_m^3,) any cell occupied in each block of 2^m cells per side, m = 1 .. levels
    const std::vector<std::vector<char>>* mips;
    int64_t r;
    float fr;
};

// Occupancy of blocks of 2^m cells per side, m = 1, 2, ... while a block is smaller than the grid.
std::vector<std::vector<char>> mip_pyramid(const bool* occupied, int64_t r) {
    std::vector<std::vector<char>> mips;
    std::vector<char> level(occupied, occupied + r * r * r);
    int64_t n = r;
    while (n > 1) {
        const int64_t m = (n + 1) / 2;
        std::vector<char> up(m * m * m, 0);
        for (int64_t x = 0; x < n; ++x)
            for (int64_t y = 0; y < n; ++y)
                for (int64_t z = 0; z < n; ++z)
                    if (level[(x * n + y) * n + z]) up[((x / 2) * m + y / 2) * m + z / 2] = 1;
        mips.push_back(up);
        level.swap(up);
        n = m;
    }
    return mips;
}

// The cell (flat index, and ijk) of a midpoint t_mid, or false when it lies outside the box.
inline bool cell_of(const Grid& g, const float* o, const float* d, float t_mid, int64_t* ijk, int64_t& cell) {
    cell = 0;
    for (int a = 0; a < 3; ++a) {
        const float p = o[a] + t_mid * d[a];
        const float u = (p - g.lo[a]) / g.size[a];
        if (!(u >= 0.0f && u < 1.0f)) return false;
        int64_t i = static_cast<int64_t>(u * g.fr);
        i = i < 0 ? 0 : (i > g.r - 1 ? g.r - 1 : i);
        ijk[a] = i;
        cell = cell * g.r + i;
    }
    return true;
}

// Where the ray leaves the largest empty mip block holding the empty cell ijk.
inline double empty_block_exit(const Grid& g, const float* o, const double* inv_d, const int64_t* ijk) {
    int shift = 0;
    int64_t n = g.r;
    for (const auto& mip : *g.mips) {
        n = (n + 1) / 2;
        const int s = shift + 1;
        if (mip[((ijk[0] >> s) * n + (ijk[1] >> s)) * n + (ijk[2] >> s)]) break;
        shift = s;
    }
    double t = std::numeric_limits<double>::infinity();
    for (int a = 0; a < 3; ++a) {
        if (inv_d[a] == 0.0) continue;
        const int64_t first = (ijk[a] >> shift) << shift;
        const int64_t plane = inv_d[a] > 0.0 ? std::min(first + (int64_t{1} << shift), g.r) : first;
        const double world = g.lo[a] + static_cast<double>(plane) * g.cell[a];
        t = std::min(t, (world - o[a]) * inv_d[a]);
    }
    return t;
}

// Calls emit(t0) for each kept step of one ray, front to back (step k: t0 = t_near + k dt).
template <typename Emit>
inline void march_ray(const Grid& g, const float* o, const float* d, float tn, int64_t n_steps, float dt,
                      float half, Emit emit) {
    // MARGIN cells as a distance along the ray: the smallest cell side over the ray's speed |d|
    double cell = std::numeric_limits<double>::infinity(), speed = 0.0, inv_d[3];
    const double inv_dt = 1.0 / dt;
    for (int a = 0; a < 3; ++a) {
        cell = std::min(cell, g.cell[a]);
        speed += static_cast<double>(d[a]) * d[a];
        inv_d[a] = d[a] == 0.0f ? 0.0 : 1.0 / d[a];
    }
    const double margin = MARGIN * cell / std::sqrt(std::max(speed, 1e-30));
    int64_t ijk[3];
    int64_t k = 0;
    while (k < n_steps) {
        const float t0 = tn + static_cast<float>(k) * dt;
        int64_t flat;
        if (!cell_of(g, o, d, t0 + half, ijk, flat)) { ++k; continue; }
        if (g.occupied[flat]) { emit(t0); ++k; continue; }
        // the first step whose midpoint may lie within MARGIN of the block's exit, or beyond it
        const double next = std::ceil((empty_block_exit(g, o, inv_d, ijk) - margin - tn - half) * inv_dt);
        k = std::max(k + 1, next < static_cast<double>(n_steps) ? static_cast<int64_t>(next) : n_steps);
    }
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
    const int64_t r = resolution;
    const bool* occ = occupied.data_ptr<bool>();
    const std::vector<std::vector<char>> mips = mip_pyramid(occ, r);
    const float* sz = size.data_ptr<float>();
    const Grid g{lo.data_ptr<float>(), sz, {double(sz[0]) / r, double(sz[1]) / r, double(sz[2]) / r}, occ, &mips, r,
                 static_cast<float>(r)};
    const float dt = static_cast<float>(step);
    const float half = static_cast<float>(0.5 * step);

    // one pass: each chunk of rays appends its samples to its own buffers, concatenated after
    constexpr int64_t CHUNK = 1024;
    const int64_t n_chunks = (n + CHUNK - 1) / CHUNK;
    std::vector<std::vector<int64_t>> chunk_rays(n_chunks);
    std::vector<std::vector<float>> chunk_ts(n_chunks);
    at::parallel_for(0, n_chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
            auto& rays = chunk_rays[c];
            auto& ts = chunk_ts[c];
            for (int64_t ray = c * CHUNK; ray < std::min(n, (c + 1) * CHUNK); ++ray)
                march_ray(g, o + 3 * ray, d + 3 * ray, tn[ray], ns[ray], dt, half, [&](float t0) {
                    rays.push_back(ray);
                    ts.push_back(t0);
                });
        }
    });
    std::vector<int64_t> offsets(n_chunks + 1, 0);
    for (int64_t c = 0; c < n_chunks; ++c) offsets[c + 1] = offsets[c] + static_cast<int64_t>(chunk_rays[c].size());
    at::Tensor ray_indices = at::empty({offsets[n_chunks]}, origins.options().dtype(at::kLong));
    at::Tensor t_starts = at::empty({offsets[n_chunks]}, origins.options());
    int64_t* ri = ray_indices.data_ptr<int64_t>();
    float* ts = t_starts.data_ptr<float>();
    at::parallel_for(0, n_chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
            std::copy(chunk_rays[c].begin(), chunk_rays[c].end(), ri + offsets[c]);
            std::copy(chunk_ts[c].begin(), chunk_ts[c].end(), ts + offsets[c]);
        }
    });
    return {ray_indices, t_starts};
}

TORCH_LIBRARY(nerfspec_march, m) {
    m.def("march(Tensor origins, Tensor dirs, Tensor t_near, Tensor n_steps, Tensor lo, Tensor size, "
          "Tensor occupied, float step, int resolution) -> Tensor[]", &march);
}
