// native/pool.cc: see pool.h. Helpers wait on a condition variable for a new generation of work;
// the pool object is never destroyed (threads are detached), so process exit never blocks on it.
#include "pool.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kd {
namespace {

class Pool {
 public:
  void run(int n, const std::function<void(int)>& part) {
    std::lock_guard<std::mutex> serial(run_mu_);
    grow(n - 1);
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = &part;
      parts_ = n;
      pending_ = static_cast<int>(helpers_);
      error_ = nullptr;
      gen_++;
    }
    cv_.notify_all();
    std::exception_ptr mine;
    try {
      part(0);
    } catch (...) {
      mine = std::current_exception();
    }
    std::unique_lock<std::mutex> l(mu_);
    done_.wait(l, [this] { return pending_ == 0; });
    job_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void grow(int want) {
    while (static_cast<int>(helpers_) < want) {
      const int id = static_cast<int>(helpers_) + 1;
      unsigned long start;
      {
        std::lock_guard<std::mutex> l(mu_);
        helpers_++;
        start = gen_;  // the generation it has seen: it takes every later one, whenever it starts
      }
      std::thread([this, id, start] { loop(id, start); }).detach();
    }
  }

  void loop(int id, unsigned long seen) {
    for (;;) {
      const std::function<void(int)>* job;
      int parts;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return gen_ != seen; });
        seen = gen_;
        job = job_;
        parts = parts_;
      }
      std::exception_ptr err;
      if (job && id < parts) {
        try {
          (*job)(id);
        } catch (...) {
          err = std::current_exception();
        }
      }
      std::lock_guard<std::mutex> l(mu_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mu_, mu_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0, pending_ = 0;
  size_t helpers_ = 0;
  unsigned long gen_ = 0;
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
