// with_postgres: runs a command against a throwaway PostgreSQL cluster
// (storage/testing/postgres_server.h: initdb in a temporary directory, a free
// loopback port, an unprivileged user), for tests written in other languages.
// Every argument "{postgres_url}" is replaced by the URL of a fresh, empty
// database; the cluster is stopped when the command ends, and its exit code
// is this program's.
//
//   with_postgres python crash.py --server_arg=--store={postgres_url}
//
// Exit code 77 (CTest's skip) when PostgreSQL cannot start, unless
// MASKSERVE_REQUIRE_POSTGRES=1 (then 1).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "storage/testing/postgres_server.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: with_postgres COMMAND [ARG...]; {postgres_url} is replaced\n");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<maskserve::PostgresServer>> server =
      maskserve::PostgresServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "with_postgres: %s\n", std::string(server.status().message()).c_str());
    return maskserve::PostgresServer::Required() ? 1 : 77;
  }
  absl::StatusOr<std::string> url = (*server)->CreateDatabase("with_postgres");
  if (!url.ok()) {
    std::fprintf(stderr, "with_postgres: %s\n", std::string(url.status().message()).c_str());
    return 1;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::string& arg : args) {
    for (size_t at; (at = arg.find("{postgres_url}")) != std::string::npos;) {
      arg.replace(at, 14, *url);
    }
  }
  std::vector<char*> exec_argv;
  for (std::string& arg : args) exec_argv.push_back(arg.data());
  exec_argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) {
    std::perror("with_postgres: fork");
    return 1;
  }
  if (child == 0) {
    execvp(exec_argv[0], exec_argv.data());
    std::perror("with_postgres: exec");
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
  }
  (*server)->Stop();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
