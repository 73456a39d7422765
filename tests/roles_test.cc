// --roles and the flags of read replicas (services/roles.h, services/options.cc).
#include "services/roles.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/options.h"

namespace kring::services {
namespace {

absl::StatusOr<ServerOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "kringd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseServerOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(RolesTest, DefaultIsEveryRoleAndTheDefaultConsumerGroups) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->roles.all());
  EXPECT_EQ(o->roles.ToString(), "ingest,relay,projections,query");
  EXPECT_EQ(o->consumer_group_prefix, "kring.projection");
}

TEST(RolesTest, ParsesAnySubsetWithSpacesAndRepeats) {
  auto r = ParseRoles(" ingest , relay,ingest");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ToString(), "ingest,relay");
}

TEST(RolesTest, UnknownOrEmptyRoleIsRefusedNamingTheFlag) {
  for (const std::string bad : {"ingest,replica", "", "ingest,,relay"}) {
    auto r = ParseRoles(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--roles"), std::string::npos) << r.status();
  }
}

TEST(RolesTest, RelayNeedsIngestAndQueryNeedsProjections) {
  auto relay = Parse({"--roles", "relay"});
  ASSERT_FALSE(relay.ok());
  EXPECT_NE(relay.status().message().find("relay needs ingest"), std::string::npos) << relay.status();
  auto query = Parse({"--roles", "ingest,query"});
  ASSERT_FALSE(query.ok());
  EXPECT_NE(query.status().message().find("query needs projections"), std::string::npos) << query.status();
}

TEST(RolesTest, AReplicaNeedsAnIngestNodeAndRealBrokers) {
  auto no_node = Parse({"--roles", "projections,query", "--kafka-bootstrap", "k:9092"});
  ASSERT_FALSE(no_node.ok());
  EXPECT_NE(no_node.status().message().find("--ingest-node"), std::string::npos) << no_node.status();
  auto no_kafka = Parse({"--roles", "projections,query", "--ingest-node", "ingest:50051"});
  ASSERT_FALSE(no_kafka.ok());
  EXPECT_NE(no_kafka.status().message().find("--kafka-bootstrap"), std::string::npos) << no_kafka.status();
  auto ok = Parse({"--roles", "projections,query", "--ingest-node", "ingest:50051", "--kafka-bootstrap", "k:9092",
                   "--consumer-group-prefix", "kring.replica-1"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->roles.ingest);
  EXPECT_EQ(ok->consumer_group_prefix, "kring.replica-1");
}

TEST(RolesTest, IngestNodeIsRefusedOnAProcessWithTheIngestRole) {
  auto o = Parse({"--ingest-node", "other:50051"});
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("--ingest-node"), std::string::npos) << o.status();
}

}  // namespace
}  // namespace kring::services
