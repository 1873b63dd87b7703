// The hardware limit: how long the E-step's and the M-step's arithmetic would take at the
// CPU's peak FMA rate (measured by peak/fma/<target>), next to the measured times.
#ifndef STREAMIX_BENCH_HARDWARE_LIMIT_H
#define STREAMIX_BENCH_HARDWARE_LIMIT_H

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace streamix_bench {

void register_peak();

// Records each benchmark's samples per second (median over repetitions when there are
// several) while forwarding every report to the reporter the command line asked for.
class Recorder : public benchmark::BenchmarkReporter {
 public:
  // json: the display format asked for (read before benchmark::Initialize consumes it).
  explicit Recorder(bool json);
  static bool wants_json(int argc, char** argv);
  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override { inner_->Finalize(); }
  benchmark::BenchmarkReporter* display() { return this; }
  benchmark::BenchmarkReporter* file() { return nullptr; }  // --benchmark_out still works
  // Prints the hardware-limit table: the E-step and M-step at K = D = 16, mini-batches and
  // batch scoring at K = D = 16 and 64 (each line only if its runs are there).
  void print_hardware_limit(std::FILE* out) const;

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::string, std::vector<double>> rates_;    // per repetition
  std::map<std::string, double> median_rate_;           // from the median aggregate
  double rate(const std::string& prefix) const;  // samples/s of the first run named prefix*
};

}  // namespace streamix_bench

#endif  // STREAMIX_BENCH_HARDWARE_LIMIT_H
