// --roles parsing: serve, train, both (in any order, with spaces); anything
// else names the flag.
#include "server/roles.h"

#include <gtest/gtest.h>

namespace maskserve {
namespace {

TEST(RolesTest, ParsesEachRoleAndBoth) {
  for (const auto& [text, serve, train] :
       std::vector<std::tuple<std::string, bool, bool>>{{"serve", true, false},
                                                        {"train", false, true},
                                                        {"serve,train", true, true},
                                                        {" train , serve ", true, true},
                                                        {"serve,serve", true, false}}) {
    absl::StatusOr<ServerRoles> roles = ParseRoles(text);
    ASSERT_TRUE(roles.ok()) << text << ": " << roles.status();
    EXPECT_EQ(roles->serve, serve) << text;
    EXPECT_EQ(roles->train, train) << text;
  }
  EXPECT_EQ(RolesName({true, true}), "serve,train");
  EXPECT_EQ(RolesName({false, true}), "train");
}

TEST(RolesTest, AnythingElseNamesTheFlag) {
  for (const char* text : {"", "serving", "serve,", "serve;train", "SERVE"}) {
    absl::StatusOr<ServerRoles> roles = ParseRoles(text);
    EXPECT_EQ(roles.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(roles.status().message().rfind("roles: ", 0), 0u) << roles.status();
  }
}

}  // namespace
}  // namespace maskserve
