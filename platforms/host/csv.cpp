#include "csv.h"

#include "io.h"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdlib>

namespace streamix::host {

bool split_fields(const std::string& line, char delimiter, std::vector<std::string>& fields,
                  std::string& error) {
  fields.clear();
  std::string field;
  size_t i = 0;
  while (true) {
    if (fields.size() == kMaxFields) {
      error = "more than " + std::to_string(kMaxFields) + " fields";
      return false;
    }
    field.clear();
    while (i < line.size() && line[i] == ' ') ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field += line[i++];
      }
      if (!closed) {
        error = "unterminated quote";
        return false;
      }
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && line[i] != delimiter) {
        error = "text after a closing quote";
        return false;
      }
    } else {
      while (i < line.size() && line[i] != delimiter) field += line[i++];
    }
    fields.push_back(field);
    if (i >= line.size()) return true;
    ++i;  // the delimiter
  }
}

char detect_delimiter(const std::string& line) {
  const char candidates[] = {',', ';', '\t'};
  size_t counts[3] = {0, 0, 0};
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    for (int c = 0; c < 3 && !quoted; ++c) counts[c] += ch == candidates[c];
  }
  int best = 0;
  for (int c = 1; c < 3; ++c) {
    if (counts[c] > counts[best]) best = c;
  }
  return candidates[best];
}

bool parse_number(const std::string& field, float& value, const char** why) {
  const char* not_a_number = "not a number";
  if (why) *why = not_a_number;
  // The grammar first, on every byte: strtof alone would stop at a NUL ("3<NUL>9" read as
  // 3) and accept hex floats, "inf" and "nan".
  size_t i = 0, n = field.size();
  auto blank = [&](size_t j) { return field[j] == ' ' || field[j] == '\t'; };
  auto digit = [&](size_t j) { return field[j] >= '0' && field[j] <= '9'; };
  while (i < n && blank(i)) ++i;
  while (n > i && blank(n - 1)) --n;
  const size_t begin = i;
  if (i < n && (field[i] == '+' || field[i] == '-')) ++i;
  size_t digits = 0;
  for (; i < n && digit(i); ++i) ++digits;
  if (i < n && field[i] == '.') {
    for (++i; i < n && digit(i); ++i) ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (field[i] == 'e' || field[i] == 'E')) {
    ++i;
    if (i < n && (field[i] == '+' || field[i] == '-')) ++i;
    size_t exponent_digits = 0;
    for (; i < n && digit(i); ++i) ++exponent_digits;
    if (exponent_digits == 0) return false;
  }
  if (i != n) return false;
  const std::string text = field.substr(begin, n - begin);
  errno = 0;
  const float v = std::strtof(text.c_str(), nullptr);
  if (std::isinf(v)) {  // strtof saturates on overflow
    if (why) *why = "beyond the float range (|x| > 3.4e38)";
    return false;
  }
  // Below the normal range (ERANGE on underflow): a reading of 1e-40 is 0 for every purpose,
  // and subnormals would only slow the arithmetic down.
  value = std::fabs(v) < FLT_MIN ? std::copysign(0.0f, v) : v;
  if (why) *why = nullptr;
  return true;
}

CsvReader::CsvReader(std::istream& in, char delimiter, int header)
    : in_(in), delimiter_(delimiter), header_mode_(header) {}

bool CsvReader::read_line(std::string& line, bool& too_long) {
  std::streambuf& in = *in_.rdbuf();
  using traits = std::char_traits<char>;
  // Appends to line up to its end (LF, CRLF or a lone CR); false if it passed kMaxLineBytes
  // first (then the rest of the line is still unread).
  auto read_to_end_of_line = [&](int c, bool keep) {
    for (; c != traits::eof(); c = in.sbumpc()) {
      if (c == '\n') return true;
      if (c == '\r') {  // CRLF or a lone CR
        if (in.sgetc() == '\n') in.sbumpc();
        return true;
      }
      if (keep && line.size() == kMaxLineBytes) return false;
      if (keep) line.push_back(static_cast<char>(c));
    }
    return true;
  };
  if (rest_of_line_unread_) {  // the end of a line reported as too long
    read_to_end_of_line(in.sbumpc(), false);
    rest_of_line_unread_ = false;
  }
  while (true) {
    line.clear();
    int c = in.sbumpc();
    if (c == traits::eof()) return false;
    ++line_;
    // A line past the limit is reported at once, not after reading it to its end: that end
    // may never come (/dev/zero), and a run that stops at the error need not wait for it.
    too_long = !read_to_end_of_line(c, true);
    rest_of_line_unread_ = too_long;
    if (line_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    if (too_long || line.find_first_not_of(" \t") != std::string::npos) return true;
  }
}

bool CsvReader::split(const std::string& line, bool too_long) {
  if (too_long) {
    error_ = "line " + std::to_string(line_) + ": longer than " + std::to_string(kMaxLineBytes) +
             " bytes";
    return false;
  }
  if (!split_fields(line, delimiter_, fields_, error_)) {
    error_ = "line " + std::to_string(line_) + ": " + error_;
    return false;
  }
  return true;
}

bool CsvReader::start() {
  error_.clear();
  bool too_long = false;
  if (!read_line(first_, too_long)) {
    at_end_ = true;
    error_ = "no data";
    return false;
  }
  if (delimiter_ == 0) delimiter_ = detect_delimiter(first_);
  if (!split(first_, too_long)) return false;
  has_header_ = header_mode_ == 1;
  if (header_mode_ < 0) {
    float v;
    for (const std::string& f : fields_) has_header_ = has_header_ || !parse_number(f, v);
  }
  names_.clear();
  for (size_t c = 0; c < fields_.size(); ++c)
    names_.push_back(has_header_ ? fields_[c] : std::to_string(c + 1));
  pending_ = !has_header_;
  return true;
}

int CsvReader::column(const std::string& name) {
  if (name.empty()) {
    error_ = "empty column name";
    return -1;
  }
  for (size_t c = 0; c < names_.size(); ++c) {
    if (names_[c] == name) return static_cast<int>(c);
  }
  // A 1-based index: digits only (strtol alone would take " -1" and "3<NUL>x").
  size_t index = 0;
  bool digits = name.size() <= 9;
  for (char ch : name) {
    digits = digits && ch >= '0' && ch <= '9';
    index = index * 10 + static_cast<size_t>(ch - '0');
  }
  if (digits && index >= 1 && index <= names_.size()) return static_cast<int>(index - 1);
  error_ = "no column '" + printable(name) + "'; the columns are ";
  for (size_t c = 0; c < names_.size(); ++c) {
    if (c == 8 && names_.size() > 9) {
      error_ += ", ... (" + std::to_string(names_.size()) + " in all)";
      break;
    }
    error_ += (c > 0 ? ", '" : "'") + printable(names_[c]) + "'";
  }
  return -1;
}

bool CsvReader::next() {
  error_.clear();
  std::string line;
  bool too_long = false;
  if (pending_) {
    pending_ = false;
    line = first_;
  } else if (!read_line(line, too_long)) {
    at_end_ = true;
    return false;
  }
  if (!split(line, too_long)) return false;
  if (fields_.size() != names_.size()) {
    error_ = "line " + std::to_string(line_) + ": " + std::to_string(fields_.size()) +
             " fields, expected " + std::to_string(names_.size());
    return false;
  }
  return true;
}

}  // namespace streamix::host
