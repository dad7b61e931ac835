// native/losses.cc: fused losses. KD and CE rows are short (K classes): scalar f64 math as in
// the reference; MSE is a long vector: vectorized, runtime-dispatched, f64 total per 8 lanes.
#include "losses.h"

#include <cmath>

#include "simd.h"
#include "softmax.h"

extern "C" {

// dS, s, t are (N,K).
double kd_kd_loss(float* dS, const float* s, const float* t, int64_t N, int64_t K, double T,
                  double alpha, bool scaleT2, bool accumulate) {
  if (N <= 0) return 0.0;
  const double invT = 1.0 / T;
  const double lossScale = alpha * (scaleT2 ? T * T : 1.0) / N;
  const double gradScale = alpha * (scaleT2 ? T : invT) / N;
  double total = 0.0;
  for (int64_t n = 0; n < N; n++) {
    const float* sn = s + n * K;
    const float* tn = t + n * K;
    float* dn = dS + n * K;
    const double lseS = kd::row_lse(sn, K, invT);
    const double lseT = kd::row_lse(tn, K, invT);
    for (int64_t k = 0; k < K; k++) {
      const double logPt = tn[k] * invT - lseT;
      const double logPs = sn[k] * invT - lseS;
      const double pt = std::exp(logPt);
      const double ps = std::exp(logPs);
      if (pt > 0) total += pt * (logPt - logPs);
      const double g = gradScale * (ps - pt);
      dn[k] = static_cast<float>(accumulate ? dn[k] + g : g);
    }
  }
  return total * lossScale;
}

// dlogits, logits are (N,K); labels is (N).
double kd_cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t N,
                        int64_t K, double weight, bool accumulate) {
  if (N <= 0) return 0.0;
  const double scale = weight / N;
  double total = 0.0;
  for (int64_t n = 0; n < N; n++) {
    const float* z = logits + n * K;
    float* d = dlogits + n * K;
    const int32_t y = labels[n];
    const double lse = kd::row_lse(z, K, 1.0);
    total += lse - z[y];
    for (int64_t k = 0; k < K; k++) {
      const double g = scale * (std::exp(z[k] - lse) - (k == y ? 1.0 : 0.0));
      d[k] = static_cast<float>(accumulate ? d[k] + g : g);
    }
  }
  return total * scale;
}

// dpred, pred, target are (n).
KD_CLONES double kd_mse(float* dpred, const float* pred, const float* target, int64_t n, double weight,
                        bool accumulate) {
  if (n <= 0) return 0.0;
  const float g = static_cast<float>(weight * 2.0 / n);
  double total = 0.0;
  int64_t i = 0;
  // Blocks of 256: f32 partial sums in 8 lanes, folded into an f64 total.
  while (i < n) {
    const int64_t end = n - i > 256 ? i + 256 : n;
    v8f acc = {};
    for (; i + 8 <= end; i += 8) {
      const v8f d = kd_load(pred + i) - kd_load(target + i);
      acc += d * d;
      const v8f gd = g * d;
      kd_store(dpred + i, accumulate ? kd_load(dpred + i) + gd : gd);
    }
    for (; i < end; i++) {
      const float d = pred[i] - target[i];
      total += static_cast<double>(d) * d;
      dpred[i] = accumulate ? dpred[i] + g * d : g * d;
    }
    for (int l = 0; l < 8; l++) total += acc[l];
  }
  return weight * total / n;
}

}  // extern "C"
