// native/pool.h: a small persistent thread pool for intra-op parallelism (the `native-mt`
// backend's matmul). Helper threads are created on first use and live until the process exits.
#pragma once
#include <functional>

namespace kd {
// Runs part(0) .. part(n - 1), part(0) on the calling thread and the others on helper threads,
// and returns when all are done. Calls from several threads at once are serialized. An
// exception thrown by a part is rethrown here (the first one).
void parallel_parts(int n, const std::function<void(int)>& part);
}  // namespace kd
