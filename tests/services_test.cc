#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include "bus/kafka.h"
#include "services/ingest_service.h"
#include "services/options.h"

namespace kring::services {
namespace {

TEST(ToBatchTest, MapsExpectedVersions) {
  v1::AppendRequest request;
  request.set_case_id("case-1");
  EXPECT_EQ(ToBatch(v1::AppendRequest(request), "p")->expected.kind, eventstore::ExpectedVersion::Kind::kAny);
  request.mutable_expected_version()->set_exact(0);
  auto exact = ToBatch(v1::AppendRequest(request), "p");
  EXPECT_EQ(exact->expected.kind, eventstore::ExpectedVersion::Kind::kExact);
  EXPECT_EQ(exact->expected.version.value(), 0u);
  request.mutable_expected_version()->set_no_stream(true);
  EXPECT_EQ(ToBatch(v1::AppendRequest(request), "p")->expected.kind, eventstore::ExpectedVersion::Kind::kNoStream);
  EXPECT_EQ(ToBatch(v1::AppendRequest(request), "partner-a")->source, "partner-a");
}

TEST(ToBatchTest, RefusesAFlagSetToFalse) {
  v1::AppendRequest request;
  request.set_case_id("case-1");
  request.mutable_expected_version()->set_no_stream(false);
  auto r = ToBatch(v1::AppendRequest(request), "p");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("expected_version.no_stream"), std::string::npos);
  request.mutable_expected_version()->set_any(false);
  EXPECT_NE(ToBatch(v1::AppendRequest(request), "p").status().message().find("expected_version.any"),
            std::string::npos);
}

TEST(KafkaConfTest, RefusesOverridingWhatDeliveryGuaranteesRestOn) {
  bus::KafkaOptions options;
  options.client_config["acks"] = "1";
  auto conf = bus::MakeConf(options, {{"acks", "all"}});
  EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(conf.status().message().find("acks"), std::string::npos);
  options.client_config = {{"no.such.property", "1"}};
  EXPECT_NE(bus::MakeConf(options, {}).status().message().find("no.such.property"), std::string::npos);
  options.client_config = {{"socket.timeout.ms", "30000"}};
  EXPECT_TRUE(bus::MakeConf(options, {{"acks", "all"}}).ok());
}

TEST(ServerOptionsTest, FlagsWinOverEnvironmentAndBadFlagsNameThemselves) {
  setenv("KRING_DATA_DIR", "/from/env", 1);
  setenv("KRING_KAFKA_BOOTSTRAP", "broker:9092", 1);
  const char* argv[] = {"kringd", "--data-dir", "/from/flag", "--kafka-config", "security.protocol=ssl"};
  auto o = ParseServerOptions(5, const_cast<char**>(argv));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->data_dir, "/from/flag");
  EXPECT_EQ(o->kafka.bootstrap, "broker:9092");
  EXPECT_EQ(o->kafka.client_config.at("security.protocol"), "ssl");
  unsetenv("KRING_DATA_DIR");
  unsetenv("KRING_KAFKA_BOOTSTRAP");

  // Several properties from the environment, so that secrets stay out of argv.
  setenv("KRING_KAFKA_CONFIG", "security.protocol=sasl_ssl;sasl.password=s3cr=t", 1);
  const char* plain[] = {"kringd"};
  auto from_env = ParseServerOptions(1, const_cast<char**>(plain));
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->kafka.client_config.at("security.protocol"), "sasl_ssl");
  EXPECT_EQ(from_env->kafka.client_config.at("sasl.password"), "s3cr=t");
  unsetenv("KRING_KAFKA_CONFIG");

  const char* bad[] = {"kringd", "--kafka-config", "novalue"};
  auto r = ParseServerOptions(3, const_cast<char**>(bad));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--kafka-config"), std::string::npos);
  const char* floor[] = {"kringd", "--occurred-at-floor", "2001-02-03", "--clock-skew-seconds", "60"};
  auto with_floor = ParseServerOptions(5, const_cast<char**>(floor));
  ASSERT_TRUE(with_floor.ok()) << with_floor.status();
  EXPECT_EQ(with_floor->validation.occurred_at_floor, absl::FromCivil(absl::CivilDay(2001, 2, 3), absl::UTCTimeZone()));
  EXPECT_EQ(with_floor->validation.clock_skew, absl::Seconds(60));
  const char* bad_floor[] = {"kringd", "--occurred-at-floor", "yesterday"};
  EXPECT_NE(ParseServerOptions(3, const_cast<char**>(bad_floor)).status().message().find("--occurred-at-floor"),
            std::string::npos);
  const char* range[] = {"kringd", "--max-batch-events", "0"};
  EXPECT_NE(ParseServerOptions(3, const_cast<char**>(range)).status().message().find("--max-batch-events"),
            std::string::npos);
}

}  // namespace
}  // namespace kring::services
