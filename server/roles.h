// File: server/roles.h
//
// What one server process does (--roles): "serve" answers Predict, "train"
// runs training jobs; "serve,train" (the default) does both. Replicas that
// share a PostgreSQL store may split the roles; a server on the embedded
// RocksDB store is the store's only process and must do both.
//
//   absl::StatusOr<ServerRoles> roles = ParseRoles("serve");
//   // INVALID_ARGUMENT "roles: ..." for anything else than a non-empty,
//   // comma-separated set of serve and train.
//
// Thread safety: pure functions.
#ifndef MASKSERVE_SERVER_ROLES_H_
#define MASKSERVE_SERVER_ROLES_H_

#include <string>

#include "absl/status/statusor.h"

namespace maskserve {

struct ServerRoles {
  bool serve = true;
  bool train = true;
};

absl::StatusOr<ServerRoles> ParseRoles(const std::string& roles);
// "serve", "train" or "serve,train".
std::string RolesName(const ServerRoles& roles);

}  // namespace maskserve

#endif  // MASKSERVE_SERVER_ROLES_H_
