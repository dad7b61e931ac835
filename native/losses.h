// native/losses.h: fused loss + gradient kernels (KD, cross-entropy, MSE). Each returns the
// loss and writes (or adds, when accumulate) the gradient of that same loss.
#pragma once
#include <cstdint>

extern "C" {
// dS, s (student logits), t (teacher logits) are (N,K).
// loss = alpha·(T² if scaleT2 else 1)·(1/N)·sum_n KL(softmax(t_n/T) ‖ softmax(s_n/T));
// dS = (dS if accumulate) + alpha·(T if scaleT2 else 1/T)·(p_s − p_t)/N. Returns 0 when N = 0.
double kd_kd_loss(float* dS, const float* s, const float* t, int64_t N, int64_t K, double T,
                  double alpha, bool scaleT2, bool accumulate);
// dlogits, logits are (N,K); labels is (N), each in [0,K) (the caller checks).
// loss = weight·(1/N)·sum_n −log softmax(logits_n)[labels_n];
// dlogits = (dlogits if accumulate) + weight·(softmax(logits) − onehot(labels))/N.
double kd_cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t N,
                        int64_t K, double weight, bool accumulate);
// dpred, pred, target are (n): loss = weight·(1/n)·sum (pred − target)²;
// dpred = (dpred if accumulate) + weight·2·(pred − target)/n.
double kd_mse(float* dpred, const float* pred, const float* target, int64_t n, double weight,
              bool accumulate);
}
