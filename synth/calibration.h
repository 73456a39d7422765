// Calibration of the synthetic cohort: every proportion, mean and code list
// the generator draws from, in one place, each with where it comes from.
// "Seed" refers to the source documents summarised in DESIGN section 1
// (shared/seeds/); everything marked "assumption" is a plausible choice of
// ours, not a published figure. synth/README.md explains the choices.
//
// Weights are integers (per mille or percent) so that drawing from them is
// exact on every platform.
#pragma once

#include <cstdint>

#include "kring/v1/events.pb.h"
#include "synth/random.h"

namespace kring::synth::calibration {

template <typename T>
struct Choice {
  T value;
  int weight;
};

// --- Referral ---------------------------------------------------------------

// Domain mix, per mille. Youth protection dominates (assumption ~55%, the
// seed's main research body is 100 youth-protection conferences); "other"
// spreads over the smaller domains the seed lists (elderly care, debt,
// return from detention).
inline constexpr Choice<v1::Domain> kDomains[] = {
    {v1::DOMAIN_YOUTH_PROTECTION, 550}, {v1::DOMAIN_YOUTH_CARE, 100},   {v1::DOMAIN_DOMESTIC_VIOLENCE, 80},
    {v1::DOMAIN_HOUSING, 60},           {v1::DOMAIN_MENTAL_HEALTH, 60}, {v1::DOMAIN_MULTI_PROBLEM, 60},
    {v1::DOMAIN_DIVORCE, 50},           {v1::DOMAIN_ELDERLY_CARE, 10},  {v1::DOMAIN_DEBT, 10},
    {v1::DOMAIN_DETENTION_RETURN, 10},  {v1::DOMAIN_OTHER, 10},
};

// CBS municipality codes (real codes, synthetic cases), weighted roughly by
// population in tens of thousands (assumption).
inline constexpr Choice<const char*> kMunicipalities[] = {
    {"GM0363", 93},  // Amsterdam
    {"GM0599", 67},  // Rotterdam
    {"GM0518", 56},  // 's-Gravenhage
    {"GM0344", 37},  // Utrecht
    {"GM0772", 24},  // Eindhoven
    {"GM0014", 24},  // Groningen
    {"GM0855", 23},  // Tilburg
    {"GM0034", 22},  // Almere
    {"GM0758", 19},  // Breda
    {"GM0268", 18},  // Nijmegen
    {"GM0200", 17},  // Apeldoorn
    {"GM0392", 17},  // Haarlem
    {"GM0202", 17},  // Arnhem
    {"GM0479", 16},  // Zaanstad
    {"GM0307", 16},  // Amersfoort
    {"GM0796", 16},  // 's-Hertogenbosch
    {"GM0153", 16},  // Enschede
    {"GM0193", 13},  // Zwolle
    {"GM0546", 13},  // Leiden
    {"GM0935", 12},  // Maastricht
    {"GM0080", 12},  // Leeuwarden
    {"GM0505", 12},  // Dordrecht
};

// Languages (BCP 47) besides Dutch; weights for a family's preferred language
// (assumption, after the largest language groups in the Netherlands). The
// seed: nearly 300 coordinators speak more than 65 languages and dialects
// between them, and families may ask for a coordinator's language or
// background.
inline constexpr Choice<const char*> kOtherLanguages[] = {
    {"ar", 20}, {"tr", 18}, {"pap", 10}, {"en", 8}, {"srn", 8}, {"pl", 8},
    {"so", 6},  {"ti", 6},  {"uk", 6},   {"fa", 5}, {"ber", 3}, {"zh", 2},
};
// Per mille of cases that prefer only Dutch, Dutch and another language, or
// only another language (assumption).
inline constexpr int kOnlyDutchPerMille = 780;
inline constexpr int kDutchAndOtherPerMille = 150;

// Central persons named in the referral (1-3), percent (assumption).
inline constexpr int kCentralPersons[] = {0, 55, 30, 15};

// Percent of cases under a statutory framework in which the right to an own
// plan is formally offered (assumption; the seed notes how rarely the law is
// applied outside FGC practice: 3% of protection measures had a plan, 2% of
// the others were offered one).
inline constexpr double kPlanRightOffered = 0.40;
inline constexpr double kPlanRightOfferedProtection = 0.55;

// --- Coordinator ------------------------------------------------------------

// Seed: "In Nederland zijn bijna 300 Eigen Kracht-coördinatoren beschikbaar".
inline constexpr int kCoordinatorPool = 300;
// Chance that a family with a non-Dutch preferred language gets a
// coordinator who speaks it; background preference met (assumptions).
inline constexpr double kLanguageMatched = 0.85;
inline constexpr double kBackgroundMatched = 0.80;

// --- Preparation -------------------------------------------------------------

// Share of cases stopped during preparation, by domain (assumption: about one
// in five overall, a little more where safety or mental health is at stake).
double StopProbability(v1::Domain domain);

inline constexpr Choice<v1::PreparationStopReason> kStopReasons[] = {
    {v1::PREPARATION_STOP_REASON_FAMILY_DECLINED, 35},    {v1::PREPARATION_STOP_REASON_NO_NETWORK_REACHED, 14},
    {v1::PREPARATION_STOP_REASON_SITUATION_RESOLVED, 15}, {v1::PREPARATION_STOP_REASON_SITUATION_ESCALATED, 16},
    {v1::PREPARATION_STOP_REASON_REFERRER_WITHDREW, 12},  {v1::PREPARATION_STOP_REASON_OTHER, 8},
};

// Network size at the conference = distinct non-professional attendees,
// central persons included (DESIGN section 4). Drawn as 1 + negative
// binomial with this r (variance m + m^2/r: overdispersed, tail into the 20s).
inline constexpr int kNetworkSizeDispersion = 5;

// Mean network size by referral year. Seed: "gemiddeld elf mensen" (on
// average eleven people), yearly averages reported between 9 and 11.2. The
// per-year values are our assumption within that band, with the dip in the
// pandemic year 2020; years outside the table use kDefaultMeanNetworkSize.
double MeanNetworkSize(int year);
inline constexpr double kDefaultMeanNetworkSize = 11.0;

// Yearly referral volume in percent of a normal year (assumption: fewer
// conferences could be held in 2020).
int YearVolumePercent(int year);

// Relations of invited network members (not central, not professional),
// percent (assumption: family first, as the seed's "familie, vrienden en
// buren" order suggests).
inline constexpr Choice<v1::Relation> kNetworkRelations[] = {
    {v1::RELATION_FAMILY, 58}, {v1::RELATION_FRIEND, 18}, {v1::RELATION_NEIGHBOUR, 9}, {v1::RELATION_COMMUNITY, 15}};

// Network members who were invited but did not come: Poisson with mean
// base + per_attendee x attending members (assumption); of them, this share
// declined (the others never responded).
inline constexpr double kAbsentInviteesBase = 0.5;
inline constexpr double kAbsentInviteesPerAttendee = 0.2;
inline constexpr double kAbsentDeclined = 0.6;

// Professionals invited (1-3, percent) and the chance each comes (assumption).
inline constexpr int kProfessionals[] = {0, 40, 40, 20};
inline constexpr double kProfessionalAttends = 0.75;

// --- Conference and plan ------------------------------------------------------

inline constexpr double kPrivateFamilyTime = 0.95;
// Seed (DESIGN section 4 funnel): a plan at most conferences; ~85% assumed.
inline constexpr double kPlanAdopted = 0.85;
// Plans accepted by the referrer (assumption; the seed: plan quality is
// "almost always" good according to families and professionals).
inline constexpr double kPlanAccepted = 0.92;
inline constexpr int kMinActions = 3;
inline constexpr int kMaxActions = 8;
// Share of actions owned by the network rather than a professional
// (assumption; the seed reports 19% less professional input).
inline constexpr double kNetworkOwnedAction = 0.80;
inline constexpr const char* kActionCategories[] = {
    "housing",   "school",  "childcare",           "finances", "health", "safety", "daily_care",
    "transport", "leisure", "contact_arrangement", "work",     "respite"};

// --- After the conference -----------------------------------------------------

// Follow-ups at about 6, 12 and 24 months; each is recorded with this chance
// (assumption: some are missed).
inline constexpr int kFollowUpMonths[] = {6, 12, 24};
inline constexpr double kFollowUpRecorded = 0.92;
// Chance a supporter still active at the previous follow-up is still active
// at this one. Seed: support "houdt na twee jaar vrijwel onverminderd stand"
// (holds almost undiminished after two years): 0.97 x 0.97 x 0.96 = 0.90
// retention at 24 months.
inline constexpr double kSupporterStays[] = {0.97, 0.97, 0.96};
inline constexpr double kReviewConference = 0.25;

// Outcomes per held conference. Seed: of 100 youth-protection conferences,
// 29x OTS prevented or lifted, 44x placement prevented, 14x placement ended;
// the first 20 eviction cases all kept their home and paid rent on time a
// year later (we use 95%, not 100%, for a larger cohort: assumption).
inline constexpr double kOtsPreventedOrLifted = 0.29;
inline constexpr double kOtsLiftedShare = 0.40;  // of those: lifted (assumption)
inline constexpr double kPlacementPrevented = 0.44;
inline constexpr double kPlacementEnded = 0.14;
inline constexpr double kPlacedWithKin = 0.10;         // assumption (seed: 23% kin care in NL)
inline constexpr double kPlacedOutsideNetwork = 0.05;  // assumption
inline constexpr double kEvictionPrevented = 0.95;
inline constexpr double kRentPaidOnTime = 0.95;           // of prevented evictions
inline constexpr double kParentingArrangement = 0.60;     // divorce (assumption)
inline constexpr double kHouseholdTakenOver = 0.40;       // mental health (assumption)
inline constexpr double kProfessionalHelpReduced = 0.50;  // multi-problem (assumption)
inline constexpr double kProfessionalHelpReducedOther = 0.30;
inline constexpr double kReReferral = 0.07;  // assumption

// Costs. Seed: "Het organiseren en uitvoeren van een Eigen Kracht-conferentie
// kost circa 4.000 euro". Drawn uniformly in whole euros around it.
inline constexpr int64_t kConferenceCostMinEur = 3400;
inline constexpr int64_t kConferenceCostMaxEur = 4600;
inline constexpr int64_t kStoppedCostMinEur = 600;  // coordinator hours of a stopped case
inline constexpr int64_t kStoppedCostMaxEur = 1800;
inline constexpr int64_t kInterpreterCostMinEur = 150;
inline constexpr int64_t kInterpreterCostMaxEur = 600;

inline constexpr Choice<v1::EndReason> kEndReasonsAfterPlan[] = {
    {v1::END_REASON_COMPLETED_AS_PLANNED, 70}, {v1::END_REASON_MUTUAL_AGREEMENT, 15}, {v1::END_REASON_CLIENT_MOVED, 5},
    {v1::END_REASON_REFERRED_ELSEWHERE, 5},    {v1::END_REASON_CLIENT_ENDED, 3},      {v1::END_REASON_OTHER, 2}};
inline constexpr Choice<v1::EndReason> kEndReasonsWithoutPlan[] = {{v1::END_REASON_MUTUAL_AGREEMENT, 40},
                                                                   {v1::END_REASON_REFERRED_ELSEWHERE, 35},
                                                                   {v1::END_REASON_CLIENT_ENDED, 15},
                                                                   {v1::END_REASON_OTHER, 10}};

// The legal framework that fits a domain (DESIGN section 1: Jeugdwet for
// children, Wmo or Wvggz for adults; assumption for the mix).
v1::LegalFramework DrawLegalFramework(v1::Domain domain, Rng& rng);
// Threatened CBS protection measures, added to `referral` (youth protection
// always names at least one; a few multi-problem and domestic-violence cases
// too). Assumption for the mix.
void DrawThreatenedMeasures(v1::Domain domain, Rng& rng, v1::CaseReferred* referral);
// Who referred (iJw COD327 kinds) given the domain (assumption).
v1::ReferrerKind DrawReferrer(v1::Domain domain, Rng& rng);

}  // namespace kring::synth::calibration
