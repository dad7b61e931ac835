// native/pool.cc: see pool.h. A run publishes a new generation of work; helpers busy-wait for it
// for a while after their last part (a kernel usually follows another within microseconds, and
// waking a sleeping thread costs tens of microseconds or more on a VM), then sleep on a condition
// variable. The caller spins until the helpers are done. The pool object is never destroyed
// (threads are detached), so process exit never blocks on it.
#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KD_PAUSE() _mm_pause()
#else
#define KD_PAUSE() std::this_thread::yield()
#endif

namespace kd {
namespace {

constexpr auto kSpin = std::chrono::microseconds(1000);  // how long an idle helper busy-waits

class Pool {
 public:
  void run(int n, const std::function<void(int)>& part) {
    std::lock_guard<std::mutex> serial(run_mu_);
    grow(n - 1);
    job_ = &part;
    parts_ = n;
    error_ = nullptr;
    pending_.store(helpers_, std::memory_order_seq_cst);
    gen_.fetch_add(1, std::memory_order_seq_cst);  // publishes job_, parts_ (seq_cst, paired with sleepers_)
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> l(mu_);
      cv_.notify_all();
    }
    std::exception_ptr mine;
    try {
      part(0);
    } catch (...) {
      mine = std::current_exception();
    }
    while (pending_.load(std::memory_order_acquire) != 0) KD_PAUSE();
    job_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void grow(int want) {
    while (helpers_ < want) {
      const int id = ++helpers_;
      const unsigned long start = gen_.load(std::memory_order_seq_cst);  // it takes every later generation
      std::thread([this, id, start] { loop(id, start); }).detach();
    }
  }

  void loop(int id, unsigned long seen) {
    for (;;) {
      // Busy-wait a little, then sleep until the next generation.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      unsigned long g;
      int spins = 0;
      while ((g = gen_.load(std::memory_order_seq_cst)) == seen) {
        KD_PAUSE();
        if (++spins % 256 == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> l(mu_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          cv_.wait(l, [&] { return gen_.load(std::memory_order_seq_cst) != seen; });
          sleepers_.fetch_sub(1, std::memory_order_seq_cst);
          g = gen_.load(std::memory_order_seq_cst);
          break;
        }
      }
      seen = g;
      if (id < parts_) {
        try {
          (*job_)(id);
        } catch (...) {
          std::lock_guard<std::mutex> l(mu_);
          if (!error_) error_ = std::current_exception();
        }
      }
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::mutex run_mu_, mu_;
  std::condition_variable cv_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0;
  int helpers_ = 0;
  std::atomic<unsigned long> gen_{0};
  std::atomic<int> pending_{0}, sleepers_{0};
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: helpers may still be waiting at exit
  return *p;
}

}  // namespace

void parallel_parts(int n, const std::function<void(int)>& part) {
  if (n <= 1) {
    part(0);
    return;
  }
  pool().run(n, part);
}

}  // namespace kd
