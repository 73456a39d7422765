#include "synth/calibration.h"

namespace kring::synth::calibration {

double StopProbability(v1::Domain domain) {
  switch (domain) {
    case v1::DOMAIN_YOUTH_PROTECTION:
      return 0.19;
    case v1::DOMAIN_YOUTH_CARE:
      return 0.18;
    case v1::DOMAIN_DOMESTIC_VIOLENCE:
      return 0.26;
    case v1::DOMAIN_MENTAL_HEALTH:
      return 0.25;
    case v1::DOMAIN_MULTI_PROBLEM:
      return 0.22;
    case v1::DOMAIN_DIVORCE:
      return 0.24;
    default:
      return 0.20;
  }
}

double MeanNetworkSize(int year) {
  switch (year) {
    case 2019:
      return 11.2;
    case 2020:
      return 9.0;  // pandemic: smaller gatherings
    case 2021:
      return 10.6;
    case 2022:
      return 11.1;
    case 2023:
      return 11.2;
    case 2024:
      return 11.2;
    default:
      return kDefaultMeanNetworkSize;
  }
}

int YearVolumePercent(int year) { return year == 2020 ? 80 : 100; }

v1::LegalFramework DrawLegalFramework(v1::Domain domain, Rng& rng) {
  switch (domain) {
    case v1::DOMAIN_YOUTH_PROTECTION:
    case v1::DOMAIN_YOUTH_CARE:
    case v1::DOMAIN_DIVORCE:
      return v1::LEGAL_FRAMEWORK_JEUGDWET;
    case v1::DOMAIN_DOMESTIC_VIOLENCE:
      return rng.Bernoulli(0.6) ? v1::LEGAL_FRAMEWORK_JEUGDWET : v1::LEGAL_FRAMEWORK_WMO;
    case v1::DOMAIN_MULTI_PROBLEM:
      return rng.Bernoulli(0.7) ? v1::LEGAL_FRAMEWORK_JEUGDWET : v1::LEGAL_FRAMEWORK_WMO;
    case v1::DOMAIN_MENTAL_HEALTH:
      return rng.Bernoulli(0.4) ? v1::LEGAL_FRAMEWORK_WVGGZ : v1::LEGAL_FRAMEWORK_WMO;
    case v1::DOMAIN_HOUSING:
    case v1::DOMAIN_ELDERLY_CARE:
    case v1::DOMAIN_DEBT:
      return rng.Bernoulli(0.7) ? v1::LEGAL_FRAMEWORK_WMO : v1::LEGAL_FRAMEWORK_NONE;
    default:
      return rng.Bernoulli(0.5) ? v1::LEGAL_FRAMEWORK_WMO : v1::LEGAL_FRAMEWORK_NONE;
  }
}

void DrawThreatenedMeasures(v1::Domain domain, Rng& rng, v1::CaseReferred* referral) {
  if (domain == v1::DOMAIN_YOUTH_PROTECTION) {
    // Supervision first (OTS, or a provisional one in urgent cases), often
    // with an authorisation for out-of-home placement; guardianship rarely.
    const uint64_t u = rng.UniformInt(0, 99);
    if (u < 62) {
      referral->add_threatened_measures(v1::PROTECTION_MEASURE_OTS);
    } else if (u < 80) {
      referral->add_threatened_measures(v1::PROTECTION_MEASURE_VOORLOPIGE_OTS);
    }
    if (rng.Bernoulli(0.50) || referral->threatened_measures_size() == 0) {
      referral->add_threatened_measures(v1::PROTECTION_MEASURE_MACHTIGING_UITHUISPLAATSING);
    }
    if (rng.Bernoulli(0.05)) {
      referral->add_threatened_measures(rng.Bernoulli(0.5) ? v1::PROTECTION_MEASURE_VOOGDIJ
                                                           : v1::PROTECTION_MEASURE_VOORLOPIGE_VOOGDIJ);
    }
    return;
  }
  if ((domain == v1::DOMAIN_MULTI_PROBLEM || domain == v1::DOMAIN_DOMESTIC_VIOLENCE) && rng.Bernoulli(0.2)) {
    referral->add_threatened_measures(v1::PROTECTION_MEASURE_OTS);
  }
}

v1::ReferrerKind DrawReferrer(v1::Domain domain, Rng& rng) {
  const uint64_t u = rng.UniformInt(0, 99);
  switch (domain) {
    case v1::DOMAIN_YOUTH_PROTECTION:
      if (u < 70) return v1::REFERRER_KIND_CERTIFIED_INSTITUTION;
      if (u < 80) return v1::REFERRER_KIND_JUDICIARY;
      return v1::REFERRER_KIND_MUNICIPALITY;
    case v1::DOMAIN_YOUTH_CARE:
      if (u < 45) return v1::REFERRER_KIND_MUNICIPALITY;
      if (u < 65) return v1::REFERRER_KIND_GENERAL_PRACTITIONER;
      if (u < 80) return v1::REFERRER_KIND_YOUTH_DOCTOR;
      return v1::REFERRER_KIND_SELF;
    case v1::DOMAIN_HOUSING:
      return u < 80 ? v1::REFERRER_KIND_HOUSING_CORPORATION : v1::REFERRER_KIND_MUNICIPALITY;
    case v1::DOMAIN_MENTAL_HEALTH:
      if (u < 40) return v1::REFERRER_KIND_GENERAL_PRACTITIONER;
      if (u < 65) return v1::REFERRER_KIND_MEDICAL_SPECIALIST;
      return v1::REFERRER_KIND_MUNICIPALITY;
    case v1::DOMAIN_DOMESTIC_VIOLENCE:
      if (u < 50) return v1::REFERRER_KIND_MUNICIPALITY;
      if (u < 80) return v1::REFERRER_KIND_CERTIFIED_INSTITUTION;
      return v1::REFERRER_KIND_JUDICIARY;
    case v1::DOMAIN_DIVORCE:
      if (u < 40) return v1::REFERRER_KIND_JUDICIARY;
      if (u < 75) return v1::REFERRER_KIND_MUNICIPALITY;
      return v1::REFERRER_KIND_SELF;
    case v1::DOMAIN_MULTI_PROBLEM:
      return u < 75 ? v1::REFERRER_KIND_MUNICIPALITY : v1::REFERRER_KIND_CERTIFIED_INSTITUTION;
    default:
      if (u < 50) return v1::REFERRER_KIND_MUNICIPALITY;
      if (u < 70) return v1::REFERRER_KIND_SELF;
      return v1::REFERRER_KIND_OTHER;
  }
}

}  // namespace kring::synth::calibration
