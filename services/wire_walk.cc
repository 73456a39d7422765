#include "services/wire_walk.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace kring::services {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;
using WireType = google::protobuf::internal::WireFormatLite::WireType;
using WFL = google::protobuf::internal::WireFormatLite;

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

// One message (or group) body between the stream's current position and its
// pushed limit. `type` is null for unknown fields (and groups), whose inner
// fields protobuf keeps as unknown but still has to decode.
class Walker {
 public:
  explicit Walker(CodedInputStream* in) : in_(in) {}

  // `group_field` is the field number of the open group (0: a length-delimited
  // body, which ends at the limit).
  std::optional<WireProblem> Body(const Descriptor* type, const std::string& path, int depth, int group_field) {
    std::map<int, int> seen;  // field number -> how many values so far (repeated index)
    while (true) {
      if (in_->BytesUntilLimit() == 0) {
        if (group_field != 0) return Problem(path, absl::StrCat("group of field ", group_field, " is not closed"));
        return std::nullopt;
      }
      const int at = in_->CurrentPosition();
      uint32_t tag = 0;
      if (!in_->ReadVarint32(&tag)) return Problem(path, absl::StrCat("truncated varint (a field tag) at byte ", at));
      const int number = static_cast<int>(tag >> 3);
      const int wire = static_cast<int>(tag & 7);
      if (number == 0) return Problem(path, absl::StrCat("field number 0 in a tag at byte ", at));
      const FieldDescriptor* field = type ? type->FindFieldByNumber(number) : nullptr;
      const int index = seen[number]++;
      std::string name = field ? field->name() : absl::StrCat("<field ", number, ">");
      if (field && field->is_repeated()) absl::StrAppend(&name, "[", index, "]");
      // Inside an unknown field every field is unknown too: the path names
      // the outermost one (a path of 100 "<field 5>" helps nobody).
      const std::string here = type == nullptr && !path.empty() ? path : Join(path, name);
      switch (wire) {
        case WFL::WIRETYPE_VARINT: {
          const int value_at = in_->CurrentPosition();
          uint64_t v;
          if (!in_->ReadVarint64(&v)) return Problem(here, absl::StrCat("truncated varint at byte ", value_at));
          break;
        }
        case WFL::WIRETYPE_FIXED64: {
          uint64_t v;
          if (!in_->ReadLittleEndian64(&v)) return Problem(here, absl::StrCat("truncated 8-byte value at byte ", at));
          break;
        }
        case WFL::WIRETYPE_FIXED32: {
          uint32_t v;
          if (!in_->ReadLittleEndian32(&v)) return Problem(here, absl::StrCat("truncated 4-byte value at byte ", at));
          break;
        }
        case WFL::WIRETYPE_LENGTH_DELIMITED: {
          auto p = LengthDelimited(field, here, depth);
          if (p) return p;
          break;
        }
        case WFL::WIRETYPE_START_GROUP: {
          // Proto3 has no groups: an unknown field, whose body is still decoded.
          if (depth + 1 > kMaxWireNesting) return Problem(here, absl::StrCat("nesting deeper than ", kMaxWireNesting));
          auto p = Body(nullptr, here, depth + 1, number);
          if (p) return p;
          break;
        }
        case WFL::WIRETYPE_END_GROUP:
          if (group_field == number) return std::nullopt;
          if (group_field != 0) {
            return Problem(path, absl::StrCat("end-group tag of field ", number, " at byte ", at,
                                              " does not close the open group of field ", group_field));
          }
          return Problem(path, absl::StrCat("end-group tag of field ", number, " at byte ", at, " without a group"));
        default:
          return Problem(here, absl::StrCat("invalid wire type ", wire, " at byte ", at));
      }
    }
  }

 private:
  static std::optional<WireProblem> Problem(const std::string& field, std::string rule) {
    return WireProblem{field, std::move(rule)};
  }

  std::optional<WireProblem> LengthDelimited(const FieldDescriptor* field, const std::string& here, int depth) {
    const int at = in_->CurrentPosition();
    uint32_t length = 0;
    if (!in_->ReadVarint32(&length)) return Problem(here, absl::StrCat("truncated length at byte ", at));
    const int left = in_->BytesUntilLimit();
    if (length > static_cast<uint32_t>(left)) {
      return Problem(here,
                     absl::StrCat("length ", length, " at byte ", at, " runs past the end (", left, " bytes left)"));
    }
    const auto limit = in_->PushLimit(static_cast<int>(length));
    std::optional<WireProblem> p;
    if (field && field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (depth + 1 > kMaxWireNesting) {
        p = Problem(here, absl::StrCat("nesting deeper than ", kMaxWireNesting));
      } else {
        p = Body(field->message_type(), here, depth + 1, 0);
      }
    } else if (field && field->type() == FieldDescriptor::TYPE_STRING &&
               field->file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3) {
      std::string s;
      in_->ReadString(&s, static_cast<int>(length));
      if (!IsValidUtf8(s)) p = Problem(here, "invalid UTF-8 in a string field");
    } else if (field && field->is_packable()) {
      p = Packed(field, here);
    } else {
      in_->Skip(static_cast<int>(length));  // bytes, or an unknown field (kept as bytes)
    }
    if (!p) in_->PopLimit(limit);
    return p;
  }

  // A packed repeated scalar: varints, or whole fixed-size values.
  std::optional<WireProblem> Packed(const FieldDescriptor* field, const std::string& here) {
    const WireType wire = WFL::WireTypeForFieldType(static_cast<WFL::FieldType>(field->type()));
    while (in_->BytesUntilLimit() > 0) {
      const int at = in_->CurrentPosition();
      if (wire == WFL::WIRETYPE_VARINT) {
        uint64_t v;
        if (!in_->ReadVarint64(&v)) return Problem(here, absl::StrCat("truncated varint at byte ", at));
      } else {
        const int size = wire == WFL::WIRETYPE_FIXED64 ? 8 : 4;
        if (in_->BytesUntilLimit() < size) {
          return Problem(here, absl::StrCat("truncated ", size, "-byte value at byte ", at));
        }
        in_->Skip(size);
      }
    }
    return std::nullopt;
  }

  CodedInputStream* const in_;
};

}  // namespace

std::optional<WireProblem> FindWireProblem(const Descriptor& type, absl::string_view bytes) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  in.PushLimit(static_cast<int>(bytes.size()));
  return Walker(&in).Body(&type, "", 0, 0);
}

std::optional<uint64_t> ReadTopLevelVarint(absl::string_view bytes, int field_number) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  in.PushLimit(static_cast<int>(bytes.size()));
  std::optional<uint64_t> value;
  while (in.BytesUntilLimit() > 0) {
    uint32_t tag = 0;
    if (!in.ReadVarint32(&tag) || (tag >> 3) == 0) return value;
    const int number = static_cast<int>(tag >> 3);
    switch (tag & 7) {
      case WFL::WIRETYPE_VARINT: {
        uint64_t v;
        if (!in.ReadVarint64(&v)) return value;
        if (number == field_number) value = v;
        break;
      }
      case WFL::WIRETYPE_FIXED64:
        if (in.BytesUntilLimit() < 8) return value;
        in.Skip(8);
        break;
      case WFL::WIRETYPE_FIXED32:
        if (in.BytesUntilLimit() < 4) return value;
        in.Skip(4);
        break;
      case WFL::WIRETYPE_LENGTH_DELIMITED: {
        uint32_t length = 0;
        if (!in.ReadVarint32(&length) || length > static_cast<uint32_t>(in.BytesUntilLimit())) return value;
        in.Skip(static_cast<int>(length));
        break;
      }
      case WFL::WIRETYPE_START_GROUP:
        if (Walker(&in).Body(nullptr, "", 1, number)) return value;
        break;
      default:
        return value;
    }
  }
  return value;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace kring::services
