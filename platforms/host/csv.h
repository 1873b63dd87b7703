// A CSV reader for sensor logs: delimiter detected among ',', ';' and tab, an optional
// header row, double-quoted fields (RFC 4180 quoting within one line), strict numbers.
// Lines end at LF, CRLF or a lone CR. Every problem is reported with its line number and a
// reason; nothing throws. What one line may cost is bounded: at most kMaxLineBytes bytes
// and kMaxFields fields (a longer line is reported as soon as it passes the limit; the
// next read skips the rest of it).
#ifndef STREAMIX_HOST_CSV_H
#define STREAMIX_HOST_CSV_H

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace streamix::host {

inline constexpr size_t kMaxLineBytes = size_t{1} << 20;  // 1 MiB
inline constexpr size_t kMaxFields = 65536;

// Splits one line into fields. false (with a reason) for an unterminated quote or text
// after a closing quote.
bool split_fields(const std::string& line, char delimiter, std::vector<std::string>& fields,
                  std::string& error);

// The delimiter among ',', ';' and tab that occurs most often outside quotes in line
// (',' when none does).
char detect_delimiter(const std::string& line);

// Parses a whole field as a decimal float: optional blanks, sign, digits with an optional
// point, an optional exponent, optional blanks, and nothing else (no NUL, no hex, no
// inf/nan). Magnitudes below the smallest normal float (1.2e-38) read as 0 with their sign;
// above the largest float they are an error. false, with *why (if given) saying what is
// wrong: "not a number" or "beyond the float range (|x| > 3.4e38)".
bool parse_number(const std::string& field, float& value, const char** why = nullptr);

class CsvReader {
 public:
  // delimiter 0 = detect from the first non-empty line. header: -1 detect (the first line
  // is a header if one of its fields is not a number), 0 no header, 1 header.
  CsvReader(std::istream& in, char delimiter = 0, int header = -1);

  // Reads the first line (and the header, if any). false with error() at end of input
  // before any line, or on a malformed first line.
  bool start();

  const std::vector<std::string>& column_names() const { return names_; }
  char delimiter() const { return delimiter_; }
  bool has_header() const { return has_header_; }

  // Finds a column by name, or by 1-based index ("3"). -1 with error() if there is none
  // (an empty name never matches).
  int column(const std::string& name_or_index);

  // Next data row: true with fields(), line() set; false at end of input or on a malformed
  // row (then error() is non-empty and the reader can continue with the next row).
  bool next();
  const std::vector<std::string>& fields() const { return fields_; }
  size_t line() const { return line_; }
  const std::string& error() const { return error_; }
  bool at_end() const { return at_end_; }

 private:
  // The next non-blank line; false at the end of input. *too_long: it exceeded
  // kMaxLineBytes (line then holds its first kMaxLineBytes bytes).
  bool read_line(std::string& line, bool& too_long);
  bool split(const std::string& line, bool too_long);
  std::istream& in_;
  char delimiter_;
  int header_mode_;
  bool has_header_ = false;
  bool pending_ = false;  // the first line is data, kept for the first next()
  bool rest_of_line_unread_ = false;  // the last line was too long: skip its end first
  bool at_end_ = false;
  size_t line_ = 0;
  std::string first_;
  std::vector<std::string> names_;
  std::vector<std::string> fields_;
  std::string error_;
};

}  // namespace streamix::host

#endif  // STREAMIX_HOST_CSV_H
