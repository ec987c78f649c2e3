// fake_maskserve: the in-memory fake of maskserve (fake_maskserve_service.h)
// as a process, for the Python client and maskctl/load-generator shell tests.
//
//   fake_maskserve --address=127.0.0.1:0 --port_file=PATH [--api_keys=a,b]
//                  [--require_routing_header]
//
// Writes the bound port to --port_file and serves until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "clients/testing/fake_maskserve_service.h"

ABSL_FLAG(std::string, address, "127.0.0.1:0", "Listen address (port 0 = any free port)");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file");
ABSL_FLAG(std::vector<std::string>, api_keys, {}, "Accepted API keys (empty = no auth)");
ABSL_FLAG(int, step_delay_ms, 2, "Milliseconds per fake training step");
ABSL_FLAG(int, predict_delay_ms, 0, "Milliseconds every Predict takes");
ABSL_FLAG(bool, require_routing_header, false,
          "Fail (FAILED_PRECONDITION) profile-scoped calls without an x-maskserve-profile "
          "header equal to their profile_id, and other calls with one");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  maskserve::testing::FakeMaskserveService::Options options;
  options.api_keys = absl::GetFlag(FLAGS_api_keys);
  options.step_delay = absl::Milliseconds(absl::GetFlag(FLAGS_step_delay_ms));
  options.predict_delay = absl::Milliseconds(absl::GetFlag(FLAGS_predict_delay_ms));
  options.require_routing_header = absl::GetFlag(FLAGS_require_routing_header);
  auto server = maskserve::testing::FakeServer::Start(options, absl::GetFlag(FLAGS_address));
  if (!server.ok()) {
    std::cerr << "fake_maskserve: " << server.status().message() << "\n";
    return 1;
  }
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    const std::string temp = port_file + ".tmp";
    std::ofstream(temp) << (*server)->port() << "\n";
    std::rename(temp.c_str(), port_file.c_str());
  }
  std::cerr << "fake_maskserve: listening on " << (*server)->address() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "fake_maskserve: signal " << received << ", shutting down" << std::endl;
  (*server)->Shutdown();
  return 0;
}
