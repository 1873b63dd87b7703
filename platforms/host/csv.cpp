#include "csv.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace streamix::host {

bool split_fields(const std::string& line, char delimiter, std::vector<std::string>& fields,
                  std::string& error) {
  fields.clear();
  std::string field;
  size_t i = 0;
  while (true) {
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

bool parse_number(const std::string& field, float& value) {
  const char* begin = field.c_str();
  while (*begin == ' ' || *begin == '\t') ++begin;
  if (*begin == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const float v = std::strtof(begin, &end);
  while (*end == ' ' || *end == '\t') ++end;
  // strtof accepts "nan" and "inf" and saturates on overflow: neither is a reading.
  if (*end != '\0' || errno == ERANGE || !std::isfinite(v)) return false;
  value = v;
  return true;
}

CsvReader::CsvReader(std::istream& in, char delimiter, int header)
    : in_(in), delimiter_(delimiter), header_mode_(header) {}

bool CsvReader::read_line(std::string& line) {
  while (std::getline(in_, line)) {
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    if (line.find_first_not_of(" \t") != std::string::npos) return true;
  }
  return false;
}

bool CsvReader::start() {
  error_.clear();
  if (!read_line(first_)) {
    at_end_ = true;
    error_ = "no data";
    return false;
  }
  if (delimiter_ == 0) delimiter_ = detect_delimiter(first_);
  if (!split_fields(first_, delimiter_, fields_, error_)) {
    error_ = "line " + std::to_string(line_) + ": " + error_;
    return false;
  }
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
  for (size_t c = 0; c < names_.size(); ++c) {
    if (names_[c] == name) return static_cast<int>(c);
  }
  char* end = nullptr;
  const long index = std::strtol(name.c_str(), &end, 10);
  if (!name.empty() && *end == '\0' && index >= 1 && static_cast<size_t>(index) <= names_.size())
    return static_cast<int>(index - 1);
  error_ = "no column '" + name + "'";
  return -1;
}

bool CsvReader::next() {
  error_.clear();
  std::string line;
  if (pending_) {
    pending_ = false;
    line = first_;
  } else if (!read_line(line)) {
    at_end_ = true;
    return false;
  }
  if (!split_fields(line, delimiter_, fields_, error_)) {
    error_ = "line " + std::to_string(line_) + ": " + error_;
    return false;
  }
  if (fields_.size() != names_.size()) {
    error_ = "line " + std::to_string(line_) + ": " + std::to_string(fields_.size()) +
             " fields, expected " + std::to_string(names_.size());
    return false;
  }
  return true;
}

}  // namespace streamix::host
