// The cell key method's parts (projections/cell_key.h): the perturbation
// table, record keys (HMAC-SHA256 against RFC 4231), counts and sums as
// documented, the secret file's checks and their messages, and that a read
// model's figures follow the secret: the same secret the same figures,
// another secret other figures.
#include "projections/cell_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/statistics.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

TEST(CellKeyTable, HasTheDocumentedValuesMeanZeroAndVarianceSevenEighths) {
  std::map<int, int> histogram;
  double sum = 0, squares = 0;
  for (uint32_t i = 0; i < 256; ++i) {
    const int p = PerturbationAt(i);
    ++histogram[p];
    sum += p;
    squares += p * p;
  }
  EXPECT_EQ(histogram, (std::map<int, int>{{-2, 16}, {-1, 48}, {0, 128}, {1, 48}, {2, 16}}));
  EXPECT_EQ(PerturbationAt(15), -2);
  EXPECT_EQ(PerturbationAt(16), -1);
  EXPECT_EQ(PerturbationAt(63), -1);
  EXPECT_EQ(PerturbationAt(64), 0);
  EXPECT_EQ(PerturbationAt(191), 0);
  EXPECT_EQ(PerturbationAt(192), 1);
  EXPECT_EQ(PerturbationAt(239), 1);
  EXPECT_EQ(PerturbationAt(240), 2);
  EXPECT_EQ(sum, 0);
  EXPECT_DOUBLE_EQ(squares / 256, 0.875);
  EXPECT_EQ(kMaxCountPerturbation, 2u);
  EXPECT_STREQ(kPtableVersion, "kring-ptable-1");
  // The count uses the top byte, the sum the next one.
  EXPECT_EQ(CountPerturbation(0x0FFF'FFFF'FFFF'FFFFull), -2);
  EXPECT_EQ(CountPerturbation(0xF000'0000'0000'0000ull), 2);
  EXPECT_EQ(SumPerturbation(0xFF0F'FFFF'FFFF'FFFFull), -2);
  EXPECT_EQ(SumPerturbation(0x00F0'0000'0000'0000ull), 2);
}

TEST(CellKeyRecordKey, IsTheFirstEightBytesOfHmacSha256BigEndian) {
  // RFC 4231 test case 6: a 131-byte key of 0xaa.
  auto secret = CellKeySecret::FromBytes(std::string(131, '\xaa'));
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ((*secret)->RecordKey("Test Using Larger Than Block-Size Key - Hash Key First"), 0x60e431591ee0b67full);
  EXPECT_EQ((*secret)->CaseKey("c-1"), (*secret)->RecordKey("case:c-1"));
  EXPECT_EQ((*secret)->ConferenceKey("e-1"), (*secret)->RecordKey("conference:e-1"));
  EXPECT_NE((*secret)->CaseKey("c-1"), (*secret)->CaseKey("c-2"));
  auto other = CellKeySecret::FromBytes(std::string(32, 'x'));
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->CaseKey("c-1"), (*secret)->CaseKey("c-1"));
  EXPECT_NE((*other)->Fingerprint(), (*secret)->Fingerprint());
  EXPECT_EQ((*secret)->Fingerprint().size(), 16u);
}

TEST(CellKeyCount, ZeroStaysZeroAndNoCountFromOneToKMinusOneIsPublished) {
  for (uint64_t key = 0; key < (uint64_t{1} << 60); key += uint64_t{1} << 52) {  // every top byte, several times
    EXPECT_EQ(PerturbCount(0, key, 5), 0u);
    for (uint64_t c = 5; c < 12; ++c) {
      const uint64_t published = PerturbCount(c, key, 5);
      EXPECT_GE(published, 5u) << c;
      EXPECT_EQ(static_cast<int64_t>(published),
                std::max<int64_t>(5, static_cast<int64_t>(c) + CountPerturbation(key)));
    }
  }
  // Deterministic: the same count and key always give the same figure.
  EXPECT_EQ(PerturbCount(7, 0xDEADBEEFull << 32, 5), PerturbCount(7, 0xDEADBEEFull << 32, 5));
  EXPECT_EQ(PerturbCount(5, 0, 5), 5u);   // 5 - 2, floored at k
  EXPECT_EQ(PerturbCount(10, 0, 5), 8u);  // 10 - 2
  EXPECT_EQ(PerturbCount(10, ~uint64_t{0}, 5), 12u);
}

TEST(CellKeySum, IsXPlusQTimesXOverCRoundedHalfAwayFromZeroForWholeQuantities) {
  const uint64_t plus_one = uint64_t{0xC0} << 48;  // sum index 0xC0: +1
  const uint64_t minus_two = 0;                    // sum index 0: -2
  EXPECT_EQ(SumPerturbation(plus_one), 1);
  EXPECT_DOUBLE_EQ(PerturbSum(10, 4, plus_one), 12.5);
  EXPECT_DOUBLE_EQ(PerturbSum(10, 4, minus_two), 5);
  EXPECT_DOUBLE_EQ(PerturbSum(10, 0, minus_two), 10);  // no units: unchanged
  EXPECT_EQ(PerturbIntegerSum(1, 2, plus_one), 2);     // 1.5 -> 2
  EXPECT_EQ(PerturbIntegerSum(-1, 2, plus_one), -2);   // -1.5 -> -2
  EXPECT_EQ(PerturbIntegerSum(0, 7, plus_one), 0);
  // Means derived from perturbed figures keep the exact mean when only the
  // count's perturbation is zero: X' / c = X / c (1 + q / c).
  EXPECT_DOUBLE_EQ(PerturbSum(0.75 * 8, 8, plus_one) / 8, 0.75 * 9 / 8);
}

class CellKeyFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes, mode_t mode) {
    const std::string path = dir_.Sub(name);
    std::ofstream(path, std::ios::binary) << bytes;
    ::chmod(path.c_str(), mode);
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(CellKeyFileTest, LoadsAFileOfAtLeast32BytesReadableByItsOwnerOnly) {
  const std::string path = Write("key", std::string(40, 'k'), 0600);
  auto secret = CellKeySecret::Load(path, "--cell-key-file");
  ASSERT_TRUE(secret.ok()) << secret.status();
  auto same = CellKeySecret::FromBytes(std::string(40, 'k'));
  EXPECT_EQ((*secret)->Fingerprint(), (*same)->Fingerprint());  // the whole file is the key
  EXPECT_TRUE(CellKeySecret::Load(Write("ro", std::string(32, 'k'), 0400), "--cell-key-file").ok());
}

TEST_F(CellKeyFileTest, RefusesMissingGroupReadableShortAndNonRegularFilesNamingTheFlagAndRule) {
  auto missing = CellKeySecret::Load(dir_.Sub("none"), "--cell-key-file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "--cell-key-file: ")) << missing.status();
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "does not exist")) << missing.status();

  auto group = CellKeySecret::Load(Write("group", std::string(32, 'k'), 0640), "--cell-key-file");
  EXPECT_EQ(group.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(group.status().message(), "has mode 0640")) << group.status();
  EXPECT_TRUE(absl::StrContains(group.status().message(), "chmod 600")) << group.status();
  auto world = CellKeySecret::Load(Write("world", std::string(32, 'k'), 0604), "--cell-key-file");
  EXPECT_EQ(world.status().code(), absl::StatusCode::kPermissionDenied);

  auto short_file = CellKeySecret::Load(Write("short", std::string(31, 'k'), 0600), "--cell-key-file");
  EXPECT_EQ(short_file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(short_file.status().message(), "at least 32")) << short_file.status();
  EXPECT_TRUE(absl::StrContains(short_file.status().message(), "holds 31")) << short_file.status();

  std::filesystem::create_directories(dir_.Sub("folder"));
  ::chmod(dir_.Sub("folder").c_str(), 0700);
  auto folder = CellKeySecret::Load(dir_.Sub("folder"), "--cell-key-file");
  EXPECT_EQ(folder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(folder.status().message(), "not a regular file")) << folder.status();

  EXPECT_EQ(CellKeySecret::FromBytes(std::string(31, 'k')).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CellKeyFileTest, TheDefaultFileIsCreatedOnceWith32RandomBytesMode0600AndThenKept) {
  const std::string path = dir_.Sub("cell-key");
  bool created = false;
  auto first = CellKeySecret::LoadOrCreate(path, "--cell-key-file", &created);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(created);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto again = CellKeySecret::LoadOrCreate(path, "--cell-key-file", &created);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(created);
  EXPECT_EQ((*again)->Fingerprint(), (*first)->Fingerprint());
  // Another data folder gets another secret.
  auto other = CellKeySecret::LoadOrCreate(dir_.Sub("other-key"), "--cell-key-file");
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->Fingerprint(), (*first)->Fingerprint());
}

// A read model over 40 cases, with one secret or another.
class CellKeyModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    for (int i = 0; i < 40; ++i) {
      ids_.push_back("cell-key-case-" + std::to_string(i));
      ASSERT_TRUE(store_->Append(testing::Batch(ids_.back(), {testing::CaseReferredEvent()})).ok());
    }
  }
  v1::OutcomesResponse Answer(std::shared_ptr<const CellKeySecret> secret, const std::string& folder) {
    ProjectionOptions options;
    options.path = dir_.Sub(folder);
    auto engine = ProjectionEngine::Open(options, std::make_unique<OutcomesProjection>(secret), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    EXPECT_TRUE((*engine)->CatchUpFromStore().ok());
    v1::OutcomesRequest request;
    request.mutable_disclosure()->set_min_cell_size(5);
    auto r = QueryOutcomes(**engine, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  testing::TempDir dir_;
  std::unique_ptr<eventstore::EventStore> store_;
  std::vector<std::string> ids_;
};

TEST_F(CellKeyModelTest, APublishedCountIsTheExactCountPerturbedByTheSumOfItsCasesRecordKeys) {
  const auto secret = kring::testing::TestCellKeySecret();
  const v1::OutcomesResponse r = Answer(secret, "a");
  uint64_t key = 0;
  for (const std::string& id : ids_) key += secret->CaseKey(id);
  EXPECT_EQ(r.overall().referred(), PerturbCount(40, key, 5));
  EXPECT_EQ(r.disclosure().method(), "cell key");
  EXPECT_EQ(r.disclosure().ptable_version(), "kring-ptable-1");
  EXPECT_EQ(r.disclosure().max_count_perturbation(), 2u);
  EXPECT_EQ(r.disclosure().sum_rule(), kSumRule);
}

TEST_F(CellKeyModelTest, TheSameSecretGivesTheSameFiguresAndAnotherSecretOtherFigures) {
  const auto a = kring::testing::TestCellKeySecret();
  EXPECT_EQ(Answer(a, "a1").overall().referred(), Answer(a, "a2").overall().referred());
  // Over several secrets the published count of the same 40 cases varies
  // (each is 40 + p for that secret's cell key).
  std::set<uint64_t> seen;
  for (int i = 0; i < 12; ++i) {
    auto s = CellKeySecret::FromBytes("another secret of at least 32 bytes #" + std::to_string(i));
    ASSERT_TRUE(s.ok());
    const uint64_t referred = Answer(*s, "s" + std::to_string(i)).overall().referred();
    uint64_t key = 0;
    for (const std::string& id : ids_) key += (*s)->CaseKey(id);
    EXPECT_EQ(referred, PerturbCount(40, key, 5));
    seen.insert(referred);
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST(CellKeyKaplanMeier, FromRowsComputesSurvivalAndBandsFromEachRowsOwnCounts) {
  // The exact table gives the curve KaplanMeierFromCounts gives.
  const std::map<int64_t, SurvivalCounts> counts = {{3, {2, 1}}, {7, {1, 0}}, {9, {0, 2}}, {12, {3, 1}}};
  auto exact = KaplanMeierFromCounts(counts);
  ASSERT_TRUE(exact.ok());
  std::vector<KaplanMeierRow> rows;
  for (const KaplanMeierRow& r : exact->rows) rows.push_back({r.days, r.at_risk, r.events, r.censored});
  auto again = KaplanMeierFromRows(rows);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->rows.size(), exact->rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(again->rows[i].survival, exact->rows[i].survival) << i;
    EXPECT_EQ(again->rows[i].lower, exact->rows[i].lower) << i;
    EXPECT_EQ(again->rows[i].upper, exact->rows[i].upper) << i;
  }
  // Perturbed rows need not be consistent: each factor is (n' - d') / n'.
  auto perturbed = KaplanMeierFromRows({{3, 12, 3, 1}, {7, 9, 1, 0}, {12, 6, 6, 1}});
  ASSERT_TRUE(perturbed.ok());
  EXPECT_DOUBLE_EQ(perturbed->rows[0].survival, 9.0 / 12);
  EXPECT_DOUBLE_EQ(perturbed->rows[1].survival, 9.0 / 12 * (8.0 / 9));
  EXPECT_EQ(perturbed->rows[2].survival, 0.0);
  EXPECT_EQ(KaplanMeierFromRows({{3, 2, 3, 0}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KaplanMeierFromRows({{3, 5, 1, 0}, {3, 4, 1, 0}}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Network size keeps each conference's record key in its store: reopened
// with another secret, it starts over and gives that secret's figures.
TEST(CellKeyStoredKeys, ANetworkSizeModelReopenedWithAnotherSecretIsRebuiltWithItsKeys) {
  testing::TempDir dir;
  eventstore::EventStoreOptions store_options;
  store_options.path = dir.Sub("store");
  store_options.sync = false;
  auto store = eventstore::EventStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 30; ++i) {
    const std::string id = "ns-case-" + std::to_string(i);
    std::vector<v1::Event> events = {testing::CaseReferredEvent(),
                                     testing::ParticipantInvitedEvent(id + "-a", v1::RELATION_FAMILY),
                                     testing::ParticipantInvitedEvent(id + "-b", v1::RELATION_FRIEND),
                                     testing::CoordinatorAssignedEvent(id + "-coord")};
    std::vector<std::string> attendees = {id + "-a", id + "-coord"};
    if (i % 2 == 0) attendees.push_back(id + "-b");
    events.push_back(testing::ConferenceHeldEvent(attendees));
    auto r = (*store)->Append(testing::Batch(id, events));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  auto answer = [&](std::shared_ptr<const CellKeySecret> secret, const std::string& folder) {
    ProjectionOptions options;
    options.path = dir.Sub(folder);
    auto engine = ProjectionEngine::Open(options, std::make_unique<NetworkSizeProjection>(secret), store->get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    EXPECT_TRUE((*engine)->CatchUpFromStore().ok());
    v1::NetworkSizeRequest request;
    request.mutable_disclosure()->set_min_cell_size(5);
    auto r = QueryNetworkSize(**engine, request);
    EXPECT_TRUE(r.ok()) << r.status();
    r->clear_watermark();
    return r->SerializeAsString();
  };
  std::vector<std::shared_ptr<const CellKeySecret>> secrets;
  for (int i = 0; i < 6; ++i) {
    secrets.push_back(*CellKeySecret::FromBytes("network size secret number " + std::to_string(i) + " of 32+ b"));
  }
  const std::string first = answer(secrets[0], "shared");
  bool some_differ = false;
  for (size_t i = 1; i < secrets.size(); ++i) {
    const std::string reopened = answer(secrets[i], "shared");  // the folder of the previous secret
    EXPECT_EQ(reopened, answer(secrets[i], "fresh-" + std::to_string(i))) << i;
    some_differ |= reopened != first;
  }
  EXPECT_TRUE(some_differ);
  EXPECT_EQ(answer(secrets[0], "shared"), first);
}

}  // namespace
}  // namespace kring::projections
